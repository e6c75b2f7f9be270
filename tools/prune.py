"""Prune a trained CSNet offline: narrowed config + checkpoint + summary.

    python tools/prune.py CONFIG CHECKPOINT --out-dir DIR
        [--threshold 1e-20 | --max-increase MAE=0.002 [--val-config VALCFG]]
        [--no-fold] [--input-size H W] [--calib-batches N]
        [--cfg-options k=v ...]

Writes into DIR (refusing to overwrite): ``pruned_config.py`` (inherits
``train_config.py`` and overrides only the layer table), ``train_config.py``
(CONFIG resolved into one file), ``pruned.pth`` (load it with ``load_from``
or pass it to tools/test.py) and ``summary.md`` (also printed). The same as
``ChannelPruningHook`` does at the end of training; see docs/pruning.md.

With ``--max-increase METRIC=AMOUNT`` the threshold is searched instead of
given: the largest one whose pruned model (folded unless ``--no-fold``,
before any fine-tuning) loses at most AMOUNT of METRIC on the validation set
of VALCFG (its ``val_dataloader`` and ``val_evaluator``; default: CONFIG's).
Inference only. The searched curve (threshold -> params, FLOPs, metric) goes
to ``search.md`` and ``search.png`` beside the other files.
"""
import argparse
import copy
import os.path as osp
import sys
from typing import Optional

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import csnet_mmseg  # noqa: F401  (fills the registries)
from csnet_mmseg.checkpoint import CheckpointError
from csnet_mmseg.evaluation.metrics.sod_metric import SOD_METRIC_KEYS
from csnet_mmseg.models import NotCSNetError
from csnet_mmseg.pruning import (PruningError, SegmentorEvaluator,
                                 calib_batches_from_loader, check_out_dir,
                                 parse_metric_bound, plot_search,
                                 prune_segmentor, search_table_markdown,
                                 search_threshold, write_pruned)
from csnet_mmseg.utils.tool_args import CfgOptionsAction, check_cfg_options
from mmseg.registry import MODELS

SEARCH_FILES = ('search.md', 'search.png')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Remove the channels of a trained CSNet whose BN gamma '
        'is below a threshold')
    parser.add_argument('config', help='the training config of the model')
    parser.add_argument('checkpoint', help='the trained (wide) checkpoint')
    parser.add_argument(
        '--out-dir', required=True, help='folder for the pruned files')
    parser.add_argument(
        '--threshold',
        type=float,
        default=None,
        help='remove channels with |gamma| < threshold (default: 1e-20, '
        'the released models)')
    parser.add_argument(
        '--max-increase',
        metavar='METRIC=AMOUNT',
        help='instead of --threshold: search the largest threshold whose '
        'pruned model (folded, before fine-tuning) loses at most AMOUNT of '
        'METRIC on the validation set (MAE may rise by AMOUNT; maxF, Sm, '
        '... may fall by it), e.g. MAE=0.002; writes search.md and '
        'search.png too')
    parser.add_argument(
        '--val-config',
        help='with --max-increase: a config whose val_dataloader and '
        'val_evaluator the search evaluates on (default: CONFIG\'s own)')
    parser.add_argument(
        '--val-batch-size',
        type=int,
        default=None,
        help='with --max-increase: batch size of the validation loader '
        '(default: the config\'s; larger batches are much faster on a CPU, '
        'but only where the test pipeline gives every image one size)')
    parser.add_argument(
        '--coarse-steps',
        type=int,
        default=16,
        help='points of the search\'s coarse pass (default 16)')
    parser.add_argument(
        '--no-fold',
        action='store_true',
        help='drop the constant output of removed channels instead of '
        'folding it into the next layers')
    parser.add_argument(
        '--input-size',
        type=int,
        nargs=2,
        default=[224, 224],
        metavar=('H', 'W'),
        help='image size for the folded constants and FLOPs (224 224)')
    parser.add_argument(
        '--calib-batches',
        type=int,
        default=0,
        help='calibrate the folding on this many batches of the config\'s '
        'train_dataloader (default 0: data-free folding)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override config settings, key=value (xxx=yyy, a.b=[1,2])')
    return parser.parse_args()


def build_evaluator(cfg: Config, val_config: Optional[str], bound: str,
                    batch_size: Optional[int]):
    """The search's evaluator on ``val_dataloader`` / ``val_evaluator``."""
    source = val_config or args_config_name(cfg)
    vcfg = Config.fromfile(val_config) if val_config else cfg
    for key in ('val_dataloader', 'val_evaluator'):
        if vcfg.get(key) is None:
            sys.exit(f'prune: --max-increase: {source} has no {key} '
                     '(pass a config with one via --val-config)')
    evaluator = copy.deepcopy(vcfg.val_evaluator)
    metric = parse_metric_bound(bound)[0]
    for m in (evaluator if isinstance(evaluator, list) else [evaluator]):
        # the bounded family only: the others (weighted F, E-measure) cost
        # more than the inference itself on small images
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
        sys.exit(f'prune: --max-increase: cannot build the validation set '
                 f'of {source}: {e}')


