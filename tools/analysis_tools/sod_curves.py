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
of each model are printed. Computed with pysodmetrics, as ``SODMetric``
(:mod:`csnet_mmseg.evaluation.curves`).
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import List, Tuple

from csnet_mmseg.evaluation.curves import (CurveError, curve_metrics, draw,
                                           map_folder, parse_pairs,
                                           summary_lines)


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


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        preds = parse_pairs(args.pred, '--pred', need_name=True)
        gts = parse_pairs(args.gt, '--gt', need_name=False)
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
                map_dir = map_folder(model, root, dataset, len(gts) == 1)
                results[model] = curve_metrics(model, map_dir, gt_dir, dataset)
                rows.append((dataset, model, results[model]))
            draw(dataset, results, out_files[dataset], args.dpi)
            print(f'{dataset}: {out_files[dataset]}')
    except CurveError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print('\n' + '\n'.join(summary_lines(rows)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
