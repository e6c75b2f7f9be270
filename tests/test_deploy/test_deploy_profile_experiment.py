"""tools/analysis_tools/profile_deploy.py on a tiny model."""
import pytest
from conftest import load_tool

from csnet_mmseg.deploy.openvino_backend import openvino_available


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/analysis_tools/profile_deploy.py')


def test_profile_table(tool, tiny_files, capsys):
    if not openvino_available():
        pytest.skip('openvino is not importable')
    pytest.importorskip('onnx')
    assert tool.main([
        tiny_files['config'], tiny_files['checkpoint'], '--size', '64',
        '--repeats', '2', '--top', '3'
    ]) == 0
    out = capsys.readouterr().out
    assert '| node type | ms | share |' in out
    assert '| Convolution |' in out and '| GroupConvolution |' in out
    nodes = out.split('slowest nodes (top 3)')[1].splitlines()[2:]
    assert len([ln for ln in nodes if ln.startswith('| ')]) == 3
    # the fixed-size graph: no resize, transposed convolutions instead
    assert tool.main([
        tiny_files['config'], tiny_files['checkpoint'], '--size', '64',
        '--repeats', '2', '--fixed-size'
    ]) == 0
    out = capsys.readouterr().out
    assert '(fixed-size graph)' in out and '| Interpolate |' not in out
    assert '| GroupConvolutionBackpropData |' in out


def test_bad_flags(tool, tiny_files, capsys):
    base = [tiny_files['config'], tiny_files['checkpoint']]
    for extra, message in [(['--precision', 'int8'], '--precision must be'),
                           (['--threads', '0'], '--threads must be'),
                           (['--size', '8'], '--size must be')]:
        with pytest.raises(SystemExit):
            tool.main(base + extra)
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main([tiny_files['config'], 'missing.pth'])
    assert 'checkpoint not found' in capsys.readouterr().err
