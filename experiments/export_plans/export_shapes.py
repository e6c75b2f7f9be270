"""OpenVINO latency of the deploy form's export graphs, side by side.

    python tools/analysis_tools/export_plans.py CONFIG CHECKPOINT \
        [--plans concat sum] [--shapes dynamic static fixed] \
        [--sizes 224 512] [--threads 1] [--rounds 7] [--runs 10] [--profile]

Every export plan of :data:`csnet_mmseg.deploy.fused_goct_conv.EXPORT_PLANS`
(how the gOctConv paths become ONNX nodes) is exported from the same deploy
model to ONNX (dynamic batch and size) and compiled by OpenVINO (f32, CPU)
either as it is (``dynamic``) or reshaped to the measured size (``static``:
every shape, and so every resize target, is a constant), or exported for
that size with a dynamic batch only (``fixed``: the integer-factor bilinear
upsamplings become exact transposed depthwise convolutions). Per size, each
(plan, shape) form is first checked against the training form (max abs
difference on one random input), then all forms are timed in this one
process, alternating (the order reverses every round): the median of
``--rounds`` round medians of ``--runs`` runs each, and the median over
the rounds of each form's ratio to the first form in the same round (robust
to a machine whose load changes between rounds). ``--profile`` adds the
sum of OpenVINO's per-node times per node type for each form.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict

import numpy as np
import torch

SHAPES = ('dynamic', 'static', 'fixed')


def parse_args(argv=None):
    from csnet_mmseg.deploy.fused_goct_conv import EXPORT_PLANS
    parser = argparse.ArgumentParser(
        description='OpenVINO latency of the deploy export graphs')
    parser.add_argument('config', help='model config')
    parser.add_argument(
        'checkpoint', help='checkpoint, or "none" with --random-weights')
    parser.add_argument(
        '--plans',
        nargs='+',
        default=list(EXPORT_PLANS),
        help=f'export plans ({", ".join(EXPORT_PLANS)}), default all')
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
        choices=['fastscnn', 'lraspp_mv3s'],
        help='also time this MMSeg model in OpenVINO (converted from '
        'PyTorch at each size, random weights; see benchmark_models.py) in '
        'the same rounds, and give each form\'s ratio to it')
    parser.add_argument(
        '--random-weights',
        action='store_true',
        help='random weights and BN statistics instead of a checkpoint')
    args = parser.parse_args(argv)
    bad = [p for p in args.plans if p not in EXPORT_PLANS]
    if bad:
        parser.error(f'--plans must be among {", ".join(EXPORT_PLANS)}, got '
                     f'{bad}')
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


def export_models(model, plans, tmpdir, size=None):
    """plan -> openvino.Model (dynamic shapes, or exported for ``size`` with
    a dynamic batch only)."""
    from csnet_mmseg.deploy.fused_goct_conv import (DEFAULT_EXPORT_PLAN,
                                                    set_export_plan)
    from csnet_mmseg.deploy.onnx_export import export_onnx
    from csnet_mmseg.deploy.openvino_backend import convert_to_openvino
    out = {}
    for plan in plans:
        path = osp.join(tmpdir, f'{plan}_{size}.onnx')
        set_export_plan(model, plan)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            if size is None:
                export_onnx(model, path)
            else:
                export_onnx(
                    model, path, shape=(size, size), dynamic_size=False)
        out[plan] = convert_to_openvino(path)
    set_export_plan(model, DEFAULT_EXPORT_PLAN)
    return out


def compile_form(ov_model, shape, size, threads, profile=False):
    from csnet_mmseg.deploy.openvino_backend import compile_openvino
    m = ov_model
    if shape != 'dynamic':
        m = ov_model.clone()
        m.reshape([1, 3, size, size])
    return compile_openvino(m, threads, 'f32', profile)


def node_types(req, x, runs=10):
    per_type = defaultdict(float)
    for _ in range(runs):
        req.infer({0: x})
        for p in req.get_profiling_info():
            per_type[p.node_type] += p.real_time.total_seconds() * 1e3 / runs
    return per_type


def main(argv=None):
    args = parse_args(argv)
    from csnet_mmseg.apis import segmentor_logits
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    torch.set_num_threads(args.threads)
    from profile_deploy import build_segmentor
    seg, model = build_segmentor(args.config, args.checkpoint,
                                 args.random_weights)
    with tempfile.TemporaryDirectory() as tmp:
        models = export_models(model, args.plans, tmp)
        if 'fixed' in args.shapes:
            fixed = {
                size: export_models(model, args.plans, tmp, size)
                for size in args.sizes
            }
    forms = [(p, s) for p in args.plans for s in args.shapes]
    peer = None
    if args.peer:
        from benchmark_models import PEERS, FullSize, build_peer
        peer = FullSize(build_peer(args.peer)).eval()
        forms.append((PEERS[args.peer]['label'], 'peer'))
    print(f'# OpenVINO f32, {args.threads} thread(s), batch 1: median of '
          f'{args.rounds} round medians of {args.runs} runs, forms '
          'alternating\n')
    print('| size | plan | shape | ms | / first form (median of per-round '
          'ratios) | round medians min-max | max abs diff vs training form '
          '|' + (f' / {forms[-1][0]} (median of per-round ratios) |'
                 if peer is not None else ''))
    print('|---|---|---|---|---|---|---|' + ('---|' if peer is not None
                                              else ''))
    profiles = {}
    for size in args.sizes:
        x = np.random.RandomState(size).randn(1, 3, size, size).astype(
            np.float32)
        with torch.no_grad():
            ref = segmentor_logits(seg, torch.from_numpy(x)).numpy()
        reqs, diffs = {}, {}
        for p, s in forms:
            if s == 'peer':
                from csnet_mmseg.deploy.openvino_backend import (
                    compile_openvino, convert_to_openvino)
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    m = convert_to_openvino(peer, (1, 3, size, size), False)
                reqs[p, s] = compile_openvino(
                    m, args.threads, 'f32').create_infer_request()
                for _ in range(3):
                    reqs[p, s].infer({0: x})
                diffs[p, s] = float('nan')
                continue
            m = fixed[size][p] if s == 'fixed' else models[p]
            req = compile_form(m, s, size,
                               args.threads).create_infer_request()
            req.infer({0: x})
            diffs[p, s] = float(
                np.abs(req.get_output_tensor(0).data - ref).max())
            for _ in range(3):
                req.infer({0: x})
            reqs[p, s] = req
        rounds = defaultdict(list)
        for r in range(args.rounds):
            for f in (forms if r % 2 == 0 else forms[::-1]):
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    reqs[f].infer({0: x})
                    times.append(time.perf_counter() - t0)
                rounds[f].append(statistics.median(times) * 1e3)
        for f in forms:
            ms = statistics.median(rounds[f])
            # paired: this form against the first one in the same round
            ratio = statistics.median(
                a / b for a, b in zip(rounds[f], rounds[forms[0]]))
            spread = f'{min(rounds[f]):.1f}-{max(rounds[f]):.1f}'
            line = (f'| {size} | {f[0]} | {f[1]} | {ms:.2f} | {ratio:.3f}x | '
                    f'{spread} | {diffs[f]:.1e} |')
            if peer is not None:
                line += ' {:.2f}x |'.format(
                    statistics.median(
                        a / b for a, b in zip(rounds[f], rounds[forms[-1]])))
            print(line)
        if args.profile:
            for f in forms:
                if f[1] == 'peer':
                    continue
                m = fixed[size][f[0]] if f[1] == 'fixed' else models[f[0]]
                req = compile_form(m, f[1], size, args.threads,
                                   True).create_infer_request()
                req.infer({0: x})
                profiles[size, f] = node_types(req, x)
    if args.profile:
        types = sorted({t for v in profiles.values() for t in v},
                       key=lambda t: -max(v.get(t, 0)
                                          for v in profiles.values()))
        keys = list(profiles)
        print('\nSum of node times per node type (ms, mean of 10 profiled '
              'runs):\n')
        print('| node type | ' + ' | '.join(f'{s} {p} {sh}'
                                             for s, (p, sh) in keys) + ' |')
        print('|---' * (len(keys) + 1) + '|')
        for t in types + ['total']:
            vals = [
                sum(v.values()) if t == 'total' else v.get(t, 0.0)
                for v in profiles.values()
            ]
            if t == 'total' or max(vals) >= 0.05:
                print(f'| {t} | ' + ' | '.join(f'{v:.2f}' for v in vals) +
                      ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
