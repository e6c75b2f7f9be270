import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS

from csnet_mmseg.datasets.transforms import RandomFlipLRUD, SODRandomCrop

init_default_scope('mmseg')


def _coord_sample(h=40, w=50):
    """Image whose pixels encode their position; mask derived from it."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([yy, xx, (yy * 3 + xx) % 256], -1).astype(np.uint8)
    gt = ((yy + 2 * xx) % 3 == 0).astype(np.uint8)
    return dict(img=img, gt_seg_map=gt, seg_fields=['gt_seg_map'],
                img_shape=(h, w), ori_shape=(h, w), img_path='x.jpg')


def _mask_of(img):
    yy, xx = img[..., 0].astype(int), img[..., 1].astype(int)
    return ((yy + 2 * xx) % 3 == 0).astype(np.uint8)


def test_crop_bounds_and_alignment():
    np.random.seed(0)
    crop = TRANSFORMS.build(dict(type='SODRandomCrop'))
    assert isinstance(crop, SODRandomCrop) and crop.max_crop == 14
    h, w = 40, 50
    borders = []
    for _ in range(300):
        out = crop(_coord_sample(h, w))
        img, gt = out['img'], out['gt_seg_map']
        nh, nw = img.shape[:2]
        top, left = int(img[0, 0, 0]), int(img[0, 0, 1])
        bottom, right = h - top - nh, w - left - nw
        borders.append((top, bottom, left, right))
        assert gt.shape == (nh, nw) and out['img_shape'] == (nh, nw)
        np.testing.assert_array_equal(gt, _mask_of(img))
        # contiguous crop
        np.testing.assert_array_equal(img[:, 0, 0], np.arange(top, top + nh))
    borders = np.array(borders)
    assert borders.min() == 0 and borders.max() == 14
    for k in range(4):  # each border takes (almost) every value 0..14
        assert len(np.unique(borders[:, k])) >= 14
    # independent borders: not always equal
    assert (borders[:, 0] != borders[:, 1]).any()


def test_crop_small_image_keeps_pixels():
    np.random.seed(1)
    crop = SODRandomCrop(max_crop=14, min_size=4)
    for _ in range(50):
        out = crop(_coord_sample(10, 6))
        assert out['img'].shape[0] >= 4 and out['img'].shape[1] >= 4
        np.testing.assert_array_equal(out['gt_seg_map'], _mask_of(out['img']))
    with pytest.raises(ValueError):
        SODRandomCrop(max_crop=-1)


def test_crop_checks_sizes():
    sample = _coord_sample()
    sample['gt_seg_map'] = sample['gt_seg_map'][:-1]
    with pytest.raises(ValueError, match='x.jpg'):
        SODRandomCrop()(sample)


def test_flip_lr_ud():
    np.random.seed(0)
    flip = TRANSFORMS.build(dict(type='RandomFlipLRUD'))
    assert isinstance(flip, RandomFlipLRUD)
    counts = dict(horizontal=0, vertical=0, none=0)
    for _ in range(400):
        sample = _coord_sample(6, 9)
        img0 = sample['img'].copy()
        out = flip(sample)
        direction = out['flip_direction']
        if direction == 'horizontal':
            assert out['flip']
            np.testing.assert_array_equal(out['img'], img0[:, ::-1])
        elif direction == 'vertical':
            assert out['flip']
            np.testing.assert_array_equal(out['img'], img0[::-1])
        else:
            assert direction is None and not out['flip']
            np.testing.assert_array_equal(out['img'], img0)
        np.testing.assert_array_equal(out['gt_seg_map'], _mask_of(out['img']))
        counts[direction or 'none'] += 1
    # p(no flip) = 0.5, p(LR) = p(UD) = 0.25
    assert 150 < counts['none'] < 250
    assert 60 < counts['horizontal'] < 140
    assert 60 < counts['vertical'] < 140
    never = RandomFlipLRUD(prob=0.)
    assert not never(_coord_sample())['flip']


def test_train_pipeline_end_to_end():
    np.random.seed(2)
    pipeline = Compose([
        dict(type='SODRandomCrop', max_crop=14),
        dict(type='RandomFlipLRUD', prob=0.5),
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
        dict(type='PackSegInputs', meta_keys=('img_shape', 'flip',
                                              'flip_direction')),
    ])
    out = pipeline(_coord_sample(70, 90))
    assert tuple(out['inputs'].shape) == (3, 224, 224)
    gt = out['data_samples'].gt_sem_seg.data
    assert tuple(gt.shape) == (1, 224, 224)
    assert set(gt.unique().tolist()) <= {0, 1}
