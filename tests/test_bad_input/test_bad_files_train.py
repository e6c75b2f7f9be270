"""A bad training image through tools/train.py: by default the run stops
with an error naming the file; with SkipBadSamples + BadSampleHook it is
skipped with a warning naming the file and counted in the epoch report."""
import os
import os.path as osp
import subprocess
import sys

from csnet_mmseg.datasets import make_synthetic_sod
from csnet_mmseg.models import LayerTable

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_')

LOADERS = "dict(type='LoadSODImage'), dict(type='LoadSODAnnotations')"
SKIP_LOADERS = f"dict(type='SkipBadSamples', transforms=[{LOADERS}])"


def _config(path, data_root, loaders, hooks='[]'):
    table = LayerTable.initial(width=8).to_dict()
    path.write_text(f"""
_base_ = [
    '{BASE}/models/csnet.py', '{BASE}/datasets/synthetic_sod.py',
    '{BASE}/default_runtime.py', '{BASE}/schedules/schedule_short.py'
]
custom_imports = dict(
    imports=['csnet_mmseg', 'csnet_mmseg.datasets.robust',
             'csnet_mmseg.engine.hooks.bad_sample_hook'],
    allow_failed_imports=False)
randomness = dict(seed=0)
model = dict(
    backbone=dict(
        stem_channels={table['backbone']['stem_channels']!r},
        stage_channels={table['backbone']['stage_channels']!r}),
    decode_head={table['decode_head']!r})
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(data_root='{data_root}', pipeline=[
        {loaders},
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='PackSegInputs')]))
train_cfg = dict(max_iters=4, val_interval=1000)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
param_scheduler = []
custom_hooks = {hooks}
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1000))
""")


def _train(cfg, work_dir):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'),
         str(cfg), '--work-dir',
         str(work_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300)
    return res.returncode, res.stdout + res.stderr


def _data(tmp_path):
    root = tmp_path / 'data'
    make_synthetic_sod(str(root), num_train=8, num_val=0, size=(32, 32))
    bad = root / 'train' / 'images' / '0003.jpg'
    bad.write_bytes(bad.read_bytes()[:200])  # truncated copy
    return root, bad


def test_bad_image_stops_the_run_naming_it(tmp_path):
    root, bad = _data(tmp_path)
    cfg = tmp_path / 'stop.py'
    _config(cfg, root, LOADERS)
    rc, out = _train(cfg, tmp_path / 'work')
    assert rc != 0
    assert f"OSError: Cannot read the image '{bad}'" in out, out[-3000:]
    assert 'Iter(train) [4/4]' not in out


def test_skip_bad_samples_counts_and_reports(tmp_path):
    root, bad = _data(tmp_path)
    cfg = tmp_path / 'skip.py'
    _config(cfg, root, SKIP_LOADERS,
            "[dict(type='BadSampleHook', max_skip_ratio=0.5, interval=1)]")
    rc, out = _train(cfg, tmp_path / 'work')
    assert rc == 0, out[-3000:]
    assert 'Iter(train) [4/4]' in out
    assert f"SkipBadSamples: skipped the sample '{bad}': OSError" in out
    assert 'BadSampleHook: epoch 1: 1 of ' in out, out[-3000:]
    assert 'were skipped in this run' in out
