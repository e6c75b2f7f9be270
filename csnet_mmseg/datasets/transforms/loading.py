"""Loading of SOD images and saliency masks."""
import logging
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmengine.logging import print_log
from mmseg.registry import TRANSFORMS

from ..image_io import decode_image, read_image, read_image_bytes

__all__ = ['LoadSODAnnotations', 'LoadSODImage', 'read_sod_mask',
           'mask_to_grey8']


_WARNED: list = []
_WARNED_01: set = set()


def _to_grey(colour: np.ndarray) -> np.ndarray:
    """BGR uint8 -> grey uint8 (a copy of one channel if all are equal)."""
    if (colour == colour[..., :1]).all():
        return np.ascontiguousarray(colour[..., 0])
    return cv2.cvtColor(np.ascontiguousarray(colour), cv2.COLOR_BGR2GRAY)


def mask_to_grey8(mask: np.ndarray, path: str = '<array>') -> np.ndarray:
    """Turn a decoded saliency mask into one 8-bit grey channel.

    Rules, in this order:

    0. A mask whose largest value is 1 (8- or 16-bit, any channel layout)
       holds 0/1 labels, a common export format: it is read as 0/255
       (1 -> 255), with a warning naming the file (once per process). Read
       as grey levels it would be all background: a foreground scored as
       background without a word.
    1. 16-bit masks are scaled to 8 bits: ``round(v / 257)`` (65535 -> 255,
       so the 8-bit threshold 127 stays at the same relative level).
    2. One channel is kept as is. Colour (BGR, as OpenCV decodes) becomes
       grey: a copy of one channel if all three are equal, else the usual
       luma ``0.299 R + 0.587 G + 0.114 B``.
    3. With an alpha channel (grey+alpha or BGRA): an opaque alpha
       (all 255) is dropped; if the colour part is constant the mask is in
       the alpha channel, which is used; otherwise the colour is composed
       over black, ``round(grey * alpha / 255)``.

    Args:
        mask (np.ndarray): Mask as decoded with ``IMREAD_UNCHANGED``,
            (H, W) or (H, W, C) with C in 1-4, uint8 or uint16.
        path (str): File name for error messages.

    Returns:
        np.ndarray: (H, W) uint8 grey levels 0-255.
    """
    if mask.dtype in (np.uint8, np.uint16) and mask.size and \
            mask.max() == 1:
        if path not in _WARNED_01:
            if not _WARNED_01:
                print_log(
                    f"The SOD mask '{path}' only holds the values 0 and 1: "
                    'it is read as 0/1 labels (1 = foreground, as 255). '
                    'Other such masks are read the same way (warned once).',
                    logger='current',
                    level=logging.WARNING)
            _WARNED_01.add(path)
        mask = (mask > 0).astype(np.uint8) * np.uint8(255)
    if mask.dtype == np.uint16:
        if 0 < mask.max() <= 255 and not _WARNED:
            _WARNED.append(path)
            print_log(
                f"The 16-bit SOD mask '{path}' only holds values <= 255: "
                'it is scaled to 8 bits (v / 257) as 16-bit masks are, and '
                'so becomes (almost) background. Save such masks as 8-bit '
                'images. (Warned once.)',
                logger='current',
                level=logging.WARNING)
        mask = np.round(mask.astype(np.float64) / 257.0).astype(np.uint8)
    elif mask.dtype != np.uint8:
        raise TypeError(f"SOD mask '{path}' has pixel type {mask.dtype}; "
                        'only 8-bit and 16-bit masks are supported')
    if mask.ndim == 2:
        return mask
    if mask.ndim != 3 or mask.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"SOD mask '{path}' has an unsupported shape "
                         f'{mask.shape}; expected (H, W) or (H, W, 1-4)')
    channels = mask.shape[2]
    if channels == 1:
        return np.ascontiguousarray(mask[..., 0])
    if channels == 3:
        return _to_grey(mask)
    colour, alpha = mask[..., :channels - 1], mask[..., channels - 1]
    grey = colour[..., 0] if channels == 2 else _to_grey(colour)
    if alpha.min() == 255:
        return np.ascontiguousarray(grey)
    if grey.min() == grey.max():
        return np.ascontiguousarray(alpha)
    composed = grey.astype(np.float64) * alpha.astype(np.float64) / 255.0
    return np.round(composed).astype(np.uint8)


