"""Which BatchNorm scales (gammas) dynamic weight decay acts on."""
import re
from dataclasses import dataclass
from typing import List, Optional

from torch import nn

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from ...models.layers import GOctConv, ScaleNormAct


@dataclass
class DWDTarget:
    """One targeted norm layer.

    Attributes:
        name (str): Full module name of the norm, e.g.
            ``'backbone.stem.conv_mix.norm_act.norms.0'``.
        norm (nn.Module): The norm; its ``weight`` is the decayed gamma.
        act (nn.Module): The activation after it; the channel statistic ``S``
            is measured on this module's output (BN + activation).
        scale (int): The scale index of the norm in its layer (0 = finest).
        in_head (bool): Whether the norm lies inside a decode head.
    """
    name: str
    norm: nn.Module
    act: nn.Module
    scale: int
    in_head: bool

    @property
    def gamma(self) -> nn.Parameter:
        return self.norm.weight


def find_dwd_targets(model: nn.Module,
                     include_head: bool = False,
                     target_regex: Optional[str] = None) -> List[DWDTarget]:
    """Find the norm layers that dynamic weight decay acts on.

    Candidates are the per-scale norms (``norm_act.norms[j]``) of
    :class:`ScaleNormAct` modules, i.e. of every :class:`GOctConv` (the
    scale-mixing and the depthwise ones) and of the head's multi-dilation
    convolution. Absent scales (``nn.Identity``) and norms without a trainable
    affine weight are skipped.

    Args:
        model (nn.Module): The model (a DDP wrapper is unwrapped).
        include_head (bool): Also target the norms inside decode heads (their
            GOctConvs and the multi-dilation norms). Defaults to False: only
            GOctConvs outside decode heads (the backbone), as in the paper.
        target_regex (str, optional): Keep only the candidates whose full norm
            name matches this regular expression (``re.search``), e.g.
            ``r'backbone\\.stages\\.[23]\\.'``. Defaults to None (keep all).

    Returns:
        list[DWDTarget]: In ``model.named_modules()`` order.
    """
    if hasattr(model, 'module') and isinstance(model.module, nn.Module):
        model = model.module
    pattern = None
    if target_regex is not None:
        try:
            pattern = re.compile(target_regex)
        except re.error as e:
            raise ValueError(
                'dynamic weight decay: invalid target_regex '
                f'{target_regex!r}: {e}') from e
    head_prefixes = [
        name + '.' for name, m in model.named_modules()
        if isinstance(m, BaseDecodeHead)
    ]
    owners = {}
    for name, m in model.named_modules():
        for child_name, child in m.named_children():
            if isinstance(child, ScaleNormAct):
                owners[id(child)] = m
    targets = []
    for name, m in model.named_modules():
        if not isinstance(m, ScaleNormAct):
            continue
        in_head = any((name + '.').startswith(p) for p in head_prefixes)
        if in_head and not include_head:
            continue
        if not in_head and not isinstance(owners.get(id(m)), GOctConv):
            continue
        for j, (norm, act) in enumerate(zip(m.norms, m.acts)):
            weight = getattr(norm, 'weight', None)
            trainable = isinstance(weight, nn.Parameter) and \
                weight.requires_grad
            if not trainable:
                continue
            norm_name = f'{name}.norms.{j}' if name else f'norms.{j}'
            if pattern is not None and not pattern.search(norm_name):
                continue
            targets.append(DWDTarget(norm_name, norm, act, j, in_head))
    return targets


__all__ = ['DWDTarget', 'find_dwd_targets']
