"""Folding vs dropping the removed channels, measured on real images.

Prunes a trained CSNet (``csnet_mmseg.pruning.prune_segmentor``) at
one or more thresholds, once folding the image-independent output of the
removed channels into their consumers (``fold=True``) and once dropping it
(``fold=False``), and compares both narrowed models with the wide one on a
folder of real images (default: the 107 PASCAL-S development images):

- the logits: max and mean absolute difference to the wide model, over all
  pixels of all images (the segmentor's pre-sigmoid output, upsampled to the
  224x224 input as ``predict`` does);
- the saliency maps: mean absolute difference of the sigmoid outputs to
  the wide model's (same pixels);
- the MAE of each model, as ``tools/test.py`` scores it: the package's
  ``SODMetric`` through :class:`csnet_mmseg.pruning.SegmentorEvaluator`
  (resize to 224x224, ImageNet mean/std from the model's data preprocessor,
  logits resized back to the image size, sigmoid, 8-bit maps, against the
  ground truth at its own size).

The images are read by the package's ``SODDataset`` (``images/`` +
``GT/``) and test pipeline. Prints a markdown table (and writes it with
``--out``).

    python experiments/prune_fold/prune_fold_experiment.py CONFIG CHECKPOINT
        [--threshold T ...] [--quantile Q ...]
        [--data ../shared/data/pascal-s-dev] [--size 224] [--calib-num K]
        [--out FILE.md]

``--calib-num K`` adds a third variant, folding calibrated on the first K
images (the mean output of each removed channel over them, see
``prune_segmentor(calib=...)``); all models are then scored on the other
images only.

``--quantile Q`` prunes at the Q-quantile of all prunable |gamma| (so about
a share Q of the channels goes), for models without exactly-dead channels.
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from csnet_mmseg.apis import build_segmentor, segmentor_logits
from csnet_mmseg.pruning import (PruningError, SegmentorEvaluator,
                                 prunable_gammas, prune_segmentor)

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')

DEFAULT_DATA = osp.normpath(
    osp.join(ROOT, '..', 'shared', 'data', 'pascal-s-dev'))
SOD_PIPELINES = osp.join(ROOT, 'configs', '_base_', 'datasets',
                         'sod_pipelines.py')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Compare folding and dropping of pruned channels')
    parser.add_argument('config', help='training config of the model')
    parser.add_argument('checkpoint', help='trained (wide) checkpoint')
    parser.add_argument(
        '--threshold',
        type=float,
        nargs='*',
        default=[],
        help='pruning thresholds on |gamma|')
    parser.add_argument(
        '--quantile',
        type=float,
        nargs='*',
        default=[],
        help='prune at these quantiles of all prunable |gamma|')
    parser.add_argument(
        '--data',
        default=DEFAULT_DATA,
        help='folder with images/*.jpg and GT/*.png (default: PASCAL-S dev)')
    parser.add_argument(
        '--size', type=int, default=224, help='input size (224)')
    parser.add_argument(
        '--batch-size', type=int, default=8, help='images per forward')
    parser.add_argument(
        '--calib-num',
        type=int,
        default=0,
        help='also fold calibrated on the first K images (sorted by name); '
        'then every model is evaluated on the remaining images only')
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args()
    if not args.threshold and not args.quantile:
        parser.error('give at least one --threshold or --quantile')
    return args


def sod_loader(data: str, size: int, batch_size: int,
               ann_file: str = '') -> dict:
    """Dataloader config of the images of ``data`` (``images/`` +
    ``GT/``; only those listed in ``ann_file`` if given) with the SOD test
    pipeline (``configs/_base_/datasets/sod_pipelines.py``) resized to
    ``size`` x ``size``."""
    pipeline = [
        dict(t, scale=(size, size)) if t['type'] == 'Resize' else t
        for t in Config.fromfile(SOD_PIPELINES).test_pipeline
    ]
    return dict(
        batch_size=batch_size,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='SODDataset',
            data_root=data,
            data_prefix=dict(img_path='images', seg_map_path='GT'),
            ann_file=ann_file,
            dataset_name=osp.basename(osp.normpath(data)),
            test_mode=True,
            pipeline=pipeline))


def build_loader(cfg: dict):
    """The DataLoader of :func:`sod_loader`; a bad folder exits with the
    dataset's message."""
    try:
        return Runner.build_dataloader(cfg)
    except (OSError, ValueError, TypeError) as e:
        sys.exit(f'prune_fold_experiment: {e}')


@torch.no_grad()
def run_model(model, loader) -> torch.Tensor:
    """Logits (N, 1, size, size) of the model for all images."""
    model.eval()
    out = []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        out.append(segmentor_logits(model, data['inputs']))
    return torch.cat(out)


def mae(evaluator: SegmentorEvaluator, model) -> float:
    """The model's MAE on the evaluator's images (SODMetric)."""
    return float(evaluator(model)['MAE'])


