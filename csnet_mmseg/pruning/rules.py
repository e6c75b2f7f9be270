"""The pruning rules of every layer type, stated once.

A rule says, for one layer type, how pruning treats a layer of it:

- :meth:`LayerRule.narrow`: copy the kept channels of the wide layer into
  the narrowed one (its output channels as a unit or follower, its input
  channels as a consumer);
- :meth:`LayerRule.absorb`: as a consumer, take the output of removed
  channels (maps per input scale) into its constants (BN running means, or
  a bias), see :mod:`csnet_mmseg.pruning.absorb`;
- :meth:`LayerRule.channels`: its channels per scale, as the summary
  writes them.

:func:`rule_for` looks a module's rule up by its type (the nearest class in
its MRO that has one); a layer without a rule is refused with its module
path. The layer types are the ones :func:`~.graph.prunable_units` produces:
``GOctConv`` (units, followers, consumers), ``MultiDilationConv`` (a unit
and a consumer), ``nn.Conv2d`` (the classifier ``conv_seg``, a consumer)
and ``ILBlock`` (a summary row).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Type

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from csnet_mmseg.models.decode_heads.csf_head import MultiDilationConv
from csnet_mmseg.models.layers import GOctConv, ILBlock
from .graph import PruningError
from .plan import PruningPlan

__all__ = [
    'LayerRule', 'GOctConvRule', 'MultiDilationRule', 'ClassifierRule',
    'ILBlockRule', 'AbsorbContext', 'RULES', 'register_rule', 'rule_for',
    'indices'
]

#: Maps of a removed channel set: one tensor per scale (None: absent).
Maps = List[Optional[Tensor]]


def indices(mask: Tensor) -> Tensor:
    """Positions of the True entries of a boolean mask."""
    return torch.nonzero(mask, as_tuple=False).flatten()


def copy_checked(dst: Tensor, src: Tensor, what: str) -> None:
    """``dst.copy_(src)`` after checking that the shapes agree."""
    if dst.shape != src.shape:
        raise RuntimeError(f'pruning bug: {what} has shape {tuple(dst.shape)}'
                           f' in the narrowed model, slice is '
                           f'{tuple(src.shape)}')
    dst.copy_(src)


def narrow_norm_act(src: nn.Module, dst: nn.Module, keeps: Sequence[Tensor],
                    name: str) -> None:
    """Copy the kept channels of every per-scale norm and activation of a
    ``ScaleNormAct``."""
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
                copy_checked(d_state[key].data, value.detach(),
                             f'{name}.{part}.{j}.{key}')


def spatial_mean(ys: Maps) -> Maps:
    """Per scale, the mean over batch and space of each channel."""
    return [None if y is None else y.mean(dim=(0, 2, 3)) for y in ys]


def absorb_into_norms(norm_act: nn.Module, deltas: Maps,
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


@dataclass
class AbsorbContext:
    """What a consumer's :meth:`LayerRule.absorb` may read and record.

    Args:
        plan (PruningPlan): The keep masks.
        calibrated (bool): Whether the maps are mean outputs over
            calibration images (else the data-free image-independent part).
        input_shapes (dict): Per consumer that asked for them
            (:attr:`LayerRule.needs_input_shapes`), ``(shapes, base_size)``
            of its inputs in the recorded forward.
        replaced (dict): Per unit, per output scale, a map that replaces
            the unit's removed-channel output (filled by consumers whose
            own output became image-independent).
    """
    plan: PruningPlan
    calibrated: bool
    input_shapes: Dict[str, tuple] = field(default_factory=dict)
    replaced: Dict[str, Dict[int, Tensor]] = field(default_factory=dict)


class LayerRule:
    """How pruning narrows, absorbs into and describes one layer type.

    Subclasses set :attr:`layer_type` and override what the type supports;
    the defaults refuse with the module path.
    """

    #: The layer type the rule is for.
    layer_type: Type[nn.Module] = nn.Module
    #: Whether :meth:`absorb` needs the input shapes of the recorded
    #: forward (``AbsorbContext.input_shapes[name]``).
    needs_input_shapes: bool = False

    def _refuse(self, what: str, name: str, module: nn.Module) -> None:
        raise PruningError(f'{name}: channel pruning cannot {what} a layer '
                           f'of type {type(module).__name__}')

    def narrow(self, src: nn.Module, dst: nn.Module, keep_in: List[Tensor],
               keep_out: List[List[Tensor]], name: str) -> None:
        """Copy the kept channels of ``src`` into the narrowed ``dst``.

        Args:
            src (nn.Module): The wide layer.
            dst (nn.Module): The narrowed layer (same name).
            keep_in (list[Tensor]): Per input scale, the keep mask of its
                input channels (all True where the input is not pruned).
            keep_out (list[list[Tensor]]): Per output scale, per group, the
                keep mask of its output channels (empty for a consumer that
                keeps all its outputs).
            name (str): Its module path.
        """
        self._refuse('narrow', name, src)

    def absorb(self, name: str, src: nn.Module, dst: nn.Module,
               inputs: Dict[int, Tensor], ctx: AbsorbContext) -> None:
        """Take the output of removed channels into the narrowed consumer.

        Args:
            name (str): Module path of the consumer.
            src (nn.Module): The wide consumer.
            dst (nn.Module): The narrowed consumer.
            inputs (dict[int, Tensor]): Per input scale of the consumer, the
                map its removed input channels emit (0 on kept channels).
            ctx (AbsorbContext): The plan and the recorded forward.
        """
        self._refuse('absorb removed channels into', name, src)

    def channels(self, module: nn.Module) -> str:
        """Its channels per scale, as a summary cell."""
        return ', '.join(str(c) for c in module.out_channels)


class GOctConvRule(LayerRule):
    """``GOctConv``: rows and columns of its one weight (rescaled where
    narrowing changes its conv gain, see :meth:`GOctConv.narrowed_weight`),
    per-scale norms; removed inputs go through its convolution paths (the
    gain included) into its BN running means (the spatial mean at the
    recorded input size)."""

    layer_type = GOctConv
    needs_input_shapes = True

    def narrow(self, src: nn.Module, dst: nn.Module, keep_in: List[Tensor],
               keep_out: List[List[Tensor]], name: str) -> None:
        flat_out = [torch.cat(groups) for groups in keep_out]
        # a layer left with one input and one output scale becomes
        # single-scale and takes the conv gain (GOctConv): the stored
        # weight is rescaled by src.gain / dst.gain, the convolution stays
        copy_checked(dst.weight.data,
                     src.narrowed_weight(keep_in, flat_out, gain=dst.gain),
                     f'{name}.weight')
        narrow_norm_act(src.norm_act, dst.norm_act, flat_out,
                        f'{name}.norm_act')

    def absorb(self, name: str, src: nn.Module, dst: nn.Module,
               inputs: Dict[int, Tensor], ctx: AbsorbContext) -> None:
        shapes, base = ctx.input_shapes[name]
        xs = [
            None if shape is None else inputs.get(
                i, torch.zeros(1, *shape[1:]))
            for i, shape in enumerate(shapes)
        ]
        deltas = spatial_mean(src.forward_conv(xs, base))
        absorb_into_norms(dst.norm_act, deltas, ctx.plan.scale_keep(name))


class MultiDilationRule(LayerRule):
    """``MultiDilationConv``: each dilation branch narrowed on its slice of
    its scale's BN; removed inputs go through the branches into that BN. A
    scale whose whole input is gone emits an image-independent map, which
    replaces the scale's output for its own consumer (``merge``)."""

    layer_type = MultiDilationConv

    def narrow(self, src: nn.Module, dst: nn.Module, keep_in: List[Tensor],
               keep_out: List[List[Tensor]], name: str) -> None:
        for s, groups in enumerate(keep_out):
            for k, keep in enumerate(groups):
                if keep.sum() == 0:
                    continue
                w = src.convs[s][k].weight.detach()[indices(keep)]
                copy_checked(dst.convs[s][k].weight.data,
                             w[:, indices(keep_in[s])],
                             f'{name}.convs.{s}.{k}.weight')
        narrow_norm_act(src.norm_act, dst.norm_act,
                        [torch.cat(groups) for groups in keep_out],
                        f'{name}.norm_act')

    def absorb(self, name: str, src: nn.Module, dst: nn.Module,
               inputs: Dict[int, Tensor], ctx: AbsorbContext) -> None:
        keep = ctx.plan.scale_keep(name)
        deltas: Maps = [None] * len(keep)
        for s, fmap in inputs.items():
            branches = [
                conv(fmap) for conv in src.convs[s]
                if isinstance(conv, nn.Conv2d)
            ]
            if not branches:
                continue
            pre = torch.cat(branches, dim=1)
            if keep[s].sum() > 0:
                deltas[s] = pre.mean(dim=(0, 2, 3))
            elif s in ctx.plan.input_dead and not ctx.calibrated:
                # the whole fuse scale is gone: this multi-dilation scale
                # emits an image-independent map; it goes into merge like
                # the rest
                norm_act = src.norm_act
                ctx.replaced.setdefault(name, {})[s] = norm_act.acts[s](
                    norm_act.norms[s](pre))
        absorb_into_norms(dst.norm_act, deltas, keep)

    def channels(self, module: nn.Module) -> str:
        return ', '.join(f'{sum(p)} {list(p)}'
                         for p in module.dilation_channels)


