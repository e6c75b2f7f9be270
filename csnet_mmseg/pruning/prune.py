"""Pruning a segmentor in one call: plan, build, slice, absorb, count."""
import copy
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from csnet_mmseg.models.layer_table import LayerTable
from .absorb import absorb_removed_channels, as_batches
from .files import to_plain
from .graph import PruningError, prunable_parts, unwrap_model
from .plan import PruningPlan, plan_pruning
from .slicing import slice_model
from .summary import model_complexity, num_params, summary_markdown


@dataclass
class PruningResult:
    """What :func:`prune_segmentor` returns.

    Args:
        model (nn.Module): The narrowed segmentor (eval mode, CPU).
        model_cfg (dict): Its config (the training ``model`` config with the
            narrowed layer table, plain data).
        table (LayerTable): The narrowed layer table.
        plan (PruningPlan): The keep masks.
        fold (bool): Whether the removed channels were absorbed.
        input_size (tuple[int, int]): Size used for absorbing and FLOPs.
        before (dict): :func:`model_complexity` of the wide model.
        after (dict): :func:`model_complexity` of the narrowed model.
        summary (str): The markdown summary table.
        calib_images (int): Images the absorbing was calibrated on
            (0: none).
    """
    model: nn.Module
    model_cfg: dict
    table: LayerTable
    plan: PruningPlan
    fold: bool
    input_size: Tuple[int, int]
    before: dict
    after: dict
    summary: str
    calib_images: int = 0


def _apply_table(model_cfg: dict, table: LayerTable) -> dict:
    cfg = table.apply_to(model_cfg)
    # a CSNetEncoderDecoder that read its table from a file: the narrowed
    # table is now written out in full, so the file must not override it
    if 'layer_table' in cfg:
        cfg['layer_table'] = None
    if 'require_layer_table' in cfg:
        cfg['require_layer_table'] = False
    return cfg


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
        fold (bool): Absorb the image-independent output of removed
            channels into the consumers (True) or drop it (False), see
            :func:`~.absorb.absorb_removed_channels`. Defaults to True.
        input_size (Sequence[int]): ``(h, w)`` of the image the absorbed
            constants and the FLOPs refer to. Defaults to (224, 224).
        calib (Tensor | Sequence[Tensor], optional): Preprocessed image
            batches ``(N, 3, H, W)`` (one size) to calibrate absorbing: a
            removed channel is then replaced by its mean output over these
            images instead of its image-independent part. Defaults to None
            (data-free absorbing).
        with_complexity (bool): Count params/FLOPs for the summary.
            Defaults to True.

    Returns:
        PruningResult: The narrowed model, its config, table and summary.
    """
    from mmseg.registry import MODELS
    input_size = (int(input_size[0]), int(input_size[1]))
    wide = copy.deepcopy(unwrap_model(model)).cpu().eval()
    plan = plan_pruning(wide, threshold)
    backbone, _ = prunable_parts(wide)
    table = plan.layer_table([len(s) for s in backbone.stage_channels])
    narrow_cfg = _apply_table(to_plain(model_cfg), table)
    build_cfg = copy.deepcopy(narrow_cfg)
    # the weights come from the wide model: no pretrained init on build
    build_cfg.pop('init_cfg', None)
    for part in ('backbone', 'decode_head'):
        build_cfg[part].pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope('mmseg'):
        # a ConfigDict, so that test_cfg.mode etc. read as in MMSeg configs
        narrow = MODELS.build(ConfigDict(build_cfg)).cpu()
    slice_model(wide, narrow, plan)
    calib_images = 0
    if calib is not None:
        calib = as_batches(calib)  # a generator is read once
        if not calib:
            raise PruningError('calib was given but holds no image batch')
    if fold:
        absorb_removed_channels(wide, narrow, plan, input_size, calib)
        calib_images = sum(int(b.shape[0]) for b in as_batches(calib))
    narrow.eval()
    if with_complexity:
        before = model_complexity(wide, input_size)
        after = model_complexity(narrow, input_size)
        summary = summary_markdown(before, after, plan, fold, input_size,
                                   calib_images)
    else:
        before = dict(params=num_params(wide), flops=None, layers=[])
        after = dict(params=num_params(narrow), flops=None, layers=[])
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
    """Preprocessed image batches (on CPU) for calibrated absorbing.

    Args:
        model (nn.Module): The segmentor; its ``data_preprocessor``
            normalises the images (test mode: no padding, one size needed).
        dataloader (Iterable | dict): An MMEngine dataloader (e.g. the
            training one) or its config (built with
            ``Runner.build_dataloader``).
        num_batches (int): How many batches to take.

    Returns:
        list[Tensor]: ``(N, 3, H, W)`` batches.
    """
    if isinstance(dataloader, dict):
        from mmengine.runner import Runner
        dataloader = Runner.build_dataloader(dataloader)
    model = unwrap_model(model)
    batches = []
    for data in dataloader:
        if len(batches) >= num_batches:
            break
        batches.append(model.data_preprocessor(data, False)['inputs'].cpu())
    return batches
