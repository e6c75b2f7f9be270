"""Export a CSNet model to ONNX (the fused deploy form).

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx \
        [--shape H W] [--opset N] [--no-sigmoid] [--with-preprocess \
        [--input-dtype uint8|float32]] [--fixed-size] [--verify IMAGE_OR_DIR] \
        [--overwrite]

The graph has dynamic batch, height and width (``--fixed-size``: only the
batch is dynamic and the size is ``--shape``; its bilinear upsamplings by an
integer factor are then exact transposed convolutions, which OpenVINO runs
faster: the fastest graph for a fixed input size such as the 224x224
protocol). By default its input
``input`` is a float32 (N, 3, H, W) RGB image normalised with the ImageNet
mean/std, and its output ``saliency`` is (N, 1, H, W) in [0, 1] at the input
size (the sigmoid is in the graph; ``--no-sigmoid`` gives ``logits``).
``--with-preprocess`` puts the normalisation into the graph: the input is
then RGB 0-255, uint8 by default (``--input-dtype float32`` for floats).
``--verify`` runs ONNX Runtime and PyTorch on real images (resized to
224x224 as the official protocol does, and at 1.5x that size for the
dynamic shape) and fails if they differ by more than ``--tolerance``.
"""
import argparse
import os.path as osp
import sys

import torch

from csnet_mmseg.apis import SegmentorLogits
from csnet_mmseg.deploy import convert_to_deploy
from csnet_mmseg.deploy.onnx_export import (compare_with_onnxruntime,
                                            export_onnx, ort_session,
                                            verification_inputs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a CSNet model (deploy form) to ONNX')
    add = parser.add_argument
    add('config', help='model config')
    add('checkpoint', help='checkpoint')
    add('out', help='output .onnx file')
    add('--shape', type=int, nargs=2, default=[224, 224],
        metavar=('H', 'W'),
        help='tracing size (the graph accepts any size), default 224 224')
    add('--opset', type=int, default=17, help='ONNX opset (>= 13)')
    add('--fixed-size', action='store_true',
        help='fix height and width to --shape (dynamic batch only): a '
        'faster graph for OpenVINO')
    add('--no-sigmoid', action='store_true',
        help='output logits instead of saliency in [0, 1]')
    add('--with-preprocess', action='store_true',
        help='normalise in the graph: the input is RGB 0-255')
    add('--input-dtype', choices=['uint8', 'float32'],
        help='input type with --with-preprocess (default uint8)')
    add('--verify', metavar='IMAGE_OR_DIR',
        help='compare ONNX Runtime with PyTorch on these images')
    add('--max-verify', type=int, default=8,
        help='at most this many images for --verify (default 8)')
    add('--tolerance', type=float, default=1e-4,
        help='largest allowed abs difference for --verify (default 1e-4)')
    add('--overwrite', action='store_true', help='replace an existing OUT')
    args = parser.parse_args(argv)
    if args.opset < 13:
        parser.error(f'--opset must be >= 13, got {args.opset}')
    if args.input_dtype and not args.with_preprocess:
        parser.error('--input-dtype needs --with-preprocess (without it the '
                     'input is a normalised float32 image)')
    if min(args.shape) < 8:
        parser.error(f'--shape must be at least 8x8, got {args.shape}')
    return args


def main(argv=None):
    args = parse_args(argv)
    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            sys.exit(f'error: {what} file not found: {path}')
    if osp.exists(args.out) and not args.overwrite:
        sys.exit(f'error: {args.out} exists; pass --overwrite to replace it')
    if args.verify and not osp.exists(args.verify):
        sys.exit(f'error: --verify: no such image or folder: {args.verify}')
    import csnet_mmseg  # noqa: F401  (registers the CSNet modules)
    from csnet_mmseg.apis import init_segmentor
    from csnet_mmseg.checkpoint import CheckpointError
    try:
        segmentor = init_segmentor(args.config, args.checkpoint, 'cpu')
    except CheckpointError as e:  # unsafe or damaged checkpoint
        sys.exit(f'error: {e}')
    model = convert_to_deploy(
        segmentor,
        with_sigmoid=not args.no_sigmoid,
        with_preprocess=args.with_preprocess)
    dtype = torch.uint8 if (args.with_preprocess and args.input_dtype
                            != 'float32') else torch.float32
    meta = export_onnx(
        model,
        args.out,
        shape=args.shape,
        opset=args.opset,
        input_dtype=dtype,
        overwrite=args.overwrite,
        dynamic_size=not args.fixed_size)
    dims = (f'dynamic batch, fixed {args.shape[0]}x{args.shape[1]}'
            if args.fixed_size else 'dynamic batch/height/width')
    print(f'wrote {args.out} (opset {args.opset}, {dims})\n  input: '
          f'{meta["input"]}\n  output: {meta["output"]}')
    if args.verify:
        try:
            files, batches = verification_inputs(
                args.verify, args.max_verify, args.with_preprocess, dtype,
                args.shape if args.fixed_size else None)
        except (FileNotFoundError, OSError) as e:  # no images, bad file
            sys.exit(f'error: --verify: {e}')
        session = ort_session(args.out)
        diff, n = compare_with_onnxruntime(model, args.out, batches, session)
        train = SegmentorLogits(segmentor, not args.no_sigmoid,
                                model if args.with_preprocess else None)
        diff_train, _ = compare_with_onnxruntime(train, args.out, batches,
                                                 session)
        ok = max(diff, diff_train) <= args.tolerance
        sizes = (f'{args.shape[0]}x{args.shape[1]}' if args.fixed_size else
                 '224x224, 336x288')
        print(f'verify: {len(files)} image(s), {n} runs ({sizes}, '
              f'batch 2): max |ONNX Runtime - PyTorch| = {diff:.2e} (deploy '
              f'form), {diff_train:.2e} (training form) '
              f'({"OK" if ok else "FAILED"}, tolerance {args.tolerance:g})')
        if not ok:
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
