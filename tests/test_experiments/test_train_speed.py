"""experiments/train_speed/train_speed.py, run as a CLI: the three paths and
the same-result check, on the demo config at a tiny size."""
import os.path as osp
import re

import pytest
from tool_helpers import run_as_main

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'experiments', 'train_speed', 'train_speed.py')
CONFIG = osp.join(ROOT, 'configs', 'csnet_synthetic.py')
TINY = ['--size', '32', '--batch-size', '2', '--iters', '1', '--repeats', '1',
        '--warmup', '0']


def run_tool(monkeypatch, capsys, argv):
    assert run_as_main(monkeypatch, TOOL, argv) in (None, 0)
    return capsys.readouterr().out


def test_fast_prelu_is_the_same_computation(monkeypatch, capsys):
    out = run_tool(monkeypatch, capsys, [
        CONFIG, *TINY, '--cfg-options', 'model.backbone.channels_last=False',
        'model.backbone.act_cfg.type=PReLU',
        'model.decode_head.act_cfg.type=PReLU', '--fast-options',
        'model.backbone.act_cfg.type=FastPReLU',
        'model.decode_head.act_cfg.type=FastPReLU'
    ])
    # every path timed, with the speed-up column
    for label in ('| plain |', '| mmengine (DynamicWeightDecayOptimWrapper)',
                  '| mmengine+ (DynamicWeightDecayOptimWrapper)'):
        assert label in out
    m = re.search(r'mmengine\+ vs mmengine: loss (\S+), gradient max (\S+), '
                  r'L2 (\S+)', out)
    assert m is not None, out
    loss, gmax, l2 = (float(v) for v in m.groups())
    assert loss == 0.0  # identical forward
    assert gmax < 1e-5 and l2 < 1e-5  # slope gradients: float rounding


def test_channels_last_reports_rounding_against_float64(monkeypatch, capsys):
    out = run_tool(monkeypatch, capsys, [
        CONFIG, *TINY, '--cfg-options', 'model.backbone.channels_last=False',
        '--fast-options', 'model.backbone.channels_last=True'
    ])
    rows = dict(
        re.findall(r'\| (mmengine\+?) \| [\d.]+ \| (\S+) \| \S+ \| \S+ \|',
                   out))
    assert set(rows) == {'mmengine', 'mmengine+'}, out
    for diff in rows.values():
        assert abs(float(diff)) < 1e-4  # loss vs float64


def test_bad_fast_option_names_the_key(monkeypatch, capsys):
    with pytest.raises(TypeError, match='no_such_option'):
        run_tool(monkeypatch, capsys, [
            CONFIG, *TINY, '--fast-options',
            'model.backbone.no_such_option=1'
        ])
