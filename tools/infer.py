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

import torch
from mmengine.utils import ProgressBar

from csnet_mmseg.apis.inference import (backend_option_error,
                                        build_predictor, collect_images)
from csnet_mmseg.apis.outputs import (check_inputs_kept, plan_outputs,
                                      write_saliency_maps)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='CSNet saliency maps for images (8-bit PNG)')
    add = parser.add_argument
    add('inputs', nargs='+', help='images, folders or glob patterns')
    add('--out-dir', required=True, help='output folder')
    add('--backend', choices=['pytorch', 'onnxruntime', 'openvino'],
        default='pytorch', help='inference backend (default: pytorch)')
    add('--config', help='model config (pytorch backend)')
    add('--checkpoint', help='checkpoint (pytorch backend)')
    add('--deploy', action='store_true',
        help='pytorch backend: use the fused deploy form')
    add('--onnx', help='.onnx model (onnxruntime or openvino backend)')
    add('--ir', help='openvino backend: an OpenVINO IR .xml (e.g. the INT8 '
        'model of tools/deployment/quantize_openvino.py)')
    add('--device', default='cpu', help='torch device')
    add('--threads', type=int,
        help='CPU threads (torch, ONNX Runtime and OpenVINO)')
    add('--precision', help='openvino backend: inference precision hint, '
        'f32 (exact, default), bf16 or f16 (reduced precision: measure its '
        'accuracy)')
    add('--batch-size', type=int, default=1, help='images per forward pass')
    add('--overlay', action='store_true',
        help='also write OUT/overlay/<stem>.jpg (image + saliency)')
    add('--overwrite', action='store_true', help='replace existing outputs')
    add('--fail-fast', action='store_true',
        help='stop at the first image that cannot be read or written '
        '(default: report it, skip it and go on)')
    args = parser.parse_args(argv)
    error = backend_option_error(args.backend, args.config, args.checkpoint,
                                 args.deploy, args.onnx, args.ir,
                                 args.precision)
    if error:
        parser.error(error)
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


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
        predict = build_predictor(args.backend, args.config, args.checkpoint,
                                  args.onnx or args.ir, args.device,
                                  args.deploy, args.threads,
                                  args.precision or 'f32')
    except Exception as e:  # a bad config, checkpoint or ONNX file
        sys.exit(f'error: cannot load the model: {e}')
    os.makedirs(args.out_dir, exist_ok=True)
    if args.overlay:
        os.makedirs(osp.join(args.out_dir, 'overlay'), exist_ok=True)
    print(f'{len(plan)} image(s) -> {args.out_dir} ({args.backend}'
          f'{", deploy form" if args.deploy else ""})')
    bar = ProgressBar(len(plan), file=sys.stderr)
    failed, written = [], 0
    for path, reason in write_saliency_maps(predict, plan, args.batch_size):
        if reason is None:
            written += 1
        elif args.fail_fast:
            sys.exit(f'\nerror: {reason}\n(--fail-fast: stopped; '
                     f'{written} image(s) written)')
        else:
            sys.stderr.write(f'\nskipped {path}: {reason}\n')
            failed.append((path, reason))
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
