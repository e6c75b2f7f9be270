"""CSNetEncoderDecoder: the layer table from a file (pruned_config.py or
JSON), and clear errors for missing or bad tables."""
import json

import pytest
import torch
from mmengine.config import Config

from csnet_mmseg.models import LayerTable
from csnet_mmseg.testing import SMALL_TABLE, TINY_TABLE, tiny_model_cfg
from mmseg.registry import MODELS


def build(table_source, **kwargs):
    cfg = tiny_model_cfg(SMALL_TABLE).to_dict()
    cfg.update(type='CSNetEncoderDecoder', layer_table=table_source,
               **kwargs)
    return MODELS.build(cfg)


def channels(model):
    return (model.backbone.stem.conv_mix.out_channels,
            model.decode_head.channels)


def test_table_from_json_and_from_a_config(tmp_path):
    path = tmp_path / 'table.json'
    path.write_text(json.dumps(TINY_TABLE))
    from_json = build(str(path))
    cfg_path = tmp_path / 'pruned_config.py'
    Config(dict(model=tiny_model_cfg(TINY_TABLE).to_dict())).dump(
        str(cfg_path))
    from_cfg = build(str(cfg_path))
    expected = (TINY_TABLE['backbone']['stem_channels'],
                TINY_TABLE['decode_head']['channels'])
    assert channels(from_json) == channels(from_cfg) == expected
    # the same module names as EncoderDecoder: checkpoints interchange
    plain = MODELS.build(tiny_model_cfg(TINY_TABLE).to_dict())
    assert plain.state_dict().keys() == from_json.state_dict().keys()
    plain.load_state_dict(from_json.state_dict())
    x = torch.randn(1, 3, 32, 32)
    plain.eval(), from_json.eval()
    with torch.no_grad():
        assert torch.equal(plain(x, mode='tensor'), from_json(x, mode='tensor'))


def test_no_table_keeps_the_config_and_required_table_errors():
    model = build(None)
    assert channels(model) == (SMALL_TABLE['backbone']['stem_channels'],
                               SMALL_TABLE['decode_head']['channels'])
    with pytest.raises(ValueError, match='model.layer_table is not set'):
        build(None, require_layer_table=True)


def test_bad_tables(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.py'):
        LayerTable.load(str(tmp_path / 'missing.py'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{not json')
    with pytest.raises(ValueError, match='bad.json.*not valid JSON'):
        LayerTable.load(str(bad))
    partial = tmp_path / 'partial.json'
    partial.write_text(json.dumps(dict(backbone=TINY_TABLE['backbone'],
                                       decode_head=dict(channels=4))))
    with pytest.raises(ValueError, match='decode_head lacks in_channels'):
        LayerTable.load(str(partial))
    txt = tmp_path / 'table.txt'
    txt.write_text('x')
    with pytest.raises(ValueError, match='expected a .py config or a .json'):
        LayerTable.load(str(txt))
    nomodel = tmp_path / 'nomodel.py'
    nomodel.write_text('a = 1\n')
    with pytest.raises(ValueError, match='no model.backbone'):
        LayerTable.load(str(nomodel))
