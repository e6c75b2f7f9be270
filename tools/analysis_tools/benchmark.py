"""CPU latency, throughput, size and memory of CSNet (training form, deploy
form, ONNX Runtime, OpenVINO) side by side with MMSeg's light models, as one
markdown report.

    python tools/analysis_tools/benchmark.py [--out table.md] \
        [--models csnet_l_x1 csnet_l_x2 fastscnn lraspp_mv3s] \
        [--forms train train-ftz deploy ort openvino] [--sizes 224 320 512] \
        [--threads 1 2] [--batches 1 8] [--repeats 20] [--warmup 5] \
        [--quick] [--no-memory] [--flops-size 224] \
        [--checkpoint NAME=PATH] [--random-weights]

Latency: batch 1, the median wall time of ``--repeats`` runs after
``--warmup`` runs, per input size and thread count (``torch.set_num_threads``
for PyTorch, ``intra_op_num_threads`` for ONNX Runtime,
``INFERENCE_NUM_THREADS`` for OpenVINO). Every output is
the full-size result: the training form includes the final bilinear resize
of the logits, as EncoderDecoder inference does.

Forms: ``train`` = the segmentor in eval mode (``mode='tensor'`` + resize);
``train-ftz`` = the same with ``torch.set_flush_denormal(True)`` (shows how
much of the deploy speed-up comes from the subnormal weights of the released
checkpoints); ``deploy`` = ``csnet_mmseg.deploy.convert_to_deploy``;
``ort`` = the deploy form exported by ``tools/deployment/pytorch2onnx.py``
(dynamic shapes) in ONNX Runtime (for peers: their segmentor exported at
each size); ``openvino`` = the deploy form exported for each size with a
dynamic batch (``pytorch2onnx.py --fixed-size``: its bilinear upsamplings are
exact transposed convolutions, OpenVINO's fastest graph) in OpenVINO's CPU
runtime with the exact f32 precision hint (for peers: their segmentor
converted by OpenVINO's PyTorch frontend at each input shape).

Throughput (``--batches 1 8``): images per second at each batch size, at the
first thread count (batch 1 is the latency table's run; a batch b is timed
``max(3, repeats // b)`` times after at most one warm-up run). The ratio to
Fast-SCNN compares each row with Fast-SCNN's fastest form at the same size
and thread count.

The models and their weights: see ``benchmark_models.py`` (CSNet from
``--checkpoint NAME=PATH``, ``work_dirs/converted/NAME.pth``, the released
weights in ``../shared`` or random; peers from MMSeg's configs, random).

Memory (``--no-memory`` skips it): ``benchmark_memory.py`` in a fresh
subprocess per model and form: the growth of the peak resident set (VmHWM,
reset through ``/proc/self/clear_refs`` after building) during 3 forwards at
the largest size, 1 thread.
"""
import argparse
import json
import logging
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from torch import nn

from benchmark_models import (ALL_FORMS, ALL_MODELS, CSNET, PEERS, ROOT,
                              Runner, add_weight_args, checkpoint_paths)


def log(msg: str) -> None:
    sys.stderr.write(msg + '\n')
    sys.stderr.flush()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='CPU benchmark of CSNet forms and MMSeg light models')
    parser.add_argument(
        '--models',
        nargs='+',
        default=ALL_MODELS,
        choices=ALL_MODELS,
        help='models to measure (default: all)')
    parser.add_argument(
        '--forms',
        nargs='+',
        default=ALL_FORMS,
        choices=ALL_FORMS,
        help='forms to measure (default: all that apply)')
    parser.add_argument(
        '--sizes',
        nargs='+',
        type=int,
        default=[224, 320, 512],
        help='square input sizes (default 224 320 512)')
    parser.add_argument(
        '--threads',
        nargs='+',
        type=int,
        default=[1, 2],
        help='CPU thread counts (default 1 2)')
    parser.add_argument(
        '--batches',
        nargs='+',
        type=int,
        default=[1],
        help='batch sizes of the throughput table (default 1: none); '
        'latency is always batch 1')
    parser.add_argument(
        '--repeats', type=int, default=20, help='timed runs (median)')
    parser.add_argument('--warmup', type=int, default=5, help='untimed runs')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='smoke run: 3 repeats, 1 warm-up, size 224 (unless --sizes), '
        '1 thread (unless --threads), no memory probe')
    parser.add_argument(
        '--no-memory', action='store_true', help='skip the memory probe')
    parser.add_argument(
        '--flops-size',
        type=int,
        help='input size of the params/GMACs count (default 224; with '
        '--quick the smallest of --sizes)')
    add_weight_args(parser)
    parser.add_argument('--out', help='also write the report here')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing --out')
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
    args.checkpoints = checkpoint_paths(parser, args.checkpoint)
    if args.out and osp.exists(args.out) and not args.overwrite:
        parser.error(f'{args.out} exists; pass --overwrite to replace it')
    return args


