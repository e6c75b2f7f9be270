"""Folding: the output of removed channels becomes constants of their
consumers (see the package docstring for the maths)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from csnet_mmseg.models.decode_heads.csf_head import MultiDilationConv
from csnet_mmseg.models.layers import GOctConv
from .graph import (Consumer, PrunableUnit, PruningError, prunable_parts,
                    prunable_units)
from .plan import PruningPlan
from .slicing import indices

Maps = List[Optional[Tensor]]


def as_batches(calib) -> List[Tensor]:
    """Calibration input as a list of image batches (empty for None)."""
    if calib is None:
        return []
    if isinstance(calib, Tensor):
        return [calib]
    return list(calib)


def _shapes(xs: Sequence[Optional[Tensor]]) -> List[Optional[torch.Size]]:
    return [None if x is None else x.shape for x in xs]


def _outputs(out) -> list:
    return out if isinstance(out, (list, tuple)) else [out]


class _Recorder:
    """Records, during forwards, the output shapes of units, the input
    shapes (and ``base_size``) of gOctConv consumers and, optionally, the
    sum over images of the units' outputs."""

    def __init__(self) -> None:
        self.inputs: Dict[str, tuple] = {}
        self.shapes: Dict[str, list] = {}
        self.sums: Dict[str, Maps] = {}
        self.count = 0
        self.handles = []

    def watch_input(self, name: str, module: nn.Module) -> None:

        def hook(_module, args):
            xs = args[0]
            base = args[1] if len(args) > 1 else None
            self.inputs.setdefault(name, (_shapes(xs), base))

        self.handles.append(module.register_forward_pre_hook(hook))

    def watch_shapes(self, name: str, module: nn.Module) -> None:

        def hook(_module, _args, out):
            self.shapes.setdefault(name, _shapes(_outputs(out)))

        self.handles.append(module.register_forward_hook(hook))

    def watch_output(self, name: str, module: nn.Module) -> None:

        def hook(_module, _args, out):
            sums = [
                None if o is None else o.detach().sum(0, keepdim=True)
                for o in _outputs(out)
            ]
            old = self.sums.get(name)
            self.sums[name] = sums if old is None else [
                None if a is None else a + b for a, b in zip(old, sums)
            ]

        self.handles.append(module.register_forward_hook(hook))

    def mean(self, name: str) -> Maps:
        return [
            None if t is None else t / self.count for t in self.sums[name]
        ]

    def close(self) -> None:
        for h in self.handles:
            h.remove()


@torch.no_grad()
def _record(wide: nn.Module, units: Sequence[PrunableUnit],
            input_size: Tuple[int, int], calib=None) -> _Recorder:
    """Run the wide model (eval) once on zeros of ``input_size`` - or on the
    calibration batches - recording shapes and, with calibration, the mean
    output of every unit."""
    backbone, head = prunable_parts(wide)
    rec = _Recorder()
    watched = set()
    for unit in units:
        rec.watch_shapes(unit.name, unit.layer)
        if calib is not None:
            rec.watch_output(unit.name, unit.output)
        for c in unit.consumers:
            if isinstance(c.module, GOctConv) and c.name not in watched:
                watched.add(c.name)
                rec.watch_input(c.name, c.module)
    training = wide.training
    wide.eval()
    param = next(wide.parameters())
    batches = as_batches(calib) or [
        torch.zeros(1, backbone.stem.in_channels[0], *input_size)
    ]
    try:
        for x in batches:
            x = x.to(param)
            if x.shape[-2:] != batches[0].shape[-2:]:
                raise PruningError(
                    'calibration batches must share one image size, got '
                    f'{tuple(batches[0].shape[-2:])} and '
                    f'{tuple(x.shape[-2:])}')
            head(wide.extract_feat(x))
            rec.count += x.shape[0]
    finally:
        rec.close()
        wide.train(training)
    return rec


def _const_maps(norm_act: nn.Module, shapes: Sequence[Optional[torch.Size]],
                removed: Sequence[Tensor]) -> Maps:
    """Per scale, maps of act(beta) on removed channels, 0 on kept ones.

    With ``gamma = 0`` the BN outputs ``beta`` whatever its input, so this
    is exactly what a removed channel emits (for a tiny non-zero gamma, the
    image-dependent part ``gamma * x_hat`` is what pruning drops).
    """
    out = []
    for j, shape in enumerate(shapes):
        if shape is None:
            out.append(None)
            continue
        c = shape[1]
        beta = norm_act.norms[j].bias.detach().view(1, c, 1, 1)
        value = norm_act.acts[j](beta) * removed[j].view(1, c, 1, 1)
        out.append(value.expand(1, *shape[1:]).contiguous())
    return out


def _masked(xs: Maps, removed: Sequence[Tensor]) -> Maps:
    return [
        None if x is None else x * removed[j].view(1, -1, 1, 1).to(x.dtype)
        for j, x in enumerate(xs)
    ]


def _spatial_mean(ys: Maps) -> Maps:
    return [None if y is None else y.mean(dim=(0, 2, 3)) for y in ys]


def _fold_into_norms(norm_act: nn.Module, deltas: Maps,
                     keeps: Sequence[Tensor]) -> None:
    """Add the constant input ``delta`` (per wide channel) to the BN
    running means of the kept channels of the narrowed layer."""
    for j, delta in enumerate(deltas):
        if delta is None or keeps[j].sum() == 0:
            continue
        norm = norm_act.norms[j]
        if not isinstance(norm, _BatchNorm) or norm.running_mean is None:
            raise PruningError('folding needs BatchNorm layers with running '
                               'statistics in the consumers')
        # BN(x + d) with running mean m == BN(x) with running mean m - d
        norm.running_mean.sub_(delta[indices(keeps[j])].to(norm.running_mean))


