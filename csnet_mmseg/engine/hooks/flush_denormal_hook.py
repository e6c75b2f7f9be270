"""Hook that makes the CPU flush subnormal floats to zero during a run."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import HOOKS


@HOOKS.register_module()
class FlushDenormalHook(Hook):
    """Flush subnormal floats to zero on the CPU while the runner runs.

    Dynamic weight decay drives the BN gammas of unneeded channels towards
    zero; once they (and the activations they scale) become subnormal
    (``|x| < 1.2e-38`` in float32), every CPU operation that touches them
    runs on a slow microcode path: a training step with half the gammas at
    1e-39 took 1.9x as long on our 2-core machine. ``torch.set_flush_denormal``
    (x86 with SSE3, and ARM) treats such values as zero, which changes no
    result above 1.2e-38 - the pruning threshold of the released models,
    1e-20, is far above it. The setting is process-wide, so the hook sets it
    in ``before_run`` and restores the previous setting in ``after_run``.
    It has no effect on GPUs.

    The hook changes how the CPU computes, not the weights: the converter
    and the deploy form set small weights to 0 by the one rule of
    :mod:`csnet_mmseg.utils.subnormal` (``|v| < 1e-37``).

    Config::

        custom_hooks = [dict(type='FlushDenormalHook')]

    Args:
        enable (bool): Flush (True) or keep subnormals (False).
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, enable: bool = True) -> None:
        self.enable = bool(enable)
        self._previous: Optional[bool] = None

    @staticmethod
    def _current() -> bool:
        # torch has no getter: 1e-30 / 1e12 is subnormal in float32, and
        # comes out as 0 only when flushing is on
        tiny = torch.full((1, ), 1e-30, dtype=torch.float32) / 1e12
        return bool(tiny[0] == 0)

    def before_run(self, runner) -> None:
        self._previous = self._current()
        supported = torch.set_flush_denormal(self.enable)
        if self.enable and not supported:
            print_log(
                'FlushDenormalHook: this CPU cannot flush subnormal floats; '
                'training continues with them', logger='current')

    def after_run(self, runner) -> None:
        if self._previous is not None:
            torch.set_flush_denormal(self._previous)
            self._previous = None
