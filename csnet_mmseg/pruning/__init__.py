"""Channel pruning of CSNet segmentors: learnable channel counts per scale.

After training with dynamic weight decay, the BN scales (gammas) of many
channels are (near) zero. Pruning removes, per layer and per scale, every
channel whose ``|gamma| < threshold`` (the released models used 1e-20) and
builds a narrowed model whose weights are the surviving slices of the wide
one. Everything here works on a plain segmentor (no Runner): the training
hook :class:`~csnet_mmseg.engine.hooks.ChannelPruningHook` and
``tools/prune.py`` both call :func:`prune_segmentor` and
:func:`write_pruned`.

Prunable layers (their BN gammas decide) and who follows them:

- the scale-mixing gOctConv ``conv_mix`` of every ILBlock (the stem
  included); the depthwise ``conv_dw1``/``conv_dw2`` of the block keep the
  same channels; consumers lose the matching input columns: the next
  block's ``conv_mix`` and, for the last block of a stage that feeds the
  head, the head's ``fuse``;
- the head's ``fuse`` (consumer: the per-dilation convs of its scale);
- the head's ``multi_dilation`` (per scale one BN over the concatenated
  dilation branches: each branch is pruned on its slice of that BN;
  consumer: ``merge``);
- the head's ``merge`` (consumer: ``conv_seg``).

A scale that loses all its channels disappears (0 in the layer table). When
a ``fuse`` scale disappears, its multi-dilation branches have no input and
disappear too; when all branches of a scale disappear, that ``fuse`` scale
has no consumer and is removed as well.

Folding (``fold=True``): a removed channel does not output zero. With
``gamma = 0`` its BN outputs ``beta``, so the channel (and its depthwise
followers) emits a map that does not depend on the image. Dropping the
channel drops that map; folding replaces its contribution to every consumer
by a constant per consumer channel - the spatial mean of the exact
contribution at ``input_size`` (the L2-best constant; far from the image
borders it equals ``map value * sum of the path's kernel weights``) - and
adds it into the consumer's BN ``running_mean`` (``conv_seg``: its bias).
On 1x1 paths fed by BN outputs (multi-dilation -> merge -> conv_seg) the
map is constant everywhere and folding is exact.

Calibrated folding (``calib=`` image batches): a channel whose gamma is
small but not zero is not image-independent, and its depthwise followers'
BNs (normalising a nearly constant input) can amplify what is left. Given
calibration images, each removed channel is replaced by its mean output over
them (the L2-best constant for every consumer on that data) instead of the
data-free image-independent part.
"""
import copy
import datetime
import os
import os.path as osp
import pprint
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from csnet_mmseg.models.layer_table import format_layer_table_config

__all__ = [
    'PruningError', 'PruningPlan', 'PruningResult', 'plan_pruning',
    'prune_segmentor', 'write_pruned', 'format_table_override',
    'model_complexity', 'check_out_dir', 'calib_batches_from_loader',
    'PRUNED_CONFIG', 'TRAIN_CONFIG',
    'PRUNED_CHECKPOINT', 'SUMMARY'
]

#: File names written by :func:`write_pruned` into its output folder.
PRUNED_CONFIG = 'pruned_config.py'
TRAIN_CONFIG = 'train_config.py'
PRUNED_CHECKPOINT = 'pruned.pth'
SUMMARY = 'summary.md'
OUTPUT_FILES = (PRUNED_CONFIG, TRAIN_CONFIG, PRUNED_CHECKPOINT, SUMMARY)

#: Keys of the training config that describe one run, not the model: they
#: are reset in the copy written beside the narrowed config.
RUN_KEYS = dict(work_dir=None, load_from=None, resume=False)
PRUNING_HOOK_TYPES = ('ChannelPruningHook', 'mmseg.ChannelPruningHook')


class PruningError(ValueError):
    """The model cannot be pruned as asked (e.g. a layer would be empty)."""


# --------------------------------------------------------------------------
# model structure
# --------------------------------------------------------------------------
def unwrap_model(model: nn.Module) -> nn.Module:
    """The segmentor inside a (DDP, ...) model wrapper."""
    return model.module if is_model_wrapper(model) else model


def _parts(model: nn.Module) -> Tuple[nn.Module, nn.Module]:
    """The CSNet backbone and CSF head of a segmentor (checked)."""
    from csnet_mmseg.models.backbones.csnet import CSNet
    from csnet_mmseg.models.decode_heads.csf_head import CSFHead
    backbone = getattr(model, 'backbone', None)
    head = getattr(model, 'decode_head', None)
    if not isinstance(backbone, CSNet) or not isinstance(head, CSFHead):
        raise PruningError(
            'channel pruning needs a segmentor with a CSNet backbone and a '
            f'CSFHead decode head, got backbone={type(backbone).__name__}, '
            f'decode_head={type(head).__name__}')
    if getattr(model, 'with_neck', False):
        raise PruningError('channel pruning does not support a neck between '
                           'the CSNet backbone and the CSF head')
    if getattr(model, 'with_auxiliary_head', False):
        raise PruningError('channel pruning does not support auxiliary heads '
                           '(their inputs would have to be narrowed too)')
    if head.input_transform != 'multiple_select':
        raise PruningError('channel pruning needs the CSF head with '
                           "input_transform='multiple_select'")
    return backbone, head


