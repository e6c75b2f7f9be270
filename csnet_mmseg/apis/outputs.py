"""Where the saliency maps of image files go: one PNG per image (and an
overlay JPEG), never over an input image."""
import os.path as osp
from collections import Counter
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from torch import Tensor

__all__ = ['plan_outputs', 'check_inputs_kept', 'write_saliency_maps']


def plan_outputs(files: Sequence[str], out_dir: str,
                 overlay: bool) -> List[Tuple[str, str, Optional[str]]]:
    """(image, saliency path, overlay path or None) per image; refuses two
    images with the same stem."""
    stems = Counter(osp.splitext(osp.basename(f))[0] for f in files)
    clashes = sorted(s for s, n in stems.items() if n > 1)
    if clashes:
        raise ValueError(
            'several inputs have the same name stem, their outputs would '
            f'collide: {clashes[:5]} (run them into different --out-dir)')
    plan = []
    for f in files:
        stem = osp.splitext(osp.basename(f))[0]
        ov = osp.join(out_dir, 'overlay', stem + '.jpg') if overlay else None
        plan.append((f, osp.join(out_dir, stem + '.png'), ov))
    return plan


def check_inputs_kept(
        plan: Sequence[Tuple[str, str, Optional[str]]]) -> None:
    """Refuse a plan that would write over one of its input images (e.g.
    ``--out-dir`` is the input folder and an input is ``<stem>.png``)."""
    inputs = {osp.realpath(f): f for f, _, _ in plan}
    for _, sal, ov in plan:
        for out in (sal, ov):
            if out is not None and osp.realpath(out) in inputs:
                raise ValueError(
                    f'the output {out} would replace the input image '
                    f'{inputs[osp.realpath(out)]}; choose another --out-dir '
                    '(inputs are never overwritten, even with --overwrite)')


def write_saliency_maps(predict: Callable[[np.ndarray], Tensor],
                        plan: Sequence[Tuple[str, str, Optional[str]]],
                        batch_size: int = 1
                        ) -> Iterator[Tuple[str, Optional[str]]]:
    """Predict and write the maps of a plan (see :func:`plan_outputs`),
    ``batch_size`` images per forward pass, with the official protocol
    (224x224 input, the map resized back to the image size, 8-bit).

    Args:
        predict (Callable): uint8 RGB ``(N, 3, 224, 224)`` -> saliency
            ``(N, 1, 224, 224)`` (e.g. :class:`PyTorchSaliency`).
        plan (Sequence[tuple]): (image, saliency path, overlay path or
            None) per image.
        batch_size (int): Images per forward pass. Defaults to 1.

    Yields:
        tuple[str, str | None]: Per image, as it is done: its path and None
        (written) or why it failed (unreadable, or an output that cannot be
        written); an image that cannot be read is reported before its batch
        runs.
    """
    import cv2

    from .inference import (TEST_SIZE, overlay_image, read_image_rgb,
                            resize_images, saliency_to_uint8)
    for start in range(0, len(plan), batch_size):
        images, good = [], []
        for item in plan[start:start + batch_size]:
            try:
                images.append(read_image_rgb(item[0]))
                good.append(item)
            except OSError as e:  # FileNotFoundError too
                yield item[0], str(e)
        if not images:
            continue
        prob = predict(resize_images(images, TEST_SIZE))
        for img, (src, sal_path, ov_path), p in zip(images, good, prob):
            sal = saliency_to_uint8(p, img.shape[:2])
            if not cv2.imwrite(sal_path, sal):
                yield src, f'cannot write {sal_path}'
            elif ov_path is not None and not cv2.imwrite(
                    ov_path, overlay_image(img, sal)):
                yield src, f'cannot write {ov_path}'
            else:
                yield src, None
