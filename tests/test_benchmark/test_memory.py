"""csnet_mmseg.benchmark.memory: the peak-RSS probe in a fresh process."""
import pytest

from csnet_mmseg.benchmark.memory import run_memory_probe


def test_probe_in_a_subprocess():
    res = run_memory_probe('csnet_l_x1', 'deploy', 64, random_weights=True)
    assert set(res) == {'mib', 'method'}
    assert isinstance(res['mib'], float) and res['mib'] >= 0
    assert res['method'] in ('VmHWM after clear_refs', 'ru_maxrss')
    with pytest.raises(RuntimeError, match='invalid choice'):
        run_memory_probe('no_such_model', 'deploy', 64)
