"""Side-by-side check of the conv gain against the released training
semantics (experiments/gain_probe/README.md).

Ours: the model and the optimizer wrapper of ``configs/csnet_duts.py`` (conv
gain 100 through ``ScaledConv2d``, ``DynamicWeightDecayOptimWrapper`` built
by its constructor). The reference implements the released semantics
directly: a gain-1 copy of the model run with ``torch.func.functional_call``
whose single-scale conv weights are ``100 * p`` for leaf tensors ``p``, its
own dynamic weight decay (``+= 3.0 * |GAP| * gamma`` on the backbone's
gOctConv gammas) and ``torch.optim.Adam`` over ``p`` and the other
parameters (targeted gammas without L2, everything else 5e-3). Same initial
weights (``p`` = our stored weight, ``W = 100 p``), same seeded batches; the
losses and the conv / gamma trajectories are compared at every step. Two
more runs of our wrapper show what the gain changes: ``today`` (gain 1 from
the same stored init, i.e. today's recipe) and ``small`` (gain 100 with
``p = W / 100``: today's initial function, the weights 100x faster).

    python experiments/gain_probe/gain_probe.py [--steps 200] [--out DIR]
"""
import argparse
import copy
import json
import os
import os.path as osp
import time
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from torch import Tensor, nn
from torch.func import functional_call

import csnet_mmseg  # noqa: F401  (registers the modules)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

from csnet_mmseg.models.layers import ScaleNormAct, scaled_convs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'csnet_duts.py')


