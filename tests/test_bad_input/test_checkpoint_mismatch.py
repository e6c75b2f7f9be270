"""A checkpoint whose layer table differs from the config's must not load
silently: MMEngine's ``load_checkpoint`` (``strict=False``, used by
``load_from``, tools/test.py and ``mmseg.apis.init_model``) only warns about
a size mismatch and keeps the random initial weights of those layers. The
CSNet backbone and the CSF head compare the checkpoint's tensors under their
prefix with their own (shapes, and keys: a scale with 0 channels has no
norm) and raise a ValueError naming the layer."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint, save_checkpoint

from mmseg.apis import init_model
from mmseg.registry import MODELS

X1, X2 = 'configs/csnet_l_x1.py', 'configs/csnet_l_x2.py'


def _checkpoint(tmp_path, cfg, name):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = str(tmp_path / name)
    save_checkpoint(dict(meta=dict(), state_dict=model.state_dict()), path)
    return model, path


def test_x2_checkpoint_into_x1_config(tmp_path):
    _, ckpt = _checkpoint(tmp_path, Config.fromfile(X2), 'x2.pth')
    with pytest.raises(
            ValueError,
            match=r'(?s)layer table.*backbone\.stem\.conv_mix\.weight'):
        init_model(X1, ckpt, device='cpu')
    model = MODELS.build(Config.fromfile(X1).model)
    with pytest.raises(ValueError, match='layer table'):
        load_checkpoint(model, ckpt, map_location='cpu')


def test_same_widths_other_split(tmp_path):
    """Moving channels between the scales of one layer keeps the conv
    weight's shape; the per-scale norms differ and are caught."""
    cfg = Config.fromfile(X1)
    other = copy.deepcopy(cfg)
    other.model.backbone.stage_channels[2][1] = [60, 20]  # was [40, 40]
    _, ckpt = _checkpoint(tmp_path, other, 'split.pth')
    model = MODELS.build(cfg.model)
    with pytest.raises(
            ValueError,
            match=r'(?s)backbone\.stages\.2\.1\.conv_mix\.norm_act\.'
            r'norms\.0\.weight'):
        load_checkpoint(model, ckpt, map_location='cpu')


def test_head_mismatch(tmp_path):
    cfg = Config.fromfile(X1)
    other = copy.deepcopy(cfg)
    other.model.decode_head.channels = 64
    _, ckpt = _checkpoint(tmp_path, other, 'head.pth')
    model = MODELS.build(cfg.model)
    with pytest.raises(ValueError,
                       match=r'(?s)layer table.*decode_head\.merge'):
        load_checkpoint(model, ckpt, map_location='cpu')


def test_matching_checkpoint_loads(tmp_path):
    src, ckpt = _checkpoint(tmp_path, Config.fromfile(X1), 'x1.pth')
    model = init_model(X1, ckpt, device='cpu')
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
