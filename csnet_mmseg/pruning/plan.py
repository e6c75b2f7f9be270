"""The pruning plan: which channels of every prunable unit survive."""
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import torch
from torch import Tensor, nn

from csnet_mmseg.models.layer_table import LayerTable
from .graph import (PruningError, head_input_blocks, prunable_parts,
                    prunable_units, unit_gammas, unwrap_model)

FUSE = 'decode_head.fuse'
MULTI_DILATION = 'decode_head.multi_dilation'
MERGE = 'decode_head.merge'


def _counts(masks: Sequence[Tensor]) -> List[int]:
    return [int(m.sum()) for m in masks]


@dataclass
class PruningPlan:
    """Which channels survive: boolean keep masks per unit, scale and group.

    Args:
        threshold (float): Channels with ``|gamma| < threshold`` are removed.
        units (list[str]): Names of the prunable units in forward order (see
            :func:`~csnet_mmseg.pruning.graph.prunable_units`).
        keep (dict[str, list[list[Tensor]]]): Per unit, per output scale,
            per group (a dilation branch; the whole scale for other layers),
            the keep mask of its channels (shared by the unit's followers).
        head_blocks (list[int]): For each head input, its backbone block.
        input_dead (list[int]): Multi-dilation scales removed because their
            ``fuse`` scale lost every channel (their output is then
            image-independent and gets folded into ``merge``).
        notes (list[str]): Removals that follow from others (cascades).
    """
    threshold: float
    units: List[str]
    keep: Dict[str, List[List[Tensor]]]
    head_blocks: List[int]
    input_dead: List[int] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def scale_keep(self, name: str) -> List[Tensor]:
        """Per output scale of unit ``name``, the keep mask of all its
        channels (its groups concatenated)."""
        return [
            torch.cat(groups) if groups else torch.zeros(0, dtype=torch.bool)
            for groups in self.keep[name]
        ]

    def counts(self, name: str) -> List[int]:
        """Per output scale of unit ``name``, the number of kept channels."""
        return _counts(self.scale_keep(name))

    def layer_table(self, stage_sizes: Sequence[int]) -> LayerTable:
        """The narrowed layer table.

        Args:
            stage_sizes (Sequence[int]): Blocks per stage of the backbone.
        """
        blocks = [n for n in self.units if n.startswith('backbone.')]
        stages, k = [], 1
        for n in stage_sizes:
            stages.append([self.counts(blocks[k + b]) for b in range(n)])
            k += n
        return LayerTable(
            stem_channels=self.counts(blocks[0]),
            stage_channels=stages,
            in_channels=[self.counts(blocks[b])[0] for b in self.head_blocks],
            fuse_channels=self.counts(FUSE),
            dilation_channels=[
                _counts(per) for per in self.keep[MULTI_DILATION]
            ],
            channels=self.counts(MERGE)[0])


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
    model = unwrap_model(model)
    backbone, head = prunable_parts(model)
    units = prunable_units(model)
    keep = {}
    for unit in units:
        gammas = unit_gammas(unit)
        masks = []
        for g, groups in zip(gammas, unit.groups):
            offs = [0] + list(torch.tensor(groups).cumsum(0).tolist())
            masks.append([
                g[offs[k]:offs[k + 1]] >= threshold
                for k in range(len(groups))
            ])
        _check_not_empty(unit.name, [m for per in masks for m in per],
                         torch.cat(gammas), threshold, unit.must_keep)
        keep[unit.name] = masks

    plan = PruningPlan(
        threshold=float(threshold),
        units=[u.name for u in units],
        keep=keep,
        head_blocks=head_input_blocks(backbone, head))
    # cascades between fuse and multi_dilation (scale s of one feeds only
    # scale s of the other)
    fuse, dil = keep[FUSE], keep[MULTI_DILATION]
    md_in = head.multi_dilation.in_channels
    for s in range(len(fuse)):
        if md_in[s] > 0 and fuse[s][0].sum() == 0 and \
                plan.scale_keep(MULTI_DILATION)[s].sum() > 0:
            dil[s] = [torch.zeros_like(m) for m in dil[s]]
            plan.input_dead.append(s)
            plan.notes.append(
                f'decode_head.fuse scale {s} lost every channel, so its '
                f'multi-dilation branches (scale {s}) have no input: removed '
                '(their image-independent output is folded into merge)')
        elif plan.scale_keep(MULTI_DILATION)[s].sum() == 0 and \
                fuse[s][0].sum() > 0:
            fuse[s] = [torch.zeros_like(fuse[s][0])]
            plan.notes.append(
                f'decode_head.multi_dilation scale {s} lost every channel, so '
                f'decode_head.fuse scale {s} has no consumer: removed')
    if sum(plan.counts(FUSE)) == 0 or sum(plan.counts(MULTI_DILATION)) == 0:
        raise PruningError(
            f'threshold {threshold:g} would remove every channel of layer '
            'decode_head.fuse/decode_head.multi_dilation: no scale keeps '
            'channels in both (a fuse scale feeds only its own '
            'multi-dilation scale); use a lower threshold')
    return plan
