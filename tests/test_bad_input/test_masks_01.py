"""8-bit (and 16-bit) masks stored as 0/1 labels: read as 0/255 with a
warning naming the file, the same way in training (LoadSODAnnotations) and
in the metric (SODMetric reads the original masks). Read as grey levels they
would be all background."""
import logging

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.structures import PixelData

from csnet_mmseg.datasets.transforms import loading
from csnet_mmseg.datasets.transforms import LoadSODAnnotations, read_sod_mask
from csnet_mmseg.evaluation import SODMetric
from mmseg.structures import SegDataSample


@pytest.fixture
def mm_log():
    records = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    loading._WARNED_01.clear()
    yield records
    logger.removeHandler(handler)


def _labels(h=40, w=50):
    m = np.zeros((h, w), np.uint8)
    m[10:30, 15:40] = 1
    return m


@pytest.mark.parametrize(
    'stored',
    [lambda m: m, lambda m: m.astype(np.uint16),
     lambda m: np.dstack([m] * 3)],
    ids=['8-bit', '16-bit', 'rgb'])
def test_01_mask_trains_as_foreground(tmp_path, mm_log, stored):
    labels = _labels()
    path = tmp_path / 'm01.png'
    cv2.imwrite(str(path), stored(labels))
    out = LoadSODAnnotations()(dict(seg_map_path=str(path)))
    assert np.array_equal(out['gt_seg_map'], labels)
    assert np.array_equal(read_sod_mask(str(path)), labels * 255)
    assert any("'" + str(path) + "'" in r and '0 and 1' in r
               for r in mm_log), mm_log


def test_warned_once_and_empty_mask_stays_background(tmp_path, mm_log):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f'{i}.png'), _labels())
        read_sod_mask(str(tmp_path / f'{i}.png'))
    assert sum('0 and 1' in r for r in mm_log) == 1
    cv2.imwrite(str(tmp_path / 'empty.png'), np.zeros((8, 8), np.uint8))
    assert read_sod_mask(str(tmp_path / 'empty.png')).max() == 0
    soft = np.full((8, 8), 2, np.uint8)  # max 2: grey levels, not labels
    cv2.imwrite(str(tmp_path / 'soft.png'), soft)
    assert read_sod_mask(str(tmp_path / 'soft.png')).max() == 2


def _metric(pred, gt_path):
    p = torch.from_numpy(pred.astype(np.float32) / 255.0)[None]
    ds = SegDataSample(metainfo=dict(
        img_path='x.jpg', seg_map_path=gt_path, ori_shape=pred.shape,
        dataset_name='set'))
    ds.seg_logits = PixelData(data=p)
    m = SODMetric(sod_metrics=['MAE', 'Fmeasure'])
    m.process({}, [ds.to_dict()])
    return m.compute_metrics(m.results)


def test_metric_scores_01_masks_as_0_255(tmp_path, mm_log):
    labels = _labels()
    cv2.imwrite(str(tmp_path / 'm01.png'), labels)
    cv2.imwrite(str(tmp_path / 'm255.png'), labels * 255)
    pred = labels * 255  # a perfect prediction
    r01 = _metric(pred, str(tmp_path / 'm01.png'))
    r255 = _metric(pred, str(tmp_path / 'm255.png'))
    assert r01['MAE'] == r255['MAE'] == 0
    assert r01['maxF'] == pytest.approx(r255['maxF']) and r01['maxF'] > 0.99
