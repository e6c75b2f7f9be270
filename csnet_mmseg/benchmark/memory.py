"""Peak memory of one model form: the growth of the resident set while it
runs, measured in a fresh process.

The benchmark starts one process per model and form:
``python -m csnet_mmseg.benchmark.memory MODEL FORM SIZE
[--checkpoint NAME=PATH] [--random-weights] [--official-dir DIR]``, which
prints ``{"mib": growth, "method": ...}`` as one JSON line.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from typing import Dict, List, Optional

import torch

from .forms import ALL_FORMS
from .models import ALL_MODELS, REPO_ROOT

__all__ = ['memory_probe', 'run_memory_probe']


def _status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


def memory_probe(name: str,
                 form: str,
                 size: int,
                 checkpoints: Optional[Dict[str, str]] = None,
                 random_weights: bool = False,
                 official_dir: Optional[str] = None) -> dict:
    """Peak RSS growth (MiB) of 3 forwards of one model form at ``size``,
    1 thread: VmHWM after ``/proc/self/clear_refs`` (``ru_maxrss`` where
    that cannot be reset). Meant for a fresh process (see
    :func:`run_memory_probe`).

    Returns:
        dict: ``mib`` (float) and ``method`` (str).
    """
    import resource

    from .cpu_benchmark import build_forms
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        forms = build_forms(name, tmp, checkpoints, random_weights,
                            official_dir)[0]
        fn = forms.callable(form, size, 1)
        x = torch.randn(1, 3, size, size)
        method = 'VmHWM after clear_refs'
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            method = 'ru_maxrss'
        before = _status_kib('VmRSS')
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with torch.no_grad():
            for _ in range(3):
                fn(x)
        if method == 'ru_maxrss':
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            before = max(before, peak_before)
        else:
            peak = _status_kib('VmHWM')
    return dict(mib=max(0, peak - before) / 1024, method=method)


def run_memory_probe(name: str,
                     form: str,
                     size: int,
                     checkpoints: Optional[Dict[str, str]] = None,
                     random_weights: bool = False,
                     official_dir: Optional[str] = None) -> dict:
    """:func:`memory_probe` in a fresh Python process.

    Raises:
        RuntimeError: The probe failed (with its last error line).
    """
    cmd: List[str] = [
        sys.executable, '-m', 'csnet_mmseg.benchmark.memory', name, form,
        str(size)
    ]
    if random_weights:
        cmd.append('--random-weights')
    for k, v in (checkpoints or {}).items():
        cmd += ['--checkpoint', f'{k}={v}']
    if official_dir:
        cmd += ['--official-dir', official_dir]
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    res = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith('{')]
    if res.returncode != 0 or not lines:
        raise RuntimeError(res.stderr.strip().splitlines()[-1:]
                           or ['memory probe failed'])
    return json.loads(lines[-1])


def main(argv: Optional[List[str]] = None) -> int:
    """The probe process: one JSON line on stdout."""
    parser = argparse.ArgumentParser(
        description='Peak RSS growth of one model form (JSON line)')
    parser.add_argument('model', choices=ALL_MODELS)
    parser.add_argument('form', choices=ALL_FORMS)
    parser.add_argument('size', type=int, help='square input size')
    parser.add_argument('--checkpoint', action='append', default=[])
    parser.add_argument('--random-weights', action='store_true')
    parser.add_argument('--official-dir')
    args = parser.parse_args(argv)
    checkpoints = dict(item.split('=', 1) for item in args.checkpoint)
    # build-time advice of MMSeg's heads and losses, not about memory
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    import csnet_mmseg  # noqa: F401  (registers the CSNet modules)
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    result = memory_probe(args.model, args.form, args.size, checkpoints,
                          args.random_weights, args.official_dir)
    sys.stdout.write(json.dumps(result) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