# ----------------------------------------------------------------- timing
def time_fn(fn, x, warmup: int, repeats: int) -> float:
    """Median wall time (ms) of ``fn(x)``."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def measure(runner: Runner,
            form: str,
            size: int,
            threads: int,
            args,
            batch: int = 1):
    torch.set_num_threads(threads)
    torch.manual_seed(size)
    x = torch.randn(batch, 3, size, size)
    fn = runner.callable(form, size, threads, batch)
    torch.set_flush_denormal(form == 'train-ftz')
    # a batch of b images takes about b times as long: fewer runs keep the
    # throughput table's time near the latency table's
    warmup = args.warmup if batch == 1 else min(args.warmup, 1)
    repeats = args.repeats if batch == 1 else max(3, args.repeats // batch)
    try:
        with torch.no_grad():
            return time_fn(fn, x, warmup, repeats)
    finally:
        torch.set_flush_denormal(False)


def max_diffs(runner: Runner, size: int):
    """max |form - train| at ``size`` for deploy, ORT and OpenVINO (CSNet
    only)."""
    out = {}
    x = torch.randn(
        1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = runner.train(x)
        if runner.deploy is not None:
            out['deploy'] = (runner.deploy(x) - ref).abs().max().item()
        if 'ort' in runner.forms():
            try:
                fn = runner.callable('ort', size, 1)
                out['ort'] = float(np.abs(fn(x) - ref.numpy()).max())
            except Exception:  # noqa: BLE001  (reported elsewhere)
                pass
        if 'openvino' in runner.forms():
            try:
                fn = runner.callable('openvino', size, 1)
                out['openvino'] = float(np.abs(fn(x) - ref.numpy()).max())
            except Exception:  # noqa: BLE001  (reported elsewhere)
                pass
    return out


def complexity(module: nn.Module, size: int):
    """(params, MACs) with mmengine's counter (MACs = its 'flops')."""
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # it logs the modules the trace skipped
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            info = get_model_complexity_info(
                module, (3, size, size), show_table=False, show_arch=False)
    finally:
        logger.setLevel(level)
    return info['params'], info['flops']


# ----------------------------------------------------------------- memory
def run_memory(name, form, size, args):
    cmd = [
        sys.executable,
        osp.join(osp.dirname(osp.abspath(__file__)), 'benchmark_memory.py'),
        name, form,
        str(size)
    ]
    if args.random_weights:
        cmd.append('--random-weights')
    for k, v in args.checkpoints.items():
        cmd += ['--checkpoint', f'{k}={v}']
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith('{')]
    if res.returncode != 0 or not lines:
        raise RuntimeError(res.stderr.strip().splitlines()[-1:]
                           or ['memory probe failed'])
    return json.loads(lines[-1])


# ----------------------------------------------------------------- report
def fmt_ms(v):
    if v is None:
        return 'n/a'
    return f'{v:.1f}' if v >= 10 else f'{v:.2f}'


def fmt_ratio(v):
    return 'n/a' if v is None else f'{v:.2f}x'


