"""End to end: train with ChannelPruningHook, prune offline with
tools/prune.py, then train and test the narrowed config with the tools."""
import os
import os.path as osp
import runpy
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from csnet_mmseg.pruning import (PRUNED_CHECKPOINT, PRUNED_CONFIG,
                                 SUMMARY, TRAIN_CONFIG)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_')

CONFIG = """
_base_ = ['{base}/models/csnet.py', '{base}/default_runtime.py',
          '{base}/datasets/synthetic_sod.py']
custom_imports = dict(imports=['csnet_mmseg'], allow_failed_imports=False)
# the conv gain of configs/csnet_synthetic.py, which the fine-tune config
# inherits (a checkpoint of another gain is refused)
conv_cfg = dict(type='ScaledConv2d', gain=100.0)
model = dict(
    backbone=dict(
        conv_cfg=conv_cfg,
        stem_channels=[4, 4],
        stage_channels=[[[4, 4], [4, 4]], [[6, 6], [8]], [[6, 6], [8]],
                        [[6, 6], [8]]]),
    decode_head=dict(
        conv_cfg=conv_cfg,
        in_channels=[8, 8, 8],
        fuse_channels=[4, 4, 4],
        dilation_channels=[[1, 1, 1, 1, 1], [2, 1, 1, 1, 1], [1, 1, 2, 1, 1]],
        channels=6))
train_pipeline = [
    dict(type='LoadSODImage'),
    dict(type='LoadSODAnnotations'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadSODImage'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='LoadSODAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{data}', pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{data}', pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100))
custom_hooks = [
    dict(type='ChannelPruningHook', out_dir='{hook_out}', input_size=(64, 64))
]
"""


def run(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return subprocess.run([sys.executable] + args,
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)


def run_in_process(monkeypatch, argv):
    monkeypatch.setattr(sys, 'argv', argv)
    runpy.run_path(argv[0], run_name='__main__')


def check(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture
def setup(tmp_path):
    mod = pytest.importorskip('csnet_mmseg.datasets.synthetic')
    data = tmp_path / 'data'
    mod.make_synthetic_sod(
        str(data), num_train=4, num_val=2, size=(64, 64), seed=0)
    cfg = tmp_path / 'train.py'
    cfg.write_text(
        CONFIG.format(
            base=BASE, data=data, hook_out=tmp_path / 'hook_pruned'))
    return tmp_path, str(cfg)


def test_hook_tool_train_test(setup, monkeypatch):
    tmp, cfg = setup
    # 1. training writes the pruned files through the hook
    out = check(
        run([
            osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir',
            str(tmp / 'work')
        ], cwd=str(tmp)))
    hook_out = tmp / 'hook_pruned'
    for name in (PRUNED_CONFIG, TRAIN_CONFIG, PRUNED_CHECKPOINT, SUMMARY):
        assert (hook_out / name).is_file(), name
    assert 'ChannelPruningHook: wrote' in out
    assert '| backbone.stem |' in out  # the summary table is logged

    # 2. offline: known channels made dead in the trained checkpoint
    ckpt = torch.load(
        str(tmp / 'work' / 'iter_2.pth'), map_location='cpu',
        weights_only=False)
    sd = ckpt['state_dict']
    for key, chans in (
        ('backbone.stages.0.0.conv_mix.norm_act.norms.1', [0, 1, 2, 3]),
        ('backbone.stages.2.1.conv_mix.norm_act.norms.0', [1, 2]),
        ('decode_head.merge.norm_act.norms.0', [0]),
    ):
        sd[key + '.weight'][chans] = 0
    zeroed = tmp / 'zeroed.pth'
    torch.save(dict(meta=ckpt['meta'], state_dict=sd), str(zeroed))
    # where configs/csnet_synthetic_finetune.py expects the demo's files
    pruned = tmp / 'work_dirs' / 'demo' / 'pruned'
    prune = osp.join(ROOT, 'tools', 'prune.py')
    out = check(
        run([prune, cfg, str(zeroed), '--out-dir',
             str(pruned), '--input-size', '64', '64'],
            cwd=str(tmp)))
    assert '| **total** (whole model) |' in out
    narrowed = Config.fromfile(str(pruned / PRUNED_CONFIG))
    assert narrowed.model.backbone.stage_channels[0][0] == [4, 0]
    assert narrowed.model.backbone.stage_channels[0][1] == [4, 4]
    assert narrowed.model.backbone.stage_channels[2][1] == [6]
    assert narrowed.model.decode_head.in_channels == [8, 6, 8]
    assert narrowed.model.decode_head.channels == 5
    assert not Config.fromfile(str(pruned / TRAIN_CONFIG)).custom_hooks

    # refusals (in-process, to save a start-up): existing output, and a
    # threshold that empties a layer
    with pytest.raises(SystemExit, match='refusing to overwrite'):
        run_in_process(monkeypatch,
                       [prune, cfg, str(zeroed), '--out-dir', str(pruned)])
    with pytest.raises(
            SystemExit,
            match='would remove every channel of layer backbone.stem'):
        run_in_process(monkeypatch, [
            prune, cfg, str(zeroed), '--out-dir',
            str(tmp / 'empty'), '--threshold', '100'
        ])
    assert not (tmp / 'empty').exists()

    # 3. the fine-tune config trains the narrowed model from the narrowed
    # checkpoint, both passed by --cfg-options (it inherits from no file in
    # work_dirs/) ...
    finetune = osp.join(ROOT, 'configs', 'csnet_synthetic_finetune.py')
    ft_cfg = Config.fromfile(finetune)
    assert not any('work_dirs' in b for b in ft_cfg.get('_base_', []))
    assert ft_cfg.model.type == 'CSNetEncoderDecoder'
    assert ft_cfg.optim_wrapper.type == 'OptimWrapper'
    assert ft_cfg.custom_hooks == []
    out = check(
        run([
            osp.join(ROOT, 'tools', 'train.py'), finetune, '--work-dir',
            str(tmp / 'finetune'), '--cfg-options',
            f'model.layer_table={pruned / PRUNED_CONFIG}',
            f'load_from={pruned / PRUNED_CHECKPOINT}',
            'train_cfg.max_iters=1', f'train_dataloader.dataset.data_root='
            f'{tmp / "data"}', f'val_dataloader.dataset.data_root='
            f'{tmp / "data"}', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False'
        ], cwd=str(tmp)))
    assert f'Load checkpoint from {pruned / PRUNED_CHECKPOINT}' in out
    assert 'do not match exactly' not in out  # every key matched
    assert (tmp / 'finetune' / 'iter_1.pth').is_file()
    # ... and the narrowed config + checkpoint test with tools/test.py
    out = check(
        run([
            osp.join(ROOT, 'tools', 'test.py'),
            str(pruned / PRUNED_CONFIG),
            str(pruned / PRUNED_CHECKPOINT), '--work-dir',
            str(tmp / 'test')
        ], cwd=str(tmp)))
    assert 'MAE' in out
