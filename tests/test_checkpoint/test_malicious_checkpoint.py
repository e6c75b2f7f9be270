"""The safe checkpoint loader (:mod:`csnet_mmseg.checkpoint`): a checkpoint
whose unpickling runs code (a real pickle payload that creates a marker file)
is refused by every loader and tool, with a message naming the file, and the
payload never runs. Importing csnet_mmseg does not widen torch's
process-wide allow-list. (A payload in a released-style layer table is in
``tests/test_converters/test_table_file.py``.)"""
import os.path as osp

import pytest
import torch
from mmengine.runner import CheckpointLoader, load_checkpoint
from tool_helpers import (ROOT, build_model, run_tool,
                          save_payload_checkpoint, tool, write_config)

from csnet_mmseg.checkpoint import UnsafeCheckpointError
from csnet_mmseg.datasets import make_synthetic_sod


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / 'PWNED'
    path = save_payload_checkpoint(tmp_path / 'evil.pth', marker)
    return path, marker


def test_the_payload_is_real(tmp_path):
    """Unpickled without the safety, the file does run its code."""
    marker = tmp_path / 'RAN'
    path = save_payload_checkpoint(tmp_path / 'evil.pth', marker)
    torch.load(path, weights_only=False)
    assert marker.read_text() == 'code ran'


def test_import_does_not_weaken_torch(evil):
    """Nothing is added to torch's process-wide allow-list, and a plain
    ``torch.load`` still refuses the file."""
    import csnet_mmseg  # noqa: F401
    from csnet_mmseg.checkpoint import SAFE_CHECKPOINT_GLOBALS
    allowed = torch.serialization.get_safe_globals()
    assert not [g for g in SAFE_CHECKPOINT_GLOBALS if g in allowed]
    path, marker = evil
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path)
    assert not marker.exists()


def test_mmengine_and_mmseg_loaders_refuse(evil):
    from mmseg.apis import init_model
    path, marker = evil
    msg = rf"Refused to load the checkpoint '{path}': it refers to " \
        r'(builtins\.)?exec'
    with pytest.raises(UnsafeCheckpointError, match=msg):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    with pytest.raises(UnsafeCheckpointError, match=msg):
        load_checkpoint(build_model(), path, map_location='cpu')
    with pytest.raises(UnsafeCheckpointError, match=msg):
        init_model(osp.join(ROOT, 'configs', 'csnet_l_x1.py'), path)
    assert not marker.exists()


def _refused(res, path, marker):
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-2000:]
    assert f"Refused to load the checkpoint '{path}'" in out, out[-2000:]
    assert 'Traceback' not in out, out[-3000:]
    assert not marker.exists()


@pytest.fixture
def data_cfg(tmp_path):
    data = tmp_path / 'data'
    make_synthetic_sod(str(data), num_train=4, num_val=2, size=(48, 64))
    return write_config(tmp_path / 'tiny.py', data)


def test_test_tool_refuses(evil, data_cfg, tmp_path):
    path, marker = evil
    res = run_tool(tool('test.py'), data_cfg, path, '--work-dir',
                   tmp_path / 'w')
    _refused(res, path, marker)


def test_train_tool_load_from_refuses(evil, data_cfg, tmp_path):
    path, marker = evil
    res = run_tool(tool('train.py'), data_cfg, '--work-dir', tmp_path / 'w',
                   '--cfg-options', f'load_from={path}')
    _refused(res, path, marker)


def test_train_tool_resume_refuses(evil, data_cfg, tmp_path):
    """A payload planted as the latest checkpoint of a work dir."""
    path, marker = evil
    work = tmp_path / 'w'
    work.mkdir()
    planted = save_payload_checkpoint(work / 'iter_2.pth', marker)
    (work / 'last_checkpoint').write_text(planted)
    res = run_tool(tool('train.py'), data_cfg, '--work-dir', work,
                   '--resume')
    _refused(res, planted, marker)


def test_prune_tool_refuses(evil, tmp_path):
    path, marker = evil
    res = run_tool(tool('prune.py'), osp.join(ROOT, 'configs',
                                              'csnet_l_x1.py'), path,
                   '--out-dir', tmp_path / 'pruned')
    _refused(res, path, marker)
    assert not (tmp_path / 'pruned' / 'pruned.pth').exists()


def test_infer_and_export_refuse(evil, tmp_path):
    """tools/infer.py and tools/deployment/pytorch2onnx.py, run as users
    run them: they stop with the message and write nothing."""
    import cv2
    import numpy as np

    path, marker = evil
    cfg = osp.join(ROOT, 'configs', 'csnet_l_x1.py')
    img = tmp_path / 'a.jpg'
    cv2.imwrite(str(img), np.zeros((20, 20, 3), np.uint8))
    res = run_tool(
        tool('infer.py'), img, '--out-dir', tmp_path / 'out', '--config',
        cfg, '--checkpoint', path)
    _refused(res, path, marker)
    res = run_tool(
        tool('deployment/pytorch2onnx.py'), cfg, path, tmp_path / 'm.onnx')
    _refused(res, path, marker)
    assert not marker.exists()
    assert not (tmp_path / 'out' / 'a.png').exists()
    assert not (tmp_path / 'm.onnx').exists()


def test_converter_refuses_payloads(tmp_path):
    converter = tool('model_converters/csnet2mmseg.py')
    # a released-style (legacy format) checkpoint with a payload
    marker = tmp_path / 'PWNED'
    src = save_payload_checkpoint(
        tmp_path / 'evil.pth.tar', marker, legacy=True)
    (tmp_path / 'evil.bin').write_bytes(b'')
    res = run_tool(converter, src, tmp_path / 'out.pth')
    _refused(res, src, marker)
    assert not (tmp_path / 'out.pth').exists()
