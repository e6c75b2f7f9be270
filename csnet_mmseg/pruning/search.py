"""The largest pruning threshold whose pruned model stays within a metric
bound (inference only)."""
import copy
import math
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from ..evaluation.metrics.sod_metric import SOD_METRIC_KEYS
from .graph import PruningError, prunable_gammas, unwrap_model
from .prune import prune_segmentor
from .summary import model_complexity

__all__ = [
    'parse_metric_bound', 'search_threshold', 'share_threshold',
    'SearchPoint', 'SearchResult',
    'SegmentorEvaluator', 'search_table_markdown', 'plot_search',
    'build_search_evaluator', 'write_search', 'check_search_out_dir',
    'SEARCH_FILES'
]

#: Files :func:`write_search` writes beside the pruning outputs.
SEARCH_FILES = ('search.md', 'search.png')

#: SOD metrics where lower is better; every other key is higher-is-better.
LOWER_IS_BETTER = ('MAE', )
KNOWN_METRICS = tuple(k for keys in SOD_METRIC_KEYS.values() for k in keys)


def parse_metric_bound(text: str) -> Tuple[str, float]:
    """``'MAE=0.002'`` -> ``('MAE', 0.002)``.

    The amount is how much worse the metric may get: MAE may rise by it,
    every other SOD metric (``maxF``, ``Sm``, ...) may fall by it.

    Raises:
        ValueError: Naming what is wrong with ``text``.
    """
    if not isinstance(text, str) or text.count('=') != 1:
        raise ValueError(
            f'metric bound {text!r} must look like METRIC=AMOUNT, e.g. '
            f'MAE=0.002 (metrics: {", ".join(KNOWN_METRICS)})')
    name, amount = (s.strip() for s in text.split('='))
    if name not in KNOWN_METRICS:
        raise ValueError(f'metric bound {text!r}: unknown metric {name!r}; '
                         f'choose one of {", ".join(KNOWN_METRICS)}')
    try:
        value = float(amount)
    except ValueError:
        raise ValueError(f'metric bound {text!r}: {amount!r} is not a '
                         'number') from None
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f'metric bound {text!r}: the amount must be a '
                         f'finite number >= 0, got {amount}')
    return name, value


def metric_value(metrics: Dict[str, float], name: str) -> float:
    """``metrics[name]``, or the single ``'<dataset>/<name>'`` key."""
    if name in metrics:
        return float(metrics[name])
    found = [k for k in metrics if k.rsplit('/', 1)[-1] == name]
    if len(found) != 1:
        raise KeyError(
            f'metric {name!r} is not among the evaluated keys '
            f'{sorted(metrics)}' + (' (several data sets: evaluate one)'
                                    if len(found) > 1 else ''))
    return float(metrics[found[0]])


def metric_change(name: str, base: float, value: float) -> float:
    """How much worse ``value`` is than ``base`` (> 0: worse)."""
    return value - base if name in LOWER_IS_BETTER else base - value


@dataclass
class SearchPoint:
    """One evaluated threshold.

    Args:
        threshold (float): Channels with ``|gamma| < threshold`` removed.
        removed (int): Channels removed.
        params (int): Parameters of the pruned model.
        flops (float, optional): Its FLOPs (one multiply-add = one FLOP).
        metrics (dict): Its metrics.
        value (float): The bounded metric.
        change (float): How much worse than the unpruned model (> 0 worse).
        within (bool): Whether ``change <= max_change``.
        error (str): Why the threshold is infeasible (a layer would be
            empty), else ''.
    """
    threshold: float
    removed: int = 0
    params: int = 0
    flops: Optional[float] = None
    metrics: Dict[str, float] = field(default_factory=dict)
    value: float = float('nan')
    change: float = float('nan')
    within: bool = False
    error: str = ''


@dataclass
class SearchResult:
    """What :func:`search_threshold` returns.

    Args:
        metric (str): The bounded metric.
        max_change (float): How much worse it may get.
        baseline (SearchPoint): The unpruned model (threshold 0).
        best (SearchPoint): The largest feasible threshold within the bound
            (the baseline when no pruning stays within it).
        points (list[SearchPoint]): Every evaluated threshold, ascending.
        gammas (int): Prunable channels (|gamma| values searched over).
        seconds (float): Wall time of the search.
    """
    metric: str
    max_change: float
    baseline: SearchPoint
    best: SearchPoint
    points: List[SearchPoint]
    gammas: int
    seconds: float = 0.0


def _midpoint(lo: float, hi: float) -> float:
    """A threshold strictly between two distinct |gamma| values (geometric
    mean when both are > 0): any threshold in ``(lo, hi]`` removes the same
    channels; the middle one is robust to printing and rounding."""
    if lo > 0:
        t = math.sqrt(lo * hi)
    else:
        t = hi / 2
    return t if lo < t <= hi else hi


