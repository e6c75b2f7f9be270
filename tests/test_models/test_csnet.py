import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from csnet_mmseg.models import LayerTable

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'configs')


def _model_cfg(name):
    return Config.fromfile(osp.join(CONFIGS, name)).model


def _build(name):
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg(name))
    model.init_weights()
    return model


def _num_params(model):
    return sum(p.numel() for p in model.parameters())


def test_registered():
    assert MODELS.get('CSNet') is not None
    assert MODELS.get('CSFHead') is not None
    assert MODELS.get('GOctConv') is not None
    assert MODELS.get('ILBlock') is not None


@pytest.mark.parametrize('name,expected', [('csnet_l_x1.py', 93647),
                                           ('csnet_l_x2.py', 140894)])
def test_released_parameter_counts(name, expected):
    assert _num_params(_build(name)) == expected


def test_initial_layer_table_matches_base_config():
    cfg = _model_cfg('_base_/models/csnet.py')
    table = LayerTable.initial(20).to_dict()
    assert cfg.backbone.stem_channels == table['backbone']['stem_channels']
    assert cfg.backbone.stage_channels == table['backbone']['stage_channels']
    for key, value in table['decode_head'].items():
        assert cfg.decode_head[key] == value
    layers = LayerTable.from_dict(table).released_layers()
    assert len(layers) == 1 + 17 + 3
    # every layer reads what the layer before it wrote (backbone part)
    for prev, cur in zip(layers[:17], layers[1:18]):
        assert cur['in'] == prev['out']


@pytest.mark.parametrize('size', [(64, 64), (48, 80), (61, 37)])
def test_backbone_and_head_shapes(size):
    model = _build('csnet_l_x1.py').eval()
    x = torch.randn(1, 3, *size)
    feats = model.backbone(x)
    h, w = size
    expect = [(h // 2, w // 2), (h // 4, w // 4), (h // 8, w // 8)]
    assert [tuple(f.shape[-2:]) for f in feats] == expect
    assert [f.shape[1] for f in feats] == [34, 38, 50]
    logits = model.decode_head(feats)
    assert logits.shape == (1, 1, h // 2, w // 2)
    out = model(x, mode='tensor')
    assert out.shape == (1, 1, h // 2, w // 2)


def _samples(n, size):
    samples = []
    for _ in range(n):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(
            data=(torch.rand(1, *size) > 0.5).long())
        s.set_metainfo(dict(img_shape=size, ori_shape=size, pad_shape=size))
        samples.append(s)
    return samples


def test_gradients_reach_every_parameter():
    model = _build('_base_/models/csnet.py').train()
    x = torch.randn(2, 3, 40, 56)
    losses = model(x, _samples(2, (40, 56)), mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    missing = [n for n, p in model.named_parameters()
               if p.grad is None or not torch.isfinite(p.grad).all()
               or p.grad.abs().sum() == 0]
    assert missing == []


@pytest.mark.parametrize('name', ['csnet_l_x1.py', 'csnet_l_x2.py',
                                  '_base_/models/csnet.py'])
def test_encoder_decoder_modes(name):
    model = _build(name)
    x = torch.randn(2, 3, 48, 48)
    model.train()
    losses = model(x, _samples(2, (48, 48)), mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    model.eval()
    with torch.no_grad():
        preds = model(x, _samples(2, (48, 48)), mode='predict')
    assert preds[0].seg_logits.data.shape == (1, 48, 48)
    assert set(preds[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}


def test_layer_table_zero_channel_scale_builds():
    cfg = _model_cfg('csnet_l_x1.py')
    cfg.backbone.stage_channels[2][1] = [0, 27]  # scale 0 pruned away
    cfg.decode_head.dilation_channels[0] = [0, 0, 2, 2, 4]
    model = MODELS.build(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 50, 70), mode='tensor')
    assert out.shape == (1, 1, 25, 35)


def test_stage_output_must_be_single_scale():
    cfg = _model_cfg('csnet_l_x1.py')
    cfg.backbone.stage_channels[1][-1] = [20, 14]
    with pytest.raises(ValueError, match=r'stage_channels\[1\]\[-1\]'):
        MODELS.build(cfg)
