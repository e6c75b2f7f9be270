"""Fixtures of the deploy tests: small random CSNet segmentors (with 0-channel
scales and random BN statistics) and the released x1 model (../shared)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from csnet_mmseg.apis import segmentor_logits
from csnet_mmseg.testing import (TINY_TABLE, build_random_segmentor,
                                 write_tiny_checkpoint, write_tiny_config)
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


def run_tool_main(relpath: str, argv):
    """Run a tool's ``main(argv)`` in this process, as ``python RELPATH``
    would (``runpy``: the file is executed, not imported as a module)."""
    import runpy
    ns = runpy.run_path(osp.join(ROOT, relpath), run_name='tool')
    return ns['main'](list(map(str, argv)))


@pytest.fixture(scope='module')
def tiny_files(tmp_path_factory):
    """A config + checkpoint of a tiny random CSNet and a folder of three
    small images of different sizes."""
    import cv2
    import numpy as np
    root = tmp_path_factory.mktemp('tiny')
    cfg = write_tiny_config(str(root / 'tiny_csnet.py'), TINY_TABLE)
    ckpt = root / 'tiny.pth'
    seg = write_tiny_checkpoint(str(ckpt), TINY_TABLE, seed=5)
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
        config=cfg,
        checkpoint=str(ckpt),
        images=str(images),
        sizes=sizes,
        segmentor=seg)
