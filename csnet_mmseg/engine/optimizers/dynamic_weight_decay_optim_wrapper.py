"""Dynamic weight decay (Gao et al., ECCV 2020) as an optimizer wrapper."""
import logging
from contextlib import contextmanager
from typing import List, Optional, Sequence, Union

import torch
from mmengine.device import get_device
from mmengine.dist import all_reduce, is_distributed
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import Tensor, nn
from torch.optim import Optimizer

from mmseg.registry import OPTIM_WRAPPERS
from .dwd_metrics import DWDMetric, get_dwd_metric, metric_name
from .dwd_targets import DWDTarget, find_dwd_targets

STATE_KEY = 'dynamic_weight_decay'


def resolve_scale_weights(scale_weights: Union[None, str, Sequence[float]],
                          targets: Sequence[DWDTarget]) -> List[float]:
    """The weight of the decay term of every target, from its scale index.

    ``None`` or ``'uniform'``: 1 for every scale (the ECCV method).
    ``'flops'``: ``1 / 4**k`` for scale ``k`` (TPAMI, FLOPs-aware): a channel
    of scale ``k`` runs at 1/2^k of the resolution of scale 0 of its layer,
    so it costs 1/4^k as many FLOPs per channel; the weight is relative to
    scale 0 of the same layer. A sequence gives the weight of each scale.
    """
    if scale_weights is None or scale_weights == 'uniform':
        return [1.0] * len(targets)
    if scale_weights == 'flops':
        return [0.25**t.scale for t in targets]
    if isinstance(scale_weights, str):
        raise ValueError(
            "dynamic weight decay: scale_weights must be None, 'uniform', "
            f"'flops' or a list of per-scale weights, got {scale_weights!r}")
    weights = [float(w) for w in scale_weights]
    if any(w < 0 for w in weights):
        raise ValueError('dynamic weight decay: scale_weights must be >= 0, '
                         f'got {weights}')
    out = []
    for t in targets:
        if t.scale >= len(weights):
            raise ValueError(
                f'dynamic weight decay: {t.name} is scale {t.scale} but '
                f'scale_weights={weights} has only {len(weights)} entries')
        out.append(weights[t.scale])
    return out


