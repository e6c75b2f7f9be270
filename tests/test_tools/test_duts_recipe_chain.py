"""The paper's recipe through the standard tools, with the DUTS configs as
they are: configs/csnet_duts.py (DWD training, pruning hook at the end) ->
configs/csnet_duts_finetune.py (the narrowed model from the narrowed
checkpoint) -> tools/test.py on the six benchmark sets. Only the data (a
tiny synthetic set laid out as SOD_DATA_ROOT expects) and the schedule
(through --cfg-options) are changed."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from csnet_mmseg.checkpoint import load_checkpoint_file

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCHMARKS = dict(
    ECSSD=('images', 'GT'),
    **{'PASCAL-S': ('images', 'GT')},
    **{'DUT-OMRON': ('images', 'GT')},
    **{'HKU-IS': ('images', 'GT')},
    SOD=('images', 'GT'),
    **{'DUTS-TE': ('DUTS-TE-Image', 'DUTS-TE-Mask')})
SIZE = 64
# a small input, one short epoch, no worker processes
COMMON = [
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    f'train_dataloader.dataset.pipeline.4.scale=({SIZE},{SIZE})',
    f'val_dataloader.dataset.pipeline.1.scale=({SIZE},{SIZE})',
    'default_hooks.logger.interval=1',
]


def run(args, env):
    proc = subprocess.run([sys.executable] + args,
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture
def sod_root(tmp_path):
    from csnet_mmseg.datasets.synthetic import make_synthetic_sod
    syn = tmp_path / 'synthetic'
    make_synthetic_sod(
        str(syn), num_train=4, num_val=2, size=(SIZE, SIZE), seed=0)
    root = tmp_path / 'sod'
    duts = root / 'DUTS-TR'
    shutil.copytree(syn / 'train' / 'images', duts / 'DUTS-TR-Image')
    shutil.copytree(syn / 'train' / 'GT', duts / 'DUTS-TR-Mask')
    for name, (img, gt) in BENCHMARKS.items():
        shutil.copytree(syn / 'val' / 'images', root / name / img)
        shutil.copytree(syn / 'val' / 'GT', root / name / gt)
    env = dict(
        os.environ,
        SOD_DATA_ROOT=str(root),
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1')
    return tmp_path, env


def test_train_prune_finetune_test(sod_root):
    tmp, env = sod_root
    work = tmp / 'csnet_duts'
    # 1. DWD training; the pruning hook (threshold 1e-20, as released) writes
    # the narrowed files at the end
    wide_cfg = Config.fromfile(osp.join(ROOT, 'configs', 'csnet_duts.py'))
    assert wide_cfg.custom_hooks[0]['type'] == 'ChannelPruningHook'
    assert wide_cfg.custom_hooks[0]['threshold'] == 1e-20
    out = run([
        'tools/train.py', 'configs/csnet_duts.py', '--work-dir',
        str(work), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', f'custom_hooks.0.input_size=({SIZE},'
        f'{SIZE})', 'default_hooks.checkpoint.interval=1'
    ] + COMMON, env)
    assert 'ECSSD/MAE' in out
    assert 'ChannelPruningHook: wrote' in out
    for name in ('pruned_config.py', 'pruned.pth', 'summary.md',
                 'train_config.py'):
        assert (work / 'pruned' / name).is_file(), name
    # one epoch leaves every gamma far above 1e-20: the table is unchanged
    hook_table = Config.fromfile(str(work / 'pruned' /
                                     'pruned_config.py')).model
    assert hook_table.backbone.stage_channels == \
        wide_cfg.model.backbone.stage_channels

    # 1b. the same step offline (tools/prune.py) on the trained checkpoint
    # with known channels made dead, so that the chain carries a narrower
    # model
    ckpt = load_checkpoint_file(str(work / 'epoch_1.pth'), map_location='cpu')
    sd = ckpt['state_dict']
    sd['backbone.stages.0.0.conv_mix.norm_act.norms.1.weight'][:] = 0
    sd['backbone.stages.2.1.conv_mix.norm_act.norms.0.weight'][:7] = 0
    dead = tmp / 'dead.pth'
    torch.save(dict(meta=ckpt['meta'], state_dict=sd), str(dead))
    pruned = tmp / 'pruned'
    run([
        'tools/prune.py', 'configs/csnet_duts.py',
        str(dead), '--out-dir',
        str(pruned), '--input-size',
        str(SIZE),
        str(SIZE)
    ], env)
    table = Config.fromfile(str(pruned / 'pruned_config.py')).model
    assert table.backbone.stage_channels[0][0] == [10, 0]
    assert table.backbone.stage_channels[2][1] == [33, 40]

    # 2. fine-tune: the narrowed table and checkpoint go in by --cfg-options
    ft_work = tmp / 'csnet_duts_finetune'
    out = run([
        'tools/train.py', 'configs/csnet_duts_finetune.py', '--work-dir',
        str(ft_work), '--cfg-options',
        f'model.layer_table={pruned}/pruned_config.py',
        f'load_from={pruned}/pruned.pth', 'train_cfg.max_epochs=1'
    ] + COMMON, env)
    assert f'Load checkpoint from {pruned}/pruned.pth' in out
    assert 'do not match exactly' not in out  # every key matched
    assert 'ECSSD/MAE' in out
    ckpt = ft_work / 'epoch_1.pth'
    assert ckpt.is_file()
    state = load_checkpoint_file(str(ckpt), map_location='cpu')
    narrow_params = sum(v.numel() for k, v in state['state_dict'].items()
                        if k.endswith('weight') and 'conv_mix' in k)
    pruned_state = load_checkpoint_file(
        str(pruned / 'pruned.pth'), map_location='cpu')
    assert narrow_params == sum(
        v.numel() for k, v in pruned_state['state_dict'].items()
        if k.endswith('weight') and 'conv_mix' in k)

    # 3. test the fine-tuned model on the six benchmarks with the config
    # that MMEngine dumped into the fine-tune work dir
    dumped = ft_work / 'csnet_duts_finetune.py'
    assert dumped.is_file()
    out = run([
        'tools/test.py',
        str(dumped),
        str(ckpt), '--work-dir',
        str(tmp / 'test'), '--cfg-options',
        *[f'test_dataloader.dataset.datasets.{i}.pipeline.1.scale='
          f'({SIZE},{SIZE})' for i in range(len(BENCHMARKS))]
    ], env)
    for name in BENCHMARKS:
        assert f'{name}/MAE' in out, name


def test_finetune_config_needs_the_table(sod_root):
    tmp, env = sod_root
    proc = subprocess.run([
        sys.executable, 'tools/train.py', 'configs/csnet_duts_finetune.py',
        '--work-dir',
        str(tmp / 'w')
    ],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert 'model.layer_table is not set' in proc.stderr