def batches(steps: int, batch: int, size: int, seed: int) -> List[tuple]:
    """Seeded random images (normalised) and blob masks in {0, 1}."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        x = torch.randn(batch, 3, size, size, generator=g)
        noise = torch.randn(batch, 1, size // 8, size // 8, generator=g)
        mask = F.interpolate(noise, size=(size, size), mode='bilinear',
                             align_corners=False) > 0.3
        out.append((x, mask.long()))
    return out


def samples(mask: Tensor) -> List[SegDataSample]:
    out = []
    for m in mask:
        s = SegDataSample(gt_sem_seg=PixelData(data=m))
        s.set_metainfo(dict(img_shape=tuple(m.shape[-2:]),
                            ori_shape=tuple(m.shape[-2:]),
                            pad_shape=tuple(m.shape[-2:])))
        out.append(s)
    return out


def total_loss(losses: Dict[str, Tensor]) -> Tensor:
    return sum(v for k, v in losses.items() if 'loss' in k)


def effective(model: nn.Module) -> Dict[str, Tensor]:
    """Every conv weight as the forward uses it, and every BN gamma."""
    scaled = dict(scaled_convs(model))
    out = {}
    for name, p in model.named_parameters():
        module = name.rsplit('.', 1)[0]
        if p.dim() == 4:
            gain = scaled[module].gain if module in scaled else 1.0
            out[name] = p.detach() * gain
        elif '.norms.' in name and name.endswith('.weight'):
            out[name] = p.detach().clone()
    return out


def dwd_targets(model: nn.Module) -> List[tuple]:
    """(act module, gamma) of every gOctConv norm of the backbone."""
    out = []
    for name, m in model.backbone.named_modules():
        if isinstance(m, ScaleNormAct) and not name.startswith(
                'multi_dilation'):
            for norm, act in zip(m.norms, m.acts):
                if isinstance(norm, nn.BatchNorm2d):
                    out.append((act, norm.weight))
    return out


class Reference:
    """The released semantics, written directly: leaf ``p`` per scaled conv
    (the conv uses ``gain * p``), Adam with coupled L2 5e-3 except on the
    DWD gammas, dynamic weight decay ``+= 3.0 * S * gamma``."""

    def __init__(self, ours: nn.Module, plain_cfg: dict, lr: float,
                 dynamic_decay: float = 3.0, weight_decay: float = 5e-3):
        self.model = MODELS.build(plain_cfg)
        self.scaled = {n: m.gain for n, m in scaled_convs(ours)}
        sd = {k: v for k, v in ours.state_dict().items()
              if not k.endswith('conv_gain')}
        for name, gain in self.scaled.items():
            sd[f'{name}.weight'] = sd[f'{name}.weight'] * gain  # W = 100 p
        self.model.load_state_dict(sd, strict=True)
        self.model.train()
        # the leaves: p = our stored weight (W / 100)
        self.p = {
            f'{n}.weight':
            nn.Parameter(ours.get_submodule(n).weight.detach().clone())
            for n in self.scaled
        }
        self.targets = dwd_targets(self.model)
        self.dynamic_decay = dynamic_decay
        self.stats: Dict[int, Tensor] = {}
        for k, (act, _) in enumerate(self.targets):
            act.register_forward_hook(self._hook(k))
        gamma_ids = {id(g) for _, g in self.targets}
        others = [
            p for n, p in self.model.named_parameters()
            if n not in self.p and id(p) not in gamma_ids
        ] + list(self.p.values())
        self.optimizer = torch.optim.Adam(
            [dict(params=others, weight_decay=weight_decay),
             dict(params=[g for _, g in self.targets], weight_decay=0.0)],
            lr=lr, betas=(0.9, 0.99))

    def _hook(self, k: int):

        def hook(_module, _args, out):
            self.stats[k] = out.detach().mean(dim=(2, 3)).abs().mean(0)

        return hook

    def step(self, x: Tensor, data_samples) -> float:
        self.optimizer.zero_grad()
        weights = {
            n: p * self.scaled[n.rsplit('.', 1)[0]]
            for n, p in self.p.items()
        }
        losses = functional_call(self.model, weights, (x, data_samples),
                                 dict(mode='loss'))
        loss = total_loss(losses)
        loss.backward()
        with torch.no_grad():
            for k, (_, gamma) in enumerate(self.targets):
                gamma.grad.add_(self.stats[k] * gamma,
                                alpha=self.dynamic_decay)
        self.optimizer.step()
        return float(loss.detach())

    def effective(self) -> Dict[str, Tensor]:
        out = effective(self.model)
        for n, p in self.p.items():
            out[n] = p.detach() * self.scaled[n.rsplit('.', 1)[0]]
        return out


def rel_diff(a: Dict[str, Tensor], b: Dict[str, Tensor], keys) -> float:
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp(
        min=1e-30)) for k in keys)


def median_move(a: Dict[str, Tensor], b: Dict[str, Tensor], keys,
                normalise: bool = False) -> float:
    """Median over tensors of ``||a - b|| / ||b||`` (normalise: each tensor
    scaled to unit norm first, so that only its direction counts: with BN
    after every scaled conv, ``W`` and ``c W`` are the same function)."""
    vals = []
    for k in keys:
        x, y = a[k], b[k]
        if normalise:
            x, y = x / x.norm(), y / y.norm()
        vals.append(float((x - y).norm() / y.norm()))
    return float(torch.tensor(vals).median())


def run(args) -> dict:
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(CONFIG)
    model_cfg = cfg.model
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    optim_cfg.optimizer.lr = args.lr
    plain_cfg = copy.deepcopy(model_cfg)
    plain_cfg.backbone.conv_cfg = None
    plain_cfg.decode_head.conv_cfg = None

    torch.manual_seed(args.seed)
    ours = MODELS.build(model_cfg)
    ours.init_weights()
    ours.train()
    ref = Reference(ours, plain_cfg, args.lr)
    # today's recipe: gain 1 from the same init (W = our stored p; the
    # stored weights are initialised alike whatever the gain)
    today = MODELS.build(plain_cfg)
    today.load_state_dict({k: v for k, v in ours.state_dict().items()
                           if not k.endswith('conv_gain')})
    # gain 100 with p = W / 100 (the initial function of today's model)
    small = MODELS.build(model_cfg)
    small.load_state_dict(ours.state_dict())
    with torch.no_grad():
        for _, m in scaled_convs(small):
            m.weight.div_(m.gain)
    arms = dict(ours=ours, today=today, small=small)
    for m in arms.values():
        m.train()
    wrappers = {k: build_optim_wrapper(m, copy.deepcopy(optim_cfg))
                for k, m in arms.items()}

    data = batches(args.steps, args.batch, args.size, args.seed)
    init = {k: effective(m) for k, m in arms.items()}
    conv_keys = [k for k in init['ours'] if init['ours'][k].dim() == 4]
    gamma_keys = [k for k in init['ours'] if init['ours'][k].dim() == 1]
    scaled_keys = [f'{n}.weight' for n in ref.scaled]
    rows, t0 = [], time.time()
    for step, (x, mask) in enumerate(data, 1):
        ds = samples(mask)
        loss = {}
        for k, model in arms.items():
            wrapper = wrappers[k]
            with wrapper.optim_context(model):
                value = total_loss(model(x, copy.deepcopy(ds), mode='loss'))
            wrapper.update_params(value)
            loss[k] = float(value.detach())
        loss['ref'] = ref.step(x, copy.deepcopy(ds))
        now = {k: effective(m) for k, m in arms.items()}
        b = ref.effective()
        row = dict(step=step, **{f'loss_{k}': v for k, v in loss.items()})
        row.update(
            loss_diff=abs(loss['ours'] - loss['ref']),
            conv_rel=rel_diff(now['ours'], b, conv_keys),
            gamma_rel=rel_diff(now['ours'], b, gamma_keys))
        for k in arms:
            # how far the scaled convs moved (relative to their own init)
            row[f'scaled_moved_{k}'] = median_move(now[k], init[k],
                                                   scaled_keys)
            row[f'gamma_moved_{k}'] = rel_diff(now[k], init[k], gamma_keys)
        for k in ('today', 'small'):
            # the function's distance to ours: scaled convs relative to
            # their effective size, and the gammas
            row[f'scaled_vs_ours_{k}'] = median_move(now[k], now['ours'],
                                                     scaled_keys,
                                                     normalise=True)
            row[f'gamma_vs_ours_{k}'] = rel_diff(now[k], now['ours'],
                                                 gamma_keys)
        rows.append(row)
    last = rows[-1]
    summary = dict(
        steps=args.steps, size=args.size, batch=args.batch, lr=args.lr,
        threads=args.threads, seconds=round(time.time() - t0, 1),
        scaled_convs=len(ref.scaled),
        conv_tensors=len(conv_keys), gammas=len(gamma_keys),
        max_loss_diff=max(r['loss_diff'] for r in rows),
        max_conv_rel=max(r['conv_rel'] for r in rows),
        max_gamma_rel=max(r['gamma_rel'] for r in rows),
        max_loss_diff_today=max(
            abs(r['loss_today'] - r['loss_ours']) for r in rows),
        max_loss_diff_small=max(
            abs(r['loss_small'] - r['loss_ours']) for r in rows),
        final=last)
    return dict(summary=summary, rows=rows)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=200)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--out', default='work_dirs/gain_probe',
        help='writes result.json (summary and every step) here')
    return parser.parse_args()


def main():
    args = parse_args()
    result = run(args)
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result['summary'], indent=1))


if __name__ == '__main__':
    main()