def build_report(results, meta, args) -> str:
    sizes, threads = args.sizes, args.threads
    lat = results['latency']  # (model, form, size, threads) -> ms | None
    lines = []
    lines.append('# CPU benchmark: CSNet forms vs MMSeg light models\n')
    lines.append(
        f"Machine: {meta['cpu']}, {meta['cores']} logical cores; "
        f"torch {meta['torch']}, onnxruntime {meta['ort']}, "
        f"openvino {meta.get('openvino', 'n/a')}. "
        f'Batch 1, median of {args.repeats} runs after '
        f'{args.warmup} warm-up runs'
        f"{' (QUICK smoke run: not for reporting)' if args.quick else ''}"
        '.\n')
    head = ['model', 'form', 'params', f'GMACs@{args.flops_size}']
    for s in sizes:
        for t in threads:
            head.append(f'{s}² {t}t (ms)')
    if len(sizes) > 1:
        head.append(f'{sizes[-1]}²/{sizes[0]}² latency ({threads[0]}t)')
    ref_peer = 'fastscnn' if 'fastscnn' in results['models'] else None
    if ref_peer:
        for s in sizes:
            head.append(f'÷ Fast-SCNN best {s}² {threads[0]}t')
    head.append('peak RSS growth (MiB)')
    lines.append('| ' + ' | '.join(head) + ' |')
    lines.append('|' + '---|' * len(head))
    form_label = {
        'train': 'PyTorch, training form (eval)',
        'train-ftz': 'PyTorch, training form + flush-denormal',
        'deploy': 'PyTorch, deploy form',
        'ort': 'ONNX Runtime (deploy form)',
        'openvino': 'OpenVINO f32 (deploy form)',
    }
    for model in results['models']:
        for form in results['forms'][model]:
            info = results['complexity'].get((model, form), {})
            label = form_label[form]
            if form in ('train', 'ort', 'openvino') and model not in CSNET:
                label = {
                    'train': 'PyTorch (eval)',
                    'ort': 'ONNX Runtime',
                    'openvino': 'OpenVINO f32 (PyTorch frontend)'
                }[form]
            row = [
                results['labels'][model], label,
                f"{info['params']:,}" if 'params' in info else '-',
                _fmt_macs(info, args.flops_size)
            ]
            for s in sizes:
                for t in threads:
                    row.append(fmt_ms(lat.get((model, form, s, t))))
            if len(sizes) > 1:
                a = lat.get((model, form, sizes[0], threads[0]))
                b = lat.get((model, form, sizes[-1], threads[0]))
                row.append(fmt_ratio(b / a) if a and b else 'n/a')
            if ref_peer:
                for s in sizes:
                    v = lat.get((model, form, s, threads[0]))
                    pb = _best(lat, ref_peer, results['forms'][ref_peer], s,
                               threads[0])
                    row.append(fmt_ratio(v / pb[0]) if v and pb else 'n/a')
            mem = results['memory'].get((model, form))
            row.append(f'{mem:.1f}' if isinstance(mem, float) else (
                mem or '-'))
            lines.append('| ' + ' | '.join(row) + ' |')
    if len(sizes) > 1:
        ratio = (sizes[-1] / sizes[0])**2
        lines.append(f'\nPixel-count ratio {sizes[-1]}²/{sizes[0]}² = '
                     f'{ratio:.2f}: a latency ratio near it means linear '
                     'growth with the pixel count.')
    lines.extend(_throughput_lines(results, args))

    # speed-ups of the CSNet forms
    csnets = [m for m in results['models'] if m in CSNET]
    if csnets:
        lines.append('\n## Speed-ups over the training form '
                     '(same model, size, threads)\n')
        cols = [
            f for f in ('train-ftz', 'deploy', 'ort', 'openvino')
            if any(f in results['forms'][m] for m in csnets)
        ]
        names = {'deploy': 'deploy', 'ort': 'ORT', 'openvino': 'OpenVINO'}
        diff_forms = [c for c in cols if c in names]
        head = ['model', 'size', 'threads'] + [{
            'train-ftz': 'train+FTZ / train',
            'deploy': 'deploy / train',
            'ort': 'ORT / train',
            'openvino': 'OpenVINO / train'
        }[c] for c in cols] + [
            'max abs diff vs train (' +
            ', '.join(names[c] for c in diff_forms) + ')'
        ]
        lines.append('| ' + ' | '.join(head) + ' |')
        lines.append('|' + '---|' * len(head))
        for m in csnets:
            d = results['diffs'].get(m, {})
            diff = ', '.join(f'{d[k]:.1e}' if k in d else 'n/a'
                             for k in diff_forms)
            for s in sizes:
                for t in threads:
                    base = lat.get((m, 'train', s, t))
                    row = [m, f'{s}²', str(t)]
                    for c in cols:
                        v = lat.get((m, c, s, t))
                        row.append(
                            fmt_ratio(base / v) if base and v else 'n/a')
                    row.append(diff)
                    lines.append('| ' + ' | '.join(row) + ' |')

    # CSNet vs peers
    peers = [m for m in results['models'] if m in PEERS]
    if csnets and peers:
        lines.append('\n## CSNet vs MMSeg light models (equal input size '
                     'and threads; fastest form of each)\n')
        head = [
            'size', 'threads', 'CSNet model', 'CSNet ms (form)', 'peer',
            'peer ms (form)', 'CSNet / peer', 'verdict'
        ]
        lines.append('| ' + ' | '.join(head) + ' |')
        lines.append('|' + '---|' * len(head))
        for s in sizes:
            for t in threads:
                for m in csnets:
                    best = _best(lat, m, results['forms'][m], s, t)
                    for p in peers:
                        pb = _best(lat, p, results['forms'][p], s, t)
                        row = [f'{s}²', str(t), m]
                        row.append(f'{fmt_ms(best[0])} ({best[1]})'
                                   if best else 'n/a')
                        row.append(results['labels'][p])
                        row.append(
                            f'{fmt_ms(pb[0])} ({pb[1]})' if pb else 'n/a')
                        row.append(
                            fmt_ratio(best[0] / pb[0]) if best and pb else
                            'n/a')
                        row.append(_verdict(m, best, results['labels'][p], pb))
                        lines.append('| ' + ' | '.join(row) + ' |')

    lines.append('\n## Notes\n')
    for m in results['models']:
        lines.append(f"- {results['labels'][m]}: weights "
                     f"{results['weights'][m]}.")
    lines.append('- Params and GMACs: `mmengine.analysis.'
                 'get_model_complexity_info` at '
                 f'{args.flops_size}x{args.flops_size} (its "flops" are '
                 'multiply-accumulates); the training form counts BN '
                 'parameters, the deploy form its folded weights and biases.')
    lines.append('- Peers: MMSeg 1.2.2 configs, `num_classes=2`, '
                 "`norm_cfg=dict(type='BN')` instead of SyncBN, no auxiliary "
                 'head, random weights. LR-ASPP\'s head pools with a fixed '
                 '49x49 window, so it only runs on inputs of at least '
                 '392x392 (n/a below). Peers in ONNX Runtime are exported '
                 'at each size (static shapes); CSNet\'s ONNX model is the '
                 'dynamic-shape one that pytorch2onnx.py writes.')
    lines.append('- OpenVINO: CPU plugin, `INFERENCE_PRECISION_HINT=f32` '
                 '(exact; the CPU\'s default may be bf16), '
                 '`INFERENCE_NUM_THREADS` = threads, latency hint. CSNet runs '
                 'the deploy ONNX file exported for each size (dynamic '
                 'batch, `pytorch2onnx.py --fixed-size`); peers are converted '
                 'from PyTorch by `openvino.convert_model` at each input '
                 'shape (Fast-SCNN does not export to ONNX).')
    lines.append('- train+FTZ: the training form with '
                 '`torch.set_flush_denormal(True)`; the released CSNet '
                 'weights hold subnormal floats (pruned channels), which the '
                 'CPU computes with tens of times slower; the deploy form '
                 'sets them to 0 (exact to 1e-37).')
    mem_method = results.get('memory_method')
    if mem_method:
        lines.append(f'- Peak RSS growth: fresh subprocess per model and '
                     f'form, 3 forwards at {sizes[-1]}x{sizes[-1]}, 1 '
                     f'thread, {mem_method} (KiB from /proc/self/status).')
    for note in results['errors']:
        lines.append(f'- {note}')
    return '\n'.join(lines) + '\n'


