"""The CPU benchmark's report (csnet_mmseg.benchmark.build_report): the
derived columns from given latencies."""
import argparse

from csnet_mmseg.benchmark import build_report


def test_report_ratios_and_verdict():
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
    text = build_report(results, meta, args)
    assert '| 5.20x |' in text  # 520 / 100 (train, 512 vs 224)
    assert '| 5.00x |' in text  # 200 / 40 (deploy)
    assert '2.50x' in text  # deploy / train at 224 and 512
    assert 'csnet_l_x1 is 2.50x SLOWER than Fast-SCNN' in text  # 40 vs 16
    assert '| 512² | 1 | csnet_l_x1 | 200.0 (deploy) | Fast-SCNN | n/a' in text


def test_report_ratio_to_fastscnn():
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
    text = build_report(results, meta, args)
    assert '÷ Fast-SCNN best 224² 1t' in text
    assert '| csnet_l_x1 | OpenVINO f32 (deploy form) | - | - | 30.0 | ' \
        '3.00x |' in text
    assert '| Fast-SCNN | OpenVINO f32 (PyTorch frontend) |' in text
    assert '| csnet_l_x1 | openvino | 33.3 | 40.0 |' in text  # images/s
    assert '| Fast-SCNN | train | 66.7 | n/a |' in text
    assert '| 224² | 1 | csnet_l_x1 | 30.0 (openvino) | Fast-SCNN | ' \
        '10.0 (openvino) | 3.00x |' in text
