"""Converter parity with the released CSNet code (uses ../shared)."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmseg.registry import MODELS

from csnet_mmseg.models import LayerTable
from csnet_mmseg.converters import (ConversionError,
                                    convert_official_state_dict,
                                    load_official_checkpoint,
                                    load_official_table)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'csnet2mmseg.py')


def _logits(model, x):
    with torch.no_grad():
        out = model(x, mode='tensor')
    return F.interpolate(out, size=x.shape[-2:], mode='bilinear',
                         align_corners=False)


@pytest.mark.parametrize('name', ['x1', 'x2'])
def test_converted_checkpoint_parity(name, official_dir, tmp_path):
    src = osp.join(official_dir, f'csnet-L-{name}.pth.tar')
    dst = str(tmp_path / f'csnet_l_{name}.pth')
    res = subprocess.run([sys.executable, TOOL, src, dst],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert f'configs/csnet_l_{name}.py' in res.stdout

    cfg = Config.fromfile(osp.join(ROOT, 'configs', f'csnet_l_{name}.py'))
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, dst, map_location='cpu', strict=True)
    ref = np.load(osp.join(official_dir, f'parity_csnet-L-{name}.npz'))
    for inputs, logits in [('inputs', 'logits'),
                           ('inputs_nonsquare', 'logits_nonsquare')]:
        x = torch.from_numpy(ref[inputs]).float()
        out = _logits(model, x).numpy()
        assert out.shape == ref[logits].shape
        diff = np.abs(out - ref[logits]).max()
        assert diff <= 1e-4, f'{name} {inputs}: max abs diff {diff:.2e}'


def test_table_matches_shipped_config(official_dir):
    for name in ('x1', 'x2'):
        table = load_official_table(
            osp.join(official_dir, f'csnet-L-{name}.bin'))
        cfg = Config.fromfile(osp.join(ROOT, 'configs', f'csnet_l_{name}.py'))
        assert LayerTable.from_model_cfg(cfg.model) == table


def test_unmatched_tensor_is_an_error(official_dir):
    sd = dict(load_official_checkpoint(
        osp.join(official_dir, 'csnet-L-x1.pth.tar')))
    table = load_official_table(osp.join(official_dir, 'csnet-L-x1.bin'))
    sd['extra.weight'] = torch.zeros(1)
    with pytest.raises(ConversionError, match='extra.weight'):
        convert_official_state_dict(sd, table)
    # the x2 table does not fit the x1 weights
    table2 = load_official_table(osp.join(official_dir, 'csnet-L-x2.bin'))
    sd.pop('extra.weight')
    with pytest.raises(ConversionError, match='shape'):
        convert_official_state_dict(sd, table2)


def test_converter_refuses_to_overwrite(official_dir, tmp_path):
    dst = tmp_path / 'out.pth'
    dst.write_text('mine')
    res = subprocess.run(
        [sys.executable, TOOL,
         osp.join(official_dir, 'csnet-L-x1.pth.tar'), str(dst)],
        capture_output=True, text=True, cwd=ROOT)
    assert res.returncode != 0
    assert 'exists' in res.stderr
    assert dst.read_text() == 'mine'


def test_flush_small_values_counts_and_zeroes():
    from csnet_mmseg.converters import flush_small_values
    sd = dict(
        a=torch.tensor([1e-40, -5e-39, 0.0, 1e-30, 1.0]),
        b=torch.tensor([2e-38, 3.0]),
        n=torch.tensor(7))
    assert flush_small_values(sd, 1e-37) == 3
    assert sd['a'].tolist() == [0.0, 0.0, 0.0, pytest.approx(1e-30), 1.0]
    assert sd['b'].tolist() == [0.0, 3.0]
    assert int(sd['n']) == 7
    assert flush_small_values(sd, 1e-37) == 0
    with pytest.raises(ValueError, match='flush_below'):
        flush_small_values(sd, 0)


@pytest.mark.parametrize('name', ['x1', 'x2'])
def test_converter_flushes_subnormals(name, official_dir, tmp_path):
    src = osp.join(official_dir, f'csnet-L-{name}.pth.tar')
    source = load_official_checkpoint(src)
    table = load_official_table(osp.join(official_dir, f'csnet-L-{name}.bin'))
    kept = convert_official_state_dict(source, table, flush_below=None)
    n_tiny = sum(int(((v.abs() < 1e-37) & (v != 0)).sum())
                 for v in kept.values() if v.is_floating_point())
    assert n_tiny > 0  # the released weights do hold subnormal values
    flushed = convert_official_state_dict(source, table)
    for k, v in flushed.items():
        if v.is_floating_point():
            assert not ((v.abs() < 1e-37) & (v != 0)).any(), k
    # the tool reports the count and --keep-subnormal turns it off
    dst = str(tmp_path / 'f.pth')
    res = subprocess.run([sys.executable, TOOL, src, dst],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert f'flushed {n_tiny} float values' in res.stdout
    dst_keep = str(tmp_path / 'k.pth')
    res = subprocess.run([sys.executable, TOOL, src, dst_keep,
                          '--keep-subnormal'],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert 'kept values' in res.stdout
    ckpt = torch.load(dst_keep, map_location='cpu', weights_only=False)
    assert sum(int(((v.abs() < 1e-37) & (v != 0)).sum())
               for v in ckpt['state_dict'].values()
               if v.is_floating_point()) == n_tiny
