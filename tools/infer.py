"""Saliency maps for images with a CSNet model (PyTorch, ONNX Runtime or
OpenVINO).

    # PyTorch: config + checkpoint (--deploy: the fused, faster form)
    python tools/infer.py INPUT [INPUT ...] --out-dir OUT \
        --config configs/csnet_l_x1.py --checkpoint csnet_l_x1.pth [--deploy]
    # ONNX Runtime: a model from tools/deployment/pytorch2onnx.py
    python tools/infer.py INPUT [INPUT ...] --out-dir OUT \
        --backend onnxruntime --onnx csnet_l_x1.onnx
    # OpenVINO (CPU): the same ONNX file, or config + checkpoint (the deploy
    # form converted directly); --precision f32 (exact, default) | bf16 | f16
    python tools/infer.py INPUT [INPUT ...] --out-dir OUT \
        --backend openvino --onnx csnet_l_x1.onnx [--threads 1]
    # OpenVINO IR, e.g. an INT8 model of tools/deployment/quantize_openvino.py
    python tools/infer.py INPUT [INPUT ...] --out-dir OUT \
        --backend openvino --ir csnet_l_x2_int8.xml

INPUT is an image, a folder (its images) or a quoted glob ('imgs/*.jpg').
Each image gives OUT/<stem>.png, an 8-bit saliency map at the image's
original size (official protocol: resize to 224x224, ImageNet mean/std,
sigmoid, resize the map back bilinearly); --overlay also writes
OUT/overlay/<stem>.jpg. Existing files are never replaced unless
--overwrite is given, and an input image is never replaced, whatever the
flags.

A file that cannot be read (missing, empty, truncated, not an image) is
reported and skipped; every other image is written. The run ends with a
summary and exit status 1 if any image failed (--fail-fast: stop at the
first one).
"""
import argparse
import os
import os.path as osp
import sys
from collections import Counter

import cv2
import torch
from mmengine.utils import ProgressBar

from csnet_mmseg.apis.inference import (
    TEST_SIZE, OnnxRuntimeSaliency, OpenVINOSaliency, PyTorchSaliency,
    collect_images,
    overlay_image, read_image_rgb, resize_images, saliency_to_uint8)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='CSNet saliency maps for images (8-bit PNG)')
    parser.add_argument(
        'inputs', nargs='+', help='images, folders or glob patterns')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--backend',
        choices=['pytorch', 'onnxruntime', 'openvino'],
        default='pytorch',
        help='inference backend (default: pytorch)')
    parser.add_argument('--config', help='model config (pytorch backend)')
    parser.add_argument('--checkpoint', help='checkpoint (pytorch backend)')
    parser.add_argument(
        '--deploy',
        action='store_true',
        help='pytorch backend: use the fused deploy form')
    parser.add_argument(
        '--onnx', help='.onnx model (onnxruntime or openvino backend)')
    parser.add_argument(
        '--ir',
        help='openvino backend: an OpenVINO IR .xml (e.g. the INT8 model of '
        'tools/deployment/quantize_openvino.py)')
    parser.add_argument('--device', default='cpu', help='torch device')
    parser.add_argument(
        '--threads',
        type=int,
        help='CPU threads (torch, ONNX Runtime and OpenVINO)')
    parser.add_argument(
        '--precision',
        help='openvino backend: inference precision hint, f32 (exact, '
        'default), bf16 or f16 (reduced precision: measure its accuracy)')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument(
        '--overlay',
        action='store_true',
        help='also write OUT/overlay/<stem>.jpg (image + saliency)')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing outputs')
    parser.add_argument(
        '--fail-fast',
        action='store_true',
        help='stop at the first image that cannot be read or written '
        '(default: report it, skip it and go on)')
    args = parser.parse_args(argv)
    if args.ir is not None:
        if args.backend != 'openvino':
            parser.error('--ir is for --backend openvino')
        if not args.ir.endswith('.xml'):
            parser.error(f'--ir must be an OpenVINO .xml file, got {args.ir}')
    if args.backend == 'pytorch':
        if not (args.config and args.checkpoint):
            parser.error('the pytorch backend needs --config and --checkpoint')
        if args.onnx:
            parser.error('--onnx is for --backend onnxruntime')
    elif args.backend == 'onnxruntime':
        if not args.onnx:
            parser.error('the onnxruntime backend needs --onnx')
        if args.config or args.checkpoint or args.deploy:
            parser.error('--config/--checkpoint/--deploy are for the pytorch '
                         'backend')
    else:
        given = bool(args.config) + bool(args.checkpoint)
        files = bool(args.onnx) + bool(args.ir)
        if files > 1 or (files and given) or (not files and given != 2):
            parser.error('the openvino backend needs --onnx, --ir, or '
                         '--config and --checkpoint (the deploy form is '
                         'converted)')
        if args.deploy:
            parser.error('--deploy is for the pytorch backend (openvino '
                         'always runs the deploy form)')
    if args.precision is not None:
        from csnet_mmseg.deploy.openvino_backend import PRECISIONS
        if args.backend != 'openvino':
            parser.error('--precision is for --backend openvino')
        if args.precision not in PRECISIONS:
            parser.error(f'--precision must be one of {", ".join(PRECISIONS)}'
                         f', got {args.precision!r}')
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


