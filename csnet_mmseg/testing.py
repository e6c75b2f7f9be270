"""Small CSNet models with random weights, for tests and benchmarks.

As ``mmdet.testing`` does for MMDetection: tiny layer tables, their model
configs (from this repository's ``configs/``) and a random-weights helper
that makes BN folding and channel pruning errors visible (random running
statistics, affine parameters and PReLU slopes instead of the identity
initialisation).
"""
import copy
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from torch import nn

#: ``configs/`` of the repository this package is checked out in.
CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
BASE_MODEL = osp.join(CONFIG_DIR, '_base_', 'models', 'csnet.py')

#: A small layer table with absent (0-channel) scales in the backbone and
#: the head, a 3-scale block, and 0-channel dilation branches.
TINY_TABLE = dict(
    backbone=dict(
        stem_channels=[4, 3],
        stage_channels=[
            [[4, 3], [0, 5]],
            [[6, 4], [5, 0], [8]],
            [[6, 6], [10]],
            [[5, 7], [3, 4, 2], [12]],
        ]),
    decode_head=dict(
        in_channels=[8, 10, 12],
        fuse_channels=[4, 0, 6],
        dilation_channels=[[1, 0, 2, 1, 0], [0, 0, 0, 0, 0], [2, 1, 0, 0, 1]],
        channels=6))

#: A small layer table where every scale and branch is present (two
#: blocks per stage, 2-scale blocks, single-scale stage outputs).
SMALL_TABLE = dict(
    backbone=dict(
        stem_channels=[4, 4],
        stage_channels=[
            [[4, 4], [4, 4]],
            [[6, 6], [8]],
            [[6, 6], [8]],
            [[6, 6], [8]],
        ]),
    decode_head=dict(
        in_channels=[8, 8, 8],
        fuse_channels=[4, 4, 4],
        dilation_channels=[[1, 1, 1, 1, 1], [2, 1, 1, 1, 1],
                           [1, 1, 2, 1, 1]],
        channels=6))


def tiny_model_cfg(table: Optional[dict] = None) -> Config:
    """The segmentor config of ``configs/_base_/models/csnet.py`` with the
    layer table replaced by ``table`` (None: the released x1 table)."""
    cfg = Config.fromfile(BASE_MODEL).model
    if table is not None:
        for part in ('backbone', 'decode_head'):
            cfg[part].update(copy.deepcopy(table[part]))
    return cfg


def randomise_weights(model: nn.Module,
                      seed: int = 0,
                      convs: bool = True) -> nn.Module:
    """Random weights for a model, in place; returns it in eval mode.

    BN running statistics and affine parameters and PReLU slopes (some
    negative) are drawn at random, so that folding errors cannot hide behind
    identity BNs.

    Args:
        model (nn.Module): The model.
        seed (int): Seed of the generator. Defaults to 0.
        convs (bool): Also draw convolution weights (He-scaled) and the
            ``conv_seg`` bias. Defaults to True.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if convs:
            for name, p in model.named_parameters():
                if p.dim() == 4:
                    p.copy_(
                        torch.randn(p.shape, generator=g) *
                        (2.0 / (p[0].numel()))**0.5)
                elif 'conv_seg.bias' in name:
                    p.copy_(torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) * 2 + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.5)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) - 0.3)
    return model.eval()


def build_random_segmentor(table: Optional[dict] = None,
                           seed: int = 0) -> nn.Module:
    """A CSNet segmentor of ``table`` with :func:`randomise_weights`."""
    from mmseg.registry import MODELS
    torch.manual_seed(seed)
    return randomise_weights(MODELS.build(tiny_model_cfg(table)), seed)


def write_tiny_config(path: str, table: Optional[dict] = None) -> str:
    """Write a model config of ``table`` (None: :data:`TINY_TABLE`) that
    inherits ``configs/_base_/models/csnet.py``; returns ``path``."""
    table = TINY_TABLE if table is None else table
    bb, head = table['backbone'], table['decode_head']
    with open(path, 'w') as f:
        f.write(f'_base_ = [{BASE_MODEL!r}]\n'
                f'model = dict(backbone=dict(stem_channels='
                f"{bb['stem_channels']}, stage_channels="
                f"{bb['stage_channels']}), decode_head=dict(" +
                ', '.join(f'{k}={v!r}' for k, v in head.items()) + '))\n')
    return path


def write_tiny_checkpoint(path: str,
                          table: Optional[dict] = None,
                          seed: int = 0) -> nn.Module:
    """Save the weights of :func:`build_random_segmentor` (``table``, None:
    :data:`TINY_TABLE`) as ``dict(state_dict=..., meta={})`` at ``path``;
    returns the segmentor."""
    seg = build_random_segmentor(TINY_TABLE if table is None else table,
                                 seed=seed)
    torch.save(dict(state_dict=seg.state_dict(), meta=dict()), str(path))
    return seg
