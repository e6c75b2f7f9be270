"""Two-process data-parallel training on CPU (gloo) through
``tools/dist_train.sh`` equals one process with the same total batch.

Design: no random augmentation, ``DefaultSampler(shuffle=False)``; with 2
processes of batch 2, rank r gets the samples r, r+2, ... so each step the
two ranks together see exactly the batch of 4 that one process sees. The
norms are GroupNorm(1 group): per-sample, so splitting the batch does not
change the forward pass (per-rank BatchNorm would; SyncBN cannot run on
CPU, see docs/robustness.md). The DDP gradient is the mean of the ranks'
mean-loss gradients = the gradient of the mean loss over the whole batch,
and the dynamic weight decay statistic S is all-reduced, so the runs may
differ only by float rounding (the gradient sums are ordered differently).
A probe hook (written into tmp_path, loaded by ``custom_imports``) dumps
every rank's weights, the samples it saw, its local S of the last step and
the S the wrapper applied.
"""
import glob
import json

import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from mmseg.registry import MODELS
from dist_helpers import (GN, TOOLS, free_port, make_tiny_data, start_tool,
                          tool_env, write_tiny_config)

PROBE = '''
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class RankProbeHook(Hook):
    """Dump this rank's weights, samples and DWD statistics at the end."""
    priority = 'LOWEST'

    def before_train(self, runner):
        self.samples = []
        model = getattr(runner.model, 'module', runner.model)
        self.init = {k: v.detach().clone()
                     for k, v in model.state_dict().items()}
        ow = runner.optim_wrapper
        self.local = [None] * len(ow.targets)
        for i, t in enumerate(ow.targets):
            t.act.register_forward_hook(self._recorder(i, ow.metric))

    def _recorder(self, i, metric):
        def hook(module, args, out):
            if module.training and torch.is_grad_enabled():
                self.local[i] = metric(out.detach()).clone()
        return hook

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.samples.append(
            [osp.basename(s.img_path) for s in data_batch['data_samples']])

    def after_train(self, runner):
        model = runner.model
        wrapped = type(model).__name__
        model = getattr(model, 'module', model)
        ow = runner.optim_wrapper
        torch.save(
            dict(
                wrapper=wrapped,
                init_state_dict=self.init,
                world_size=runner.world_size,
                state_dict={k: v.detach().clone()
                            for k, v in model.state_dict().items()},
                samples=self.samples,
                local_stat=self.local,
                applied_stat=list(ow.last_stat),
                num_decay_steps=ow.num_decay_steps),
            osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
'''

ITERS = 4


def _config(tmp_path, data_root, batch_size):
    cfg = tmp_path / f'ddp_b{batch_size}.py'
    write_tiny_config(
        cfg,
        data_root,
        batch_size=batch_size,
        max_iters=ITERS,
        ckpt_interval=ITERS,
        norm_cfg=GN,
        imports=['ddp_probe'],
        custom_hooks="[dict(type='RankProbeHook')]")
    return cfg


