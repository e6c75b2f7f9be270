"""Helpers shared by the distributed-training and kill/resume tests.

A tiny CSNet (the width-8 layer table of ``LayerTable.initial``, 48x48 inputs)
trained for a handful of iterations on a synthetic set written into
``tmp_path``, through the real entry points (``tools/train.py``,
``tools/dist_train.sh``) in subprocesses with one CPU thread each.
"""
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
from typing import List, Optional

from csnet_mmseg.datasets import make_synthetic_sod
from csnet_mmseg.models import LayerTable

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_')
TOOLS = osp.join(ROOT, 'tools')

GN = dict(type='GN', num_groups=1, requires_grad=True)
BN = dict(type='BN', requires_grad=True)

PLAIN_PIPELINE = """[
    dict(type='LoadSODImage'),
    dict(type='LoadSODAnnotations'),
    dict(type='Resize', scale=(48, 48), keep_ratio=False),
    dict(type='PackSegInputs'),
]"""
AUGMENTED_PIPELINE = """[
    dict(type='LoadSODImage'),
    dict(type='LoadSODAnnotations'),
    dict(type='SODRandomCrop', max_crop=6),
    dict(type='RandomFlipLRUD', prob=0.5),
    dict(type='Resize', scale=(48, 48), keep_ratio=False),
    dict(type='PackSegInputs'),
]"""


def write_tiny_config(path,
                      data_root,
                      *,
                      batch_size: int,
                      max_iters: int,
                      ckpt_interval: int,
                      norm_cfg: dict = BN,
                      pipeline: str = PLAIN_PIPELINE,
                      optimizer: str = "dict(type='Adam', lr=2e-3, "
                      'betas=(0.9, 0.99), weight_decay=5e-3)',
                      dynamic_decay: float = 3.0,
                      imports: Optional[List[str]] = None,
                      custom_hooks: str = '[]',
                      extra: str = '') -> None:
    """A tiny training config (DWD wrapper, shuffle off, no validation)."""
    table = LayerTable.initial(width=8).to_dict()
    bb, head = table['backbone'], table['decode_head']
    imports = ['csnet_mmseg'] + list(imports or [])
    path.write_text(f"""
_base_ = [
    '{BASE}/models/csnet.py', '{BASE}/datasets/synthetic_sod.py',
    '{BASE}/default_runtime.py', '{BASE}/schedules/schedule_short.py'
]
custom_imports = dict(imports={imports!r}, allow_failed_imports=False)
randomness = dict(seed=0, deterministic=True)
norm = {norm_cfg!r}
model = dict(
    backbone=dict(
        stem_channels={bb['stem_channels']!r},
        stage_channels={bb['stage_channels']!r},
        norm_cfg=dict(norm, _delete_=True)),
    decode_head=dict(
        in_channels={head['in_channels']!r},
        fuse_channels={head['fuse_channels']!r},
        dilation_channels={head['dilation_channels']!r},
        channels={head['channels']!r},
        norm_cfg=dict(norm, _delete_=True)))
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(data_root='{data_root}', pipeline={pipeline}))
optim_wrapper = dict(
    _delete_=True,
    type='DynamicWeightDecayOptimWrapper',
    constructor='DynamicWeightDecayOptimWrapperConstructor',
    optimizer={optimizer},
    dynamic_decay={dynamic_decay})
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, milestones=[{max_iters // 2}],
         gamma=0.1, begin=0, end={max_iters})
]
train_cfg = dict(max_iters={max_iters}, val_interval=100000)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
custom_hooks = {custom_hooks}
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={ckpt_interval}, max_keep_ckpts=10))
{extra}
""")


def tool_env(**extra) -> dict:
    """Environment of a tool subprocess: one thread, repo importable."""
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        PYTHONHASHSEED='0',
        PYTHONUNBUFFERED='1',
        PYTHON=sys.executable)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (ROOT, env.get('PYTHONPATH')) if p)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_tool(cmd: List[str], env: dict, timeout: float = 240) -> str:
    """Run a tool to completion; fail the test with its output tail."""
    res = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=timeout)
    out = res.stdout + res.stderr
    assert res.returncode == 0, \
        f'{cmd} exited with {res.returncode}:\n{out[-4000:]}'
    return out


class Tool:
    """A tool subprocess started in the background, output to a file."""

    def __init__(self, cmd: List[str], env: dict, log_path) -> None:
        self.cmd = cmd
        self.log_path = log_path
        self._log = open(log_path, 'w')
        # own process group: stop() also ends torchrun's workers
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
            env=env, start_new_session=True)

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path) as f:
            return f.read()

    def finish(self, timeout: float = 240) -> str:
        """Wait for a clean exit (kill it on timeout); return the output."""
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            self.stop()
        out = self.output()
        assert rc == 0, f'{self.cmd} exited with {rc}:\n{out[-4000:]}'
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


def start_tool(cmd: List[str], env: dict, log_path) -> Tool:
    return Tool(cmd, env, log_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def make_tiny_data(tmp_path, num_val: int = 0):
    """8 training images of ~48 px (sizes jittered), ``num_val`` val ones."""
    root = tmp_path / 'data'
    make_synthetic_sod(
        str(root), num_train=8, num_val=num_val, size=(48, 48))
    return root
