"""No decay vs L2 vs dynamic weight decay on real data, end to end.

Trains the initial x1 CSNet (240,741 parameters) once per arm with the same
seed, initial weights, data order and schedule (the configs in
``experiments/dwd/configs/``: DUTS-TR training split of
``DATA_ROOT/duts-tr-224``, 112x112, batch 8, Adam), then for every arm:

1. ``train``: ``tools/train.py`` on the arm's config, one process per arm and
   one thread each (``--jobs`` arms side by side); logs in
   ``WORK_DIR/<arm>/train.log``, wall time and iterations per second in
   ``WORK_DIR/<arm>/timing.json``. A killed run resumes (``--resume``).
2. ``eval``: the share of targeted gammas (the BN gammas of every gOctConv of
   the backbone) below 1e-2 / 1e-3 / 1e-5 / 1e-20, and MAE / max F / S on the
   validation split (``val.txt``) and on ``--pascal-root``
   (``../shared/data/pascal-s-dev``).
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

    python experiments/dwd/dwd_experiment.py [--arms none l2 dwd]
        [--work-dir work_dirs/dwd_experiment] [--jobs 3]
        [--stages train eval search finetune report]
        [--train-options max_iters=300 ...] [--data-root ../shared/data]

The configs read their data from ``$SOD_DATA_ROOT/duts-tr-224``; the tool
sets ``SOD_DATA_ROOT`` to ``--data-root`` (default: ``$SOD_DATA_ROOT`` if
set, else ``../shared/data``) for itself and every process it starts.
Relative paths are relative to the repository root, where the tool runs.
"""
import argparse
import copy
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
ARM_CONFIG_DIR = osp.join('experiments', 'dwd', 'configs')
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
        help='arm names (experiments/dwd/configs/csnet_x1_duts224_'
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
        '--finetune-iters', type=int, default=300,
        help='iterations of the short fine-tune after pruning')
    parser.add_argument(
        '--data-root',
        default=os.environ.get('SOD_DATA_ROOT', '../shared/data'),
        help='folder holding duts-tr-224/ (SOD_DATA_ROOT of the configs; '
        'default: $SOD_DATA_ROOT, else ../shared/data)')
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


GAMMA_LIMITS = (1e-2, 1e-3, 1e-5, 1e-20)
FINETUNE_CONFIG = osp.join(ARM_CONFIG_DIR, 'csnet_x1_duts224_finetune.py')


def _checkpoint(wd: str) -> str:
    """The final checkpoint of a finished run (``last_checkpoint``)."""
    path = osp.join(wd, 'last_checkpoint')
    if not osp.isfile(path):
        raise SystemExit(f'dwd_experiment: {wd} has no finished training '
                         '(no last_checkpoint); run the train stage')
    with open(path) as f:
        return f.read().strip()


def _build(cfg, ckpt: str):
    """The segmentor of ``cfg`` with the weights of ``ckpt`` (all keys)."""
    from csnet_mmseg.apis import build_segmentor
    return build_segmentor(cfg, ckpt, strict=True)


METRIC = dict(type='SODMetric', sod_metrics=['MAE', 'Fmeasure', 'Smeasure'])


def _val_loader(cfg):
    """The config's val dataloader in batches of 16 (every image is resized
    to one size: batches give the same maps)."""
    val = copy.deepcopy(cfg.val_dataloader)
    val.batch_size = 16
    return val


def val_evaluator(cfg):
    """A :class:`SegmentorEvaluator` of the config's val split."""
    from csnet_mmseg.pruning import SegmentorEvaluator
    return SegmentorEvaluator(_val_loader(cfg), METRIC)


def _evaluators(args, cfg) -> dict:
    """``val`` (the config's val split) and ``pascal-s-dev`` (if present),
    at the config's test size."""
    from csnet_mmseg.pruning import SegmentorEvaluator
    out = dict(val=val_evaluator(cfg))
    if osp.isdir(args.pascal_root):
        loader = _val_loader(cfg)
        loader.dataset.update(
            data_root=args.pascal_root,
            data_prefix=dict(img_path='images', seg_map_path='GT'),
            ann_file='',
            dataset_name='pascal-s-dev')
        out['pascal'] = SegmentorEvaluator(loader, METRIC)
    return out


def split_scores(evaluate, model) -> dict:
    """MAE / maxF / Sm of ``model`` from one evaluator."""
    from csnet_mmseg.pruning.search import metric_value
    m = evaluate(model)
    return {k: metric_value(m, k) for k in ('MAE', 'maxF', 'Sm')}


def _scores(evaluators: dict, model) -> dict:
    return {name: split_scores(ev, model) for name, ev in evaluators.items()}


def single_thread_env() -> dict:
    """The environment of a one-thread tool process."""
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                PYTHONUNBUFFERED='1')


