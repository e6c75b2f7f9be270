"""No decay vs L2 vs dynamic weight decay on real data, end to end.

Trains the initial x1 CSNet (240,741 parameters) once per arm with the same
seed, initial weights, data order and schedule (the configs in
``configs/csnet_dwd_experiment/``: DUTS-TR training split of
``../shared/data/duts-tr-224``, 112x112, batch 8, Adam), then for every arm:

1. ``train``: ``tools/train.py`` on the arm's config, one process per arm and
   one thread each (``--jobs`` arms side by side); logs in
   ``WORK_DIR/<arm>/train.log``, wall time and iterations per second in
   ``WORK_DIR/<arm>/timing.json``. A killed run resumes (``--resume``).
2. ``eval``: the share of targeted gammas (the BN gammas of every gOctConv of
   the backbone) below 1e-2 / 1e-3 / 1e-5 / 1e-20, and MAE / max F / S on the
   validation split (``val.txt``) and on ``../shared/data/pascal-s-dev``.
3. ``search``: the largest pruning threshold whose pruned model (with
   folding, before fine-tuning) loses at most ``--max-increase`` of the
   metric on the validation split (:func:`search_threshold`), its curve as a
   table and a PNG; prune at it (narrowed config, checkpoint, summary).
4. ``finetune``: a short fine-tune of the pruned model (plain Adam at the
   arm's final lr, ``--finetune-iters``), then the metrics again.
5. ``report``: ``WORK_DIR/report.md`` (one row per arm) and
   ``WORK_DIR/gamma_hist.png`` (histogram of log10 |gamma| per arm).

Stages already done (their output files exist) are skipped, so the command
can be re-run after an interruption.

    python tools/analysis_tools/dwd_experiment.py [--arms none l2 dwd]
        [--work-dir work_dirs/dwd_experiment] [--jobs 3]
        [--stages train eval search finetune report]
        [--train-options max_iters=300 ...]
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
ARM_CONFIG_DIR = osp.join('configs', 'csnet_dwd_experiment')
STAGES = ('train', 'eval', 'search', 'finetune', 'report')
ITER_RE = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]')


def parse_args():
    parser = argparse.ArgumentParser(
        description='No decay vs L2 vs dynamic weight decay on DUTS-TR: '
        'train, evaluate, search a pruning threshold, prune, fine-tune, '
        'report')
    parser.add_argument(
        '--arms',
        nargs='+',
        default=['none', 'l2', 'dwd'],
        help='arm names (configs/csnet_dwd_experiment/csnet_x1_duts224_'
        '<name>.py) or name=CONFIG')
    parser.add_argument('--work-dir', default='work_dirs/dwd_experiment')
    parser.add_argument(
        '--stages', nargs='+', default=list(STAGES), choices=STAGES)
    parser.add_argument(
        '--jobs', type=int, default=3, help='arms trained side by side')
    parser.add_argument(
        '--threads', type=int, default=1, help='threads per training process')
    parser.add_argument(
        '--train-options',
        nargs='+',
        default=[],
        help='--cfg-options passed to every arm\'s tools/train.py')
    parser.add_argument(
        '--max-increase',
        default='MAE=0.002',
        help='metric bound of the threshold search, METRIC=AMOUNT (MAE: '
        'may rise by AMOUNT; maxF, S, ...: may fall by AMOUNT)')
    parser.add_argument(
        '--finetune-iters', type=int, default=500,
        help='iterations of the short fine-tune after pruning')
    parser.add_argument(
        '--pascal-root',
        default='../shared/data/pascal-s-dev',
        help='second evaluation set (images/ + GT/); skipped if missing')
    return parser.parse_args()


def arm_configs(arms: List[str]) -> Dict[str, str]:
    out = {}
    for arm in arms:
        if '=' in arm:
            name, cfg = arm.split('=', 1)
        else:
            name = arm
            cfg = osp.join(ARM_CONFIG_DIR, f'csnet_x1_duts224_{arm}.py')
        if not osp.isfile(cfg):
            raise SystemExit(f'dwd_experiment: arm {name!r}: config {cfg!r} '
                             'does not exist (run from the repository root)')
        if name in out:
            raise SystemExit(f'dwd_experiment: arm {name!r} given twice')
        out[name] = cfg
    return out


def _log(msg: str) -> None:
    print(f'[dwd_experiment {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def _last_iter(log_path: str) -> tuple:
    if not osp.isfile(log_path):
        return 0, 0
    with open(log_path, errors='replace') as f:
        text = f.read()[-20000:]
    found = ITER_RE.findall(text)
    return (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)


def stage_train(args, arms: Dict[str, str]) -> None:
    """Train every arm (``--jobs`` at a time) through tools/train.py."""
    pending = []
    for name, cfg in arms.items():
        wd = osp.join(args.work_dir, name)
        if osp.isfile(osp.join(wd, 'timing.json')):
            _log(f'{name}: trained already ({wd}/timing.json)')
            continue
        pending.append((name, cfg, wd))
    running = {}
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(args.threads),
        MKL_NUM_THREADS=str(args.threads),
        PYTHONUNBUFFERED='1')
    last_report = 0.0
    while pending or running:
        while pending and len(running) < args.jobs:
            name, cfg, wd = pending.pop(0)
            os.makedirs(wd, exist_ok=True)
            cmd = [
                sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg,
                '--work-dir', wd
            ]
            if osp.isfile(osp.join(wd, 'last_checkpoint')):
                cmd.append('--resume')
            if args.train_options:
                cmd += ['--cfg-options'] + list(args.train_options)
            log_path = osp.join(wd, 'train.log')
            start_iter = _last_iter(log_path)[0] if '--resume' in cmd else 0
            log = open(log_path, 'a')
            _log(f'{name}: ' + ' '.join(cmd))
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            running[name] = (proc, log, wd, time.time(), start_iter)
        time.sleep(5)
        for name in list(running):
            proc, log, wd, t0, start_iter = running[name]
            if proc.poll() is None:
                continue
            log.close()
            del running[name]
            if proc.returncode != 0:
                raise SystemExit(
                    f'dwd_experiment: training arm {name!r} failed (exit '
                    f'{proc.returncode}); see {wd}/train.log')
            done, total = _last_iter(osp.join(wd, 'train.log'))
            wall = time.time() - t0
            timing = dict(
                wall_s=round(wall, 1),
                iters=total - start_iter,
                iters_per_s=round((total - start_iter) / max(wall, 1e-9), 4),
                threads=args.threads,
                jobs=args.jobs)
            with open(osp.join(wd, 'timing.json'), 'w') as f:
                json.dump(timing, f, indent=1)
            _log(f'{name}: done, {timing}')
        if time.time() - last_report > 120 and running:
            last_report = time.time()
            parts = []
            for name, (_, _, wd, t0, start_iter) in running.items():
                done, total = _last_iter(osp.join(wd, 'train.log'))
                rate = (done - start_iter) / max(time.time() - t0, 1e-9)
                parts.append(f'{name} {done}/{total} ({rate:.3f} it/s)')
            _log('training: ' + ', '.join(parts))


def main():
    args = parse_args()
    os.chdir(ROOT)
    arms = arm_configs(args.arms)
    os.makedirs(args.work_dir, exist_ok=True)
    if 'train' in args.stages:
        stage_train(args, arms)


if __name__ == '__main__':
    main()
