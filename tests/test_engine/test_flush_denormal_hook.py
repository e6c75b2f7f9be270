"""FlushDenormalHook: subnormals flushed during the run, setting restored."""
import pytest
import torch

from csnet_mmseg.engine.hooks import FlushDenormalHook


def subnormal_survives() -> bool:
    return bool((torch.full((1, ), 1e-30) / 1e12)[0] != 0)


def test_flushes_during_the_run_and_restores():
    supported = torch.set_flush_denormal(True)
    torch.set_flush_denormal(False)
    if not supported:
        pytest.skip('this CPU cannot flush subnormal floats')
    assert subnormal_survives()
    hook = FlushDenormalHook()
    hook.before_run(None)
    try:
        assert not subnormal_survives()
    finally:
        hook.after_run(None)
    assert subnormal_survives()
    off = FlushDenormalHook(enable=False)
    off.before_run(None)
    assert subnormal_survives()
    off.after_run(None)
