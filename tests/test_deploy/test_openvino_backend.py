"""OpenVINO backend: the deploy form run by OpenVINO's CPU runtime equals
the training form (random layer tables with absent scales, odd sizes)."""
import numpy as np
import pytest
import torch
from conftest import build_segmentor, training_form

from csnet_mmseg.deploy import convert_to_deploy
from csnet_mmseg.deploy.openvino_backend import (OpenVINORunner,
                                                 compare_with_openvino,
                                                 compile_openvino,
                                                 convert_to_openvino,
                                                 openvino_available)
from csnet_mmseg.testing import SMALL_TABLE, TINY_TABLE

if not openvino_available():
    pytest.skip(
        'openvino is not importable (pip install openvino==2026.4.1)',
        allow_module_level=True)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    # odd sizes and a batch different from the tracing example
    return [
        torch.randn(2, 3, 75, 61, generator=g),
        torch.randn(1, 3, 50, 66, generator=g),
        torch.randn(1, 3, 33, 97, generator=g),
    ]


@pytest.mark.parametrize('table,seed', [(TINY_TABLE, 1), (SMALL_TABLE, 2),
                                        (TINY_TABLE, 3)])
def test_pytorch_frontend_equals_training_form(table, seed):
    seg = build_segmentor(table, seed=seed)
    model = convert_to_deploy(seg)
    runner = OpenVINORunner(model, threads=1, example_shape=(1, 3, 64, 64))
    assert runner.precision == 'f32'
    diff, n = compare_with_openvino(
        lambda x: training_form(seg, x), runner, _inputs(seed))
    assert n == 3 and diff <= 1e-4, diff


def test_onnx_file_equals_training_form(tmp_path):
    pytest.importorskip('onnx')
    from csnet_mmseg.deploy.onnx_export import export_onnx
    seg = build_segmentor(TINY_TABLE, seed=4)
    model = convert_to_deploy(seg, with_sigmoid=True)
    out = str(tmp_path / 'tiny.onnx')
    export_onnx(model, out, shape=(64, 64))
    runner = OpenVINORunner(out, threads=1)
    assert runner.output_name == 'saliency'
    diff, _ = compare_with_openvino(
        lambda x: training_form(seg, x).sigmoid(), runner, _inputs(4))
    assert diff <= 1e-4, diff
    # a converted model compiles again, and float64-free numpy input works
    ov_model = convert_to_openvino(out)
    again = OpenVINORunner(ov_model, threads=1)
    x = _inputs(5)[1]
    np.testing.assert_allclose(again(x.numpy()), runner(x), atol=1e-6)


def test_peer_module_through_pytorch_frontend():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(), torch.nn.Conv2d(8, 2, 1)).eval()
    runner = OpenVINORunner(net, threads=1, example_shape=(1, 3, 32, 32))
    diff, _ = compare_with_openvino(net, runner, _inputs(6)[:2])
    assert diff <= 1e-4


def test_bad_options():
    seg = build_segmentor(TINY_TABLE, seed=0)
    ov_model = convert_to_openvino(
        convert_to_deploy(seg), example_shape=(1, 3, 32, 32))
    with pytest.raises(ValueError, match='precision'):
        compile_openvino(ov_model, precision='int4')
    with pytest.raises(ValueError, match='threads'):
        compile_openvino(ov_model, threads=0)
    with pytest.raises(FileNotFoundError, match='not found'):
        convert_to_openvino('/nonexistent/model.onnx')
    with pytest.raises(TypeError, match='nn.Module'):
        convert_to_openvino(3)
    with pytest.raises(ValueError, match='example_shape'):
        convert_to_openvino(convert_to_deploy(seg), example_shape=(3, 8, 8))
    with pytest.raises(ValueError, match='dynamic must be'):
        convert_to_openvino(convert_to_deploy(seg), dynamic='size')


def test_profile_counts_layers():
    seg = build_segmentor(TINY_TABLE, seed=0)
    runner = OpenVINORunner(
        convert_to_deploy(seg),
        threads=1,
        example_shape=(1, 3, 32, 32),
        profile=True)
    from csnet_mmseg.benchmark import profile_nodes
    info = profile_nodes(runner, torch.randn(1, 3, 40, 40).numpy(), runs=1)
    assert info and {p.node_type for p in info} & {'Convolution', 'Conv'}


@pytest.mark.parametrize('table,seed', [(TINY_TABLE, 7), (SMALL_TABLE, 8)])
def test_export_graph_equals_training_form(table, seed, tmp_path):
    """The export graph (one convolution per gOctConv path), through ONNX
    (dynamic sizes, odd inputs) and through a fixed-size export whose
    integer-factor upsamplings are transposed convolutions (an even size) or
    resizes (an odd size)."""
    pytest.importorskip('onnx')
    import onnx

    from csnet_mmseg.deploy.onnx_export import export_onnx
    seg = build_segmentor(table, seed=seed)
    model = convert_to_deploy(seg)
    out = str(tmp_path / 'dyn.onnx')
    export_onnx(model, out, shape=(64, 64))
    diff, _ = compare_with_openvino(lambda x: training_form(seg, x),
                                    OpenVINORunner(out, threads=1),
                                    _inputs(seed))
    assert diff <= 1e-4, diff
    g = torch.Generator().manual_seed(seed)
    for h, w in [(64, 96), (75, 61)]:
        fixed = str(tmp_path / f'fixed_{h}x{w}.onnx')
        export_onnx(model, fixed, shape=(h, w), dynamic_size=False)
        ops = {n.op_type for n in onnx.load(fixed).graph.node}
        dims = onnx.load(fixed).graph.input[0].type.tensor_type.shape.dim
        assert dims[0].dim_param == 'batch' and dims[2].dim_value == h
        if h == 64:  # every upsampling is by 2 or 4: no resize left
            assert 'ConvTranspose' in ops and 'Resize' not in ops
        runner = OpenVINORunner(fixed, threads=1)
        x = [torch.randn(n, 3, h, w, generator=g) for n in (1, 2)]
        diff, _ = compare_with_openvino(lambda x: training_form(seg, x),
                                        runner, x)
        assert diff <= 1e-4, (h, w, diff)


def test_fixed_size_pytorch_frontend():
    seg = build_segmentor(TINY_TABLE, seed=9)
    runner = OpenVINORunner(
        convert_to_deploy(seg),
        threads=1,
        example_shape=(1, 3, 64, 64),
        dynamic=False)
    types = {op.get_type_name() for op in runner.ov_model.get_ops()}
    # every upsampling is by 2 or 4 at 64x64 (at 64x48 one goes from 1 to
    # 6 columns and stays a resize)
    assert 'Interpolate' not in types
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    diff, _ = compare_with_openvino(lambda x: training_form(seg, x), runner,
                                    [x])
    assert diff <= 1e-4, diff
    # a dynamic batch at the fixed size
    runner = OpenVINORunner(
        convert_to_deploy(seg),
        threads=1,
        example_shape=(1, 3, 64, 64),
        dynamic='batch')
    assert 'Interpolate' not in {
        op.get_type_name()
        for op in runner.ov_model.get_ops()
    }
    diff, _ = compare_with_openvino(lambda x: training_form(seg, x), runner,
                                    [x, x.expand(3, -1, -1, -1)])
    assert diff <= 1e-4, diff
