"""The segmentor's logits at the input size (the reference every other
form of a model is compared with)."""
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
