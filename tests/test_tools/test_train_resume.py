"""tools/train.py trains, checkpoints and resumes (issue: compat of torch 2.13
``weights_only`` loading with mmengine checkpoints)."""
import os.path as osp
import re
import subprocess
import sys

import torch

from csnet_mmseg.datasets import make_synthetic_sod

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_')


def write_config(path, data_root):
    path.write_text(f"""
_base_ = [
    '{BASE}/models/csnet.py', '{BASE}/datasets/synthetic_sod.py',
    '{BASE}/default_runtime.py', '{BASE}/schedules/schedule_short.py'
]
custom_imports = dict(imports=['csnet_mmseg'], allow_failed_imports=False)
randomness = dict(seed=0)
train_pipeline = [
    dict(type='LoadSODImage'),
    dict(type='LoadSODAnnotations'),
    dict(type='Resize', scale=(48, 48), keep_ratio=False),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{data_root}', pipeline=train_pipeline))
train_cfg = dict(max_iters=4, val_interval=1000)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
param_scheduler = []
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=2, max_keep_ckpts=5))
""")


def run_train(cfg, work_dir, *extra):
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(cfg),
         '--work-dir', str(work_dir), *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def _adam_steps(ckpt):
    return {float(s['step']) for s in ckpt['optimizer']['state'].values()}


def test_train_then_resume_continues(tmp_path):
    data_root = tmp_path / 'data'
    make_synthetic_sod(str(data_root), num_train=6, num_val=2, size=(48, 64))
    cfg = tmp_path / 'tiny.py'
    write_config(cfg, data_root)
    work_dir = tmp_path / 'work'

    log1 = run_train(cfg, work_dir)
    assert 'Iter(train) [4/4]' in log1
    first = torch.load(work_dir / 'iter_4.pth', weights_only=False)
    assert first['meta']['iter'] == 4
    assert _adam_steps(first) == {4.0}

    log2 = run_train(cfg, work_dir, '--resume', '--cfg-options',
                     'train_cfg.max_iters=6')
    assert re.search(r'resumed epoch: \d+, iter: 4', log2), log2[-2000:]
    assert 'Iter(train) [5/6]' in log2
    assert 'Iter(train) [1/6]' not in log2  # did not start over
    second = torch.load(work_dir / 'iter_6.pth', weights_only=False)
    assert second['meta']['iter'] == 6
    assert _adam_steps(second) == {6.0}  # optimizer state carried on
    # the resumed run started from the saved weights, not from scratch
    name = 'backbone.stem.conv_mix.weight'
    assert not torch.equal(first['state_dict'][name],
                           second['state_dict'][name])
