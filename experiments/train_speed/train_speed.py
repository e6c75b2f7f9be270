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

- ``mmengine+`` (with ``--fast-options KEY=VALUE ...``): the same, with a
  model built from the config changed by those options, e.g. the faster
  training path ``model.backbone.channels_last=True
  model.backbone.act_cfg.type=FastPReLU
  model.decode_head.act_cfg.type=FastPReLU``.

Prints a markdown table (ms per iteration, iterations per second, median of
``--repeats`` rounds of ``--iters`` iterations, the paths in turn, timed by
:func:`csnet_mmseg.benchmark.time_rounds`), and
with ``--profile`` the operators that take the most time (of the last
MMEngine path). With ``--fast-options`` it also checks that the two models
compute the same thing: loss and parameter gradients of one batch, each
against a float64 copy of the default model (the error of float32 rounding
of either path), and the two against each other.

    python experiments/train_speed/train_speed.py CONFIG [--size 112]
        [--batch-size 8] [--threads 1] [--iters 5] [--repeats 5]
        [--flush-denormal] [--profile] [--cfg-options KEY=VALUE ...]
        [--fast-options KEY=VALUE ...]
"""
import argparse
import copy

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import csnet_mmseg  # noqa: F401  (fills the registries)
from csnet_mmseg.benchmark import time_rounds
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
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings of every path')
    parser.add_argument(
        '--fast-options',
        nargs='+',
        action=DictAction,
        help='config settings of a third, "mmengine+" path (same initial '
        'weights), e.g. model.backbone.channels_last=True')
    return parser.parse_args()


def grads_of(model, data) -> tuple:
    """Loss and per-parameter gradients of one forward/backward."""
    model.zero_grad(set_to_none=True)
    loss, _ = model.parse_losses(
        model.loss(data['inputs'], data['data_samples']))
    loss.backward()
    grads = {
        n: p.grad.detach().double().clone()
        for n, p in model.named_parameters() if p.grad is not None
    }
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


def grad_error(a: dict, b: dict) -> tuple:
    """How far gradients ``a`` are from the reference ``b``: the largest
    elementwise difference relative to the largest reference gradient of
    the whole model, and the L2 norm of the difference relative to the
    reference's (all parameters as one vector). Per-parameter ratios would
    be meaningless for gradients that are ~0 by cancellation (e.g. BN
    gammas at initialisation)."""
    scale = max(g.abs().max().item() for g in b.values())
    diff = max((a[n] - g).abs().max().item() for n, g in b.items())
    num = sum(((a[n] - g)**2).sum().item() for n, g in b.items())
    den = sum((g**2).sum().item() for g in b.values())
    return diff / scale, (num / den)**0.5


def check_same(model, fast_model, data) -> None:
    """Print how far each path's loss and gradients are from a float64
    copy of the default model, and from each other."""
    ref = copy.deepcopy(model).double()
    ref_data = dict(
        inputs=data['inputs'].double(), data_samples=data['data_samples'])
    ref_loss, ref_grads = grads_of(ref, ref_data)
    loss, grads = grads_of(model, data)
    fast_loss, fast_grads = grads_of(fast_model, data)
    print('\nSame computation (one batch, initial weights; gradient '
          'differences: max relative to the largest gradient of the model, '
          'and relative L2 norm over all parameters):\n')
    print('| path | loss | loss - float64 | gradient vs float64: max | '
          'L2 |')
    print('|---|---|---|---|---|')
    print(f'| float64 reference | {ref_loss:.8f} | 0 | 0 | 0 |')
    for name, lo, gr in (('mmengine', loss, grads),
                         ('mmengine+', fast_loss, fast_grads)):
        mx, l2 = grad_error(gr, ref_grads)
        print(f'| {name} | {lo:.8f} | {lo - ref_loss:.2e} | {mx:.2e} | '
              f'{l2:.2e} |')
    mx, l2 = grad_error(fast_grads, grads)
    print(f'\nmmengine+ vs mmengine: loss {fast_loss - loss:.2e}, gradient '
          f'max {mx:.2e}, L2 {l2:.2e}')


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
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    torch.manual_seed(args.seed)
    model = MODELS.build(cfg.model).train()
    model_plain = copy.deepcopy(model)
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    fast_model = fast_wrapper = None
    if args.fast_options:
        fast_cfg = copy.deepcopy(cfg)
        fast_cfg.merge_from_dict(args.fast_options)
        fast_model = MODELS.build(fast_cfg.model).train()
        # same initial weights (state dict keys must match)
        fast_model.load_state_dict(model.state_dict())
        fast_wrapper = build_optim_wrapper(
            fast_model, copy.deepcopy(fast_cfg.optim_wrapper))
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
        loss, _ = model_plain.parse_losses(
            model_plain.loss(data['inputs'], data['data_samples']))
        plain_opt.zero_grad()
        loss.backward()
        plain_opt.step()

    if fast_model is not None:
        check_same(model, fast_model, data)

    def mm_step():
        model.train_step(batch, wrapper)

    paths = dict(plain=plain_step, mmengine=mm_step)
    if fast_model is not None:
        paths['mmengine+'] = lambda: fast_model.train_step(
            batch, fast_wrapper)
    # per round: the mean of --iters iterations in a row; the paths in the
    # same order every round
    timings = time_rounds(
        paths,
        rounds=args.repeats,
        runs=args.iters,
        warmup=args.warmup,
        per_round='mean',
        alternate=False)
    wrapper_name = type(wrapper).__name__
    print(f'\n{args.config}: batch {args.batch_size}, {args.size}x'
          f'{args.size}, {args.threads} thread(s), flush denormal '
          f'{args.flush_denormal}; median of {args.repeats} x {args.iters} '
          'iterations\n')
    if fast_model is not None:
        print('mmengine+: ' + ' '.join(f'{k}={v}'
                                        for k, v in args.fast_options.items())
              + '\n')
    base = timings['mmengine'].median
    print('| path | ms / iteration | iterations / s | speed-up over mmengine |')
    print('|---|---|---|---|')
    for name, timing in timings.items():
        ms = timing.median
        label = name if name == 'plain' else f'{name} ({wrapper_name})'
        print(f'| {label} | {ms:.1f} | {1e3 / ms:.3f} | {base / ms:.2f}x |')
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        step = paths['mmengine+' if fast_model is not None else 'mmengine']
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.iters):
                step()
        print(prof.key_averages().table(
            sort_by='self_cpu_time_total', row_limit=25))


if __name__ == '__main__':
    main()
