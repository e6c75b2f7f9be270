"""experiments/dwd: its configs load from their folder and read the data
root from SOD_DATA_ROOT; the tool, run as a CLI, names a missing arm's
config, passes --data-root to the processes it starts and writes the
report from finished stages."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUDY = osp.join(ROOT, 'experiments', 'dwd')
TOOL = osp.join(STUDY, 'dwd_experiment.py')
ARMS = ('none', 'l2', 'dwd', 'dwd_l2', 'dwd_ld30', 'dwd_ld03', 'slim_1e-4',
        'slim_1e-5')


def _config(name, monkeypatch, data_root):
    monkeypatch.setenv('SOD_DATA_ROOT', data_root)
    return Config.fromfile(
        osp.join(STUDY, 'configs', f'csnet_x1_duts224_{name}.py'))


@pytest.mark.parametrize('name', ARMS + ('base', 'finetune'))
def test_configs_load_with_the_data_root(name, monkeypatch, tmp_path):
    cfg = _config(name, monkeypatch, str(tmp_path))
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.data_root == f'{tmp_path}/duts-tr-224'
        assert dataset.dataset_name.startswith('DUTS-TR-224')
    assert cfg.crop_size == (112, 112)
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.model.backbone.type == 'CSNet'
    assert cfg.custom_hooks == [dict(type='FlushDenormalHook')]
    meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                 'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                 'reduce_zero_label', 'dataset_name')
    resize = dict(type='Resize', scale=(112, 112), keep_ratio=False)
    pack = dict(type='PackSegInputs', meta_keys=meta_keys)
    # the paper's augmentation at the study's 112x112
    assert cfg.train_dataloader.dataset.pipeline == [
        dict(type='LoadSODImage'),
        dict(type='LoadSODAnnotations'),
        dict(type='SODRandomCrop', max_crop=14),
        dict(type='RandomFlipLRUD', prob=0.5), resize, pack
    ]
    assert cfg.val_dataloader.dataset.pipeline == [
        dict(type='LoadSODImage'), resize,
        dict(type='LoadSODAnnotations'), pack
    ]


def test_arms_differ_only_in_the_optimizer(monkeypatch, tmp_path):
    base = _config('base', monkeypatch, str(tmp_path)).to_dict()
    expected = {
        'none': dict(dynamic_decay=0.0),
        'dwd': dict(dynamic_decay=3.0),
        'dwd_l2': dict(dynamic_decay=3.0, target_weight_decay=5e-3),
        'dwd_ld30': dict(dynamic_decay=30.0),
        'dwd_ld03': dict(dynamic_decay=0.3),
        'slim_1e-4': dict(dynamic_decay=0.0, l1_decay=1e-4),
        'slim_1e-5': dict(dynamic_decay=0.0, l1_decay=1e-5),
    }
    for name in ARMS:
        cfg = _config(name, monkeypatch, str(tmp_path)).to_dict()
        wrapper = cfg.pop('optim_wrapper')
        assert cfg == {k: v for k, v in base.items() if k != 'optim_wrapper'}
        assert wrapper['optimizer'] == dict(
            type='Adam', lr=5e-3, betas=(0.9, 0.99), weight_decay=5e-3)
        if name == 'l2':
            assert wrapper == base['optim_wrapper']
            continue
        assert wrapper['type'] == 'DynamicWeightDecayOptimWrapper'
        assert wrapper['metric'] == 'gap'
        for key, value in expected[name].items():
            assert wrapper[key] == value, (name, key)


def _run(args, cwd, **env):
    """``python experiments/dwd/dwd_experiment.py ARGS`` in ``cwd``."""
    env = dict(os.environ, PYTHONPATH=ROOT, **env)
    return subprocess.run([sys.executable, TOOL] + args,
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True)


def test_unknown_arm_names_its_config(tmp_path):
    res = _run(['--arms', 'nosuch', '--work-dir',
                str(tmp_path)], str(tmp_path))
    assert res.returncode != 0
    assert ("arm 'nosuch': config 'experiments/dwd/configs/"
            "csnet_x1_duts224_nosuch.py' does not exist") in res.stderr


def test_data_root_reaches_the_training_process(tmp_path):
    """--data-root becomes SOD_DATA_ROOT of tools/train.py: with a missing
    folder the training of the arm fails on that folder's dataset."""
    work = tmp_path / 'work'
    res = _run([
        '--arms', 'l2', '--stages', 'train', '--work-dir',
        str(work), '--data-root',
        str(tmp_path / 'no_data')
    ], ROOT, SOD_DATA_ROOT='/elsewhere')
    assert res.returncode != 0
    assert "training arm 'l2' failed" in res.stderr
    log = (work / 'l2' / 'train.log').read_text()
    assert str(tmp_path / 'no_data' / 'duts-tr-224') in log
    assert '/elsewhere' not in log


def _write_arm(wd, params_after, shares):
    os.makedirs(wd)
    scores = {
        split: dict(MAE=0.2, maxF=0.7, Sm=0.71)
        for split in ('val', 'pascal')
    }
    files = {
        'timing.json': dict(wall_s=600.0, iters=1200, iters_per_s=2.0),
        'eval.json': dict(params=240741, median_gamma=0.05,
                          shares=shares, scores=scores),
        'pruned.json': dict(threshold=1e-3, params=params_after,
                            flops=1e8, scores=scores),
        'finetuned.json': dict(scores=scores),
    }
    for name, data in files.items():
        with open(osp.join(wd, name), 'w') as f:
            json.dump(data, f)
    np.save(osp.join(wd, 'gammas.npy'), np.array([1e-30, 1e-3, 0.5, 1.0]))


def test_report_from_finished_stages(tmp_path):
    work = tmp_path / 'work'
    shares = {'0.01': 0.5, '0.001': 0.25, '1e-05': 0.25, '1e-20': 0.25}
    _write_arm(str(work / 'l2'), 120370, shares)
    _write_arm(str(work / 'dwd'), 200000, shares)
    res = _run([
        '--arms', 'l2', 'dwd', '--stages', 'report', '--work-dir',
        str(work)
    ], str(tmp_path))
    assert res.returncode == 0, res.stderr
    report = (work / 'report.md').read_text().splitlines()
    assert report[0].startswith('| arm | train time |')
    assert report[2].startswith('| l2 | 10.0 min (2.000 it/s) | '
                                '0.2000 / 0.7000 / 0.7100 |')
    assert '240,741 -> 120,370 (50.0% fewer)' in report[2]
    assert '50.0% / 25.0% / 25.0% / 25.0%' in report[2]
    assert report[3].startswith('| dwd |')
    assert (work / 'gamma_hist.png').stat().st_size > 0
