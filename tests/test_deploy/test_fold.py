"""Folding BatchNorm into convolutions (subnormal flushing:
tests/test_utils/test_subnormal.py)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from csnet_mmseg.deploy import fold_norm, norm_scale_shift


def _random_bn(c, affine=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(c, eps=1e-3, affine=affine)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g))
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.2)
        if affine:
            bn.weight.copy_(torch.randn(c, generator=g))
            bn.bias.copy_(torch.randn(c, generator=g))
    return bn.eval()


@pytest.mark.parametrize('groups,bias,affine', [(1, False, True),
                                                (1, True, True),
                                                (6, False, True),
                                                (1, False, False)])
def test_fold_norm_equals_conv_then_bn(groups, bias, affine):
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 6, 3, padding=1, groups=groups, bias=bias).eval()
    bn = _random_bn(6, affine)
    x = torch.randn(2, 6, 9, 7)
    w, b = fold_norm(conv.weight, conv.bias, bn)
    with torch.no_grad():
        ref = bn(conv(x))
        got = F.conv2d(x, w, b, 1, 1, 1, groups)
    assert torch.allclose(got, ref, atol=1e-5, rtol=1e-5)
    # the source layers are untouched
    assert conv.weight is not w


def test_scale_shift_formula():
    bn = _random_bn(4)
    scale, shift = norm_scale_shift(bn, 4, bn.weight)
    expect = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    assert torch.allclose(scale, expect)
    assert torch.allclose(shift, bn.bias - bn.running_mean * expect)


def test_identity_norm_and_errors():
    w = torch.randn(3, 2, 1, 1)
    w2, b2 = fold_norm(w, None, nn.Identity())
    assert torch.equal(w2, w) and torch.equal(b2, torch.zeros(3))
    with pytest.raises(TypeError, match='GroupNorm'):
        fold_norm(w, None, nn.GroupNorm(1, 3))
    with pytest.raises(ValueError, match='running statistics'):
        fold_norm(w, None, nn.BatchNorm2d(3, track_running_stats=False))
    with pytest.raises(ValueError, match='channels'):
        fold_norm(w, None, nn.BatchNorm2d(4).eval())
