"""tools/deployment/quantize_openvino.py (run as a CLI) on a tiny random
model, and the calibration choice of csnet_mmseg.deploy.quantize."""
import re

import cv2
import numpy as np
import pytest
from conftest import run_tool_main

from csnet_mmseg.deploy.openvino_backend import openvino_available
from csnet_mmseg.deploy.quantize import calibration_files, load_batch

TOOL = 'tools/deployment/quantize_openvino.py'


def quantize(argv):
    return run_tool_main(TOOL, argv)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """Calibration images (a split of 3 of 4 stems) and an accuracy set of
    2 image/mask pairs, all small."""
    root = tmp_path_factory.mktemp('quant')
    calib = root / 'calib'
    (calib / 'DUTS-TR-Image').mkdir(parents=True)
    rng = np.random.RandomState(0)
    for k in range(4):
        img = rng.randint(0, 256, (40 + k, 36, 3)).astype(np.uint8)
        cv2.imwrite(str(calib / 'DUTS-TR-Image' / f'im{k}.jpg'), img)
    (calib / 'train.txt').write_text('im0\nim1\nim3\n')
    (calib / 'bad.txt').write_text('im0\nnot_there\n')
    ev = root / 'eval'
    (ev / 'images').mkdir(parents=True)
    (ev / 'GT').mkdir()
    for k, (h, w) in enumerate([(30, 44), (50, 38)]):
        img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
        gt = np.zeros((h, w), np.uint8)
        gt[h // 4:h // 2, w // 4:w // 2] = 255
        cv2.imwrite(str(ev / 'images' / f'e{k}.jpg'), img)
        cv2.imwrite(str(ev / 'GT' / f'e{k}.png'), gt)
    return dict(calib=str(calib), eval=str(ev))


def test_quantize_writes_int8_ir(tiny_files, data, tmp_path, capsys):
    if not openvino_available():
        pytest.skip('openvino is not importable')
    pytest.importorskip('nncf')
    pytest.importorskip('onnx')
    out = tmp_path / 'q' / 'tiny_int8.xml'
    base = [
        tiny_files['config'], tiny_files['checkpoint'], '--out',
        str(out), '--calib-root', data['calib'], '--calib-split',
        'train.txt', '--num-calib', '2', '--size', '32', '--rounds', '1',
        '--runs', '1'
    ]
    # the fixed-size graph (the default)
    assert quantize(base) == 0
    text = capsys.readouterr().out
    assert out.is_file() and out.with_suffix('.bin').is_file()
    assert 'FakeQuantize' in out.read_text()
    fq = int(re.search(r': (\d+) FakeQuantize nodes; 2 calibration', text)[1])
    assert fq > 0 and 'fixed-size graph' in text
    n8 = int(re.search(r'(\d+) nodes of the int8 model run in int8', text)[1])
    assert n8 > 0
    assert re.search(r'\| 32 \| [\d.]+ \| [\d.]+ \| [\d.]+x \|', text)
    # an existing output is kept unless --overwrite is given
    with pytest.raises(SystemExit):
        quantize(base)
    assert '--overwrite' in capsys.readouterr().err
    # the accuracy table (224x224 protocol: a dynamic-size graph here)
    assert quantize(base + [
        '--overwrite', '--dynamic', '--no-bench', '--eval-root', data['eval']
    ]) == 0
    text = capsys.readouterr().out
    assert 'dynamic-size graph' in text and '| 32 |' not in text
    assert '| int8 - f32 |' in text and 'within the bound' in text
    assert re.search(r'\| f32 \| 0\.\d{5} \| 0\.\d{5} \|', text)


def test_calibration_choice(data):
    files = calibration_files(data['calib'], 'train.txt', num=2)
    assert len(files) == 2 and files == calibration_files(
        data['calib'], 'train.txt', num=2)
    assert all(f.split('/')[-1] in ('im0.jpg', 'im1.jpg', 'im3.jpg')
               for f in files)
    assert len(calibration_files(data['calib'], num=10)) == 4  # no split
    batch = load_batch(files[0], 32)
    assert batch.shape == (1, 3, 32, 32) and batch.dtype == np.float32
    with pytest.raises(FileNotFoundError, match='not_there'):
        calibration_files(data['calib'], 'bad.txt', num=2)


def test_bad_flags(tiny_files, data, tmp_path, capsys):
    existing = tmp_path / 'there.xml'
    existing.write_text('')
    base = [tiny_files['config'], tiny_files['checkpoint']]
    good = ['--calib-root', data['calib'], '--out', str(tmp_path / 'o.xml')]
    cases = [
        (good + ['--preset', 'fast'], '--preset must be one of'),
        (good + ['--model-type', 'cnn'], '--model-type must be one of'),
        (good + ['--num-calib', '0'], '--num-calib must be >= 1'),
        (good + ['--size', '16'], '--size must be >= 32'),
        (good + ['--threads', '0'], '--threads must be >= 1'),
        (good + ['--calib-split', 'nope.txt'], '--calib-split not found'),
        (good + ['--eval-root', data['calib']], '--eval-root'),
        (good + ['--eval-root', data['eval'], '--size', '64'],
         'needs --size 224 or --dynamic'),
        (['--calib-root', data['calib'], '--out', 'model.onnx'],
         '--out must be an OpenVINO .xml'),
        (['--calib-root', data['calib'], '--out', str(existing)],
         'exists; pass --overwrite'),
        (['--calib-root', str(tmp_path / 'none'), '--out', 'o.xml'],
         '--calib-root is not a folder'),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit):
            quantize(base + extra)
        assert message in capsys.readouterr().err, message
    with pytest.raises(SystemExit):
        quantize([tiny_files['config'], 'missing.pth'] + good)
    assert 'checkpoint not found' in capsys.readouterr().err
