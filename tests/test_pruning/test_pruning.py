"""Channel pruning: slicing every consumer, folding, errors, written files."""

import pytest
import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from csnet_mmseg.pruning import (PRUNED_CHECKPOINT, PRUNED_CONFIG,
                                 SUMMARY, TRAIN_CONFIG, PruningError,
                                 model_complexity, plan_pruning,
                                 prune_segmentor, write_pruned)
from csnet_mmseg.testing import SMALL_TABLE
from csnet_mmseg.testing import tiny_model_cfg as _tiny_model_cfg
from mmseg.registry import MODELS

SIZE = (64, 64)
TABLE = SMALL_TABLE


def tiny_model_cfg(table=TABLE) -> dict:
    return _tiny_model_cfg(table).to_dict()


def build_random(seed: int = 0):
    """A tiny CSNet with random (non-trivial) BN statistics and PReLUs."""
    torch.manual_seed(seed)
    cfg = tiny_model_cfg()
    model = MODELS.build(cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(torch.randn(c, generator=g) * 0.3)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
            elif isinstance(m, torch.nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5)
        bias = model.decode_head.conv_seg.bias
        bias.copy_(torch.randn(bias.shape, generator=g))
    return model.eval(), cfg


def kill(norm, channels, beta=0.0):
    with torch.no_grad():
        norm.weight[channels] = 0.0
        norm.bias[channels] = beta


def kill_block(block, scale, channels, beta=0.0, followers=True):
    """gamma = 0 on the mixing BN (beta as given); the depthwise followers'
    BNs get gamma = beta = 0 too when ``followers`` (exact zeros)."""
    kill(block.conv_mix.norm_act.norms[scale], channels, beta)
    if followers:
        kill(block.conv_dw1.norm_act.norms[scale], channels)
        kill(block.conv_dw2.norm_act.norms[scale], channels)


# dead channels of the exact test and the table they leave
DEAD = dict(
    mix=('stages.0.1', {0: [1, 3], 1: [0, 1, 2, 3]}),  # a whole scale dies
    stage_out=('stages.1.1', {0: [0, 5]}),  # feeds the head and stage 3
    fuse={1: [2]},
    dilation={0: [2], 2: [2]},  # scale 0 branch 2, scale 2: 1 of 2 in branch 2
    merge=[1, 4])
EXPECTED = dict(
    backbone=dict(
        stem_channels=[4, 4],
        stage_channels=[
            [[4, 4], [2, 0]],
            [[6, 6], [6]],
            [[6, 6], [8]],
            [[6, 6], [8]],
        ]),
    decode_head=dict(
        in_channels=[6, 8, 8],
        fuse_channels=[4, 3, 4],
        dilation_channels=[[1, 1, 0, 1, 1], [2, 1, 1, 1, 1],
                           [1, 1, 1, 1, 1]],
        channels=4))


def block(model, name):
    return model.backbone.get_submodule(name)


def make_dead(model, beta=0.0, followers=True):
    head = model.decode_head
    for name, per_scale in (DEAD['mix'], DEAD['stage_out']):
        for scale, chans in per_scale.items():
            kill_block(block(model, name), scale, chans, beta, followers)
    for scale, chans in DEAD['fuse'].items():
        kill(head.fuse.norm_act.norms[scale], chans, beta)
    for scale, chans in DEAD['dilation'].items():
        kill(head.multi_dilation.norm_act.norms[scale], chans, beta)
    kill(head.merge.norm_act.norms[0], DEAD['merge'], beta)


def logits(model, x):
    with torch.no_grad():
        return model(x, mode='tensor')


def num_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('fold', [True, False])
def test_dead_channels_pruned_exactly(fold):
    model, cfg = build_random()
    make_dead(model)
    x = torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    wide_out = logits(model, x)

    result = prune_segmentor(
        model, cfg, threshold=1e-20, fold=fold, input_size=SIZE,
        with_complexity=False)

    assert result.table.to_dict() == EXPECTED
    # the model is built from the table; its parameter count is that of an
    # independently built model of the expected table, and less than wide
    expected = MODELS.build(tiny_model_cfg(EXPECTED))
    assert num_params(result.model) == num_params(expected)
    assert num_params(result.model) < num_params(model)
    assert result.model.backbone.stages[0][1].conv_mix.out_channels == [2, 0]
    assert result.model.backbone.stages[1][0].conv_mix.in_channels == [2, 0]
    narrow_out = logits(result.model, x)
    assert narrow_out.shape == wide_out.shape
    assert (narrow_out - wide_out).abs().max() < 1e-5
    # the wide model is untouched
    assert (logits(model, x) - wide_out).abs().max() == 0


def test_folding_beats_dropping():
    model, cfg = build_random(seed=2)
    # gamma = 0, beta != 0, followers alive: removed channels emit
    # image-independent maps (bent at the borders by the 3x3 convs)
    make_dead(model, beta=0.7, followers=False)
    x = torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(3))
    wide_out = logits(model, x)
    diffs = {}
    for fold in (True, False):
        result = prune_segmentor(model, cfg, 1e-20, fold, SIZE,
                                 with_complexity=False)
        assert result.table.to_dict() == EXPECTED
        diffs[fold] = (logits(result.model, x) - wide_out).abs()
    assert diffs[False].mean() > 1e-3  # dropping beta is visible
    assert diffs[True].mean() < 0.5 * diffs[False].mean()
    assert diffs[True].max() < diffs[False].max()


