import copy
import gc
import io
import os.path as osp
import weakref

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmseg.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS

from csnet_mmseg.engine.optimizers import (
    DynamicWeightDecayOptimWrapper, DynamicWeightDecayOptimWrapperConstructor,
    find_dwd_targets, get_dwd_metric)
from csnet_mmseg.models import CSNet, GOctConv
from csnet_mmseg.models.decode_heads import MultiDilationConv

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
ADAM = dict(type='Adam', lr=1e-2, betas=(0.9, 0.99), weight_decay=5e-3)


def tiny_backbone(seed=0):
    """A 2-scale CSNet backbone with a few channels; random BN gammas."""
    torch.manual_seed(seed)
    model = CSNet(
        stem_channels=[3, 2],
        stage_channels=[[[3, 2]], [[4, 2], [4]], [[4]], [[4]]],
        out_indices=(1, 2, 3))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
    return model


def batch(seed=1, n=2, size=16):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g)


def loss_fn(model, x):
    return sum((o - 0.3).pow(2).mean() for o in model(x))


def goct_norm_acts(model):
    """Every (norm, act, scale) of every GOctConv, found independently of the
    wrapper's target search."""
    out = []
    for m in model.modules():
        if isinstance(m, GOctConv):
            for j, c in enumerate(m.out_channels):
                if c > 0:
                    out.append((m.norm_act.norms[j], m.norm_act.acts[j], j))
    return out


def record_gap(model, x):
    """|mean over H, W| of each GOctConv activation output, batch mean,
    computed by hand; returns (loss, {id(norm): S})."""
    stats, handles = {}, []
    for norm, act, _ in goct_norm_acts(model):

        def hook(mod, inp, out, norm=norm):
            stats[id(norm)] = out.detach().mean(dim=(2, 3)).abs().mean(0)

        handles.append(act.register_forward_hook(hook))
    loss = loss_fn(model, x)
    for h in handles:
        h.remove()
    return loss, stats


def adam_without_gamma_decay(model, gamma_ids):
    """torch.optim.Adam as ADAM, with weight_decay 0 on the parameters in
    ``gamma_ids`` (the reference of the wrapper's two groups)."""
    return torch.optim.Adam(
        [dict(params=[p for p in model.parameters()
                      if id(p) not in gamma_ids]),
         dict(params=[p for p in model.parameters() if id(p) in gamma_ids],
              weight_decay=0.0)],
        lr=1e-2, betas=(0.9, 0.99), weight_decay=5e-3)


def build_wrapper(model, optimizer=ADAM, **kwargs):
    cfg = dict(
        type='DynamicWeightDecayOptimWrapper',
        constructor='DynamicWeightDecayOptimWrapperConstructor',
        optimizer=optimizer,
        **kwargs)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return build_optim_wrapper(model, cfg)


def test_registered():
    assert OPTIM_WRAPPERS.get('DynamicWeightDecayOptimWrapper') is \
        DynamicWeightDecayOptimWrapper
    assert OPTIM_WRAPPER_CONSTRUCTORS.get(
        'DynamicWeightDecayOptimWrapperConstructor') is \
        DynamicWeightDecayOptimWrapperConstructor


@pytest.mark.parametrize('scale_weights', [None, 'flops', [2.0, 0.5]])
def test_added_gradient_by_hand(scale_weights):
    model = tiny_backbone()
    wrapper = build_wrapper(
        model, dynamic_decay=3.0, scale_weights=scale_weights)
    model.train()
    loss, stats = record_gap(model, batch())
    loss.backward()
    raw = {id(n): n.weight.grad.clone() for n, _, _ in goct_norm_acts(model)}
    wrapper.apply_dynamic_decay()
    checked = 0
    for norm, _, j in goct_norm_acts(model):
        if scale_weights is None:
            w = 1.0
        elif scale_weights == 'flops':
            w = 0.25**j
        else:
            w = scale_weights[j]
        expected = 3.0 * w * stats[id(norm)] * norm.weight.detach()
        added = norm.weight.grad - raw[id(norm)]
        torch.testing.assert_close(added, expected, rtol=1e-5, atol=1e-7)
        assert expected.abs().min() > 0
        checked += 1
    assert checked == len(wrapper.targets) == 27
    # the optimizer step uses the decayed gradient (SGD: p -= lr * grad)
    model2 = tiny_backbone()
    sgd = build_wrapper(
        model2, optimizer=dict(type='SGD', lr=0.1), dynamic_decay=3.0)
    model2.train()
    loss, stats = record_gap(model2, batch())
    loss.backward()
    before = {id(n): (n.weight.detach().clone(), n.weight.grad.clone())
              for n, _, _ in goct_norm_acts(model2)}
    sgd.step()
    for norm, _, _ in goct_norm_acts(model2):
        g0, grad = before[id(norm)]
        expected = g0 - 0.1 * (grad + 3.0 * stats[id(norm)] * g0)
        torch.testing.assert_close(norm.weight.detach(), expected, rtol=1e-5,
                                   atol=1e-7)