class ClassifierRule(LayerRule):
    """``nn.Conv2d`` (the 1x1 classifier ``conv_seg``): all outputs stay,
    removed input columns go; their constant goes into its bias."""

    layer_type = nn.Conv2d

    def narrow(self, src: nn.Module, dst: nn.Module, keep_in: List[Tensor],
               keep_out: List[List[Tensor]], name: str) -> None:
        copy_checked(dst.weight.data,
                     src.weight.detach()[:, indices(keep_in[0])],
                     f'{name}.weight')

    def absorb(self, name: str, src: nn.Module, dst: nn.Module,
               inputs: Dict[int, Tensor], ctx: AbsorbContext) -> None:
        fmap = inputs[0]
        # data-free, a unit without followers emits a constant map: its mean
        # is its value at any pixel
        value = fmap.mean(dim=(0, 2, 3)) if ctx.calibrated else \
            fmap[0, :, 0, 0]
        if dst.bias is None:
            raise PruningError(
                f"folding into {name.split('.')[-1]} needs its bias")
        dst.bias.add_(src.weight[:, :, 0, 0].detach() @ value)

    def channels(self, module: nn.Module) -> str:
        return str(module.in_channels)


class ILBlockRule(LayerRule):
    """``ILBlock``: a summary row (its mixing conv's channels); pruning
    narrows it through its parts (``conv_mix`` and its depthwise
    followers)."""

    layer_type = ILBlock

    def channels(self, module: nn.Module) -> str:
        return ', '.join(str(c) for c in module.conv_mix.out_channels)


#: Layer type -> its rule.
RULES: Dict[Type[nn.Module], LayerRule] = {}


def register_rule(rule: LayerRule) -> LayerRule:
    """Add (or replace) the rule of ``rule.layer_type``."""
    RULES[rule.layer_type] = rule
    return rule


for _rule in (GOctConvRule(), MultiDilationRule(), ClassifierRule(),
              ILBlockRule()):
    register_rule(_rule)


def rule_for(module: nn.Module, name: str) -> LayerRule:
    """The rule of a module: that of the nearest class in its MRO.

    Args:
        module (nn.Module): The layer.
        name (str): Its module path (for the error).

    Raises:
        PruningError: If no class of the module has a rule, naming the
            module path and its type.
    """
    for cls in type(module).__mro__:
        if cls in RULES:
            return RULES[cls]
        if cls is nn.Module:
            break
    raise PruningError(
        f'{name}: channel pruning has no rule for layer type '
        f'{type(module).__module__}.{type(module).__name__} (rules exist for '
        f"{', '.join(sorted(t.__name__ for t in RULES))}; see "
        'csnet_mmseg/pruning/rules.py)')
