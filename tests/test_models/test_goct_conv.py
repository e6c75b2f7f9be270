import pytest
import torch
import torch.nn.functional as F

from csnet_mmseg.models import GOctConv, ILBlock


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('size', [(32, 32), (33, 47), (17, 9)])
def test_goct_conv_shapes_any_size(size):
    torch.manual_seed(0)
    conv = GOctConv([4, 6], [5, 3, 2], kernel_size=3)
    h, w = size
    xs = [torch.randn(2, 4, h, w), torch.randn(2, 6, h // 2, w // 2)]
    outs = conv(xs, (h, w))
    assert [o.shape[1] for o in outs] == [5, 3, 2]
    assert outs[0].shape[-2:] == (h, w)
    assert outs[1].shape[-2:] == (h // 2, w // 2)
    assert outs[2].shape[-2:] == (h // 4, w // 4)


def test_goct_conv_stride2_halves_every_scale():
    conv = GOctConv([4, 4], [4, 4], kernel_size=3, stride=2)
    xs = [torch.randn(1, 4, 31, 30), torch.randn(1, 4, 15, 15)]
    outs = conv(xs, (31, 30))
    assert outs[0].shape[-2:] == (15, 15)
    assert outs[1].shape[-2:] == (7, 7)


def test_goct_conv_paths_match_definition():
    """Each path computed by hand: conv, maxpool-then-conv, conv-then-upsample."""
    torch.manual_seed(0)
    conv = GOctConv([3, 2], [4, 5], kernel_size=3, norm_cfg=None, act_cfg=None)
    x0, x1 = torch.randn(1, 3, 12, 10), torch.randn(1, 2, 6, 5)
    out = conv([x0, x1], (12, 10))
    w = conv.weight
    c = lambda x, ww: F.conv2d(x, ww, padding=1)  # noqa: E731
    ref0 = c(x0, w[:4, :3]) + F.interpolate(
        c(x1, w[:4, 3:]), size=(12, 10), mode='bilinear', align_corners=False)
    ref1 = c(F.max_pool2d(x0, 2), w[4:, :3]) + c(x1, w[4:, 3:])
    torch.testing.assert_close(out[0], ref0)
    torch.testing.assert_close(out[1], ref1)


def test_goct_conv_zero_channel_scale_is_absent():
    conv = GOctConv([4, 0], [0, 6], kernel_size=1)
    assert conv.weight.shape == (6, 4, 1, 1)
    # no norm/activation parameters for the absent output scale
    assert _count(conv.norm_act.norms[0]) == 0
    assert _count(conv.norm_act.norms[1]) == 12
    outs = conv([torch.randn(1, 4, 8, 8), None], (8, 8))
    assert outs[0] is None
    assert outs[1].shape == (1, 6, 4, 4)


def test_depthwise_has_channels_times_nine_weights():
    conv = GOctConv([7, 5], [7, 5], kernel_size=3, depthwise=True,
                    norm_cfg=None, act_cfg=None)
    assert conv.weight.numel() == (7 + 5) * 9
    # each scale to itself only
    x0, x1 = torch.randn(1, 7, 8, 8), torch.randn(1, 5, 4, 4)
    out = conv([x0, x1], (8, 8))
    torch.testing.assert_close(
        out[1], F.conv2d(x1, conv.weight[7:], padding=1, groups=5))


def test_no_cross_scale():
    conv = GOctConv([3, 3], [3, 3], cross_scale=False, norm_cfg=None,
                    act_cfg=None)
    assert conv.paths() == [(0, 0), (1, 1)]


def test_bad_channels_raise():
    with pytest.raises(ValueError, match='depthwise'):
        GOctConv([3], [4], depthwise=True)
    with pytest.raises(ValueError, match='at least one output'):
        GOctConv([3], [0])
    conv = GOctConv([3, 2], [2])
    with pytest.raises(ValueError, match='scale 1 should have 2 channels'):
        conv([torch.randn(1, 3, 4, 4), torch.randn(1, 3, 2, 2)])


def test_norm_and_act_from_config():
    conv = GOctConv([3], [4, 4], norm_cfg=dict(type='GN', num_groups=2),
                    act_cfg=dict(type='ReLU'))
    assert isinstance(conv.norm_act.norms[0], torch.nn.GroupNorm)
    assert isinstance(conv.norm_act.acts[1], torch.nn.ReLU)
    conv = GOctConv([3], [4, 6])
    assert conv.norm_act.acts[1].weight.numel() == 6  # PReLU per channel


def test_ilblock():
    block = ILBlock([4, 4], [6, 2], kernel_size=3, stride=2)
    outs = block([torch.randn(2, 4, 20, 20), torch.randn(2, 4, 10, 10)],
                 (20, 20))
    assert outs[0].shape == (2, 6, 10, 10)
    assert outs[1].shape == (2, 2, 5, 5)
    assert block.conv_dw1.weight.numel() == 8 * 9
