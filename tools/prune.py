"""Prune a trained CSNet offline: narrowed config + checkpoint + summary.

Writes into --out-dir (never overwriting) what ``ChannelPruningHook`` writes
at the end of training; ``--max-increase METRIC=AMOUNT`` searches the
largest threshold within a metric bound on a validation set first and also
writes ``search.md`` / ``search.png``. See docs/pruning.md.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.logging import MMLogger

import csnet_mmseg  # noqa: F401  (fills the registries)
from csnet_mmseg.apis import build_segmentor
from csnet_mmseg.checkpoint import CheckpointError
from csnet_mmseg.models import NotCSNetError
from csnet_mmseg.pruning import (SEARCH_FILES, PruningError,
                                 build_search_evaluator,
                                 calib_batches_from_loader, check_out_dir,
                                 check_search_out_dir,
                                 parse_metric_bound, prune_segmentor,
                                 search_threshold, write_pruned, write_search)
from csnet_mmseg.utils.tool_args import CfgOptionsAction, check_cfg_options


def parse_args():
    parser = argparse.ArgumentParser(
        description='Remove the channels of a trained CSNet whose BN gamma '
        'is below a threshold')
    add = parser.add_argument
    add('config', help='the training config of the model')
    add('checkpoint', help='the trained (wide) checkpoint')
    add('--out-dir', required=True, help='folder for the pruned files')
    add('--threshold', type=float, default=None,
        help='remove channels with |gamma| < threshold (default: 1e-20, '
        'the released models)')
    add('--max-increase', metavar='METRIC=AMOUNT',
        help='instead of --threshold: search the largest threshold whose '
        'pruned model (folded, before fine-tuning) loses at most AMOUNT of '
        'METRIC on the validation set (MAE may rise by AMOUNT; maxF, Sm, '
        '... may fall by it), e.g. MAE=0.002; writes search.md and '
        'search.png too')
    add('--val-config',
        help='with --max-increase: a config whose val_dataloader and '
        'val_evaluator the search evaluates on (default: CONFIG\'s own)')
    add('--val-batch-size', type=int, default=None,
        help='with --max-increase: batch size of the validation loader '
        '(default: the config\'s; larger batches are much faster on a CPU, '
        'but only where the test pipeline gives every image one size)')
    add('--coarse-steps', type=int, default=16,
        help='points of the search\'s coarse pass (default 16)')
    add('--no-fold', action='store_true',
        help='drop the constant output of removed channels instead of '
        'folding it into the next layers')
    add('--input-size', type=int, nargs=2, default=[224, 224],
        metavar=('H', 'W'),
        help='image size for the folded constants and FLOPs (224 224)')
    add('--calib-batches', type=int, default=0,
        help='calibrate the folding on this many batches of the config\'s '
        'train_dataloader (default 0: data-free folding)')
    add('--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, key=value (xxx=yyy, a.b=[1,2])')
    return parser.parse_args()


def check_args(args) -> str:
    """The first problem with the arguments and files ('' if none)."""
    search = args.max_increase is not None
    if search and args.threshold is not None:
        return 'give --threshold or --max-increase, not both'
    if search:
        try:
            parse_metric_bound(args.max_increase)
        except ValueError as e:
            return f'--max-increase: {e}'
        if args.coarse_steps < 1:
            return '--coarse-steps must be >= 1'
        if args.val_batch_size is not None and args.val_batch_size < 1:
            return '--val-batch-size must be >= 1'
    elif args.val_config is not None:
        return '--val-config is only used with --max-increase'
    for kind, path in (('--val-config', args.val_config),
                       ('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if path is not None and not osp.isfile(path):
            return f'{kind} {path} not found'
    try:
        check_out_dir(args.out_dir)
        if search:
            check_search_out_dir(args.out_dir)
    except FileExistsError as e:
        return str(e)
    return ''


def main():
    args = parse_args()
    MMLogger.get_instance('prune', log_level='INFO')  # for print_log
    problem = check_args(args)
    if problem:
        sys.exit(f'prune: {problem}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        try:
            check_cfg_options(cfg, args.cfg_options)
        except ValueError as e:
            sys.exit(f'prune: {e}')
        cfg.merge_from_dict(args.cfg_options)
    try:  # logger=None: load_checkpoint prints the loaded file
        model, ckpt = build_segmentor(cfg, args.checkpoint, seed=None,
                                      strict=True, logger=None,
                                      return_checkpoint=True)
    except CheckpointError as e:  # unsafe or damaged checkpoint
        sys.exit(f'prune: {e}')
    fold, calib, search = not args.no_fold, None, None
    if args.calib_batches > 0 and fold:
        try:
            calib = calib_batches_from_loader(model, cfg.train_dataloader,
                                              args.calib_batches)
        except (OSError, ValueError) as e:  # missing data, bad files
            sys.exit(f'prune: --calib-batches: {e}')
    threshold = 1e-20 if args.threshold is None else args.threshold
    if args.max_increase is not None:
        try:
            evaluate = build_search_evaluator(
                cfg, args.val_config, args.max_increase, args.val_batch_size)
        except ValueError as e:
            sys.exit(f'prune: --max-increase: {e}')
        try:
            search = search_threshold(
                model, cfg.model, evaluate, bound=args.max_increase,
                fold=fold, input_size=args.input_size, calib=calib,
                coarse_steps=args.coarse_steps)
        except (PruningError, NotCSNetError, KeyError) as e:
            sys.exit(f'prune: --max-increase: {e}')
        threshold = search.best.threshold
    try:
        result = prune_segmentor(model, cfg.model, threshold=threshold,
                                 fold=fold, input_size=args.input_size,
                                 calib=calib)
    except (PruningError, NotCSNetError) as e:
        sys.exit(f'prune: {e}')
    source = osp.abspath(args.checkpoint)
    paths = write_pruned(result, args.out_dir, cfg, source=source,
                         dataset_meta=ckpt.get('meta', {}).get('dataset_meta'))
    print(result.summary)
    if search is not None:
        print(write_search(search, args.out_dir, source, fold))
        print(f'search:     {osp.join(args.out_dir, SEARCH_FILES[0])}, '
              f'{osp.join(args.out_dir, SEARCH_FILES[1])}')
    print(f"config:     {paths['config']}")
    print(f"checkpoint: {paths['checkpoint']}")
    print(f"summary:    {paths['summary']}")


if __name__ == '__main__':
    main()