def finetune_command(pruned: str, work_dir: str, iters: int,
                     validate: bool = True) -> List[str]:
    """``tools/train.py`` on the fine-tune config for the pruned model in
    ``pruned`` (its ``pruned_config.py`` and ``pruned.pth``): a new optimizer
    on the narrowed model, ``iters`` iterations, one checkpoint at the end;
    ``validate=False`` skips the validation at the end."""
    val_begin = iters if validate else iters + 1
    return [
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), FINETUNE_CONFIG, '--work-dir',
        work_dir, '--cfg-options',
        f'model.layer_table={pruned}/pruned_config.py',
        f'load_from={pruned}/pruned.pth', f'train_cfg.max_iters={iters}',
        f'train_cfg.val_begin={val_begin}',
        f'train_cfg.val_interval={val_begin}',
        f'default_hooks.checkpoint.interval={iters}'
    ]


def build_pruned(cfg_path: str, pruned: str):
    """The pruned segmentor in ``pruned`` (tools/prune.py's outputs) of an
    arm config."""
    from mmengine.config import Config
    cfg = Config.fromfile(cfg_path)
    cfg.model.type = 'CSNetEncoderDecoder'
    cfg.model.layer_table = osp.join(pruned, 'pruned_config.py')
    return cfg, _build(cfg, osp.join(pruned, 'pruned.pth'))


def build_finetuned(pruned: str, work_dir: str):
    """The last checkpoint of :func:`finetune_command`'s run."""
    from mmengine.config import Config
    cfg = Config.fromfile(FINETUNE_CONFIG)
    cfg.model.layer_table = osp.join(pruned, 'pruned_config.py')
    return cfg, _build(cfg, _checkpoint(work_dir))


def _spawn(name: str, cmd: List[str], log_path: str) -> tuple:
    """Start one single-threaded tool process, its output in ``log_path``."""
    log = open(log_path, 'w')
    _log(f'{name}: ' + ' '.join(cmd))
    return (name, subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT,
        env=single_thread_env()), log, time.time(), log_path)


def _wait_all(procs: list, what: str) -> None:
    """Wait for :func:`_spawn`'s processes; stop at the first failure."""
    for name, proc, log, t0, log_path in procs:
        proc.wait()
        log.close()
        if proc.returncode != 0:
            raise SystemExit(f'dwd_experiment: {what} of {name} failed; see '
                             f'{log_path}')
        _log(f'{name}: {what} done in {time.time() - t0:.0f} s')


def stage_eval(args, arms: Dict[str, str]) -> None:
    """Gamma shares and metrics of every trained arm (eval.json)."""
    import numpy as np
    import torch
    from mmengine.config import Config
    from csnet_mmseg.engine.optimizers import find_dwd_targets
    from csnet_mmseg.pruning import prunable_gammas
    for name, cfg_path in arms.items():
        wd = osp.join(args.work_dir, name)
        out = osp.join(wd, 'eval.json')
        if osp.isfile(out):
            _log(f'{name}: evaluated already ({out})')
            continue
        cfg = Config.fromfile(cfg_path)
        model = _build(cfg, _checkpoint(wd))
        targeted = torch.cat([
            t.gamma.detach().abs().flatten() for t in find_dwd_targets(model)
        ]).numpy()
        np.save(osp.join(wd, 'gammas.npy'), targeted)
        shares = {f'{lim:g}': float((targeted < lim).mean())
                  for lim in GAMMA_LIMITS}
        t0 = time.time()
        result = dict(
            checkpoint=_checkpoint(wd),
            targeted=int(targeted.size),
            prunable=int(prunable_gammas(model).numel()),
            median_gamma=float(np.median(targeted)),
            shares=shares,
            params=sum(p.numel() for p in model.parameters()),
            scores=_scores(_evaluators(args, cfg), model))
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)
        _log(f'{name}: {result} ({time.time() - t0:.0f} s)')


def stage_search(args, arms: Dict[str, str]) -> None:
    """tools/prune.py --max-increase on the val split (the arms side by
    side, one thread each), then the metrics of the pruned (folded, not
    fine-tuned) model."""
    from mmengine.config import Config
    from csnet_mmseg.pruning import model_complexity
    procs = []
    for name, cfg_path in arms.items():
        wd = osp.join(args.work_dir, name)
        pruned = osp.join(wd, 'pruned')
        if osp.isfile(osp.join(pruned, 'pruned.pth')) or osp.isfile(
                osp.join(wd, 'pruned.json')):
            continue
        size = Config.fromfile(cfg_path).crop_size
        cmd = [
            sys.executable,
            osp.join(ROOT, 'tools', 'prune.py'), cfg_path,
            _checkpoint(wd), '--out-dir', pruned, '--max-increase',
            args.max_increase, '--input-size',
            str(size[0]),
            str(size[1]), '--val-batch-size', '16'
        ]
        procs.append(_spawn(name, cmd, osp.join(wd, 'prune.log')))
    _wait_all(procs, 'threshold search + pruning')
    for name, cfg_path in arms.items():
        wd = osp.join(args.work_dir, name)
        pruned = osp.join(wd, 'pruned')
        out = osp.join(wd, 'pruned.json')
        if osp.isfile(out):
            _log(f'{name}: pruned already ({out})')
            continue
        cfg, model = build_pruned(cfg_path, pruned)
        with open(osp.join(pruned, 'search.md')) as f:
            chosen = re.search(r'Chosen threshold: ([0-9.eE+-]+)', f.read())
        cx = model_complexity(model, tuple(cfg.crop_size))
        result = dict(
            threshold=float(chosen.group(1)),
            params=sum(p.numel() for p in model.parameters()),
            flops=float(cx['flops']),
            scores=_scores(_evaluators(args, cfg), model))
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)
        _log(f'{name}: pruned {result}')


