"""tools/analysis_tools/sod_curves.py run as a CLI, and the curves of
csnet_mmseg.evaluation.curves."""
import os
import os.path as osp
import runpy

import cv2
import numpy as np
import pytest

from csnet_mmseg.evaluation.curves import (CurveError, curve_metrics,
                                           list_maps, map_folder,
                                           parse_pairs)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'sod_curves.py')


def curves(argv):
    """The tool's ``main(argv)``, run as ``python TOOL`` would."""
    return runpy.run_path(TOOL, run_name='tool')['main'](argv)


def _gt(h, w, k):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.where((yy - h / 2)**2 + (xx - w / 2 - k)**2 < (h / 4)**2, 255,
                    0).astype(np.uint8)


@pytest.fixture
def layout(tmp_path):
    """Two data sets, two models (maps in one sub-folder per data set)."""
    rng = np.random.default_rng(0)
    for dataset, n in (('ECSSD', 3), ('DUTS-TE', 2)):
        gt_dir = tmp_path / 'data' / dataset / 'GT'
        gt_dir.mkdir(parents=True)
        for i in range(n):
            gt = _gt(30 + i, 40, i)
            cv2.imwrite(str(gt_dir / f'{i}.png'), gt)
            for model, noise in (('good', 10), ('bad', 90)):
                d = tmp_path / model / dataset
                d.mkdir(parents=True, exist_ok=True)
                pred = np.clip(gt * 0.9 + rng.normal(0, noise, gt.shape), 0,
                               255).astype(np.uint8)
                cv2.imwrite(str(d / f'{i}.png'), pred)
    return tmp_path


def _args(root, out='curves'):
    return [
        '--pred', f"good={root / 'good'}", '--pred', f"bad={root / 'bad'}",
        '--gt', str(root / 'data' / 'ECSSD' / 'GT'),
        '--gt', f"DUTS-TE={root / 'data' / 'DUTS-TE' / 'GT'}",
        '--out-dir', str(root / out)
    ]


def test_curves_written(layout, capsys):
    assert curves(_args(layout)) == 0
    out = capsys.readouterr().out
    files = sorted(os.listdir(layout / 'curves'))
    assert files == ['DUTS-TE_curves.png', 'ECSSD_curves.png']
    for name in files:
        with open(layout / 'curves' / name, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        img = cv2.imread(str(layout / 'curves' / name))
        assert img.shape[0] > 200 and img.shape[1] > 400
    lines = [ln.split() for ln in out.splitlines()]
    maxf = {(ln[0], ln[1]): float(ln[3]) for ln in lines
            if len(ln) == 7 and ln[0] in ('ECSSD', 'DUTS-TE')}
    assert set(maxf) == {(d, m) for d in ('ECSSD', 'DUTS-TE')
                         for m in ('good', 'bad')}
    assert maxf[('ECSSD', 'good')] > maxf[('ECSSD', 'bad')]
    # existing figures are not replaced silently
    assert curves(_args(layout)) == 1
    assert 'overwrite' in capsys.readouterr().err
    assert curves(_args(layout) + ['--overwrite']) == 0


def test_maps_directly_in_dir(layout):
    args = [
        '--pred', f"good={layout / 'good' / 'ECSSD'}", '--gt',
        str(layout / 'data' / 'ECSSD' / 'GT'), '--out-dir',
        str(layout / 'single')
    ]
    assert curves(args) == 0
    assert os.listdir(layout / 'single') == ['ECSSD_curves.png']


def test_errors_name_folder_and_stem(layout, capsys):
    os.remove(layout / 'bad' / 'ECSSD' / '1.png')
    assert curves(_args(layout, 'o1')) == 1
    err = capsys.readouterr().err
    assert err.strip().endswith(': 1')  # the missing stem
    assert str(layout / 'bad' / 'ECSSD') in err
    args = _args(layout, 'o2')
    args[1] = f"good={layout / 'nowhere'}"
    assert curves(args) == 1
    assert str(layout / 'nowhere') in capsys.readouterr().err
    args = _args(layout, 'o3')
    args[5] = str(layout / 'data' / 'MISSING' / 'GT')
    assert curves(args) == 1
    assert 'MISSING' in capsys.readouterr().err


def test_package_functions(layout):
    pairs = parse_pairs(['a=x', str(layout / 'data' / 'ECSSD' / 'GT')],
                        '--gt', need_name=False)
    assert list(pairs) == ['a', 'ECSSD']
    with pytest.raises(CurveError, match='must be NAME=DIR'):
        parse_pairs(['x'], '--pred', need_name=True)
    with pytest.raises(CurveError, match='given twice'):
        parse_pairs(['a=x', 'a=y'], '--pred', need_name=True)
    gt_dir = str(layout / 'data' / 'ECSSD' / 'GT')
    assert sorted(list_maps(gt_dir)) == ['0', '1', '2']
    good = map_folder('good', str(layout / 'good'), 'ECSSD', single=False)
    assert good == str(layout / 'good' / 'ECSSD')
    r = curve_metrics('good', good, gt_dir, 'ECSSD')
    assert r['num'] == 3 and r['f_curve'].shape == (256, )
    assert r['precision'].shape == r['recall'].shape == (256, )
    bad = curve_metrics('bad', str(layout / 'bad' / 'ECSSD'), gt_dir,
                        'ECSSD')
    assert 0 <= r['mae'] < bad['mae'] and r['f_curve'].max() > bad[
        'f_curve'].max()
