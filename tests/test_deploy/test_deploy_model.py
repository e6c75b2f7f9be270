"""convert_to_deploy: the fused model equals the segmentor's eval output."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import TINY_TABLE, build_segmentor, training_form

from csnet_mmseg.deploy import DeployCSNet, convert_to_deploy

SIZES = [(64, 64), (75, 61), (50, 66)]


def _max_diff(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize('channels_last', [True, False])
def test_tiny_model_with_absent_scales(tiny_segmentor, channels_last):
    model = convert_to_deploy(tiny_segmentor, channels_last=channels_last)
    assert isinstance(model, DeployCSNet) and not model.training
    g = torch.Generator().manual_seed(0)
    for size in SIZES:
        x = torch.randn(2, 3, *size, generator=g)
        ref = training_form(tiny_segmentor, x)
        with torch.no_grad():
            out = model(x)
        assert out.shape == ref.shape == (2, 1, *size)
        assert out.is_contiguous()
        assert _max_diff(out, ref) <= 1e-4, size


def test_base_model_and_autograd_path():
    seg = build_segmentor(seed=3)  # the unpruned x1 table of the base config
    model = convert_to_deploy(seg)
    x = torch.randn(1, 3, 57, 70)
    ref = training_form(seg, x)
    with torch.no_grad():
        assert _max_diff(model(x), ref) <= 1e-4
    # with autograd on, the plain NCHW ops run: same result
    assert _max_diff(model(x).detach(), ref) <= 1e-4


def test_sigmoid_and_preprocess(tiny_segmentor):
    g = torch.Generator().manual_seed(1)
    img = torch.randint(0, 256, (2, 3, 48, 56), generator=g, dtype=torch.uint8)
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    ref = training_form(tiny_segmentor, (img.float() - mean) / std).sigmoid()
    sal = convert_to_deploy(tiny_segmentor, with_sigmoid=True)
    pre = convert_to_deploy(
        tiny_segmentor, with_sigmoid=True, with_preprocess=True)
    with torch.no_grad():
        out = sal((img.float() - mean) / std)
        assert out.min() >= 0 and out.max() <= 1
        assert _max_diff(out, ref) <= 1e-5
        assert _max_diff(pre(img), ref) <= 1e-5
        assert _max_diff(pre(img.float()), ref) <= 1e-5


def test_conversion_leaves_the_segmentor_alone(tiny_segmentor):
    before = {k: v.clone() for k, v in tiny_segmentor.state_dict().items()}
    model = convert_to_deploy(tiny_segmentor)
    for k, v in tiny_segmentor.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(not p.requires_grad for p in model.parameters())
    with pytest.raises(RuntimeError, match='inference-only'):
        model.train()


def test_rejects_other_models():
    with pytest.raises(TypeError, match='CSNet backbone'):
        convert_to_deploy(torch.nn.Conv2d(3, 3, 1))
    seg = build_segmentor(TINY_TABLE)
    seg.decode_head.out_channels = 2  # e.g. a softmax head
    with pytest.raises(ValueError, match='out_channels=1'):
        convert_to_deploy(seg, with_sigmoid=True)


def test_released_x1(released_x1, official_dir):
    """The converted released csnet-L-x1 (real photos of the parity file)."""
    model = convert_to_deploy(released_x1)
    ref = np.load(osp.join(official_dir, 'parity_csnet-L-x1.npz'))
    for key, logits in (('inputs', 'logits'), ('inputs_nonsquare',
                                               'logits_nonsquare')):
        x = torch.from_numpy(ref[key]).float()
        train = training_form(released_x1, x)
        with torch.no_grad():
            out = model(x)
        assert _max_diff(out, train) <= 1e-4, key
        # and the released code's own outputs
        assert _max_diff(out, torch.from_numpy(ref[logits])) <= 1e-4, key
