"""A pruning threshold that would remove every channel of a layer stops
with an error naming the layer and its largest |gamma|, and writes nothing:
through tools/prune.py and through ChannelPruningHook at the end of
training (whose checkpoints are saved before it runs)."""
import logging
import os.path as osp
import re
import runpy
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from csnet_mmseg.engine.hooks import ChannelPruningHook
from csnet_mmseg.models import LayerTable
from csnet_mmseg.pruning import PruningError
from mmseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MESSAGE = (r'threshold 1000 would remove every channel of layer '
           r'backbone\.stem\.conv_mix \(its largest \|gamma\| is 1\)')


def _tiny(tmp_path):
    table = LayerTable.initial(width=8).to_dict()
    cfg_path = tmp_path / 'tiny.py'
    cfg_path.write_text(f"""
_base_ = ['{ROOT}/configs/_base_/models/csnet.py']
model = dict(
    backbone=dict(
        stem_channels={table['backbone']['stem_channels']!r},
        stage_channels={table['backbone']['stage_channels']!r}),
    decode_head={table['decode_head']!r})
""")
    cfg = Config.fromfile(str(cfg_path))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # BN gammas are 1 at initialisation
    ckpt = str(tmp_path / 'tiny.pth')
    save_checkpoint(dict(meta={}, state_dict=model.state_dict()), ckpt)
    return cfg_path, cfg, model, ckpt


def test_prune_tool(tmp_path, monkeypatch):
    cfg_path, _, _, ckpt = _tiny(tmp_path)
    out = tmp_path / 'out'
    monkeypatch.setattr(sys, 'argv', [
        'prune.py',
        str(cfg_path), ckpt, '--out-dir',
        str(out), '--threshold', '1000', '--input-size', '32', '32'
    ])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(
            osp.join(ROOT, 'tools', 'prune.py'), run_name='__main__')
    assert info.value.code != 0
    assert str(info.value.code).startswith('prune: ')
    assert re.search(MESSAGE, str(info.value.code)), info.value.code
    assert not out.exists() or not any(out.iterdir())


def test_pruning_hook_at_end_of_training(tmp_path):
    _, cfg, model, _ = _tiny(tmp_path)
    runner = SimpleNamespace(
        model=model,
        cfg=cfg,
        work_dir=str(tmp_path / 'work'),
        iter=10,
        epoch=0,
        logger=logging.getLogger('test_prune_whole_layer'))
    hook = ChannelPruningHook(threshold=1000, input_size=(32, 32))
    hook.before_train(runner)
    with pytest.raises(PruningError, match=MESSAGE):
        hook.after_train(runner)
    assert not hook.pruned
    assert not osp.exists(osp.join(runner.work_dir, 'pruned'))
