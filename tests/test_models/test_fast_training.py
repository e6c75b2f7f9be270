"""The faster training path: FastPReLU and the channels-last backbone."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from torch import nn

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from csnet_mmseg.models.layers import FastPReLU, GOctConv

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'configs')


def _grads(module, x, grad_out):
    x = x.detach().clone().requires_grad_(True)
    module.zero_grad(set_to_none=True)
    y = module(x)
    y.backward(grad_out)
    return y.detach(), x.grad, module.weight.grad


@pytest.mark.parametrize('shape', [(2, 5, 9, 7), (3, 4, 6), (4, 6)])
@pytest.mark.parametrize('channels_last', [False, True])
def test_fast_prelu_matches_prelu(shape, channels_last):
    if channels_last and len(shape) != 4:
        pytest.skip('channels-last needs 4-D tensors')
    torch.manual_seed(0)
    c = shape[1]
    ref = nn.PReLU(c)
    ref.weight.data.uniform_(-0.5, 0.5)  # negative slopes too
    fast = FastPReLU(c)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(shape)
    x.view(-1)[::5] = 0  # the kink: PReLU's gradient uses the slope at 0
    g = torch.randn(shape)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        g = g.contiguous(memory_format=torch.channels_last)
    y0, gx0, gw0 = _grads(ref, x, g)
    y1, gx1, gw1 = _grads(fast, x, g)
    assert torch.equal(y0, y1)
    assert torch.equal(gx0, gx1)
    torch.testing.assert_close(gw1, gw0, rtol=1e-5, atol=1e-6)


def test_fast_prelu_grad_of_channels_last_input_with_plain_grad():
    """The gradient arriving in another layout than the input still lands
    on the right channels."""
    torch.manual_seed(1)
    ref, fast = nn.PReLU(3), FastPReLU(3)
    ref.weight.data = torch.tensor([0.1, -0.2, 0.3])
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 5, 4).contiguous(memory_format=torch.channels_last)
    g = torch.randn(2, 3, 5, 4)  # plain contiguous
    _, gx0, gw0 = _grads(ref, x, g)
    _, gx1, gw1 = _grads(fast, x, g)
    assert torch.equal(gx0, gx1)
    torch.testing.assert_close(gw1, gw0, rtol=1e-5, atol=1e-6)


def test_fast_prelu_is_a_prelu_built_from_config():
    conv = GOctConv([3, 2], [4, 0, 5], act_cfg=dict(type='FastPReLU'))
    acts = conv.norm_act.acts
    assert isinstance(acts[0], FastPReLU) and isinstance(acts[0], nn.PReLU)
    assert acts[0].num_parameters == 4 and acts[2].num_parameters == 5
    assert isinstance(acts[1], nn.Identity)  # absent scale
    # the same state dict as with PReLU
    plain = GOctConv([3, 2], [4, 0, 5], act_cfg=dict(type='PReLU'))
    assert conv.state_dict().keys() == plain.state_dict().keys()
    assert MODELS.get('FastPReLU') is FastPReLU


def _samples(n, size):
    samples = []
    g = torch.Generator().manual_seed(0)
    for _ in range(n):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(
            data=(torch.rand(1, *size, generator=g) > 0.5).long())
        s.set_metainfo(dict(img_shape=size, ori_shape=size, pad_shape=size))
        samples.append(s)
    return samples


def _loss_and_grads(model, x, samples):
    model.zero_grad(set_to_none=True)
    losses = model(x, samples, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    return loss.detach(), {
        n: p.grad.detach().clone()
        for n, p in model.named_parameters()
    }


def _model(**backbone):
    cfg = Config.fromfile(osp.join(CONFIGS, '_base_/models/csnet.py')).model
    cfg.backbone.update(backbone)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_fast_prelu_model_trains_like_prelu():
    """Swapping the activation type changes no loss and (to float rounding)
    no gradient of a whole CSNet."""
    model = _model().train()
    cfg = Config.fromfile(osp.join(CONFIGS, '_base_/models/csnet.py')).model
    cfg.backbone.act_cfg = dict(type='FastPReLU')
    cfg.decode_head.act_cfg = dict(type='FastPReLU')
    fast = MODELS.build(cfg).train()
    fast.load_state_dict(model.state_dict())
    n_fast = sum(isinstance(m, FastPReLU) for m in fast.modules())
    assert n_fast > 100
    x = torch.randn(2, 3, 33, 41)
    samples = _samples(2, (33, 41))
    loss0, g0 = _loss_and_grads(model, x, samples)
    loss1, g1 = _loss_and_grads(fast, x, samples)
    assert torch.equal(loss0, loss1)
    scale = max(g.abs().max() for g in g0.values())
    for name, g in g0.items():
        assert (g1[name] - g).abs().max() <= 1e-6 * scale, name


def test_channels_last_backbone_same_outputs_and_layout():
    model = _model().eval()
    cl = _model(channels_last=True).eval()
    cl.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 45, 38)
    with torch.no_grad():
        feats = model.backbone(x)
        feats_cl = cl.backbone(x)
        out, out_cl = model(x, mode='tensor'), cl(x, mode='tensor')
    for f, f_cl in zip(feats, feats_cl):
        assert f_cl.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(f_cl, f, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out_cl, out, rtol=1e-4, atol=1e-4)


def test_channels_last_training_gradients_close():
    """Training mode: the loss agrees to float rounding; gradients agree
    to within the error both float32 forms have against float64."""
    model = _model().train()
    cl = _model(channels_last=True).train()
    cl.load_state_dict(model.state_dict())
    ref = copy.deepcopy(model).double()
    x = torch.randn(2, 3, 40, 48)
    samples = _samples(2, (40, 48))
    loss0, g0 = _loss_and_grads(model, x, samples)
    loss1, g1 = _loss_and_grads(cl, x, samples)
    loss_ref, g_ref = _loss_and_grads(ref, x.double(), samples)
    assert abs(loss1 - loss0) < 1e-5
    assert abs(loss1.double() - loss_ref) < 1e-5

    def rel_l2(a, b):
        num = sum(((a[n].double() - b[n].double())**2).sum() for n in b)
        den = sum((b[n].double()**2).sum() for n in b)
        return float((num / den).sqrt())

    # measured: 0.0023 for both float32 forms against float64
    assert rel_l2(g1, g_ref) < 0.02
    assert rel_l2(g1, g0) < 0.02


def test_channels_last_in_state_dict_free_config():
    """channels_last is a build option, not a weight: checkpoints load
    either way."""
    a = _model(channels_last=True)
    b = _model()
    b.load_state_dict(a.state_dict())
    assert a.backbone.channels_last and not b.backbone.channels_last
