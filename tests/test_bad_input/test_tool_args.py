"""What a careless user gives the tools: missing or wrong files, bad
--cfg-options, damaged checkpoints. Each gets a one-line error naming the
file or key, no traceback and no silent result."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from tool_helpers import ROOT, build_model, run_tool, tool, write_config

from csnet_mmseg.checkpoint import CheckpointError, load_checkpoint_file
from csnet_mmseg.datasets import make_synthetic_sod
from csnet_mmseg.utils.tool_args import check_cfg_options

X1 = osp.join(ROOT, 'configs', 'csnet_l_x1.py')
BASE_MODEL = osp.join(ROOT, 'configs', '_base_', 'models', 'csnet.py')


def _fails(res, *needles):
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-2000:]
    assert 'Traceback' not in out, out[-3000:]
    for needle in needles:
        assert needle in out, out[-2000:]
    return out


def test_missing_config_and_checkpoint(tmp_path):
    _fails(run_tool(tool('train.py'), tmp_path / 'nope.py'),
           'config file not found', 'nope.py')
    _fails(run_tool(tool('test.py'), X1, tmp_path / 'nope.pth'),
           'checkpoint file not found', 'nope.pth')


def test_cfg_options_without_value_and_misspelt_key(tmp_path):
    _fails(run_tool(tool('train.py'), X1, '--cfg-options', 'max_iters'),
           "expected KEY=VALUE items, got 'max_iters'")
    # a misspelt top-level key would be added and read by nothing
    _fails(run_tool(tool('test.py'), X1, tmp_path / 'x.pth', '--cfg-options',
                    'load_form=a.pth'), '')  # checkpoint checked first
    ckpt = tmp_path / 'x.pth'
    torch.save(dict(state_dict=build_model().state_dict()), str(ckpt))
    _fails(run_tool(tool('test.py'), X1, ckpt, '--cfg-options',
                    'test_evaluatr.overwrite=True'),
           "'test_evaluatr' is not a key", "did you mean 'test_evaluator'")


def test_check_cfg_options():
    from mmengine.config import Config
    cfg = Config(dict(model=dict(a=1), data_root='x'))
    check_cfg_options(cfg, {'model.a': 2, 'data_root': 'y', 'launcher': 'x',
                            'randomness.seed': 1, 'sync_bn': 'torch'})
    with pytest.raises(ValueError, match="did you mean 'load_from'"):
        check_cfg_options(cfg, {'load_form': 'a.pth'})


def test_missing_data_folder_is_one_line(tmp_path):
    ckpt = tmp_path / 'x.pth'
    torch.save(dict(state_dict=build_model().state_dict()), str(ckpt))
    cfg = write_config(tmp_path / 'tiny.py', tmp_path / 'no_data')
    _fails(run_tool(tool('test.py'), cfg, ckpt, '--work-dir', tmp_path / 'w'),
           'error: SODDataset', 'does not exist')
    _fails(run_tool(tool('train.py'), cfg, '--work-dir', tmp_path / 'w'),
           'error: SODDataset', 'does not exist')


@pytest.mark.parametrize(
    'content, reason',
    [(b'', 'the file is empty'),
     (b'# a README, not weights\n', 'not a PyTorch checkpoint')],
    ids=['empty', 'text'])
def test_not_a_checkpoint(tmp_path, content, reason):
    path = tmp_path / 'model.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"'{path}': {reason}"):
        load_checkpoint_file(str(path))


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / 'model.pth'
    torch.save(dict(state_dict=build_model().state_dict()), str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError,
                       match=rf"Cannot load the checkpoint '{path}' \(cut"):
        load_checkpoint_file(str(path))
    res = run_tool(tool('deployment/pytorch2onnx.py'), X1, path,
                   tmp_path / 'm.onnx')
    _fails(res, f"Cannot load the checkpoint '{path}'")


def _main(relpath, argv):
    """A tool's ``main(argv)``, run as ``python tools/RELPATH`` would."""
    import runpy
    return runpy.run_path(tool(relpath), run_name='tool')['main'](argv)


def test_sod_curves_truncated_map(tmp_path):
    gt_dir, maps = tmp_path / 'ECSSD' / 'GT', tmp_path / 'maps'
    gt_dir.mkdir(parents=True)
    maps.mkdir()
    mask = np.zeros((40, 50), np.uint8)
    mask[10:30, 10:40] = 255
    cv2.imwrite(str(gt_dir / 'a.png'), mask)
    ok, data = cv2.imencode('.png', mask)
    (maps / 'a.png').write_bytes(data.tobytes()[:-20])
    status = _main('analysis_tools/sod_curves.py', [
        '--pred', f'm={maps}', '--gt',
        str(gt_dir), '--out-dir',
        str(tmp_path / 'out')
    ])
    assert status == 1


def test_infer_explicit_non_image_is_reported(tmp_path):
    ckpt = tmp_path / 'x.pth'
    torch.save(dict(state_dict=build_model().state_dict()), str(ckpt))
    notes = tmp_path / 'notes.txt'
    notes.write_text('not an image')
    good = tmp_path / 'a.jpg'
    cv2.imwrite(str(good), np.zeros((20, 30, 3), np.uint8))
    status = _main('infer.py', [
        str(notes),
        str(good), '--out-dir',
        str(tmp_path / 'out'), '--config', BASE_MODEL, '--checkpoint',
        str(ckpt)
    ])
    assert status == 1
    assert (tmp_path / 'out' / 'a.png').is_file()
    assert not (tmp_path / 'out' / 'notes.png').exists()


def test_prune_calib_without_data(tmp_path):
    ckpt = tmp_path / 'x.pth'
    torch.save(dict(state_dict=build_model().state_dict()), str(ckpt))
    data = tmp_path / 'data'
    make_synthetic_sod(str(data), num_train=2, num_val=1, size=(32, 32))
    cfg = write_config(tmp_path / 'tiny.py', tmp_path / 'no_data')
    _fails(run_tool(tool('prune.py'), cfg, ckpt, '--out-dir', tmp_path / 'p',
                    '--calib-batches', '1'),
           'prune: --calib-batches:', 'does not exist')


def test_export_verify_with_a_bad_image(tmp_path):
    ckpt = tmp_path / 'x.pth'
    torch.save(dict(state_dict=build_model().state_dict()), str(ckpt))
    images = tmp_path / 'images'
    images.mkdir()
    ok, data = cv2.imencode('.jpg', np.full((64, 64, 3), 90, np.uint8))
    (images / 'cut.jpg').write_bytes(data.tobytes()[:-200])
    with pytest.raises(SystemExit,
                       match=r"--verify: Cannot read the image '.*cut\.jpg'"):
        _main('deployment/pytorch2onnx.py', [
            BASE_MODEL,
            str(ckpt),
            str(tmp_path / 'm.onnx'), '--verify',
            str(images)
        ])


def test_test_tool_out_folder_not_empty(tmp_path):
    ckpt = tmp_path / 'x.pth'
    torch.save(dict(state_dict=build_model().state_dict()), str(ckpt))
    data = tmp_path / 'data'
    make_synthetic_sod(str(data), num_train=1, num_val=1, size=(32, 32))
    cfg = write_config(tmp_path / 'tiny.py', data)
    (tmp_path / 'maps').mkdir()
    (tmp_path / 'maps' / 'keep.png').write_bytes(b'x')
    _fails(run_tool(tool('test.py'), cfg, ckpt, '--work-dir', tmp_path / 'w',
                    '--out', tmp_path / 'maps'),
           'error: SODMetric: output_dir', 'is not empty')
    assert (tmp_path / 'maps' / 'keep.png').read_bytes() == b'x'