@OPTIM_WRAPPERS.register_module()
class DynamicWeightDecayOptimWrapper(OptimWrapper):
    """Optimizer wrapper adding dynamic weight decay to BatchNorm gammas.

    Standard weight decay adds ``lambda * w`` to the gradient of ``w``.
    Dynamic weight decay (CSNet, Gao et al., ECCV 2020) instead adds, for the
    BN scale ``gamma_c`` of every targeted channel ``c``::

        grad(gamma_c) += dynamic_decay * w_k * S(x_c) * gamma_c

    where ``x_c`` is the channel's output (after BN + activation) in the
    current forward pass, ``S`` a channel metric (``'gap'``:
    ``|mean over H, W of x_c|`` averaged over the batch), treated as a
    constant, and ``w_k`` the weight of the channel's scale ``k``
    (``scale_weights``; 1 for the ECCV method). The term is part of the
    gradient (not decoupled), so Adam normalises it like the rest.

    Targets (see :func:`find_dwd_targets`): by default every norm of every
    :class:`GOctConv` outside the decode head. The targeted gammas must have
    ``weight_decay=0`` in the optimizer, which
    :class:`DynamicWeightDecayOptimWrapperConstructor` arranges (configs set
    ``constructor='DynamicWeightDecayOptimWrapperConstructor'``); the
    constructor also passes the ``model``. All other parameters keep the
    optimizer's weight decay.

    How ``S`` is recorded: a forward hook on every targeted activation module
    stores, while the module is in training mode and autograd is enabled,
    only the detached ``(C,)`` float32 statistic, summed with a counter
    (no activation stays alive).

    When the decay is applied (``step``): once per real optimizer step, with
    ``S`` the mean of the statistics recorded since the previous step. With
    gradient accumulation (``accumulative_counts=n``) that is the mean over
    the ``n`` accumulated forward passes, and the decay is added once to the
    accumulated (loss-averaged) gradient, just as an optimizer's own weight
    decay is. Under ``torch.distributed`` the sums and counters are
    all-reduced (``mmengine.dist.all_reduce``, op ``'sum'``) before dividing,
    so every process uses the mean over all processes' forward passes and
    applies the same decay. The order within a step is: unscale the gradients
    (AMP) -> add the decay -> clip gradients (``clip_grad``) -> optimizer step.
    Gammas without a gradient (unused in the loss) are skipped, as the
    optimizer skips them.

    Args:
        optimizer (Optimizer): The optimizer.
        model (nn.Module): The model whose norms are targeted.
        dynamic_decay (float): ``lambda_d``. Defaults to 3.0 (released code).
        metric (str or callable): Channel metric: a name registered with
            :func:`register_dwd_metric` (``'gap'``, ``'l2'``, ``'max'``) or a
            callable ``(N, C, ...) tensor -> (C,) tensor``.
            Defaults to ``'gap'``.
        scale_weights (None, str or list[float]): Per-scale weights of the
            term: None/``'uniform'`` (1, ECCV), ``'flops'`` (``1/4**k`` for
            scale ``k``, TPAMI FLOPs-aware) or one weight per scale index.
            Defaults to None.
        include_head (bool): Also target the decode head's norms (GOctConvs
            and multi-dilation norms). Defaults to False.
        target_regex (str, optional): Keep only targets whose full norm name
            matches (``re.search``). Defaults to None.
        l1_decay (float): ``lambda_1`` of an L1 penalty on the targeted
            gammas, network slimming (Liu et al., ICCV 2017): adds
            ``l1_decay * w_k * sign(gamma)`` (the subgradient of
            ``l1_decay * w_k * |gamma|``) to each targeted gamma's gradient,
            next to the dynamic term. With ``dynamic_decay=0`` this is the
            slimming baseline the paper builds on. Defaults to 0.
        target_weight_decay (float): The optimizer's (standard) weight decay
            of the targeted gammas, on top of the dynamic term. 0 is the
            paper's method; the released training code's optimizer groups
            give the gammas of its ``conv3x3_2`` layers both. The
            constructor sets it in the optimizer. Defaults to 0.
        amp (bool): Automatic mixed precision (like ``AmpOptimWrapper``: a
            ``torch.amp.GradScaler`` and ``autocast`` in ``optim_context``);
            the decay is added to the unscaled gradient. Defaults to False.
        loss_scale (str, float or dict): ``'dynamic'``, a static scale or
            ``GradScaler`` kwargs (only with ``amp``). Defaults to
            ``'dynamic'``.
        dtype (str or torch.dtype, optional): ``autocast`` dtype (only with
            ``amp``); None = the device default (bfloat16 on CPU).
        accumulative_counts (int): Gradient accumulation steps.
            Defaults to 1.
        clip_grad (dict, optional): See :class:`OptimWrapper`.
    """

    def __init__(self,
                 optimizer: Optimizer,
                 model: Optional[nn.Module] = None,
                 dynamic_decay: float = 3.0,
                 metric: Union[str, DWDMetric] = 'gap',
                 scale_weights: Union[None, str, Sequence[float]] = None,
                 include_head: bool = False,
                 target_regex: Optional[str] = None,
                 l1_decay: float = 0.0,
                 target_weight_decay: float = 0.0,
                 amp: bool = False,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Union[None, str, torch.dtype] = None,
                 accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None) -> None:
        self.target_weight_decay = float(target_weight_decay)
        super().__init__(
            optimizer,
            accumulative_counts=accumulative_counts,
            clip_grad=clip_grad)
        if model is None:
            raise TypeError(
                'DynamicWeightDecayOptimWrapper needs the model: build it '
                'with optim_wrapper=dict(constructor='
                "'DynamicWeightDecayOptimWrapperConstructor', ...) or pass "
                'model=... directly')
        if float(dynamic_decay) < 0:
            raise ValueError('dynamic weight decay: dynamic_decay must be '
                             f'>= 0, got {dynamic_decay}')
        self.dynamic_decay = float(dynamic_decay)
        if float(l1_decay) < 0:
            raise ValueError('dynamic weight decay: l1_decay must be >= 0, '
                             f'got {l1_decay}')
        self.l1_decay = float(l1_decay)
        self.metric = get_dwd_metric(metric)
        self.metric_name = metric_name(metric)
        self.scale_weights = scale_weights
        self.include_head = bool(include_head)
        self.target_regex = target_regex
        self.targets = find_dwd_targets(model, self.include_head, target_regex)
        if not self.targets:
            raise ValueError(
                'dynamic weight decay found no norm to act on (include_head='
                f'{self.include_head}, target_regex={target_regex!r}); the '
                'model needs GOctConv layers with affine BatchNorm')
        self.weights = resolve_scale_weights(scale_weights, self.targets)
        self._check_param_groups()

        n = len(self.targets)
        self._stat_sum: List[Optional[Tensor]] = [None] * n
        self._stat_count: List[int] = [0] * n
        #: ``S`` per target used by the last applied step (None if none)
        self.last_stat: List[Optional[Tensor]] = [None] * n
        #: number of steps in which the decay was applied
        self.num_decay_steps = 0
        self._hooks = [
            t.act.register_forward_hook(self._make_hook(i))
            for i, t in enumerate(self.targets)
        ]

        self.amp = bool(amp)
        self._scale_update_param = None
        self.cast_dtype = None
        if self.amp:
            self._init_amp(loss_scale, dtype)
        num_channels = sum(t.gamma.numel() for t in self.targets)
        print_log(
            f'Dynamic weight decay: lambda_d={self.dynamic_decay}, metric='
            f'{self.metric_name}, scale_weights={scale_weights}, l1_decay='
            f'{self.l1_decay:g}, {n} norms / {num_channels} channels '
            f'targeted (weight_decay {self.target_weight_decay:g})',
            logger='current')

    # ----------------------------------------------------------------- setup
    def _init_amp(self, loss_scale: Union[str, float, dict],
                  dtype: Union[None, str, torch.dtype]) -> None:
        device = get_device()
        if loss_scale == 'dynamic':
            self.loss_scaler = torch.amp.GradScaler(device)
        elif isinstance(loss_scale, (int, float)) and not isinstance(
                loss_scale, bool):
            self._scale_update_param = float(loss_scale)
            self.loss_scaler = torch.amp.GradScaler(
                device, init_scale=float(loss_scale))
        elif isinstance(loss_scale, dict):
            self.loss_scaler = torch.amp.GradScaler(device, **loss_scale)
        else:
            raise TypeError('loss_scale must be a float, a dict or "dynamic", '
                            f'got {loss_scale!r}')
        if isinstance(dtype, str):
            valid = ('float16', 'bfloat16', 'float32', 'float64')
            if dtype not in valid:
                raise ValueError(f'dtype must be one of {valid}, got {dtype}')
            dtype = getattr(torch, dtype)
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise TypeError(f'dtype must be None, a str or a torch.dtype, '
                            f'got {dtype!r}')
        self.cast_dtype = dtype

    def _check_param_groups(self) -> None:
        group_of = {}
        for g, group in enumerate(self.optimizer.param_groups):
            for p in group['params']:
                group_of[id(p)] = group
        for t in self.targets:
            group = group_of.get(id(t.gamma))
            if group is None:
                raise ValueError(
                    f'dynamic weight decay: {t.name}.weight is not optimised '
                    'by the optimizer')
            if group.get('weight_decay', 0) != self.target_weight_decay:
                raise ValueError(
                    f'dynamic weight decay: {t.name}.weight has weight_decay='
                    f"{group['weight_decay']} in the optimizer; targeted "
                    f'gammas need {self.target_weight_decay:g} '
                    '(target_weight_decay; use constructor='
                    "'DynamicWeightDecayOptimWrapperConstructor')")

    def _make_hook(self, index: int):

        target = self.targets[index].act

        def hook(module: nn.Module, inputs, output) -> None:
            # a deep copy of the model (e.g. an EMA model) copies the hook too:
            # only the hooked module itself records
            if module is not target:
                return
            if not module.training or not torch.is_grad_enabled():
                return
            if not isinstance(output, Tensor):
                return
            with torch.no_grad():
                stat = self.metric(output.detach()).float()
            if stat.shape != self.targets[index].gamma.shape:
                raise ValueError(
                    f'DWD metric {self.metric_name!r} returned shape '
                    f'{tuple(stat.shape)} for {self.targets[index].name}, '
                    f'expected {tuple(self.targets[index].gamma.shape)}')
            prev = self._stat_sum[index]
            self._stat_sum[index] = stat if prev is None else prev + stat
            self._stat_count[index] += 1

        return hook

    def remove_hooks(self) -> None:
        """Detach the forward hooks from the model (the wrapper stops
        recording ``S``)."""
        for h in self._hooks:
            h.remove()
        self._hooks = []

    # ------------------------------------------------------------ statistic
    @property
    def pending_counts(self) -> List[int]:
        """Forward passes recorded per target since the last step."""
        return list(self._stat_count)

    def _reduced_stats(self) -> List[Optional[Tensor]]:
        """Mean ``S`` per target since the last step (all processes)."""
        sums, counts = self._stat_sum, self._stat_count
        if is_distributed():
            device = next((s.device for s in sums if s is not None),
                          self.targets[0].gamma.device)
            flat = torch.cat([
                s.to(device) if s is not None else torch.zeros(
                    t.gamma.numel(), device=device, dtype=torch.float32)
                for s, t in zip(sums, self.targets)
            ] + [torch.tensor(counts, device=device, dtype=torch.float32)])
            all_reduce(flat, op='sum')
            sizes = [t.gamma.numel() for t in self.targets]
            parts = list(torch.split(flat, sizes + [len(counts)]))
            reduced_counts = [int(round(c)) for c in parts[-1].tolist()]
            sums = parts[:-1]
            counts = reduced_counts
        return [
            s / c if c > 0 and s is not None else None
            for s, c in zip(sums, counts)
        ]

    def _clear_pending(self) -> None:
        n = len(self.targets)
        self._stat_sum = [None] * n
        self._stat_count = [0] * n

    @torch.no_grad()
    def apply_dynamic_decay(self) -> None:
        """Add ``dynamic_decay * w_k * S * gamma`` (and, with ``l1_decay``,
        ``l1_decay * w_k * sign(gamma)``) to every targeted gamma's gradient,
        with ``S`` the mean since the last step, then clear it."""
        stats = self._reduced_stats()
        for t, stat, w in zip(self.targets, stats, self.weights):
            gamma = t.gamma
            if gamma.grad is None:
                continue
            if stat is not None:
                term = stat.to(device=gamma.device, dtype=gamma.dtype) * gamma
                gamma.grad.add_(term, alpha=self.dynamic_decay * w)
            if self.l1_decay:
                gamma.grad.add_(torch.sign(gamma), alpha=self.l1_decay * w)
        self.last_stat = [None if s is None else s.detach() for s in stats]
        self.num_decay_steps += 1
        self._clear_pending()

    # ------------------------------------------------------------ optimising
    def backward(self, loss: Tensor, **kwargs) -> None:
        """Backward (of the scaled loss with ``amp``)."""
        if self.amp:
            self.loss_scaler.scale(loss).backward(**kwargs)
            self._inner_count += 1
        else:
            super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        """Unscale (amp), add the dynamic decay, clip, then step."""
        if self.amp:
            self.loss_scaler.unscale_(self.optimizer)
        self.apply_dynamic_decay()
        if self.clip_grad_kwargs:
            self._clip_grad()
        if self.amp:
            self.loss_scaler.step(self.optimizer, **kwargs)
            self.loss_scaler.update(self._scale_update_param)
        else:
            self.optimizer.step(**kwargs)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context, plus ``autocast`` with ``amp``."""
        if not self.amp:
            with super().optim_context(model):
                yield
            return
        from mmengine.runner.amp import autocast
        with super().optim_context(model), autocast(dtype=self.cast_dtype):
            yield

    # ---------------------------------------------------------------- state
    def _config(self) -> dict:
        sw = self.scale_weights
        return dict(
            dynamic_decay=self.dynamic_decay,
            metric=self.metric_name,
            scale_weights=sw if sw is None or isinstance(sw, str) else
            [float(w) for w in sw],
            include_head=self.include_head,
            target_regex=self.target_regex,
            l1_decay=self.l1_decay,
            amp=self.amp)

    def state_dict(self) -> dict:
        """The optimizer's state dict plus ``'dynamic_weight_decay'`` (config,
        target names, step counter, last and pending statistics) and, with
        ``amp``, ``'loss_scaler'``."""
        state = super().state_dict()
        state[STATE_KEY] = dict(
            config=self._config(),
            targets=[t.name for t in self.targets],
            num_decay_steps=self.num_decay_steps,
            last_stat=[None if s is None else s.clone()
                       for s in self.last_stat],
            pending_sum=[None if s is None else s.clone()
                         for s in self._stat_sum],
            pending_count=list(self._stat_count))
        if self.amp:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load what :meth:`state_dict` saved (plain optimizer state dicts,
        without the DWD entry, load too)."""
        state_dict = dict(state_dict)
        dwd = state_dict.pop(STATE_KEY, None)
        scaler = state_dict.pop('loss_scaler', None)
        if scaler is not None:
            if self.amp:
                self.loss_scaler.load_state_dict(scaler)
            else:
                print_log(
                    'Dynamic weight decay: the checkpoint has a loss scaler '
                    'state but amp is off; it is ignored.',
                    logger='current',
                    level=logging.WARNING)
        super().load_state_dict(state_dict)
        if dwd is not None:
            self._load_dwd_state(dwd)

    def _load_dwd_state(self, dwd: dict) -> None:
        names = [t.name for t in self.targets]
        if list(dwd.get('targets', [])) != names:
            print_log(
                'Dynamic weight decay: the checkpoint targets other norms '
                f"({len(dwd.get('targets', []))} vs {len(names)} now); its "
                'statistics are not restored.',
                logger='current',
                level=logging.WARNING)
            return
        saved, now = dwd.get('config', {}), self._config()
        changed = {k: (saved[k], v) for k, v in now.items()
                   if k in saved and saved[k] != v}
        if changed:
            print_log(
                'Dynamic weight decay: the config differs from the checkpoint '
                f'(key: (checkpoint, now)) {changed}; the current one is '
                'used.',
                logger='current',
                level=logging.WARNING)

        def to_device(values: Sequence[Optional[Tensor]]) -> list:
            return [
                None if v is None else v.to(t.gamma.device, torch.float32)
                for v, t in zip(values, self.targets)
            ]

        self.num_decay_steps = int(dwd.get('num_decay_steps', 0))
        self.last_stat = to_device(dwd.get('last_stat', [None] * len(names)))
        self._stat_sum = to_device(dwd.get('pending_sum', [None] * len(names)))
        self._stat_count = [
            int(c) for c in dwd.get('pending_count', [0] * len(names))
        ]

    def __repr__(self) -> str:
        return (super().__repr__() +
                f'dynamic_decay: {self.dynamic_decay}, metric: '
                f'{self.metric_name}, scale_weights: {self.scale_weights}, '
                f'l1_decay: {self.l1_decay}, '
                f'targets: {len(self.targets)} norms\n')


__all__ = ['DynamicWeightDecayOptimWrapper', 'resolve_scale_weights']
