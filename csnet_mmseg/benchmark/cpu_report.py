"""The markdown report of the CPU benchmark (latency, ratios, throughput,
speed-ups, CSNet vs peers, notes)."""
from argparse import Namespace
from typing import Dict, List, Optional, Sequence, Tuple

from .models import CSNET, PEERS
from .report import fmt_ms, fmt_ratio, markdown_table

__all__ = ['build_report']

FORM_LABELS = {
    'train': 'PyTorch, training form (eval)',
    'train-ftz': 'PyTorch, training form + flush-denormal',
    'deploy': 'PyTorch, deploy form',
    'ort': 'ONNX Runtime (deploy form)',
    'openvino': 'OpenVINO f32 (deploy form)',
}
PEER_FORM_LABELS = {
    'train': 'PyTorch (eval)',
    'ort': 'ONNX Runtime',
    'openvino': 'OpenVINO f32 (PyTorch frontend)'
}


def build_report(results: dict, meta: dict, args: Namespace) -> str:
    """The benchmark report.

    Args:
        results (dict): What :func:`~csnet_mmseg.benchmark.cpu_benchmark.
            run_benchmark` returns (``models``, ``forms``, ``labels``,
            ``weights``, ``latency`` keyed by (model, form, size, threads),
            optional ``batch_latency``, ``complexity``, ``memory``,
            ``diffs``, ``errors``, ``memory_method``).
        meta (dict): The machine (``cpu``, ``cores``, ``torch``, ``ort``,
            optional ``openvino``).
        args (Namespace): The settings (``sizes``, ``threads``,
            ``repeats``, ``warmup``, ``quick``, ``flops_size``, optional
            ``batches``).

    Returns:
        str: The markdown report.
    """
    sizes, threads = args.sizes, args.threads
    lines = ['# CPU benchmark: CSNet forms vs MMSeg light models\n']
    lines.append(
        f"Machine: {meta['cpu']}, {meta['cores']} logical cores; "
        f"torch {meta['torch']}, onnxruntime {meta['ort']}, "
        f"openvino {meta.get('openvino', 'n/a')}. "
        f'Batch 1, median of {args.repeats} runs after '
        f'{args.warmup} warm-up runs'
        f"{' (QUICK smoke run: not for reporting)' if args.quick else ''}"
        '.\n')
    lines.extend(_latency_table(results, args))
    if len(sizes) > 1:
        ratio = (sizes[-1] / sizes[0])**2
        lines.append(f'\nPixel-count ratio {sizes[-1]}²/{sizes[0]}² = '
                     f'{ratio:.2f}: a latency ratio near it means linear '
                     'growth with the pixel count.')
    lines.extend(_throughput_lines(results, args))
    csnets = [m for m in results['models'] if m in CSNET]
    if csnets:
        lines.extend(_speedup_lines(results, csnets, sizes, threads))
    peers = [m for m in results['models'] if m in PEERS]
    if csnets and peers:
        lines.extend(_peer_lines(results, csnets, peers, sizes, threads))
    lines.extend(_notes(results, args))
    return '\n'.join(lines) + '\n'


def _latency_table(results: dict, args: Namespace) -> List[str]:
    sizes, threads = args.sizes, args.threads
    lat = results['latency']
    head = ['model', 'form', 'params', f'GMACs@{args.flops_size}']
    head += [f'{s}² {t}t (ms)' for s in sizes for t in threads]
    if len(sizes) > 1:
        head.append(f'{sizes[-1]}²/{sizes[0]}² latency ({threads[0]}t)')
    ref_peer = 'fastscnn' if 'fastscnn' in results['models'] else None
    if ref_peer:
        head += [f'÷ Fast-SCNN best {s}² {threads[0]}t' for s in sizes]
    head.append('peak RSS growth (MiB)')
    rows = []
    for model in results['models']:
        for form in results['forms'][model]:
            info = results['complexity'].get((model, form), {})
            label = FORM_LABELS[form]
            if form in PEER_FORM_LABELS and model not in CSNET:
                label = PEER_FORM_LABELS[form]
            row = [
                results['labels'][model], label,
                f"{info['params']:,}" if 'params' in info else '-',
                _fmt_macs(info, args.flops_size)
            ]
            row += [
                fmt_ms(lat.get((model, form, s, t))) for s in sizes
                for t in threads
            ]
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
            rows.append(row)
    return markdown_table(head, rows)


