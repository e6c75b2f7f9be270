"""SkipBadSamples + BadSampleHook: the opt-in "skip, warn, count" policy for
training samples with bad files (unit level; tools/train.py in
test_bad_files_train.py)."""
import logging
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset, default_collate
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

from csnet_mmseg.datasets import make_synthetic_sod
from csnet_mmseg.datasets.robust import SkipBadSamples, find_skip_bad_samples
from csnet_mmseg.engine.hooks.bad_sample_hook import BadSampleHook
from mmseg.registry import DATASETS, HOOKS, TRANSFORMS

LOADERS = [dict(type='LoadSODImage'), dict(type='LoadSODAnnotations')]


def _dataset(tmp_path, bad=(), test_mode=False, n=6):
    root = tmp_path / 'data'
    make_synthetic_sod(
        str(root), num_train=n, num_val=0, size=(24, 24), size_jitter=0)
    for i in bad:
        p = root / 'train' / 'images' / f'{i:04d}.jpg'
        p.write_bytes(p.read_bytes()[:100])  # truncated
    return DATASETS.build(
        dict(
            type='SODDataset',
            data_root=str(root),
            data_prefix=dict(
                img_path='train/images', seg_map_path='train/GT'),
            test_mode=test_mode,
            pipeline=[
                dict(type='SkipBadSamples', transforms=LOADERS),
                dict(type='PackSegInputs')
            ]))


@pytest.fixture
def mm_log():
    """Messages sent to MMEngine's current logger during the test."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_registered_and_validates():
    t = TRANSFORMS.build(dict(type='SkipBadSamples', transforms=LOADERS))
    assert isinstance(t, SkipBadSamples) and len(t.transforms) == 2
    assert t.counts == (0, 0)
    with pytest.raises(ValueError, match='non-empty list'):
        SkipBadSamples(transforms=[])
    with pytest.raises(ValueError, match='non-empty list'):
        SkipBadSamples(transforms=dict(type='LoadSODImage'))
    assert isinstance(HOOKS.build(dict(type='BadSampleHook')), BadSampleHook)
    with pytest.raises(ValueError, match='max_skip_ratio'):
        BadSampleHook(max_skip_ratio=2)


def test_skips_with_warning_naming_the_file(tmp_path, mm_log):
    ds = _dataset(tmp_path, bad=[1])
    wrapper, = find_skip_bad_samples(ds)
    np.random.seed(0)  # MMEngine draws the replacement with np.random
    out = ds[1]  # another sample is drawn in its place
    assert out['data_samples'].img_path != ds.get_data_info(1)['img_path']
    loaded, skipped = wrapper.counts
    assert skipped >= 1 and loaded == skipped + 1
    msgs = mm_log
    assert any("skipped the sample '" in m and '0001.jpg' in m
               and 'OSError' in m for m in msgs), msgs


def test_other_errors_still_stop(tmp_path):
    ds = _dataset(tmp_path)
    wrapper, = find_skip_bad_samples(ds)

    def broken(results):
        raise KeyError('a bug, not a bad file')

    wrapper.transforms.append(broken)
    with pytest.raises(KeyError, match='a bug'):
        ds[0]


def test_test_mode_never_drops_a_sample(tmp_path):
    ds = _dataset(tmp_path, bad=[0], test_mode=True)
    with pytest.raises(Exception, match='should not get `None`'):
        ds[0]


def test_counts_reach_the_main_process_from_workers(tmp_path):
    ds = _dataset(tmp_path, bad=[0, 3], n=8)
    loader = DataLoader(
        ds, batch_size=2, num_workers=2, collate_fn=default_collate)
    n = sum(len(b['inputs']) for b in loader)
    assert n == 8
    loaded, skipped = find_skip_bad_samples(ds)[0].counts
    assert skipped >= 2 and loaded == n + skipped


def test_find_in_wrapped_datasets(tmp_path):
    ds = _dataset(tmp_path)
    cat = ConcatDataset([ds, ds])
    assert find_skip_bad_samples(cat) == find_skip_bad_samples(ds)


def _runner(ds, logger):
    return SimpleNamespace(
        train_dataloader=SimpleNamespace(dataset=ds),
        logger=logger,
        epoch=0,
        iter=0)


def test_hook_reports_epoch_and_stops_above_ratio(tmp_path, caplog):
    ds = _dataset(tmp_path, bad=[2])
    logger = logging.getLogger('test_bad_sample_hook')
    runner = _runner(ds, logger)
    hook = BadSampleHook(max_skip_ratio=0.5, interval=1)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    np.random.seed(0)  # MMEngine draws the replacement with np.random
    for i in range(len(ds)):
        ds[i]
    loaded, skipped = find_skip_bad_samples(ds)[0].counts
    assert skipped >= 1 and loaded == len(ds) + skipped
    with caplog.at_level(logging.INFO, logger='test_bad_sample_hook'):
        hook.after_train_epoch(runner)
        hook.after_train(runner)
    text = caplog.text
    assert f'epoch 1: {skipped} of {loaded} loaded training samples were ' \
        'skipped' in text
    assert f'{skipped} of {loaded} loaded training samples were skipped ' \
        'in this run' in text

    strict = BadSampleHook(max_skip_ratio=0.1, interval=1)
    strict.before_train(runner)
    with pytest.raises(
            RuntimeError,
            match=rf'{skipped} of {loaded} training samples '
            rf'\({100 * skipped / loaded:.1f}%\) were skipped'):
        strict.after_train_iter(runner, 0)


def test_hook_without_wrapper_warns(tmp_path, caplog):
    ds = _dataset(tmp_path)
    ds.pipeline.transforms = ds.pipeline.transforms[0].transforms
    hook = BadSampleHook()
    with caplog.at_level(logging.WARNING, logger='test_bad_sample_hook'):
        hook.before_train(_runner(ds, logging.getLogger(
            'test_bad_sample_hook')))
    assert 'no SkipBadSamples transform' in caplog.text