def plan_outputs(files, out_dir, overlay):
    """(image, saliency path, overlay path or None) per image; refuses two
    images with the same stem."""
    stems = Counter(osp.splitext(osp.basename(f))[0] for f in files)
    clashes = sorted(s for s, n in stems.items() if n > 1)
    if clashes:
        raise ValueError(
            'several inputs have the same name stem, their outputs would '
            f'collide: {clashes[:5]} (run them into different --out-dir)')
    plan = []
    for f in files:
        stem = osp.splitext(osp.basename(f))[0]
        ov = osp.join(out_dir, 'overlay', stem + '.jpg') if overlay else None
        plan.append((f, osp.join(out_dir, stem + '.png'), ov))
    return plan


def check_inputs_kept(plan):
    """Refuse a plan that would write over one of its input images (e.g.
    ``--out-dir`` is the input folder and an input is ``<stem>.png``)."""
    inputs = {osp.realpath(f): f for f, _, _ in plan}
    for _, sal, ov in plan:
        for out in (sal, ov):
            if out is not None and osp.realpath(out) in inputs:
                raise ValueError(
                    f'the output {out} would replace the input image '
                    f'{inputs[osp.realpath(out)]}; choose another --out-dir '
                    '(inputs are never overwritten, even with --overwrite)')


def main(argv=None):
    args = parse_args(argv)
    try:
        files = collect_images(args.inputs)
        plan = plan_outputs(files, args.out_dir, args.overlay)
        check_inputs_kept(plan)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f'error: {e}')
    if osp.exists(args.out_dir) and not osp.isdir(args.out_dir):
        sys.exit(f'error: --out-dir {args.out_dir} is a file, not a folder')
    existing = [
        p for _, sal, ov in plan for p in (sal, ov)
        if p is not None and osp.exists(p)
    ]
    if existing and not args.overwrite:
        sys.exit(f'error: {len(existing)} output file(s) exist, e.g. '
                 f'{existing[0]}; pass --overwrite to replace them')
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.backend == 'pytorch':
            predict = PyTorchSaliency(args.config, args.checkpoint,
                                      args.device, args.deploy)
        elif args.backend == 'onnxruntime':
            predict = OnnxRuntimeSaliency(args.onnx, args.threads)
        else:
            predict = OpenVINOSaliency(
                args.onnx or args.ir,
                args.config,
                args.checkpoint,
                threads=args.threads,
                precision=args.precision or 'f32')
    except Exception as e:  # a bad config, checkpoint or ONNX file
        sys.exit(f'error: cannot load the model: {e}')
    os.makedirs(args.out_dir, exist_ok=True)
    if args.overlay:
        os.makedirs(osp.join(args.out_dir, 'overlay'), exist_ok=True)
    print(f'{len(plan)} image(s) -> {args.out_dir} ({args.backend}'
          f'{", deploy form" if args.deploy else ""})')
    bar = ProgressBar(len(plan), file=sys.stderr)
    failed = []

    def fail(path, reason):
        if args.fail_fast:
            sys.exit(f'\nerror: {reason}\n(--fail-fast: stopped; '
                     f'{written} image(s) written)')
        sys.stderr.write(f'\nskipped {path}: {reason}\n')
        failed.append((path, reason))
        bar.update()

    written = 0
    for start in range(0, len(plan), args.batch_size):
        images, good = [], []
        for item in plan[start:start + args.batch_size]:
            try:
                images.append(read_image_rgb(item[0]))
                good.append(item)
            except OSError as e:  # FileNotFoundError too
                fail(item[0], str(e))
        if not images:
            continue
        prob = predict(resize_images(images, TEST_SIZE))
        for img, (src, sal_path, ov_path), p in zip(images, good, prob):
            sal = saliency_to_uint8(p, img.shape[:2])
            if not cv2.imwrite(sal_path, sal):
                fail(src, f'cannot write {sal_path}')
                continue
            if ov_path is not None and not cv2.imwrite(
                    ov_path, overlay_image(img, sal)):
                fail(src, f'cannot write {ov_path}')
                continue
            written += 1
            bar.update()
    sys.stderr.write('\n')
    print(f'{written} of {len(plan)} image(s) written to {args.out_dir}')
    if failed:
        lines = ''.join(f'\n  {path}: {reason}' for path, reason in failed)
        sys.stderr.write(f'{len(failed)} image(s) failed:{lines}\n')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
