import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from csnet_mmseg.datasets import SODDataset

init_default_scope('mmseg')


def _write(path, h=12, w=16, value=255):
    os.makedirs(osp.dirname(path), exist_ok=True)
    if path.lower().endswith(('.jpg', '.jpeg', '.png', '.bmp')):
        img = np.zeros((h, w, 3), np.uint8)
        img[h // 4:, w // 4:] = value
        assert cv2.imwrite(path, img)
    else:
        with open(path, 'w') as f:
            f.write('x')


def _make(root, stems=('a', 'b', 'c'), img_ext='.jpg', mask_ext='.png',
          img_dir='images', ann_dir='GT'):
    for stem in stems:
        _write(osp.join(root, img_dir, stem + img_ext))
        _write(osp.join(root, ann_dir, stem + mask_ext))
    return root


def test_listing_and_metainfo(tmp_path):
    root = str(tmp_path / 'ECSSD')
    _make(root, stems=('b', 'a'))
    _write(osp.join(root, 'images', 'c.JPEG'))
    _write(osp.join(root, 'GT', 'c.BMP'))
    # side files that are skipped
    for name in ('list.txt', 'meta.json', '.DS_Store', 'Thumbs.db'):
        _write(osp.join(root, 'images', name))
        _write(osp.join(root, 'GT', name))
    os.makedirs(osp.join(root, 'images', 'subfolder'))
    ds = SODDataset(data_root=root)
    assert len(ds) == 3
    infos = [ds.get_data_info(i) for i in range(3)]
    assert [osp.basename(i['img_path']) for i in infos] == \
        ['a.jpg', 'b.jpg', 'c.JPEG']
    assert infos[2]['seg_map_path'] == osp.join(root, 'GT', 'c.BMP')
    assert all(i['dataset_name'] == 'ECSSD' for i in infos)
    assert all(i['reduce_zero_label'] is False for i in infos)
    assert ds.metainfo['classes'] == ('background', 'foreground')
    assert ds.metainfo['palette'] == [[0, 0, 0], [255, 255, 255]]
    assert ds.metainfo['reduce_zero_label'] is False


def test_registry_prefix_and_name(tmp_path):
    root = str(tmp_path / 'DUTS-TE')
    _make(root, img_dir='DUTS-TE-Image', ann_dir='DUTS-TE-Mask')
    ds = DATASETS.build(
        dict(
            type='SODDataset',
            data_root=root + '/',
            data_prefix=dict(
                img_path='DUTS-TE-Image', seg_map_path='DUTS-TE-Mask')))
    assert len(ds) == 3 and ds.dataset_name == 'DUTS-TE'
    ds = SODDataset(data_root=root, dataset_name='mine',
                    data_prefix=dict(img_path='DUTS-TE-Image',
                                     seg_map_path='DUTS-TE-Mask'))
    assert ds[0]['dataset_name'] == 'mine'
    # no data_root: absolute prefixes, name of the image folder's parent
    ds = SODDataset(data_prefix=dict(
        img_path=osp.join(root, 'DUTS-TE-Image'),
        seg_map_path=osp.join(root, 'DUTS-TE-Mask')))
    assert ds.dataset_name == 'DUTS-TE'


def test_ann_file(tmp_path):
    root = str(tmp_path / 'set')
    _make(root, stems=('a', 'b', 'c'))
    with open(osp.join(root, 'val.txt'), 'w') as f:
        f.write('c\nb.jpg\n\n')
    ds = SODDataset(data_root=root, ann_file='val.txt')
    assert [osp.basename(ds[i]['img_path']) for i in range(len(ds))] == \
        ['c.jpg', 'b.jpg']
    with open(osp.join(root, 'bad.txt'), 'w') as f:
        f.write('zzz\n')
    with pytest.raises(FileNotFoundError, match='zzz'):
        SODDataset(data_root=root, ann_file='bad.txt')


def test_image_without_mask(tmp_path):
    root = str(tmp_path / 'set')
    _make(root, stems=('a', 'b'))
    _write(osp.join(root, 'images', 'lonely.jpg'))
    with pytest.raises(FileNotFoundError) as e:
        SODDataset(data_root=root)
    msg = str(e.value)
    assert osp.join(root, 'images', 'lonely.jpg') in msg
    assert osp.join(root, 'GT', 'lonely.png') in msg
    assert osp.join(root, 'GT', 'lonely.bmp') in msg


def test_mask_without_image_is_skipped(tmp_path):
    root = str(tmp_path / 'set')
    _make(root, stems=('a', ))
    _write(osp.join(root, 'GT', 'extra.png'))
    assert len(SODDataset(data_root=root)) == 1


def test_missing_and_empty_folders(tmp_path):
    root = str(tmp_path / 'set')
    with pytest.raises(FileNotFoundError, match='does not exist') as e:
        SODDataset(data_root=root)
    assert osp.join(root, 'images') in str(e.value)
    os.makedirs(osp.join(root, 'images'))
    with pytest.raises(FileNotFoundError, match='is empty') as e:
        SODDataset(data_root=root)
    assert osp.join(root, 'images') in str(e.value)
    _write(osp.join(root, 'images', 'a.jpg'))
    with pytest.raises(FileNotFoundError, match='does not exist') as e:
        SODDataset(data_root=root)
    assert osp.join(root, 'GT') in str(e.value)
    # only side files / sub-folders: no data
    os.makedirs(osp.join(root, 'GT', 'nested'))
    _write(osp.join(root, 'GT', 'notes.txt'))
    with pytest.raises(FileNotFoundError, match='not searched recursively'):
        SODDataset(data_root=root)


def test_unknown_suffix(tmp_path):
    root = str(tmp_path / 'set')
    _make(root)
    _write(osp.join(root, 'images', 'x.tif'))
    with pytest.raises(ValueError, match='unexpected') as e:
        SODDataset(data_root=root)
    assert osp.join(root, 'images', 'x.tif') in str(e.value)
    # may be declared as a side file
    assert len(SODDataset(data_root=root, ignore_suffixes=['.tif'])) == 3
    _write(osp.join(root, 'GT', 'x.gif'))
    with pytest.raises(ValueError, match='x.gif'):
        SODDataset(data_root=root, ignore_suffixes=['.tif'])


def test_duplicate_stem(tmp_path):
    root = str(tmp_path / 'set')
    _make(root)
    _write(osp.join(root, 'images', 'a.png'))
    with pytest.raises(ValueError, match='two image files') as e:
        SODDataset(data_root=root)
    assert 'a.jpg' in str(e.value) and 'a.png' in str(e.value)


def test_bad_arguments(tmp_path):
    root = _make(str(tmp_path / 'set'))
    with pytest.raises(ValueError, match='reduce_zero_label'):
        SODDataset(data_root=root, reduce_zero_label=True)
    with pytest.raises(TypeError, match='img_suffixes'):
        SODDataset(data_root=root, img_suffix='.jpg')
    with pytest.raises(ValueError, match='suffixes'):
        SODDataset(data_root=root, img_suffixes=['jpg'])


def test_concat_keeps_names(tmp_path):
    a = _make(str(tmp_path / 'A'), stems=('1', '2'))
    b = _make(str(tmp_path / 'B'), stems=('1', '2', '3'))
    meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                 'dataset_name')
    pipeline = [
        dict(type='LoadSODImage'),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='LoadSODAnnotations'),
        dict(type='PackSegInputs', meta_keys=meta_keys)
    ]
    concat = ConcatDataset([
        dict(type='SODDataset', data_root=a, pipeline=pipeline,
             test_mode=True),
        dict(type='SODDataset', data_root=b, pipeline=pipeline,
             test_mode=True),
    ])
    assert len(concat) == 5
    names = [concat[i]['data_samples'].dataset_name for i in range(5)]
    assert names == ['A', 'A', 'B', 'B', 'B']
    sample = concat[0]
    assert tuple(sample['inputs'].shape) == (3, 32, 32)
    # the label stays at the original size, values {0, 1}
    gt = sample['data_samples'].gt_sem_seg.data
    assert tuple(gt.shape) == (1, 12, 16)
    assert set(gt.unique().tolist()) == {0, 1}
