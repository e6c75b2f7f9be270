"""tools/infer.py (run as a CLI): 8-bit saliency PNGs at the original
sizes."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from conftest import run_tool_main

from csnet_mmseg.deploy import convert_to_deploy
from csnet_mmseg.deploy.onnx_export import export_onnx


def infer(argv):
    return run_tool_main('tools/infer.py', argv)


def _read(out_dir, name):
    img = cv2.imread(osp.join(out_dir, name), cv2.IMREAD_UNCHANGED)
    assert img is not None, name
    return img


def test_folder_to_pngs_and_no_overwrite(tiny_files, tmp_path):
    out = str(tmp_path / 'out')
    args = [
        tiny_files['images'], '--out-dir', out, '--config',
        tiny_files['config'], '--checkpoint', tiny_files['checkpoint']
    ]
    assert infer(args + ['--overlay']) == 0
    names = sorted(os.listdir(out))
    assert names == ['a.png', 'b.png', 'c.png', 'overlay']
    for name, (h, w) in tiny_files['sizes'].items():
        stem = osp.splitext(name)[0]
        sal = _read(out, stem + '.png')
        assert sal.dtype == np.uint8 and sal.shape == (h, w)
        assert _read(osp.join(out, 'overlay'),
                     stem + '.jpg').shape == (h, w, 3)
    before = {n: _read(out, n).copy() for n in ('a.png', 'b.png')}
    # refuses to overwrite, and writes nothing
    with pytest.raises(SystemExit, match='--overwrite'):
        infer(args)
    # the fused form gives the same maps (the same 8-bit levels up to 1)
    assert infer(args + ['--deploy', '--overwrite']) == 0
    for n, ref in before.items():
        diff = np.abs(_read(out, n).astype(int) - ref.astype(int)).max()
        assert diff <= 1, n


def test_official_protocol(tiny_files, tmp_path):
    """One image by hand: resize to 224, normalise, sigmoid, resize back."""
    out = str(tmp_path / 'one')
    img_path = osp.join(tiny_files['images'], 'c.jpg')
    assert infer([
        img_path, '--out-dir', out, '--config', tiny_files['config'],
        '--checkpoint', tiny_files['checkpoint']
    ]) == 0
    rgb = cv2.cvtColor(cv2.imread(img_path), cv2.COLOR_BGR2RGB)
    x = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(x).permute(2, 0, 1)[None].float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    seg = tiny_files['segmentor']
    with torch.no_grad():
        p = torch.nn.functional.interpolate(
            seg((x - mean) / std, mode='tensor'), (224, 224),
            mode='bilinear').sigmoid()
        p = torch.nn.functional.interpolate(p, rgb.shape[:2], mode='bilinear')
    ref = (p[0, 0] * 255).round().numpy().astype(int)
    diff = np.abs(_read(out, 'c.png').astype(int) - ref).max()
    assert diff <= 1


def test_onnxruntime_backend_and_glob(tiny_files, tmp_path):
    pytest.importorskip('onnxruntime')
    onnx_file = str(tmp_path / 'tiny.onnx')
    export_onnx(
        convert_to_deploy(tiny_files['segmentor'], with_sigmoid=True),
        onnx_file,
        shape=(224, 224))
    ref_dir, ort_dir = str(tmp_path / 'pt'), str(tmp_path / 'ort')
    pattern = osp.join(tiny_files['images'], '*.jpg')
    assert infer([
        pattern, '--out-dir', ref_dir, '--config', tiny_files['config'],
        '--checkpoint', tiny_files['checkpoint']
    ]) == 0
    assert infer([
        pattern, '--out-dir', ort_dir, '--backend', 'onnxruntime', '--onnx',
        onnx_file, '--batch-size', '2'
    ]) == 0
    assert sorted(os.listdir(ort_dir)) == ['a.png', 'c.png']
    for n in ('a.png', 'c.png'):
        diff = np.abs(
            _read(ort_dir, n).astype(int) - _read(ref_dir, n).astype(int))
        assert diff.max() <= 1


def test_bad_inputs(tiny_files, tmp_path):
    base = [
        '--out-dir',
        str(tmp_path / 'x'), '--config', tiny_files['config'], '--checkpoint',
        tiny_files['checkpoint']
    ]
    with pytest.raises(SystemExit, match='no such image'):
        infer([str(tmp_path / 'missing.jpg')] + base)
    with pytest.raises(SystemExit):  # argparse: pytorch needs a config
        infer([tiny_files['images'], '--out-dir', str(tmp_path)])
    clash = tmp_path / 'clash'
    clash.mkdir()
    for name in ('a.jpg', 'a.png'):
        (clash / name).write_bytes(
            open(osp.join(tiny_files['images'], 'a.jpg'), 'rb').read())
    with pytest.raises(SystemExit, match='same name stem'):
        infer([str(clash)] + base)


def test_mmseg_inference_api(tiny_files, tmp_path):
    """The MMSeg API route of docs/deployment.md: init_model +
    inference_model, with a test pipeline that loads plain images."""
    from mmseg.apis import inference_model, init_model
    model = init_model(
        tiny_files['config'], tiny_files['checkpoint'], device='cpu')
    model.cfg.test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
        dict(type='PackSegInputs'),
    ]
    img_path = osp.join(tiny_files['images'], 'a.jpg')
    result = inference_model(model, img_path)
    sal = result.seg_logits.data[0]  # already the sigmoid (1 channel)
    assert sal.shape == tiny_files['sizes']['a.jpg']
    assert 0 <= sal.min() and sal.max() <= 1
    out = str(tmp_path / 'api')
    assert infer([
        img_path, '--out-dir', out, '--config', tiny_files['config'],
        '--checkpoint', tiny_files['checkpoint']
    ]) == 0
    ours = _read(out, 'a.png').astype(np.float64) / 255
    # logits resized then sigmoid (MMSeg) vs sigmoid then resized (here)
    assert np.abs(ours - sal.numpy()).mean() < 0.01


def test_openvino_backend(tiny_files, tmp_path):
    """--backend openvino from the ONNX file and from config + checkpoint
    gives the PyTorch maps (8-bit levels up to 1)."""
    from csnet_mmseg.deploy.openvino_backend import openvino_available
    if not openvino_available():
        pytest.skip('openvino is not importable')
    pytest.importorskip('onnx')
    onnx_file = str(tmp_path / 'tiny.onnx')
    export_onnx(
        convert_to_deploy(tiny_files['segmentor'], with_sigmoid=False),
        onnx_file,
        shape=(64, 64))
    # an OpenVINO IR (as quantize_openvino.py writes, here in f32)
    import openvino as ov

    from csnet_mmseg.deploy.openvino_backend import convert_to_openvino
    ir_file = str(tmp_path / 'tiny.xml')
    ov.save_model(
        convert_to_openvino(onnx_file), ir_file, compress_to_fp16=False)
    ref_dir = str(tmp_path / 'pt')
    assert infer([
        tiny_files['images'], '--out-dir', ref_dir, '--config',
        tiny_files['config'], '--checkpoint', tiny_files['checkpoint']
    ]) == 0
    for name, extra in [('ov_onnx', ['--onnx', onnx_file, '--batch-size',
                                     '2']), ('ov_ir', ['--ir', ir_file]),
                        ('ov_model', [
                            '--config', tiny_files['config'], '--checkpoint',
                            tiny_files['checkpoint'], '--precision', 'f32'
                        ])]:
        out = str(tmp_path / name)
        assert infer([
            tiny_files['images'], '--out-dir', out, '--backend', 'openvino',
            '--threads', '1'
        ] + extra) == 0
        assert sorted(os.listdir(out)) == ['a.png', 'b.png', 'c.png']
        for n in ('a.png', 'b.png', 'c.png'):
            diff = np.abs(
                _read(out, n).astype(int) - _read(ref_dir, n).astype(int))
            assert diff.max() <= 1, (name, n)


def test_backend_option_errors(tiny_files, tmp_path, capsys):
    out = ['--out-dir', str(tmp_path / 'o')]
    model = ['--config', tiny_files['config'], '--checkpoint',
             tiny_files['checkpoint']]
    cases = [
        (['--backend', 'openvino'], '--onnx, --ir, or --config'),
        (['--backend', 'openvino', '--onnx', 'x.onnx'] + model,
         '--onnx, --ir, or --config'),
        (['--backend', 'openvino', '--config', tiny_files['config']],
         '--onnx, --ir, or --config'),
        (['--backend', 'openvino', '--deploy'] + model, '--deploy'),
        (['--backend', 'openvino', '--precision', 'int3'] + model,
         '--precision must be one of'),
        (model + ['--precision', 'f32'], '--precision is for'),
        (['--backend', 'openvino', '--threads', '0'] + model,
         '--threads must be'),
        (['--backend', 'onnxruntime'], 'needs --onnx'),
        (['--backend', 'openvino', '--ir', 'x.xml'] + model,
         '--onnx, --ir, or --config'),
        (['--backend', 'openvino', '--ir', 'x.onnx'], '--ir must be an'),
        (model + ['--ir', 'x.xml'], '--ir is for --backend openvino'),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit):
            infer([tiny_files['images']] + out + extra)
        assert message in capsys.readouterr().err, extra