def test_folding_exact_on_1x1_paths():
    """Multi-dilation -> merge -> conv_seg are 1x1 paths fed by BN outputs:
    a removed channel emits exactly act(beta) everywhere, so folding is
    exact, dropping is not."""
    model, cfg = build_random(seed=4)
    head = model.decode_head
    kill(head.multi_dilation.norm_act.norms[0], [2], beta=0.9)
    kill(head.multi_dilation.norm_act.norms[1], [0, 1], beta=-0.6)  # branch
    kill(head.merge.norm_act.norms[0], [1, 4], beta=0.8)
    x = torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(5))
    wide_out = logits(model, x)
    folded = prune_segmentor(model, cfg, 1e-20, True, SIZE,
                             with_complexity=False)
    dropped = prune_segmentor(model, cfg, 1e-20, False, SIZE,
                              with_complexity=False)
    assert folded.table.to_dict()['decode_head']['dilation_channels'][1] == \
        [0, 1, 1, 1, 1]
    assert folded.table.to_dict()['decode_head']['channels'] == 4
    assert (logits(folded.model, x) - wide_out).abs().max() < 1e-5
    assert (logits(dropped.model, x) - wide_out).abs().max() > 1e-3


def merge_output(model, x):
    out = {}
    handle = model.decode_head.merge.register_forward_hook(
        lambda module, args, result: out.setdefault('y', result[0]))
    logits(model, x)
    handle.remove()
    return out['y']


def test_dead_fuse_scale_removes_its_branches():
    """A fuse scale that dies leaves its multi-dilation scale without
    input: that scale goes too, its (image-independent, border-bent) output
    is folded into merge."""
    model, cfg = build_random(seed=6)
    kill(model.decode_head.fuse.norm_act.norms[2], [0, 1, 2, 3], beta=0.5)
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(7))
    wide = merge_output(model, x)
    diffs = {}
    for fold in (True, False):
        result = prune_segmentor(model, cfg, 1e-20, fold, SIZE,
                                 with_complexity=False)
        head = result.table.to_dict()['decode_head']
        assert head['fuse_channels'] == [4, 4, 0]
        assert head['dilation_channels'][2] == [0, 0, 0, 0, 0]
        assert any('fuse scale 2' in n for n in result.plan.notes)
        diffs[fold] = (merge_output(result.model, x) - wide).abs().mean()
    assert diffs[True] < 0.5 * diffs[False]


def test_dead_branches_remove_their_fuse_scale():
    """All dilation branches of a scale dead: the fuse scale feeding only
    them has no consumer and goes too (exact: nothing depends on it)."""
    model, cfg = build_random(seed=8)
    kill(model.decode_head.multi_dilation.norm_act.norms[1],
         list(range(6)))
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(9))
    result = prune_segmentor(model, cfg, 1e-20, True, SIZE,
                             with_complexity=False)
    head = result.table.to_dict()['decode_head']
    assert head['fuse_channels'] == [4, 0, 4]
    assert head['dilation_channels'][1] == [0, 0, 0, 0, 0]
    assert (logits(result.model, x) - logits(model, x)).abs().max() < 1e-5


@pytest.mark.parametrize('layer,name', [
    ('merge', 'decode_head.merge'),
    ('stage_out', 'backbone.stages.2.1.conv_mix'),
    ('stem', 'backbone.stem.conv_mix'),
])
def test_threshold_removing_a_whole_layer_errors(layer, name):
    model, cfg = build_random()
    with torch.no_grad():
        if layer == 'merge':
            norms = model.decode_head.merge.norm_act.norms
        elif layer == 'stem':
            norms = model.backbone.stem.conv_mix.norm_act.norms
        else:
            norms = model.backbone.stages[2][1].conv_mix.norm_act.norms
        for n in norms:
            n.weight.mul_(1e-3)
    with pytest.raises(PruningError, match=name.replace('.', r'\.')):
        plan_pruning(model, threshold=0.1)
    # the same threshold on an untouched model prunes nothing
    fresh, _ = build_random()
    plan = plan_pruning(fresh, threshold=0.1)
    assert plan.layer_table([2, 2, 2, 2]).to_dict() == TABLE


