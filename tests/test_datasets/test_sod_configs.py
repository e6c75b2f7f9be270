import os
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from csnet_mmseg.datasets import make_synthetic_sod

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', '_base_', 'datasets')
BENCHMARKS = {
    'ECSSD': ('images', 'GT'),
    'PASCAL-S': ('images', 'GT'),
    'DUT-OMRON': ('images', 'GT'),
    'HKU-IS': ('images', 'GT'),
    'SOD': ('images', 'GT'),
    'DUTS-TE': ('DUTS-TE-Image', 'DUTS-TE-Mask'),
}

init_default_scope('mmseg')


def _tiny_set(root, img_dir='images', ann_dir='GT', n=2):
    os.makedirs(osp.join(root, img_dir), exist_ok=True)
    os.makedirs(osp.join(root, ann_dir), exist_ok=True)
    for i in range(n):
        img = np.full((10 + i, 14, 3), 40 * i, np.uint8)
        gt = np.zeros((10 + i, 14), np.uint8)
        gt[3:7, 4:9] = 255
        cv2.imwrite(osp.join(root, img_dir, f'{i}.jpg'), img)
        cv2.imwrite(osp.join(root, ann_dir, f'{i}.png'), gt)


def test_sod_benchmarks_from_env(tmp_path, monkeypatch):
    for name, (img_dir, ann_dir) in BENCHMARKS.items():
        _tiny_set(str(tmp_path / name), img_dir, ann_dir)
    monkeypatch.setenv('SOD_DATA_ROOT', str(tmp_path))
    cfg = Config.fromfile(osp.join(CFG_DIR, 'sod_benchmarks.py'))
    assert cfg.test_evaluator.type == 'SODMetric'
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 12
    names = [dataset[i]['data_samples'].dataset_name for i in range(12)]
    assert names == [n for n in BENCHMARKS for _ in range(2)]
    sample = dataset[11]
    assert tuple(sample['inputs'].shape) == (3, 224, 224)
    assert tuple(sample['data_samples'].gt_sem_seg.data.shape) == (1, 11, 14)
    assert sample['data_samples'].seg_map_path.endswith('DUTS-TE-Mask/1.png')


def test_duts_combines_with_benchmarks(tmp_path, monkeypatch):
    monkeypatch.setenv('SOD_DATA_ROOT', str(tmp_path))
    cfg_file = tmp_path / 'combined.py'
    cfg_file.write_text(
        f"_base_ = [{osp.join(CFG_DIR, 'duts.py')!r}, "
        f"{osp.join(CFG_DIR, 'sod_benchmarks.py')!r}]\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.train_dataloader.batch_size == 24
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert cfg.train_dataloader.dataset.data_root == \
        str(tmp_path) + '/DUTS-TR'
    assert cfg.val_dataloader.dataset.dataset_name == 'ECSSD'
    assert len(cfg.test_dataloader.dataset.datasets) == 6
    types = [t['type'] for t in cfg.train_pipeline]
    assert types == ['LoadSODImage', 'LoadSODAnnotations', 'SODRandomCrop',
                     'RandomFlipLRUD', 'Resize', 'PackSegInputs']
    _tiny_set(str(tmp_path / 'DUTS-TR'), 'DUTS-TR-Image', 'DUTS-TR-Mask')
    train = DATASETS.build(cfg.train_dataloader.dataset)
    out = train[0]
    assert tuple(out['inputs'].shape) == (3, 224, 224)
    assert set(out['data_samples'].gt_sem_seg.data.unique().tolist()) <= {0, 1}


def test_synthetic_config(tmp_path):
    make_synthetic_sod(str(tmp_path / 'syn'), num_train=3, num_val=2,
                       size=(48, 48))
    cfg = Config.fromfile(osp.join(CFG_DIR, 'synthetic_sod.py'))
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.data_root == 'data/synthetic_sod'
    for loader, n in (('train_dataloader', 3), ('val_dataloader', 2)):
        ds_cfg = cfg[loader].dataset
        ds_cfg.data_root = str(tmp_path / 'syn')
        ds = DATASETS.build(ds_cfg)
        assert len(ds) == n
        assert tuple(ds[0]['inputs'].shape) == (3, 224, 224)
    assert ds[0]['data_samples'].dataset_name == 'synthetic_sod_val'


def test_pascal_s_dev_config(pascal_s_dev):
    cfg = Config.fromfile(osp.join(CFG_DIR, 'pascal_s_dev.py'))
    ds_cfg = cfg.val_dataloader.dataset
    assert osp.normpath(osp.join(ROOT, ds_cfg.data_root)) == \
        osp.normpath(pascal_s_dev)
    ds_cfg.data_root = pascal_s_dev
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 107
    gt = ds[0]['data_samples'].gt_sem_seg.data
    assert set(gt.unique().tolist()) <= {0, 1} and gt.sum() > 0
    assert ds[0]['data_samples'].dataset_name == 'pascal-s-dev'
