"""experiments/dwd/equal_accuracy.py: which arms count as trained, and the
report (curves PNG, every point, the table at two val-MAE levels) from
finished points."""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'experiments', 'dwd', 'equal_accuracy.py')


def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, TOOL] + args, cwd=cwd, env=env,
                          capture_output=True, text=True)


def _point(out, run, arm, share, params, pruned, finetuned, latency,
           name=None):
    d = osp.join(out, run, arm, name or f'share_{share:.2f}')
    os.makedirs(d)
    p = dict(run=run, arm=arm, share=share, threshold=share / 10,
             params=params,
             pruned=dict(MAE=pruned, maxF=1 - pruned, Sm=0.7),
             finetuned=dict(MAE=finetuned, maxF=1 - finetuned, Sm=0.7),
             finetune=dict(iters=10, wall_s=5.0, iters_per_s=2.0),
             latency_ms=latency, widest=name == 'share_max')
    with open(osp.join(d, 'point.json'), 'w') as f:
        json.dump(p, f)


def _trained(wd, arm, last):
    os.makedirs(osp.join(wd, arm))
    with open(osp.join(wd, arm, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(wd, arm, last))


def test_report_at_two_levels(tmp_path):
    runs = tmp_path / 'runs'
    _trained(str(runs), 'l2', 'iter_1200.pth')
    _trained(str(runs), 'dwd', 'iter_1200.pth')
    _trained(str(runs), 'none', 'iter_300.pth')  # still training
    out = str(tmp_path / 'out')
    # l2 reaches MAE 0.20 at 100k params, dwd only at its full width
    for share, params, pr, ft, lat in ((0.0, 240741, 0.19, 0.188, 40.0),
                                       (0.5, 100000, 0.195, 0.192, 25.0),
                                       (0.8, 50000, 0.25, 0.21, 15.0)):
        _point(out, 's0', 'l2', share, params, pr, ft, lat)
    # the widest feasible pruning, where a share would empty a layer
    _point(out, 's0', 'l2', 0.9, 40000, 0.3, 0.26, 12.0, name='share_max')
    for share, params, pr, ft, lat in ((0.0, 240741, 0.199, 0.198, 41.0),
                                       (0.5, 120000, 0.23, 0.215, 27.0),
                                       (0.8, 60000, 0.30, 0.25, 16.0)):
        _point(out, 's0', 'dwd', share, params, pr, ft, lat)
    res = _run(['--runs', f's0={runs}', '--arms', 'none', 'l2', 'dwd',
                '--out', out, '--shares', '0', '0.5', '0.8', '--levels',
                '0.2', '0.22', '--stages', 'report'], str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert 's0/none: no finished training' in res.stdout
    text = open(osp.join(out, 'report.md')).read()
    table = [line for line in text.splitlines() if line.startswith('| l2')
             or line.startswith('| dwd')]
    # columns: pruned <= 0.2, pruned <= 0.22, fine-tuned <= 0.2, <= 0.22
    assert table[0] == (
        '| l2 | s0 | 100,000 (25.00 ms, share 0.500) | 100,000 (25.00 ms, '
        'share 0.500) | 100,000 (25.00 ms, share 0.500) | 50,000 (15.00 ms, '
        'share 0.800) |')
    assert table[1] == (
        '| dwd | s0 | 240,741 (41.00 ms, share 0.000) | 240,741 (41.00 ms, '
        'share 0.000) | 240,741 (41.00 ms, share 0.000) | 120,000 (27.00 ms, '
        'share 0.500) |')
    assert '| s0 | dwd | 0.800 | 0.08 | 60,000 | 16.00 | 0.3000 / 0.7000 / ' \
        '0.7000 | 0.2500 / 0.7500 / 0.7000 | 2.0 |' in text
    assert '| s0 | l2 | 0.900 (widest) | 0.09 | 40,000 | 12.00 |' in text
    assert 'none' not in text.split('## Every point')[1]
    assert osp.getsize(osp.join(out, 'curves.png')) > 10000


def test_bad_runs_and_shares(tmp_path):
    res = _run(['--runs', 'nolabel', '--stages', 'report'], str(tmp_path))
    assert res.returncode == 2 and 'must look like LABEL=WORK_DIR' in \
        res.stderr
    res = _run(['--shares', '1.5', '--stages', 'report'], str(tmp_path))
    assert res.returncode == 2 and '--shares must be in [0, 1)' in res.stderr
    res = _run(['--runs', f'a={tmp_path}', '--arms', 'l2', '--stages',
                'report', '--out', str(tmp_path / 'o')], str(tmp_path))
    assert res.returncode == 1 and 'no trained arm' in res.stderr
