"""experiments/export_plans/export_shapes.py, run as a CLI on a tiny model
(OpenVINO: here, in the folder whose tests run in their own process)."""
import os.path as osp
import re

import pytest

from csnet_mmseg.deploy.openvino_backend import openvino_available
from tool_helpers import run_as_main

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'experiments', 'export_plans', 'export_shapes.py')


def run_tool(monkeypatch, argv):
    """Run the tool as ``python TOOL ARGV`` does; its exit status."""
    return run_as_main(monkeypatch, TOOL, argv)


def test_every_shape_timed_and_exact(tiny_files, monkeypatch, capsys):
    if not openvino_available():
        pytest.skip('openvino is not importable')
    pytest.importorskip('onnx')
    assert run_tool(monkeypatch, [
        tiny_files['config'], tiny_files['checkpoint'], '--sizes', '64',
        '--rounds', '2', '--runs', '1', '--profile'
    ]) == 0
    out = capsys.readouterr().out
    rows = re.findall(
        r'^\| 64 \| (\w+) \| ([\d.]+) \| ([\d.]+)x \| \S+ \| (\S+) \|$', out,
        re.M)
    assert [r[0] for r in rows] == ['dynamic', 'static', 'fixed'], out
    assert rows[0][2] == '1.000'  # the first form against itself
    for _, ms, _, diff in rows:
        assert float(ms) > 0
        assert float(diff) <= 1e-4  # every shape equals the training form
    profile = out.split('Sum of node times per node type')[1]
    assert '| node type | 64 dynamic | 64 static | 64 fixed |' in profile
    # the fixed-size export upsamples with transposed convolutions
    deconv = re.search(r'\| GroupConvolutionBackpropData \| (.*) \|$',
                       profile, re.M)
    assert deconv is not None, profile
    assert [float(v) for v in deconv.group(1).split(' | ')][:2] == [0, 0]
    assert float(deconv.group(1).split(' | ')[2]) > 0


def test_bad_flags(tiny_files, monkeypatch, capsys):
    base = [tiny_files['config'], tiny_files['checkpoint']]
    for extra, message in [(['--shapes', 'concat'], '--shapes must be'),
                           (['--sizes', '16'], '--sizes must be'),
                           (['--rounds', '0'], '--rounds and --runs must'),
                           (['--peer', 'unet'], 'invalid choice')]:
        assert run_tool(monkeypatch, base + extra) == 2
        assert message in capsys.readouterr().err
    assert run_tool(monkeypatch, [tiny_files['config'], 'missing.pth']) == 2
    assert 'checkpoint not found' in capsys.readouterr().err
