"""Compare no decay, L2 decay and dynamic weight decay on the BN gammas.

Trains CSNet (``configs/_base_/models/csnet.py``) three times with the same
seed, data order and schedule through MMEngine's Runner on a small real data
set (default: the PASCAL-S development subset,
``configs/_base_/datasets/pascal_s_dev.py``), each time with
``DynamicWeightDecayOptimWrapper`` and the same targeted gammas (every BN of
every gOctConv of the backbone, standard weight decay 0):

- ``none``: ``dynamic_decay=0`` - no decay on the targeted gammas;
- ``l2``: plain L2 decay ``lambda_L2 * gamma`` on them (same code path, a
  constant metric ``S = 1``), with the "equal strength" rule
  ``lambda_L2 = lambda_d * mean S at init``: the mean over all targeted
  channels of ``S`` (``|GAP|`` of the BN + PReLU output) on the first
  training batches with the initial weights. As every gamma starts at 1, the
  summed decay force of both runs is then equal at the start;
- ``dwd``: dynamic weight decay ``lambda_d * S * gamma`` (``lambda_d = 3``).

All other parameters get Adam's weight decay 5e-3 in every run. Prints a
markdown table: share of targeted gammas below 1e-3 / 1e-20 (the released
pruning threshold) / 0.1, the median |gamma|, the spread over channels of
the output magnitude ``S`` (10/50/90 percentiles and coefficient of
variation, measured in eval mode over the evaluation images), the final
training loss (mean of the last 20 iterations) and the MAE on the
evaluation set - with the default data set the 107 training images
themselves (train-set MAE; far too small a set to judge accuracy).

    python tools/analysis_tools/dwd_experiment.py [--iters 300]
        [--batch-size 4] [--size 112] [--lr 5e-3] [--work-dir DIR]
"""
import argparse
import copy
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')
sys.path.insert(0, ROOT)
import csnet_mmseg  # noqa: E402,F401  (fills the registries)
from csnet_mmseg.engine.optimizers import (  # noqa: E402
    find_dwd_targets, get_dwd_metric, register_dwd_metric)

CONST_METRIC = 'dwd_experiment_const'


@register_dwd_metric(CONST_METRIC, force=True)
def const_metric(x: torch.Tensor) -> torch.Tensor:
    """S = 1 for every channel: the DWD term becomes plain L2 decay."""
    return torch.ones(x.shape[1], device=x.device)


def parse_args():
    parser = argparse.ArgumentParser(
        description='No decay vs L2 vs dynamic weight decay on BN gammas')
    parser.add_argument(
        '--data-config',
        default=osp.join(ROOT, 'configs/_base_/datasets/pascal_s_dev.py'),
        help='dataset config (train_dataloader, val_dataloader, '
        'val_evaluator)')
    parser.add_argument(
        '--model-config',
        default=osp.join(ROOT, 'configs/_base_/models/csnet.py'))
    parser.add_argument('--iters', type=int, default=250)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument(
        '--size',
        type=int,
        default=112,
        help='train/eval input size (224 costs ~5 s per iteration of '
        'batch 4 on one CPU thread, 112 ~0.8 s)')
    parser.add_argument(
        '--lr',
        type=float,
        default=5e-3,
        help='Adam lr (the paper uses 1e-4 for 300 epochs; a short run '
        'needs more to move the gammas)')
    parser.add_argument('--dynamic-decay', type=float, default=3.0)
    parser.add_argument('--weight-decay', type=float, default=5e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--init-batches',
        type=int,
        default=4,
        help='training batches that measure mean S at init (for lambda_L2)')
    parser.add_argument(
        '--modes', nargs='+', default=['none', 'l2', 'dwd'],
        choices=['none', 'l2', 'dwd'])
    parser.add_argument(
        '--work-dir',
        default=osp.join(tempfile.gettempdir(), 'dwd_experiment'),
        help='logs of the runs go to WORK_DIR/<mode>')
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args()


def set_resize(pipeline, size):
    for t in pipeline:
        if t.get('type') == 'Resize':
            t['scale'] = (size, size)
    return pipeline


def make_cfg(args, mode: str, dynamic_decay: float, metric: str) -> Config:
    data = Config.fromfile(args.data_config)
    cfg = Config.fromfile(args.model_config)
    runtime = osp.join(ROOT, 'configs/_base_/default_runtime.py')
    cfg.merge_from_dict(Config.fromfile(runtime).to_dict())
    for key in ('train_dataloader', 'val_dataloader', 'val_evaluator'):
        if key not in data:
            raise KeyError(f'{args.data_config} has no {key}')
        cfg[key] = copy.deepcopy(data[key])
    for key in ('train_dataloader', 'val_dataloader'):
        loader = cfg[key]
        loader.num_workers = 0
        loader.persistent_workers = False
        set_resize(loader.dataset.pipeline, args.size)
    cfg.train_dataloader.batch_size = args.batch_size
    pre = cfg.model.data_preprocessor
    if pre.get('size') is None and pre.get('size_divisor') is None:
        pre.size_divisor = 1  # mmseg stacks training batches with one of them
    cfg.optim_wrapper = dict(
        type='DynamicWeightDecayOptimWrapper',
        constructor='DynamicWeightDecayOptimWrapperConstructor',
        optimizer=dict(
            type='Adam',
            lr=args.lr,
            betas=(0.9, 0.99),
            weight_decay=args.weight_decay),
        dynamic_decay=dynamic_decay,
        metric=metric)
    cfg.param_scheduler = []
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop',
        max_iters=args.iters,
        val_begin=args.iters + 1,  # evaluated once, by measure_eval
        val_interval=args.iters + 1)
    cfg.val_cfg = dict(type='ValLoop')
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks = dict(
        timer=dict(type='IterTimerHook'),
        logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
        param_scheduler=dict(type='ParamSchedulerHook'),
        checkpoint=dict(type='CheckpointHook', interval=-1, save_last=False),
        sampler_seed=dict(type='DistSamplerSeedHook'))
    cfg.visualizer.name = f'dwd_experiment_{mode}'
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = osp.join(args.work_dir, mode)
    cfg.experiment_name = f'dwd_{mode}'
    return cfg


