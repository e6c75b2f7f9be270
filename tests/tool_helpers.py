"""Helpers of the security and robustness tests (``tests/test_bad_input``,
``tests/test_checkpoint``, ``tests/test_converters``): a tiny train/test
config on synthetic data, checkpoints with a real pickle payload, running the
tools. ``tests/`` is on ``sys.path`` (the directory of ``tests/conftest.py``),
so each test imports it as ``tool_helpers``."""
import os
import os.path as osp
import pickle
import runpy
import subprocess
import sys

import torch
from mmengine.config import Config

from mmseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASE = osp.join(ROOT, 'configs', '_base_')


class Payload:
    """Unpickling this object runs code: it creates the file ``marker``
    (``__reduce__`` makes the unpickler call ``exec``)."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('code ran')", ))


def build_model():
    cfg = Config.fromfile(osp.join(BASE, 'models', 'csnet.py'))
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def save_payload_checkpoint(path, marker, legacy=False):
    """A checkpoint with the weights of ``build_model()`` that runs a
    payload when unpickled with ``weights_only=False``."""
    ckpt = dict(
        meta=dict(note=Payload(marker)),
        state_dict=build_model().state_dict())
    torch.save(ckpt, str(path), _use_new_zipfile_serialization=not legacy)
    return str(path)


def save_payload_pickle(path, marker, obj=None):
    with open(path, 'wb') as f:
        pickle.dump([obj, Payload(marker)], f)
    return str(path)


def write_config(path, data_root, max_iters=4, interval=2, max_keep=5):
    """A tiny train + test config on the synthetic SOD set."""
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
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{data_root}'))
train_cfg = dict(max_iters={max_iters}, val_interval=1000)
val_dataloader = None
val_cfg = None
val_evaluator = None
param_scheduler = []
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={interval}, max_keep_ckpts={max_keep}))
""")
    return str(path)


def run_tool(*args, cwd=ROOT, timeout=300):
    """Run ``python tools/...`` with this worktree first on the path."""
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    return subprocess.run([sys.executable, *map(str, args)],
                          capture_output=True,
                          text=True,
                          cwd=cwd,
                          env=env,
                          timeout=timeout)


def tool(relpath):
    return osp.join(ROOT, 'tools', relpath)


def run_as_main(monkeypatch, path: str, argv) -> object:
    """Run the script ``path`` as ``python PATH ARGV`` does, in this process
    (``runpy`` as ``__main__``, ``sys.argv`` set for the call); its exit
    status (``SystemExit.code``; ``None`` when it returns without exiting)."""
    monkeypatch.setattr(sys, 'argv', [path] + [str(a) for a in argv])
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as e:
        return e.code
    return None