def test_zero_decay_equals_plain_adam():
    model_a = tiny_backbone()
    model_b = copy.deepcopy(model_a)
    wrapper = build_wrapper(model_a, dynamic_decay=0.0)
    gammas = {id(n.weight) for n, _, _ in goct_norm_acts(model_b)}
    plain = adam_without_gamma_decay(model_b, gammas)
    model_a.train()
    model_b.train()
    for step in range(3):
        x = batch(seed=10 + step)
        wrapper.update_params(loss_fn(model_a, x))
        plain.zero_grad()
        loss_fn(model_b, x).backward()
        plain.step()
    for (name, pa), pb in zip(model_a.named_parameters(),
                              model_b.parameters()):
        assert torch.equal(pa, pb), name
    assert wrapper.num_decay_steps == 3


@pytest.mark.parametrize('scale_weights', [None, 'flops'])
def test_l1_decay_is_network_slimming(scale_weights):
    """l1_decay (dynamic_decay=0) is Adam on loss + l1 * sum w_k |gamma| of
    the targeted gammas (Liu et al. 2017), and the targeted gammas keep
    weight_decay 0."""
    model_a = tiny_backbone()
    model_b = copy.deepcopy(model_a)
    wrapper = build_wrapper(
        model_a, dynamic_decay=0.0, l1_decay=1e-2,
        scale_weights=scale_weights)
    norms = goct_norm_acts(model_b)
    weight = {id(n.weight): (1.0 if scale_weights is None else 0.25**j)
              for n, _, j in norms}
    plain = adam_without_gamma_decay(model_b, weight)
    model_a.train()
    model_b.train()
    for step in range(3):
        x = batch(seed=20 + step)
        wrapper.update_params(loss_fn(model_a, x))
        plain.zero_grad()
        penalty = sum(weight[id(n.weight)] * n.weight.abs().sum()
                      for n, _, _ in norms)
        (loss_fn(model_b, x) + 1e-2 * penalty).backward()
        plain.step()
    moved = 0
    for (name, pa), pb in zip(model_a.named_parameters(),
                              model_b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-6, atol=1e-7, msg=name)
    # the penalty changes the targeted gammas against a run without it
    model_c = tiny_backbone()
    free = build_wrapper(model_c, dynamic_decay=0.0)
    model_c.train()
    for step in range(3):
        free.update_params(loss_fn(model_c, batch(seed=20 + step)))
    for (name, pa), pc in zip(model_a.named_parameters(),
                              model_c.parameters()):
        if id(pc) in {id(n.weight) for n, _, _ in goct_norm_acts(model_c)}:
            moved += int(not torch.allclose(pa, pc, rtol=0, atol=1e-4))
    assert len(wrapper.targets) == 27
    assert moved > 20  # (25: two gammas move alike with and without it)
    assert wrapper.state_dict()['dynamic_weight_decay']['config'][
        'l1_decay'] == 1e-2
    with pytest.raises(ValueError, match='l1_decay must be >= 0'):
        build_wrapper(tiny_backbone(), l1_decay=-1.0)


def test_param_groups_weight_decay():
    model = MODELS.build(
        Config.fromfile(osp.join(CONFIGS, '_base_/models/csnet.py')).model)
    wrapper = build_wrapper(model)
    decay = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            decay[id(p)] = group['weight_decay']
    gammas = {id(n.weight) for n, _, _ in goct_norm_acts(model.backbone)}
    assert len(gammas) == len(wrapper.targets) == 15 * 3 * 2 + 3 * 3
    for name, p in model.named_parameters():
        assert decay[id(p)] == (0.0 if id(p) in gammas else 5e-3), name
    # the head (GOctConvs + multi-dilation norms) is opt-in
    model_head = copy.deepcopy(model)
    with_head = build_wrapper(model_head, include_head=True)
    head_names = [t.name for t in with_head.targets if t.in_head]
    assert len(with_head.targets) == len(wrapper.targets) + len(head_names)
    assert len(head_names) == 3 + 3 + 1
    assert any('multi_dilation' in n for n in head_names)
    head_norm_ids = {
        id(m.norm_act.norms[j].weight)
        for m in model_head.decode_head.modules()
        if isinstance(m, (GOctConv, MultiDilationConv))
        for j in range(len(m.norm_act.norms))
    }
    head_decay = {id(p): g['weight_decay']
                  for g in with_head.optimizer.param_groups
                  for p in g['params']}
    assert all(head_decay[i] == 0.0 for i in head_norm_ids)


