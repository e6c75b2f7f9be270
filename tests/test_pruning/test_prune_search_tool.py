"""tools/prune.py --max-increase: the threshold search through the tool, on
a tiny model with known dead channels and a tiny synthetic validation
set."""
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmengine.config import Config

from csnet_mmseg.testing import SMALL_TABLE, build_random_segmentor, \
    tiny_model_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRUNE = osp.join(ROOT, 'tools', 'prune.py')
SIZE = 48


def run_tool(monkeypatch, argv):
    monkeypatch.setattr(sys, 'argv', [PRUNE] + argv)
    runpy.run_path(PRUNE, run_name='__main__')


@pytest.fixture
def setup(tmp_path):
    from csnet_mmseg.datasets.synthetic import make_synthetic_sod
    data = tmp_path / 'data'
    make_synthetic_sod(
        str(data), num_train=2, num_val=3, size=(SIZE, SIZE), seed=0)
    pipeline = [
        dict(type='LoadSODImage'),
        dict(type='Resize', scale=(SIZE, SIZE), keep_ratio=False),
        dict(type='LoadSODAnnotations'),
        dict(type='PackSegInputs'),
    ]
    val_loader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='SODDataset',
            data_root=str(data / 'val'),
            dataset_name='tiny_val',
            test_mode=True,
            pipeline=pipeline))
    cfg = Config(
        dict(
            custom_imports=dict(
                imports=['csnet_mmseg'], allow_failed_imports=False),
            default_scope='mmseg',
            model=tiny_model_cfg(SMALL_TABLE).to_dict(),
            val_dataloader=val_loader,
            val_evaluator=dict(type='SODMetric',
                               sod_metrics=['MAE', 'Fmeasure'])))
    cfg_path = str(tmp_path / 'tiny.py')
    cfg.dump(cfg_path)
    model = build_random_segmentor(SMALL_TABLE, seed=0)
    block = model.backbone.get_submodule('stages.0.1')
    with torch.no_grad():
        for layer in (block.conv_mix, block.conv_dw1, block.conv_dw2):
            layer.norm_act.norms[1].weight[[0, 2]] = 0
            layer.norm_act.norms[1].bias[[0, 2]] = 0
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save(dict(meta={}, state_dict=model.state_dict()), ckpt)
    return tmp_path, cfg_path, ckpt


def test_search_through_the_tool(setup, monkeypatch, capsys):
    tmp, cfg, ckpt = setup
    out_dir = tmp / 'pruned'
    run_tool(monkeypatch, [
        cfg, ckpt, '--out-dir',
        str(out_dir), '--max-increase', 'MAE=1e-4', '--input-size',
        str(SIZE),
        str(SIZE), '--coarse-steps', '8'
    ])
    out = capsys.readouterr().out
    for name in ('search.md', 'search.png', 'pruned_config.py',
                 'pruned.pth', 'summary.md'):
        assert (out_dir / name).is_file(), name
    assert 'Chosen threshold' in out and '(chosen)' in out
    # the two dead channels of stages.0.1 (scale 1 of 4) are gone; the
    # bound of 1e-4 on MAE keeps every live channel
    table = Config.fromfile(str(out_dir / 'pruned_config.py')).model
    assert table.backbone.stage_channels[0][1] == \
        [SMALL_TABLE['backbone']['stage_channels'][0][1][0], 2]
    assert table.backbone.stage_channels[1:] == \
        SMALL_TABLE['backbone']['stage_channels'][1:]
    # never overwrites: the same out dir again stops
    with pytest.raises(SystemExit, match='refusing to overwrite'):
        run_tool(monkeypatch, [
            cfg, ckpt, '--out-dir',
            str(out_dir), '--max-increase', 'MAE=1e-4'
        ])


@pytest.mark.parametrize('extra, match', [
    (['--threshold', '0.1', '--max-increase', 'MAE=0.01'], 'not both'),
    (['--val-config', 'x.py'], 'only used with --max-increase'),
    (['--max-increase', 'MAE'], 'METRIC=AMOUNT'),
    (['--max-increase', 'F=0.1'], "unknown metric 'F'"),
    (['--max-increase', 'MAE=0.1', '--val-config', 'missing.py'],
     'missing.py not found'),
    (['--max-increase', 'MAE=0.1', '--val-batch-size', '0'],
     'val-batch-size must be >= 1'),
])
def test_bad_flags(setup, monkeypatch, extra, match):
    tmp, cfg, ckpt = setup
    with pytest.raises(SystemExit, match=match):
        run_tool(monkeypatch,
                 [cfg, ckpt, '--out-dir',
                  str(tmp / 'out'), '--input-size',
                  str(SIZE), str(SIZE)] + extra)
    assert not (tmp / 'out').exists()


def test_val_config_without_a_val_set(setup, monkeypatch, tmp_path):
    tmp, cfg, ckpt = setup
    bare = tmp / 'bare.py'
    bare.write_text("model = dict(type='EncoderDecoder')\n")
    with pytest.raises(SystemExit, match='has no val_dataloader'):
        run_tool(monkeypatch, [
            cfg, ckpt, '--out-dir',
            str(tmp / 'out'), '--max-increase', 'MAE=0.1', '--val-config',
            str(bare)
        ])
