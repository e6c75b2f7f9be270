"""A training run killed with SIGKILL and resumed with ``--resume`` ends
exactly where an uninterrupted run ends: weights, Adam moments, the dynamic
weight decay state, the LR schedule, and the ChannelPruningHook's outputs
(it pruned before the kill and must neither prune again nor refuse to
start because its outputs exist).

Deterministic CPU settings: ``randomness=dict(seed=0, deterministic=True)``,
``num_workers=0``, one thread (``OMP_NUM_THREADS=1``). The pipeline keeps
the random crop and flip: on resume, MMEngine's IterBasedTrainLoop replays
the dataloader for the finished iterations, which draws the same numbers
from the re-seeded ``np.random``, so even the augmentation continues
exactly (with ``num_workers=0``; see docs/robustness.md).
"""
import os
import re
import signal
import time

import torch

from dist_helpers import (AUGMENTED_PIPELINE, TOOLS, make_tiny_data, run_tool,
                          start_tool, tool_env, write_tiny_config)

MAX_ITERS = 6
KILL_AFTER = 4  # kill once the checkpoint of this iteration is complete
PRUNE_AT = 3


def _train(cfg, work_dir, env, log_path):
    return start_tool([
        env['PYTHON'], f'{TOOLS}/train.py',
        str(cfg), '--work-dir',
        str(work_dir)
    ], env, log_path)


def _latest(work_dir):
    """The checkpoint that ``last_checkpoint`` names (written by MMEngine
    after the checkpoint file itself is complete), or None."""
    marker = work_dir / 'last_checkpoint'
    if not marker.is_file():
        return None
    m = re.search(r'iter_(\d+)\.pth\s*$', marker.read_text())
    return int(m.group(1)) if m else None


def _assert_same(a, b, where=''):
    """Exact equality of nested checkpoint contents."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype \
            and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), \
            f'{where}: {sorted(a)} vs {sorted(b)}'
        for k in a:
            _assert_same(a[k], b[k], f'{where}.{k}')
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


def test_sigkill_then_resume_is_exact(tmp_path):
    data = make_tiny_data(tmp_path)
    cfg = tmp_path / 'resume.py'
    write_tiny_config(
        cfg,
        data,
        batch_size=2,
        max_iters=MAX_ITERS,
        ckpt_interval=2,
        pipeline=AUGMENTED_PIPELINE,
        custom_hooks=f"[dict(type='ChannelPruningHook', at_iter={PRUNE_AT},"
        ' input_size=(48, 48))]')
    env = tool_env()
    ref_dir, run_dir = tmp_path / 'uninterrupted', tmp_path / 'killed'

    # the reference and the run to kill side by side (both one-threaded)
    ref = _train(cfg, ref_dir, env, tmp_path / 'ref.log')
    victim = _train(cfg, run_dir, env, tmp_path / 'victim.log')
    try:
        deadline = time.monotonic() + 240
        while (_latest(run_dir) or 0) < KILL_AFTER:
            assert victim.proc.poll() is None, \
                'the run ended before it could be killed:\n' + \
                victim.output()[-3000:]
            assert time.monotonic() < deadline, 'no checkpoint in time'
            time.sleep(0.02)
        os.kill(victim.proc.pid, signal.SIGKILL)
        assert victim.proc.wait(timeout=60) == -signal.SIGKILL
        killed_at = _latest(run_dir)
        assert KILL_AFTER <= killed_at < MAX_ITERS
        assert not (run_dir / f'iter_{MAX_ITERS}.pth').exists()
        ref.finish()
    finally:
        ref.stop()
        victim.stop()
    # it had pruned before the kill
    assert (run_dir / 'pruned' / 'pruned.pth').is_file()

    log = run_tool([
        env['PYTHON'], f'{TOOLS}/train.py',
        str(cfg), '--work-dir',
        str(run_dir), '--resume'
    ], env)
    assert re.search(rf'resumed epoch: \d+, iter: {killed_at}\b', log), \
        log[-3000:]
    assert f'Iter(train) [{killed_at + 1}/{MAX_ITERS}]' in log
    assert f'Iter(train) [{killed_at}/{MAX_ITERS}]' not in log
    assert 'already pruned' in log, log[-3000:]

    ref_ckpt = torch.load(ref_dir / f'iter_{MAX_ITERS}.pth',
                          weights_only=False)
    ckpt = torch.load(run_dir / f'iter_{MAX_ITERS}.pth', weights_only=False)
    assert ckpt['meta']['iter'] == ref_ckpt['meta']['iter'] == MAX_ITERS
    _assert_same(ckpt['state_dict'], ref_ckpt['state_dict'], 'state_dict')
    _assert_same(ckpt['optimizer'], ref_ckpt['optimizer'], 'optimizer')
    _assert_same(ckpt['param_schedulers'], ref_ckpt['param_schedulers'],
                 'param_schedulers')
    dwd = ckpt['optimizer']['dynamic_weight_decay']
    assert dwd['num_decay_steps'] == MAX_ITERS
    assert all(s is not None for s in dwd['last_stat'])
    assert ckpt['meta']['seed'] == ref_ckpt['meta']['seed'] == 0
    assert ckpt['meta']['channel_pruning'] == dict(
        pruned=True, out_dir=str(run_dir / 'pruned'))

    # the pruned outputs exist and are those of the uninterrupted run
    for name in ('pruned.pth', 'pruned_config.py', 'train_config.py',
                 'summary.md'):
        assert (run_dir / 'pruned' / name).is_file(), name
    pruned = torch.load(run_dir / 'pruned' / 'pruned.pth', weights_only=False)
    ref_pruned = torch.load(
        ref_dir / 'pruned' / 'pruned.pth', weights_only=False)
    _assert_same(pruned['state_dict'], ref_pruned['state_dict'], 'pruned')
