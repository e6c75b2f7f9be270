"""Bad files through the real data path (SODDataset + a training pipeline):
every case either loads correctly (converted) or raises an error that names
the file. The catalogue is docs/robustness.md."""
import os

import cv2
import numpy as np
import pytest

from csnet_mmseg.datasets import make_synthetic_sod
from mmseg.registry import DATASETS

PIPELINE = [
    dict(type='LoadSODImage'),
    dict(type='LoadSODAnnotations'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='PackSegInputs'),
]


def _data(tmp_path, n=3):
    root = tmp_path / 'data'
    make_synthetic_sod(
        str(root), num_train=n, num_val=0, size=(32, 40), size_jitter=0)
    return root, root / 'train' / 'images', root / 'train' / 'GT'


def _dataset(root, pipeline=PIPELINE, **kwargs):
    return DATASETS.build(
        dict(
            type='SODDataset',
            data_root=str(root),
            data_prefix=dict(
                img_path='train/images', seg_map_path='train/GT'),
            pipeline=pipeline,
            **kwargs))


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


# ----------------------------------------------------------- stop the run
@pytest.mark.parametrize(
    'damage',
    [
        lambda p: _truncate(p, 0.5),  # truncated JPEG (copy cut short)
        lambda p: _truncate(p, 0.02),  # only the header left
        lambda p: p.write_bytes(b''),  # empty file
        lambda p: p.write_bytes(b'<html>not found</html>'),  # not an image
    ],
    ids=['truncated', 'header-only', 'empty', 'not-an-image'])
def test_unreadable_image_names_the_file(tmp_path, damage):
    root, images, _ = _data(tmp_path)
    bad = images / '0001.jpg'
    damage(bad)
    ds = _dataset(root)
    assert ds[0]['inputs'].shape[-2:] == (32, 32)  # the others load
    with pytest.raises(OSError, match=r"Cannot read the image '.*0001\.jpg'"):
        ds[1]


def test_image_deleted_after_listing(tmp_path):
    root, images, _ = _data(tmp_path)
    ds = _dataset(root)
    os.remove(images / '0002.jpg')
    with pytest.raises(FileNotFoundError, match=r"'.*0002\.jpg' does not "):
        ds[2]


def test_unreadable_mask_names_the_file(tmp_path):
    root, _, masks = _data(tmp_path)
    _truncate(masks / '0000.png', 0.5)
    with pytest.raises(OSError, match=r"SOD mask '.*0000\.png'"):
        _dataset(root)[0]


def test_mask_size_differs_names_both(tmp_path):
    root, _, masks = _data(tmp_path)
    cv2.imwrite(str(masks / '0001.png'), np.zeros((20, 30), np.uint8))
    with pytest.raises(
            ValueError,
            match=r"mask '.*0001\.png' is 30x20 \(WxH\) but its image "
            r"'.*0001\.jpg' is 40x32"):
        _dataset(root)[1]


def test_mask_missing_stops_at_start(tmp_path):
    root, _, masks = _data(tmp_path)
    os.remove(masks / '0002.png')
    with pytest.raises(
            FileNotFoundError,
            match=r"(?s)1 of 3 image\(s\).*image '.*0002\.jpg' -> no mask "
            r"among '.*0002\.jpg'"):
        _dataset(root)


@pytest.mark.parametrize('folder', ['images', 'GT'])
def test_empty_data_folder(tmp_path, folder):
    root, images, masks = _data(tmp_path)
    target = images if folder == 'images' else masks
    for f in target.iterdir():
        f.unlink()
    kind = 'image' if folder == 'images' else 'mask'
    with pytest.raises(
            FileNotFoundError,
            match=rf"the {kind} folder '.*train/{folder}' is empty"):
        _dataset(root)


def test_missing_data_folder(tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match=r"image folder '.*nowhere/train/images' does not exist"):
        _dataset(tmp_path / 'nowhere')


# --------------------------------------------------- accepted, converted
def _pixel_image(tmp_path, name, array):
    """A one-sample set whose image is ``array`` (with a matching mask)."""
    root = tmp_path / 'one'
    (root / 'train' / 'images').mkdir(parents=True)
    (root / 'train' / 'GT').mkdir(parents=True)
    assert cv2.imwrite(str(root / 'train' / 'images' / name), array)
    mask = np.zeros(array.shape[:2], np.uint8)
    mask[:, array.shape[1] // 2:] = 255
    cv2.imwrite(str(root / 'train' / 'GT' / 'a.png'), mask)
    return root


@pytest.mark.parametrize(
    'name, array, expected_bgr',
    [
        ('a.jpg', np.full((16, 24), 90, np.uint8), (90, 90, 90)),  # grey
        ('a.png', np.full((16, 24), 90, np.uint8), (90, 90, 90)),
        # BGRA: alpha dropped, the stored colour kept (not composited)
        ('a.png', np.dstack([np.full((16, 24), v, np.uint8)
                             for v in (10, 20, 30, 0)]), (10, 20, 30)),
        # 16 bit: scaled to 8 bit (v >> 8)
        ('a.png', np.full((16, 24), 40000, np.uint16), (156, 156, 156)),
        ('a.png', np.dstack([np.full((16, 24), v, np.uint16)
                             for v in (512, 25600, 65535)]), (2, 100, 255)),
    ],
    ids=['grey-jpeg', 'grey-png', 'rgba', 'grey16', 'bgr16'])
def test_image_formats_are_converted(tmp_path, name, array, expected_bgr):
    root = _pixel_image(tmp_path, name, array)
    ds = _dataset(root, pipeline=PIPELINE[:2])
    out = ds[0]
    img = out['img']
    assert img.dtype == np.uint8 and img.shape == (16, 24, 3)
    tol = 2 if name.endswith('.jpg') else 0
    assert np.abs(img.astype(int) - expected_bgr).max() <= tol
    assert out['gt_seg_map'][:, :12].max() == 0
    assert out['gt_seg_map'][:, 12:].min() == 1


@pytest.mark.parametrize(
    'mask',
    [
        np.full((16, 24), 255, np.uint8),
        np.full((16, 24, 3), 255, np.uint8),  # RGB
        np.dstack([np.full((16, 24, 3), 255, np.uint8),
                   np.full((16, 24), 255, np.uint8)]),  # RGBA, opaque
        np.full((16, 24), 65535, np.uint16),  # 16 bit
    ],
    ids=['grey', 'rgb', 'rgba', '16bit'])
def test_mask_formats_are_converted(tmp_path, mask):
    root = _pixel_image(tmp_path, 'a.jpg', np.zeros((16, 24, 3), np.uint8))
    m = mask.copy()
    m[:, :12] = 0
    cv2.imwrite(str(root / 'train' / 'GT' / 'a.png'), m)
    gt = _dataset(root, pipeline=PIPELINE[:2])[0]['gt_seg_map']
    assert gt.dtype == np.uint8 and gt.shape == (16, 24)
    assert gt[:, :12].max() == 0 and gt[:, 12:].min() == 1
