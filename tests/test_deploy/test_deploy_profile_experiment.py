"""experiments/deploy_profile/profile_deploy.py, run as a CLI on a tiny
model (here, not in tests/test_experiments/: it loads OpenVINO, whose tests
run in their own process)."""
import os.path as osp

import pytest

from csnet_mmseg.deploy.openvino_backend import openvino_available
from tool_helpers import run_as_main

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'experiments', 'deploy_profile', 'profile_deploy.py')


def run_tool(monkeypatch, argv):
    """Run the tool as ``python TOOL ARGV`` does; its exit status."""
    return run_as_main(monkeypatch, TOOL, argv)


def test_profile_table(tiny_files, monkeypatch, capsys):
    if not openvino_available():
        pytest.skip('openvino is not importable')
    pytest.importorskip('onnx')
    assert run_tool(monkeypatch, [
        tiny_files['config'], tiny_files['checkpoint'], '--size', '64',
        '--repeats', '2', '--top', '3'
    ]) == 0
    out = capsys.readouterr().out
    assert '| node type | ms | share |' in out
    assert '| Convolution |' in out and '| GroupConvolution |' in out
    nodes = out.split('slowest nodes (top 3)')[1].splitlines()[2:]
    assert len([ln for ln in nodes if ln.startswith('| ')]) == 3
    # the fixed-size graph: no resize, transposed convolutions instead
    assert run_tool(monkeypatch, [
        tiny_files['config'], tiny_files['checkpoint'], '--size', '64',
        '--repeats', '2', '--fixed-size'
    ]) == 0
    out = capsys.readouterr().out
    assert '(fixed-size graph)' in out and '| Interpolate |' not in out
    assert '| GroupConvolutionBackpropData |' in out


def test_bad_flags(tiny_files, monkeypatch, capsys):
    base = [tiny_files['config'], tiny_files['checkpoint']]
    for extra, message in [(['--precision', 'int8'], '--precision must be'),
                           (['--threads', '0'], '--threads must be'),
                           (['--size', '8'], '--size must be')]:
        assert run_tool(monkeypatch, base + extra) == 2
        assert message in capsys.readouterr().err
    assert run_tool(monkeypatch, [tiny_files['config'], 'missing.pth']) == 2
    assert 'checkpoint not found' in capsys.readouterr().err
