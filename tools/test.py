"""Test a csnet-mmseg model (the same interface as MMSeg's tools/test.py).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show-dir DIR] [--cfg-options k=v ...] [--launcher pytorch]

``--out DIR`` writes the 8-bit saliency maps (one subfolder per benchmark).
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.runner import Runner

import csnet_mmseg  # noqa: F401  (fills the registries)
from csnet_mmseg.checkpoint import CheckpointError
from csnet_mmseg.engine import setup_cpu_distributed
from csnet_mmseg.utils.tool_args import CfgOptionsAction, check_cfg_options
from mmseg.registry import RUNNERS


def parse_args():
    parser = argparse.ArgumentParser(description='Test a CSNet segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument(
        '--out', help='folder for the predicted saliency maps (8-bit PNG)')
    parser.add_argument(
        '--show', action='store_true', help='show results in a window')
    parser.add_argument(
        '--show-dir', help='folder for the drawn predictions (overlays)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='interval of --show (s)')
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
    parser.add_argument('--tta', action='store_true', help='test-time aug')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg: Config, args) -> None:
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError('--show/--show-dir need default_hooks.visualization'
                           " (dict(type='SegVisualizationHook'))")
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir


def set_output_dir(cfg: Config, out: str) -> None:
    evaluators = cfg.test_evaluator
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    for ev in evaluators:
        ev['output_dir'] = out
        if ev.get('type') == 'IoUMetric':
            ev['keep_results'] = True


def main():
    args = parse_args()
    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            sys.exit(f'error: {what} file not found: {path}')
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
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        set_output_dir(cfg, args.out)
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
    try:
        runner.test()
    except (CheckpointError, FileNotFoundError, FileExistsError) as e:
        # an unsafe or damaged checkpoint, a missing data folder or file,
        # an --out folder that is not empty
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
