"""The one subnormal rule (csnet_mmseg.utils.subnormal): |v| < 1e-37 -> 0,
used by the converter and by the deploy form."""
import torch
from torch import nn

from csnet_mmseg.converters import flush_small_values
from csnet_mmseg.deploy.fold import copy_act
from csnet_mmseg.utils.subnormal import (FLUSH_BELOW, flush_subnormal,
                                         subnormal_mask)


def test_flush_subnormal():
    tiny = torch.finfo(torch.float32).tiny
    t = torch.tensor(
        [1e-40, -1e-39, tiny, -tiny, 5e-38, 0.0, 1e-37, -2e-37, 1.5, -2.0])
    out = flush_subnormal(t)
    # subnormals and values up to 1e-37 (tiny = 1.18e-38 included) become 0
    assert out.tolist()[:6] == [0.0] * 6
    assert torch.equal(out[6:], t[6:])
    assert FLUSH_BELOW == 1e-37
    ints = torch.arange(3)
    assert flush_subnormal(ints) is ints
    assert subnormal_mask(t).tolist() == [True] * 5 + [False] * 5
    low = flush_subnormal(t, below=1e-39)
    assert low[0] == 0 and torch.equal(low[2:], t[2:])


def test_converter_and_deploy_share_the_rule():
    t = torch.tensor([1e-40, 5e-38, 1e-37, 0.3])
    sd = dict(w=t.clone())
    assert flush_small_values(sd) == 2
    assert torch.equal(sd['w'], flush_subnormal(t))
    prelu = nn.PReLU(4)
    with torch.no_grad():
        prelu.weight.copy_(t)
    frozen = copy_act(prelu)
    assert torch.equal(frozen.weight.flatten(), flush_subnormal(t))
