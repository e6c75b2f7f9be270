"""tools/analysis_tools/benchmark.py in its quick mode, on a tiny setting."""
import argparse

import pytest
from conftest import load_tool


@pytest.fixture(scope='module')
def bench():
    return load_tool('tools/analysis_tools/benchmark.py')


def test_quick_table(bench, tmp_path, capsys):
    out = tmp_path / 'table.md'
    args = [
        '--quick', '--models', 'csnet_l_x1', '--forms', 'train', 'deploy',
        'ort', '--sizes', '64', '96', '--random-weights', '--out',
        str(out)
    ]
    assert bench.main(args) == 0
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
        bench.main(args)


def test_report_ratios_and_verdict(bench):
    """The derived columns of the report, from given latencies."""
    args = argparse.Namespace(
        sizes=[224, 512],
        threads=[1],
        repeats=3,
        warmup=1,
        quick=False,
        flops_size=224)
    lat = {
        ('csnet_l_x1', 'train', 224, 1): 100.0,
        ('csnet_l_x1', 'train', 512, 1): 520.0,
        ('csnet_l_x1', 'deploy', 224, 1): 40.0,
        ('csnet_l_x1', 'deploy', 512, 1): 200.0,
        ('fastscnn', 'train', 224, 1): 16.0,
        ('fastscnn', 'train', 512, 1): None
    }
    results = dict(
        models=['csnet_l_x1', 'fastscnn'],
        forms=dict(csnet_l_x1=['train', 'deploy'], fastscnn=['train']),
        labels=dict(csnet_l_x1='csnet_l_x1', fastscnn='Fast-SCNN'),
        weights=dict(csnet_l_x1='random', fastscnn='random'),
        latency=lat,
        complexity={},
        memory={},
        diffs={},
        errors=[],
        memory_method=None)
    meta = dict(cpu='cpu', cores=2, torch='t', ort='o')
    text = bench.build_report(results, meta, args)
    assert '| 5.20x |' in text  # 520 / 100 (train, 512 vs 224)
    assert '| 5.00x |' in text  # 200 / 40 (deploy)
    assert '2.50x' in text  # deploy / train at 224 and 512
    assert 'csnet_l_x1 is 2.50x SLOWER than Fast-SCNN' in text  # 40 vs 16
    assert '| 512² | 1 | csnet_l_x1 | 200.0 (deploy) | Fast-SCNN | n/a' in text


def test_quick_openvino_and_throughput(bench, tmp_path, capsys):
    from csnet_mmseg.deploy.openvino_backend import openvino_available
    if not openvino_available():
        pytest.skip('openvino is not importable')
    args = [
        '--quick', '--models', 'csnet_l_x1', '--forms', 'deploy', 'openvino',
        '--sizes', '64', '--batches', '2', '--random-weights'
    ]
    assert bench.main(args) == 0
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
        bench.main(['--batches', '0'])


def test_report_ratio_to_fastscnn(bench):
    args = argparse.Namespace(
        sizes=[224],
        threads=[1],
        batches=[1, 8],
        repeats=3,
        warmup=1,
        quick=False,
        flops_size=224)
    lat = {
        ('csnet_l_x1', 'deploy', 224, 1): 60.0,
        ('csnet_l_x1', 'openvino', 224, 1): 30.0,
        ('fastscnn', 'train', 224, 1): 15.0,
        ('fastscnn', 'openvino', 224, 1): 10.0,
    }
    results = dict(
        models=['csnet_l_x1', 'fastscnn'],
        forms=dict(
            csnet_l_x1=['deploy', 'openvino'],
            fastscnn=['train', 'openvino']),
        labels=dict(csnet_l_x1='csnet_l_x1', fastscnn='Fast-SCNN'),
        weights=dict(csnet_l_x1='random', fastscnn='random'),
        latency=lat,
        batch_latency={('csnet_l_x1', 'openvino', 224, 1, 8): 200.0},
        complexity={},
        memory={},
        diffs={},
        errors=[],
        memory_method=None)
    meta = dict(cpu='cpu', cores=2, torch='t', ort='o', openvino='v')
    text = bench.build_report(results, meta, args)
    assert '÷ Fast-SCNN best 224² 1t' in text
    assert '| csnet_l_x1 | OpenVINO f32 (deploy form) | - | - | 30.0 | ' \
        '3.00x |' in text
    assert '| Fast-SCNN | OpenVINO f32 (PyTorch frontend) |' in text
    assert '| csnet_l_x1 | openvino | 33.3 | 40.0 |' in text  # images/s
    assert '| Fast-SCNN | train | 66.7 | n/a |' in text
    assert '| 224² | 1 | csnet_l_x1 | 30.0 (openvino) | Fast-SCNN | ' \
        '10.0 (openvino) | 3.00x |' in text
