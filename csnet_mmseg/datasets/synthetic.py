"""A small synthetic salient-object data set, for tests and quick runs."""
import colorsys
import os
import os.path as osp
import shutil
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['make_synthetic_sod']

_SUPER = 4  # supersampling of the object mask (anti-aliased edges)
_SPLITS = ('train', 'val')


def _bgr(h: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.), 1.),
                                  min(max(v, 0.), 1.))
    return np.array([b, g, r], np.float32) * 255.0


def _smooth_noise(rng: np.random.Generator, h: int, w: int,
                  cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1], (h, w)."""
    small = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _shape_mask(rng: np.random.Generator, h: int, w: int,
                scale: Tuple[float, float]) -> np.ndarray:
    """Coverage in [0, 1] of one random ellipse or polygon, (h, w)."""
    H, W = h * _SUPER, w * _SUPER
    canvas = np.zeros((H, W), np.uint8)
    size = rng.uniform(*scale) * min(H, W)
    cy = rng.uniform(0.3, 0.7) * H
    cx = rng.uniform(0.3, 0.7) * W
    if rng.random() < 0.5:
        axes = (int(size * rng.uniform(0.5, 1.0)),
                int(size * rng.uniform(0.5, 1.0)))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(canvas, (int(cx), int(cy)), axes, angle, 0, 360, 255, -1)
    else:
        n = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = size * rng.uniform(0.55, 1.0, n)
        pts = np.stack([cx + radii * np.cos(angles),
                        cy + radii * np.sin(angles)], 1)
        cv2.fillPoly(canvas, [pts.round().astype(np.int32)], 255)
    small = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def _sample(rng: np.random.Generator, h: int, w: int,
            soft_edges: bool) -> Tuple[np.ndarray, np.ndarray]:
    """One image (BGR uint8) and its mask (uint8)."""
    # Background: a two-colour gradient, low-frequency texture and noise.
    hue = rng.random()
    c0 = _bgr(hue, rng.uniform(0.1, 0.5), rng.uniform(0.3, 0.8))
    c1 = _bgr(hue + rng.uniform(-0.08, 0.08), rng.uniform(0.1, 0.5),
              rng.uniform(0.3, 0.8))
    theta = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(theta) * xx / w + np.sin(theta) * yy / h)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    img += 25.0 * _smooth_noise(rng, h, w, int(rng.integers(3, 8)))[..., None]
    # Distractors: small shapes with a colour close to the background.
    for _ in range(int(rng.integers(1, 4))):
        cover = _shape_mask(rng, h, w, (0.06, 0.15))
        col = _bgr(hue + rng.uniform(-0.1, 0.1), rng.uniform(0.1, 0.5),
                   rng.uniform(0.2, 0.9))
        img = img * (1 - cover[..., None]) + col * cover[..., None]
    # The salient object: a contrasting, saturated colour, shaded.
    alpha = np.zeros((h, w), np.float32)
    for _ in range(1 if rng.random() < 0.8 else 2):
        alpha = np.maximum(alpha, _shape_mask(rng, h, w, (0.18, 0.38)))
    obj_hue = hue + 0.5 + rng.uniform(-0.12, 0.12)
    obj = _bgr(obj_hue, rng.uniform(0.7, 1.0), rng.uniform(0.75, 1.0))
    shade = 1.0 + 0.15 * _smooth_noise(rng, h, w, 3)[..., None]
    img = img * (1 - alpha[..., None]) + (obj * shade) * alpha[..., None]
    img += rng.normal(0, 6.0, img.shape).astype(np.float32)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    if soft_edges:
        mask = np.round(alpha * 255).astype(np.uint8)
    else:
        mask = np.where(alpha >= 0.5, 255, 0).astype(np.uint8)
    return img, mask


def make_synthetic_sod(out_dir: str,
                       num_train: int = 80,
                       num_val: int = 20,
                       size: Sequence[int] = (128, 128),
                       seed: int = 0,
                       size_jitter: float = 0.25,
                       soft_edges: bool = False,
                       overwrite: bool = False,
                       progress: bool = False) -> Dict[str, dict]:
    """Write a small synthetic salient object detection data set.

    Each sample is a textured, noisy background (colour gradient,
    low-frequency texture, a few low-contrast distractor shapes) with one
    salient object (sometimes two): an ellipse or a polygon in a saturated
    colour of contrasting hue, with anti-aliased edges in the image. The
    layout is the one :class:`SODDataset` reads by default::

        out_dir/train/images/0000.jpg   out_dir/train/GT/0000.png
        out_dir/val/images/0000.jpg     out_dir/val/GT/0000.png

    Images are JPEG (quality 95), masks 8-bit PNG with values 0/255 (or
    soft 0-255 edges with ``soft_edges=True``). Each image's height and
    width are drawn independently from ``size * [1 - size_jitter,
    1 + size_jitter]`` (96-160 px for the defaults), so that images are not
    square and predictions must be resized back. The output depends only on
    the arguments (``seed``), not on global random state.

    Args:
        out_dir (str): Output folder.
        num_train (int): Number of training samples. Defaults to 80.
        num_val (int): Number of validation samples. Defaults to 20.
        size (Sequence[int]): Nominal (height, width). Defaults to
            (128, 128).
        seed (int): Random seed. Defaults to 0.
        size_jitter (float): Relative size variation, in [0, 1).
            Defaults to 0.25.
        soft_edges (bool): Keep the anti-aliased edge in the masks.
            Defaults to False (masks are exactly 0/255).
        overwrite (bool): If ``out_dir`` exists and is not empty, raise
            ``FileExistsError`` unless True; with True the ``train`` and
            ``val`` sub-folders of ``out_dir`` are deleted and written anew
            (other files in ``out_dir`` are left alone). Defaults to False.
        progress (bool): Show an mmengine progress bar. Defaults to False.

    Returns:
        dict: Per split ``dict(img_dir, ann_dir, num)``.
    """
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f'size must be (height, width) >= 16, got {size}')
    if not 0 <= size_jitter < 1:
        raise ValueError(f'size_jitter must be in [0, 1), got {size_jitter}')
    if num_train < 0 or num_val < 0:
        raise ValueError('num_train and num_val must be >= 0')
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise FileExistsError(f"'{out_dir}' exists and is not a folder")
    if osp.isdir(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise FileExistsError(
                f"'{out_dir}' exists and is not empty; choose another folder "
                'or pass overwrite=True (--overwrite) to replace its train/ '
                'and val/ sub-folders')
        for split in _SPLITS:
            if osp.isdir(osp.join(out_dir, split)):
                shutil.rmtree(osp.join(out_dir, split))
    counts = dict(train=int(num_train), val=int(num_val))
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(sum(counts.values()))
    info: Dict[str, dict] = {}
    for split_id, split in enumerate(_SPLITS):
        img_dir = osp.join(out_dir, split, 'images')
        ann_dir = osp.join(out_dir, split, 'GT')
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(counts[split]):
            rng = np.random.default_rng([int(seed), split_id, i])
            h, w = (int(round(s * rng.uniform(1 - size_jitter,
                                              1 + size_jitter)))
                    for s in size)
            img, mask = _sample(rng, h, w, soft_edges)
            stem = f'{i:04d}'
            cv2.imwrite(
                osp.join(img_dir, stem + '.jpg'), img,
                [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(ann_dir, stem + '.png'), mask)
            if bar is not None:
                bar.update()
        info[split] = dict(img_dir=img_dir, ann_dir=ann_dir, num=counts[split])
    return info
