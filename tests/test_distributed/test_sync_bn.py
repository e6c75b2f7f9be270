"""SyncBN for the backbone and the head: ``norm_cfg=dict(type='SyncBN')``
builds torch's SyncBatchNorm everywhere the model has a BN; in one process
MMEngine reverts it to BN (the same numbers); on CPU it cannot synchronise
(torch refuses CPU tensors), so SyncBN needs GPUs with NCCL."""
import socket

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from torch import nn

from csnet_mmseg.engine.optimizers import find_dwd_targets
from mmseg.registry import MODELS

SYNC_BN = dict(type='SyncBN', requires_grad=True)


def _models():
    cfg = Config.fromfile('configs/csnet_l_x1.py')
    bn = MODELS.build(cfg.model)
    cfg.merge_from_dict({  # as --cfg-options model.backbone.norm_cfg.type=...
        'model.backbone.norm_cfg': SYNC_BN,
        'model.decode_head.norm_cfg': SYNC_BN
    })
    sync = MODELS.build(cfg.model)
    sync.load_state_dict(bn.state_dict())
    return bn, sync


def _count(model, cls):
    return sum(isinstance(m, cls) for m in model.modules())


def test_sync_bn_builds_everywhere_and_reverts_to_bn():
    bn, sync = _models()
    n_bn = _count(bn, nn.BatchNorm2d)
    assert n_bn > 100
    assert _count(sync, nn.SyncBatchNorm) == n_bn
    assert _count(sync, nn.BatchNorm2d) == 0
    # dynamic weight decay finds the same gammas
    assert [t.name for t in find_dwd_targets(sync)] == \
        [t.name for t in find_dwd_targets(bn)]

    reverted = revert_sync_batchnorm(sync)  # what a 1-process Runner does
    assert _count(reverted, nn.SyncBatchNorm) == 0
    assert _count(reverted, nn.modules.batchnorm._BatchNorm) == n_bn
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    bn.train()
    reverted.train()
    out_bn = bn._forward(x)
    out_rev = reverted._forward(x)
    torch.testing.assert_close(out_rev, out_bn)
    torch.testing.assert_close(reverted.state_dict(), bn.state_dict())


def test_sync_bn_cannot_run_on_cpu():
    _, sync = _models()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=0, world_size=1)
    try:
        sync.train()
        with pytest.raises(ValueError, match='SyncBatchNorm expected input '
                           'tensor to be on GPU'):
            sync._forward(torch.randn(2, 3, 32, 32))
    finally:
        dist.destroy_process_group()
