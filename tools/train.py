"""Train a csnet-mmseg model (the same interface as MMSeg's tools/train.py).

    python tools/train.py configs/csnet_duts.py [--work-dir DIR] [--resume]
        [--amp] [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import logging
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

import csnet_mmseg  # noqa: F401  (fills the registries)
from csnet_mmseg.checkpoint import CheckpointError
from csnet_mmseg.engine import setup_cpu_distributed
from csnet_mmseg.engine.resume import find_resumable_checkpoint
from csnet_mmseg.utils.tool_args import CfgOptionsAction, check_cfg_options
from mmseg.registry import RUNNERS


def parse_args():
    parser = argparse.ArgumentParser(description='Train a CSNet segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='resume from the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override config settings, key=value (xxx=yyy, a.b=[1,2])')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_amp(cfg: Config) -> None:
    wrapper = cfg.optim_wrapper
    if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
        print_log('AMP is already enabled in the config.', logger='current',
                  level=logging.WARNING)
        return
    if wrapper.get('type', 'OptimWrapper') == 'OptimWrapper':
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
    else:
        # our wrappers (e.g. DynamicWeightDecayOptimWrapper) take amp=True
        wrapper.amp = True


def main():
    args = parse_args()
    if not osp.isfile(args.config):
        sys.exit(f'error: config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        try:
            check_cfg_options(cfg, args.cfg_options)
        except ValueError as e:
            sys.exit(f'error: {e}')
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        enable_amp(cfg)
    cfg.resume = args.resume
    if args.resume and cfg.get('load_from') is None:
        # the newest complete checkpoint: a run killed while it wrote one
        # may have left the file named in last_checkpoint cut short
        try:
            cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
        except RuntimeError as e:
            sys.exit(f'error: {e}')
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
    try:
        runner.train()
    except (CheckpointError, FileNotFoundError) as e:
        # load_from / resume unsafe or damaged; a data folder or file missing
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