def _throughput_lines(results, args):
    """Images per second at each of ``--batches`` (first thread count)."""
    batches = sorted(set(getattr(args, 'batches', [1])))
    if batches == [1]:
        return []
    t = args.threads[0]
    lat, blat = results['latency'], results.get('batch_latency', {})
    out = [
        f'\n## Throughput (images/s, {t} thread{"s" if t > 1 else ""}; '
        'batch 1 from the latency run)\n'
    ]
    head = ['model', 'form'] + [
        f'{s}² batch {b}' for s in args.sizes for b in batches
    ]
    out.append('| ' + ' | '.join(head) + ' |')
    out.append('|' + '---|' * len(head))
    for model in results['models']:
        for form in results['forms'][model]:
            row = [results['labels'][model], form]
            for s in args.sizes:
                for b in batches:
                    ms = lat.get((model, form, s, t)) if b == 1 else \
                        blat.get((model, form, s, t, b))
                    row.append(f'{1e3 * b / ms:.1f}' if ms else 'n/a')
            out.append('| ' + ' | '.join(row) + ' |')
    return out


def _fmt_macs(info, size):
    if 'macs' not in info:
        return '-'
    text = f"{info['macs'] / 1e9:.3f}"
    if info.get('size', size) != size:
        text += f" (at {info['size']}²)"
    return text


def _best(lat, model, forms, size, threads):
    vals = [(lat.get((model, f, size, threads)), f) for f in forms]
    vals = [v for v in vals if v[0] is not None]
    return min(vals) if vals else None


