"""The per-layer-type pruning rules: every layer the graph produces has one,
a layer without one is refused with its module path named."""
import pytest
import torch
from torch import nn

from csnet_mmseg.models.decode_heads.csf_head import MultiDilationConv
from csnet_mmseg.models.layers import GOctConv, ILBlock
from csnet_mmseg.pruning import (RULES, LayerRule, PruningError,
                                 prunable_units, prune_segmentor, rule_for)
from csnet_mmseg.pruning.graph import summary_layers
from csnet_mmseg.pruning.rules import (ClassifierRule, GOctConvRule,
                                       ILBlockRule, MultiDilationRule)
from csnet_mmseg.testing import (SMALL_TABLE, TINY_TABLE,
                                 build_random_segmentor, tiny_model_cfg)


def graph_layers(model):
    """(path, module) of every layer pruning touches: units, followers,
    consumers and summary rows."""
    out = []
    for unit in prunable_units(model):
        out.append((unit.name, unit.layer))
        out += list(unit.followers)
        out += [(c.name, c.module) for c in unit.consumers]
    return out + summary_layers(model)


@pytest.mark.parametrize('table', [TINY_TABLE, SMALL_TABLE, None])
def test_every_graph_layer_has_its_rule(table):
    model = build_random_segmentor(table)
    expected = {GOctConv: GOctConvRule, MultiDilationConv: MultiDilationRule,
                nn.Conv2d: ClassifierRule, ILBlock: ILBlockRule}
    seen = set()
    for name, module in graph_layers(model):
        rule = rule_for(module, name)
        assert type(rule) is expected[type(module)], name
        assert RULES[type(module)] is rule
        seen.add(type(module))
    assert seen == set(expected)
    # the summary describes every row by its rule
    assert rule_for(model.decode_head.conv_seg, 'c').channels(
        model.decode_head.conv_seg) == str(model.decode_head.channels)
    md = model.decode_head.multi_dilation
    assert rule_for(md, 'md').channels(md) == ', '.join(
        f'{sum(p)} {p}' for p in md.dilation_channels)


def test_rule_found_through_the_type_hierarchy():

    class MyConv(GOctConv):
        pass

    conv = MyConv([2, 2], [2, 2])
    assert isinstance(rule_for(conv, 'x'), GOctConvRule)


def test_a_layer_without_rule_is_refused_with_its_path():
    with pytest.raises(PruningError,
                       match=r'decode_head\.extra: .*no rule for layer type '
                       r'torch\.nn\.modules\.linear\.Linear'):
        rule_for(nn.Linear(2, 2), 'decode_head.extra')
    # a rule that a type does not support refuses with the path too
    block = build_random_segmentor(SMALL_TABLE).backbone.stem
    with pytest.raises(PruningError,
                       match=r'backbone\.stem: channel pruning cannot narrow '
                       'a layer of type ILBlock'):
        rule_for(block, 'backbone.stem').narrow(block, block, [], [],
                                                'backbone.stem')
    with pytest.raises(PruningError, match='cannot absorb'):
        LayerRule().absorb('a.b', block, block, {}, None)


class PlainClassifier(nn.Module):
    """A 1x1 classifier that is no nn.Conv2d (no pruning rule)."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.in_channels = conv.in_channels
        self.weight = conv.weight
        self.bias = conv.bias

    def forward(self, x):
        return nn.functional.conv2d(x, self.weight, self.bias)


def test_pruning_a_model_with_an_unknown_layer_names_it():
    model = build_random_segmentor(SMALL_TABLE)
    model.decode_head.conv_seg = PlainClassifier(model.decode_head.conv_seg)
    with torch.no_grad():
        model.decode_head.merge.norm_act.norms[0].weight[0] = 0
    with pytest.raises(PruningError,
                       match=r'decode_head\.conv_seg: channel pruning has no '
                       'rule for layer type .*PlainClassifier'):
        prune_segmentor(model, tiny_model_cfg(SMALL_TABLE), 1e-20,
                        input_size=(32, 32), with_complexity=False)
