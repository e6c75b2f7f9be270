import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS

from csnet_mmseg.datasets.transforms import (LoadSODAnnotations, LoadSODImage,
                                             mask_to_grey8, read_sod_mask)

H, W = 8, 13


def _ramp():
    """(H, W) uint8 covering 0..255, including 127 and 128."""
    vals = np.linspace(0, 255, H * W).round().astype(np.uint8)
    vals[:2] = (127, 128)
    return vals.reshape(H, W)


def _load(path, ori_shape=(H, W)):
    results = dict(seg_map_path=str(path), img_path='img.jpg',
                   ori_shape=ori_shape, seg_fields=[])
    return TRANSFORMS.build(dict(type='LoadSODAnnotations'))(results)


def test_binary_0_255(tmp_path):
    grey = np.zeros((H, W), np.uint8)
    grey[2:6, 3:9] = 255
    path = str(tmp_path / 'm.png')
    cv2.imwrite(path, grey)
    out = _load(path)
    assert out['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(out['gt_seg_map'], grey // 255)
    assert out['seg_fields'] == ['gt_seg_map']


def test_soft_mask_threshold_127(tmp_path):
    grey = _ramp()
    path = str(tmp_path / 'soft.png')
    cv2.imwrite(path, grey)
    label = _load(path)['gt_seg_map']
    np.testing.assert_array_equal(label, (grey > 127).astype(np.uint8))
    assert label.flat[0] == 0 and label.flat[1] == 1  # 127 -> 0, 128 -> 1
    assert set(np.unique(label)) == {0, 1}


def test_thirteen_levels(tmp_path):
    levels = np.round(np.arange(13) * 255 / 12).astype(np.uint8)
    grey = np.resize(levels, (H, W)).astype(np.uint8)
    path = str(tmp_path / 'pascal.png')
    cv2.imwrite(path, grey)
    label = _load(path)['gt_seg_map']
    np.testing.assert_array_equal(label, (grey > 127).astype(np.uint8))
    # level 6 of 12 (= 128, half the annotators) is foreground
    assert levels[6] == 128


def test_rgb_rgba_16bit(tmp_path):
    grey = _ramp()
    expected = (grey > 127).astype(np.uint8)
    # RGB with equal channels
    cv2.imwrite(str(tmp_path / 'rgb.png'), np.stack([grey] * 3, -1))
    np.testing.assert_array_equal(_load(tmp_path / 'rgb.png')['gt_seg_map'],
                                  expected)
    # coloured mask (red object): luma
    bgr = np.zeros((H, W, 3), np.uint8)
    bgr[..., 2] = np.where(grey > 127, 255, 0)
    cv2.imwrite(str(tmp_path / 'red.png'), bgr)
    red = read_sod_mask(str(tmp_path / 'red.png'))
    np.testing.assert_array_equal(red, np.where(grey > 127, 76, 0))
    # RGBA, opaque
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    cv2.imwrite(str(tmp_path / 'rgba.png'), rgba)
    np.testing.assert_array_equal(_load(tmp_path / 'rgba.png')['gt_seg_map'],
                                  expected)
    # RGBA, mask in the alpha channel (white colour)
    rgba = np.dstack([np.full_like(grey, 255)] * 3 + [grey])
    cv2.imwrite(str(tmp_path / 'alpha.png'), rgba)
    np.testing.assert_array_equal(read_sod_mask(str(tmp_path / 'alpha.png')),
                                  grey)
    # 16 bit: scaled to 8 bit first
    g16 = (grey.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / 'g16.png'), g16)
    assert cv2.imread(str(tmp_path / 'g16.png'),
                      cv2.IMREAD_UNCHANGED).dtype == np.uint16
    np.testing.assert_array_equal(read_sod_mask(str(tmp_path / 'g16.png')),
                                  grey)
    np.testing.assert_array_equal(_load(tmp_path / 'g16.png')['gt_seg_map'],
                                  expected)
    # 16 bit RGB
    cv2.imwrite(str(tmp_path / 'rgb16.png'), np.stack([g16] * 3, -1))
    np.testing.assert_array_equal(
        _load(tmp_path / 'rgb16.png')['gt_seg_map'], expected)


def test_mask_to_grey8_errors():
    with pytest.raises(TypeError, match='x.tif'):
        mask_to_grey8(np.zeros((2, 2), np.float32), 'x.tif')
    with pytest.raises(ValueError, match='shape'):
        mask_to_grey8(np.zeros((2, 2, 5), np.uint8), 'x.png')
    # grey + alpha, composed over black
    ga = np.dstack([np.array([[200, 100]], np.uint8),
                    np.array([[255, 128]], np.uint8)])
    np.testing.assert_array_equal(mask_to_grey8(ga), [[200, 50]])


def test_size_mismatch_names_both_files(tmp_path):
    path = str(tmp_path / 'm.png')
    cv2.imwrite(path, np.zeros((H, W), np.uint8))
    with pytest.raises(ValueError) as e:
        _load(path, ori_shape=(H + 1, W))
    assert path in str(e.value) and 'img.jpg' in str(e.value)


def test_unreadable_mask(tmp_path):
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not an image at all')
    with pytest.raises(OSError, match='bad.png'):
        _load(bad)
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(OSError, match='empty.png'):
        _load(empty)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        _load(tmp_path / 'missing.png')
    with pytest.raises(KeyError, match='seg_map_path'):
        LoadSODAnnotations()(dict(img_path='x.jpg'))


def test_load_sod_image(tmp_path):
    loader = TRANSFORMS.build(dict(type='LoadSODImage'))
    grey = _ramp()
    cv2.imwrite(str(tmp_path / 'g.png'), grey)
    out = loader(dict(img_path=str(tmp_path / 'g.png')))
    assert out['img'].shape == (H, W, 3) and out['img'].dtype == np.uint8
    assert out['ori_shape'] == (H, W)
    cv2.imwrite(str(tmp_path / 'g16.png'), grey.astype(np.uint16) * 257)
    out = loader(dict(img_path=str(tmp_path / 'g16.png')))
    assert out['img'].dtype == np.uint8
    np.testing.assert_array_equal(out['img'][..., 0], grey)
    rgba = np.dstack([grey] * 3 + [np.full_like(grey, 9)])
    cv2.imwrite(str(tmp_path / 'rgba.png'), rgba)
    assert loader(dict(img_path=str(tmp_path / 'rgba.png')))['img'].shape \
        == (H, W, 3)
    (tmp_path / 'corrupt.jpg').write_bytes(b'\xff\xd8garbage')
    with pytest.raises(OSError, match='corrupt.jpg'):
        loader(dict(img_path=str(tmp_path / 'corrupt.jpg')))
    (tmp_path / 'empty.jpg').write_bytes(b'')
    with pytest.raises(OSError, match='empty.jpg'):
        loader(dict(img_path=str(tmp_path / 'empty.jpg')))
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        loader(dict(img_path=osp.join(str(tmp_path), 'nope.jpg')))
    assert isinstance(loader, LoadSODImage)
