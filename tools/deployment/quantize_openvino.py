"""INT8 post-training quantisation of the CSNet deploy form with NNCF for
OpenVINO, and its measurement against the exact f32 model.

    python tools/deployment/quantize_openvino.py CONFIG CHECKPOINT \
        --calib-root $SOD_DATA_ROOT/duts-tr-224 --calib-split train.txt \
        --out work_dirs/int8/csnet_l_x1_int8.xml \
        [--num-calib 300] [--size 224] [--preset performance|mixed] \
        [--ignore-types GroupConvolution ...] [--no-fast-bias-correction] \
        [--model-type transformer] [--eval-root $SOD_DATA_ROOT/pascal-s-dev] \
        [--dynamic] [--no-bench] [--rounds 7] [--runs 10] [--threads 1] \
        [--overwrite]

The deploy form is exported for ``--size`` (``--dynamic``: any size),
converted to OpenVINO and calibrated by ``nncf.quantize`` on ``--num-calib``
images of ``--calib-split`` prepared as the test pipeline does; the INT8
model is saved as OpenVINO IR (``--out``). Then the markdown tables: f32 vs
int8 latency (alternating rounds), the executed nodes per type and
precision (``PERF_COUNT``) and, with ``--eval-root`` (``images/`` + ``GT/``),
MAE and max F with the official protocol. Details: docs/deployment.md; the
code: :mod:`csnet_mmseg.deploy.quantize`,
:mod:`csnet_mmseg.benchmark.int8_report`.
"""
import argparse
import os
import os.path as osp
import sys
import time
import warnings

import torch

from csnet_mmseg.benchmark.int8_report import (accuracy_lines,
                                               evaluate_openvino,
                                               latency_lines, node_lines,
                                               node_tables,
                                               time_openvino_models)
from csnet_mmseg.benchmark.openvino import export_openvino
from csnet_mmseg.deploy.quantize import (MODEL_TYPES, PRESETS,
                                         calibration_files,
                                         quantize_openvino)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='INT8 quantisation (NNCF) of the CSNet deploy form for '
        'OpenVINO, measured against f32')
    add = parser.add_argument
    add('config', help='model config')
    add('checkpoint', help='checkpoint')
    add('--out', required=True, help='output OpenVINO IR (.xml; + .bin)')
    add('--calib-root', required=True,
        help='calibration data root (e.g. $SOD_DATA_ROOT/duts-tr-224)')
    add('--calib-split', help='file of image stems, relative to '
        '--calib-root (default: every image of the image folder)')
    add('--calib-img-dir', default='DUTS-TR-Image',
        help='image folder under --calib-root (default DUTS-TR-Image; the '
        'root itself if that folder does not exist)')
    add('--num-calib', type=int, default=300,
        help='calibration images (seeded random choice), default 300')
    add('--size', type=int, default=224, help='calibration size (square)')
    add('--preset', default='performance',
        help=f'NNCF preset: {", ".join(PRESETS)} (default performance)')
    add('--model-type', default='none',
        help=f'NNCF model_type: {", ".join(MODEL_TYPES)} (default none)')
    add('--ignore-types', nargs='+', default=[], metavar='TYPE',
        help='OpenVINO op types left in f32 (nncf.IgnoredScope(types=...)), '
        'e.g. GroupConvolution Interpolate')
    add('--no-fast-bias-correction', action='store_true',
        help='NNCF\'s full bias correction instead of the fast one')
    add('--eval-root', help='accuracy set: a folder with images/ and GT/ '
        '(e.g. $SOD_DATA_ROOT/pascal-s-dev)')
    add('--dynamic', action='store_true',
        help='export with dynamic height and width (default: fixed to '
        '--size, whose upsamplings OpenVINO runs faster)')
    add('--no-bench', action='store_true', help='skip the latency table')
    add('--rounds', type=int, default=7, help='timing rounds (default 7)')
    add('--runs', type=int, default=10, help='runs per form and round')
    add('--threads', type=int, default=1, help='CPU threads (default 1)')
    add('--seed', type=int, default=0, help='choice seed')
    add('--overwrite', action='store_true', help='replace an existing --out')
    args = parser.parse_args(argv)
    if args.preset not in PRESETS:
        parser.error(f'--preset must be one of {", ".join(PRESETS)}, got '
                     f'{args.preset!r}')
    if args.model_type not in MODEL_TYPES:
        parser.error(f'--model-type must be one of {", ".join(MODEL_TYPES)}, '
                     f'got {args.model_type!r}')
    if args.num_calib < 1:
        parser.error(f'--num-calib must be >= 1, got {args.num_calib}')
    if args.size < 32:
        parser.error(f'--size must be >= 32, got {args.size}')
    if args.rounds < 1 or args.runs < 1:
        parser.error('--rounds and --runs must be >= 1')
    if args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if not args.out.endswith('.xml'):
        parser.error(f'--out must be an OpenVINO .xml file, got {args.out}')
    if osp.exists(args.out) and not args.overwrite:
        parser.error(f'--out {args.out} exists; pass --overwrite to '
                     'replace it')
    for path, flag in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            parser.error(f'{flag} not found: {path}')
    if not osp.isdir(args.calib_root):
        parser.error(f'--calib-root is not a folder: {args.calib_root}')
    if args.calib_split and not osp.isfile(
            osp.join(args.calib_root, args.calib_split)):
        parser.error('--calib-split not found: '
                     f'{osp.join(args.calib_root, args.calib_split)}')
    if args.eval_root and not all(
            osp.isdir(osp.join(args.eval_root, d)) for d in ('images', 'GT')):
        parser.error(f'--eval-root {args.eval_root} needs images/ and GT/')
    if args.eval_root and args.size != 224 and not args.dynamic:
        parser.error('--eval-root runs the 224x224 protocol: it needs '
                     '--size 224 or --dynamic')
    return args


