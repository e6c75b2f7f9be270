"""Slicing: copy the surviving channels of the wide model into the narrowed
one, layer by layer, from the keep masks of the units that produce and
consume them."""
from typing import Dict, List, Sequence

import torch
from torch import Tensor, nn

from csnet_mmseg.models.decode_heads.csf_head import MultiDilationConv
from csnet_mmseg.models.layers import GOctConv
from .graph import prunable_units
from .plan import PruningPlan


def indices(mask: Tensor) -> Tensor:
    """Positions of the True entries of a boolean mask."""
    return torch.nonzero(mask, as_tuple=False).flatten()


def _copy(dst: Tensor, src: Tensor, what: str) -> None:
    if dst.shape != src.shape:
        raise RuntimeError(f'pruning bug: {what} has shape {tuple(dst.shape)}'
                           f' in the narrowed model, slice is '
                           f'{tuple(src.shape)}')
    dst.copy_(src)


def _slice_norm_act(src: nn.Module, dst: nn.Module, keeps: Sequence[Tensor],
                    name: str) -> None:
    """Copy the kept channels of every per-scale norm and activation."""
    for j, keep in enumerate(keeps):
        if keep.sum() == 0:
            continue
        idx = indices(keep)
        for part, s_mod, d_mod in (('norms', src.norms[j], dst.norms[j]),
                                   ('acts', src.acts[j], dst.acts[j])):
            s_state = dict(s_mod.named_parameters())
            s_state.update(dict(s_mod.named_buffers()))
            d_state = dict(d_mod.named_parameters())
            d_state.update(dict(d_mod.named_buffers()))
            if set(s_state) != set(d_state):
                raise RuntimeError(f'pruning bug: {name}.{part}.{j} differs '
                                   'between wide and narrowed model')
            for key, value in s_state.items():
                # per-channel tensors are sliced; shared ones (a PReLU
                # with one slope, num_batches_tracked) are copied
                if value.dim() >= 1 and value.shape[0] == len(keep) and \
                        d_state[key].shape[0] == len(idx):
                    value = value[idx]
                _copy(d_state[key].data, value.detach(),
                      f'{name}.{part}.{j}.{key}')


def _slice_layer(src: nn.Module, dst: nn.Module, keep_in: List[Tensor],
                 keep_out: List[List[Tensor]], name: str) -> None:
    """Narrow one layer: its output channels to ``keep_out`` (per scale,
    per group), its input channels to ``keep_in`` (per input scale)."""
    flat_out = [torch.cat(groups) for groups in keep_out]
    if isinstance(src, GOctConv):
        _copy(dst.weight.data,
              src.narrowed_weight(keep_in, flat_out, gain=dst.gain),
              f'{name}.weight')
        _slice_norm_act(src.norm_act, dst.norm_act, flat_out,
                        f'{name}.norm_act')
    elif isinstance(src, MultiDilationConv):
        for s, groups in enumerate(keep_out):
            for k, keep in enumerate(groups):
                if keep.sum() == 0:
                    continue
                w = src.convs[s][k].weight.detach()[indices(keep)]
                _copy(dst.convs[s][k].weight.data, w[:, indices(keep_in[s])],
                      f'{name}.convs.{s}.{k}.weight')
        _slice_norm_act(src.norm_act, dst.norm_act, flat_out,
                        f'{name}.norm_act')
    elif isinstance(src, nn.Conv2d):  # the classifier: all outputs stay
        _copy(dst.weight.data, src.weight.detach()[:, indices(keep_in[0])],
              f'{name}.weight')
    else:
        raise RuntimeError(f'pruning bug: no slicing rule for {name} '
                           f'({type(src).__name__})')


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
        ins = [
            keep_in.get(name, {}).get(i, torch.ones(c, dtype=torch.bool))
            for i, c in enumerate(_num_inputs(src))
        ]
        outs = keep_out.get(name, [])
        _slice_layer(src, narrow.get_submodule(name), ins, outs, name)
