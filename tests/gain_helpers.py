"""Gain-100 CSNet models for the conv-gain tests (tiny tables, random
weights)."""
import copy
from typing import Optional

import torch
from torch import nn

from mmseg.registry import MODELS

from csnet_mmseg.models.layers import RELEASED_CONV_GAIN, scaled_convs
from csnet_mmseg.testing import randomise_weights, tiny_model_cfg


def gain_cfg(table: Optional[dict], gain: Optional[float]) -> dict:
    """The tiny model config of ``table`` with conv gain ``gain`` (None:
    no ``conv_cfg``, today's plain convs)."""
    cfg = tiny_model_cfg(table)
    if gain is not None:
        conv_cfg = dict(type='ScaledConv2d', gain=float(gain))
        cfg.backbone.conv_cfg = copy.deepcopy(conv_cfg)
        cfg.decode_head.conv_cfg = copy.deepcopy(conv_cfg)
    return cfg


def divide_by_gain(model: nn.Module) -> nn.Module:
    """Store ``W / gain`` in every scaled conv, in place: a model whose
    stored weights were drawn as effective weights gets those effective
    weights."""
    with torch.no_grad():
        for _, module in scaled_convs(model):
            module.weight.div_(module.gain)
    return model


def build_gain_segmentor(table: Optional[dict],
                         gain: Optional[float] = RELEASED_CONV_GAIN,
                         seed: int = 0) -> nn.Module:
    """A segmentor of ``table`` and conv gain ``gain`` with
    :func:`randomise_weights` drawn as effective weights (so that its
    function is that of the gain-1 model of the same seed)."""
    torch.manual_seed(seed)
    model = MODELS.build(gain_cfg(table, gain))
    return divide_by_gain(randomise_weights(model, seed))


def gain_one_state_dict(model: nn.Module) -> dict:
    """The state dict of the gain-1 model with the same function as
    ``model`` (scaled weights multiplied by their gain, no gain tensors)."""
    sd = {k: v.clone() for k, v in model.state_dict().items()
          if not k.endswith('conv_gain')}
    for name, module in scaled_convs(model):
        sd[f'{name}.weight'] = module.weight.detach() * module.gain
    return sd