def args_config_name(cfg: Config) -> str:
    return cfg.filename or 'the config'


def main():
    args = parse_args()
    MMLogger.get_instance('prune', log_level='INFO')  # for print_log
    if args.max_increase is not None:
        if args.threshold is not None:
            sys.exit('prune: give --threshold or --max-increase, not both')
        try:
            parse_metric_bound(args.max_increase)
        except ValueError as e:
            sys.exit(f'prune: --max-increase: {e}')
        if args.coarse_steps < 1:
            sys.exit('prune: --coarse-steps must be >= 1')
        if args.val_batch_size is not None and args.val_batch_size < 1:
            sys.exit('prune: --val-batch-size must be >= 1')
    elif args.val_config is not None:
        sys.exit('prune: --val-config is only used with --max-increase')
    if args.val_config is not None and not osp.isfile(args.val_config):
        sys.exit(f'prune: --val-config {args.val_config} not found')
    threshold = 1e-20 if args.threshold is None else args.threshold
    if not osp.isfile(args.config):
        sys.exit(f'prune: config {args.config} not found')
    if not osp.isfile(args.checkpoint):
        sys.exit(f'prune: checkpoint {args.checkpoint} not found')
    try:
        check_out_dir(args.out_dir)
    except FileExistsError as e:
        sys.exit(f'prune: {e}')
    if args.max_increase is not None:
        taken = [f for f in SEARCH_FILES
                 if osp.exists(osp.join(args.out_dir, f))]
        if taken:
            sys.exit(f'prune: {args.out_dir} already holds '
                     f'{", ".join(taken)}; refusing to overwrite')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        try:
            check_cfg_options(cfg, args.cfg_options)
        except ValueError as e:
            sys.exit(f'prune: {e}')
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    try:
        ckpt = load_checkpoint(
            model, args.checkpoint, map_location='cpu', strict=True)
    except CheckpointError as e:  # unsafe or damaged checkpoint
        sys.exit(f'prune: {e}')
    calib = None
    if args.calib_batches > 0 and not args.no_fold:
        from mmengine.runner import Runner
        try:
            loader = Runner.build_dataloader(cfg.train_dataloader)
            calib = calib_batches_from_loader(model, loader,
                                              args.calib_batches)
        except (OSError, ValueError) as e:  # missing data, bad files
            sys.exit(f'prune: --calib-batches: {e}')
    search = None
    if args.max_increase is not None:
        evaluate = build_evaluator(cfg, args.val_config, args.max_increase,
                                   args.val_batch_size)
        try:
            search = search_threshold(
                model,
                cfg.model,
                evaluate,
                bound=args.max_increase,
                fold=not args.no_fold,
                input_size=args.input_size,
                calib=calib,
                coarse_steps=args.coarse_steps)
        except (PruningError, NotCSNetError, KeyError) as e:
            sys.exit(f'prune: --max-increase: {e}')
        threshold = search.best.threshold
    try:
        result = prune_segmentor(
            model,
            cfg.model,
            threshold=threshold,
            fold=not args.no_fold,
            input_size=args.input_size,
            calib=calib)
    except (PruningError, NotCSNetError) as e:
        sys.exit(f'prune: {e}')
    paths = write_pruned(
        result,
        args.out_dir,
        cfg,
        source=osp.abspath(args.checkpoint),
        dataset_meta=ckpt.get('meta', {}).get('dataset_meta'))
    print(result.summary)
    if search is not None:
        table = search_table_markdown(search)
        b = search.best
        text = (f'# Threshold search: {search.metric} may get worse by at '
                f'most {search.max_change:g}\n\n'
                f'{osp.abspath(args.checkpoint)}, {search.gammas} distinct '
                f'|gamma| values, {len(search.points) - 1} thresholds '
                f'evaluated in {search.seconds:.0f} s; fold: '
                f'{not args.no_fold}.\n\nChosen threshold: {b.threshold:.6g}'
                f' ({search.metric} {search.baseline.value:.4f} -> '
                f'{b.value:.4f}, {b.removed} channels removed).\n\n'
                f'{table}\n')
        with open(osp.join(args.out_dir, 'search.md'), 'w') as f:
            f.write(text)
        plot_search(search, osp.join(args.out_dir, 'search.png'))
        print(text)
        print(f"search:     {osp.join(args.out_dir, 'search.md')}, "
              f"{osp.join(args.out_dir, 'search.png')}")
    print(f"config:     {paths['config']}")
    print(f"checkpoint: {paths['checkpoint']}")
    print(f"summary:    {paths['summary']}")


if __name__ == '__main__':
    main()
