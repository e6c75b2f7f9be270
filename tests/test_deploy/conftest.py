"""Fixtures of the deploy tests: small random CSNet segmentors (with 0-channel
scales and random BN statistics) and the released x1 model (../shared)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from csnet_mmseg.apis import segmentor_logits
from csnet_mmseg.testing import TINY_TABLE, build_random_segmentor
from mmseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# the shared tiny model: absent (0-channel) scales, a 3-scale block and
# 0-channel dilation branches, random weights and BN statistics
build_segmentor = build_random_segmentor


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
    """Import a script under tools/ as a module (to call its ``main``).

    As ``python tools/...`` does, the script's folder is on ``sys.path``
    (for its sibling modules, e.g. ``benchmark_models``)."""
    import importlib.util
    import sys
    path = osp.join(ROOT, relpath)
    folder = osp.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
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
