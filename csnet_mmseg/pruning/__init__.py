"""Channel pruning of CSNet segmentors: learnable channel counts per scale.

After training with dynamic weight decay, the BN scales (gammas) of many
channels are (near) zero. Pruning removes, per layer and per scale, every
channel whose ``|gamma| < threshold`` (the released models used 1e-20) and
builds a narrowed model whose weights are the surviving slices of the wide
one. Everything here works on a plain segmentor (no Runner): the training
hook :class:`~csnet_mmseg.engine.hooks.ChannelPruningHook` and
``tools/prune.py`` both call :func:`prune_segmentor` and
:func:`write_pruned`.

Modules: :mod:`.graph` lists the prunable units (the one statement of
CSNet's channel graph); :mod:`.rules` states, once per layer type, how a
layer is narrowed, absorbs removed channels and is described;
:mod:`.plan` (keep masks), :mod:`.slicing`, :mod:`.absorb`, :mod:`.summary`
and :mod:`.files` loop over the units and dispatch to the rules;
:mod:`.prune` runs them in order. The layer table it writes is a
:class:`~csnet_mmseg.models.LayerTable`.

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

Absorbing (``fold=True``; "folding" in the summaries and options): a
removed channel does not output zero. With
``gamma = 0`` its BN outputs ``beta``, so the channel (and its depthwise
followers) emits a map that does not depend on the image. Dropping the
channel drops that map; absorbing replaces its contribution to every consumer
by a constant per consumer channel - the spatial mean of the exact
contribution at ``input_size`` (the L2-best constant; far from the image
borders it equals ``map value * sum of the path's kernel weights``) - and
adds it into the consumer's BN ``running_mean`` (``conv_seg``: its bias).
On 1x1 paths fed by BN outputs (multi-dilation -> merge -> conv_seg) the
map is constant everywhere and absorbing is exact.

Calibrated absorbing (``calib=`` image batches): a channel whose gamma is
small but not zero is not image-independent, and its depthwise followers'
BNs (normalising a nearly constant input) can amplify what is left. Given
calibration images, each removed channel is replaced by its mean output over
them (the L2-best constant for every consumer on that data) instead of the
data-free image-independent part.
"""
from .absorb import absorb_removed_channels
from .files import (OUTPUT_FILES, PRUNED_CHECKPOINT, PRUNED_CONFIG, SUMMARY,
                    TRAIN_CONFIG, check_out_dir, format_table_override,
                    write_pruned)
from .graph import (Consumer, PrunableUnit, PruningError, prunable_gammas,
                    prunable_units, unwrap_model)
from .plan import PruningPlan, plan_pruning
from .prune import PruningResult, calib_batches_from_loader, prune_segmentor
from .rules import (RULES, AbsorbContext, LayerRule, register_rule,
                    rule_for)
from .search import (SEARCH_FILES, SearchPoint, SearchResult,
                     SegmentorEvaluator, build_search_evaluator,
                     check_search_out_dir, parse_metric_bound, plot_search,
                     search_table_markdown, search_threshold,
                     share_threshold, write_search)
from .slicing import slice_model
from .summary import model_complexity, summary_markdown

__all__ = [
    'PruningError', 'PruningPlan', 'PruningResult', 'plan_pruning',
    'prune_segmentor', 'write_pruned', 'format_table_override',
    'model_complexity', 'check_out_dir', 'calib_batches_from_loader',
    'PRUNED_CONFIG', 'TRAIN_CONFIG', 'PRUNED_CHECKPOINT', 'SUMMARY',
    'OUTPUT_FILES', 'summary_markdown', 'unwrap_model', 'prunable_units',
    'prunable_gammas', 'PrunableUnit', 'Consumer', 'search_threshold',
    'SearchPoint', 'SearchResult', 'SegmentorEvaluator', 'parse_metric_bound',
    'plot_search', 'search_table_markdown', 'LayerRule', 'RULES',
    'AbsorbContext', 'register_rule', 'rule_for', 'slice_model',
    'absorb_removed_channels', 'build_search_evaluator', 'write_search',
    'check_search_out_dir', 'SEARCH_FILES', 'share_threshold'
]
