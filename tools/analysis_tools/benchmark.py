"""CPU latency, throughput, size and memory of CSNet (training form, deploy
form, ONNX Runtime, OpenVINO) side by side with MMSeg's light models, as one
markdown report.

    python tools/analysis_tools/benchmark.py [--out table.md] \
        [--models csnet_l_x1 csnet_l_x2 fastscnn lraspp_mv3s] \
        [--forms train train-ftz deploy ort openvino] [--sizes 224 320 512] \
        [--threads 1 2] [--batches 1 8] [--repeats 20] [--warmup 5] \
        [--quick] [--no-memory] [--flops-size 224] \
        [--checkpoint NAME=PATH] [--official-dir DIR] [--random-weights]

Latency: batch 1, the median wall time of ``--repeats`` runs after
``--warmup`` runs, per input size and thread count. The forms, the models
and their weights (``--checkpoint NAME=PATH``, ``work_dirs/converted/
NAME.pth``, the released weights of ``--official-dir`` converted on the fly,
or random), throughput (``--batches``) and the memory probe (``--no-memory``
skips it) are described in ``docs/benchmark.md``; the code is
:mod:`csnet_mmseg.benchmark`.
"""
import argparse
import os
import os.path as osp
import sys
import warnings

from csnet_mmseg.benchmark import (ALL_FORMS, ALL_MODELS, CSNET, build_report,
                                   machine_meta, run_benchmark)


def log(msg: str) -> None:
    sys.stderr.write(msg + '\n')
    sys.stderr.flush()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='CPU benchmark of CSNet forms and MMSeg light models')
    parser.add_argument('--models', nargs='+', default=ALL_MODELS,
                        choices=ALL_MODELS,
                        help='models to measure (default: all)')
    parser.add_argument('--forms', nargs='+', default=ALL_FORMS,
                        choices=ALL_FORMS,
                        help='forms to measure (default: all that apply)')
    parser.add_argument('--sizes', nargs='+', type=int,
                        default=[224, 320, 512],
                        help='square input sizes (default 224 320 512)')
    parser.add_argument('--threads', nargs='+', type=int, default=[1, 2],
                        help='CPU thread counts (default 1 2)')
    parser.add_argument('--batches', nargs='+', type=int, default=[1],
                        help='batch sizes of the throughput table (default '
                        '1: none); latency is always batch 1')
    parser.add_argument('--repeats', type=int, default=20,
                        help='timed runs (median)')
    parser.add_argument('--warmup', type=int, default=5, help='untimed runs')
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: 3 repeats, 1 warm-up, size 224 '
                        '(unless --sizes), 1 thread (unless --threads), no '
                        'memory probe')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the memory probe')
    parser.add_argument('--flops-size', type=int,
                        help='input size of the params/GMACs count (default '
                        '224; with --quick the smallest of --sizes)')
    parser.add_argument('--checkpoint', action='append', default=[],
                        metavar='NAME=PATH',
                        help='CSNet checkpoint, e.g. '
                        'csnet_l_x1=work_dirs/x1.pth')
    parser.add_argument('--official-dir', metavar='DIR',
                        help='folder of the released csnet-L-x1/x2 .pth.tar '
                        'and .bin files, converted when no checkpoint is '
                        'given')
    parser.add_argument('--random-weights', action='store_true',
                        help='CSNet with random weights and BN statistics '
                        '(no checkpoint)')
    parser.add_argument('--out', help='also write the report here')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out')
    args = parser.parse_args(argv)
    given = set(argv or sys.argv[1:])
    if args.quick:
        if not given & {'--repeats'}:
            args.repeats = 3
        if not given & {'--warmup'}:
            args.warmup = 1
        if not given & {'--sizes'}:
            args.sizes = [224]
        if not given & {'--threads'}:
            args.threads = [1]
        args.no_memory = True
    if args.flops_size is None:
        args.flops_size = min(args.sizes) if args.quick else 224
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0')
    if min(args.sizes) < 32:
        parser.error('--sizes must be >= 32')
    if min(args.threads) < 1:
        parser.error('--threads must be >= 1')
    if min(args.batches) < 1:
        parser.error('--batches must be >= 1')
    if 1 not in args.batches:
        args.batches = [1] + list(args.batches)
    args.checkpoints = {}
    for item in args.checkpoint:
        name, sep, path = item.partition('=')
        if not sep or name not in CSNET:
            parser.error(f'--checkpoint wants NAME=PATH with NAME in '
                         f'{list(CSNET)}, got {item!r}')
        if not osp.isfile(path):
            parser.error(f'--checkpoint {name}: no such file {path}')
        args.checkpoints[name] = path
    if args.official_dir and not osp.isdir(args.official_dir):
        parser.error(f'--official-dir is not a folder: {args.official_dir}')
    if args.out and osp.exists(args.out) and not args.overwrite:
        parser.error(f'{args.out} exists; pass --overwrite to replace it')
    return args


def main(argv=None):
    args = parse_args(argv)
    # build-time advice of MMSeg's heads and losses, not about latency
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    results = run_benchmark(args, log)
    report = build_report(results, machine_meta(), args)
    print(report)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(report)
        log(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
