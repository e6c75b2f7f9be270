"""ONNX export of the deploy form and ONNX Runtime parity."""
import pytest
import torch
from conftest import run_tool_main, training_form

from csnet_mmseg.deploy import convert_to_deploy
from csnet_mmseg.deploy.onnx_export import (compare_with_onnxruntime,
                                            export_onnx, ort_session)

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def export(argv):
    return run_tool_main('tools/deployment/pytorch2onnx.py', argv)


def test_export_dynamic_shapes(tiny_segmentor, tmp_path):
    model = convert_to_deploy(tiny_segmentor, with_sigmoid=True)
    out = str(tmp_path / 'tiny.onnx')
    meta = export_onnx(model, out, shape=(64, 64), opset=13)
    proto = onnx.load(out)
    assert proto.opset_import[0].version == 13
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ['batch', '', 'height', 'width']
    assert {p.key for p in proto.metadata_props} >= {'input', 'output'}
    assert 'saliency' in meta['output']
    g = torch.Generator().manual_seed(0)
    # sizes and a batch different from the export's
    xs = [
        torch.randn(2, 3, 75, 61, generator=g),
        torch.randn(1, 3, 50, 66, generator=g)
    ]
    sess = ort_session(out, threads=1)
    diff, n = compare_with_onnxruntime(model, out, xs, sess)
    assert n == 2 and diff <= 1e-4

    def train(x):
        return training_form(tiny_segmentor, x).sigmoid()

    diff, _ = compare_with_onnxruntime(train, out, xs, sess)
    assert diff <= 1e-4


def test_export_with_preprocess_uint8(tiny_segmentor, tmp_path):
    model = convert_to_deploy(
        tiny_segmentor, with_sigmoid=False, with_preprocess=True)
    out = str(tmp_path / 'pre.onnx')
    export_onnx(model, out, shape=(48, 48), input_dtype=torch.uint8)
    sess = ort_session(out, threads=1)
    assert sess.get_inputs()[0].type == 'tensor(uint8)'
    assert sess.get_outputs()[0].name == 'logits'
    img = torch.randint(
        0,
        256, (1, 3, 57, 43),
        dtype=torch.uint8,
        generator=torch.Generator().manual_seed(2))
    got = torch.from_numpy(sess.run(None, {'input': img.numpy()})[0])
    ref = training_form(tiny_segmentor, (img.float() - MEAN) / STD)
    assert (got - ref).abs().max().item() <= 1e-4


def test_export_refuses(tiny_segmentor, tmp_path):
    model = convert_to_deploy(tiny_segmentor)
    out = tmp_path / 'exists.onnx'
    out.write_text('mine')
    with pytest.raises(FileExistsError, match='overwrite'):
        export_onnx(model, str(out))
    assert out.read_text() == 'mine'
    with pytest.raises(ValueError, match='opset'):
        export_onnx(model, str(tmp_path / 'a.onnx'), opset=11)
    with pytest.raises(ValueError, match='with_preprocess'):
        export_onnx(model, str(tmp_path / 'b.onnx'), input_dtype=torch.uint8)
    with pytest.raises(TypeError, match='DeployCSNet'):
        export_onnx(tiny_segmentor, str(tmp_path / 'c.onnx'))


def test_pytorch2onnx_tool(tiny_files, tmp_path, capsys):
    out = str(tmp_path / 'm.onnx')
    args = [
        tiny_files['config'], tiny_files['checkpoint'], out, '--shape', '64',
        '64', '--verify', tiny_files['images']
    ]
    assert export(args) == 0
    text = capsys.readouterr().out
    assert 'OK' in text and '3 image(s)' in text
    sess = ort_session(out)
    assert sess.get_outputs()[0].name == 'saliency'
    # an existing output is refused
    with pytest.raises(SystemExit, match='--overwrite'):
        export(args)
    assert export(args + ['--overwrite', '--with-preprocess']) == 0
    assert ort_session(out).get_inputs()[0].type == 'tensor(uint8)'


def test_pytorch2onnx_fixed_size(tiny_files, tmp_path, capsys):
    out = str(tmp_path / 'fixed.onnx')
    assert export([
        tiny_files['config'], tiny_files['checkpoint'], out, '--shape', '64',
        '96', '--fixed-size', '--verify', tiny_files['images']
    ]) == 0
    text = capsys.readouterr().out
    assert 'dynamic batch, fixed 64x96' in text
    assert 'OK' in text and '(64x96, batch 2)' in text
    proto = onnx.load(out)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == 'batch'
    assert [d.dim_value for d in dims[1:]] == [3, 64, 96]
    ops = {n.op_type for n in proto.graph.node}
    assert 'ConvTranspose' in ops and 'Resize' not in ops