def share_threshold(model: nn.Module, share: float) -> float:
    """The pruning threshold that removes the ``share`` of the prunable
    channels with the smallest |gamma| (``round(share * channels)`` of them,
    more where |gamma| values tie at the cut; 0 for ``share == 0``).

    A sweep over shares gives every model the same range of widths whatever
    the scale of its gammas, which thresholds fixed across models do not.

    Raises:
        ValueError: If ``share`` is not in ``[0, 1]``.
    """
    if not 0.0 <= float(share) <= 1.0:
        raise ValueError(f'share must be in [0, 1], got {share}')
    gammas = torch.sort(prunable_gammas(unwrap_model(model))).values
    rank = int(round(float(share) * gammas.numel()))
    if rank <= 0:
        return 0.0
    if rank >= gammas.numel():
        return float(gammas[-1]) * 2 + 1e-30
    lo, hi = float(gammas[rank - 1]), float(gammas[rank])
    if lo == hi:  # a tie at the cut: remove every tied channel
        above = gammas[gammas > hi]
        return _midpoint(hi, float(above[0])) if above.numel() else \
            hi * 2 + 1e-30
    return _midpoint(lo, hi)


def search_threshold(model: nn.Module,
                     model_cfg: dict,
                     evaluate: Callable[[nn.Module], Dict[str, float]],
                     bound: str = 'MAE=0.002',
                     fold: bool = True,
                     input_size: Sequence[int] = (224, 224),
                     calib=None,
                     coarse_steps: int = 16,
                     with_flops: bool = True,
                     logger: str = 'current') -> SearchResult:
    """The largest threshold whose pruned model stays within a metric bound.

    Every distinct |gamma| of the prunable layers is a place where the pruned
    model changes; the search runs over them by rank. A coarse pass prunes
    the ``k/coarse_steps`` share of smallest gammas for ``k = 1, 2, ...``
    until a point breaks the bound (or a layer would be emptied); a
    bisection between the last point within the bound and the first beyond
    it then finds the largest rank within it (assuming that pruning more
    channels does not make the metric better, which the curve in the
    result lets one check). Each point prunes a copy (absorbing by
    default, as :func:`prune_segmentor`) and evaluates it; the model itself
    is not changed.

    Args:
        model (nn.Module): The trained wide segmentor.
        model_cfg (dict): Its config (``cfg.model``).
        evaluate (callable): ``model -> metrics dict`` (e.g. a
            :class:`SegmentorEvaluator` on a validation split).
        bound (str): ``'METRIC=AMOUNT'``, see :func:`parse_metric_bound`.
            Defaults to ``'MAE=0.002'``.
        fold (bool): Absorb removed channels (as the pruning hook does).
            Defaults to True.
        input_size (Sequence[int]): Size for absorbed constants and FLOPs.
        calib: Calibration batches for absorbing (see
            :func:`prune_segmentor`). Defaults to None.
        coarse_steps (int): Points of the coarse pass. Defaults to 16.
        with_flops (bool): Count FLOPs of every point. Defaults to True.

    Returns:
        SearchResult: The best threshold and every evaluated point.
    """
    metric, max_change = parse_metric_bound(bound)
    if int(coarse_steps) < 1:
        raise ValueError(f'coarse_steps must be >= 1, got {coarse_steps}')
    t_start = time.time()
    model = unwrap_model(model)
    gammas = torch.unique(prunable_gammas(model))  # sorted, distinct
    num_channels = int(prunable_gammas(model).numel())
    n = int(gammas.numel())
    cache: Dict[int, SearchPoint] = {}

    def threshold_of(rank: int) -> float:
        """Threshold that removes the ``rank`` smallest distinct gammas."""
        if rank <= 0:
            return 0.0
        if rank >= n:
            return float(gammas[-1]) * 2 + 1e-30
        return _midpoint(float(gammas[rank - 1]), float(gammas[rank]))

    base_metrics = evaluate(model)
    base_value = metric_value(base_metrics, metric)
    baseline = SearchPoint(
        threshold=0.0,
        removed=0,
        params=sum(p.numel() for p in model.parameters()),
        flops=_flops(model, input_size) if with_flops else None,
        metrics=base_metrics,
        value=base_value,
        change=0.0,
        within=True)

    def point(rank: int) -> SearchPoint:
        if rank in cache:
            return cache[rank]
        t = threshold_of(rank)
        p = SearchPoint(threshold=t)
        try:
            res = prune_segmentor(
                model,
                model_cfg,
                threshold=t,
                fold=fold,
                input_size=input_size,
                calib=calib,
                with_complexity=False)
        except PruningError as e:
            p.error = str(e)
        else:
            p.removed = num_channels - int(
                prunable_gammas(res.model).numel())
            p.params = sum(q.numel() for q in res.model.parameters())
            if with_flops:
                p.flops = _flops(res.model, input_size)
            p.metrics = evaluate(res.model)
            p.value = metric_value(p.metrics, metric)
            p.change = metric_change(metric, base_value, p.value)
            p.within = p.change <= max_change
        cache[rank] = p
        print_log(
            f'threshold search: {t:.4g} removes {p.removed} channels -> '
            + (p.error if p.error else
               f'{p.params:,} params, {metric} {p.value:.4f} '
               f'({p.change:+.4f}; bound {max_change:g}) '
               f'{"within" if p.within else "beyond"}'),
            logger=logger)
        return p

    # coarse pass over rank shares, stopping at the first point beyond
    lo, hi = 0, None
    for k in range(1, int(coarse_steps) + 1):
        rank = round(n * k / int(coarse_steps))
        if rank <= lo:
            continue
        if point(rank).within:
            lo = rank
        else:
            hi = rank
            break
    # bisection: lo within (or the baseline), hi beyond
    if hi is not None:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if point(mid).within:
                lo = mid
            else:
                hi = mid
    best = point(lo) if lo > 0 else baseline
    points = [baseline] + [cache[r] for r in sorted(cache)]
    return SearchResult(
        metric=metric,
        max_change=max_change,
        baseline=baseline,
        best=best,
        points=points,
        gammas=n,
        seconds=time.time() - t_start)