def test_target_weight_decay():
    # the released code's grouping: the standard decay on top of the term
    model = MODELS.build(
        Config.fromfile(osp.join(CONFIGS, '_base_/models/csnet.py')).model)
    wrapper = build_wrapper(model, target_weight_decay=5e-3)
    assert wrapper.target_weight_decay == 5e-3
    gammas = {id(t.gamma) for t in wrapper.targets}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            assert group['weight_decay'] == 5e-3
    assert gammas
    with pytest.raises(ValueError, match='target_weight_decay must be'):
        build_wrapper(copy.deepcopy(model), target_weight_decay=-1)


def test_target_regex_and_errors():
    model = tiny_backbone()
    targets = find_dwd_targets(model, target_regex=r'conv_dw\d')
    assert len(targets) == 18
    assert all('conv_dw' in t.name for t in targets)
    with pytest.raises(ValueError, match='found no norm'):
        build_wrapper(tiny_backbone(), target_regex='no_such_layer')
    with pytest.raises(ValueError, match='invalid target_regex'):
        find_dwd_targets(model, target_regex='(')
    # without the constructor the wrapper lacks the model ...
    with DefaultScope.overwrite_default_scope('mmseg'):
        with pytest.raises(TypeError, match='needs the model'):
            build_optim_wrapper(
                tiny_backbone(),
                dict(type='DynamicWeightDecayOptimWrapper', optimizer=ADAM))
    # ... and given the model, gammas with standard decay are refused
    model = tiny_backbone()
    with pytest.raises(ValueError, match='weight_decay=0.005'):
        DynamicWeightDecayOptimWrapper(
            torch.optim.Adam(model.parameters(), weight_decay=5e-3),
            model=model)
    with pytest.raises(ValueError, match='has only 1 entries'):
        build_wrapper(tiny_backbone(), scale_weights=[1.0])
    with pytest.raises(KeyError, match='unknown DWD metric'):
        build_wrapper(tiny_backbone(), metric='nope')


def test_hooks_keep_no_activation():
    model = tiny_backbone()
    wrapper = build_wrapper(model)
    model.train()
    refs = []
    first_act = wrapper.targets[0].act
    handle = first_act.register_forward_hook(
        lambda m, i, o: refs.append(weakref.ref(o)))
    loss = loss_fn(model, batch())
    loss.backward()
    del loss
    gc.collect()
    handle.remove()
    assert refs and refs[0]() is None, 'an activation is still alive'
    for t, stat, count in zip(wrapper.targets, wrapper._stat_sum,
                              wrapper.pending_counts):
        assert count == 1
        assert stat.shape == t.gamma.shape and stat.dtype == torch.float32
        assert not stat.requires_grad and stat.grad_fn is None
        assert stat.untyped_storage().nbytes() == 4 * t.gamma.numel()
    # eval mode and no_grad forwards are not recorded
    wrapper.step()
    model.eval()
    loss_fn(model, batch())
    model.train()
    with torch.no_grad():
        loss_fn(model, batch())
    assert wrapper.pending_counts == [0] * len(wrapper.targets)
    # a deep copy of the model carries the hooks but does not record
    copy.deepcopy(model).train()(batch())
    assert wrapper.pending_counts == [0] * len(wrapper.targets)


def test_accumulation_rule():
    """S is averaged over the accumulated passes; the decay is added once."""
    model = tiny_backbone()
    ref = copy.deepcopy(model)
    wrapper = build_wrapper(
        model,
        optimizer=dict(type='SGD', lr=1.0),
        dynamic_decay=3.0,
        accumulative_counts=2)
    model.train()
    ref.train()
    xa, xb = batch(seed=3), batch(seed=4)
    gamma0 = {id(n): n.weight.detach().clone()
              for n, _, _ in goct_norm_acts(ref)}
    # by hand: accumulated (averaged) gradients and S of both passes
    loss_a, s_a = record_gap(ref, xa)
    (loss_a / 2).backward()
    loss_b, s_b = record_gap(ref, xb)
    (loss_b / 2).backward()
    with torch.no_grad():
        for norm, _, _ in goct_norm_acts(ref):
            s = (s_a[id(norm)] + s_b[id(norm)]) / 2
            norm.weight -= norm.weight.grad + 3.0 * s * gamma0[id(norm)]

    wrapper.update_params(loss_fn(model, xa))
    assert wrapper.num_decay_steps == 0
    assert wrapper.pending_counts == [1] * len(wrapper.targets)
    wrapper.update_params(loss_fn(model, xb))
    assert wrapper.num_decay_steps == 1
    assert wrapper.pending_counts == [0] * len(wrapper.targets)
    for (norm, _, _), (nref, _, _) in zip(goct_norm_acts(model),
                                          goct_norm_acts(ref)):
        s = (s_a[id(nref)] + s_b[id(nref)]) / 2
        idx = [t.norm for t in wrapper.targets].index(norm)
        torch.testing.assert_close(wrapper.last_stat[idx], s, rtol=1e-5,
                                   atol=1e-7)
        torch.testing.assert_close(norm.weight, nref.weight, rtol=1e-5,
                                   atol=1e-7)


