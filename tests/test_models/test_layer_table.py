"""LayerTable: one type for the layer table of configs, pruning, the
converter and the summary; round trips and errors naming the key."""
import copy
import json
import os.path as osp

import pytest
from mmengine.config import Config

from csnet_mmseg.models import LayerTable
from csnet_mmseg.testing import SMALL_TABLE, TINY_TABLE, tiny_model_cfg

TABLES = [TINY_TABLE, SMALL_TABLE, LayerTable.initial(20).to_dict()]


@pytest.mark.parametrize('table', TABLES)
def test_round_trip_config_layer_table_config(table, tmp_path):
    lt = LayerTable.from_dict(table)
    assert lt.to_dict() == table
    # the config form is plain data: a copy, not the table's own lists
    out = lt.to_dict()
    out['backbone']['stage_channels'][0][0].append(99)
    assert lt.to_dict() == table
    # from a model config, and back into one (other keys untouched)
    cfg = tiny_model_cfg(table).to_dict()
    assert LayerTable.from_model_cfg(cfg) == lt
    other = copy.deepcopy(cfg)
    other['backbone']['stem_channels'] = [1, 1]
    applied = lt.apply_to(other)
    assert LayerTable.from_model_cfg(applied) == lt
    assert applied['backbone']['type'] == cfg['backbone']['type']
    assert other['backbone']['stem_channels'] == [1, 1]  # not modified
    # a JSON file, and the config text pruning writes (_base_ + override)
    path = tmp_path / 't.json'
    path.write_text(json.dumps(table))
    assert LayerTable.load(str(path)) == lt
    Config(dict(model=tiny_model_cfg(SMALL_TABLE).to_dict())).dump(
        str(tmp_path / 'base.py'))
    (tmp_path / 'over.py').write_text(lt.to_config_text('./base.py'))
    assert LayerTable.load(str(tmp_path / 'over.py')) == lt
    assert LayerTable.load(table) == lt


def test_tuples_and_views():
    table = copy.deepcopy(SMALL_TABLE)
    table['backbone']['stem_channels'] = (4, 4)
    lt = LayerTable.from_dict(table)
    assert lt.stem_channels == [4, 4]
    assert lt.stage_blocks == [2, 2, 2, 2]
    layers = lt.released_layers()
    assert len(layers) == 1 + 8 + 3
    assert layers[-2]['dilation_out'] == SMALL_TABLE['decode_head'][
        'dilation_channels']
    assert layers[-1] == {'in': [5, 6, 6], 'out': [6]}


def test_released_layer_order(official_dir):
    from csnet_mmseg.converters import load_official_table
    for name in ('x1', 'x2'):
        table = load_official_table(
            osp.join(official_dir, f'csnet-L-{name}.bin'))
        assert isinstance(table, LayerTable)
        with open(osp.join(official_dir,
                           f'layer_config_csnet-L-{name}.json')) as f:
            released = json.load(f)
        ours = table.released_layers()
        assert [layer['out'] for layer in ours] == \
            [layer['out'] for layer in released['layers']]
        assert table.stage_blocks == released['stage_blocks']


@pytest.mark.parametrize('part, key, value, match', [
    ('backbone', 'stage_channels', [[[4, 4], 'x']],
     r"backbone\.stage_channels\[0\]\[1\] must be a list, got 'x'"),
    ('backbone', 'stem_channels', [4, -1],
     r'backbone\.stem_channels\[1\] must be a channel count'),
    ('decode_head', 'channels', 2.5,
     r'decode_head\.channels must be a channel count .* got 2\.5'),
    ('decode_head', 'channels', True, r'decode_head\.channels'),
    ('decode_head', 'dilation_channels', [1, 2],
     r'decode_head\.dilation_channels\[0\] must be a list'),
    ('decode_head', 'in_channels', 8, r'decode_head\.in_channels must be a '
     'list, got 8'),
])
def test_bad_tables_name_the_key(part, key, value, match):
    table = copy.deepcopy(SMALL_TABLE)
    table[part][key] = value
    with pytest.raises(ValueError, match=r'layer table \(dict\): ' + match):
        LayerTable.from_dict(table)


def test_missing_parts_and_keys(tmp_path):
    with pytest.raises(ValueError, match="expected a dict with 'backbone'"):
        LayerTable.from_dict([1, 2])
    with pytest.raises(ValueError, match="no 'decode_head' entry"):
        LayerTable.from_dict(dict(backbone=SMALL_TABLE['backbone']))
    head = dict(SMALL_TABLE['decode_head'])
    head.pop('fuse_channels')
    with pytest.raises(ValueError,
                       match='src.json: decode_head lacks fuse_channels'):
        LayerTable.from_dict(
            dict(backbone=SMALL_TABLE['backbone'], decode_head=head),
            'src.json')
    cfg = tiny_model_cfg(SMALL_TABLE).to_dict()
    cfg['decode_head'].pop('channels')
    path = tmp_path / 'cfg.py'
    Config(dict(model=cfg)).dump(str(path))
    with pytest.raises(ValueError,
                       match="cfg.py': the model config lacks 'channels'"):
        LayerTable.load(str(path))
    with pytest.raises(TypeError, match='a file path or a dict'):
        LayerTable.load(3)
