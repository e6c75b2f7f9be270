"""MAE and max F of a model on a folder of images and masks, with the
official protocol (as ``tools/test.py`` computes them: ``SODMetric``)."""
import os.path as osp
import sys
from typing import Callable, Dict, Tuple

from torch import Tensor

__all__ = ['evaluate_folder']


def evaluate_folder(logits_fn: Callable[[Tensor], Tensor],
                    root: str,
                    size: Tuple[int, int] = (224, 224),
                    progress: bool = True) -> Dict[str, float]:
    """Evaluate a model on ``root/images`` with the masks of ``root/GT``.

    Each image is read as RGB, resized to ``size`` (bilinear) and
    normalised with the ImageNet mean/std; the logits ``logits_fn``
    returns for it are resized to the image size (bilinear), the sigmoid
    gives the saliency, and :class:`SODMetric` computes MAE and max F (as
    ``EncoderDecoder.postprocess_result`` and ``tools/test.py`` do).

    Args:
        logits_fn (Callable[[Tensor], Tensor]): ``(1, 3, h, w)`` normalised
            image -> ``(1, 1, h, w)`` logits (any backend).
        root (str): Folder with ``images/`` and ``GT/`` (masks named by the
            image stems, ``.png``).
        size (tuple[int, int]): Network input ``(h, w)``. Defaults to
            (224, 224).
        progress (bool): A progress bar on stderr. Defaults to True.

    Returns:
        dict: ``MAE``, ``maxF`` and ``n`` (the number of images).
    """
    import torch.nn.functional as F
    from mmengine.utils import ProgressBar

    from ..apis.inference import (collect_images, normalise, read_image_rgb,
                                  resize_images)
    from .metrics.sod_metric import SODMetric
    metric = SODMetric(sod_metrics=['MAE', 'Fmeasure'], activation='none')
    files = collect_images([osp.join(root, 'images')])
    bar = ProgressBar(len(files), file=sys.stderr) if progress else None
    for f in files:
        img = read_image_rgb(f)
        logits = logits_fn(normalise(resize_images([img], size)))
        # EncoderDecoder.postprocess_result: resize the logits, sigmoid
        prob = F.interpolate(
            logits, size=img.shape[:2], mode='bilinear',
            align_corners=False)[0].sigmoid()
        stem = osp.splitext(osp.basename(f))[0]
        metric.process({}, [
            dict(
                seg_logits=dict(data=prob),
                img_path=f,
                seg_map_path=osp.join(root, 'GT', stem + '.png'),
                dataset_name='eval')
        ])
        if bar is not None:
            bar.update()
    if bar is not None:
        sys.stderr.write('\n')
    res = metric.compute_metrics(metric.results)
    return dict(MAE=res['MAE'], maxF=res['maxF'], n=len(files))
