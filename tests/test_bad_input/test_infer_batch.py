"""tools/infer.py on batches: a bad file is reported and skipped, every good
file is written, the run ends with a summary and exit status 1
(--fail-fast: the first error is fatal); an input is never overwritten."""
import os
import os.path as osp
import runpy

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def infer(argv):
    """``tools/infer.py``'s ``main(argv)``, run as ``python`` would."""
    return runpy.run_path(
        osp.join(ROOT, 'tools', 'infer.py'), run_name='tool')['main'](argv)


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('model')
    cfg = osp.join(ROOT, 'configs', 'csnet_l_x1.py')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg).model)
    ckpt = root / 'm.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(ckpt))
    return ['--config', cfg, '--checkpoint', str(ckpt)]


def _images(folder):
    folder.mkdir()
    rng = np.random.RandomState(0)
    for name in ('a.jpg', 'b.jpg', 'c.png', 'd.jpg', 'e.jpg'):
        cv2.imwrite(str(folder / name),
                    rng.randint(0, 256, (48, 64, 3)).astype(np.uint8))
    data = (folder / 'b.jpg').read_bytes()
    (folder / 'b.jpg').write_bytes(data[:len(data) * 2 // 3])  # truncated
    (folder / 'd.jpg').write_bytes(b'')  # empty
    return folder


def test_bad_files_are_skipped_and_reported(model_files, tmp_path,
                                            capsys):
    images = _images(tmp_path / 'images')
    out = tmp_path / 'out'
    status = infer(
        [str(images), '--out-dir', str(out), '--batch-size', '4'] +
        model_files)
    assert status == 1
    assert sorted(os.listdir(out)) == ['a.png', 'c.png', 'e.png']
    err = capsys.readouterr()
    assert '3 of 5 image(s) written' in err.out
    assert '2 image(s) failed' in err.err
    assert 'b.jpg' in err.err and 'truncated JPEG' in err.err
    assert 'd.jpg' in err.err and 'empty' in err.err


def test_fail_fast_stops_at_the_first_bad_file(model_files,
                                               tmp_path):
    images = _images(tmp_path / 'images')
    out = tmp_path / 'out'
    with pytest.raises(SystemExit, match=r"(?s)'.*b\.jpg'.*--fail-fast"):
        infer([str(images), '--out-dir', str(out), '--fail-fast'] +
                   model_files)
    assert os.listdir(out) == ['a.png']  # written before the bad one


def test_never_overwrites_an_input(model_files, tmp_path):
    images = _images(tmp_path / 'images')
    before = (images / 'c.png').read_bytes()
    for extra in ([], ['--overwrite']):
        with pytest.raises(SystemExit,
                           match=r'output .*c\.png would replace the input'):
            infer([str(images), '--out-dir', str(images)] + extra +
                       model_files)
    assert (images / 'c.png').read_bytes() == before
    assert not (images / 'a.png').exists()  # nothing written
    # the same through another spelling of the folder
    with pytest.raises(SystemExit, match='would replace the input'):
        infer([
            str(images / 'c.png'), '--out-dir',
            str(images / '..' / 'images'), '--overwrite'
        ] + model_files)
    assert (images / 'c.png').read_bytes() == before


def test_out_dir_is_a_file(model_files, tmp_path):
    img = tmp_path / 'a.jpg'
    cv2.imwrite(str(img), np.zeros((16, 16, 3), np.uint8))
    (tmp_path / 'out').write_text('a file')
    with pytest.raises(SystemExit, match='is a file'):
        infer([str(img), '--out-dir', str(tmp_path / 'out')] +
                   model_files)
