"""Time one training iteration of a config's model: MMEngine's path against
a plain PyTorch loop over the same modules.

Both run forward + BCE loss + backward + optimizer step on the same fixed
random batch (no data loading, which is measured by the Runner's
``data_time`` anyway):

- ``plain``: ``model.loss(...)``, ``loss.backward()``, ``torch.optim.Adam``
  (same lr / betas / weight decay; no dynamic decay);
- ``mmengine``: ``model.train_step(data, optim_wrapper)`` with the config's
  optimizer wrapper (for the DWD configs: ``DynamicWeightDecayOptimWrapper``,
  its forward hooks and the decay term) - what the Runner calls every
  iteration.

Prints a markdown table (ms per iteration, iterations per second, median of
``--repeats`` rounds of ``--iters`` iterations, alternating the two paths),
and with ``--profile`` the operators that take the most time.

    python tools/analysis_tools/train_speed.py CONFIG [--size 112]
        [--batch-size 8] [--threads 1] [--iters 5] [--repeats 5]
        [--flush-denormal] [--profile]
"""
import argparse
import copy
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import csnet_mmseg  # noqa: F401  (fills the registries)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def parse_args():
    parser = argparse.ArgumentParser(
        description='Training iteration: MMEngine path vs a plain loop')
    parser.add_argument('config')
    parser.add_argument('--size', type=int, default=112)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--flush-denormal',
        action='store_true',
        help='torch.set_flush_denormal(True), as FlushDenormalHook does')
    parser.add_argument(
        '--profile', action='store_true', help='print the top operators')
    return parser.parse_args()


def make_batch(n: int, size: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (3, size, size), generator=g,
                      dtype=torch.uint8) for _ in range(n)
    ]
    samples = []
    for _ in range(n):
        s = SegDataSample()
        label = torch.zeros(1, size, size, dtype=torch.long)
        y0, x0 = torch.randint(0, size // 2, (2, ), generator=g).tolist()
        label[:, y0:y0 + size // 2, x0:x0 + size // 2] = 1
        s.gt_sem_seg = PixelData(data=label)
        s.set_metainfo(
            dict(img_shape=(size, size), ori_shape=(size, size),
                 pad_shape=(size, size)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(args.flush_denormal)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    torch.manual_seed(args.seed)
    model = MODELS.build(cfg.model).train()
    model_plain = copy.deepcopy(model)
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    opt_cfg = cfg.optim_wrapper.optimizer
    plain_opt = torch.optim.Adam(
        model_plain.parameters(),
        lr=opt_cfg.get('lr', 1e-3),
        betas=tuple(opt_cfg.get('betas', (0.9, 0.999))),
        weight_decay=opt_cfg.get('weight_decay', 0))
    batch = make_batch(args.batch_size, args.size, args.seed)
    # the plain loop gets the preprocessed tensors once
    data = model_plain.data_preprocessor(copy.deepcopy(batch), True)

    def plain_step():
        losses = model_plain.loss(data['inputs'], data['data_samples'])
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        plain_opt.zero_grad()
        loss.backward()
        plain_opt.step()

    def mm_step():
        model.train_step(batch, wrapper)

    paths = dict(plain=plain_step, mmengine=mm_step)
    for fn in paths.values():
        for _ in range(args.warmup):
            fn()
    times = {k: [] for k in paths}
    for _ in range(args.repeats):
        for name, fn in paths.items():
            t0 = time.perf_counter()
            for _ in range(args.iters):
                fn()
            times[name].append((time.perf_counter() - t0) / args.iters)
    wrapper_name = type(wrapper).__name__
    print(f'\n{args.config}: batch {args.batch_size}, {args.size}x'
          f'{args.size}, {args.threads} thread(s), flush denormal '
          f'{args.flush_denormal}; median of {args.repeats} x {args.iters} '
          'iterations\n')
    print('| path | ms / iteration | iterations / s |')
    print('|---|---|---|')
    for name, ts in times.items():
        med = statistics.median(ts)
        label = name if name == 'plain' else f'mmengine ({wrapper_name})'
        print(f'| {label} | {med * 1e3:.1f} | {1 / med:.3f} |')
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.iters):
                mm_step()
        print(prof.key_averages().table(
            sort_by='self_cpu_time_total', row_limit=25))


if __name__ == '__main__':
    main()
