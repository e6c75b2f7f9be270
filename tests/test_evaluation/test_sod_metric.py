import os
import os.path as osp

import cv2
import numpy as np
import py_sod_metrics as psm
import pytest
import torch
from mmengine.dataset import ConcatDataset
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from csnet_mmseg.evaluation import SODMetric
from csnet_mmseg.evaluation.metrics.sod_metric import saliency_from_logits

init_default_scope('mmseg')

KEYS = ['MAE', 'maxF', 'meanF', 'adpF', 'Sm', 'maxE', 'meanE', 'adpE', 'wFm']


def _blob_gt(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
    r = rng.uniform(0.2, 0.3) * min(h, w)
    return np.where((yy - cy)**2 + (xx - cx)**2 < r * r, 255,
                    0).astype(np.uint8)


def _sample(pred_u8, gt_path, img_path, name=None, channels=1):
    """A model output whose saliency map is exactly ``pred_u8``."""
    p = torch.from_numpy(pred_u8.astype(np.float32) / 255.0)[None]
    meta = dict(img_path=img_path, seg_map_path=gt_path,
                ori_shape=pred_u8.shape)
    if name is not None:
        meta['dataset_name'] = name
    ds = SegDataSample(metainfo=meta)
    if channels == 2:
        logit = torch.logit(p.clamp(1e-6, 1 - 1e-6), eps=None)
        p = torch.cat([torch.zeros_like(logit), logit])
    ds.seg_logits = PixelData(data=p)
    ds.pred_sem_seg = PixelData(data=(p[-1:] > 0.5).long())
    return ds


def _write_set(root, gts):
    os.makedirs(osp.join(root, 'GT'), exist_ok=True)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    paths = []
    for i, gt in enumerate(gts):
        gt_path = osp.join(root, 'GT', f'{i:03d}.png')
        img_path = osp.join(root, 'images', f'{i:03d}.jpg')
        cv2.imwrite(gt_path, gt)
        cv2.imwrite(img_path, np.dstack([gt] * 3))
        paths.append((img_path, gt_path))
    return paths


def _run(metric, samples):
    metric.process({}, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_registry_and_options():
    metric = METRICS.build(dict(type='SODMetric'))
    assert isinstance(metric, SODMetric) and metric.prefix == ''
    # as the runner builds it from a config (a `metrics` key would make
    # mmengine read the dict as an Evaluator config)
    evaluator = Evaluator(dict(type='SODMetric', sod_metrics=['MAE']))
    assert evaluator.metrics[0].sod_metrics == ['MAE']
    with pytest.raises(KeyError, match='IoU'):
        SODMetric(sod_metrics=['IoU'])
    with pytest.raises(ValueError, match='output_dir'):
        SODMetric(format_only=True)
    with pytest.raises(ValueError):
        SODMetric(activation='relu')


def test_perfect_inverted_constant(tmp_path):
    gts = [_blob_gt(30, 40, 0), _blob_gt(36, 28, 1)]
    paths = _write_set(str(tmp_path / 'S'), gts)

    perfect = _run(SODMetric(), [
        _sample(gt, g, i, 'S') for gt, (i, g) in zip(gts, paths)
    ])
    assert perfect['S/MAE'] == 0
    assert perfect['S/Sm'] == pytest.approx(1.0)
    assert perfect['S/maxF'] == pytest.approx(1.0)
    # pysodmetrics divides by (numel - 1): slightly above 1 on small maps
    assert perfect['S/maxE'] == pytest.approx(1.0, abs=2e-3)
    assert perfect['S/wFm'] == pytest.approx(1.0)
    # a single data set: plain keys too
    assert perfect['MAE'] == perfect['S/MAE']
    assert set(perfect) == set(KEYS) | {f'S/{k}' for k in KEYS}

    inverted = _run(SODMetric(), [
        _sample(255 - gt, g, i, 'S') for gt, (i, g) in zip(gts, paths)
    ])
    assert inverted['S/MAE'] == pytest.approx(1.0)
    assert inverted['S/wFm'] == pytest.approx(0.0, abs=1e-6)
    assert inverted['S/Sm'] < 0.1
    assert inverted['S/adpF'] == pytest.approx(0.0, abs=1e-6)

    constant = _run(SODMetric(sod_metrics=['MAE', 'Smeasure']), [
        _sample(np.zeros_like(gt), g, i, 'S')
        for gt, (i, g) in zip(gts, paths)
    ])
    fg = np.mean([(gt > 128).mean() for gt in gts])
    assert constant['S/MAE'] == pytest.approx(fg)
    assert set(constant) == {'S/MAE', 'S/Sm', 'MAE', 'Sm'}


@pytest.mark.filterwarnings("ignore:This class will be removed")
def test_agrees_with_pysodmetrics(tmp_path):
    rng = np.random.default_rng(0)
    sizes = [(40, 56), (57, 33), (32, 32)]
    gts, preds = [], []
    for k, (h, w) in enumerate(sizes):
        gt = _blob_gt(h, w, k)
        if k == 1:  # PASCAL-S style: 13 grey levels
            gt = (np.round(rng.integers(0, 13, (h, w)) * 255 / 12) *
                  (gt > 0)).astype(np.uint8)
        soft = cv2.GaussianBlur(gt.astype(np.float32), (9, 9), 3)
        pred = np.clip(soft * 0.8 + rng.normal(0, 25, (h, w)) + 20, 0, 255)
        gts.append(gt)
        preds.append(pred.round().astype(np.uint8))
    paths = _write_set(str(tmp_path / 'D'), gts)
    pred_dir = tmp_path / 'pred'
    pred_dir.mkdir()
    for k, pred in enumerate(preds):
        cv2.imwrite(str(pred_dir / f'{k:03d}.png'), pred)

    ours = _run(SODMetric(), [
        _sample(p, g, i, 'D') for p, (i, g) in zip(preds, paths)
    ])
    # pysodmetrics on the files, as the SOD evaluation code does
    mae, fm, sm = psm.MAE(), psm.Fmeasure(beta=0.3), psm.Smeasure()
    em, wfm = psm.Emeasure(), psm.WeightedFmeasure()
    for k in range(len(sizes)):
        pred = cv2.imread(str(pred_dir / f'{k:03d}.png'), cv2.IMREAD_GRAYSCALE)
        gt = cv2.imread(paths[k][1], cv2.IMREAD_GRAYSCALE)
        for m in (mae, fm, sm, em, wfm):
            m.step(pred, gt)
    f, e = fm.get_results()['fm'], em.get_results()['em']
    ref = dict(
        MAE=mae.get_results()['mae'],
        maxF=f['curve'].max(),
        meanF=f['curve'].mean(),
        adpF=f['adp'],
        Sm=sm.get_results()['sm'],
        maxE=e['curve'].max(),
        meanE=e['curve'].mean(),
        adpE=e['adp'],
        wFm=wfm.get_results()['wfm'])
    for key in KEYS:
        assert ours[f'D/{key}'] == pytest.approx(
            float(ref[key]), abs=1e-12), key
    assert 0.05 < ref['MAE'] < 0.5  # a non-trivial case


def test_concat_per_dataset_keys_and_maps(tmp_path):
    a = _write_set(str(tmp_path / 'A'), [_blob_gt(20, 30, 0)] * 2)
    b = _write_set(str(tmp_path / 'B'), [_blob_gt(25, 21, 1)] * 3)
    meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'dataset_name')
    pipeline = [
        dict(type='LoadSODImage'),
        dict(type='Resize', scale=(16, 16), keep_ratio=False),
        dict(type='LoadSODAnnotations'),
        dict(type='PackSegInputs', meta_keys=meta_keys)
    ]
    concat = ConcatDataset([
        dict(type='SODDataset', data_root=str(tmp_path / n),
             pipeline=pipeline, test_mode=True) for n in ('A', 'B')
    ])
    assert len(concat) == len(a) + len(b)
    out_dir = tmp_path / 'maps'
    metric = SODMetric(
        sod_metrics=['MAE', 'Fmeasure'], output_dir=str(out_dir))
    metric.dataset_meta = concat.metainfo
    samples = []
    for i in range(len(concat)):
        ds = concat[i]['data_samples']
        gt = cv2.imread(ds.seg_map_path, cv2.IMREAD_GRAYSCALE)
        pred = gt if ds.dataset_name == 'A' else np.zeros_like(gt)
        out = _sample(pred, ds.seg_map_path, ds.img_path)
        out.set_metainfo(ds.metainfo)
        samples.append(out)
    res = _run(metric, samples)
    assert set(res) == {f'{n}/{k}' for n in 'AB'
                        for k in ('MAE', 'maxF', 'meanF', 'adpF')}
    assert res['A/MAE'] == 0 and res['B/MAE'] > 0
    assert sorted(os.listdir(out_dir)) == ['A', 'B']
    assert sorted(os.listdir(out_dir / 'B')) == ['000.png', '001.png',
                                                 '002.png']
    saved = cv2.imread(str(out_dir / 'A' / '001.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(saved, _blob_gt(20, 30, 0))
    # the folder is not empty any more: a new metric refuses it
    with pytest.raises(FileExistsError, match='overwrite'):
        SODMetric(output_dir=str(out_dir))
    SODMetric(output_dir=str(out_dir), overwrite=True)


def test_prefix_fallback_name_format_only(tmp_path):
    gt = _blob_gt(20, 24)
    ((img, g), ) = _write_set(str(tmp_path / 'HKU-IS'), [gt])
    res = _run(
        SODMetric(sod_metrics='MAE', prefix='val'), [_sample(gt, g, img)])
    assert res == {'val/HKU-IS/MAE': 0.0, 'val/MAE': 0.0}
    out = tmp_path / 'only_maps'
    metric = SODMetric(format_only=True, output_dir=str(out))
    sample = _sample(gt, None, img, 'X')
    assert _run(metric, [sample]) == {}
    assert osp.isfile(out / 'X' / '000.png')


def test_errors(tmp_path):
    gt = _blob_gt(20, 24)
    ((img, g), ) = _write_set(str(tmp_path / 'S'), [gt])
    with pytest.raises(ValueError) as e:
        _run(SODMetric(), [_sample(gt[:-1], g, img, 'S')])
    assert g in str(e.value) and img in str(e.value)
    with pytest.raises(KeyError, match='seg_map_path'):
        _run(SODMetric(), [_sample(gt, None, img, 'S')])
    os.remove(g)
    with pytest.raises(FileNotFoundError, match='000.png'):
        _run(SODMetric(), [_sample(gt, g, img, 'S')])


def test_saliency_from_logits():
    probs = torch.tensor([[[0.0, 0.5, 1.0, 0.2]]])
    np.testing.assert_array_equal(saliency_from_logits(probs), [[0, 128, 255,
                                                                 51]])
    logits = torch.tensor([[[-20.0, 0.0, 20.0]]])
    np.testing.assert_array_equal(saliency_from_logits(logits), [[0, 128,
                                                                  255]])
    np.testing.assert_array_equal(
        saliency_from_logits(torch.tensor([[[0.0, 1.0]]]), 'sigmoid'),
        [[128, 186]])
    two = torch.stack([torch.zeros(1, 2), torch.tensor([[-20.0, 20.0]])])
    np.testing.assert_array_equal(saliency_from_logits(two), [[0, 255]])
    with pytest.raises(ValueError):
        saliency_from_logits(torch.zeros(3, 2, 2))
    with pytest.raises(ValueError):
        saliency_from_logits(two, 'sigmoid')


def test_two_channel_output(tmp_path):
    gt = _blob_gt(20, 24)
    ((img, g), ) = _write_set(str(tmp_path / 'S'), [gt])
    res = _run(SODMetric(sod_metrics=['MAE']),
               [_sample(gt, g, img, 'S', channels=2)])
    assert res['S/MAE'] == pytest.approx(0.0, abs=1e-6)
