"""The arms of the DWD experiment compared at equal accuracy (issue 22).

For every trained arm (``WORK_DIR/<arm>/last_checkpoint`` of each run of
``dwd_experiment.py``, e.g. one work dir per seed) and every share ``s`` of
``--shares``:

1. ``prune``: remove the share ``s`` of prunable channels with the smallest
   |gamma| (:func:`csnet_mmseg.pruning.share_threshold`, absorbing them as
   ``tools/prune.py`` does), write the narrowed config and checkpoint
   (:func:`write_pruned`) and score it on the val split (MAE / max F / S).
   Share 0 is the unpruned model. A share that would empty a layer is
   recorded as infeasible.
2. ``finetune``: a short real fine-tune of that pruned model:
   ``tools/train.py`` on ``configs/csnet_x1_duts224_finetune.py`` with the
   narrowed table and ``load_from`` (a new optimizer built on the pruned
   model; plain Adam 5e-5, L2 5e-3), ``--finetune-iters`` iterations, then
   the val scores again. Share 0 is fine-tuned too: it is the control for
   what the extra iterations alone give.
3. ``latency``: the measured OpenVINO latency of the pruned model (its
   deploy form exported through ONNX, f32, one thread, batch 1, at
   ``--latency-size``): median over rounds of the median of the runs. It runs
   in the main process after the workers, so no other process of the study
   shares the machine.
4. ``report``: ``OUT/curves.png`` (params and latency against val MAE and
   max F, after pruning and after the fine-tune, one line per arm and seed),
   ``OUT/report.md`` (every point; the fewest parameters and the latency
   each arm needs to reach the val-MAE levels ``--levels``).

Each (run, arm) is one worker process (``--jobs`` side by side, one thread
each) that prunes and fine-tunes its points; outputs are kept per point
(``OUT/<run>/<arm>/share_<s>/``) and a point already done is skipped, so
the command can be re-run after an interruption.

    python experiments/dwd/equal_accuracy.py \\
        --runs seed0=work_dirs/gain100 seed1=work_dirs/gain100_s1 \\
        --arms none l2 dwd slim_1e-4 slim_1e-5 --out work_dirs/equal_accuracy
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from dwd_experiment import (ROOT, _build, _checkpoint,  # noqa: E402
                            arm_configs, build_finetuned, build_pruned,
                            finetune_command, single_thread_env,
                            split_scores, val_evaluator)

STAGES = ('prune', 'finetune', 'latency', 'report')
POINT = 'point.json'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='DWD experiment arms at equal accuracy: prune at a '
        'sweep of channel shares, fine-tune each, measure OpenVINO latency, '
        'plot and tabulate')
    parser.add_argument(
        '--runs', nargs='+', default=['seed0=work_dirs/gain100',
                                      'seed1=work_dirs/gain100_s1'],
        help='LABEL=WORK_DIR of dwd_experiment.py runs (the arms trained '
        'there, WORK_DIR/<arm>/last_checkpoint)')
    parser.add_argument(
        '--arms', nargs='+',
        default=['none', 'l2', 'dwd', 'slim_1e-4', 'slim_1e-5'],
        help='arm names (experiments/dwd/configs/csnet_x1_duts224_<name>.py)'
        '; an arm a run has not trained is skipped')
    parser.add_argument('--out', default='work_dirs/equal_accuracy')
    parser.add_argument(
        '--shares', nargs='+', type=float,
        default=[0.0, 0.4, 0.6, 0.75],
        help='shares of the prunable channels removed (smallest |gamma|)')
    parser.add_argument('--finetune-iters', type=int, default=100)
    parser.add_argument(
        '--levels', nargs=2, type=float, default=[0.20, 0.22],
        help='two val-MAE levels for the table')
    parser.add_argument('--latency-size', type=int, default=224)
    parser.add_argument('--latency-rounds', type=int, default=5)
    parser.add_argument('--latency-runs', type=int, default=20)
    parser.add_argument(
        '--stages', nargs='+', default=list(STAGES), choices=STAGES)
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument(
        '--data-root',
        default=os.environ.get('SOD_DATA_ROOT', '../shared/data'),
        help='folder holding duts-tr-224/ (SOD_DATA_ROOT of the configs)')
    parser.add_argument('--worker', nargs=2, metavar=('RUN', 'ARM'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    runs = {}
    for item in args.runs:
        label, sep, wd = item.partition('=')
        if not sep or not label or not wd:
            parser.error(f'--runs: {item!r} must look like LABEL=WORK_DIR')
        if label in runs:
            parser.error(f'--runs: label {label!r} given twice')
        runs[label] = wd
    args.runs = runs
    if any(not 0 <= s < 1 for s in args.shares):
        parser.error(f'--shares must be in [0, 1), got {args.shares}')
    args.shares = sorted(set(args.shares))
    if args.finetune_iters < 1:
        parser.error('--finetune-iters must be >= 1')
    return args


def _log(msg: str) -> None:
    print(f'[equal_accuracy {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def share_dir(args, run: str, arm: str, share: float) -> str:
    return osp.join(args.out, run, arm, f'share_{share:.2f}')


def trained_pairs(args) -> List[Tuple[str, str, str]]:
    """(run, arm, config) of every arm whose training finished in every run
    (``last_checkpoint`` names the checkpoint of the config's last
    iteration; a run still training has an earlier one)."""
    from mmengine.config import Config
    configs = arm_configs(args.arms)
    out = []
    for run, wd in args.runs.items():
        for arm, cfg in configs.items():
            last = osp.join(wd, arm, 'last_checkpoint')
            final = f'iter_{Config.fromfile(cfg).train_cfg.max_iters}.pth'
            if osp.isfile(last) and _checkpoint(
                    osp.join(wd, arm)).endswith(final):
                out.append((run, arm, cfg))
            else:
                _log(f'{run}/{arm}: no finished training in {wd} (no '
                     f'{final} in last_checkpoint), skipped')
    return out


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _dump(obj: dict, path: str) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


# --------------------------------------------------------------- worker
def worker(args, run: str, arm: str) -> None:
    """Prune and fine-tune every share of one trained arm."""
    from mmengine.config import Config
    from csnet_mmseg.pruning import (PruningError, prunable_gammas,
                                     prune_segmentor, share_threshold)
    cfg_path = arm_configs([arm])[arm]
    cfg = Config.fromfile(cfg_path)
    ckpt = _checkpoint(osp.join(args.runs[run], arm))
    model = _build(cfg, ckpt).eval()
    evaluate = val_evaluator(cfg)  # its batches stay cached for every point
    size = tuple(cfg.crop_size)
    if 'prune' in args.stages:
        infeasible = []
        for share in args.shares:
            d = share_dir(args, run, arm, share)
            if not osp.isfile(osp.join(d, POINT)):
                prune_point(args, d, run, arm, share_threshold(model, share),
                            share, model, cfg, ckpt, evaluate)
            if 'error' in _load(osp.join(d, POINT)):
                infeasible.append(share)
        if infeasible:
            # the widest pruning a global threshold allows: the largest
            # feasible rank below the first infeasible share
            d = osp.join(args.out, run, arm, 'share_max')
            if not osp.isfile(osp.join(d, POINT)):
                n = int(prunable_gammas(model).numel())
                lo, hi = 0, int(round(infeasible[0] * n))
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    try:
                        prune_segmentor(model, cfg.model,
                                        threshold=share_threshold(
                                            model, mid / n),
                                        fold=True, input_size=size,
                                        with_complexity=False)
                    except PruningError:
                        hi = mid
                    else:
                        lo = mid
                prune_point(args, d, run, arm, share_threshold(model, lo / n),
                            lo / n, model, cfg, ckpt, evaluate,
                            widest=True)
    if 'finetune' in args.stages:
        for d in point_dirs(args, run, arm):
            point = _load(osp.join(d, POINT))
            if 'error' in point or 'finetuned' in point:
                continue
            point['finetuned'], point['finetune'] = finetune(
                args, d, evaluate)
            _dump(point, osp.join(d, POINT))
            _log(f'{run}/{arm} share {point["share"]:.3f}: fine-tuned '
                 f'{point["finetuned"]} ({point["finetune"]})')


def prune_point(args, d, run, arm, threshold, share, model, cfg, ckpt,
                evaluate, widest=False) -> None:
    """Prune at ``threshold``, write the pruned model into ``d/pruned``
    and ``d/point.json`` (its params, FLOPs and val scores, or why the
    threshold is infeasible)."""
    from csnet_mmseg.pruning import (PruningError, prunable_gammas,
                                     prune_segmentor, write_pruned)
    os.makedirs(d, exist_ok=True)
    n = int(prunable_gammas(model).numel())
    point = dict(run=run, arm=arm, share=share, threshold=threshold,
                 checkpoint=ckpt, widest=widest)
    t0 = time.time()
    try:
        res = prune_segmentor(model, cfg.model, threshold=threshold,
                              fold=True, input_size=tuple(cfg.crop_size))
    except PruningError as e:
        point.update(error=str(e))
    else:
        write_pruned(res, osp.join(d, 'pruned'), cfg, source=ckpt)
        point.update(
            share=(n - int(prunable_gammas(res.model).numel())) / n,
            params=res.after['params'],
            flops=res.after.get('flops'),
            pruned=split_scores(evaluate, res.model))
    _dump(point, osp.join(d, POINT))
    _log(f'{run}/{arm} share {point["share"]:.3f}'
         f'{" (widest feasible)" if widest else ""}: threshold '
         f'{threshold:.3g} {point.get("params", point.get("error"))} '
         f'{point.get("pruned", "")} ({time.time() - t0:.0f} s)')


def point_dirs(args, run: str, arm: str) -> List[str]:
    """The folders of the points of one arm that exist: the shares of
    ``--shares``, then ``share_max`` (the widest feasible pruning, where a
    share would empty a layer)."""
    dirs = [share_dir(args, run, arm, s) for s in args.shares]
    dirs.append(osp.join(args.out, run, arm, 'share_max'))
    return [d for d in dirs if osp.isfile(osp.join(d, POINT))]


def finetune(args, d: str, evaluate) -> Tuple[dict, dict]:
    """tools/train.py on the fine-tune config for the pruned model in
    ``d/pruned``; the val scores (``evaluate``) of its last checkpoint and
    the timing."""
    n = args.finetune_iters
    ft = osp.join(d, 'finetune')
    pruned = osp.join(d, 'pruned')
    # no validation inside: the scores are taken below, like the others
    cmd = finetune_command(pruned, ft, n, validate=False)
    os.makedirs(ft, exist_ok=True)
    t0 = time.time()
    with open(osp.join(d, 'finetune.log'), 'w') as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                              env=single_thread_env())
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f'equal_accuracy: fine-tune in {ft} failed; see '
                         f'{d}/finetune.log')
    _, model = build_finetuned(pruned, ft)
    timing = dict(iters=n, wall_s=round(wall, 1),
                  iters_per_s=round(n / wall, 3))
    return split_scores(evaluate, model.eval()), timing


def run_workers(args, pairs) -> None:
    pending = [(run, arm) for run, arm, _ in pairs]
    running = []
    base = [sys.executable, osp.abspath(__file__), '--out', args.out,
            '--shares', *map(str, args.shares), '--finetune-iters',
            str(args.finetune_iters), '--stages', *args.stages, '--data-root',
            args.data_root, '--arms', *args.arms, '--runs',
            *[f'{k}={v}' for k, v in args.runs.items()]]
    env = single_thread_env()
    failed = []
    while pending or running:
        while pending and len(running) < args.jobs:
            run, arm = pending.pop(0)
            log_path = osp.join(args.out, run, arm, 'worker.log')
            os.makedirs(osp.dirname(log_path), exist_ok=True)
            log = open(log_path, 'a')
            _log(f'{run}/{arm}: worker started, log {log_path}')
            running.append((run, arm, log, time.time(), subprocess.Popen(
                base + ['--worker', run, arm], stdout=log,
                stderr=subprocess.STDOUT, env=env)))
        time.sleep(2)
        for item in list(running):
            run, arm, log, t0, proc = item
            if proc.poll() is None:
                continue
            log.close()
            running.remove(item)
            _log(f'{run}/{arm}: worker exit {proc.returncode} after '
                 f'{time.time() - t0:.0f} s')
            if proc.returncode != 0:
                failed.append(f'{run}/{arm}')
    if failed:
        raise SystemExit(f'equal_accuracy: workers failed: {failed} (see '
                         'their worker.log)')


# -------------------------------------------------------------- latency
def stage_latency(args, pairs) -> None:
    """OpenVINO latency of every pruned model (one thread, batch 1)."""
    import tempfile
    import torch
    from csnet_mmseg.benchmark.forms import SegmentorForms
    from csnet_mmseg.benchmark.timer import time_rounds
    torch.set_num_threads(1)
    s = args.latency_size
    x = torch.randn(1, 3, s, s, generator=torch.Generator().manual_seed(0))
    for run, arm, cfg_path in pairs:
        for d in point_dirs(args, run, arm):
            path = osp.join(d, POINT)
            point = _load(path)
            if 'error' in point or 'latency_ms' in point:
                continue
            _, model = build_pruned(cfg_path, osp.join(d, 'pruned'))
            model.eval()
            with tempfile.TemporaryDirectory() as tmp:
                # flush subnormals: decayed weights make them, and without
                # the flush these models ran 10-25x slower
                forms = SegmentorForms(model, tmp, name='pruned',
                                       denormals_as_zero=True)
                fn = forms.callable('openvino', s, 1)
                t = time_rounds({'ov': lambda: fn(x)},
                                rounds=args.latency_rounds,
                                runs=args.latency_runs, warmup=5)['ov']
            point['latency_ms'] = round(t.median, 3)
            point['latency'] = dict(size=s, threads=1, batch=1,
                                    rounds=[round(r, 3) for r in t.rounds])
            _dump(point, path)
            _log(f'{run}/{arm} share {point["share"]:.3f}: OpenVINO {s}x{s} '
                 f'1 thread {t.median:.2f} ms')


# --------------------------------------------------------------- report
def collect(args, pairs) -> Dict[Tuple[str, str], List[dict]]:
    out = {}
    for run, arm, _ in pairs:
        pts = [_load(osp.join(d, POINT)) for d in point_dirs(args, run, arm)]
        out[(run, arm)] = sorted(pts, key=lambda p: p['share'])
    return out


def fewest_params_at(points: List[dict], stage: str, level: float):
    """The point with the fewest params whose ``stage`` val MAE <= level."""
    ok = [p for p in points if stage in p and p[stage]['MAE'] <= level]
    return min(ok, key=lambda p: p['params']) if ok else None


def stage_report(args, pairs) -> str:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    data = collect(args, pairs)
    arms = list(dict.fromkeys(arm for _, arm, _ in pairs))
    runs = list(args.runs)
    colors = dict(zip(arms, plt.rcParams['axes.prop_cycle'].by_key()
                      ['color']))
    markers = dict(zip(runs, 'os^vD'))
    styles = dict(zip(runs, ['-', '--', ':', '-.']))
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    panels = [('params', 'MAE'), ('latency_ms', 'MAE'), ('params', 'maxF')]
    for row, stage in enumerate(('pruned', 'finetuned')):
        for col, (xk, yk) in enumerate(panels):
            ax = axes[row, col]
            for (run, arm), pts in data.items():
                pts = [p for p in pts if stage in p and xk in p]
                if not pts:
                    continue
                ax.plot([p[xk] / (1e3 if xk == 'params' else 1)
                         for p in pts], [p[stage][yk] for p in pts],
                        color=colors[arm], ls=styles[run],
                        marker=markers[run], ms=4, lw=1.3,
                        label=f'{arm} ({run})')
            ax.set_xlabel('parameters (thousands)' if xk == 'params' else
                          f'OpenVINO latency, {args.latency_size}x'
                          f'{args.latency_size}, 1 thread (ms)')
            ax.set_ylabel(f'val {yk}')
            when = 'after pruning' if row == 0 else \
                f'after a {args.finetune_iters}-iteration fine-tune'
            ax.set_title(f'{when}: {yk}', fontsize=10)
            if yk == 'MAE':
                for lv in args.levels:
                    ax.axhline(lv, color='grey', lw=0.6, ls=':')
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.suptitle('DWD experiment arms at equal accuracy: channel-share '
                 f'sweep {args.shares}, val split of DUTS-TR-224')
    fig.tight_layout()
    png = osp.join(args.out, 'curves.png')
    fig.savefig(png, dpi=110)
    plt.close(fig)

    lines = ['| run | arm | share | threshold | params | latency (ms) | '
             'pruned: val MAE / maxF / S | fine-tuned: val MAE / maxF / S | '
             'fine-tune it/s |', '|---' * 9 + '|']

    def sc(p, k):
        return (f"{p[k]['MAE']:.4f} / {p[k]['maxF']:.4f} / "
                f"{p[k]['Sm']:.4f}" if k in p else 'n/a')

    for (run, arm), pts in data.items():
        for p in pts:
            if 'error' in p:
                lines.append(f"| {run} | {arm} | {p['share']:.3f} | "
                             f"{p['threshold']:.3g} | infeasible: "
                             f"{p['error'][:60]} | | | | |")
                continue
            lat = p.get('latency_ms')
            lines.append(
                f"| {run} | {arm} | {p['share']:.3f}"
                f"{' (widest)' if p.get('widest') else ''} | "
                f"{p['threshold']:.3g} "
                f"| {p['params']:,} | {'n/a' if lat is None else f'{lat:.2f}'}"
                f" | {sc(p, 'pruned')} | {sc(p, 'finetuned')} | "
                f"{p.get('finetune', {}).get('iters_per_s', 'n/a')} |")
    table = ['| arm | run | ' + ' | '.join(
        f'{stage} MAE <= {lv:g}: params (latency)'
        for stage in ('pruned', 'fine-tuned') for lv in args.levels) + ' |',
        '|---' * (2 + 2 * len(args.levels)) + '|']
    for arm in arms:
        for run in runs:
            pts = data.get((run, arm))
            if not pts:
                continue
            cells = []
            for stage in ('pruned', 'finetuned'):
                for lv in args.levels:
                    p = fewest_params_at(pts, stage, lv)
                    lat = float('nan') if p is None else p.get(
                        'latency_ms', float('nan'))
                    cells.append(
                        'not reached' if p is None else
                        f"{p['params']:,} ({lat:.2f} ms, share "
                        f"{p['share']:.3f})")
            table.append(f'| {arm} | {run} | ' + ' | '.join(cells) + ' |')
    text = ('# Equal-accuracy comparison\n\n'
            'Fewest parameters (of the measured points) reaching each '
            f'val-MAE level; latency: OpenVINO f32, {args.latency_size}x'
            f'{args.latency_size}, batch 1, 1 thread.\n\n'
            + '\n'.join(table) + '\n\n## Every point\n\n'
            + '\n'.join(lines) + f'\n\nFigure: {png}\n')
    with open(osp.join(args.out, 'report.md'), 'w') as f:
        f.write(text)
    print(text)
    return text


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    os.environ['SOD_DATA_ROOT'] = args.data_root
    import csnet_mmseg  # noqa: F401  (fills the registries)
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    if args.worker:
        worker(args, *args.worker)
        return
    os.makedirs(args.out, exist_ok=True)
    pairs = trained_pairs(args)
    if not pairs:
        raise SystemExit('equal_accuracy: no trained arm in '
                         f'{list(args.runs.values())}')
    if {'prune', 'finetune'} & set(args.stages):
        run_workers(args, pairs)
    if 'latency' in args.stages:
        stage_latency(args, pairs)
    if 'report' in args.stages:
        stage_report(args, pairs)


if __name__ == '__main__':
    main()
