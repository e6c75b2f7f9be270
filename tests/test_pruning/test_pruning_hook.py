"""ChannelPruningHook: triggers, output folder checks, state across resume."""
import logging
import os.path as osp
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from csnet_mmseg.engine.hooks import ChannelPruningHook
from csnet_mmseg.pruning import PRUNED_CHECKPOINT, PRUNED_CONFIG
from mmseg.registry import HOOKS

from test_pruning import build_random, make_dead  # noqa: E402  (same folder)


def fake_runner(tmp_path, iter=0, epoch=0):
    model, cfg = build_random()
    make_dead(model)
    return SimpleNamespace(
        model=model,
        cfg=Config(dict(model=cfg)),
        work_dir=str(tmp_path / 'work'),
        iter=iter,
        epoch=epoch,
        logger=logging.getLogger('test_pruning_hook'))


def test_registered_and_validates_args():
    hook = HOOKS.build(dict(type='ChannelPruningHook', threshold=1e-3))
    assert isinstance(hook, ChannelPruningHook)
    assert hook.fold is True and hook.at_epoch is None
    with pytest.raises(ValueError, match='not both'):
        ChannelPruningHook(at_epoch=2, at_iter=3)
    with pytest.raises(ValueError, match='at_iter'):
        ChannelPruningHook(at_iter=0)


def test_prunes_at_end_of_training_into_work_dir(tmp_path):
    runner = fake_runner(tmp_path, iter=5)
    hook = ChannelPruningHook(input_size=(32, 32))
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    hook.after_train_epoch(runner)
    assert not hook.pruned
    hook.after_train(runner)
    out = osp.join(runner.work_dir, 'pruned')
    assert hook.pruned and hook.written_to == out
    assert osp.isfile(osp.join(out, PRUNED_CONFIG))
    assert osp.isfile(osp.join(out, PRUNED_CHECKPOINT))


def test_at_iter_and_state_survives_resume(tmp_path):
    out = str(tmp_path / 'out')
    runner = fake_runner(tmp_path, iter=0)
    hook = ChannelPruningHook(at_iter=3, out_dir=out, input_size=(32, 32))
    hook.before_train(runner)
    for i in range(4):
        runner.iter = i
        hook.after_train_iter(runner, i)
        assert hook.pruned == (i >= 2)
    ckpt = dict(meta=dict(iter=4))
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['meta']['channel_pruning'] == dict(pruned=True, out_dir=out)

    # resume: a fresh hook restores the state and does not prune again
    # (out_dir is occupied, which would otherwise stop the run)
    resumed = ChannelPruningHook(at_iter=3, out_dir=out, input_size=(32, 32))
    resumed.after_load_checkpoint(runner, ckpt)
    runner.iter = 4
    resumed.before_train(runner)
    assert resumed.pruned and resumed.written_to == out
    resumed.after_train(runner)

    # load_from (a new run, iteration 0) ignores the state: the occupied
    # output folder stops the run before training
    fresh = ChannelPruningHook(at_iter=3, out_dir=out)
    fresh.after_load_checkpoint(runner, ckpt)
    runner.iter = 0
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        fresh.before_train(runner)
    assert not fresh.pruned


def test_calibrated_folding_from_train_dataloader(tmp_path):
    import torch
    runner = fake_runner(tmp_path, iter=5)
    gen = torch.Generator().manual_seed(0)
    runner.train_dataloader = [
        dict(inputs=[
            torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                          generator=gen) for _ in range(2)
        ]) for _ in range(3)
    ]
    hook = ChannelPruningHook(input_size=(32, 32), calib_batches=2)
    hook.before_train(runner)
    hook.after_train(runner)
    ckpt = torch.load(
        osp.join(runner.work_dir, 'pruned', PRUNED_CHECKPOINT),
        map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['pruning']['calib_images'] == 4
    assert ckpt['meta']['pruning']['fold'] is True