def test_state_dict_round_trip():
    model = tiny_backbone()
    model2 = copy.deepcopy(model)
    wrapper = build_wrapper(model, dynamic_decay=2.0, metric='l2')
    model.train()
    wrapper.update_params(loss_fn(model, batch(seed=5)))
    loss_fn(model, batch(seed=6)).backward()  # recorded, not yet stepped
    buf = io.BytesIO()
    torch.save(wrapper.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf)  # weights_only: plain tensors and containers

    model2.load_state_dict(model.state_dict())
    wrapper2 = build_wrapper(model2, dynamic_decay=2.0, metric='l2')
    wrapper2.load_state_dict(state)
    assert wrapper2.num_decay_steps == 1
    assert wrapper2.pending_counts == wrapper.pending_counts == [1] * 27
    for a, b in zip(wrapper.last_stat + wrapper._stat_sum,
                    wrapper2.last_stat + wrapper2._stat_sum):
        assert torch.equal(a, b)
    cfg = state['dynamic_weight_decay']['config']
    assert cfg['dynamic_decay'] == 2.0 and cfg['metric'] == 'l2'
    # continuing gives the same parameters
    for p, p2 in zip(model.parameters(), model2.parameters()):
        p2.grad = None if p.grad is None else p.grad.clone()
    wrapper.step()
    wrapper2.step()
    for p, p2 in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, p2)
    # a plain optimizer state dict (no DWD entry) still loads
    wrapper2.load_state_dict(wrapper.optimizer.state_dict())


def test_metrics():
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(get_dwd_metric('gap')(x),
                               x.mean((2, 3)).abs().mean(0))
    torch.testing.assert_close(get_dwd_metric('l2')(x),
                               x.pow(2).mean((2, 3)).sqrt().mean(0))
    torch.testing.assert_close(get_dwd_metric('max')(x),
                               x.abs().amax((2, 3)).mean(0))

    def ones(a):
        return torch.ones(a.shape[1])

    model = tiny_backbone()
    wrapper = build_wrapper(model, metric=ones, dynamic_decay=0.5)
    model.train()
    loss_fn(model, batch()).backward()
    raw = [t.gamma.grad.clone() for t in wrapper.targets]
    wrapper.apply_dynamic_decay()
    for t, g in zip(wrapper.targets, raw):  # plain L2 on the gammas
        torch.testing.assert_close(t.gamma.grad - g, 0.5 * t.gamma.detach())


def test_amp_adds_decay_to_unscaled_gradient():
    model = tiny_backbone()
    model_amp = copy.deepcopy(model)
    plain = build_wrapper(model, dynamic_decay=3.0)
    amp = build_wrapper(model_amp, dynamic_decay=3.0, amp=True,
                        loss_scale=1024.0)
    assert amp.loss_scaler.get_scale() == 1024.0
    for m, w in ((model, plain), (model_amp, amp)):
        m.train()
        for step in range(2):  # float32 forward; only the scaler differs
            w.update_params(loss_fn(m, batch(seed=20 + step)))
    for p, q in zip(model.parameters(), model_amp.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    state = amp.state_dict()
    assert state['loss_scaler']['scale'] == 1024.0


@pytest.mark.parametrize('name,lr', [('csnet_duts.py', 1e-4),
                                     ('csnet_synthetic.py', 5e-3)])
def test_config_built_wrapper(name, lr):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    assert cfg.optim_wrapper.type == 'DynamicWeightDecayOptimWrapper'
    model = MODELS.build(cfg.model)
    with DefaultScope.overwrite_default_scope('mmseg'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(wrapper, DynamicWeightDecayOptimWrapper)
    assert wrapper.dynamic_decay == 3.0
    assert wrapper.optimizer.defaults['lr'] == lr
    assert wrapper.optimizer.defaults['betas'] == (0.9, 0.99)
    assert all(not t.in_head for t in wrapper.targets)
    assert all(t.name.startswith('backbone.') for t in wrapper.targets)
    model.train()
    x = torch.randn(2, 3, 32, 32)
    wrapper.update_params(model.decode_head(model.backbone(x)).mean())
    assert wrapper.num_decay_steps == 1
    assert all(s is not None for s in wrapper.last_stat)