def _verdict(csnet, best, peer, pbest):
    if not best or not pbest:
        return 'n/a'
    r = best[0] / pbest[0]
    if r > 1:
        return f'{csnet} is {r:.2f}x SLOWER than {peer}'
    return f'{csnet} is {1 / r:.2f}x faster than {peer}'


def machine_meta():
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import onnxruntime
        ort = onnxruntime.__version__
    except ImportError:
        ort = 'not installed'
    try:
        import openvino
        ov = openvino.__version__
    except ImportError:
        ov = 'not installed'
    return dict(
        cpu=cpu,
        cores=os.cpu_count(),
        torch=torch.__version__,
        ort=ort,
        openvino=ov)


def main(argv=None):
    args = parse_args(argv)
    # build-time advice of MMSeg's heads and losses, not about latency
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    import csnet_mmseg  # noqa: F401  (registers the CSNet modules)
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    results = dict(
        models=[],
        forms={},
        labels={},
        weights={},
        latency={},
        complexity={},
        memory={},
        diffs={},
        errors=[],
        memory_method=None,
        batch_latency={})
    with tempfile.TemporaryDirectory() as tmp:
        runners = []
        for name in args.models:
            log(f'building {name} ...')
            r = Runner(name, args, tmp)
            runners.append(r)
            results['models'].append(name)
            results['forms'][name] = r.forms()
            results['labels'][name] = r.label
            results['weights'][name] = r.weights
        jobs = [(r, f, s, t) for r in runners for f in r.forms()
                for s in args.sizes for t in args.threads]
        for k, (r, form, s, t) in enumerate(jobs, 1):
            key = (r.name, form, s, t)
            try:
                ms = measure(r, form, s, t, args)
            except Exception as e:  # noqa: BLE001  (reported in the table)
                ms = None
                msg = str(e).strip().splitlines()[0][:160]
                note = f'{r.label} {form} {s}x{s}: failed ({msg})'
                if note not in results['errors']:
                    results['errors'].append(note)
            results['latency'][key] = ms
            log(f'[{k}/{len(jobs)}] {r.name} {form} {s}x{s} {t} thread(s): '
                f'{fmt_ms(ms)} ms')
        t = args.threads[0]
        bjobs = [(r, f, s, b) for r in runners for f in r.forms()
                 for s in args.sizes for b in sorted(set(args.batches))
                 if b != 1 and results['latency'].get((r.name, f, s, t))]
        for k, (r, form, s, b) in enumerate(bjobs, 1):
            try:
                ms = measure(r, form, s, t, args, batch=b)
            except Exception as e:  # noqa: BLE001  (reported in the table)
                ms = None
                msg = str(e).strip().splitlines()[0][:160]
                results['errors'].append(
                    f'{r.label} {form} {s}x{s} batch {b}: failed ({msg})')
            results['batch_latency'][(r.name, form, s, t, b)] = ms
            log(f'[batch {k}/{len(bjobs)}] {r.name} {form} {s}x{s} batch '
                f'{b}: {fmt_ms(ms)} ms')
        torch.set_num_threads(args.threads[0])
        for r in runners:
            log(f'complexity and output check: {r.name} ...')
            for form in r.forms():
                module = {'train': r.train, 'deploy': r.deploy}.get(form)
                if module is None:
                    continue
                # a model that cannot run at flops_size is counted at the
                # largest size instead (the table says at which)
                for size in (args.flops_size, max(args.sizes)):
                    try:
                        params, macs = complexity(module, size)
                    except Exception as e:  # noqa: BLE001
                        msg = str(e).strip().splitlines()[0][:160]
                        results['errors'].append(
                            f'{r.label} {form}: complexity at {size}x{size} '
                            f'failed ({msg})')
                        continue
                    results['complexity'][(r.name, form)] = dict(
                        params=params, macs=macs, size=size)
                    break
            if r.is_csnet:
                results['diffs'][r.name] = max_diffs(r, 224)
        if not args.no_memory:
            for r in runners:
                for form in r.forms():
                    log(f'memory probe: {r.name} {form} '
                        f'{args.sizes[-1]}x{args.sizes[-1]} ...')
                    try:
                        res = run_memory(r.name, form, args.sizes[-1], args)
                        results['memory'][(r.name, form)] = res['mib']
                        results['memory_method'] = res['method']
                    except Exception as e:  # noqa: BLE001
                        results['memory'][(r.name, form)] = 'failed'
                        results['errors'].append(
                            f'{r.label} {form}: memory probe failed ({e})')
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
