"""CSNet's channel graph, stated once: every prunable unit of a segmentor.

A *unit* is a layer whose output channels pruning chooses (its BN gammas
decide), with

- its *followers*: layers that keep exactly its channels (the depthwise
  convs of an ILBlock, with their norms and activations);
- its *consumers*: layers that read its channels and lose the matching
  input slices.

CSNet's units, in forward order:

===============================  ==================  =========================
unit (chosen channels)           followers           consumers
===============================  ==================  =========================
``<block>.conv_mix`` (stem and   ``conv_dw1``,       the next block's
every stage block)               ``conv_dw2``        ``conv_mix``; for a stage
                                                     output the head reads:
                                                     ``decode_head.fuse``
``decode_head.fuse``             -                   ``multi_dilation`` (scale
                                                     s feeds its branches of
                                                     scale s)
``decode_head.multi_dilation``   -                   ``decode_head.merge``
(one BN per scale over its
dilation branches)
``decode_head.merge``            -                   ``decode_head.conv_seg``
===============================  ==================  =========================

Plan, slicing, absorbing and the summary loop over :func:`prunable_units`;
a new consumer of a unit's channels is added here, in one place (and a new
layer type gets its rule in :mod:`.rules`).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.model import is_model_wrapper
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from csnet_mmseg.models.backbones.csnet import CSNet
from csnet_mmseg.models.decode_heads.csf_head import CSFHead
from csnet_mmseg.models.parts import csnet_parts


class PruningError(ValueError):
    """The model cannot be pruned as asked (e.g. a layer would be empty)."""


@dataclass
class Consumer:
    """A layer that reads the channels of a unit.

    Args:
        name (str): Its module name in the segmentor.
        module (nn.Module): The layer (a ``GOctConv``, the
            ``MultiDilationConv`` or the ``conv_seg`` convolution).
        scales (dict[int, int]): Output scale of the unit -> the input scale
            of this layer that reads it.
    """
    name: str
    module: nn.Module
    scales: Dict[int, int]


@dataclass
class PrunableUnit:
    """A layer whose output channels are chosen, and who follows and
    consumes them.

    Args:
        name (str): Module name of the layer (``norm_act`` gammas decide).
        layer (nn.Module): A ``GOctConv`` or the ``MultiDilationConv``.
        followers (list[tuple[str, nn.Module]]): Depthwise ``GOctConv`` s
            (name, module) that keep the layer's channels, in order.
        consumers (list[Consumer]): Layers that read its channels (after
            the followers).
        row (str): Its row in the summary (the ILBlock for a block unit).
        row_module (nn.Module): The module counted in that row.
        branches (list[list[int]], optional): Per output scale, the
            channels of its parallel branches that share that scale's BN
            (the dilation branches), None for a plain layer.
        must_keep (str): Why the layer must keep a channel, added to the
            error of a threshold that would empty it. Defaults to ''.
    """
    name: str
    layer: nn.Module
    followers: List[Tuple[str, nn.Module]]
    consumers: List[Consumer]
    row: str
    row_module: nn.Module
    branches: Optional[List[List[int]]] = None
    must_keep: str = ''

    @property
    def groups(self) -> List[List[int]]:
        """Per output scale, the channels of each group pruned as one
        (the branches, or the whole scale)."""
        if self.branches is not None:
            return self.branches
        return [[c] for c in self.layer.out_channels]

    @property
    def output(self) -> nn.Module:
        """The module whose output carries the unit's channels (after the
        followers)."""
        return self.followers[-1][1] if self.followers else self.layer


def unwrap_model(model: nn.Module) -> nn.Module:
    """The segmentor inside a (DDP, ...) model wrapper."""
    return model.module if is_model_wrapper(model) else model


def prunable_parts(model: nn.Module) -> Tuple[CSNet, CSFHead]:
    """The CSNet backbone and CSF head of a segmentor, checked for pruning.

    Raises:
        NotCSNetError: If it is not a CSNet segmentor (or has a neck).
        PruningError: If it has what pruning cannot narrow (auxiliary heads,
            another input transform of the head).
    """
    backbone, head = csnet_parts(model, 'channel pruning')
    if getattr(model, 'with_auxiliary_head', False):
        raise PruningError('channel pruning does not support auxiliary heads '
                           '(their inputs would have to be narrowed too)')
    if head.input_transform != 'multiple_select':
        raise PruningError('channel pruning needs the CSF head with '
                           "input_transform='multiple_select'")
    return backbone, head


def head_input_blocks(backbone: CSNet, head: CSFHead) -> List[int]:
    """For every head input, the position (in ``backbone.blocks()``) of the
    backbone block whose output it is."""
    out_blocks = backbone.output_blocks()
    return [out_blocks[i] for i in head.in_index]


def prunable_units(model: nn.Module) -> List[PrunableUnit]:
    """Every prunable unit of a CSNet segmentor, in forward order.

    Args:
        model (nn.Module): The segmentor (a model wrapper is unwrapped).

    Returns:
        list[PrunableUnit]: The backbone blocks' mixing convs (stem first),
        then the head's ``fuse``, ``multi_dilation`` and ``merge``.
    """
    backbone, head = prunable_parts(unwrap_model(model))
    blocks = backbone.blocks()
    head_blocks = head_input_blocks(backbone, head)
    md = head.multi_dilation
    units = []
    for k, blk in enumerate(blocks):
        name = f'backbone.{blk.name}'
        consumers = []
        if k + 1 < len(blocks):
            nxt = blocks[k + 1].block.conv_mix
            consumers.append(
                Consumer(f'backbone.{blocks[k + 1].name}.conv_mix', nxt,
                         {j: j
                          for j in range(len(nxt.in_channels))}))
        for pos, b in enumerate(head_blocks):
            if b == k:
                consumers.append(Consumer('decode_head.fuse', head.fuse,
                                          {0: pos}))
        units.append(
            PrunableUnit(
                name=f'{name}.conv_mix',
                layer=blk.block.conv_mix,
                followers=[(f'{name}.conv_dw1', blk.block.conv_dw1),
                           (f'{name}.conv_dw2', blk.block.conv_dw2)],
                consumers=consumers,
                row=name,
                row_module=blk.block,
                must_keep=' (a stage output feeding the head must keep >= 1 '
                'channel)' if k in head_blocks else ''))
    same = {s: s for s in range(len(head.fuse_channels))}
    units.append(
        PrunableUnit(
            name='decode_head.fuse',
            layer=head.fuse,
            followers=[],
            consumers=[Consumer('decode_head.multi_dilation', md, same)],
            row='decode_head.fuse',
            row_module=head.fuse))
    units.append(
        PrunableUnit(
            name='decode_head.multi_dilation',
            layer=md,
            followers=[],
            consumers=[Consumer('decode_head.merge', head.merge, same)],
            row='decode_head.multi_dilation',
            row_module=md,
            branches=md.dilation_channels))
    units.append(
        PrunableUnit(
            name='decode_head.merge',
            layer=head.merge,
            followers=[],
            consumers=[
                Consumer('decode_head.conv_seg', head.conv_seg, {0: 0})
            ],
            row='decode_head.merge',
            row_module=head.merge))
    return units


def unit_gammas(unit: PrunableUnit) -> List[Tensor]:
    """Per output scale, |gamma| of the unit's norm (empty for an absent
    0-channel scale).

    Raises:
        PruningError: If a present scale is not normalised by an affine
            BatchNorm.
    """
    out = []
    for j, groups in enumerate(unit.groups):
        norm = unit.layer.norm_act.norms[j]
        if sum(groups) == 0:
            out.append(torch.zeros(0))
        elif not isinstance(norm, _BatchNorm) or norm.weight is None:
            raise PruningError(
                f'{unit.name}: channel pruning reads BatchNorm gammas, but '
                f'this layer normalises with {type(norm).__name__} (affine '
                'BN needed)')
        else:
            out.append(norm.weight.detach().abs().float().cpu())
    return out


def prunable_gammas(model: nn.Module) -> Tensor:
    """|gamma| of every prunable channel of a segmentor, in one tensor."""
    norms = [
        n for unit in prunable_units(model) for n in unit.layer.norm_act.norms
    ]
    return torch.cat([
        n.weight.detach().abs().flatten() for n in norms
        if getattr(n, 'weight', None) is not None
    ])


def summary_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The rows of the pruning summary: every unit, then the consumers that
    are no unit (the classifier)."""
    units = prunable_units(model)
    names = {u.name for u in units}
    rows = [(u.row, u.row_module) for u in units]
    for u in units:
        rows += [(c.name, c.module) for c in u.consumers
                 if c.name not in names]
    return rows

