"""The conv gain (ScaledConv2d, conv_cfg): which convs take it, gain 1 bit
for bit today's model, the same function at gain 100, checkpoints of
another gain refused, optimizer groups unchanged."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.runner import load_checkpoint
from torch import nn

from mmseg.registry import MODELS

from csnet_mmseg.models.layers import (GOctConv, ScaledConv2d,
                                       build_scaled_conv, conv_gain,
                                       scaled_convs, single_scale_layout)
from csnet_mmseg.testing import SMALL_TABLE, TINY_TABLE
from gain_helpers import (build_gain_segmentor, gain_cfg,
                          gain_one_state_dict)

GAIN = dict(type='ScaledConv2d', gain=100.0)


def test_scaled_conv2d_convolves_with_gain_times_weight():
    torch.manual_seed(0)
    conv = build_scaled_conv(GAIN, 3, 5, 3, padding=2, dilation=2, bias=True)
    assert type(conv) is ScaledConv2d and conv.gain == 100.0
    x = torch.randn(2, 3, 9, 7)
    ref = F.conv2d(x, 100.0 * conv.weight, conv.bias, 1, 2, 2)
    torch.testing.assert_close(conv(x), ref, rtol=1e-6, atol=1e-5)
    assert set(conv.state_dict()) == {'weight', 'bias'}
    # gain 1 is nn.Conv2d exactly, and None builds nn.Conv2d itself
    one = build_scaled_conv(dict(type='ScaledConv2d', gain=1.0), 3, 5, 3)
    plain = build_scaled_conv(None, 3, 5, 3)
    assert type(plain) is nn.Conv2d
    plain.load_state_dict(one.state_dict())
    assert torch.equal(one(x), plain(x))
    assert one.scaled_weight() is one.weight


@pytest.mark.parametrize('cfg, gain', [(None, 1.0), (dict(type='Conv2d'), 1.0),
                                       (dict(type='ScaledConv2d'), 1.0),
                                       (GAIN, 100.0)])
def test_conv_gain_of_cfg(cfg, gain):
    assert conv_gain(cfg) == gain


@pytest.mark.parametrize('cfg, match', [
    (dict(type='ScaledConv2d', gain=0.0), 'finite number > 0'),
    (dict(type='ScaledConv2d', gain=-2), 'finite number > 0'),
    (dict(type='DCNv2'), 'Conv2d or ScaledConv2d'),
])
def test_bad_conv_cfg_refused(cfg, match):
    with pytest.raises(ValueError, match=match):
        conv_gain(cfg)


def test_gain_follows_the_released_rule():
    model = MODELS.build(gain_cfg(TINY_TABLE, 100.0))
    n_scaled = n_plain = 0
    for name, m in model.named_modules():
        if isinstance(m, GOctConv):
            scaled = m.depthwise or single_scale_layout(
                m.in_channels, m.out_channels)
            assert m.gain == (100.0 if scaled else 1.0), name
            assert m.conv_gain == 100.0
            n_scaled += scaled
            n_plain += not scaled
    # TINY_TABLE has single-scale mixing convs (stages.1.2 from [5, 0]) and
    # multi-scale ones whose absent scales do not make them single-scale
    assert model.backbone.stages[1][2].conv_mix.gain == 100.0
    assert model.backbone.stages[0][1].conv_mix.gain == 1.0  # [4,3]->[0,5]
    assert model.backbone.stem.conv_mix.gain == 1.0  # [3] -> [4, 3]
    assert model.decode_head.fuse.gain == 1.0  # 3 scales in (2 present out)
    assert model.decode_head.merge.gain == 1.0  # 2 present scales in
    assert n_scaled > 0 and n_plain > 0
    for branches in model.decode_head.multi_dilation.convs:
        for conv in branches:
            if isinstance(conv, nn.Conv2d):
                assert type(conv) is ScaledConv2d and conv.gain == 100.0
    assert type(model.decode_head.conv_seg) is nn.Conv2d  # gain 1, released
    names = {n for n, _ in scaled_convs(model)}
    assert 'decode_head.conv_seg' not in names
    assert 'backbone.stem.conv_dw1' in names


@pytest.mark.parametrize('gain', [None, 1.0])
def test_gain_one_is_todays_model_bit_for_bit(gain):
    torch.manual_seed(3)
    today = MODELS.build(gain_cfg(TINY_TABLE, None)).eval()
    torch.manual_seed(3)
    model = MODELS.build(gain_cfg(TINY_TABLE, gain)).eval()
    a, b = today.state_dict(), model.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not list(scaled_convs(model))
    x = torch.randn(2, 3, 37, 45)
    with torch.no_grad():
        assert torch.equal(today(x, mode='tensor'), model(x, mode='tensor'))


@pytest.mark.parametrize('table', [TINY_TABLE, SMALL_TABLE])
def test_gain_100_same_function_as_gain_1(table):
    model = build_gain_segmentor(table, 100.0)
    plain = MODELS.build(gain_cfg(table, None)).eval()
    plain.load_state_dict(gain_one_state_dict(model), strict=True)
    assert set(model.state_dict()) - set(plain.state_dict()) == {
        'backbone.conv_gain', 'decode_head.conv_gain'
    }
    assert float(model.backbone.conv_gain) == 100.0
    x = torch.randn(2, 3, 40, 56)
    with torch.no_grad():
        ref = plain(x, mode='tensor')
        out = model(x, mode='tensor')
    assert (out - ref).abs().max() <= 1e-4 * max(1.0, ref.abs().max())
    # and the gain really acts: the same stored weights in a gain-1 model
    # give another function
    plain.load_state_dict(
        {k: v
         for k, v in model.state_dict().items() if 'conv_gain' not in k})
    with torch.no_grad():
        assert (plain(x, mode='tensor') - ref).abs().max() > 1e-2


def test_gain_100_trains_through_the_gain():
    """The gradient of a stored weight is gain times that of the effective
    weight (d(g p)/dp = g)."""
    torch.manual_seed(0)
    conv = build_scaled_conv(GAIN, 2, 3, 3, padding=1, bias=False)
    x = torch.randn(1, 2, 6, 6)
    conv(x).square().sum().backward()
    w = (100.0 * conv.weight.detach()).requires_grad_()
    F.conv2d(x, w, None, 1, 1).square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, 100.0 * w.grad)


def _save(model, path):
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


@pytest.mark.parametrize('ckpt_gain, model_gain', [(100.0, None),
                                                   (None, 100.0),
                                                   (100.0, 10.0)])
def test_checkpoint_of_another_gain_refused(tmp_path, ckpt_gain, model_gain):
    src = build_gain_segmentor(TINY_TABLE, ckpt_gain)
    path = _save(src, tmp_path / 'ckpt.pth')
    dst = MODELS.build(gain_cfg(TINY_TABLE, model_gain))
    theirs = 1 if ckpt_gain is None else int(ckpt_gain)
    own = 1 if model_gain is None else int(model_gain)
    with pytest.raises(ValueError) as e:
        load_checkpoint(dst, path, map_location='cpu')  # strict=False
    msg = str(e.value)
    assert f'trained with conv gain {theirs} ' in msg
    assert f'this config builds conv gain {own} ' in msg
    assert 'CSNet' in msg
    if ckpt_gain is None:
        assert 'no backbone.conv_gain tensor' in msg
    # the head alone is refused too
    head_sd = {
        k[len('decode_head.'):]: v
        for k, v in src.state_dict().items() if k.startswith('decode_head.')
    }
    with pytest.raises(ValueError, match='CSFHead: the checkpoint was '
                       f'trained with conv gain {theirs} '):
        dst.decode_head.load_state_dict(head_sd)


def test_checkpoint_of_same_gain_loads(tmp_path):
    src = build_gain_segmentor(TINY_TABLE, 100.0)
    path = _save(src, tmp_path / 'ckpt.pth')
    dst = MODELS.build(gain_cfg(TINY_TABLE, 100.0)).eval()
    load_checkpoint(dst, path, map_location='cpu', strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(src(x, mode='tensor'), dst(x, mode='tensor'))


def _groups(model, optim_cfg):
    wrapper = build_optim_wrapper(model, copy.deepcopy(optim_cfg))
    names = {id(p): n for n, p in model.named_parameters()}
    return [(sorted(names[id(p)] for p in g['params']), g['weight_decay'])
            for g in wrapper.optimizer.param_groups]


@pytest.mark.parametrize('optim_cfg', [
    dict(
        type='DynamicWeightDecayOptimWrapper',
        constructor='DynamicWeightDecayOptimWrapperConstructor',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99),
                       weight_decay=5e-3),
        dynamic_decay=3.0,
        metric='gap',
        include_head=False),
    dict(type='OptimWrapper',
         optimizer=dict(type='Adam', lr=1e-7, weight_decay=5e-3)),
])
def test_optimizer_groups_unchanged_by_the_gain(optim_cfg):
    torch.manual_seed(0)
    plain = MODELS.build(gain_cfg(TINY_TABLE, None))
    torch.manual_seed(0)
    scaled = MODELS.build(gain_cfg(TINY_TABLE, 100.0))
    groups = _groups(scaled, optim_cfg)
    assert groups == _groups(plain, optim_cfg)
    # every conv weight is decayed with the standard 5e-3
    decayed = {n for names, wd in groups if wd == 5e-3 for n in names}
    for name, _ in scaled_convs(scaled):
        assert f'{name}.weight' in decayed
