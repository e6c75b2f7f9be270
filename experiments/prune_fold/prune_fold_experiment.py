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
- the MAE of each model (official protocol: resize to 224x224, ImageNet
  mean/std from the model's data preprocessor, sigmoid, bilinear resize back
  to the ground-truth size, ground truth as distributed / 255).

Prints a markdown table (and writes it with ``--out``).

    python tools/analysis_tools/prune_fold_experiment.py CONFIG CHECKPOINT
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
import glob
import os.path as osp
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import csnet_mmseg  # noqa: F401  (fills the registries)
from csnet_mmseg.datasets.image_io import read_image
from csnet_mmseg.datasets.transforms import read_sod_mask
from csnet_mmseg.apis import segmentor_logits
from csnet_mmseg.pruning import (PruningError, prunable_gammas,
                                 prune_segmentor)
from mmseg.registry import MODELS

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')

DEFAULT_DATA = osp.normpath(
    osp.join(ROOT, '..', 'shared', 'data', 'pascal-s-dev'))


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


def load_images(data: str, size: int):
    """Images (uint8 BGR CHW tensors resized to size x size) and GT masks
    (float in [0, 1], original size)."""
    paths = sorted(glob.glob(osp.join(data, 'images', '*.jpg')))
    if not paths:
        sys.exit(f'prune_fold_experiment: no images in {data}/images')
    images, gts = [], []
    for path in paths:
        stem = osp.splitext(osp.basename(path))[0]
        gt_path = osp.join(data, 'GT', stem + '.png')
        try:  # the project's reading rule (truncated files, 0/1 masks)
            img = read_image(path)
            gt = read_sod_mask(gt_path)
        except (OSError, ValueError, TypeError) as e:
            sys.exit(f'prune_fold_experiment: {e}')
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
        images.append(torch.from_numpy(img).permute(2, 0, 1).contiguous())
        gts.append(gt.astype(np.float32) / 255.0)
    return images, gts


@torch.no_grad()
def run_model(model, images, batch_size: int):
    """Logits (N, 1, size, size) of the model for all images."""
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        data = model.data_preprocessor(
            dict(inputs=images[i:i + batch_size]), False)
        out.append(segmentor_logits(model, data['inputs']))
    return torch.cat(out)


def mae(logits: torch.Tensor, gts) -> float:
    errors = []
    for logit, gt in zip(logits, gts):
        prob = torch.sigmoid(logit[None])
        prob = F.interpolate(
            prob, size=gt.shape, mode='bilinear', align_corners=False)
        errors.append(float((prob[0, 0] - torch.from_numpy(gt)).abs().mean()))
    return float(np.mean(errors))


def main():
    args = parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    model.eval()
    images, gts = load_images(args.data, args.size)
    calib = None
    if args.calib_num > 0:
        if args.calib_num >= len(images):
            sys.exit(f'--calib-num {args.calib_num} leaves no image to test')
        calib = [
            model.data_preprocessor(
                dict(inputs=images[i:i + args.batch_size]), False)['inputs']
            for i in range(0, args.calib_num, args.batch_size)
        ]
        calib[-1] = calib[-1][:args.calib_num - args.batch_size *
                              (len(calib) - 1)]
        images, gts = images[args.calib_num:], gts[args.calib_num:]
        print(f'calibration: the first {args.calib_num} images')
    print(f'{len(images)} test images from {args.data}, '
          f'{args.size}x{args.size}')

    t0 = time.time()
    wide = run_model(model, images, args.batch_size)
    wide_mae = mae(wide, gts)
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
            logits = run_model(result.model, images, args.batch_size)
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
                    mae=mae(logits, gts)))
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
        f'{len(images)} images of {args.data} ({args.size}x{args.size})'
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
