"""Fixtures of the deploy tests: small random CSNet segmentors (with 0-channel
scales and random BN statistics) and the released x1 model (../shared)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

from csnet_mmseg.apis import segmentor_logits
from mmseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# a small layer table with absent (0-channel) scales in the backbone and the
# head, a 3-scale block, and 0-channel dilation branches
TINY_TABLE = dict(
    backbone=dict(
        stem_channels=[4, 3],
        stage_channels=[
            [[4, 3], [0, 5]],
            [[6, 4], [5, 0], [8]],
            [[6, 6], [10]],
            [[5, 7], [3, 4, 2], [12]],
        ]),
    decode_head=dict(
        in_channels=[8, 10, 12],
        fuse_channels=[4, 0, 6],
        dilation_channels=[[1, 0, 2, 1, 0], [0, 0, 0, 0, 0], [2, 1, 0, 0, 1]],
        channels=6))


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random conv weights, BN statistics/affine and PReLU slopes (some
    negative), so that folding errors cannot hide behind identity BNs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 4:
                p.copy_(
                    torch.randn(p.shape, generator=g) * (2.0 /
                                                         (p[0].numel()))**0.5)
            elif 'conv_seg.bias' in name:
                p.copy_(torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) * 2 + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.5)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) - 0.3)
    return model.eval()


def build_segmentor(table=None, seed: int = 0) -> nn.Module:
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', '_base_', 'models', 'csnet.py'))
    if table is not None:
        cfg.model.backbone.update(table['backbone'])
        cfg.model.decode_head.update(table['decode_head'])
    torch.manual_seed(seed)
    return randomise(MODELS.build(cfg.model), seed)


@pytest.fixture
def tiny_segmentor():
    return build_segmentor(TINY_TABLE)


@pytest.fixture
def released_x1(official_dir):
    from mmengine.config import Config

    from csnet_mmseg.converters import (convert_official_state_dict,
                                        load_official_checkpoint,
                                        load_official_table)
    table = load_official_table(osp.join(official_dir, 'csnet-L-x1.bin'))
    sd = convert_official_state_dict(
        load_official_checkpoint(osp.join(official_dir, 'csnet-L-x1.pth.tar')),
        table)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'csnet_l_x1.py'))
    model = MODELS.build(cfg.model)
    model.load_state_dict(sd, strict=True)
    return model.eval()


def training_form(segmentor, x):
    """The segmentor's eval logits at the input size (what inference
    gives before the sigmoid)."""
    with torch.no_grad():
        return segmentor_logits(segmentor, x)


def load_tool(relpath: str):
    """Import a script under tools/ as a module (to call its ``main``)."""
    import importlib.util
    path = osp.join(ROOT, relpath)
    name = 'tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tiny_files(tmp_path_factory):
    """A config + checkpoint of a tiny random CSNet and a folder of three
    small images of different sizes."""
    import cv2
    import numpy as np
    root = tmp_path_factory.mktemp('tiny')
    cfg = root / 'tiny_csnet.py'
    base = osp.join(ROOT, 'configs', '_base_', 'models', 'csnet.py')
    bb, head = TINY_TABLE['backbone'], TINY_TABLE['decode_head']
    cfg.write_text(f'_base_ = [{base!r}]\n'
                   f'model = dict(backbone=dict(stem_channels='
                   f"{bb['stem_channels']}, stage_channels="
                   f"{bb['stage_channels']}), decode_head=dict(" +
                   ', '.join(f'{k}={v!r}' for k, v in head.items()) + '))\n')
    seg = build_segmentor(TINY_TABLE, seed=5)
    ckpt = root / 'tiny.pth'
    torch.save(dict(state_dict=seg.state_dict(), meta=dict()), str(ckpt))
    images = root / 'images'
    images.mkdir()
    rng = np.random.RandomState(0)
    sizes = {'a.jpg': (70, 90), 'b.png': (64, 48), 'c.jpg': (37, 101)}
    for name, (h, w) in sizes.items():
        img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
        img[h // 4:h // 2, w // 4:w // 2] = 255  # something salient
        cv2.imwrite(str(images / name), img)
    (images / 'notes.txt').write_text('not an image')
    return dict(
        config=str(cfg),
        checkpoint=str(ckpt),
        images=str(images),
        sizes=sizes,
        segmentor=seg)
