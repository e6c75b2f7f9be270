"""Channel pruning of a gain-100 CSNet: a multi-scale gOctConv that loses
all but one scale becomes single-scale, so its gain becomes 100 and its
stored weight is rescaled; absorbing goes through the scaled convs; the
pruned model is the same function as the pruned gain-1 twin."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmseg.registry import MODELS

from csnet_mmseg.pruning import (PRUNED_CHECKPOINT, PRUNED_CONFIG,
                                 prune_segmentor, write_pruned)
from csnet_mmseg.testing import SMALL_TABLE
from gain_helpers import build_gain_segmentor, gain_cfg, gain_one_state_dict

SIZE = (64, 64)


def kill(norm, channels, beta=0.0):
    with torch.no_grad():
        norm.weight[channels] = 0.0
        norm.bias[channels] = beta


def make_dead(model, beta=0.0):
    """Scale 1 of stages.1.0 dies (stages.1.1 becomes single-scale), the
    multi-dilation scales 1 and 2 die (their fuse scales go, merge becomes
    single-scale); with ``beta`` the removed channels emit constants that
    are absorbed through the scaled convs."""
    blk = model.backbone.stages[1][0]
    kill(blk.conv_mix.norm_act.norms[1], list(range(6)), beta)
    if beta == 0.0:
        kill(blk.conv_dw1.norm_act.norms[1], list(range(6)))
        kill(blk.conv_dw2.norm_act.norms[1], list(range(6)))
    md = model.decode_head.multi_dilation
    kill(md.norm_act.norms[1], list(range(6)), beta)
    kill(md.norm_act.norms[2], list(range(6)), beta)


def logits(model, x):
    with torch.no_grad():
        return model(x, mode='tensor')


def twin(model):
    """The gain-1 model of the same function."""
    plain = MODELS.build(gain_cfg(SMALL_TABLE, None)).eval()
    plain.load_state_dict(gain_one_state_dict(model), strict=True)
    return plain


def test_layer_turned_single_scale_gets_the_gain_and_same_output():
    model = build_gain_segmentor(SMALL_TABLE, 100.0, seed=1)
    make_dead(model)
    cfg = gain_cfg(SMALL_TABLE, 100.0).to_dict()
    wide_mix = model.backbone.stages[1][1].conv_mix
    wide_merge = model.decode_head.merge
    assert wide_mix.gain == 1.0 and wide_merge.gain == 1.0
    x = torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(2))
    wide_out = logits(model, x)

    result = prune_segmentor(model, cfg, threshold=1e-20, fold=True,
                             input_size=SIZE, with_complexity=False)
    table = result.table
    assert table.stage_channels[1][0] == [6, 0]
    assert table.fuse_channels == [4, 0, 0]
    narrow = result.model
    mix = narrow.backbone.stages[1][1].conv_mix
    merge = narrow.decode_head.merge
    assert mix.in_channels == [6, 0] and mix.gain == 100.0
    assert merge.in_channels == [5, 0, 0] and merge.gain == 100.0
    assert float(narrow.backbone.conv_gain) == 100.0
    # the stored weight is rescaled: same convolution, gain 100 instead of 1
    torch.testing.assert_close(mix.weight * 100.0,
                               wide_mix.weight.detach()[:, :6])
    torch.testing.assert_close(merge.weight * 100.0,
                               wide_merge.weight.detach()[:, :5])
    out = logits(narrow, x)
    assert (out - wide_out).abs().max() < 1e-5


@pytest.mark.parametrize('fold', [True, False])
def test_absorbing_through_scaled_convs_matches_the_gain_1_twin(fold):
    model = build_gain_segmentor(SMALL_TABLE, 100.0, seed=3)
    make_dead(model, beta=0.7)  # followers alive: constants to absorb
    plain = twin(model)
    x = torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(4))
    wide_out = logits(model, x)
    torch.testing.assert_close(logits(plain, x), wide_out, rtol=1e-4,
                               atol=1e-5)
    scaled = prune_segmentor(model, gain_cfg(SMALL_TABLE, 100.0).to_dict(),
                             1e-20, fold, SIZE, with_complexity=False)
    ref = prune_segmentor(plain, gain_cfg(SMALL_TABLE, None).to_dict(),
                          1e-20, fold, SIZE, with_complexity=False)
    assert scaled.table == ref.table
    out, ref_out = logits(scaled.model, x), logits(ref.model, x)
    assert (out - ref_out).abs().max() < 1e-5
    # the removed constants matter (so the agreement is not trivial) and
    # absorbing them is closer to the wide model than dropping them
    if fold:
        assert (out - wide_out).abs().mean() < (logits(
            prune_segmentor(model,
                            gain_cfg(SMALL_TABLE, 100.0).to_dict(), 1e-20,
                            False, SIZE, with_complexity=False).model, x) -
                                                 wide_out).abs().mean()
    else:
        assert (out - wide_out).abs().mean() > 1e-3


def test_pruned_files_keep_the_gain(tmp_path):
    model = build_gain_segmentor(SMALL_TABLE, 100.0, seed=5)
    make_dead(model)
    cfg = gain_cfg(SMALL_TABLE, 100.0).to_dict()
    result = prune_segmentor(model, cfg, 1e-20, True, SIZE)
    train_cfg = Config(
        dict(model=cfg, custom_imports=dict(imports=['csnet_mmseg'])))
    write_pruned(result, str(tmp_path), train_cfg, source='unit test')
    loaded = Config.fromfile(str(tmp_path / PRUNED_CONFIG))
    assert loaded.model.backbone.conv_cfg == dict(type='ScaledConv2d',
                                                  gain=100.0)
    narrow = MODELS.build(loaded.model)
    load_checkpoint(narrow, str(tmp_path / PRUNED_CHECKPOINT),
                    map_location='cpu', strict=True)
    narrow.eval()
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(6))
    assert (logits(narrow, x) - logits(model, x)).abs().max() < 1e-5
    # a gain-1 config of the pruned table refuses the pruned checkpoint
    loaded.model.backbone.conv_cfg = None
    loaded.model.decode_head.conv_cfg = None
    with pytest.raises(ValueError, match='trained with conv gain 100 '):
        load_checkpoint(MODELS.build(loaded.model),
                        str(tmp_path / PRUNED_CHECKPOINT), map_location='cpu')
    # the parameter count is that of the table (the gain is no parameter)
    assert result.after['params'] == sum(
        p.numel() for p in narrow.parameters())


def test_threshold_search_on_gain_100():
    """The metric-bounded search prunes a gain-100 model through the same
    rules: the dead channels (whose removal turns two layers single-scale)
    go within a 1e-4 bound."""
    from csnet_mmseg.pruning import search_threshold
    model = build_gain_segmentor(SMALL_TABLE, 100.0, seed=7)
    make_dead(model)
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(8))
    ref = torch.sigmoid(logits(model, x))

    def evaluate(m):
        mae = float((torch.sigmoid(logits(m, x)) - ref).abs().mean())
        return {'tiny/MAE': mae}

    res = search_threshold(model, gain_cfg(SMALL_TABLE, 100.0).to_dict(),
                           evaluate, bound='MAE=1e-4', input_size=(48, 48),
                           coarse_steps=8, with_flops=False)
    assert res.best.removed >= 18  # 6 conv_mix + 2 x 6 multi-dilation
    assert res.best.change <= 1e-4
    assert res.best.params < res.baseline.params
