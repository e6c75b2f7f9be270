"""tools/analysis_tools/benchmark.py (a CLI over csnet_mmseg.benchmark) in
its quick mode, on a tiny setting."""
import pytest
from conftest import run_tool_main

TOOL = 'tools/analysis_tools/benchmark.py'


def bench(argv):
    return run_tool_main(TOOL, argv)


def test_quick_table(tmp_path, capsys):
    out = tmp_path / 'table.md'
    args = [
        '--quick', '--models', 'csnet_l_x1', '--forms', 'train', 'deploy',
        'ort', '--sizes', '64', '96', '--random-weights', '--out',
        str(out)
    ]
    assert bench(args) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert out.read_text() in text
    lines = text.splitlines()
    header = next(ln for ln in lines if ln.startswith('| model | form'))
    assert '64² 1t (ms)' in header and '96²/64² latency (1t)' in header
    assert 'GMACs@64' in header
    rows = [ln for ln in lines if ln.startswith('| csnet_l_x1 |')]
    forms = [r.split('|')[2].strip() for r in rows[:3]]
    assert forms == [
        'PyTorch, training form (eval)', 'PyTorch, deploy form',
        'ONNX Runtime (deploy form)'
    ]
    for row in rows[:3]:
        cells = [c.strip() for c in row.strip('|').split('|')]
        assert float(cells[4]) > 0 and float(cells[5]) > 0  # both sizes
        ratio = float(cells[5]) / float(cells[4])
        assert cells[6] == f'{ratio:.2f}x' or abs(
            float(cells[6][:-1]) - ratio) < 0.02
    assert rows[0].split('|')[3].strip() == '93,647'  # released x1 size
    assert 'Pixel-count ratio 96²/64² = 2.25' in text
    speed = [ln for ln in lines if ln.startswith('| csnet_l_x1 | 64²')]
    assert len(speed) == 1 and speed[0].count('x |') == 2
    diffs = speed[0].rsplit('|', 2)[-2].split(',')
    assert all(float(d) <= 1e-4 for d in diffs)  # deploy and ORT outputs
    assert 'QUICK smoke run' in text
    assert '[6/6] csnet_l_x1 ort 96x96' in captured.err  # progress
    with pytest.raises(SystemExit):  # an existing report is kept
        bench(args)


def test_quick_openvino_and_throughput(tmp_path, capsys):
    from csnet_mmseg.deploy.openvino_backend import openvino_available
    if not openvino_available():
        pytest.skip('openvino is not importable')
    args = [
        '--quick', '--models', 'csnet_l_x1', '--forms', 'deploy', 'openvino',
        '--sizes', '64', '--batches', '2', '--random-weights'
    ]
    assert bench(args) == 0
    text = capsys.readouterr().out
    assert '| csnet_l_x1 | OpenVINO f32 (deploy form) |' in text
    head = next(ln for ln in text.splitlines()
                if ln.startswith('| model | form | 64² batch 1'))
    assert head.strip().endswith('64² batch 2 |')  # batch 1 added
    row = next(ln for ln in text.splitlines()
               if ln.startswith('| csnet_l_x1 | openvino |'))
    assert all(float(c) > 0 for c in row.strip('|').split('|')[2:])
    speed = next(ln for ln in text.splitlines()
                 if ln.startswith('| csnet_l_x1 | 64²'))
    diffs = speed.rsplit('|', 2)[-2].split(',')
    assert len(diffs) == 2 and all(float(d) <= 1e-4 for d in diffs)
    with pytest.raises(SystemExit):
        bench(['--batches', '0'])


def test_official_dir_weights(official_dir, tmp_path, capsys):
    """--official-dir: the released x1 weights converted on the fly (the
    former ../shared default), named in the notes."""
    assert bench([
        '--quick', '--models', 'csnet_l_x1', '--forms', 'train', '--sizes',
        '64', '--official-dir', official_dir
    ]) == 0
    text = capsys.readouterr().out
    assert '- csnet_l_x1: weights released csnet-L-x1 (converted).' in text
    with pytest.raises(SystemExit):
        bench(['--official-dir', str(tmp_path / 'none')])
    assert '--official-dir is not a folder' in capsys.readouterr().err