def main():
    args = parse_args()
    torch.set_num_threads(1)
    cfg = Config.fromfile(args.config)
    model = build_segmentor(
        cfg, args.checkpoint, strict=True, logger='current')
    with tempfile.TemporaryDirectory() as tmp:
        run(args, cfg, model, tmp)


def run(args, cfg, model, tmp: str) -> None:
    loader = build_loader(sod_loader(args.data, args.size, args.batch_size))
    dataset = loader.dataset
    calib = None
    if args.calib_num > 0:
        if args.calib_num >= len(dataset):
            sys.exit(f'--calib-num {args.calib_num} leaves no image to test')
        inputs, got = [], 0
        for batch in loader:
            inputs.append(model.data_preprocessor(batch, False)['inputs'])
            got += len(inputs[-1])
            if got >= args.calib_num:
                break
        calib = list(torch.cat(inputs)[:args.calib_num].split(args.batch_size))
        # the others are scored: an ann_file that lists them
        ann = osp.join(tmp, 'test.txt')
        with open(ann, 'w') as f:
            for i in range(args.calib_num, len(dataset)):
                info = dataset.get_data_info(i)
                f.write(osp.basename(info['img_path']) + '\n')
        loader = build_loader(
            sod_loader(args.data, args.size, args.batch_size, ann))
        print(f'calibration: the first {args.calib_num} images')
    num_images = len(loader.dataset)
    print(f'{num_images} test images from {args.data}, '
          f'{args.size}x{args.size}')
    evaluator = SegmentorEvaluator(
        loader, dict(type='SODMetric', sod_metrics=['MAE']))

    t0 = time.time()
    wide = run_model(model, loader)
    wide_mae = mae(evaluator, model)
    print(f'wide model: MAE {wide_mae:.4f} ({time.time() - t0:.0f}s)')
    gammas = prunable_gammas(model)
    thresholds = [(t, f'{t:g}') for t in args.threshold]
    for q in args.quantile:
        t = float(torch.quantile(gammas.double(), q))
        # just above the quantile value: that channel goes too
        thresholds.append((float(np.nextafter(t, np.inf)), f'q={q:g}'))

    rows = []
    for threshold, label in thresholds:
        removed = int((gammas < threshold).sum())
        variants = [('folded', True, None), ('dropped', False, None)]
        if calib is not None:
            variants.insert(1, ('folded, calibrated', True, calib))
        for variant, fold, calib_batches in variants:
            t0 = time.time()
            try:
                result = prune_segmentor(
                    model,
                    cfg.model,
                    threshold=threshold,
                    fold=fold,
                    input_size=(args.size, args.size),
                    calib=calib_batches)
            except PruningError as e:
                print(f'threshold {label}: {e}')
                break
            logits = run_model(result.model, loader)
            diff = (logits - wide).abs()
            rows.append(
                dict(
                    label=label,
                    threshold=threshold,
                    removed=removed,
                    total=gammas.numel(),
                    params=(result.before['params'],
                            result.after['params']),
                    flops=(result.before['flops'], result.after['flops']),
                    variant=variant,
                    max=float(diff.max()),
                    mean=float(diff.mean()),
                    prob=float((torch.sigmoid(logits) -
                                torch.sigmoid(wide)).abs().mean()),
                    mae=mae(evaluator, result.model)))
            r = rows[-1]
            print(f'threshold {label} ({threshold:.3g}), '
                  f"{variant}: removed {removed}/"
                  f"{r['total']} channels, params {r['params'][0]:,} -> "
                  f"{r['params'][1]:,}, logits max {r['max']:.4g} mean "
                  f"{r['mean']:.4g}, prob mean {r['prob']:.4g}, "
                  f"MAE {r['mae']:.4f} "
                  f'({time.time() - t0:.0f}s)')

    lines = [
        f'Wide model: {args.checkpoint}, MAE {wide_mae:.4f} on '
        f'{num_images} images of {args.data} ({args.size}x{args.size})'
        + (f', the first {args.calib_num} (by name) calibrate'
           if calib is not None else '') + '.',
        '',
        '| threshold | removed channels | params | FLOPs | removed output |'
        ' logits max abs diff | logits mean abs diff | saliency mean abs '
        'diff | MAE | MAE change |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} ({r['threshold']:.3g}) | {r['removed']} / "
            f"{r['total']} | {r['params'][0]:,} -> {r['params'][1]:,} | "
            f"{r['flops'][0] / 1e6:.1f}M -> {r['flops'][1] / 1e6:.1f}M | "
            f"{r['variant']} | {r['max']:.4g} | "
            f"{r['mean']:.4g} | {r['prob']:.4g} | {r['mae']:.4f} | "
            f"{r['mae'] - wide_mae:+.4f} |")
    table = '\n'.join(lines) + '\n'
    print()
    print(table)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(table)
        print(f'written to {args.out}')


if __name__ == '__main__':
    main()
