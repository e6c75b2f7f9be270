"""The CPU benchmark: latency per model, form, size and thread count,
throughput per batch size, complexity, output check and memory."""
import logging
import os
import platform
import tempfile
import warnings
from argparse import Namespace
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from .forms import SegmentorForms
from .models import CSNET, PEERS, build_csnet, build_peer
from .report import fmt_ms
from .timer import time_callable

__all__ = [
    'build_forms', 'measure', 'complexity', 'machine_meta', 'run_benchmark'
]


def build_forms(name: str,
                tmpdir: str,
                checkpoints: Optional[Dict[str, str]] = None,
                random_weights: bool = False,
                official_dir: Optional[str] = None
                ) -> Tuple[SegmentorForms, str, str]:
    """The forms of a model of :data:`CSNET` or :data:`PEERS`, its label
    and the description of its weights."""
    if name in CSNET:
        seg, weights = build_csnet(name, checkpoints, random_weights,
                                   official_dir)
        return SegmentorForms(seg, tmpdir, True, name), name, weights
    return (SegmentorForms(build_peer(name), tmpdir, False, name),
            PEERS[name]['label'], 'random (latency does not depend on them)')


def measure(forms: SegmentorForms,
            form: str,
            size: int,
            threads: int,
            args: Namespace,
            batch: int = 1) -> float:
    """Median latency (ms) of one form on ``(batch, 3, size, size)``
    inputs: ``args.repeats`` runs after ``args.warmup`` (a batch b > 1:
    ``max(3, repeats // b)`` runs after at most one warm-up run)."""
    torch.set_num_threads(threads)
    torch.manual_seed(size)
    x = torch.randn(batch, 3, size, size)
    fn = forms.callable(form, size, threads, batch)
    torch.set_flush_denormal(form == 'train-ftz')
    # a batch of b images takes about b times as long: fewer runs keep the
    # throughput table's time near the latency table's
    warmup = args.warmup if batch == 1 else min(args.warmup, 1)
    repeats = args.repeats if batch == 1 else max(3, args.repeats // batch)
    try:
        with torch.no_grad():
            return time_callable(lambda: fn(x), warmup, repeats)
    finally:
        torch.set_flush_denormal(False)


def complexity(module: nn.Module, size: int) -> Tuple[int, int]:
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


def machine_meta() -> dict:
    """CPU model, logical cores and the runtimes' versions."""
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


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:160]


def run_benchmark(args: Namespace,
                  log: Callable[[str], None] = lambda msg: None) -> dict:
    """Measure every model and form of ``args``.

    Args:
        args (Namespace): ``models``, ``forms``, ``sizes``, ``threads``,
            ``batches``, ``repeats``, ``warmup``, ``no_memory``,
            ``flops_size``, ``checkpoints`` (``{name: path}``),
            ``random_weights`` and ``official_dir``.
        log (Callable[[str], None]): Receives the progress lines.

    Returns:
        dict: The results :func:`~csnet_mmseg.benchmark.cpu_report.
        build_report` takes (a failure is a None latency and a note in
        ``errors``).
    """
    from mmseg.utils import register_all_modules

    from .memory import run_memory_probe
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
    official_dir = getattr(args, 'official_dir', None)
    with tempfile.TemporaryDirectory() as tmp:
        runners = []
        for name in args.models:
            log(f'building {name} ...')
            forms, label, weights = build_forms(name, tmp, args.checkpoints,
                                                args.random_weights,
                                                official_dir)
            runners.append((name, forms, label))
            results['models'].append(name)
            results['forms'][name] = forms.available(args.forms)
            results['labels'][name] = label
            results['weights'][name] = weights
        jobs = [(n, r, lb, f, s, t) for n, r, lb in runners
                for f in r.available(args.forms) for s in args.sizes
                for t in args.threads]
        for k, (name, r, label, form, s, t) in enumerate(jobs, 1):
            try:
                ms = measure(r, form, s, t, args)
            except Exception as e:  # noqa: BLE001  (reported in the table)
                ms = None
                note = f'{label} {form} {s}x{s}: failed ({_first_line(e)})'
                if note not in results['errors']:
                    results['errors'].append(note)
            results['latency'][(name, form, s, t)] = ms
            log(f'[{k}/{len(jobs)}] {name} {form} {s}x{s} {t} thread(s): '
                f'{fmt_ms(ms)} ms')
        t = args.threads[0]
        bjobs = [(n, r, lb, f, s, b) for n, r, lb in runners
                 for f in r.available(args.forms) for s in args.sizes
                 for b in sorted(set(args.batches))
                 if b != 1 and results['latency'].get((n, f, s, t))]
        for k, (name, r, label, form, s, b) in enumerate(bjobs, 1):
            try:
                ms = measure(r, form, s, t, args, batch=b)
            except Exception as e:  # noqa: BLE001  (reported in the table)
                ms = None
                results['errors'].append(f'{label} {form} {s}x{s} batch {b}: '
                                         f'failed ({_first_line(e)})')
            results['batch_latency'][(name, form, s, t, b)] = ms
            log(f'[batch {k}/{len(bjobs)}] {name} {form} {s}x{s} batch '
                f'{b}: {fmt_ms(ms)} ms')
        torch.set_num_threads(args.threads[0])
        for name, r, label in runners:
            log(f'complexity and output check: {name} ...')
            for form in r.available(args.forms):
                module = {'train': r.train, 'deploy': r.deploy}.get(form)
                if module is None:
                    continue
                # a model that cannot run at flops_size is counted at the
                # largest size instead (the table says at which)
                for size in (args.flops_size, max(args.sizes)):
                    try:
                        params, macs = complexity(module, size)
                    except Exception as e:  # noqa: BLE001
                        results['errors'].append(
                            f'{label} {form}: complexity at {size}x{size} '
                            f'failed ({_first_line(e)})')
                        continue
                    results['complexity'][(name, form)] = dict(
                        params=params, macs=macs, size=size)
                    break
            if r.deployable:
                results['diffs'][name] = r.max_diffs(224, args.forms)
        if not args.no_memory:
            size = args.sizes[-1]
            for name, r, label in runners:
                for form in r.available(args.forms):
                    log(f'memory probe: {name} {form} {size}x{size} ...')
                    try:
                        res = run_memory_probe(name, form, size,
                                               args.checkpoints,
                                               args.random_weights,
                                               official_dir)
                        results['memory'][(name, form)] = res['mib']
                        results['memory_method'] = res['method']
                    except Exception as e:  # noqa: BLE001
                        results['memory'][(name, form)] = 'failed'
                        results['errors'].append(
                            f'{label} {form}: memory probe failed ({e})')
    return results
