"""FusedGOctConv / FusedILBlock against the training-form layers."""
import pytest
import torch
from torch import nn

from csnet_mmseg.deploy import FusedGOctConv, FusedILBlock, fused_goct_conv
from csnet_mmseg.models.layers import GOctConv, ILBlock, scale_size
from csnet_mmseg.testing import randomise_weights


def _randomise(module, seed=0):
    return randomise_weights(module, seed, convs=False)


def _inputs(channels, base, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        None if c == 0 else torch.randn(
            batch, c, *scale_size(base, k), generator=g)
        for k, c in enumerate(channels)
    ]


def _check(ref_outs, outs):
    assert len(ref_outs) == len(outs)
    for r, o in zip(ref_outs, outs):
        assert (r is None) == (o is None)
        if r is not None:
            assert r.shape == o.shape
            assert (r - o).abs().max().item() <= 1e-5


CASES = [
    # in, out, kernel, stride
    ([5, 4], [3, 6], 1, 1),
    ([5, 4], [3, 6], 3, 1),
    ([5, 4], [3, 6], 3, 2),
    ([3, 4, 2], [2, 5, 3], 3, 1),  # one coarse input feeds two finer outputs
    ([3, 4, 2], [6, 5, 3], 1, 1),  # upsample-first paths (1x1, thin input)
    ([0, 4], [3, 0], 3, 1),  # the only path of output 0 is from scale 1
    ([0, 2], [5], 1, 1),  # ... and is upsampled first
    ([4, 0, 3], [0, 5, 2], 1, 2),
    ([3], [4, 2, 2], 3, 1),  # the stem: max-pooled image paths
]


@pytest.mark.parametrize('cin,cout,k,stride', CASES)
@pytest.mark.parametrize('base', [(32, 32), (29, 23)])
def test_fused_goct_conv_equals_goct_conv(cin, cout, k, stride, base):
    torch.manual_seed(0)
    layer = _randomise(GOctConv(cin, cout, kernel_size=k, stride=stride))
    fused = FusedGOctConv(layer)
    xs = _inputs(cin, base)
    with torch.no_grad():
        ref = layer(xs, base)
        _check(ref, fused(xs, base))
        # channels-last inputs take the oneDNN path
        cl = [
            None if x is None else x.contiguous(
                memory_format=torch.channels_last) for x in xs
        ]
        _check(ref, fused(cl, base))
        # the scale-0 size inferred from the inputs, as GOctConv does
        _check(layer(xs), fused(xs))
    # with autograd enabled the standard ops are used
    _check([None if r is None else r.detach() for r in ref],
           [None if o is None else o.detach() for o in fused(xs, base)])


def test_fused_goct_conv_merges_paths():
    layer = _randomise(GOctConv([5, 4], [3, 6], kernel_size=3))
    fused = FusedGOctConv(layer)
    # out 0: [x0] (1 conv) + conv of x1 upsampled; out 1: [pool(x0), x1]
    assert len(fused.weights) == 3
    layer = _randomise(GOctConv([3, 4, 2], [2, 5, 3], kernel_size=3))
    # 3 same-resolution convs + 2 coarse convs (inputs 1 and 2)
    assert len(FusedGOctConv(layer).weights) == 5


@pytest.mark.parametrize('cin,cout', [([4, 3], [0, 5]), ([3], [4, 3])])
def test_depthwise_and_il_block(cin, cout):
    torch.manual_seed(1)
    dw = _randomise(
        GOctConv([5, 0, 3], [5, 0, 3], kernel_size=3, depthwise=True))
    xs = _inputs([5, 0, 3], (20, 18))
    with torch.no_grad():
        _check(dw(xs), FusedGOctConv(dw)(xs))
    block = _randomise(ILBlock(cin, cout, kernel_size=3, stride=2))
    xs = _inputs(cin, (27, 33))
    with torch.no_grad():
        _check(block(xs, (27, 33)), FusedILBlock(block)(xs, (27, 33)))


def test_wrong_input_types():
    with pytest.raises(TypeError, match='GOctConv'):
        FusedGOctConv(nn.Conv2d(3, 3, 1))
    with pytest.raises(TypeError, match='ILBlock'):
        FusedILBlock(nn.Conv2d(3, 3, 1))


@pytest.mark.parametrize('cin,cout,k,stride', CASES)
def test_export_graph_equals_goct_conv(cin, cout, k, stride, monkeypatch):
    """The export graph (run eagerly, as traced) equals the training form,
    odd sizes and absent scales included."""
    torch.manual_seed(0)
    layer = _randomise(GOctConv(cin, cout, kernel_size=k, stride=stride))
    fused = FusedGOctConv(layer)
    monkeypatch.setattr(fused_goct_conv, 'exporting', lambda: True)
    for base in [(32, 32), (29, 23)]:
        xs = _inputs(cin, base)
        with torch.no_grad():
            _check(layer(xs, base), fused(xs, base))


@pytest.mark.parametrize('factor', [2, 4, 8])
@pytest.mark.parametrize('size', [(7, 7), (5, 9), (1, 3)])
def test_upsample_by_equals_bilinear(factor, size):
    from csnet_mmseg.deploy import upsample_by
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    ref = nn.functional.interpolate(
        x,
        size=(size[0] * factor, size[1] * factor),
        mode='bilinear',
        align_corners=False)
    got = upsample_by(x, factor)
    assert got.shape == ref.shape
    assert (got - ref).abs().max().item() <= 1e-5