def test_written_files_load_strict(tmp_path):
    model, cfg = build_random()
    make_dead(model)
    result = prune_segmentor(model, cfg, 1e-20, True, SIZE)
    train_cfg = Config(
        dict(
            model=cfg,
            work_dir='/somewhere/else',
            load_from='/wide.pth',
            custom_imports=dict(imports=['csnet_mmseg'])))
    out = tmp_path / 'moved' / 'pruned'
    paths = write_pruned(result, str(out), train_cfg, source='unit test')
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [PRUNED_CONFIG, TRAIN_CONFIG, PRUNED_CHECKPOINT, SUMMARY])
    text = open(paths['config']).read()
    assert "_base_ = ['./train_config.py']" in text
    # the folder is self-contained: it still works after a move
    moved = tmp_path / 'elsewhere'
    out.rename(moved)
    loaded = Config.fromfile(str(moved / PRUNED_CONFIG))
    # only the layer table differs from the training config
    base = Config.fromfile(str(moved / TRAIN_CONFIG))
    assert base.work_dir is None and base.load_from is None
    for part in ('backbone', 'decode_head'):
        for key in loaded.model[part]:
            if key in EXPECTED[part]:
                assert loaded.model[part][key] == EXPECTED[part][key]
            else:
                assert loaded.model[part][key] == base.model[part][key], key
    narrow = MODELS.build(loaded.model)
    ckpt = load_checkpoint(
        narrow, str(moved / PRUNED_CHECKPOINT), map_location='cpu',
        strict=True)
    assert ckpt['meta']['pruning']['layer_table'] == EXPECTED
    narrow.eval()
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(0))
    assert (logits(narrow, x) - logits(model, x)).abs().max() < 1e-5
    summary = (moved / SUMMARY).read_text()
    assert 'backbone.stages.0.1 | 4, 4 -> 2, 0 |' in summary
    assert f"{result.before['params']:,} -> {result.after['params']:,}" \
        in summary
    # never overwritten
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        write_pruned(result, str(moved), train_cfg)


def test_complexity_matches_mmengine():
    model, _ = build_random()
    info = model_complexity(model, SIZE)
    ref = get_model_complexity_info(
        model, input_shape=(3, *SIZE), show_table=False, show_arch=False)
    assert info['flops'] == ref['flops']
    assert info['params'] == ref['params']
    names = [layer['name'] for layer in info['layers']]
    assert names[0] == 'backbone.stem' and names[-1] == 'decode_head.conv_seg'
    assert all(layer['flops'] > 0 for layer in info['layers'])
    assert sum(layer['params'] for layer in info['layers']) == info['params']


def test_calibrated_folding():
    """Exactly dead channels: calibrated folding (mean output over images)
    equals data-free folding. Channels with a small non-zero gamma: the
    calibrated fold is the least-squares constant for the first consumer on
    the calibration images, so its BN output is closer than with data-free
    folding or dropping."""
    model, cfg = build_random(seed=10)
    make_dead(model, beta=0.7, followers=False)
    gen = torch.Generator().manual_seed(11)
    calib = [torch.randn(2, 3, *SIZE, generator=gen) for _ in range(2)]
    x = torch.randn(1, 3, *SIZE, generator=gen)
    free = prune_segmentor(model, cfg, 1e-20, True, SIZE,
                           with_complexity=False)
    cal = prune_segmentor(model, cfg, 1e-20, True, SIZE, calib=iter(calib),
                          with_complexity=False)
    assert cal.calib_images == 4 and free.calib_images == 0
    assert (logits(cal.model, x) - logits(free.model, x)).abs().max() < 1e-4

    model, cfg = build_random(seed=12)
    block_in = model.backbone.stages[1][0]
    with torch.no_grad():
        block_in.conv_mix.norm_act.norms[0].weight[[0, 3, 4]] = 0.05
    consumer = 'stages.1.1.conv_mix.norm_act.norms.0'
    batch = torch.cat(calib)

    def bn_out(m):
        out = {}
        bn = m.backbone.get_submodule(consumer)
        handle = bn.register_forward_hook(
            lambda mod, args, y: out.setdefault('y', y))
        logits(m, batch)
        handle.remove()
        return out['y']

    wide = bn_out(model)
    errors = {}
    for name, fold, data in (('drop', False, None), ('free', True, None),
                             ('calib', True, calib)):
        result = prune_segmentor(model, cfg, 0.1, fold, SIZE, calib=data,
                                 with_complexity=False)
        assert result.table.stage_channels[1][0] == [3, 6]
        errors[name] = ((bn_out(result.model) - wide)**2).mean()
    assert errors['calib'] < errors['free'] and errors['calib'] < errors['drop']
