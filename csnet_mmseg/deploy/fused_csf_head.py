"""Deploy-time cross-stage fusion (CSF) head."""
from typing import List, Sequence

import torch
from torch import Tensor, nn

from csnet_mmseg.models.decode_heads.csf_head import (CSFHead,
                                                      MultiDilationConv)
from csnet_mmseg.models.layers import ScaledConv2d
from .fold import copy_act, norm_scale_shift
from .fused_goct_conv import FusedGOctConv, MultiScale, _frozen
from .ops import conv2d


class FusedMultiDilationConv(nn.Module):
    """Eval-only :class:`MultiDilationConv`: the per-scale norm is folded into
    each dilation branch (its slice of the norm's channels), so a scale is
    its branch convolutions (with bias), one concatenation and the
    activation.

    Args:
        module (MultiDilationConv): The trained module; it is not modified.
    """

    def __init__(self, module: MultiDilationConv) -> None:
        super().__init__()
        self.out_channels = list(module.out_channels)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        # per scale: None or [(weight index, dilation)]
        self.plan: List = []
        acts = []
        for s, branches in enumerate(module.convs):
            convs = [(c, d) for c, d in zip(branches, module.dilations)
                     if isinstance(c, nn.Conv2d)]
            if not convs:
                self.plan.append(None)
                acts.append(None)
                continue
            ref = convs[0][0].weight
            scale, shift = norm_scale_shift(module.norm_act.norms[s],
                                            self.out_channels[s], ref)
            entries, start = [], 0
            for conv, d in convs:
                c = conv.out_channels
                sc, sh = scale[start:start + c], shift[start:start + c]
                with torch.no_grad():
                    # the conv gain (ScaledConv2d) folded into the weight
                    weight = conv.scaled_weight() if isinstance(
                        conv, ScaledConv2d) else conv.weight
                    w = weight * sc.view(-1, 1, 1, 1)
                    b = sh if conv.bias is None else conv.bias * sc + sh
                entries.append((len(self.weights), int(conv.dilation[0]),
                                int(conv.padding[0])))
                self.weights.append(_frozen(w))
                self.biases.append(_frozen(b))
                start += c
            self.plan.append(entries)
            acts.append(copy_act(module.norm_act.acts[s]))
        self.acts = nn.ModuleList(
            [nn.Identity() if a is None else a for a in acts])
        self.has_act = [a is not None for a in acts]

    def forward(self, xs: MultiScale) -> MultiScale:
        outs: MultiScale = []
        for s, entries in enumerate(self.plan):
            x = xs[s]
            if entries is None or x is None:
                outs.append(None)
                continue
            ys = [
                conv2d(x, self.weights[k], self.biases[k], p, d)
                for k, d, p in entries
            ]
            y = ys[0] if len(ys) == 1 else torch.cat(ys, dim=1)
            outs.append(self.acts[s](y) if self.has_act[s] else y)
        return outs


class FusedCSFHead(nn.Module):
    """Eval-only :class:`CSFHead`: logits at the finest selected input.

    Args:
        head (CSFHead): The trained head; it is not modified.
    """

    def __init__(self, head: CSFHead) -> None:
        super().__init__()
        if not isinstance(head, CSFHead):
            raise TypeError(
                f'FusedCSFHead needs a CSFHead, got {type(head).__name__}')
        if head.input_transform != 'multiple_select':
            raise ValueError('FusedCSFHead supports input_transform='
                             f"'multiple_select', got {head.input_transform}")
        self.in_index = list(head.in_index)
        self.align_corners = head.align_corners
        self.out_channels = head.out_channels
        self.fuse = FusedGOctConv(head.fuse)
        self.multi_dilation = FusedMultiDilationConv(head.multi_dilation)
        self.merge = FusedGOctConv(head.merge)
        seg = head.conv_seg
        self.seg_weight = _frozen(seg.weight)
        self.seg_bias = _frozen(
            seg.bias if seg.bias is not None else torch.zeros(
                seg.out_channels,
                dtype=seg.weight.dtype,
                device=seg.weight.device))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        xs = [inputs[i] for i in self.in_index]
        size = xs[0].shape[-2:]
        xs = self.fuse(xs, size)
        xs = self.multi_dilation(xs)
        return conv2d(self.merge(xs, size)[0], self.seg_weight, self.seg_bias)
