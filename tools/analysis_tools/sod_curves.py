"""Precision-recall and F-measure curves from saved saliency maps.

    python tools/analysis_tools/sod_curves.py \
        --pred csnet-L-x1=work_dirs/maps_x1 \
        --pred csnet-L-x2=work_dirs/maps_x2 \
        --gt ECSSD=data/sod/ECSSD/GT \
        --gt DUTS-TE=data/sod/DUTS-TE/DUTS-TE-Mask \
        --out-dir work_dirs/curves

Each ``--pred NAME=DIR`` is one model. ``DIR`` holds one sub-folder per data
set (``DIR/ECSSD/*.png``, as written by ``SODMetric(output_dir=DIR)`` /
``tools/test.py --out DIR``) or, with a single ``--gt``, the maps directly.
Each ``--gt [DATASET=]DIR`` is the mask folder of one data set; without
``DATASET=`` the name is the folder above the mask folder
(``data/sod/ECSSD/GT`` -> ``ECSSD``). Every mask needs a map with its stem.

One figure per data set, ``OUT_DIR/<dataset>_curves.png``: precision-recall
curves (left) and F-measure (beta^2 = 0.3) against the binarisation
threshold (right), one line per model. The max/mean/adaptive F and the MAE
of each model are printed. Computed with pysodmetrics, as ``SODMetric``.
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from collections import OrderedDict
from typing import Dict, List, Tuple

import numpy as np

from csnet_mmseg.datasets.image_io import read_image
from csnet_mmseg.datasets.sod import SOD_IMG_SUFFIXES
from csnet_mmseg.datasets.transforms.loading import read_sod_mask


class CurveError(Exception):
    """A user error (missing folder, stem or size mismatch)."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw PR and F-threshold curves of saved saliency maps')
    parser.add_argument(
        '--pred',
        action='append',
        required=True,
        metavar='NAME=DIR',
        help='maps of one model (repeatable)')
    parser.add_argument(
        '--gt',
        action='append',
        required=True,
        metavar='[DATASET=]DIR',
        help='mask folder of one data set (repeatable)')
    parser.add_argument(
        '--out-dir', required=True, help='folder for the PNG figures')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace figures that already exist in --out-dir')
    parser.add_argument('--dpi', type=int, default=120, help='figure dpi')
    return parser.parse_args(argv)


def _pairs(items: List[str], what: str,
           need_name: bool) -> 'OrderedDict[str, str]':
    out: 'OrderedDict[str, str]' = OrderedDict()
    for item in items:
        if '=' in item:
            name, folder = item.split('=', 1)
        elif need_name:
            raise CurveError(f'{what} {item!r} must be NAME=DIR')
        else:
            folder = item
            name = osp.basename(osp.dirname(osp.abspath(folder)))
        if not name or not folder:
            raise CurveError(f'{what} {item!r}: empty name or folder')
        if name in out:
            raise CurveError(f'{what}: the name {name!r} is given twice')
        out[name] = folder
    return out


def _list_maps(folder: str) -> Dict[str, str]:
    """``{stem: path}`` of the image files of a folder."""
    files: Dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if name.startswith('.') or ext.lower() not in SOD_IMG_SUFFIXES:
            continue
        # prefer .png when a stem exists with several suffixes
        if stem not in files or ext.lower() == '.png':
            files[stem] = osp.join(folder, name)
    return files


def _map_folder(model: str, root: str, dataset: str, single: bool) -> str:
    sub = osp.join(root, dataset)
    if osp.isdir(sub):
        return sub
    if single and osp.isdir(root) and _list_maps(root):
        return root
    if not osp.isdir(root):
        raise CurveError(f"--pred {model}: the folder '{root}' does not "
                         'exist')
    raise CurveError(f"--pred {model}: no folder '{sub}' with the maps of "
                     f'{dataset}' +
                     ('' if single else
                      ' (with several --gt, DIR needs one sub-folder per '
                      'data set)'))


