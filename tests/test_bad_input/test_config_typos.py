"""A misspelt argument of one of the plugin's components stops the build
with a TypeError that names the component and the key, when built the way
the Runner builds it (config + ``--cfg-options`` merge + registry)."""
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmseg.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS

X1 = 'configs/csnet_l_x1.py'


@pytest.mark.parametrize(
    'component, option, value',
    [
        ('CSNet', 'model.backbone.stem_chanels', [10, 10]),
        ('CSFHead', 'model.decode_head.dilation', (1, 2, 4, 8, 16)),
    ])
def test_model_key_typo(component, option, value):
    cfg = Config.fromfile(X1)
    cfg.merge_from_dict({option: value})  # what --cfg-options does
    key = option.rsplit('.', 1)[1]
    with pytest.raises(TypeError) as info:
        MODELS.build(cfg.model)
    msg = str(info.value)
    assert component in msg and repr(key) in msg, msg


@pytest.mark.parametrize(
    'registry, cfg',
    [
        (DATASETS,
         dict(type='SODDataset', data_rot='data/x', lazy_init=True)),
        (TRANSFORMS, dict(type='LoadSODImage', colour_type='color')),
        (TRANSFORMS, dict(type='LoadSODAnnotations', treshold=127)),
        (TRANSFORMS, dict(type='SODRandomCrop', max_crops=14)),
        (TRANSFORMS, dict(type='RandomFlipLRUD', probability=0.5)),
        (METRICS, dict(type='SODMetric', betta=0.3)),
        (HOOKS, dict(type='ChannelPruningHook', treshold=1e-20)),
        (HOOKS, dict(type='BadSampleHook', max_skip_rate=0.1)),
        (TRANSFORMS, dict(type='SkipBadSamples', transform=[])),
    ],
    ids=lambda v: v['type'] if isinstance(v, dict) else v.name)
def test_component_key_typo(registry, cfg):
    # the modules of BadSampleHook / SkipBadSamples register them
    import csnet_mmseg.datasets.robust  # noqa: F401
    import csnet_mmseg.engine.hooks.bad_sample_hook  # noqa: F401
    key = [k for k in cfg if k not in ('type', 'lazy_init')][0]
    with pytest.raises(TypeError) as info:
        registry.build(cfg)
    msg = str(info.value)
    assert cfg['type'] in msg and repr(key) in msg, msg


def test_optim_wrapper_key_typo():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3),
                                torch.nn.BatchNorm2d(4))
    cfg = dict(
        type='DynamicWeightDecayOptimWrapper',
        constructor='DynamicWeightDecayOptimWrapperConstructor',
        optimizer=dict(type='Adam', lr=1e-3),
        dynamic_decy=3.0)
    with pytest.raises(TypeError,
                       match=re.escape('DynamicWeightDecayOptimWrapper') +
                       r".*'dynamic_decy'"):
        build_optim_wrapper(model, cfg)
