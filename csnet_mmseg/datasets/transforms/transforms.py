"""The training augmentation of CSNet: border crop and LR/UD flip."""
from typing import List, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import RandomFlip as MMCV_RandomFlip
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

__all__ = ['SODRandomCrop', 'RandomFlipLRUD']


def _seg_keys(results: dict) -> List[str]:
    keys = list(results.get('seg_fields', []))
    if 'gt_seg_map' in results and 'gt_seg_map' not in keys:
        keys.append('gt_seg_map')
    return [k for k in keys if results.get(k) is not None]


@TRANSFORMS.register_module()
class SODRandomCrop(BaseTransform):
    """Crop a random number of pixels from each border (CSNet paper).

    ``top``, ``bottom``, ``left`` and ``right`` are drawn independently and
    uniformly from ``{0, 1, ..., max_crop}`` (``np.random``), and the same
    crop is applied to the image and every segmentation map
    (``seg_fields`` / ``gt_seg_map``), which must have the image's size.
    If the image is too small to keep ``min_size`` pixels, the crop of that
    axis is reduced (bottom/right first).

    Required Keys:

    - img
    - gt_seg_map (optional)
    - seg_fields (optional)

    Modified Keys:

    - img
    - img_shape
    - gt_seg_map and the other ``seg_fields``

    Args:
        max_crop (int): Largest crop per border in pixels. Defaults to 14.
        min_size (int): Smallest height/width kept. Defaults to 1.
    """

    def __init__(self, max_crop: int = 14, min_size: int = 1) -> None:
        if max_crop < 0 or min_size < 1:
            raise ValueError('SODRandomCrop needs max_crop >= 0 and '
                             f'min_size >= 1, got {max_crop}, {min_size}')
        self.max_crop = int(max_crop)
        self.min_size = int(min_size)

    @cache_randomness
    def _sample_borders(self) -> Tuple[int, int, int, int]:
        top, bottom, left, right = np.random.randint(
            0, self.max_crop + 1, size=4)
        return int(top), int(bottom), int(left), int(right)

    def _fit(self, first: int, second: int, size: int) -> Tuple[int, int]:
        excess = first + second - (size - self.min_size)
        if excess > 0:
            cut = min(second, excess)
            second -= cut
            first -= min(first, excess - cut)
        return first, second

    def transform(self, results: dict) -> dict:
        """Crop ``img`` and the segmentation maps.

        Args:
            results (dict): Result dict from the pipeline.

        Returns:
            dict: The cropped results.
        """
        img = results['img']
        h, w = img.shape[:2]
        seg_keys = _seg_keys(results)
        for key in seg_keys:
            if results[key].shape[:2] != (h, w):
                raise ValueError(
                    f'SODRandomCrop: {key} of {results.get("img_path")} is '
                    f'{results[key].shape[:2]} but the image is {(h, w)}')
        top, bottom, left, right = self._sample_borders()
        top, bottom = self._fit(top, bottom, h)
        left, right = self._fit(left, right, w)
        y0, y1, x0, x1 = top, h - bottom, left, w - right
        results['img'] = img[y0:y1, x0:x1, ...]
        for key in seg_keys:
            results[key] = results[key][y0:y1, x0:x1, ...]
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(max_crop={self.max_crop}, '
                f'min_size={self.min_size})')


@TRANSFORMS.register_module()
class RandomFlipLRUD(MMCV_RandomFlip):
    """Random left-right or up-down flip (CSNet paper).

    Rule: one draw per sample (``np.random.choice``) among
    ``'horizontal'`` (left-right) with probability ``prob / 2``,
    ``'vertical'`` (up-down) with probability ``prob / 2`` and no flip with
    probability ``1 - prob``. So with probability ``prob`` the sample is
    flipped, and a flipped sample is flipped left-right or up-down with
    equal chance. Image and ``gt_seg_map`` are flipped together, and
    ``flip`` / ``flip_direction`` are set as by mmcv's ``RandomFlip``, whose
    code this class uses (it is ``RandomFlip(prob=prob,
    direction=['horizontal', 'vertical'])``).

    Args:
        prob (float): Probability of a flip. Defaults to 0.5.
        swap_seg_labels (list, optional): See mmcv's ``RandomFlip``.
            Defaults to None.
    """

    def __init__(self, prob: float = 0.5, swap_seg_labels=None) -> None:
        super().__init__(
            prob=float(prob),
            direction=['horizontal', 'vertical'],
            swap_seg_labels=swap_seg_labels)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