def test_two_processes_match_one(tmp_path):
    tiny_data = make_tiny_data(tmp_path)
    (tmp_path / 'ddp_probe.py').write_text(PROBE)
    env = tool_env(PORT=free_port())
    env['PYTHONPATH'] = f"{tmp_path}:{env['PYTHONPATH']}"  # the probe

    # 2 processes x batch 2 through the launcher script and, side by side,
    # 1 process x batch 4
    ddp_dir, single_dir = tmp_path / 'ddp', tmp_path / 'single'
    ddp = start_tool([
        'bash', f'{TOOLS}/dist_train.sh',
        str(_config(tmp_path, tiny_data, 2)), '2', '--work-dir',
        str(ddp_dir), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo'
    ], env, tmp_path / 'ddp.log')
    single = start_tool([
        env['PYTHON'], f'{TOOLS}/train.py',
        str(_config(tmp_path, tiny_data, 4)), '--work-dir',
        str(single_dir)
    ], env, tmp_path / 'single.log')
    log = ddp.finish()
    single.finish()
    assert f'Iter(train) [{ITERS}/{ITERS}]' in log

    ranks = [torch.load(ddp_dir / f'rank{r}.pth') for r in range(2)]
    single = torch.load(single_dir / 'rank0.pth')
    for r, dump in enumerate(ranks):
        assert dump['wrapper'] == 'MMDistributedDataParallel', dump['wrapper']
        assert dump['world_size'] == 2
        assert dump['num_decay_steps'] == ITERS
    assert single['world_size'] == 1

    # the premise: each step the ranks split the single process's batch
    assert len(single['samples']) == ITERS
    for step in range(ITERS):
        seen = sorted(ranks[0]['samples'][step] + ranks[1]['samples'][step])
        assert seen == sorted(single['samples'][step]), step
        assert not set(ranks[0]['samples'][step]) & set(
            ranks[1]['samples'][step])

    # the ranks measured different S on their halves, applied the same mean
    local0, local1 = ranks[0]['local_stat'], ranks[1]['local_stat']
    assert any(not torch.allclose(a, b) for a, b in zip(local0, local1))
    for a, b, s0, s1 in zip(local0, local1, ranks[0]['applied_stat'],
                            ranks[1]['applied_stat']):
        assert torch.equal(s0, s1)
        torch.testing.assert_close(s0, (a + b) / 2, rtol=1e-5, atol=1e-7)

    # both ranks end with identical weights, and the checkpoint holds them
    ckpt = torch.load(ddp_dir / f'iter_{ITERS}.pth', weights_only=False)
    sd0, sd1 = ranks[0]['state_dict'], ranks[1]['state_dict']
    assert sd0.keys() == sd1.keys() == ckpt['state_dict'].keys()
    for k in sd0:
        assert torch.equal(sd0[k], sd1[k]), f'ranks differ in {k}'
        assert torch.equal(sd0[k], ckpt['state_dict'][k]), k

    # ... and match one process with the same total batch up to float
    # rounding (the gradient sums are ordered differently; about 2e-7 here),
    # far below what training moved them (about 1e-2)
    ref, init = single['state_dict'], single['init_state_dict']
    for k in init:
        assert torch.equal(init[k], ranks[0]['init_state_dict'][k]), k
    moved = max((ref[k] - init[k]).abs().max().item() for k in ref
                if ref[k].is_floating_point())
    assert moved > 1e-3
    for k in ref:
        torch.testing.assert_close(
            sd0[k], ref[k], rtol=1e-4, atol=1e-5, msg=lambda m: f'{k}: {m}')


TEST_SET = """
test_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SODDataset', data_root='{data}', dataset_name='tiny_val',
        data_prefix=dict(img_path='val/images', seg_map_path='val/GT'),
        test_mode=True,
        pipeline=[
            dict(type='LoadSODImage'),
            dict(type='Resize', scale=(48, 48), keep_ratio=False),
            dict(type='LoadSODAnnotations'),
            dict(type='PackSegInputs', meta_keys=(
                'img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                'reduce_zero_label', 'dataset_name'))]))
test_cfg = dict(type='TestLoop')
test_evaluator = dict(type='SODMetric')
"""


def _metrics(work_dir):
    files = glob.glob(str(work_dir / '*' / '*.json'))
    assert len(files) == 1, files
    with open(files[0]) as f:
        metrics = json.loads(f.readline())
    timing = ('time', 'data_time')
    return {k: v for k, v in metrics.items() if k not in timing}


def test_dist_test_matches_one_process(tmp_path):
    """tools/dist_test.sh with 2 processes gives the metrics of 1 process
    (5 images: rank 1's share is padded by MMEngine's sampler, and the
    padding is dropped when the results are collected)."""
    data = make_tiny_data(tmp_path, num_val=5)
    cfg = tmp_path / 'test_cfg.py'
    write_tiny_config(
        cfg, data, batch_size=1, max_iters=1, ckpt_interval=1,
        extra=TEST_SET.format(data=data))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(cfg)).model)
    model.init_weights()
    ckpt = str(tmp_path / 'random.pth')
    save_checkpoint(dict(meta={}, state_dict=model.state_dict()), ckpt)

    env = tool_env(PORT=free_port())
    ddp = start_tool([
        'bash', f'{TOOLS}/dist_test.sh',
        str(cfg), ckpt, '2', '--work-dir',
        str(tmp_path / 'ddp'), '--cfg-options',
        'env_cfg.dist_cfg.backend=gloo'
    ], env, tmp_path / 'ddp.log')
    single = start_tool([
        env['PYTHON'], f'{TOOLS}/test.py',
        str(cfg), ckpt, '--work-dir',
        str(tmp_path / 'single')
    ], env, tmp_path / 'single.log')
    assert 'Iter(test) [3/3]' in ddp.finish()  # 3 images per process
    assert 'Iter(test) [5/5]' in single.finish()
    got, ref = _metrics(tmp_path / 'ddp'), _metrics(tmp_path / 'single')
    assert 'tiny_val/MAE' in ref
    assert got.keys() == ref.keys()
    for k in ref:
        assert abs(got[k] - ref[k]) < 1e-9, (k, got[k], ref[k])
