"""The deploy form of a gain-100 CSNet folds the conv gain into its
weights: it equals the training form and the deploy form of the gain-1
twin; its ONNX export (dynamic and fixed size) equals the training form."""
import pytest
import torch
from conftest import training_form

from mmseg.registry import MODELS

from csnet_mmseg.deploy import convert_to_deploy
from csnet_mmseg.deploy.fused_goct_conv import FusedGOctConv
from csnet_mmseg.models.layers import GOctConv
from csnet_mmseg.testing import SMALL_TABLE, TINY_TABLE
from gain_helpers import build_gain_segmentor, gain_cfg, gain_one_state_dict


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(2, 3, 75, 61, generator=g),
        torch.randn(1, 3, 50, 66, generator=g),
    ]


@pytest.mark.parametrize('table,seed', [(TINY_TABLE, 1), (SMALL_TABLE, 2)])
def test_deploy_form_folds_the_gain(table, seed):
    seg = build_gain_segmentor(table, 100.0, seed=seed)
    twin = MODELS.build(gain_cfg(table, None)).eval()
    twin.load_state_dict(gain_one_state_dict(seg), strict=True)
    model, twin_model = convert_to_deploy(seg), convert_to_deploy(twin)
    for x in _inputs(seed):
        with torch.no_grad():
            out = model(x)
            ref = training_form(seg, x)
            assert (out - ref).abs().max() <= 1e-4
            assert (out - twin_model(x)).abs().max() <= 1e-5
            # without the gain the stored weights give another function
            assert (ref - training_form(
                _without_gain(seg, table), x)).abs().max() > 1e-2


def _without_gain(seg, table):
    plain = MODELS.build(gain_cfg(table, None)).eval()
    plain.load_state_dict(
        {k: v
         for k, v in seg.state_dict().items() if 'conv_gain' not in k})
    return plain


@pytest.mark.parametrize('kwargs', [
    dict(in_channels=[5, 3], out_channels=[5, 3], kernel_size=3,
         depthwise=True),
    dict(in_channels=[0, 6], out_channels=[4, 0], kernel_size=3, stride=2),
    dict(in_channels=[6], out_channels=[4], kernel_size=1),
])
def test_fused_goct_conv_of_a_scaled_layer(kwargs):
    torch.manual_seed(0)
    goct = GOctConv(
        conv_cfg=dict(type='ScaledConv2d', gain=100.0), **kwargs).eval()
    assert goct.gain == 100.0
    with torch.no_grad():
        goct.weight.div_(100.0)
        for norm in goct.norm_act.norms:
            if isinstance(norm, torch.nn.BatchNorm2d):
                norm.running_mean.uniform_(-0.5, 0.5)
                norm.running_var.uniform_(0.5, 2.0)
    fused = FusedGOctConv(goct).eval()
    g = torch.Generator().manual_seed(1)
    xs = [
        None if c == 0 else torch.randn(2, c, 20 // 2**i, 24 // 2**i,
                                        generator=g)
        for i, c in enumerate(goct.in_channels)
    ]
    with torch.no_grad():
        ref = goct(xs, (20, 24))
        out = fused(xs, (20, 24))
    for r, o in zip(ref, out):
        assert (r is None) == (o is None)
        if r is not None:
            assert (r - o).abs().max() <= 1e-5 * max(1.0, r.abs().max())


@pytest.mark.parametrize('dynamic_size', [True, False])
def test_onnx_export_of_gain_100(tmp_path, dynamic_size):
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    from csnet_mmseg.deploy.onnx_export import (compare_with_onnxruntime,
                                                export_onnx, ort_session)
    seg = build_gain_segmentor(TINY_TABLE, 100.0, seed=3)
    model = convert_to_deploy(seg)
    out = str(tmp_path / 'gain100.onnx')
    export_onnx(model, out, shape=(64, 64), dynamic_size=dynamic_size)
    xs = _inputs(4) if dynamic_size else [
        torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    ]
    sess = ort_session(out, threads=1)
    diff, _ = compare_with_onnxruntime(model, out, xs, sess)
    assert diff <= 1e-4
    # and against the training form
    import numpy as np
    for x in xs:
        got = sess.run(None, {'input': x.numpy()})[0]
        ref = training_form(seg, x).numpy()
        assert np.abs(got - ref).max() <= 1e-4
