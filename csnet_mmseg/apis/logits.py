"""The segmentor's logits at the input size (the reference every other
form of a model is compared with)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn


def segmentor_logits(segmentor: nn.Module, inputs: Tensor) -> Tensor:
    """Eval logits of a segmentor, resized to the input size.

    This is what ``EncoderDecoder`` inference computes before the sigmoid
    (or argmax): ``mode='tensor'`` logits, resized bilinearly to the size of
    ``inputs`` with the decode head's ``align_corners``.

    Args:
        segmentor (nn.Module): An MMSeg segmentor (in eval mode for eval
            behaviour; gradients follow the caller's grad mode).
        inputs (Tensor): Preprocessed images ``(N, C, H, W)``.

    Returns:
        Tensor: Logits ``(N, num_classes, H, W)``.
    """
    logits = segmentor(inputs, mode='tensor')
    return F.interpolate(
        logits,
        size=inputs.shape[-2:],
        mode='bilinear',
        align_corners=segmentor.decode_head.align_corners)


class SegmentorLogits(nn.Module):
    """The training form of a segmentor as a module: its eval output at the
    input size (:func:`segmentor_logits`), the reference of every other
    form.

    Args:
        segmentor (nn.Module): An MMSeg segmentor.
        sigmoid (bool): Return the sigmoid of the logits (saliency).
            Defaults to False.
        preprocess (nn.Module, optional): A deploy model with
            ``with_preprocess`` whose ``mean`` and ``inv_std`` normalise
            the raw 0-255 input first, as its graph does. Defaults to None.
    """

    def __init__(self,
                 segmentor: nn.Module,
                 sigmoid: bool = False,
                 preprocess: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.segmentor = segmentor
        self.sigmoid = sigmoid
        self.pre = preprocess

    def forward(self, x: Tensor) -> Tensor:
        if self.pre is not None:  # normalise as the deploy graph does
            x = (x.float() - self.pre.mean) * self.pre.inv_std
        out = segmentor_logits(self.segmentor, x)
        return out.sigmoid() if self.sigmoid else out
