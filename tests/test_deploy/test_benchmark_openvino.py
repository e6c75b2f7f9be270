"""csnet_mmseg.benchmark with OpenVINO: the deploy form exported through
ONNX, compiled for one shape and profiled per node; the benchmark's
OpenVINO form equals the training form (kept under tests/test_deploy: every
test that loads OpenVINO runs in its own pytest process)."""
import numpy as np
import pytest
import torch
from conftest import build_segmentor, training_form

from csnet_mmseg.benchmark import (SegmentorForms, compile_for_shape,
                                   export_openvino, node_precision_table,
                                   node_type_times, profile_nodes)
from csnet_mmseg.deploy import convert_to_deploy
from csnet_mmseg.deploy.openvino_backend import openvino_available
from csnet_mmseg.testing import SMALL_TABLE, TINY_TABLE

if not openvino_available():
    pytest.skip('openvino is not importable', allow_module_level=True)
pytest.importorskip('onnx')


@pytest.mark.parametrize('fixed', [False, True])
def test_export_compile_equals_training_form(fixed, tmp_path):
    seg = build_segmentor(SMALL_TABLE, seed=11)
    ov_model = export_openvino(
        convert_to_deploy(seg), 64, fixed=fixed,
        onnx_file=str(tmp_path / 'keep.onnx'))
    assert (tmp_path / 'keep.onnx').is_file()
    types = {op.get_type_name() for op in ov_model.get_ops()}
    # the fixed-size graph upsamples by transposed convolutions
    assert ('Interpolate' in types) != fixed
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    req = compile_for_shape(ov_model, (2, 3, 64, 64),
                            threads=1).create_infer_request()
    req.infer({0: x.numpy()})
    got = req.get_output_tensor(0).data
    ref = training_form(seg, x).numpy()
    assert np.abs(got - ref).max() <= 1e-4
    # the model itself is left as it was (a copy was reshaped)
    assert ov_model.input(0).get_partial_shape().is_dynamic


def test_profile_nodes_tables():
    seg = build_segmentor(TINY_TABLE, seed=12)
    ov_model = export_openvino(convert_to_deploy(seg), 48, fixed=True)
    compiled = compile_for_shape(
        ov_model, (1, 3, 48, 48), threads=1, profile=True)
    x = np.random.RandomState(0).randn(1, 3, 48, 48).astype(np.float32)
    nodes = profile_nodes(compiled.create_infer_request(), x, runs=3,
                          warmup=1)
    executed = [n for n in nodes if n.executed]
    assert executed and all(n.ms >= 0 and n.count >= 1 for n in nodes)
    assert len({n.name for n in nodes}) == len(nodes)
    per_type = node_type_times(nodes)
    assert 'Convolution' in per_type and 'GroupConvolution' in per_type
    assert sum(per_type.values()) == pytest.approx(sum(n.ms for n in nodes))
    table = node_precision_table(nodes)
    assert table['Convolution']['f32'][0] == sum(
        n.count for n in executed if n.node_type == 'Convolution')
    # without PERF_COUNT there is nothing to read
    plain = compile_for_shape(ov_model, (1, 3, 48, 48), threads=1)
    with pytest.raises(RuntimeError, match='profile=True'):
        profile_nodes(plain.create_infer_request(), x, runs=1)


def test_openvino_form_equals_training_form(tmp_path):
    seg = build_segmentor(TINY_TABLE, seed=13)
    forms = SegmentorForms(seg, str(tmp_path), deployable=True, name='t')
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    ov = forms.callable('openvino', 64, 1, batch=2)
    assert forms.openvino((2, 3, 64, 64), 1) is ov  # built once
    assert np.abs(ov(x) - training_form(seg, x).numpy()).max() <= 1e-4
    diffs = forms.max_diffs(64, ['openvino'])
    assert set(diffs) == {'deploy', 'openvino'}
    assert max(diffs.values()) <= 1e-4
    # a peer is converted from its PyTorch module at each input shape
    peer = SegmentorForms(seg, str(tmp_path), deployable=False)
    out = peer.callable('openvino', 32, 1)(x[:1, :, :32, :32])
    ref = training_form(seg, x[:1, :, :32, :32]).numpy()
    assert np.abs(out - ref).max() <= 1e-4
