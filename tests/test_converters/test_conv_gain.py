"""Converting the released weights to a gain-100 model (the released
training form): parity with the released code's logits (uses ../shared),
the released Conv2dX100 weights stored unscaled, and the config text."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmseg.registry import MODELS

from csnet_mmseg.converters import (conv_gain_config_text,
                                    convert_official_state_dict,
                                    format_layer_table_config,
                                    load_official_checkpoint,
                                    load_official_table)
from csnet_mmseg.models import LayerTable
from csnet_mmseg.models.layers import scaled_convs
from csnet_mmseg.testing import CONFIG_DIR, TINY_TABLE
from gain_helpers import gain_cfg

GAIN = dict(type='ScaledConv2d', gain=100.0)


def _gain_model(name):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, f'csnet_l_{name}.py'))
    cfg.model.backbone.conv_cfg = dict(GAIN)
    cfg.model.decode_head.conv_cfg = dict(GAIN)
    return MODELS.build(cfg.model).eval()


@pytest.mark.parametrize('name', ['x1', 'x2'])
def test_gain_100_conversion_parity(name, official_dir):
    src = load_official_checkpoint(
        osp.join(official_dir, f'csnet-L-{name}.pth.tar'))
    table = load_official_table(osp.join(official_dir, f'csnet-L-{name}.bin'))
    sd = convert_official_state_dict(src, table, gain=100.0)
    model = _gain_model(name)
    model.load_state_dict(sd, strict=True)
    assert float(sd['backbone.conv_gain']) == 100.0
    # the scaled convs hold the released p as it is, flushed
    released = {k.replace('module.', ''): v for k, v in src.items()}
    dw = released['stage1.0.conv3x3_1.convs.0.weight']
    got = sd['backbone.stages.0.0.conv_dw1.weight'][:dw.shape[0]]
    assert torch.equal(got, torch.where(dw.abs() < 1e-37, 0 * dw, dw))
    assert len(list(scaled_convs(model))) > 0
    ref = np.load(osp.join(official_dir, f'parity_csnet-L-{name}.npz'))
    for inputs, logits in [('inputs', 'logits'),
                           ('inputs_nonsquare', 'logits_nonsquare')]:
        x = torch.from_numpy(ref[inputs]).float()
        with torch.no_grad():
            out = F.interpolate(
                model(x, mode='tensor'),
                size=x.shape[-2:],
                mode='bilinear',
                align_corners=False).numpy()
        diff = np.abs(out - ref[logits]).max()
        assert diff <= 1e-4, f'{name} {inputs}: max abs diff {diff:.2e}'


def test_gain_1_conversion_refused_by_gain_100_config(official_dir):
    src = load_official_checkpoint(osp.join(official_dir,
                                            'csnet-L-x1.pth.tar'))
    table = load_official_table(osp.join(official_dir, 'csnet-L-x1.bin'))
    sd = convert_official_state_dict(src, table)  # gain 1 (the default)
    with pytest.raises(ValueError, match='trained with conv gain 1 '):
        _gain_model('x1').load_state_dict(sd)


def test_config_text_with_gain(tmp_path):
    table = LayerTable.from_dict(TINY_TABLE)
    text = format_layer_table_config(table, gain=100.0)
    assert "conv_cfg = dict(type='ScaledConv2d', gain=100.0)" in text
    path = tmp_path / 'configs' / 'tiny_gain.py'
    path.parent.mkdir()
    path.write_text(text.replace('./_base_/models/csnet.py',
                                 osp.join(CONFIG_DIR, '_base_', 'models',
                                          'csnet.py')))
    cfg = Config.fromfile(str(path))
    assert cfg.model.backbone.conv_cfg == GAIN
    assert cfg.model.decode_head.conv_cfg == GAIN
    assert cfg.model.backbone.stage_channels == \
        TINY_TABLE['backbone']['stage_channels']
    assert cfg.model.decode_head.channels == 6
    assert format_layer_table_config(table) == \
        format_layer_table_config(table, gain=1.0)
    assert 'conv_cfg' not in format_layer_table_config(table)
    with pytest.raises(ValueError, match='backbone=dict'):
        conv_gain_config_text('model = dict()\n', 100.0)


def test_config_of_the_paper_recipe_has_the_released_gain():
    for name in ('csnet_duts.py', 'csnet_duts_finetune.py',
                 'csnet_synthetic.py', 'csnet_synthetic_finetune.py'):
        cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
        assert cfg.model.backbone.conv_cfg == GAIN, name
        assert cfg.model.decode_head.conv_cfg == GAIN, name
    for name in ('csnet_l_x1.py', 'csnet_l_x2.py'):  # inference: gain 1
        cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
        assert cfg.model.backbone.get('conv_cfg') is None, name
    assert MODELS.build(gain_cfg(TINY_TABLE, 100.0)).backbone.gain == 100.0


def test_tool_gain_100(official_dir, tmp_path):
    root = osp.dirname(CONFIG_DIR)
    tool = osp.join(root, 'tools', 'model_converters', 'csnet2mmseg.py')
    dst = str(tmp_path / 'x1_gain100.pth')
    res = subprocess.run([
        sys.executable, tool,
        osp.join(official_dir, 'csnet-L-x1.pth.tar'), dst, '--gain', '100'
    ], capture_output=True, text=True, cwd=root)
    assert res.returncode == 0, res.stderr
    assert '(93,647 parameters)' in res.stdout
    head = 'for conv gain 100 use this config (saved in configs/):\n\n'
    assert head in res.stdout
    text = res.stdout.split(head, 1)[1]
    assert text.startswith("_base_ = ['./csnet_l_x1.py']")
    path = tmp_path / 'cfg.py'
    path.write_text(
        text.replace('./csnet_l_x1.py', osp.join(CONFIG_DIR,
                                                 'csnet_l_x1.py')))
    cfg = Config.fromfile(str(path))
    assert cfg.model.backbone.conv_cfg == GAIN
    assert cfg.model.decode_head.conv_cfg == GAIN
    model = MODELS.build(cfg.model).eval()
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['conv_gain'] == 100.0
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert model.backbone.stem.conv_dw1.gain == 100.0
