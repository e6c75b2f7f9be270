"""A run killed while it writes a checkpoint resumes from the last complete
one (csnet_mmseg.engine.resume, used by tools/train.py --resume)."""
import logging
import re

import pytest
import torch
from mmengine.logging import MMLogger

from csnet_mmseg.engine.resume import (checkpoint_problem,
                                       find_resumable_checkpoint)


@pytest.fixture
def mm_log():
    records = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _save(path, step):
    torch.save(dict(meta=dict(iter=step), w=torch.arange(1000.)), str(path))
    return str(path)


def _cut(path, keep=0.6):
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:int(len(data) * keep)])


def test_checkpoint_problem(tmp_path):
    good = _save(tmp_path / 'iter_2.pth', 2)
    assert checkpoint_problem(good) is None
    cut = _save(tmp_path / 'iter_4.pth', 4)
    _cut(cut)
    assert 'incomplete' in checkpoint_problem(cut)
    assert 'does not exist' in checkpoint_problem(str(tmp_path / 'x.pth'))
    (tmp_path / 'e.pth').write_bytes(b'')
    assert 'empty' in checkpoint_problem(str(tmp_path / 'e.pth'))


def test_pointer_to_a_cut_file_falls_back(tmp_path, mm_log):
    older = _save(tmp_path / 'iter_2.pth', 2)
    newest = _save(tmp_path / 'iter_4.pth', 4)
    (tmp_path / 'last_checkpoint').write_text(newest)
    assert find_resumable_checkpoint(str(tmp_path)) == newest
    assert not mm_log  # a complete checkpoint: no warning
    _cut(newest)
    assert find_resumable_checkpoint(str(tmp_path)) == older
    assert any('iter_4.pth' in r and 'iter_2.pth' in r for r in mm_log)


def test_half_written_newer_file_and_missing_pointer(tmp_path, mm_log):
    older = _save(tmp_path / 'iter_2.pth', 2)
    _cut(_save(tmp_path / 'iter_4.pth', 4), 0.3)  # killed while writing
    # no last_checkpoint at all (MMEngine would start from scratch)
    assert find_resumable_checkpoint(str(tmp_path)) == older
    assert any('no ' in r and 'last_checkpoint' in r for r in mm_log)
    (tmp_path / 'last_checkpoint').write_text('')  # an empty pointer
    assert find_resumable_checkpoint(str(tmp_path)) == older


def test_no_complete_checkpoint_is_an_error(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None  # fresh run
    assert find_resumable_checkpoint(str(tmp_path / 'new')) is None
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    _cut(_save(tmp_path / 'iter_4.pth', 4))
    with pytest.raises(RuntimeError,
                       match=r'no complete checkpoint.*iter_2\.pth.*does '
                       r'not exist.*iter_4\.pth.*incomplete'):
        find_resumable_checkpoint(str(tmp_path))


def test_train_tool_resumes_from_the_last_complete_checkpoint(tmp_path):
    """tools/train.py: the run's latest checkpoint is cut short as by a kill
    during the write (last_checkpoint names it); --resume continues from the
    previous complete one, with a warning, and finishes."""
    from tool_helpers import run_tool, tool, write_config

    from csnet_mmseg.datasets import make_synthetic_sod
    data = tmp_path / 'data'
    make_synthetic_sod(str(data), num_train=4, num_val=1, size=(48, 64))
    cfg = write_config(tmp_path / 'tiny.py', data, max_iters=4, interval=2)
    work = tmp_path / 'work'
    res = run_tool(tool('train.py'), cfg, '--work-dir', work)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (work / 'last_checkpoint').read_text().endswith('iter_4.pth')
    _cut(str(work / 'iter_4.pth'), 0.5)
    res = run_tool(tool('train.py'), cfg, '--work-dir', work, '--resume',
                   '--cfg-options', 'train_cfg.max_iters=6')
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert re.search(r"iter_4\.pth' \(named in .*last_checkpoint\): "
                     r'incomplete', out), out[-3000:]
    assert re.search(r'resumed epoch: \d+, iter: 2', out), out[-3000:]
    assert 'Iter(train) [3/6]' in out
    assert checkpoint_problem(str(work / 'iter_6.pth')) is None
    assert checkpoint_problem(str(work / 'iter_4.pth')) is None  # rewritten
