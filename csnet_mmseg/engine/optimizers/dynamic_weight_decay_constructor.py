"""Optimizer-wrapper constructor for dynamic weight decay."""
import inspect
from typing import List

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import nn

from mmseg.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                            OPTIMIZERS)
from .dwd_targets import find_dwd_targets
from .dynamic_weight_decay_optim_wrapper import DynamicWeightDecayOptimWrapper


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DynamicWeightDecayOptimWrapperConstructor(
        DefaultOptimWrapperConstructor):
    """Builds a :class:`DynamicWeightDecayOptimWrapper` with the right groups.

    The targeted gammas (chosen by the wrapper's ``include_head`` and
    ``target_regex``, see :func:`find_dwd_targets`) get ``weight_decay=0``
    (or ``optim_wrapper.target_weight_decay``: the released training code
    gives the gammas of its ``conv3x3_2`` layers the standard decay on top of
    the dynamic term; 0 is the paper's method);
    every other parameter keeps the optimizer's settings. Without
    ``paramwise_cfg`` this gives two parameter groups (others, targeted
    gammas); with ``paramwise_cfg`` the groups of
    :class:`DefaultOptimWrapperConstructor` are built and the targeted gammas'
    weight decay is then set to 0. The model is passed to the wrapper, which
    finds the same targets and hooks their activations.

    Config::

        optim_wrapper = dict(
            type='DynamicWeightDecayOptimWrapper',
            constructor='DynamicWeightDecayOptimWrapperConstructor',
            optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99),
                           weight_decay=5e-3),
            dynamic_decay=3.0)

    Args:
        optim_wrapper_cfg (dict): The optimizer wrapper config (``type``
            defaults to ``'DynamicWeightDecayOptimWrapper'``).
        paramwise_cfg (dict, optional): As in
            :class:`DefaultOptimWrapperConstructor`.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        target_wd = wrapper_cfg.get('target_weight_decay', 0.0)
        if not (isinstance(target_wd, (int, float)) and target_wd >= 0):
            raise ValueError('optim_wrapper.target_weight_decay must be a '
                             f'number >= 0, got {target_wd!r}')
        wrapper_cfg.setdefault('type', 'DynamicWeightDecayOptimWrapper')
        wrapper_cls = wrapper_cfg['type']
        if isinstance(wrapper_cls, str):
            wrapper_cls = OPTIM_WRAPPERS.get(wrapper_cls)
        if not (isinstance(wrapper_cls, type)
                and issubclass(wrapper_cls, DynamicWeightDecayOptimWrapper)):
            raise ValueError(
                'DynamicWeightDecayOptimWrapperConstructor builds a '
                'DynamicWeightDecayOptimWrapper, but optim_wrapper.type is '
                f"{wrapper_cfg['type']!r}")
        targets = find_dwd_targets(
            model,
            include_head=wrapper_cfg.get('include_head', False),
            target_regex=wrapper_cfg.get('target_regex', None))
        target_ids = {id(t.gamma) for t in targets}

        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))

        if self.paramwise_cfg:
            groups: List[dict] = []
            self.add_params(groups, model)
            for group in groups:
                if any(id(p) in target_ids for p in group['params']):
                    group['weight_decay'] = float(target_wd)
        else:
            others = [p for p in model.parameters() if id(p) not in target_ids]
            gammas = [t.gamma for t in targets]
            groups = [dict(params=others)]
            if gammas:
                groups.append(
                    dict(params=gammas, weight_decay=float(target_wd)))
        optimizer_cfg[first_arg] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        print_log(
            f'DynamicWeightDecayOptimWrapperConstructor: {len(targets)} '
            f'targeted gammas get weight_decay {float(target_wd):g}, the '
            'other parameters '
            f"weight_decay {self.optimizer_cfg.get('weight_decay', 0)}",
            logger='current')
        return OPTIM_WRAPPERS.build(
            wrapper_cfg, default_args=dict(optimizer=optimizer, model=model))


__all__ = ['DynamicWeightDecayOptimWrapperConstructor']
