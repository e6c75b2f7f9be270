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


def test_duts_tests_on_benchmarks(tmp_path, monkeypatch):
    # duts.py inherits sod_benchmarks.py: DUTS-TR training, ECSSD
    # validation, the six benchmarks as test set.
    monkeypatch.setenv('SOD_DATA_ROOT', str(tmp_path))
    cfg = Config.fromfile(osp.join(CFG_DIR, 'duts.py'))
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


def test_pascal_s_dev_config(pascal_s_dev, monkeypatch):
    monkeypatch.setenv('SOD_DATA_ROOT', osp.dirname(pascal_s_dev))
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


CONFIGS = osp.join(ROOT, 'configs')
DATASET_CONFIGS = ('duts.py', 'duts_tr_224.py', 'pascal_s_dev.py',
                   'sod_benchmarks.py', 'synthetic_sod.py')


def _pipelines(cfg):
    """(loader, dataset name, pipeline) of every data set of a config."""
    out = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader not in cfg:
            continue
        dataset = cfg[loader].dataset
        for ds in dataset.get('datasets', [dataset]):
            out.append((loader, ds.dataset_name, ds.pipeline))
    return out


def test_dataset_configs_take_pipelines_from_one_base(tmp_path, monkeypatch):
    monkeypatch.setenv('SOD_DATA_ROOT', str(tmp_path))
    base = Config.fromfile(osp.join(CFG_DIR, 'sod_pipelines.py'))
    assert [t['type'] for t in base.test_pipeline] == [
        'LoadSODImage', 'Resize', 'LoadSODAnnotations', 'PackSegInputs']
    assert base.test_pipeline[-1].meta_keys[-1] == 'dataset_name'
    expected = dict(train_dataloader=base.train_pipeline,
                    val_dataloader=base.test_pipeline,
                    test_dataloader=base.test_pipeline)
    seen = set()
    paths = [osp.join(CFG_DIR, name) for name in DATASET_CONFIGS] + [
        osp.join(CONFIGS, name) for name in (
            'csnet_duts.py', 'csnet_l_x1.py', 'csnet_l_x2_pascal_s_dev.py')]
    for name in paths:
        cfg = Config.fromfile(name)
        assert cfg.sod_meta_keys == base.sod_meta_keys, name
        found = _pipelines(cfg)
        assert found, name
        for loader, ds_name, pipeline in found:
            assert pipeline == expected[loader], (name, loader, ds_name)
            seen.add(loader)
    assert seen == set(expected)
    # At 112x112 (the CPU demo): the same pipelines, Resize changed only.
    cfg = Config.fromfile(osp.join(CONFIGS, 'csnet_synthetic.py'))
    for loader, ds_name, pipeline in _pipelines(cfg):
        want = [dict(t, scale=(112, 112)) if t['type'] == 'Resize' else t
                for t in expected[loader]]
        assert pipeline == want, (loader, ds_name)


def _config_files():
    """configs/*.py and configs/_base_/**/*.py (not the studies' folders)."""
    files = [osp.join(CONFIGS, f) for f in os.listdir(CONFIGS)
             if f.endswith('.py')]
    for d, _, names in os.walk(osp.join(CONFIGS, '_base_')):
        files += [osp.join(d, f) for f in names if f.endswith('.py')]
    return sorted(files)


def test_pipelines_written_once_and_no_shared_paths():
    files = _config_files()
    assert len(files) > 10
    for path in files:
        with open(path) as f:
            text = f.read()
        assert '../shared' not in text, path
        if osp.basename(path) != 'sod_pipelines.py':
            assert 'LoadSODImage' not in text, path


def test_data_roots_from_env(tmp_path, monkeypatch):
    for env, root in ((None, 'data/sod'), (str(tmp_path), str(tmp_path))):
        if env is None:
            monkeypatch.delenv('SOD_DATA_ROOT', raising=False)
        else:
            monkeypatch.setenv('SOD_DATA_ROOT', env)
        for name, sub in (('duts_tr_224.py', 'duts-tr-224'),
                          ('pascal_s_dev.py', 'pascal-s-dev')):
            cfg = Config.fromfile(osp.join(CFG_DIR, name))
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader'):
                assert cfg[loader].dataset.data_root == f'{root}/{sub}'
        dev = Config.fromfile(osp.join(CFG_DIR, 'pascal_s_dev.py'))
        for x in ('x1', 'x2'):
            cfg = Config.fromfile(
                osp.join(CONFIGS, f'csnet_l_{x}_pascal_s_dev.py'))
            # the released models' subset test set is pascal_s_dev.py's
            assert cfg.test_dataloader == dev.test_dataloader


LAYER_TABLE_KEYS = dict(
    backbone=('stem_channels', 'stage_channels'),
    decode_head=('in_channels', 'fuse_channels', 'dilation_channels',
                 'channels'))


def _without_layer_table(cfg):
    d = cfg.to_dict()
    for part, keys in LAYER_TABLE_KEYS.items():
        for key in keys:
            d['model'][part].pop(key)
    return d


def test_released_models_differ_only_in_layer_table():
    for suffix in ('', '_pascal_s_dev'):
        x1 = Config.fromfile(osp.join(CONFIGS, f'csnet_l_x1{suffix}.py'))
        x2 = Config.fromfile(osp.join(CONFIGS, f'csnet_l_x2{suffix}.py'))
        assert x1.model.backbone.stem_channels == [8, 10]
        assert x2.model.decode_head.channels == 79
        assert x1.model != x2.model
        assert _without_layer_table(x1) == _without_layer_table(x2)
    # plain images for init_model / inference_model
    assert [t['type'] for t in x1.test_pipeline] == [
        'LoadImageFromFile', 'Resize', 'PackSegInputs']
