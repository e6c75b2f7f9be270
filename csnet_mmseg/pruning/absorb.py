"""Absorbing: the output of removed channels becomes constants of their
consumers (see the package docstring for the maths; each consumer type
absorbs by its rule, see :mod:`.rules`)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .graph import Consumer, PrunableUnit, PruningError, prunable_parts, \
    prunable_units
from .plan import PruningPlan
from .rules import AbsorbContext, Maps, rule_for


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
    shapes (and ``base_size``) of the consumers whose rule needs them and,
    optionally, the
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
            if rule_for(c.module, c.name).needs_input_shapes and \
                    c.name not in watched:
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


def _absorb_into_consumer(c: Consumer, inputs: Dict[int, Tensor],
                          narrow: nn.Module, ctx: AbsorbContext) -> None:
    """Absorb removed-channel maps (per input scale of ``c``) into the
    narrowed consumer, by the rule of its layer type."""
    rule_for(c.module, c.name).absorb(c.name, c.module,
                                      narrow.get_submodule(c.name), inputs,
                                      ctx)


@torch.no_grad()
def absorb_removed_channels(wide: nn.Module,
                            narrow: nn.Module,
                            plan: PruningPlan,
                            input_size: Tuple[int, int],
                            calib=None) -> None:
    """Absorb the output of removed channels into the narrowed consumers.

    Without ``calib`` the output of a removed channel is its
    image-independent part (``act(beta)`` through its depthwise followers,
    at ``input_size``); with ``calib`` (a tensor or a sequence of
    preprocessed image batches) it is its mean output over those images.
    Either map goes through each consumer's (linear) convolution paths; the
    spatial mean of the result is added to the consumer's BN running mean
    (the classifier: its bias).

    Units are visited in forward order; a consumer absorbs once all units
    that feed it have been visited.

    Raises:
        PruningError: If a consumer has no pruning rule (naming its path).
    """
    units = prunable_units(wide)
    rec = _record(wide, units, input_size, calib)
    ctx = AbsorbContext(
        plan=plan, calibrated=calib is not None, input_shapes=rec.inputs)
    consumers: Dict[str, Consumer] = {}
    pending: Dict[str, Dict[int, Tensor]] = {}
    for unit in units:
        if unit.name in pending:
            _absorb_into_consumer(consumers[unit.name],
                                  pending.pop(unit.name), narrow, ctx)
        maps = _removed_output(unit, plan, rec, ctx.calibrated,
                               ctx.replaced.get(unit.name, {}))
        if maps is None:
            continue
        for c in unit.consumers:
            consumers[c.name] = c
            for s, i in c.scales.items():
                if maps[s] is not None:
                    pending.setdefault(c.name, {})[i] = maps[s]
    for name, inputs in pending.items():  # consumers that are no unit
        _absorb_into_consumer(consumers[name], inputs, narrow, ctx)