def measure_init_s(runner: Runner, cfg: Config, num_batches: int) -> float:
    """Mean S over all targeted channels, train-mode forwards of the first
    training batches, initial weights (on a copy of the model)."""
    model = copy.deepcopy(runner.model)
    model.train()
    targets = find_dwd_targets(model)
    gap = get_dwd_metric('gap')
    sums = [0.0] * len(targets)
    handles = []
    for i, t in enumerate(targets):

        def hook(m, inp, out, i=i):
            sums[i] = sums[i] + gap(out.detach())

        handles.append(t.act.register_forward_hook(hook))
    loader = Runner.build_dataloader(
        copy.deepcopy(cfg.train_dataloader), seed=cfg.randomness.seed)
    n = 0
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, True)
            model(**data, mode='tensor')
            n += 1
            if n >= num_batches:
                break
    for h in handles:
        h.remove()
    per_channel = torch.cat([s / n for s in sums])
    return float(per_channel.mean())


def measure_eval(runner: Runner) -> dict:
    """Validate (metric) while recording per-channel S in eval mode."""
    model = runner.model
    wrapper = runner.optim_wrapper
    targets = wrapper.targets
    gap = get_dwd_metric('gap')
    sums = [0.0] * len(targets)
    count = [0]
    handles = []
    for i, t in enumerate(targets):

        def hook(m, inp, out, i=i):
            sums[i] = sums[i] + gap(out.detach())
            if i == 0:
                count[0] += 1

        handles.append(t.act.register_forward_hook(hook))
    metrics = runner.val_loop.run()
    for h in handles:
        h.remove()
    s = torch.cat([v / count[0] for v in sums]).numpy()
    gammas = torch.cat([t.gamma.detach().abs().flatten()
                        for t in targets]).numpy()
    loss_buf = runner.message_hub.get_scalar('train/loss')
    mae = [v for k, v in metrics.items() if k.endswith('/MAE')]
    return dict(
        below_1e3=float((gammas < 1e-3).mean()),
        below_1e20=float((gammas < 1e-20).mean()),
        below_01=float((gammas < 0.1).mean()),
        gamma_p50=float(np.median(gammas)),
        s_p10=float(np.percentile(s, 10)),
        s_p50=float(np.percentile(s, 50)),
        s_p90=float(np.percentile(s, 90)),
        s_cv=float(s.std() / max(s.mean(), 1e-12)),
        loss=float(loss_buf.mean(20)),
        mae=float(mae[0] if mae else metrics.get('MAE', float('nan'))),
        channels=int(gammas.size))


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.work_dir, exist_ok=True)
    results, lambdas = {}, {}
    lambda_l2 = None
    start = time.time()
    for mode in args.modes:
        if mode == 'l2' and lambda_l2 is None:
            probe = Runner.from_cfg(make_cfg(args, 'probe', 0.0, 'gap'))
            s0 = measure_init_s(probe, probe.cfg, args.init_batches)
            lambda_l2 = args.dynamic_decay * s0
            print(f'mean S at init = {s0:.4f} -> lambda_L2 = '
                  f'{args.dynamic_decay} * {s0:.4f} = {lambda_l2:.4f}',
                  flush=True)
            del probe
        decay, metric = {
            'none': (0.0, 'gap'),
            'l2': (lambda_l2, CONST_METRIC),
            'dwd': (args.dynamic_decay, 'gap'),
        }[mode]
        lambdas[mode] = {
            'none': '0',
            'l2': f'L2 {decay:.3g}',
            'dwd': f'DWD {decay:g} x S'
        }[mode]
        t0 = time.time()
        runner = Runner.from_cfg(make_cfg(args, mode, decay, metric))
        runner.train()
        results[mode] = measure_eval(runner)
        print(f'[{mode}] done in {time.time() - t0:.0f} s: {results[mode]}',
              flush=True)
        del runner

    n = next(iter(results.values()))['channels']
    print(f'\n{args.iters} iterations, batch {args.batch_size}, '
          f'{args.size}x{args.size}, Adam lr {args.lr}, seed {args.seed}, '
          f'{n} targeted gammas; total {time.time() - start:.0f} s\n')
    print(r'| run | decay on gamma | \|g\|<1e-3 | \|g\|<1e-20 | '
          r'\|g\|<0.1 | median \|g\| | S p10 / p50 / p90 | S CV | '
          'final train loss | train-set MAE |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for mode, r in results.items():
        print(f"| {mode} | {lambdas[mode]} | {100 * r['below_1e3']:.1f}% | "
              f"{100 * r['below_1e20']:.1f}% | {100 * r['below_01']:.1f}% | "
              f"{r['gamma_p50']:.3f} | {r['s_p10']:.3f} / {r['s_p50']:.3f} / "
              f"{r['s_p90']:.3f} | {r['s_cv']:.2f} | {r['loss']:.4f} | "
              f"{r['mae']:.4f} |")


if __name__ == '__main__':
    main()
