"""The metric-bounded search of a pruning threshold, on a tiny model with a
known set of dead channels."""
import pytest
import torch

from csnet_mmseg.pruning import (parse_metric_bound, plot_search,
                                 prunable_gammas, search_table_markdown,
                                 search_threshold)
from csnet_mmseg.testing import SMALL_TABLE, build_random_segmentor, \
    tiny_model_cfg

SIZE = 48


def kill(norm, channels):
    with torch.no_grad():
        norm.weight[channels] = 0.0
        norm.bias[channels] = 0.0


def make_model():
    model = build_random_segmentor(SMALL_TABLE, seed=0)
    # dead channels (gamma = beta = 0, depthwise followers too): their
    # output is exactly zero, so removing them changes nothing
    block = model.backbone.get_submodule('stages.0.1')
    for layer in (block.conv_mix, block.conv_dw1, block.conv_dw2):
        kill(layer.norm_act.norms[1], [0, 2])
    kill(model.decode_head.merge.norm_act.norms[0], [1])
    kill(model.decode_head.fuse.norm_act.norms[1], [0])
    # the live gammas stay in [0.5, 1.5]
    return model.eval(), 4  # 2 conv_mix + 1 merge + 1 fuse channel


class PredictionError:
    """MAE (and 1 - MAE as 'maxF') of a model's saliency against the wide
    model's, on fixed random images."""

    def __init__(self, reference):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(2, 3, SIZE, SIZE, generator=g)
        self.ref = self.prob(reference)
        self.calls = 0

    def prob(self, model):
        with torch.no_grad():
            return torch.sigmoid(model(self.x, mode='tensor'))

    def __call__(self, model):
        self.calls += 1
        mae = float((self.prob(model) - self.ref).abs().mean())
        return {'tiny/MAE': mae, 'tiny/maxF': 1 - mae}


def test_search_finds_the_dead_channels():
    model, dead = make_model()
    before = [p.detach().clone() for p in model.parameters()]
    evaluate = PredictionError(model)
    res = search_threshold(
        model,
        tiny_model_cfg(SMALL_TABLE).to_dict(),
        evaluate,
        bound='MAE=1e-4',
        input_size=(SIZE, SIZE),
        coarse_steps=8)
    gammas = prunable_gammas(model)
    live_min = float(gammas[gammas > 0].min())
    # the largest threshold within the bound removes exactly the dead
    # channels: it lies above 0 and at or below the smallest live gamma
    assert 0 < res.best.threshold <= live_min
    assert res.best.removed == dead
    assert res.best.change <= 1e-4
    assert res.best.params < res.baseline.params
    # every point beyond the chosen one broke the bound (or emptied a layer)
    for p in res.points:
        if p.threshold > res.best.threshold:
            assert p.error or not p.within
    assert res.baseline.change == 0 and res.baseline.removed == 0
    # the model itself is untouched
    for a, b in zip(before, model.parameters()):
        assert torch.equal(a, b)
    # a bisection, not an evaluation per gamma
    assert evaluate.calls < 20 < torch.unique(gammas).numel()


def test_search_respects_a_loose_bound_and_other_metrics(tmp_path):
    model, dead = make_model()
    res = search_threshold(
        model,
        tiny_model_cfg(SMALL_TABLE).to_dict(),
        PredictionError(model),
        bound='maxF=0.02',
        input_size=(SIZE, SIZE),
        coarse_steps=8,
        with_flops=False)
    # maxF (higher is better) may fall by 0.02: more than the dead
    # channels go, and the bound holds
    assert res.metric == 'maxF'
    assert res.best.removed >= dead
    assert res.best.change <= 0.02
    assert res.best.value >= res.baseline.value - 0.02
    table = search_table_markdown(res)
    assert '(chosen)' in table and table.count('\n') == len(res.points) + 1
    png = plot_search(res, str(tmp_path / 'search.png'))
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_nothing_prunable_within_the_bound():
    model = build_random_segmentor(SMALL_TABLE, seed=0).eval()  # no dead
    res = search_threshold(
        model,
        tiny_model_cfg(SMALL_TABLE).to_dict(),
        PredictionError(model),
        bound='MAE=0',
        input_size=(SIZE, SIZE),
        coarse_steps=4,
        with_flops=False)
    assert res.best is res.baseline and res.best.threshold == 0


@pytest.mark.parametrize('text, match', [
    ('MAE', 'METRIC=AMOUNT'),
    ('MAE=0.1=2', 'METRIC=AMOUNT'),
    ('mae=0.002', "unknown metric 'mae'"),
    ('IoU=0.1', "unknown metric 'IoU'"),
    ('MAE=abc', "'abc' is not a number"),
    ('MAE=-0.1', 'finite number >= 0'),
    ('MAE=nan', 'finite number >= 0'),
])
def test_bad_bounds(text, match):
    with pytest.raises(ValueError, match=match):
        parse_metric_bound(text)


def test_good_bound():
    assert parse_metric_bound('MAE=0.002') == ('MAE', 0.002)
    assert parse_metric_bound(' Sm = 0.01 ') == ('Sm', 0.01)


def test_share_threshold_removes_that_share():
    from csnet_mmseg.pruning import prune_segmentor, share_threshold
    model, dead = make_model()
    gammas = prunable_gammas(model)
    n = gammas.numel()
    assert share_threshold(model, 0.0) == 0.0
    # the 4 dead channels tie at 0: a share of 1 channel removes all four
    t = share_threshold(model, 1 / n)
    assert int((gammas < t).sum()) == dead
    assert 0 < t <= float(gammas[gammas > 0].min())
    for share in (0.25, 0.5):
        t = share_threshold(model, share)
        assert int((gammas < t).sum()) == round(share * n)
        res = prune_segmentor(model, tiny_model_cfg(SMALL_TABLE).to_dict(),
                              threshold=t, input_size=(SIZE, SIZE))
        assert prunable_gammas(res.model).numel() == n - round(share * n)
    assert int((gammas < share_threshold(model, 1.0)).sum()) == n
    with pytest.raises(ValueError, match='share must be in'):
        share_threshold(model, 1.5)