class SegmentorEvaluator:
    """Evaluates segmentors on one data set, as MMEngine's ``ValLoop`` does,
    with the preprocessed batches kept in memory between calls.

    Args:
        dataloader (DataLoader | dict): The data (a config is built with
            ``Runner.build_dataloader``), e.g. a config's ``val_dataloader``.
        evaluator (Evaluator | dict | list): The metric(s), e.g. a config's
            ``val_evaluator``.
        cache (bool): Keep the loaded batches for the next call.
            Defaults to True.
    """

    def __init__(self, dataloader, evaluator, cache: bool = True) -> None:
        from mmengine.evaluator import Evaluator
        from mmengine.runner import Runner
        if isinstance(dataloader, dict):
            dataloader = Runner.build_dataloader(copy.deepcopy(dataloader))
        if not isinstance(evaluator, Evaluator):
            evaluator = Evaluator(copy.deepcopy(evaluator))
        self.dataloader = dataloader
        self.evaluator = evaluator
        self.evaluator.dataset_meta = getattr(dataloader.dataset, 'metainfo',
                                              None)
        self.cache = cache
        self._batches: Optional[list] = None

    def _iter(self):
        if self._batches is not None:
            yield from self._batches
            return
        kept = []
        for batch in self.dataloader:
            if self.cache:
                kept.append(batch)
            yield batch
        if self.cache:
            self._batches = kept

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> Dict[str, float]:
        was_training = model.training
        model.eval()
        n = 0
        for batch in self._iter():
            outputs = model.test_step(batch)
            self.evaluator.process(data_samples=outputs, data_batch=batch)
            n += len(outputs)
        model.train(was_training)
        return self.evaluator.evaluate(n)


def _flops(model: nn.Module, input_size: Sequence[int]) -> float:
    return float(model_complexity(model, tuple(input_size))['flops'])


