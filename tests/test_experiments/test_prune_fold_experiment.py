"""experiments/prune_fold/prune_fold_experiment.py, run as a CLI on a tiny
random CSNet and a few synthetic images: one row per threshold and variant,
the MAE from the package's SODMetric, calibration on the first images."""
import os.path as osp
import re
import runpy
import sys

import pytest

from csnet_mmseg.datasets.synthetic import make_synthetic_sod
from csnet_mmseg.testing import write_tiny_checkpoint, write_tiny_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'experiments', 'prune_fold',
                'prune_fold_experiment.py')
ROW = re.compile(r'^\| (\S+) \((\S+)\) \| (\d+) / (\d+) \| ([\d,]+) -> '
                 r'([\d,]+) \| \S+ -> \S+ \| ([\w, ]+) \| (\S+) \| (\S+) \| '
                 r'(\S+) \| ([\d.]+) \| ([+-][\d.]+) \|$', re.M)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('prune_fold')
    make_synthetic_sod(str(root / 'sod'), num_train=1, num_val=6,
                       size=(48, 40))
    cfg = write_tiny_config(str(root / 'tiny_csnet.py'))
    ckpt = root / 'tiny.pth'
    write_tiny_checkpoint(str(ckpt), seed=3)
    return dict(config=cfg, checkpoint=str(ckpt),
                data=str(root / 'sod' / 'val'), root=root)


def run_tool(monkeypatch, capsys, argv):
    monkeypatch.setattr(sys, 'argv', [TOOL] + argv)
    runpy.run_path(TOOL, run_name='__main__')
    return capsys.readouterr().out


def test_rows_per_threshold_and_variant(tiny, monkeypatch, capsys):
    out_file = tiny['root'] / 'table.md'
    out = run_tool(monkeypatch, capsys, [
        tiny['config'], tiny['checkpoint'], '--data', tiny['data'],
        '--size', '64', '--quantile', '0.2', '0.5', '--batch-size', '4',
        '--out',
        str(out_file)
    ])
    assert '6 test images from' in out
    wide = float(re.search(r'wide model: MAE ([\d.]+)', out).group(1))
    table = out_file.read_text()
    assert table in out
    rows = ROW.findall(table)
    assert [(r[0], r[6]) for r in rows] == [('q=0.2', 'folded'),
                                            ('q=0.2', 'dropped'),
                                            ('q=0.5', 'folded'),
                                            ('q=0.5', 'dropped')], table
    for r in rows:
        removed, total = int(r[2]), int(r[3])
        assert 0 < removed < total
        assert int(r[5].replace(',', '')) < int(r[4].replace(',', ''))
        mae, change = float(r[10]), float(r[11])
        assert 0 <= mae <= 1
        assert abs(change - (mae - wide)) <= 1.5e-4  # rounded to 4 digits
    # the same channels go in both variants, more at the higher quantile
    assert rows[0][2] == rows[1][2] < rows[2][2] == rows[3][2]


def test_calibrated_folding_scores_the_other_images(tiny, monkeypatch,
                                                    capsys):
    out = run_tool(monkeypatch, capsys, [
        tiny['config'], tiny['checkpoint'], '--data', tiny['data'],
        '--size', '64', '--quantile', '0.3', '--calib-num', '3',
        '--batch-size', '2'
    ])
    assert 'calibration: the first 3 images' in out
    assert '3 test images from' in out
    assert [r[6] for r in ROW.findall(out)] == [
        'folded', 'folded, calibrated', 'dropped'
    ]


def test_bad_input(tiny, monkeypatch, capsys):
    base = [tiny['config'], tiny['checkpoint'], '--quantile', '0.3']
    with pytest.raises(SystemExit, match='leaves no image to test'):
        run_tool(monkeypatch, capsys,
                 base + ['--data', tiny['data'], '--calib-num', '6'])
    with pytest.raises(SystemExit, match='prune_fold_experiment: .*'
                       'no_such_folder'):
        run_tool(monkeypatch, capsys,
                 base + ['--data', str(tiny['root'] / 'no_such_folder')])
    with pytest.raises(SystemExit):
        run_tool(monkeypatch, capsys, [tiny['config'], tiny['checkpoint']])
    assert 'give at least one --threshold or --quantile' in \
        capsys.readouterr().err
