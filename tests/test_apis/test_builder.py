"""csnet_mmseg.apis.build_segmentor: config + checkpoint or random weights."""
import pytest
import torch
from mmengine.config import Config

from csnet_mmseg.apis import build_segmentor
from csnet_mmseg.testing import (SMALL_TABLE, write_tiny_checkpoint,
                                 write_tiny_config)


@pytest.fixture
def files(tmp_path):
    cfg = write_tiny_config(str(tmp_path / 'small.py'), SMALL_TABLE)
    ckpt = str(tmp_path / 'small.pth')
    seg = write_tiny_checkpoint(ckpt, SMALL_TABLE, seed=4)
    return cfg, ckpt, seg


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(
        torch.equal(sa[k], sb[k]) for k in sa)


def test_checkpoint_weights(files):
    cfg, ckpt, seg = files
    model = build_segmentor(cfg, ckpt)
    assert not model.training and _same(model, seg)
    # a loaded Config (e.g. with --cfg-options merged) works the same
    again, loaded = build_segmentor(
        Config.fromfile(cfg), ckpt, strict=True, return_checkpoint=True)
    assert _same(again, seg) and 'state_dict' in loaded


def test_random_weights_are_seeded(files):
    cfg, _, seg = files
    a = build_segmentor(cfg, random_weights=True)
    b = build_segmentor(cfg, random_weights=True)
    assert _same(a, b) and not _same(a, seg)
    bn = next(m for m in a.modules()
              if isinstance(m, torch.nn.BatchNorm2d))
    assert not torch.equal(bn.running_var, torch.ones_like(bn.running_var))
    plain = build_segmentor(cfg)  # the layers' own initialisation
    assert not _same(plain, a)


def test_bad_arguments(files, tmp_path):
    cfg, ckpt, _ = files
    with pytest.raises(ValueError, match='not both'):
        build_segmentor(cfg, ckpt, random_weights=True)
    with pytest.raises(FileNotFoundError, match='nope.py'):
        build_segmentor(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        build_segmentor(cfg, str(tmp_path / 'nope.pth'))
    with pytest.raises(TypeError, match='Config'):
        build_segmentor(3)
