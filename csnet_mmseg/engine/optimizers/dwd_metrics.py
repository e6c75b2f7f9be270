"""Channel metrics ``S`` of dynamic weight decay (per-channel response).

A metric maps one activation tensor of shape ``(N, C, *spatial)`` to a
``(C,)`` tensor: the response of every channel, averaged over the batch. The
dynamic weight decay of CSNet (Gao et al., ECCV 2020) uses global average
pooling, ``S(x_c) = |mean over H, W of x_c|`` averaged over the batch
(``'gap'``). More metrics can be added with :func:`register_dwd_metric`.
"""
from typing import Callable, Dict, Union

from torch import Tensor

DWDMetric = Callable[[Tensor], Tensor]

#: name -> metric; fill with :func:`register_dwd_metric`.
DWD_METRICS: Dict[str, DWDMetric] = {}


def register_dwd_metric(
        name: str,
        force: bool = False) -> Callable[[DWDMetric], DWDMetric]:
    """Decorator registering a channel metric under ``name``.

    Args:
        name (str): The name used in ``metric=...`` of
            :class:`DynamicWeightDecayOptimWrapper`.
        force (bool): Replace an existing metric of that name.
            Defaults to False (a clash raises ``KeyError``).
    """

    def _register(fn: DWDMetric) -> DWDMetric:
        if not callable(fn):
            raise TypeError(f'DWD metric {name!r} must be callable, got {fn}')
        if name in DWD_METRICS and not force:
            raise KeyError(f'a DWD metric named {name!r} is already '
                           'registered (pass force=True to replace it)')
        DWD_METRICS[name] = fn
        return fn

    return _register


def _spatial_dims(x: Tensor) -> tuple:
    if x.dim() < 2:
        raise ValueError('a DWD metric expects an (N, C, ...) activation, got '
                         f'shape {tuple(x.shape)}')
    return tuple(range(2, x.dim()))


@register_dwd_metric('gap')
def gap_metric(x: Tensor) -> Tensor:
    """``|global average pool|`` per sample and channel, batch mean (paper)."""
    dims = _spatial_dims(x)
    pooled = x.float().mean(dim=dims) if dims else x.float()
    return pooled.abs().mean(dim=0)


@register_dwd_metric('l2')
def l2_metric(x: Tensor) -> Tensor:
    """Root mean square over the spatial positions, batch mean."""
    dims = _spatial_dims(x)
    sq = x.float().pow(2)
    return (sq.mean(dim=dims) if dims else sq).sqrt().mean(dim=0)


@register_dwd_metric('max')
def max_metric(x: Tensor) -> Tensor:
    """Largest absolute response over the spatial positions, batch mean."""
    dims = _spatial_dims(x)
    a = x.float().abs()
    return (a.amax(dim=dims) if dims else a).mean(dim=0)


def get_dwd_metric(metric: Union[str, DWDMetric]) -> DWDMetric:
    """Resolve a metric given by name (see :data:`DWD_METRICS`) or callable."""
    if callable(metric):
        return metric
    if isinstance(metric, str) and metric in DWD_METRICS:
        return DWD_METRICS[metric]
    raise KeyError(f'unknown DWD metric {metric!r}; registered: '
                   f'{sorted(DWD_METRICS)} (or pass a callable)')


def metric_name(metric: Union[str, DWDMetric]) -> str:
    """A printable name of a metric (its registry name when it has one)."""
    if isinstance(metric, str):
        return metric
    for name, fn in DWD_METRICS.items():
        if fn is metric:
            return name
    return getattr(metric, '__name__', repr(metric))


__all__ = [
    'DWD_METRICS', 'register_dwd_metric', 'get_dwd_metric', 'gap_metric',
    'l2_metric', 'max_metric', 'metric_name'
]