def backbone_blocks(backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
    """``(name, ILBlock)`` of the stem and every stage block, in order."""
    blocks = [('backbone.stem', backbone.stem)]
    for s, stage in enumerate(backbone.stages):
        for b, block in enumerate(stage):
            blocks.append((f'backbone.stages.{s}.{b}', block))
    return blocks


def _head_input_blocks(backbone: nn.Module, head: nn.Module) -> List[int]:
    """For every head input, the index (in :func:`backbone_blocks`) of the
    backbone block whose output it is."""
    last, k = {}, 0
    for s, stage in enumerate(backbone.stages):
        k += len(stage)
        last[s] = k  # stem is block 0, so the last block of stage s is k
    return [last[backbone.out_indices[i]] for i in head.in_index]


def _is_identity(m: nn.Module) -> bool:
    return isinstance(m, nn.Identity)


def _gammas(norm: nn.Module, channels: int, name: str) -> Tensor:
    """|gamma| of a per-scale norm (empty for an absent 0-channel scale)."""
    if channels == 0:
        return torch.zeros(0)
    if not isinstance(norm, _BatchNorm) or norm.weight is None:
        raise PruningError(
            f'{name}: channel pruning reads BatchNorm gammas, but this layer '
            f'normalises with {type(norm).__name__} (affine BN needed)')
    return norm.weight.detach().abs().float().cpu()


# --------------------------------------------------------------------------
# the plan: keep masks
# --------------------------------------------------------------------------
def _counts(masks: Sequence[Tensor]) -> List[int]:
    return [int(m.sum()) for m in masks]


@dataclass
class PruningPlan:
    """Which channels survive: boolean keep masks per layer and scale.

    Args:
        threshold (float): Channels with ``|gamma| < threshold`` are removed.
        block_names (list[str]): Names of the backbone blocks (stem first).
        blocks (list[list[Tensor]]): Per block, per scale, the keep mask of
            the ``conv_mix`` output (shared by its depthwise followers).
        fuse (list[Tensor]): Per scale, the keep mask of the head ``fuse``.
        dilation (list[list[Tensor]]): Per scale, per dilation branch, the
            keep mask of that branch.
        merge (Tensor): Keep mask of the head ``merge`` output.
        head_blocks (list[int]): For each head input, its backbone block.
        input_dead (list[int]): Multi-dilation scales removed because their
            ``fuse`` scale lost every channel (their output is then
            image-independent and gets folded into ``merge``).
        notes (list[str]): Removals that follow from others (cascades).
    """
    threshold: float
    block_names: List[str]
    blocks: List[List[Tensor]]
    fuse: List[Tensor]
    dilation: List[List[Tensor]]
    merge: Tensor
    head_blocks: List[int]
    input_dead: List[int] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def dilation_keep(self, s: int) -> Tensor:
        """Keep mask over all channels of multi-dilation scale ``s``."""
        return torch.cat(self.dilation[s]) if self.dilation[s] else \
            torch.zeros(0, dtype=torch.bool)

    def layer_table(self, stage_sizes: Sequence[int]) -> Dict[str, dict]:
        """The narrowed layer table (plain data, as in the configs)."""
        stem = _counts(self.blocks[0])
        stages, k = [], 1
        for n in stage_sizes:
            stages.append([_counts(self.blocks[k + b]) for b in range(n)])
            k += n
        return dict(
            backbone=dict(stem_channels=stem, stage_channels=stages),
            decode_head=dict(
                in_channels=[
                    _counts(self.blocks[b])[0] for b in self.head_blocks
                ],
                fuse_channels=_counts(self.fuse),
                dilation_channels=[_counts(per) for per in self.dilation],
                channels=int(self.merge.sum())))


def _check_not_empty(name: str, masks: Sequence[Tensor], gammas: Tensor,
                     threshold: float, why: str = '') -> None:
    if sum(_counts(masks)) == 0:
        top = float(gammas.max()) if gammas.numel() else float('nan')
        raise PruningError(
            f'threshold {threshold:g} would remove every channel of layer '
            f'{name}{why} (its largest |gamma| is {top:.3g}); use a threshold '
            'below that')


def plan_pruning(model: nn.Module, threshold: float = 1e-20) -> PruningPlan:
    """Decide which channels to keep (``|gamma| >= threshold``).

    Args:
        model (nn.Module): The wide segmentor (CSNet + CSFHead).
        threshold (float): Pruning threshold on ``|gamma|``.

    Returns:
        PruningPlan: The keep masks.

    Raises:
        PruningError: If a layer would lose every channel (named in the
            message), or the model is not a CSNet segmentor.
    """
    if not threshold >= 0:
        raise PruningError(f'threshold must be >= 0, got {threshold}')
    backbone, head = _parts(unwrap_model(model))
    blocks = backbone_blocks(backbone)
    head_blocks = _head_input_blocks(backbone, head)
    names = [n for n, _ in blocks]
    keeps = []
    for k, (name, block) in enumerate(blocks):
        conv = block.conv_mix
        per_scale, all_g = [], []
        for j, c in enumerate(conv.out_channels):
            g = _gammas(conv.norm_act.norms[j], c, f'{name}.conv_mix')
            per_scale.append(g >= threshold)
            all_g.append(g)
        why = ''
        if k in head_blocks:
            why = ' (a stage output feeding the head must keep >= 1 channel)'
        _check_not_empty(f'{name}.conv_mix', per_scale, torch.cat(all_g),
                         threshold, why)
        keeps.append(per_scale)

    fuse_g = [
        _gammas(head.fuse.norm_act.norms[s], c, 'decode_head.fuse')
        for s, c in enumerate(head.fuse.out_channels)
    ]
    fuse = [g >= threshold for g in fuse_g]
    _check_not_empty('decode_head.fuse', fuse, torch.cat(fuse_g), threshold)

    md = head.multi_dilation
    dil, md_g = [], []
    for s, per in enumerate(md.dilation_channels):
        g = _gammas(md.norm_act.norms[s], md.out_channels[s],
                    'decode_head.multi_dilation')
        md_g.append(g)
        offs = [0] + list(torch.tensor(per).cumsum(0).tolist())
        dil.append([g[offs[k]:offs[k + 1]] >= threshold
                    for k in range(len(per))])
    _check_not_empty('decode_head.multi_dilation',
                     [m for per in dil for m in per], torch.cat(md_g),
                     threshold)

    merge_g = _gammas(head.merge.norm_act.norms[0], head.merge.out_channels[0],
                      'decode_head.merge')
    merge = merge_g >= threshold
    _check_not_empty('decode_head.merge', [merge], merge_g, threshold)

    plan = PruningPlan(
        threshold=float(threshold),
        block_names=names,
        blocks=keeps,
        fuse=fuse,
        dilation=dil,
        merge=merge,
        head_blocks=head_blocks)
    # cascades between fuse and multi_dilation
    for s in range(len(fuse)):
        if md.in_channels[s] > 0 and fuse[s].sum() == 0 and \
                plan.dilation_keep(s).sum() > 0:
            plan.dilation[s] = [torch.zeros_like(m) for m in dil[s]]
            plan.input_dead.append(s)
            plan.notes.append(
                f'decode_head.fuse scale {s} lost every channel, so its '
                f'multi-dilation branches (scale {s}) have no input: removed '
                '(their image-independent output is folded into merge)')
        elif plan.dilation_keep(s).sum() == 0 and fuse[s].sum() > 0:
            plan.fuse[s] = torch.zeros_like(fuse[s])
            plan.notes.append(
                f'decode_head.multi_dilation scale {s} lost every channel, so '
                f'decode_head.fuse scale {s} has no consumer: removed')
    if sum(_counts(plan.fuse)) == 0 or sum(
            int(plan.dilation_keep(s).sum()) for s in range(len(fuse))) == 0:
        raise PruningError(
            f'threshold {threshold:g} would remove every channel of layer '
            'decode_head.fuse/decode_head.multi_dilation: no scale keeps '
            'channels in both (a fuse scale feeds only its own '
            'multi-dilation scale); use a lower threshold')
    return plan


# --------------------------------------------------------------------------
# slicing
# --------------------------------------------------------------------------
def _idx(mask: Tensor) -> Tensor:
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
        idx = _idx(keep)
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


def _slice_goct(src: nn.Module, dst: nn.Module, keep_in: Sequence[Tensor],
                keep_out: Sequence[Tensor], name: str) -> None:
    rows = torch.cat([
        src.out_offsets[j] + _idx(k) for j, k in enumerate(keep_out)
    ])
    w = src.weight.detach()[rows]
    if not src.depthwise:
        cols = torch.cat(
            [src.in_offsets[i] + _idx(k) for i, k in enumerate(keep_in)])
        w = w[:, cols]
    _copy(dst.weight.data, w, f'{name}.weight')
    _slice_norm_act(src.norm_act, dst.norm_act, keep_out, f'{name}.norm_act')


def _all(channels: int) -> Tensor:
    return torch.ones(channels, dtype=torch.bool)


@torch.no_grad()
def _slice_model(wide: nn.Module, narrow: nn.Module, plan: PruningPlan) -> None:
    """Copy the surviving slices of ``wide`` into ``narrow``."""
    wide_sd = wide.state_dict()
    narrow_sd = narrow.state_dict()
    same = {
        k: v
        for k, v in wide_sd.items()
        if k in narrow_sd and v.shape == narrow_sd[k].shape
    }
    narrow.load_state_dict(same, strict=False)

    w_bb, w_head = _parts(wide)
    n_bb, n_head = _parts(narrow)
    w_blocks = backbone_blocks(w_bb)
    n_blocks = backbone_blocks(n_bb)
    prev = [_all(w_bb.stem.in_channels[0])]
    for (name, wb), (_, nb), keep in zip(w_blocks, n_blocks, plan.blocks):
        _slice_goct(wb.conv_mix, nb.conv_mix, prev, keep, f'{name}.conv_mix')
        _slice_goct(wb.conv_dw1, nb.conv_dw1, keep, keep, f'{name}.conv_dw1')
        _slice_goct(wb.conv_dw2, nb.conv_dw2, keep, keep, f'{name}.conv_dw2')
        prev = keep
    head_in = [plan.blocks[b][0] for b in plan.head_blocks]
    _slice_goct(w_head.fuse, n_head.fuse, head_in, plan.fuse,
                'decode_head.fuse')
    w_md, n_md = w_head.multi_dilation, n_head.multi_dilation
    for s, per in enumerate(plan.dilation):
        for k, keep in enumerate(per):
            if keep.sum() == 0:
                continue
            conv = w_md.convs[s][k]
            w = conv.weight.detach()[_idx(keep)][:, _idx(plan.fuse[s])]
            _copy(n_md.convs[s][k].weight.data, w,
                  f'decode_head.multi_dilation.convs.{s}.{k}.weight')
    md_keep = [plan.dilation_keep(s) for s in range(len(plan.dilation))]
    _slice_norm_act(w_md.norm_act, n_md.norm_act, md_keep,
                    'decode_head.multi_dilation.norm_act')
    _slice_goct(w_head.merge, n_head.merge, md_keep, [plan.merge],
                'decode_head.merge')
    _copy(n_head.conv_seg.weight.data,
          w_head.conv_seg.weight.detach()[:, _idx(plan.merge)],
          'decode_head.conv_seg.weight')


# --------------------------------------------------------------------------
# folding of the image-independent output of removed channels
# --------------------------------------------------------------------------
class _Recorder:
    """Records, during forwards, the input shapes (and ``base_size``) of
    consumers and, optionally, the sum over images of producers' outputs."""

    def __init__(self) -> None:
        self.inputs: Dict[str, tuple] = {}
        self.sums: Dict[str, List[Optional[Tensor]]] = {}
        self.count = 0
        self.handles = []

    def watch_input(self, name: str, module: nn.Module) -> None:

        def hook(_module, args):
            xs = args[0]
            base = args[1] if len(args) > 1 else None
            self.inputs.setdefault(name, (_shapes(xs), base))

        self.handles.append(module.register_forward_pre_hook(hook))

    def watch_output(self, name: str, module: nn.Module) -> None:

        def hook(_module, _args, out):
            outs = out if isinstance(out, (list, tuple)) else [out]
            sums = [None if o is None else o.detach().sum(0, keepdim=True)
                    for o in outs]
            old = self.sums.get(name)
            self.sums[name] = sums if old is None else [
                None if a is None else a + b for a, b in zip(old, sums)
            ]

        self.handles.append(module.register_forward_hook(hook))

    def mean(self, name: str) -> List[Optional[Tensor]]:
        return [None if t is None else t / self.count
                for t in self.sums[name]]

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _shapes(xs: Sequence[Optional[Tensor]]) -> List[Optional[torch.Size]]:
    return [None if x is None else x.shape for x in xs]


def _const_maps(norm_act: nn.Module, shapes: Sequence[Optional[torch.Size]],
                removed: Sequence[Tensor]) -> List[Optional[Tensor]]:
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


def _masked(xs: Sequence[Optional[Tensor]],
            removed: Sequence[Tensor]) -> List[Optional[Tensor]]:
    return [
        None if x is None else x * removed[j].view(1, -1, 1, 1).to(x.dtype)
        for j, x in enumerate(xs)
    ]


def _fold_into_norms(norm_act: nn.Module, deltas: Sequence[Optional[Tensor]],
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
        norm.running_mean.sub_(delta[_idx(keeps[j])].to(norm.running_mean))


def _spatial_mean(ys: Sequence[Optional[Tensor]]) -> List[Optional[Tensor]]:
    return [None if y is None else y.mean(dim=(0, 2, 3)) for y in ys]


def _batches(calib) -> List[Tensor]:
    if calib is None:
        return []
    if isinstance(calib, Tensor):
        return [calib]
    return list(calib)


@torch.no_grad()
def _record(wide: nn.Module, input_size: Tuple[int, int],
            calib=None) -> _Recorder:
    """Run the wide model (eval) once on zeros of ``input_size`` - or on the
    calibration batches - recording consumers' input shapes and, with
    calibration, the mean output of every producer."""
    w_bb, w_head = _parts(wide)
    rec = _Recorder()
    for k, (_, block) in enumerate(backbone_blocks(w_bb)):
        rec.watch_input(f'mix{k}', block.conv_mix)
        rec.watch_input(f'dw{k}', block.conv_dw1)
        if calib is not None:
            rec.watch_output(f'block{k}', block)
    for name in ('fuse', 'multi_dilation', 'merge'):
        rec.watch_input(name, getattr(w_head, name))
        if calib is not None:
            rec.watch_output(name, getattr(w_head, name))
    training = wide.training
    wide.eval()
    param = next(wide.parameters())
    batches = _batches(calib) or [
        torch.zeros(1, w_bb.stem.in_channels[0], *input_size)
    ]
    try:
        for x in batches:
            x = x.to(param)
            if x.shape[-2:] != batches[0].shape[-2:]:
                raise PruningError(
                    'calibration batches must share one image size, got '
                    f'{tuple(batches[0].shape[-2:])} and '
                    f'{tuple(x.shape[-2:])}')
            w_head(wide.extract_feat(x))
            rec.count += x.shape[0]
    finally:
        rec.close()
        wide.train(training)
    return rec


@torch.no_grad()
def _fold(wide: nn.Module,
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
    """
    w_bb, w_head = _parts(wide)
    n_bb, n_head = _parts(narrow)
    w_blocks = [b for _, b in backbone_blocks(w_bb)]
    n_blocks = [b for _, b in backbone_blocks(n_bb)]
    rec = _record(wide, input_size, calib)
    calibrated = calib is not None

    def removed_of(keeps):
        return [~k for k in keeps]

    def consumer_delta(conv: nn.Module, name: str, maps):
        shapes, base = rec.inputs[name]
        xs = [
            None if shape is None else
            (torch.zeros(1, *shape[1:]) if m is None else m)
            for shape, m in zip(shapes, maps)
        ]
        return _spatial_mean(conv.forward_conv(xs, base))

    # backbone blocks: their output (after the depthwise followers)
    fuse_in: List[Optional[Tensor]] = [None] * len(plan.head_blocks)
    for k, block in enumerate(w_blocks):
        removed = removed_of(plan.blocks[k])
        if sum(int(r.sum()) for r in removed) == 0:
            continue
        if calibrated:
            maps = _masked(rec.mean(f'block{k}'), removed)
        else:
            const = _const_maps(block.conv_mix.norm_act,
                                rec.inputs[f'dw{k}'][0], removed)
            maps = _masked(block.conv_dw2(block.conv_dw1(const)), removed)
        if k + 1 < len(w_blocks):
            deltas = consumer_delta(w_blocks[k + 1].conv_mix, f'mix{k + 1}',
                                    maps)
            _fold_into_norms(n_blocks[k + 1].conv_mix.norm_act, deltas,
                             plan.blocks[k + 1])
        for pos, b in enumerate(plan.head_blocks):
            if b == k:
                fuse_in[pos] = maps[0]
    if any(m is not None for m in fuse_in):
        deltas = consumer_delta(w_head.fuse, 'fuse', fuse_in)
        _fold_into_norms(n_head.fuse.norm_act, deltas, plan.fuse)

    # fuse -> multi-dilation branches
    w_md, n_md = w_head.multi_dilation, n_head.multi_dilation
    fuse_removed = removed_of(plan.fuse)
    if calibrated:
        fuse_maps = _masked(rec.mean('fuse'), fuse_removed)
    else:
        fuse_maps = _const_maps(w_head.fuse.norm_act,
                                rec.inputs['multi_dilation'][0], fuse_removed)
    md_keep = [plan.dilation_keep(s) for s in range(len(plan.dilation))]
    md_removed = removed_of(md_keep)
    merge_shapes = rec.inputs['merge'][0]
    if calibrated:
        merge_in = _masked(rec.mean('multi_dilation'), md_removed)
    else:
        merge_in = _const_maps(w_md.norm_act, merge_shapes, md_removed)
    md_deltas: List[Optional[Tensor]] = [None] * len(md_keep)
    for s, fmap in enumerate(fuse_maps):
        if fmap is None or fuse_removed[s].sum() == 0:
            continue
        branches = [
            conv(fmap) for conv in w_md.convs[s]
            if isinstance(conv, nn.Conv2d)
        ]
        if not branches:
            continue
        pre = torch.cat(branches, dim=1)
        if md_keep[s].sum() > 0:
            md_deltas[s] = pre.mean(dim=(0, 2, 3))
        elif s in plan.input_dead and not calibrated:
            # the whole fuse scale is gone: this multi-dilation scale emits
            # an image-independent map; it goes into merge like the rest
            norm_act = w_md.norm_act
            merge_in[s] = norm_act.acts[s](norm_act.norms[s](pre))
    _fold_into_norms(n_md.norm_act, md_deltas, md_keep)

    # multi-dilation -> merge
    if any(r.sum() > 0 for r in md_removed):
        deltas = consumer_delta(w_head.merge, 'merge', merge_in)
        _fold_into_norms(n_head.merge.norm_act, deltas, [plan.merge])

    # merge -> conv_seg (1x1 with bias)
    removed = ~plan.merge
    if removed.sum() > 0:
        c = removed.numel()
        if calibrated:
            value = rec.mean('merge')[0].mean(dim=(0, 2, 3))
        else:
            na = w_head.merge.norm_act
            value = na.acts[0](na.norms[0].bias.detach().view(1, c, 1,
                                                               1)).view(c)
        value = value * removed.to(value.dtype)
        if n_head.conv_seg.bias is None:
            raise PruningError('folding into conv_seg needs its bias')
        n_head.conv_seg.bias.add_(
            w_head.conv_seg.weight[:, :, 0, 0].detach() @ value)


# --------------------------------------------------------------------------
# complexity and summary
# --------------------------------------------------------------------------
def _summary_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    backbone, head = _parts(unwrap_model(model))
    return backbone_blocks(backbone) + [
        ('decode_head.fuse', head.fuse),
        ('decode_head.multi_dilation', head.multi_dilation),
        ('decode_head.merge', head.merge),
        ('decode_head.conv_seg', head.conv_seg),
    ]


def _layer_channels(name: str, module: nn.Module) -> str:
    if name == 'decode_head.multi_dilation':
        return ', '.join(f'{sum(p)} {list(p)}'
                         for p in module.dilation_channels)
    if name == 'decode_head.conv_seg':
        return str(module.in_channels)
    if hasattr(module, 'conv_mix'):
        return ', '.join(str(c) for c in module.conv_mix.out_channels)
    return ', '.join(str(c) for c in module.out_channels)


def _num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def model_complexity(model: nn.Module,
                     input_size: Tuple[int, int] = (224, 224)) -> dict:
    """Parameters and FLOPs of the whole model and of every prunable layer.

    FLOPs are counted by :class:`mmengine.analysis.FlopAnalyzer` - the
    counter behind :func:`mmengine.analysis.get_model_complexity_info` (its
    ``flops`` is the total here) - for one image of ``input_size``, in eval
    mode (a copy of the model is traced, so BN statistics are untouched).

    Returns:
        dict: ``params``, ``flops`` (totals) and ``layers``: a list of
        ``dict(name, channels, params, flops)``.
    """
    model = copy.deepcopy(unwrap_model(model)).cpu().eval()
    x = torch.randn(1, 3, *input_size)
    analyzer = FlopAnalyzer(model, (x, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    by_module = analyzer.by_module()
    layers = [
        dict(
            name=name,
            channels=_layer_channels(name, module),
            params=_num_params(module),
            flops=int(by_module.get(name, 0)))
        for name, module in _summary_layers(model)
    ]
    return dict(
        params=_num_params(model), flops=int(analyzer.total()), layers=layers)


def _fmt_int(n: int) -> str:
    return f'{n:,}'


def _fmt_flops(n: float) -> str:
    for unit, div in (('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if n >= div:
            return f'{n / div:.3f}{unit}'
    return str(int(n))


def _pct(before: float, after: float) -> str:
    if before == 0:
        return ''
    return f' ({100.0 * (after - before) / before:+.1f}%)'


def _mode(fold: bool, calib_images: int) -> str:
    if not fold:
        return 'dropped'
    if calib_images:
        return f'folded (calibrated on {calib_images} images)'
    return 'folded'


def summary_markdown(before: dict,
                     after: dict,
                     plan: PruningPlan,
                     fold: bool,
                     input_size: Tuple[int, int],
                     calib_images: int = 0) -> str:
    """The markdown summary table: per layer and scale, channels before ->
    after, params and FLOPs before -> after, then the totals."""
    lines = [
        f'Channel pruning: |gamma| < {plan.threshold:g} removed, '
        f'{_mode(fold, calib_images)} (see docs/pruning.md); FLOPs '
        f'for one {input_size[0]}x{input_size[1]} image.', '',
        '| layer | channels per scale (before -> after) | params | FLOPs |',
        '| --- | --- | --- | --- |'
    ]
    for b, a in zip(before['layers'], after['layers']):
        lines.append(
            f"| {b['name']} | {b['channels']} -> {a['channels']} | "
            f"{_fmt_int(b['params'])} -> {_fmt_int(a['params'])} | "
            f"{_fmt_flops(b['flops'])} -> {_fmt_flops(a['flops'])} |")
    lines.append(
        f"| **total** (whole model) | | "
        f"{_fmt_int(before['params'])} -> {_fmt_int(after['params'])}"
        f"{_pct(before['params'], after['params'])} | "
        f"{_fmt_flops(before['flops'])} -> {_fmt_flops(after['flops'])}"
        f"{_pct(before['flops'], after['flops'])} |")
    if plan.notes:
        lines += [''] + [f'- {n}' for n in plan.notes]
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------
# main entry points
# --------------------------------------------------------------------------
@dataclass
class PruningResult:
    """What :func:`prune_segmentor` returns.

    Args:
        model (nn.Module): The narrowed segmentor (eval mode, CPU).
        model_cfg (dict): Its config (the training ``model`` config with the
            narrowed layer table).
        table (dict): The narrowed layer table.
        plan (PruningPlan): The keep masks.
        fold (bool): Whether the removed channels were folded.
        input_size (tuple[int, int]): Size used for folding and FLOPs.
        before (dict): :func:`model_complexity` of the wide model.
        after (dict): :func:`model_complexity` of the narrowed model.
        summary (str): The markdown summary table.
        calib_images (int): Images the folding was calibrated on (0: none).
    """
    model: nn.Module
    model_cfg: dict
    table: dict
    plan: PruningPlan
    fold: bool
    input_size: Tuple[int, int]
    before: dict
    after: dict
    summary: str
    calib_images: int = 0


def _apply_table(model_cfg: dict, table: dict) -> dict:
    cfg = copy.deepcopy(model_cfg)
    for part in ('backbone', 'decode_head'):
        for key, value in table[part].items():
            cfg[part][key] = copy.deepcopy(value)
    return cfg


def _to_plain(cfg) -> dict:
    if hasattr(cfg, 'to_dict'):
        return cfg.to_dict()
    return copy.deepcopy(dict(cfg))


def prune_segmentor(model: nn.Module,
                    model_cfg: dict,
                    threshold: float = 1e-20,
                    fold: bool = True,
                    input_size: Sequence[int] = (224, 224),
                    calib=None,
                    with_complexity: bool = True) -> PruningResult:
    """Prune a trained CSNet segmentor (no Runner needed).

    Args:
        model (nn.Module): The trained wide segmentor (not modified).
        model_cfg (dict): The config it was built from (``cfg.model``).
        threshold (float): Remove channels with ``|gamma| < threshold``.
            Defaults to 1e-20 (the released setting).
        fold (bool): Fold the image-independent output of removed channels
            into the consumers (True) or drop it (False). Defaults to True.
        input_size (Sequence[int]): ``(h, w)`` of the image the folding
            constants and the FLOPs refer to. Defaults to (224, 224).
        calib (Tensor | Sequence[Tensor], optional): Preprocessed image
            batches ``(N, 3, H, W)`` (one size) to calibrate folding: a
            removed channel is then replaced by its mean output over these
            images instead of its image-independent part. Defaults to None
            (data-free folding).
        with_complexity (bool): Count params/FLOPs for the summary.
            Defaults to True.

    Returns:
        PruningResult: The narrowed model, its config, table and summary.
    """
    from mmseg.registry import MODELS
    input_size = (int(input_size[0]), int(input_size[1]))
    wide = copy.deepcopy(unwrap_model(model)).cpu().eval()
    plan = plan_pruning(wide, threshold)
    backbone, _ = _parts(wide)
    table = plan.layer_table([len(s) for s in backbone.stages])
    narrow_cfg = _apply_table(_to_plain(model_cfg), table)
    build_cfg = copy.deepcopy(narrow_cfg)
    # the weights come from the wide model: no pretrained init on build
    build_cfg.pop('init_cfg', None)
    for part in ('backbone', 'decode_head'):
        build_cfg[part].pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope('mmseg'):
        narrow = MODELS.build(build_cfg).cpu()
    _slice_model(wide, narrow, plan)
    calib_images = 0
    if calib is not None:
        calib = _batches(calib)  # a generator is read once
        if not calib:
            raise PruningError('calib was given but holds no image batch')
    if fold:
        _fold(wide, narrow, plan, input_size, calib)
        calib_images = sum(int(b.shape[0]) for b in _batches(calib))
    narrow.eval()
    if with_complexity:
        before = model_complexity(wide, input_size)
        after = model_complexity(narrow, input_size)
        summary = summary_markdown(before, after, plan, fold, input_size,
                                   calib_images)
    else:
        before = dict(params=_num_params(wide), flops=None, layers=[])
        after = dict(params=_num_params(narrow), flops=None, layers=[])
        summary = ''
    return PruningResult(
        model=narrow,
        model_cfg=narrow_cfg,
        table=table,
        plan=plan,
        fold=fold,
        input_size=input_size,
        before=before,
        after=after,
        summary=summary,
        calib_images=calib_images)


@torch.no_grad()
def calib_batches_from_loader(model: nn.Module, dataloader,
                              num_batches: int) -> List[Tensor]:
    """Preprocessed image batches (on CPU) for calibrated folding.

    Args:
        model (nn.Module): The segmentor; its ``data_preprocessor``
            normalises the images (test mode: no padding, one size needed).
        dataloader (Iterable): An MMEngine dataloader (e.g. the training
            one).
        num_batches (int): How many batches to take.

    Returns:
        list[Tensor]: ``(N, 3, H, W)`` batches.
    """
    model = unwrap_model(model)
    batches = []
    for data in dataloader:
        if len(batches) >= num_batches:
            break
        batches.append(model.data_preprocessor(data, False)['inputs'].cpu())
    return batches


def format_table_override(table: dict, base: str = './' + TRAIN_CONFIG,
                          header: str = '') -> str:
    """Config text: ``_base_`` plus an override of the layer table only."""
    return format_layer_table_config(table, base, header)


def check_out_dir(out_dir: str) -> None:
    """Refuse an output folder that already holds pruning outputs.

    Raises:
        FileExistsError: Naming the files that would be overwritten.
    """
    existing = [f for f in OUTPUT_FILES if osp.exists(osp.join(out_dir, f))]
    if existing:
        raise FileExistsError(
            f'channel pruning: {out_dir} already holds {", ".join(existing)};'
            ' refusing to overwrite - remove them or choose another output '
            'folder (out_dir= / --out-dir)')


def write_pruned(result: PruningResult,
                 out_dir: str,
                 train_cfg: Config,
                 source: str = '',
                 dataset_meta: Optional[dict] = None) -> Dict[str, str]:
    """Write the narrowed config, checkpoint and summary into ``out_dir``.

    Files (never overwritten: :func:`check_out_dir` refuses first):

    - ``train_config.py``: the training config as it was run, resolved into
      one self-contained file (no ``_base_``), minus the run-specific keys
      ``work_dir``/``load_from``/``resume`` (reset) and the
      ``ChannelPruningHook`` (removed from ``custom_hooks``), so the folder
      stays valid wherever it is moved;
    - ``pruned_config.py``: ``_base_ = ['./train_config.py']`` plus ONLY the
      narrowed layer table (``model.backbone.stem_channels/stage_channels``,
      ``model.decode_head.in_channels/fuse_channels/dilation_channels/
      channels``);
    - ``pruned.pth``: ``dict(meta=..., state_dict=...)`` of the narrowed
      segmentor, loadable with ``load_from`` (strict keys);
    - ``summary.md``: the summary table.

    Args:
        result (PruningResult): From :func:`prune_segmentor`.
        out_dir (str): Output folder (created).
        train_cfg (Config): The training config.
        source (str): Where the wide weights came from (for ``meta``).
        dataset_meta (dict, optional): Copied into ``meta``.

    Returns:
        dict: Paths of the written files by kind (``config``,
        ``train_config``, ``checkpoint``, ``summary``).
    """
    from mmengine.runner import save_checkpoint
    check_out_dir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(
        config=osp.join(out_dir, PRUNED_CONFIG),
        train_config=osp.join(out_dir, TRAIN_CONFIG),
        checkpoint=osp.join(out_dir, PRUNED_CHECKPOINT),
        summary=osp.join(out_dir, SUMMARY))

    base = Config(_to_plain(train_cfg))
    for key, value in RUN_KEYS.items():
        if key in base:
            base[key] = value
    hooks = base.get('custom_hooks')
    if hooks:
        base['custom_hooks'] = [
            h for h in hooks if h.get('type') not in PRUNING_HOOK_TYPES
        ]
    header = (
        '# The training config of the pruned model, resolved into one file '
        'by csnet_mmseg\n# channel pruning. Reset: '
        f'{", ".join(f"{k}={v!r}" for k, v in RUN_KEYS.items())}; the '
        'ChannelPruningHook is\n# removed from custom_hooks (add it again to '
        'prune the narrowed model again).\n')
    with open(paths['train_config'], 'w', encoding='utf-8') as f:
        f.write(header + base.pretty_text)

    stamp = datetime.datetime.now().isoformat(timespec='seconds')
    b, a = result.before, result.after
    header = (
        '# Narrowed CSNet written by csnet_mmseg channel pruning '
        f'({stamp}).\n'
        f'# |gamma| < {result.plan.threshold:g} removed, '
        f'{_mode(result.fold, result.calib_images)}; source: '
        f"{source or '?'}\n"
        f"# params {b['params']:,} -> {a['params']:,}"
        + (f"; FLOPs ({result.input_size[0]}x{result.input_size[1]}) "
           f"{b['flops']:,} -> {a['flops']:,}" if a.get('flops') else '')
        + '\n# Only the layer table is overridden; weights: '
        f'{PRUNED_CHECKPOINT} (load_from).\n')
    with open(paths['config'], 'w', encoding='utf-8') as f:
        f.write(format_table_override(result.table, header=header))

    meta = dict(
        pruning=dict(
            threshold=result.plan.threshold,
            fold=result.fold,
            calib_images=result.calib_images,
            input_size=list(result.input_size),
            source=source,
            layer_table=copy.deepcopy(result.table),
            params=[b['params'], a['params']],
            flops=[b.get('flops'), a.get('flops')],
            notes=list(result.plan.notes),
            time=stamp))
    if dataset_meta is not None:
        meta['dataset_meta'] = copy.deepcopy(dataset_meta)
    state_dict = {
        k: v.detach().cpu()
        for k, v in result.model.state_dict().items()
    }
    save_checkpoint(dict(meta=meta, state_dict=state_dict),
                    paths['checkpoint'])
    with open(paths['summary'], 'w', encoding='utf-8') as f:
        f.write(result.summary)
    return paths


def describe_plan(plan: PruningPlan) -> str:
    """A short text of the kept channels per layer (for logs)."""
    rows = {
        name: _counts(keep)
        for name, keep in zip(plan.block_names, plan.blocks)
    }
    rows['decode_head.fuse'] = _counts(plan.fuse)
    rows['decode_head.multi_dilation'] = [_counts(p) for p in plan.dilation]
    rows['decode_head.merge'] = int(plan.merge.sum())
    return pprint.pformat(rows, sort_dicts=False)