def main(argv=None):
    args = parse_args(argv)
    import openvino as ov
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    torch.set_num_threads(args.threads)
    try:
        files = calibration_files(args.calib_root, args.calib_split,
                                  args.calib_img_dir, args.num_calib,
                                  args.seed)
    except FileNotFoundError as e:
        sys.exit(f'error: {e}')
    from csnet_mmseg.apis import init_segmentor
    from csnet_mmseg.deploy import convert_to_deploy
    model = convert_to_deploy(init_segmentor(args.config, args.checkpoint))
    f32 = export_openvino(model, args.size, fixed=not args.dynamic)
    t0 = time.perf_counter()
    int8 = quantize_openvino(f32, files, args.size, args.preset,
                             args.model_type, args.ignore_types,
                             not args.no_fast_bias_correction)
    quant_s = time.perf_counter() - t0
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    ov.save_model(int8, args.out, compress_to_fp16=False)
    fq = sum(op.get_type_name() == 'FakeQuantize' for op in int8.get_ops())
    opts = (f'{"dynamic" if args.dynamic else "fixed"}-size graph, '
            f'preset={args.preset}, model_type={args.model_type}, '
            f'fast_bias_correction={not args.no_fast_bias_correction}, '
            f'ignored types={args.ignore_types or "none"}')
    print(f'wrote {args.out}: {fq} FakeQuantize nodes; {len(files)} '
          f'calibration images at {args.size}x{args.size} from '
          f'{args.calib_root} ({quant_s:.0f} s; {opts})\n')
    forms = {'f32': f32, 'int8': int8}
    if not args.no_bench:
        t = time_openvino_models(forms, args.size, args.threads, args.rounds,
                                 args.runs)
        print('\n'.join(
            latency_lines(t, args.size, args.rounds, args.runs,
                          args.threads)) + '\n')
    tables = node_tables(forms, args.size, args.threads)
    print('\n'.join(node_lines(tables, args.size)))
    if args.eval_root:
        acc = {k: evaluate_openvino(m, args.eval_root, args.threads)
               for k, m in forms.items()}
        name = osp.basename(osp.normpath(args.eval_root))
        print('\n'.join(accuracy_lines(acc, name)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
