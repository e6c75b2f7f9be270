"""One reading rule for images (csnet_mmseg.datasets.image_io): training and
testing (LoadSODImage), the metric's masks and tools/infer.py all reject a
truncated file with an error naming it, although libjpeg decodes a
truncated JPEG (grey bottom, only a stderr warning)."""
import logging

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

from csnet_mmseg.datasets.image_io import check_image_bytes, read_image
from csnet_mmseg.datasets.transforms import LoadSODImage, read_sod_mask
from csnet_mmseg.apis.inference import read_image_rgb
from mmseg.registry import TRANSFORMS


def _photo(h=160, w=200, seed=0):
    """A textured colour image: its JPEG has a long compressed scan."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.dstack([(xx * 255 // w), (yy * 255 // h), (xx + yy) % 256])
    noise = rng.randint(0, 60, (h, w, 3))
    return np.clip(img + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def jpegs(tmp_path):
    ok, data = cv2.imencode('.jpg', _photo())
    data = data.tobytes()
    good = tmp_path / 'good.jpg'
    good.write_bytes(data)
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(data[:int(len(data) * 0.7)])  # inside the image data
    return good, cut


def test_libjpeg_alone_accepts_the_truncated_jpeg(jpegs):
    """The premise: ``cv2.imread`` (what tools/infer.py used) decodes the
    cut file into a full-size image (``cv2.imdecode``, used by mmcv,
    refuses it): two tools, two answers for one file."""
    _, cut = jpegs
    img = cv2.imread(str(cut), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (160, 200, 3)


def test_truncated_jpeg_is_an_error_everywhere(jpegs):
    good, cut = jpegs
    msg = rf"Cannot read the image '.*cut\.jpg' .*truncated JPEG"
    with pytest.raises(OSError, match=msg):
        read_image(str(cut))
    with pytest.raises(OSError, match=msg):  # train and test pipelines
        LoadSODImage()(dict(img_path=str(cut)))
    with pytest.raises(OSError, match=msg):  # tools/infer.py
        read_image_rgb(str(cut))
    # the complete file decodes exactly as OpenCV decodes it
    ref = cv2.imread(str(good))
    assert np.array_equal(read_image(str(good)), ref)
    assert np.array_equal(LoadSODImage()(dict(img_path=str(good)))['img'],
                          ref)
    assert np.array_equal(read_image_rgb(str(good)), ref[..., ::-1])


def test_bytes_after_the_end_marker_are_accepted(jpegs, tmp_path):
    good, _ = jpegs
    padded = tmp_path / 'padded.jpg'
    padded.write_bytes(good.read_bytes() + b'\x00' * 100 + b'trailer')
    assert read_image(str(padded)).shape == (160, 200, 3)


def test_truncated_png_image_and_mask(tmp_path):
    ok, data = cv2.imencode('.png', _photo())
    data = data.tobytes()
    cut = tmp_path / 'cut.png'
    cut.write_bytes(data[:int(len(data) * 0.8)])
    with pytest.raises(OSError, match=r"image '.*cut\.png'.*truncated PNG"):
        read_image(str(cut))
    mask = (_photo()[..., 0] > 128).astype(np.uint8) * 255
    ok, data = cv2.imencode('.png', mask)
    cut.write_bytes(data.tobytes()[:-20])
    with pytest.raises(OSError, match=r"SOD mask '.*cut\.png'"):
        read_sod_mask(str(cut))  # training and the metric


@pytest.mark.parametrize(
    'data, reason',
    [(b'', 'empty'), (b'\xff\xd8\xff\xe0' + b'\x00' * 50, 'truncated JPEG'),
     (b'<html>404</html>', 'could not read'),
     (b'\x89PNG\r\n\x1a\n' + b'\x00' * 40, 'could not read')])
def test_empty_and_garbage(tmp_path, data, reason):
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(data)
    with pytest.raises(OSError, match=reason):
        read_image(str(bad))


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Image '.*nope\.jpg' does"):
        read_image(str(tmp_path / 'nope.jpg'))
    (tmp_path / 'dir.jpg').mkdir()
    with pytest.raises(OSError, match=r"'.*dir\.jpg'"):
        read_image(str(tmp_path / 'dir.jpg'))


def test_check_image_bytes_names_the_file():
    with pytest.raises(OSError, match="Cannot read the SOD mask 'x.png'"):
        check_image_bytes(b'', 'x.png', what='SOD mask')


def test_skip_bad_samples_skips_a_truncated_jpeg(jpegs):
    """Where the user asked to skip bad files: a warning and a count."""
    good, cut = jpegs
    records = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        skip = TRANSFORMS.build(
            dict(type='SkipBadSamples',
                 transforms=[dict(type='LoadSODImage')]))
        assert skip(dict(img_path=str(good))) is not None
        assert skip(dict(img_path=str(cut))) is None
    finally:
        logger.removeHandler(handler)
    assert skip.counts == (2, 1)
    assert any('cut.jpg' in r and 'truncated JPEG' in r for r in records)
