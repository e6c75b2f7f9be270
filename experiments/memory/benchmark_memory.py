"""Peak memory of one model form: the growth of the resident set while
it runs, measured in a fresh process (``benchmark.py`` starts one per model
and form).

    python tools/analysis_tools/benchmark_memory.py MODEL FORM SIZE \
        [--checkpoint NAME=PATH] [--random-weights]

Builds MODEL (see ``benchmark_models.py``) in FORM, resets the peak
resident set (VmHWM, through ``/proc/self/clear_refs``; ``ru_maxrss``
where that is not possible), runs 3 forwards at SIZE x SIZE with 1 thread
and prints ``{"mib": growth, "method": ...}`` as one JSON line.
"""
import argparse
import json
import sys
import tempfile
import warnings

import torch

from benchmark_models import (ALL_FORMS, ALL_MODELS, Runner, add_weight_args,
                              checkpoint_paths)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Peak RSS growth of one model form (JSON line)')
    parser.add_argument('model', choices=ALL_MODELS)
    parser.add_argument('form', choices=ALL_FORMS)
    parser.add_argument('size', type=int, help='square input size')
    add_weight_args(parser)
    args = parser.parse_args(argv)
    args.checkpoints = checkpoint_paths(parser, args.checkpoint)
    args.forms = [args.form]
    return args


def _status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


def memory_probe(name: str, form: str, size: int, args) -> dict:
    """Peak RSS growth (MiB) of one model/form (run in a fresh process)."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(name, args, tmp)
        fn = runner.callable(form, size, 1)
        x = torch.randn(1, 3, size, size)
        method = 'VmHWM after clear_refs'
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            method = 'ru_maxrss'
        import resource
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


def main(argv=None):
    args = parse_args(argv)
    # build-time advice of MMSeg's heads and losses, not about memory
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    import csnet_mmseg  # noqa: F401  (registers the CSNet modules)
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    print(json.dumps(memory_probe(args.model, args.form, args.size, args)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
