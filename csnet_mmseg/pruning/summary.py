"""The summary: parameters and FLOPs per prunable layer, before -> after."""
import copy
from typing import Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from torch import nn

from .graph import summary_layers, unwrap_model
from .plan import PruningPlan
from .rules import rule_for


def num_params(module: nn.Module) -> int:
    """Number of parameters of a module."""
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
        ``dict(name, channels, params, flops)`` (``channels`` as the layer
        type's rule describes them).
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
            channels=rule_for(module, name).channels(module),
            params=num_params(module),
            flops=int(by_module.get(name, 0)))
        for name, module in summary_layers(model)
    ]
    return dict(
        params=num_params(model), flops=int(analyzer.total()), layers=layers)


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


def mode_text(fold: bool, calib_images: int) -> str:
    """How the removed channels were treated, in words."""
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
        f'{mode_text(fold, calib_images)} (see docs/pruning.md); FLOPs '
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