def evaluate(model: str, map_dir: str, gt_dir: str,
             dataset: str) -> Dict[str, np.ndarray]:
    """pysodmetrics F-measure, PR curve and MAE of one model on one set."""
    import py_sod_metrics as psm
    gts = _list_maps(gt_dir)
    if not gts:
        raise CurveError(f"{dataset}: no mask in '{gt_dir}'")
    preds = _list_maps(map_dir)
    missing = [s for s in gts if s not in preds]
    if missing:
        shown = ', '.join(missing[:5]) + (
            f' (+{len(missing) - 5} more)' if len(missing) > 5 else '')
        raise CurveError(f"{model} / {dataset}: {len(missing)} mask stem(s) "
                         f"have no map in '{map_dir}': {shown}")
    with warnings.catch_warnings():  # 1.6 deprecates it for FmeasureV2
        warnings.simplefilter('ignore')
        fm = psm.Fmeasure(beta=0.3)
    mae = psm.MAE()
    for stem, gt_path in gts.items():
        try:  # the project's reading rule: truncated files are errors
            gt = read_sod_mask(gt_path)
            pred = read_image(preds[stem], flag='grayscale')
        except (OSError, ValueError, TypeError) as e:
            raise CurveError(str(e)) from e
        if pred.shape != gt.shape:
            raise CurveError(
                f"the map '{preds[stem]}' is {pred.shape[1]}x{pred.shape[0]} "
                f"but the mask '{gt_path}' is {gt.shape[1]}x{gt.shape[0]}")
        fm.step(pred, gt)
        mae.step(pred, gt)
    res = fm.get_results()
    return dict(
        f_curve=np.asarray(res['fm']['curve'], np.float64).reshape(-1),
        adp_f=float(res['fm']['adp']),
        precision=np.asarray(res['pr']['p'], np.float64).reshape(-1),
        recall=np.asarray(res['pr']['r'], np.float64).reshape(-1),
        mae=float(mae.get_results()['mae']),
        num=len(gts))


def draw(dataset: str, results: 'OrderedDict[str, dict]', out_file: str,
         dpi: int) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax_pr, ax_f) = plt.subplots(1, 2, figsize=(11, 4.6))
    for model, r in results.items():
        label = f"{model} (maxF {r['f_curve'].max():.3f})"
        ax_pr.plot(r['recall'], r['precision'], label=label)
        # pysodmetrics orders its 256 bins by decreasing threshold
        thresholds = np.linspace(255, 0, len(r['f_curve']))
        ax_f.plot(thresholds, r['f_curve'], label=label)
    ax_pr.set(xlabel='recall', ylabel='precision', xlim=(0, 1),
              ylim=(0, 1.01), title=f'{dataset}: precision-recall')
    ax_f.set(xlabel='threshold', ylabel='F-measure (beta^2 = 0.3)',
             xlim=(0, 255), ylim=(0, 1.01),
             title=f'{dataset}: F-measure vs threshold')
    for ax in (ax_pr, ax_f):
        ax.grid(True, alpha=0.3)
        ax.legend(loc='lower left', fontsize='small')
    fig.tight_layout()
    fig.savefig(out_file, dpi=dpi)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        preds = _pairs(args.pred, '--pred', need_name=True)
        gts = _pairs(args.gt, '--gt', need_name=False)
        for dataset, folder in gts.items():
            if not osp.isdir(folder):
                raise CurveError(f"--gt {dataset}: the folder '{folder}' "
                                 'does not exist')
        out_files = {d: osp.join(args.out_dir, f'{d}_curves.png') for d in gts}
        existing = [f for f in out_files.values() if osp.exists(f)]
        if existing and not args.overwrite:
            raise CurveError(f'{existing[0]} exists; pass --overwrite to '
                             'replace it or choose another --out-dir')
        os.makedirs(args.out_dir, exist_ok=True)
        rows: List[Tuple[str, str, dict]] = []
        for dataset, gt_dir in gts.items():
            results: 'OrderedDict[str, dict]' = OrderedDict()
            for model, root in preds.items():
                map_dir = _map_folder(model, root, dataset, len(gts) == 1)
                results[model] = evaluate(model, map_dir, gt_dir, dataset)
                rows.append((dataset, model, results[model]))
            draw(dataset, results, out_files[dataset], args.dpi)
            print(f'{dataset}: {out_files[dataset]}')
    except CurveError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    dw = max([len('dataset')] + [len(r[0]) for r in rows])
    mw = max([len('model')] + [len(r[1]) for r in rows])
    print(f"\n{'dataset':<{dw}} {'model':<{mw}} {'images':>6} {'maxF':>7} "
          f"{'meanF':>7} {'adpF':>7} {'MAE':>7}")
    for dataset, model, r in rows:
        print(f"{dataset:<{dw}} {model:<{mw}} {r['num']:>6} "
              f"{r['f_curve'].max():>7.4f} {r['f_curve'].mean():>7.4f} "
              f"{r['adp_f']:>7.4f} {r['mae']:>7.4f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