def stage_finetune(args, arms: Dict[str, str]) -> None:
    """A short fine-tune of every pruned arm (side by side), then metrics."""
    procs = []
    for name in arms:
        wd = osp.join(args.work_dir, name)
        ft = osp.join(wd, 'finetune')
        if osp.isfile(osp.join(ft, 'last_checkpoint')) or \
                osp.isfile(osp.join(wd, 'finetuned.json')):
            continue
        cmd = finetune_command(osp.join(wd, 'pruned'), ft, args.finetune_iters)
        os.makedirs(ft, exist_ok=True)
        procs.append(_spawn(name, cmd, osp.join(wd, 'finetune.log')))
    _wait_all(procs, 'fine-tune')
    for name, cfg_path in arms.items():
        wd = osp.join(args.work_dir, name)
        out = osp.join(wd, 'finetuned.json')
        if osp.isfile(out):
            continue
        cfg, model = build_finetuned(osp.join(wd, 'pruned'),
                                     osp.join(wd, 'finetune'))
        result = dict(scores=_scores(_evaluators(args, cfg), model))
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)
        _log(f'{name}: fine-tuned {result}')


def stage_report(args, arms: Dict[str, str]) -> None:
    """report.md (one row per arm) and gamma_hist.png."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    rows = []
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in arms:
        wd = osp.join(args.work_dir, name)
        load = lambda f: json.load(open(osp.join(wd, f)))  # noqa: E731
        timing, ev = load('timing.json'), load('eval.json')
        pr = load('pruned.json') if osp.isfile(
            osp.join(wd, 'pruned.json')) else None
        ft = load('finetuned.json') if osp.isfile(
            osp.join(wd, 'finetuned.json')) else None
        g = np.load(osp.join(wd, 'gammas.npy'))
        ax.hist(np.log10(np.maximum(g, 1e-45)), bins=80, histtype='step',
                lw=1.5, label=name)

        def sc(r, split):
            if r is None or split not in r['scores']:
                return 'n/a'
            s = r['scores'][split]
            return f"{s['MAE']:.4f} / {s['maxF']:.4f} / {s['Sm']:.4f}"

        shares = ' / '.join(f"{100 * ev['shares'][f'{lim:g}']:.1f}%"
                            for lim in GAMMA_LIMITS)
        rows.append(
            f"| {name} | {timing['wall_s'] / 60:.1f} min "
            f"({timing['iters_per_s']:.3f} it/s) | {sc(ev, 'val')} | "
            f"{sc(ev, 'pascal')} | {shares} | {ev['median_gamma']:.3g} | "
            + (f"{pr['threshold']:.3g} | {ev['params']:,} -> "
               f"{pr['params']:,} ({100 * (1 - pr['params'] / ev['params']):.1f}%"
               f" fewer) | {pr['flops'] / 1e9:.3f} G | {sc(pr, 'val')} | "
               f"{sc(pr, 'pascal')} | " if pr else '| | | | | ')
            + f"{sc(ft, 'val')} | {sc(ft, 'pascal')} |")
    ax.set_xlabel('log10 |gamma| of the targeted BN gammas')
    ax.set_ylabel('channels')
    ax.legend()
    ax.set_title('targeted gammas after training, per arm')
    fig.tight_layout()
    hist = osp.join(args.work_dir, 'gamma_hist.png')
    fig.savefig(hist, dpi=110)
    plt.close(fig)
    head = (
        '| arm | train time | val MAE / maxF / S | PASCAL-S-dev MAE / maxF / '
        'S | targeted \\|g\\| < 1e-2 / 1e-3 / 1e-5 / 1e-20 | median '
        f'\\|g\\| | threshold ({args.max_increase}) | params | FLOPs '
        '(112x112) | pruned: val | pruned: PASCAL-S-dev | fine-tuned: val '
        '| fine-tuned: PASCAL-S-dev |\n' + '|---' * 13 + '|\n')
    text = head + '\n'.join(rows) + '\n'
    with open(osp.join(args.work_dir, 'report.md'), 'w') as f:
        f.write(text)
    print(text)
    _log(f'report: {args.work_dir}/report.md, histogram: {hist}')


def main():
    args = parse_args()
    os.chdir(ROOT)
    # read by the configs here and by every tools/ process started below
    os.environ['SOD_DATA_ROOT'] = args.data_root
    import csnet_mmseg  # noqa: F401  (fills the registries)
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    arms = arm_configs(args.arms)
    os.makedirs(args.work_dir, exist_ok=True)
    for stage in STAGES:
        if stage in args.stages:
            globals()[f'stage_{stage}'](args, arms)


if __name__ == '__main__':
    main()