def _speedup_lines(results: dict, csnets: List[str], sizes: Sequence[int],
                   threads: Sequence[int]) -> List[str]:
    lat = results['latency']
    cols = [
        f for f in ('train-ftz', 'deploy', 'ort', 'openvino')
        if any(f in results['forms'][m] for m in csnets)
    ]
    names = {'deploy': 'deploy', 'ort': 'ORT', 'openvino': 'OpenVINO'}
    titles = {
        'train-ftz': 'train+FTZ / train',
        'deploy': 'deploy / train',
        'ort': 'ORT / train',
        'openvino': 'OpenVINO / train'
    }
    diff_forms = [c for c in cols if c in names]
    head = ['model', 'size', 'threads'] + [titles[c] for c in cols] + [
        'max abs diff vs train (' + ', '.join(names[c]
                                              for c in diff_forms) + ')'
    ]
    rows = []
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
                    row.append(fmt_ratio(base / v) if base and v else 'n/a')
                rows.append(row + [diff])
    return ['\n## Speed-ups over the training form '
            '(same model, size, threads)\n'] + markdown_table(head, rows)


def _peer_lines(results: dict, csnets: List[str], peers: List[str],
                sizes: Sequence[int], threads: Sequence[int]) -> List[str]:
    lat = results['latency']
    head = [
        'size', 'threads', 'CSNet model', 'CSNet ms (form)', 'peer',
        'peer ms (form)', 'CSNet / peer', 'verdict'
    ]
    rows = []
    for s in sizes:
        for t in threads:
            for m in csnets:
                best = _best(lat, m, results['forms'][m], s, t)
                for p in peers:
                    pb = _best(lat, p, results['forms'][p], s, t)
                    label = results['labels'][p]
                    rows.append([
                        f'{s}²',
                        str(t), m,
                        f'{fmt_ms(best[0])} ({best[1]})' if best else 'n/a',
                        label,
                        f'{fmt_ms(pb[0])} ({pb[1]})' if pb else 'n/a',
                        fmt_ratio(best[0] / pb[0]) if best and pb else 'n/a',
                        _verdict(m, best, label, pb)
                    ])
    return ['\n## CSNet vs MMSeg light models (equal input size and '
            'threads; fastest form of each)\n'] + markdown_table(head, rows)


def _notes(results: dict, args: Namespace) -> List[str]:
    sizes = args.sizes
    lines = ['\n## Notes\n']
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
    lines.extend(f'- {note}' for note in results['errors'])
    return lines


def _throughput_lines(results: dict, args: Namespace) -> List[str]:
    """Images per second at each of ``args.batches`` (first thread
    count)."""
    batches = sorted(set(getattr(args, 'batches', [1])))
    if batches == [1]:
        return []
    t = args.threads[0]
    lat, blat = results['latency'], results.get('batch_latency', {})
    head = ['model', 'form'] + [
        f'{s}² batch {b}' for s in args.sizes for b in batches
    ]
    rows = []
    for model in results['models']:
        for form in results['forms'][model]:
            row = [results['labels'][model], form]
            for s in args.sizes:
                for b in batches:
                    ms = lat.get((model, form, s, t)) if b == 1 else \
                        blat.get((model, form, s, t, b))
                    row.append(f'{1e3 * b / ms:.1f}' if ms else 'n/a')
            rows.append(row)
    return [
        f'\n## Throughput (images/s, {t} thread{"s" if t > 1 else ""}; '
        'batch 1 from the latency run)\n'
    ] + markdown_table(head, rows)


def _fmt_macs(info: dict, size: int) -> str:
    if 'macs' not in info:
        return '-'
    text = f"{info['macs'] / 1e9:.3f}"
    if info.get('size', size) != size:
        text += f" (at {info['size']}²)"
    return text


def _best(lat: Dict, model: str, forms: Sequence[str], size: int,
          threads: int) -> Optional[Tuple[float, str]]:
    vals = [(lat.get((model, f, size, threads)), f) for f in forms]
    vals = [v for v in vals if v[0] is not None]
    return min(vals) if vals else None


def _verdict(csnet: str, best, peer: str, pbest) -> str:
    if not best or not pbest:
        return 'n/a'
    r = best[0] / pbest[0]
    if r > 1:
        return f'{csnet} is {r:.2f}x SLOWER than {peer}'
    return f'{csnet} is {1 / r:.2f}x faster than {peer}'
