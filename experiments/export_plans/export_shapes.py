"""OpenVINO latency of the deploy form's export graph in each input shape,
side by side.

    python experiments/export_plans/export_shapes.py CONFIG CHECKPOINT \
        [--shapes dynamic static fixed] [--sizes 224 512] [--threads 1] \
        [--rounds 7] [--runs 10] [--profile] [--peer fastscnn]

The deploy model (:func:`csnet_mmseg.apis.build_segmentor`, then
``convert_to_deploy``) is exported to ONNX and compiled by OpenVINO (f32,
CPU; :mod:`csnet_mmseg.benchmark`) either with a dynamic batch and size as it
is (``dynamic``) or reshaped to the measured size (``static``: every shape,
and so every resize target, is a constant), or exported for that size with a
dynamic batch only (``fixed``: the integer-factor bilinear upsamplings become
exact transposed depthwise convolutions). Per size, each shape is first
checked against the training form (max abs difference on one random input),
then all are timed in this one process, alternating (the order reverses
every round, :func:`csnet_mmseg.benchmark.time_rounds`): the median of
``--rounds`` round medians of ``--runs`` runs each, and the median over the
rounds of each form's ratio to the first form in the same round (robust to a
machine whose load changes between rounds). ``--profile`` adds the sum of
OpenVINO's per-node times per node type for each form.

This is what remains runnable of the export-plan study (README.md here):
the plans it compared were reduced to the one export graph it found fastest.
"""
import argparse
import os.path as osp
import sys
import warnings

import numpy as np
import torch

SHAPES = ('dynamic', 'static', 'fixed')


def parse_args(argv=None):
    from csnet_mmseg.benchmark import PEERS
    parser = argparse.ArgumentParser(
        description='OpenVINO latency of the deploy export graph per shape')
    parser.add_argument('config', help='model config')
    parser.add_argument(
        'checkpoint', help='checkpoint, or "none" with --random-weights')
    parser.add_argument(
        '--shapes',
        nargs='+',
        default=list(SHAPES),
        help='dynamic, static (the dynamic model reshaped to the size), '
        'fixed (exported for the size: exact upsampling convolutions)')
    parser.add_argument(
        '--sizes', type=int, nargs='+', default=[224], help='square sizes')
    parser.add_argument('--threads', type=int, default=1, help='CPU threads')
    parser.add_argument('--rounds', type=int, default=7, help='rounds')
    parser.add_argument(
        '--runs', type=int, default=10, help='runs per form and round')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='per node type times (OpenVINO PERF_COUNT) of each form')
    parser.add_argument(
        '--peer',
        choices=list(PEERS),
        help='also time this MMSeg model in OpenVINO (converted from '
        'PyTorch at each size, random weights; csnet_mmseg.benchmark) in '
        'the same rounds, and give each form\'s ratio to it')
    parser.add_argument(
        '--random-weights',
        action='store_true',
        help='random weights and BN statistics instead of a checkpoint')
    args = parser.parse_args(argv)
    bad = [s for s in args.shapes if s not in SHAPES]
    if bad:
        parser.error(f'--shapes must be among {", ".join(SHAPES)}, got '
                     f'{bad}')
    if min(args.sizes) < 32:
        parser.error('--sizes must be >= 32')
    if args.threads < 1 or args.rounds < 1 or args.runs < 1:
        parser.error('--threads, --rounds and --runs must be >= 1')
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    if not args.random_weights and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint not found: {args.checkpoint} (or pass '
                     '--random-weights)')
    return args


def compile_form(models, shape, size, threads, profile=False):
    """The infer request of one shape of the export graph at ``size``."""
    from csnet_mmseg.benchmark import compile_for_shape
    ov_model = models[size] if shape == 'fixed' else models[None]
    batch_one = None if shape == 'dynamic' else (1, 3, size, size)
    return compile_for_shape(
        ov_model, batch_one, threads, 'f32',
        profile).create_infer_request()


