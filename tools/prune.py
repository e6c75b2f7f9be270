"""Prune a trained CSNet offline: narrowed config + checkpoint + summary.

    python tools/prune.py CONFIG CHECKPOINT --out-dir DIR
        [--threshold 1e-20] [--no-fold] [--input-size H W]
        [--calib-batches N] [--cfg-options k=v ...]

Writes into DIR (refusing to overwrite): ``pruned_config.py`` (inherits
``train_config.py`` and overrides only the layer table), ``train_config.py``
(CONFIG resolved into one file), ``pruned.pth`` (load it with ``load_from``
or pass it to tools/test.py) and ``summary.md`` (also printed). The same as
``ChannelPruningHook`` does at the end of training; see docs/pruning.md.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import csnet_mmseg  # noqa: F401  (fills the registries)
from csnet_mmseg.compat import CheckpointError
from csnet_mmseg.models import NotCSNetError
from csnet_mmseg.pruning import (PruningError, calib_batches_from_loader,
                                 check_out_dir, prune_segmentor, write_pruned)
from csnet_mmseg.utils.tool_args import CfgOptionsAction, check_cfg_options
from mmseg.registry import MODELS


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
        default=1e-20,
        help='remove channels with |gamma| < threshold (default: 1e-20, '
        'the released models)')
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


def main():
    args = parse_args()
    if not osp.isfile(args.config):
        sys.exit(f'prune: config {args.config} not found')
    if not osp.isfile(args.checkpoint):
        sys.exit(f'prune: checkpoint {args.checkpoint} not found')
    try:
        check_out_dir(args.out_dir)
    except FileExistsError as e:
        sys.exit(f'prune: {e}')
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
    try:
        result = prune_segmentor(
            model,
            cfg.model,
            threshold=args.threshold,
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
    print(f"config:     {paths['config']}")
    print(f"checkpoint: {paths['checkpoint']}")
    print(f"summary:    {paths['summary']}")


if __name__ == '__main__':
    main()
