"""Where the deploy form of a CSNet spends its time, per layer type and per
layer: OpenVINO's per-node counters (``PERF_COUNT``), and optionally the
PyTorch profiler on the deploy module.

    python experiments/deploy_profile/profile_deploy.py CONFIG CHECKPOINT \
        [--size 224] [--threads 1] [--repeats 20] [--top 15] [--torch] \
        [--fixed-size]

CONFIG + CHECKPOINT give the segmentor (``--random-weights`` instead of a
checkpoint: pass ``none``; :func:`csnet_mmseg.apis.build_segmentor`); it is
converted with ``convert_to_deploy`` and then to OpenVINO through its ONNX
export (``csnet_mmseg.benchmark``: f32 precision hint; dynamic size, or
``--fixed-size``: exported for ``--size``, the faster graph). Per node the
mean real time over ``--repeats`` runs after 3 warm-up runs
(:func:`csnet_mmseg.benchmark.profile_nodes`); the tables give the share of
the total per node type (e.g. Convolution, GroupConvolution = depthwise,
Interpolate, Eltwise) and the slowest nodes.
"""
import argparse
import os.path as osp
import sys
import warnings

import torch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='per-layer profile of the CSNet deploy form')
    parser.add_argument('config', help='model config')
    parser.add_argument(
        'checkpoint', help='checkpoint, or "none" with --random-weights')
    parser.add_argument('--size', type=int, default=224, help='square size')
    parser.add_argument('--threads', type=int, default=1, help='CPU threads')
    parser.add_argument(
        '--repeats', type=int, default=20, help='profiled runs')
    parser.add_argument(
        '--top', type=int, default=15, help='slowest nodes listed')
    parser.add_argument(
        '--precision',
        default='f32',
        help='OpenVINO precision hint (f32, bf16, f16)')
    parser.add_argument(
        '--fixed-size',
        action='store_true',
        help='export for --size (dynamic batch only; exact transposed-conv '
        'upsampling), as pytorch2onnx.py --fixed-size')
    parser.add_argument(
        '--torch',
        action='store_true',
        help='also profile the PyTorch deploy module (torch.profiler)')
    parser.add_argument(
        '--random-weights',
        action='store_true',
        help='random weights and BN statistics instead of a checkpoint')
    args = parser.parse_args(argv)
    if args.size < 32:
        parser.error('--size must be >= 32')
    if args.threads < 1:
        parser.error('--threads must be >= 1')
    if args.repeats < 1:
        parser.error('--repeats must be >= 1')
    from csnet_mmseg.deploy.openvino_backend import PRECISIONS
    if args.precision not in PRECISIONS:
        parser.error(f'--precision must be one of {", ".join(PRECISIONS)}, '
                     f'got {args.precision!r}')
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    if not args.random_weights and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint not found: {args.checkpoint} (or pass '
                     '--random-weights)')
    return args


def openvino_profile(model, args):
    """(per node type ms, per node [(ms, name, type, exec type)], total ms)
    averaged over the runs."""
    from csnet_mmseg.benchmark import (compile_for_shape, export_openvino,
                                       node_type_times, profile_nodes)
    x = torch.randn(
        1, 3, args.size, args.size,
        generator=torch.Generator().manual_seed(0)).numpy()
    ov_model = export_openvino(model, args.size, fixed=args.fixed_size)
    request = compile_for_shape(
        ov_model, threads=args.threads, precision=args.precision,
        profile=True).create_infer_request()
    nodes = profile_nodes(request, x, runs=args.repeats, warmup=3)
    per_type = node_type_times(nodes)
    slowest = sorted(((n.ms, n.name, n.node_type, n.exec_type)
                      for n in nodes), reverse=True)
    return per_type, slowest, sum(per_type.values())


def torch_profile(model, args):
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(args.threads)
    x = torch.randn(1, 3, args.size, args.size)
    with torch.no_grad():
        for _ in range(3):
            model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.repeats):
                model(x)
    return prof.key_averages().table(
        sort_by='self_cpu_time_total', row_limit=args.top)


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    from csnet_mmseg.apis import build_segmentor
    from csnet_mmseg.deploy import convert_to_deploy
    seg = build_segmentor(
        args.config,
        None if args.random_weights else args.checkpoint,
        random_weights=args.random_weights)
    model = convert_to_deploy(seg)
    per_type, nodes, total = openvino_profile(model, args)
    graph = 'fixed-size' if args.fixed_size else 'dynamic-size'
    print(f'# OpenVINO profile of the deploy form ({graph} graph): '
          f'{args.size}x{args.size}, {args.threads} thread(s), precision '
          f'{args.precision}, mean of {args.repeats} runs\n')
    print(f'Sum of node times: {total:.2f} ms\n')
    print('| node type | ms | share |')
    print('|---|---|---|')
    for k, v in sorted(per_type.items(), key=lambda kv: -kv[1]):
        if v > 0:
            print(f'| {k} | {v:.3f} | {100 * v / total:.1f}% |')
    print(f'\n| slowest nodes (top {args.top}) | type | exec type | ms |')
    print('|---|---|---|---|')
    for ms, name, kind, exec_type in nodes[:args.top]:
        print(f'| {name} | {kind} | {exec_type} | {ms:.3f} |')
    if args.torch:
        print('\n# PyTorch profiler (deploy module, self CPU time)\n')
        print('```')
        print(torch_profile(model, args))
        print('```')
    return 0


if __name__ == '__main__':
    sys.exit(main())
