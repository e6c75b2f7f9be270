"""Slicing: copy the surviving channels of the wide model into the narrowed
one, layer by layer, from the keep masks of the units that produce and
consume them (each layer type narrows by its rule, see :mod:`.rules`)."""
from typing import Dict, List

import torch
from torch import Tensor, nn

from .graph import prunable_units
from .plan import PruningPlan
from .rules import rule_for


def _num_inputs(module: nn.Module) -> List[int]:
    """Input channels per scale of a layer."""
    channels = module.in_channels
    return list(channels) if isinstance(channels, (list, tuple)) else \
        [channels]


@torch.no_grad()
def slice_model(wide: nn.Module, narrow: nn.Module,
                plan: PruningPlan) -> None:
    """Copy the surviving slices of ``wide`` into ``narrow``.

    Every unit narrows its own outputs and its followers (both sides); every
    consumer loses the input columns of the removed channels it reads.
    Tensors of unchanged shape (e.g. the classifier bias) are copied as
    they are.

    Raises:
        PruningError: If a layer has no pruning rule (naming its path).
    """
    wide_sd = wide.state_dict()
    narrow_sd = narrow.state_dict()
    same = {
        k: v
        for k, v in wide_sd.items()
        if k in narrow_sd and v.shape == narrow_sd[k].shape
    }
    narrow.load_state_dict(same, strict=False)

    layers: Dict[str, nn.Module] = {}
    keep_out: Dict[str, List[List[Tensor]]] = {}
    keep_in: Dict[str, Dict[int, Tensor]] = {}
    for unit in prunable_units(wide):
        keep = plan.keep[unit.name]
        layers[unit.name] = unit.layer
        keep_out[unit.name] = keep
        for name, follower in unit.followers:
            layers[name] = follower
            keep_out[name] = keep
        for c in unit.consumers:
            layers.setdefault(c.name, c.module)
            flat = plan.scale_keep(unit.name)
            for s, i in c.scales.items():
                keep_in.setdefault(c.name, {})[i] = flat[s]
    for name, src in layers.items():
        rule = rule_for(src, name)
        ins = [
            keep_in.get(name, {}).get(i, torch.ones(c, dtype=torch.bool))
            for i, c in enumerate(_num_inputs(src))
        ]
        outs = keep_out.get(name, [])
        rule.narrow(src, narrow.get_submodule(name), ins, outs, name)
