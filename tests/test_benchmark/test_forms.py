"""csnet_mmseg.benchmark.forms: every form of a tiny random CSNet equals its
training form (the tolerance of the deploy tests, 1e-4)."""
import numpy as np
import pytest
import torch

from csnet_mmseg.apis import segmentor_logits
from csnet_mmseg.benchmark import ALL_FORMS, SegmentorForms
from csnet_mmseg.testing import SMALL_TABLE, TINY_TABLE, build_random_segmentor


@pytest.mark.parametrize('table,seed', [(TINY_TABLE, 1), (SMALL_TABLE, 2)])
def test_pytorch_and_ort_forms_equal_training_form(table, seed, tmp_path):
    pytest.importorskip('onnxruntime')
    seg = build_random_segmentor(table, seed=seed)
    forms = SegmentorForms(seg, str(tmp_path), deployable=True, name='tiny')
    assert forms.available() == ALL_FORMS
    assert forms.available(['ort', 'deploy']) == ['ort', 'deploy']
    x = torch.randn(2, 3, 48, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = segmentor_logits(seg, x)
        for form in ('train', 'train-ftz', 'deploy', 'ort'):
            out = forms.callable(form, 48, 1)(x)
            out = torch.as_tensor(np.asarray(out))
            assert out.shape == ref.shape
            assert (out - ref).abs().max().item() <= 1e-4, form
    # the ONNX file (dynamic shapes) is exported once, its session kept
    assert forms.onnx_file(48) is forms.onnx_file(64)
    assert forms.session(48, 1) is forms.session(64, 1)
    diffs = forms.max_diffs(32, ['train', 'deploy', 'ort'])
    assert set(diffs) == {'deploy', 'ort'}
    assert all(v <= 1e-4 for v in diffs.values())


def test_peer_forms_and_errors(tmp_path):
    pytest.importorskip('onnxruntime')
    torch.manual_seed(0)
    seg = build_random_segmentor(TINY_TABLE, seed=3)
    peer = SegmentorForms(seg, str(tmp_path), deployable=False)
    assert peer.deploy is None
    assert peer.available() == ['train', 'ort', 'openvino']
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = peer.train(x).numpy()
        got = peer.callable('ort', 32, 1)(x)  # exported at this size
    assert np.abs(got - ref).max() <= 1e-4
    with pytest.raises(RuntimeError, match='batch 1 only'):
        peer.callable('ort', 32, 1, batch=2)
    with pytest.raises(ValueError, match='no deploy form'):
        peer.callable('deploy', 32, 1)
    with pytest.raises(ValueError, match='form must be one of'):
        peer.callable('tensorrt', 32, 1)