def print_profiles(profiles: dict) -> None:
    types = sorted({t for v in profiles.values() for t in v},
                   key=lambda t: -max(v.get(t, 0) for v in profiles.values()))
    print('\nSum of node times per node type (ms, mean of 10 profiled '
          'runs):\n')
    print('| node type | ' + ' | '.join(f'{size} {shape}'
                                         for size, shape in profiles) + ' |')
    print('|---' * (len(profiles) + 1) + '|')
    for t in types + ['total']:
        vals = [
            sum(v.values()) if t == 'total' else v.get(t, 0.0)
            for v in profiles.values()
        ]
        if t == 'total' or max(vals) >= 0.05:
            print(f'| {t} | ' + ' | '.join(f'{v:.2f}' for v in vals) + ' |')


def main(argv=None):
    args = parse_args(argv)
    from csnet_mmseg.apis import build_segmentor, segmentor_logits
    from csnet_mmseg.benchmark import (PEERS, SegmentorForms, build_peer,
                                       export_openvino, node_type_times,
                                       profile_nodes, time_rounds)
    from csnet_mmseg.deploy import convert_to_deploy
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    torch.set_num_threads(args.threads)
    seg = build_segmentor(
        args.config,
        None if args.random_weights else args.checkpoint,
        random_weights=args.random_weights)
    model = convert_to_deploy(seg)
    # None: the dynamic-size export; size: the export for that size
    models = {None: export_openvino(model)}
    if 'fixed' in args.shapes:
        for size in args.sizes:
            models[size] = export_openvino(model, size, fixed=True)
    forms = list(args.shapes)
    peer = None
    if args.peer:
        import tempfile
        peer_dir = tempfile.TemporaryDirectory()
        peer = SegmentorForms(
            build_peer(args.peer), peer_dir.name, deployable=False)
        forms.append(PEERS[args.peer]['label'])
    print(f'# OpenVINO f32, {args.threads} thread(s), batch 1: median of '
          f'{args.rounds} round medians of {args.runs} runs, forms '
          'alternating\n')
    print('| size | shape | ms | / first form (median of per-round ratios) '
          '| round medians min-max | max abs diff vs training form |' +
          (f' / {forms[-1]} (median of per-round ratios) |'
           if peer is not None else ''))
    print('|---|---|---|---|---|---|' + ('---|' if peer is not None else ''))
    profiles = {}
    for size in args.sizes:
        x = np.random.RandomState(size).randn(1, 3, size, size).astype(
            np.float32)
        with torch.no_grad():
            ref = segmentor_logits(seg, torch.from_numpy(x)).numpy()
        reqs, diffs = {}, {}
        for form in forms:
            if peer is not None and form == forms[-1]:
                reqs[form] = peer.openvino((1, 3, size, size),
                                           args.threads).request
                diffs[form] = float('nan')
            else:
                reqs[form] = compile_form(models, form, size, args.threads)
                reqs[form].infer({0: x})
                diffs[form] = float(
                    np.abs(reqs[form].get_output_tensor(0).data - ref).max())
        timings = time_rounds(
            {f: (lambda r=reqs[f]: r.infer({0: x}))
             for f in forms},
            rounds=args.rounds,
            runs=args.runs,
            warmup=3)
        first = timings[forms[0]]
        for form in forms:
            t = timings[form]
            line = (f'| {size} | {form} | {t.median:.2f} | '
                    f'{t.ratio(first):.3f}x | {t.min:.1f}-{t.max:.1f} | '
                    f'{diffs[form]:.1e} |')
            if peer is not None:
                line += f' {t.ratio(timings[forms[-1]]):.2f}x |'
            print(line)
        if args.profile:
            for form in args.shapes:
                req = compile_form(models, form, size, args.threads, True)
                profiles[size, form] = node_type_times(
                    profile_nodes(req, x, runs=10, warmup=1))
    if args.profile:
        print_profiles(profiles)
    return 0


if __name__ == '__main__':
    sys.exit(main())
