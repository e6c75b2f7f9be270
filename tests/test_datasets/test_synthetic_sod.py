import glob
import importlib.util
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from csnet_mmseg.datasets import SODDataset, make_synthetic_sod

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _files(folder):
    out = {}
    for path in sorted(glob.glob(osp.join(folder, '**', '*'), recursive=True)):
        if osp.isfile(path):
            with open(path, 'rb') as f:
                out[osp.relpath(path, folder)] = f.read()
    return out


def test_deterministic_and_layout(tmp_path):
    kw = dict(num_train=4, num_val=2, size=(48, 64), seed=3)
    a = make_synthetic_sod(str(tmp_path / 'a'), **kw)
    make_synthetic_sod(str(tmp_path / 'b'), **kw)
    fa, fb = _files(str(tmp_path / 'a')), _files(str(tmp_path / 'b'))
    assert len(fa) == 12 and fa == fb
    assert 'train/images/0000.jpg' in fa and 'val/GT/0001.png' in fa
    assert a['train']['num'] == 4 and a['val']['num'] == 2
    make_synthetic_sod(str(tmp_path / 'c'), **dict(kw, seed=4))
    assert _files(str(tmp_path / 'c')) != fa
    shapes = set()
    for stem in ('0000', '0001', '0002', '0003'):
        img = cv2.imread(str(tmp_path / 'a/train/images' / f'{stem}.jpg'))
        gt = cv2.imread(str(tmp_path / 'a/train/GT' / f'{stem}.png'),
                        cv2.IMREAD_UNCHANGED)
        assert gt.ndim == 2 and img.shape[:2] == gt.shape
        assert set(np.unique(gt)) == {0, 255}
        assert 36 <= gt.shape[0] <= 60 and 48 <= gt.shape[1] <= 80
        # the object contrasts with the background
        fg = img[gt > 0].mean(0)
        bg = img[gt == 0].mean(0)
        assert np.abs(fg - bg).max() > 30
        shapes.add(gt.shape)
    assert len(shapes) > 1  # sizes vary
    ds = SODDataset(data_root=str(tmp_path / 'a' / 'train'))
    assert len(ds) == 4


def test_soft_edges(tmp_path):
    make_synthetic_sod(str(tmp_path), num_train=2, num_val=0,
                       size=(40, 40), soft_edges=True)
    gt = cv2.imread(str(tmp_path / 'train/GT/0000.png'), cv2.IMREAD_UNCHANGED)
    assert len(np.unique(gt)) > 2


def test_refuses_to_overwrite(tmp_path):
    out = str(tmp_path / 'syn')
    make_synthetic_sod(out, num_train=1, num_val=1, size=(32, 32))
    with open(osp.join(out, 'keep.txt'), 'w') as f:
        f.write('mine')
    with pytest.raises(FileExistsError, match='overwrite'):
        make_synthetic_sod(out, num_train=2, num_val=1, size=(32, 32))
    assert len(os.listdir(osp.join(out, 'train', 'images'))) == 1
    make_synthetic_sod(out, num_train=2, num_val=0, size=(32, 32),
                       overwrite=True)
    assert len(os.listdir(osp.join(out, 'train', 'images'))) == 2
    assert os.listdir(osp.join(out, 'val', 'images')) == []
    assert osp.isfile(osp.join(out, 'keep.txt'))
    other = tmp_path / 'user'
    other.mkdir()
    (other / 'x.txt').write_text('x')
    with pytest.raises(FileExistsError):
        make_synthetic_sod(str(other), num_train=1, num_val=1)
    with pytest.raises(ValueError):
        make_synthetic_sod(str(tmp_path / 'z'), size=(8, 8))


def test_cli(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'make_synthetic_sod_cli',
        osp.join(ROOT, 'tools', 'misc', 'make_synthetic_sod.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = str(tmp_path / 'syn')
    args = [out, '--num-train', '3', '--num-val', '2', '--size', '40', '56',
            '--seed', '1']
    assert cli.main(args) == 0
    assert len(os.listdir(osp.join(out, 'train', 'GT'))) == 3
    assert cli.main(args) == 1
    assert 'overwrite' in capsys.readouterr().err
    assert cli.main(args + ['--overwrite']) == 0
