"""Precision-recall and F-measure curves of saved saliency maps, computed
with pysodmetrics as ``SODMetric`` does."""
import os
import os.path as osp
import warnings
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..datasets.image_io import read_image
from ..datasets.sod import SOD_IMG_SUFFIXES
from ..datasets.transforms.loading import read_sod_mask

__all__ = [
    'CurveError', 'parse_pairs', 'list_maps', 'map_folder', 'curve_metrics',
    'draw', 'summary_lines'
]


class CurveError(Exception):
    """A user error (missing folder, stem or size mismatch)."""


def parse_pairs(items: List[str], what: str,
                need_name: bool) -> 'OrderedDict[str, str]':
    """``NAME=DIR`` items (``DIR`` alone when ``need_name`` is False: the
    name is the folder above ``DIR``) as ``{NAME: DIR}``, in order."""
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


def list_maps(folder: str) -> Dict[str, str]:
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


def map_folder(model: str, root: str, dataset: str, single: bool) -> str:
    """The folder of ``model``'s maps of ``dataset``: ``root/dataset``, or
    with a single data set ``root`` itself when it holds maps."""
    sub = osp.join(root, dataset)
    if osp.isdir(sub):
        return sub
    if single and osp.isdir(root) and list_maps(root):
        return root
    if not osp.isdir(root):
        raise CurveError(f"--pred {model}: the folder '{root}' does not "
                         'exist')
    raise CurveError(f"--pred {model}: no folder '{sub}' with the maps of "
                     f'{dataset}' +
                     ('' if single else
                      ' (with several --gt, DIR needs one sub-folder per '
                      'data set)'))


def curve_metrics(model: str, map_dir: str, gt_dir: str,
             dataset: str) -> Dict[str, np.ndarray]:
    """pysodmetrics F-measure, PR curve and MAE of one model on one set."""
    import py_sod_metrics as psm
    gts = list_maps(gt_dir)
    if not gts:
        raise CurveError(f"{dataset}: no mask in '{gt_dir}'")
    preds = list_maps(map_dir)
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
    """One figure: precision-recall curves (left) and F-measure against
    the threshold (right), one line per model."""
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


def summary_lines(rows: Sequence[Tuple[str, str, dict]]) -> List[str]:
    """The printed table: per (data set, model, :func:`curve_metrics`) the
    image count, max/mean/adaptive F and MAE."""
    dw = max([len('dataset')] + [len(r[0]) for r in rows])
    mw = max([len('model')] + [len(r[1]) for r in rows])
    lines = [f"{'dataset':<{dw}} {'model':<{mw}} {'images':>6} {'maxF':>7} "
             f"{'meanF':>7} {'adpF':>7} {'MAE':>7}"]
    for dataset, model, r in rows:
        lines.append(f"{dataset:<{dw}} {model:<{mw}} {r['num']:>6} "
                     f"{r['f_curve'].max():>7.4f} {r['f_curve'].mean():>7.4f} "
                     f"{r['adp_f']:>7.4f} {r['mae']:>7.4f}")
    return lines
