"""The gain probe (experiments/gain_probe): a few steps of our gain-100
recipe and of the released semantics written directly agree exactly."""
import json
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'experiments', 'gain_probe', 'gain_probe.py')


def test_gain_probe_agrees(tmp_path):
    res = subprocess.run([
        sys.executable, TOOL, '--steps', '3', '--size', '32', '--out',
        str(tmp_path)
    ], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.load(open(tmp_path / 'result.json'))
    summary = result['summary']
    assert summary['steps'] == 3 and len(result['rows']) == 3
    assert summary['scaled_convs'] == 51
    assert summary['max_loss_diff'] <= 1e-6
    assert summary['max_conv_rel'] <= 1e-6
    assert summary['max_gamma_rel'] <= 1e-6
    # the arms that differ from ours do differ, and the weights moved
    last = summary['final']
    assert last['scaled_moved_ours'] > 0
    assert last['scaled_moved_small'] > 10 * last['scaled_moved_ours']