def _removed_output(unit: PrunableUnit, plan: PruningPlan, rec: _Recorder,
                    calibrated: bool,
                    replaced: Dict[int, Tensor]) -> Optional[Maps]:
    """Per output scale, the map that the unit's removed channels emit
    (after its followers; 0 on kept channels; None where a scale loses
    nothing), or None if the unit loses nothing.

    Data-free it is their image-independent part, ``act(beta)`` through the
    followers at ``input_size``; calibrated, their mean output over the
    calibration images. ``replaced`` overrides scales whose output is known
    otherwise (a multi-dilation scale without input).
    """
    removed = [~k for k in plan.scale_keep(unit.name)]
    if sum(int(r.sum()) for r in removed) == 0:
        return None
    if calibrated:
        maps = _masked(rec.mean(unit.name), removed)
    else:
        maps = _const_maps(unit.layer.norm_act, rec.shapes[unit.name],
                           removed)
        for _, follower in unit.followers:
            maps = follower(maps)
        maps = _masked(maps, removed)
    maps = [None if r.sum() == 0 else m for m, r in zip(maps, removed)]
    for s, y in replaced.items():
        maps[s] = y
    return maps


def _fold_consumer(c: Consumer, inputs: Dict[int, Tensor], narrow: nn.Module,
                   plan: PruningPlan, rec: _Recorder, calibrated: bool,
                   replaced: Dict[str, Dict[int, Tensor]]) -> None:
    """Fold removed-channel maps (per input scale of ``c``) into the
    narrowed consumer: through its linear part, spatially averaged, into its
    BN running means (the classifier: its bias)."""
    dst = narrow.get_submodule(c.name)
    if isinstance(c.module, GOctConv):
        shapes, base = rec.inputs[c.name]
        xs = [
            None if shape is None else inputs.get(
                i, torch.zeros(1, *shape[1:]))
            for i, shape in enumerate(shapes)
        ]
        deltas = _spatial_mean(c.module.forward_conv(xs, base))
        _fold_into_norms(dst.norm_act, deltas, plan.scale_keep(c.name))
    elif isinstance(c.module, MultiDilationConv):
        md = c.module
        keep = plan.scale_keep(c.name)
        deltas: Maps = [None] * len(keep)
        for s, fmap in inputs.items():
            branches = [
                conv(fmap) for conv in md.convs[s]
                if isinstance(conv, nn.Conv2d)
            ]
            if not branches:
                continue
            pre = torch.cat(branches, dim=1)
            if keep[s].sum() > 0:
                deltas[s] = pre.mean(dim=(0, 2, 3))
            elif s in plan.input_dead and not calibrated:
                # the whole fuse scale is gone: this multi-dilation scale
                # emits an image-independent map; it goes into merge like
                # the rest
                norm_act = md.norm_act
                replaced.setdefault(c.name, {})[s] = norm_act.acts[s](
                    norm_act.norms[s](pre))
        _fold_into_norms(dst.norm_act, deltas, keep)
    elif isinstance(c.module, nn.Conv2d):  # the 1x1 classifier with bias
        fmap = inputs[0]
        # data-free, a unit without followers emits a constant map: its mean
        # is its value at any pixel
        value = fmap.mean(dim=(0, 2, 3)) if calibrated else fmap[0, :, 0, 0]
        if dst.bias is None:
            raise PruningError(
                f"folding into {c.name.split('.')[-1]} needs its bias")
        dst.bias.add_(c.module.weight[:, :, 0, 0].detach() @ value)
    else:
        raise RuntimeError(f'pruning bug: no folding rule for {c.name} '
                           f'({type(c.module).__name__})')


@torch.no_grad()
def fold_removed(wide: nn.Module,
                 narrow: nn.Module,
                 plan: PruningPlan,
                 input_size: Tuple[int, int],
                 calib=None) -> None:
    """Fold the output of removed channels into the narrowed consumers.

    Without ``calib`` the output of a removed channel is its
    image-independent part (``act(beta)`` through its depthwise followers,
    at ``input_size``); with ``calib`` (a tensor or a sequence of
    preprocessed image batches) it is its mean output over those images.
    Either map goes through each consumer's (linear) convolution paths; the
    spatial mean of the result is added to the consumer's BN running mean.

    Units are visited in forward order; a consumer is folded once all units
    that feed it have been visited.
    """
    units = prunable_units(wide)
    rec = _record(wide, units, input_size, calib)
    calibrated = calib is not None
    consumers: Dict[str, Consumer] = {}
    pending: Dict[str, Dict[int, Tensor]] = {}
    replaced: Dict[str, Dict[int, Tensor]] = {}
    for unit in units:
        if unit.name in pending:
            _fold_consumer(consumers[unit.name], pending.pop(unit.name),
                           narrow, plan, rec, calibrated, replaced)
        maps = _removed_output(unit, plan, rec, calibrated,
                               replaced.get(unit.name, {}))
        if maps is None:
            continue
        for c in unit.consumers:
            consumers[c.name] = c
            for s, i in c.scales.items():
                if maps[s] is not None:
                    pending.setdefault(c.name, {})[i] = maps[s]
    for name, inputs in pending.items():  # consumers that are no unit
        _fold_consumer(consumers[name], inputs, narrow, plan, rec,
                       calibrated, replaced)