def search_table_markdown(result: SearchResult) -> str:
    """The searched curve as a markdown table (the chosen row in bold)."""
    m = result.metric
    lines = [
        f'| threshold | channels removed | params | FLOPs | {m} | change '
        f'(bound {result.max_change:g}) | |',
        '|---|---|---|---|---|---|---|',
    ]
    for p in result.points:
        flops = '' if p.flops is None else f'{p.flops / 1e9:.3f} G'
        if p.error:
            row = [f'{p.threshold:.4g}', '', '', '', '', '',
                   'infeasible: ' + p.error.split(';')[0]]
        else:
            row = [
                f'{p.threshold:.4g}', f'{p.removed:,}', f'{p.params:,}',
                flops, f'{p.value:.4f}', f'{p.change:+.4f}',
                'within' if p.within else 'beyond'
            ]
        if p is result.best:
            row = [f'**{c}**' if c else c for c in row]
            row[-1] += ' (chosen)'
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def plot_search(result: SearchResult, path: str, title: str = '') -> str:
    """A PNG of the searched curve: the metric and the parameters against
    the threshold (log scale), the bound and the chosen threshold marked."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    pts = [p for p in result.points if not p.error and p.threshold > 0]
    pts.sort(key=lambda p: p.threshold)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    base = result.baseline.value
    limit = base + result.max_change if result.metric == 'MAE' else \
        base - result.max_change
    ax.plot([p.threshold for p in pts], [p.value for p in pts], 'o-',
            color='tab:blue', label=result.metric)
    ax.axhline(base, color='tab:blue', lw=0.8, ls=':',
               label=f'unpruned {base:.4f}')
    ax.axhline(limit, color='tab:red', lw=0.8, ls='--',
               label=f'bound {limit:.4f}')
    if result.best.threshold > 0:
        ax.axvline(result.best.threshold, color='k', lw=0.8,
                   label=f'chosen {result.best.threshold:.3g}')
    ax.set_xscale('log')
    ax.set_xlabel('pruning threshold on |gamma|')
    ax.set_ylabel(result.metric)
    ax2 = ax.twinx()
    ax2.plot([p.threshold for p in pts], [p.params / 1e3 for p in pts],
             's--', color='tab:green', alpha=0.7, label='params (K)')
    ax2.set_ylabel('parameters (K)', color='tab:green')
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc='best')
    ax.set_title(title or f'threshold search: {result.metric} within '
                 f'{result.max_change:g}')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def build_search_evaluator(cfg,
                           val_config: Optional[str] = None,
                           bound: str = 'MAE=0.002',
                           batch_size: Optional[int] = None
                           ) -> SegmentorEvaluator:
    """The evaluator of a threshold search: ``val_dataloader`` and
    ``val_evaluator`` of ``val_config`` (a file) or of ``cfg``, the SOD
    metric restricted to the family of the bounded metric (the others -
    weighted F, E-measure - cost more than the inference on small images).

    Args:
        cfg (Config): The training config.
        val_config (str, optional): A config file to evaluate with instead.
        bound (str): The metric bound, see :func:`parse_metric_bound`.
        batch_size (int, optional): Batch size of the validation loader
            (default: the config's).

    Raises:
        ValueError: If the config has no validation set, or it cannot be
            built (missing data, bad files), naming the config.
    """
    from mmengine.config import Config
    source = val_config or cfg.filename or 'the config'
    vcfg = Config.fromfile(val_config) if val_config else cfg
    for key in ('val_dataloader', 'val_evaluator'):
        if vcfg.get(key) is None:
            raise ValueError(f'{source} has no {key} (pass a config with one '
                             'via --val-config)')
    evaluator = copy.deepcopy(vcfg.val_evaluator)
    metric = parse_metric_bound(bound)[0]
    for m in (evaluator if isinstance(evaluator, list) else [evaluator]):
        if m.get('type') in ('SODMetric', 'mmseg.SODMetric'):
            m['sod_metrics'] = [
                f for f, keys in SOD_METRIC_KEYS.items() if metric in keys
            ]
    loader = copy.deepcopy(vcfg.val_dataloader)
    if batch_size is not None:
        loader['batch_size'] = batch_size
    try:
        return SegmentorEvaluator(loader, evaluator)
    except (OSError, ValueError, KeyError) as e:  # missing data, bad files
        raise ValueError(f'cannot build the validation set of {source}: '
                         f'{e}') from e


def check_search_out_dir(out_dir: str) -> None:
    """Refuse an output folder that already holds search outputs.

    Raises:
        FileExistsError: Naming the files that would be overwritten.
    """
    taken = [f for f in SEARCH_FILES if osp.exists(osp.join(out_dir, f))]
    if taken:
        raise FileExistsError(f'{out_dir} already holds {", ".join(taken)}; '
                              'refusing to overwrite')


def write_search(result: SearchResult, out_dir: str, source: str,
                 fold: bool) -> str:
    """Write ``search.md`` (the report: the chosen threshold and the
    searched curve) and ``search.png`` (:func:`plot_search`) into
    ``out_dir``.

    Args:
        result (SearchResult): From :func:`search_threshold`.
        out_dir (str): The output folder (exists).
        source (str): The searched checkpoint, for the report.
        fold (bool): Whether the search absorbed removed channels.

    Returns:
        str: The report text.
    """
    b = result.best
    text = (f'# Threshold search: {result.metric} may get worse by at '
            f'most {result.max_change:g}\n\n'
            f'{source}, {result.gammas} distinct '
            f'|gamma| values, {len(result.points) - 1} thresholds '
            f'evaluated in {result.seconds:.0f} s; fold: '
            f'{fold}.\n\nChosen threshold: {b.threshold:.6g}'
            f' ({result.metric} {result.baseline.value:.4f} -> '
            f'{b.value:.4f}, {b.removed} channels removed).\n\n'
            f'{search_table_markdown(result)}\n')
    with open(osp.join(out_dir, SEARCH_FILES[0]), 'w') as f:
        f.write(text)
    plot_search(result, osp.join(out_dir, SEARCH_FILES[1]))
    return text
