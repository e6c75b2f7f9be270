"""INT8 post-training quantisation of an OpenVINO model with NNCF, on
calibration images prepared as the test pipeline does."""
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

__all__ = [
    'PRESETS', 'MODEL_TYPES', 'calibration_files', 'load_batch',
    'quantize_openvino'
]

#: NNCF presets and model types the quantisation accepts.
PRESETS = ('performance', 'mixed')
MODEL_TYPES = ('none', 'transformer')


def calibration_files(root: str,
                      split: Optional[str] = None,
                      img_dir: str = 'DUTS-TR-Image',
                      num: int = 300,
                      seed: int = 0) -> List[str]:
    """A seeded random choice of calibration images (sorted).

    Args:
        root (str): Data root.
        split (str, optional): File of image stems, relative to ``root``
            (None: every image of the image folder).
        img_dir (str): Image folder under ``root`` (``root`` itself if it
            does not exist). Defaults to 'DUTS-TR-Image'.
        num (int): At most this many images. Defaults to 300.
        seed (int): Seed of the choice. Defaults to 0.

    Raises:
        FileNotFoundError: No image, or stems of ``split`` without an
            image (naming the split file and one stem).
    """
    from ..apis.inference import IMAGE_EXTENSIONS
    folder = osp.join(root, img_dir)
    if not osp.isdir(folder):
        folder = root
    by_stem = {
        osp.splitext(f)[0]: osp.join(folder, f)
        for f in sorted(os.listdir(folder))
        if f.lower().endswith(IMAGE_EXTENSIONS)
    }
    if split:
        split = osp.join(root, split)
        with open(split) as f:
            stems = [ln.strip() for ln in f if ln.strip()]
        missing = [s for s in stems if s not in by_stem]
        if missing:
            raise FileNotFoundError(
                f'--calib-split: {len(missing)} image(s) of {split} are not '
                f'in {folder}, e.g. {missing[0]}')
        files = [by_stem[s] for s in stems]
    else:
        files = list(by_stem.values())
    if not files:
        raise FileNotFoundError(f'--calib-root: no images in {folder}')
    n = min(num, len(files))
    pick = np.random.RandomState(seed).choice(len(files), n, False)
    return [files[i] for i in sorted(pick)]


def load_batch(path: str, size: int) -> np.ndarray:
    """One image as the test pipeline feeds it: ``(1, 3, size, size)``
    float32, RGB, ImageNet mean/std."""
    from ..apis.inference import normalise, read_image_rgb, resize_images
    return normalise(resize_images([read_image_rgb(path)],
                                   (size, size))).numpy()


def quantize_openvino(ov_model,
                      files: Sequence[str],
                      size: int,
                      preset: str = 'performance',
                      model_type: str = 'none',
                      ignore_types: Sequence[str] = (),
                      fast_bias_correction: bool = True):
    """``nncf.quantize`` of an OpenVINO model on ``files``.

    Args:
        ov_model (openvino.Model): The f32 model.
        files (Sequence[str]): Calibration images (see
            :func:`calibration_files`), loaded with :func:`load_batch`.
        size (int): Calibration size (square).
        preset (str): One of :data:`PRESETS`. Defaults to 'performance'.
        model_type (str): One of :data:`MODEL_TYPES`. Defaults to 'none'.
        ignore_types (Sequence[str]): OpenVINO op types left in f32.
        fast_bias_correction (bool): NNCF's fast bias correction.
            Defaults to True.

    Returns:
        openvino.Model: The quantised model (FakeQuantize nodes).
    """
    try:
        import nncf
    except ImportError as e:
        raise ImportError('INT8 quantisation needs nncf (pip install nncf, '
                          'pinned in requirements.txt)') from e
    if preset not in PRESETS:
        raise ValueError(f'preset must be one of {PRESETS}, got {preset!r}')
    if model_type not in MODEL_TYPES:
        raise ValueError(f'model_type must be one of {MODEL_TYPES}, got '
                         f'{model_type!r}')
    dataset = nncf.Dataset(list(files), lambda f: load_batch(f, size))
    kwargs = dict(
        preset=nncf.QuantizationPreset(preset),
        target_device=nncf.TargetDevice.CPU,
        subset_size=len(files),
        fast_bias_correction=fast_bias_correction)
    if model_type != 'none':
        kwargs['model_type'] = nncf.ModelType(model_type)
    if ignore_types:
        kwargs['ignored_scope'] = nncf.IgnoredScope(
            types=list(ignore_types), validate=False)
    return nncf.quantize(ov_model, dataset, **kwargs)