def read_sod_mask(path: str,
                  backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a saliency mask file as 8-bit grey levels (not binarised).

    Accepts 0/255, soft (anti-aliased) and multi-level masks stored as
    grey, RGB, RGBA or 16-bit images; see :func:`mask_to_grey8`.

    Args:
        path (str): Mask file.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        np.ndarray: (H, W) uint8.
    """
    data = read_image_bytes(path, backend_args, what='SOD mask')
    mask = decode_image(data, path, flag='unchanged', what='SOD mask')
    return mask_to_grey8(mask, path)


@TRANSFORMS.register_module()
class LoadSODAnnotations(BaseTransform):
    """Load a saliency mask as a {0, 1} segmentation label.

    The mask may be 0/255, soft (anti-aliased), multi-level (PASCAL-S: 13
    grey levels) or stored as RGB / RGBA / 16-bit (see
    :func:`mask_to_grey8`). The label is ``grey > threshold`` as uint8, so
    foreground = 1 and background = 0. MMSeg's ``LoadAnnotations`` would
    instead keep the value 255 for the foreground, which is the
    ``ignore_index``: the model would never see a foreground pixel.

    The mask must have the size of the original image
    (``results['ori_shape']``, set by the image loader; the mask may be
    loaded after a ``Resize``: it then stays at the original size, as MMSeg
    evaluates at the original size).

    Required Keys:

    - seg_map_path
    - ori_shape (optional, checked when present)
    - img_path (optional, for messages)

    Added Keys:

    - gt_seg_map (np.uint8, values {0, 1})
    - seg_fields

    Args:
        threshold (int): Grey level (8-bit) above which a pixel is
            foreground. Defaults to 127.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """

    def __init__(self,
                 threshold: int = 127,
                 backend_args: Optional[dict] = None) -> None:
        if not 0 <= threshold < 255:
            raise ValueError(f'threshold must be in [0, 255), got {threshold}')
        self.threshold = int(threshold)
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Load the mask of ``results['seg_map_path']``.

        Args:
            results (dict): Result dict from the data set / pipeline.

        Returns:
            dict: ``results`` with ``gt_seg_map``.
        """
        if results.get('seg_map_path') is None:
            raise KeyError('LoadSODAnnotations needs `seg_map_path` (the '
                           f"mask file) for image {results.get('img_path')}")
        path = results['seg_map_path']
        grey = read_sod_mask(path, self.backend_args)
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(grey.shape) != tuple(
                ori_shape[:2]):
            raise ValueError(
                f"SOD mask '{path}' is {grey.shape[1]}x{grey.shape[0]} "
                f"(WxH) but its image '{results.get('img_path')}' is "
                f'{ori_shape[1]}x{ori_shape[0]}')
        results['gt_seg_map'] = (grey > self.threshold).astype(np.uint8)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(threshold={self.threshold}, '
                f'backend_args={self.backend_args})')


@TRANSFORMS.register_module()
class LoadSODImage(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with the project's reading rule.

    The file is read by :func:`csnet_mmseg.datasets.image_io.read_image`,
    as ``tools/infer.py`` reads it: a missing file raises
    ``FileNotFoundError``, an empty, truncated (JPEG without its end marker,
    PNG without ``IEND``) or undecodable file ``OSError``, both naming the
    file (mmcv would raise a bare ``AssertionError`` or decode a truncated
    JPEG with a grey bottom). With the default ``color_type='color'``
    grey, RGBA and 16-bit images are all loaded as 8-bit BGR.

    Args:
        **kwargs: Arguments of :class:`mmcv.transforms.LoadImageFromFile`
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``backend_args``, ``ignore_empty``).
    """

    def __init__(self, **kwargs) -> None:
        try:
            super().__init__(**kwargs)
        except TypeError as e:  # name this loader, not LoadImageFromFile
            raise TypeError(f'LoadSODImage: {e}') from e

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``.

        Args:
            results (dict): Result dict from the data set.

        Returns:
            dict: ``results`` with ``img``, ``img_shape``, ``ori_shape``.
        """
        path = results['img_path']
        try:
            img = read_image(
                path,
                flag=self.color_type,
                backend=self.imdecode_backend,
                backend_args=self.backend_args)
        except OSError:  # FileNotFoundError too
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
