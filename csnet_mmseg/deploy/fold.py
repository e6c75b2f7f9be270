"""Folding of eval-mode norm layers into convolutions (deploy time)."""
import copy
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from ..utils.subnormal import flush_subnormal


def norm_scale_shift(norm: nn.Module, channels: int,
                     like: Tensor) -> Tuple[Tensor, Tensor]:
    """The per-channel affine map ``y = x * scale + shift`` of an eval norm.

    Args:
        norm (nn.Module): A BatchNorm layer (any ``_BatchNorm``, e.g. BN or
            SyncBN, using its running statistics) or ``nn.Identity``.
        channels (int): Channels the norm acts on.
        like (Tensor): Gives the dtype and device of the result.

    Returns:
        tuple[Tensor, Tensor]: ``scale`` and ``shift``, each ``(channels,)``:
        ``gamma / sqrt(running_var + eps)`` and
        ``beta - running_mean * scale`` for BatchNorm.
    """
    kw = dict(dtype=like.dtype, device=like.device)
    if isinstance(norm, nn.Identity):
        return torch.ones(channels, **kw), torch.zeros(channels, **kw)
    if not isinstance(norm, nn.modules.batchnorm._BatchNorm):
        raise TypeError(
            f'cannot fold a {type(norm).__name__} into a convolution: only '
            'BatchNorm layers (BN, SyncBN) with running statistics can be '
            'folded for deployment')
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError(
            f'cannot fold {type(norm).__name__}({norm.num_features}): it has '
            'no running statistics (track_running_stats=False)')
    if norm.num_features != channels:
        raise ValueError(f'{type(norm).__name__} has {norm.num_features} '
                         f'channels, the convolution before it {channels}')
    with torch.no_grad():
        scale = torch.rsqrt(norm.running_var.double() + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight.double()
        shift = -norm.running_mean.double() * scale
        if norm.bias is not None:
            shift = shift + norm.bias.double()
    return scale.to(**kw), shift.to(**kw)


def fold_norm(weight: Tensor, bias: Optional[Tensor],
              norm: nn.Module) -> Tuple[Tensor, Tensor]:
    """Fold an eval norm that follows a convolution into its weight and bias.

    ``norm(conv(x, weight) + bias) == conv(x, weight') + bias'`` with
    ``weight' = weight * scale`` (per output channel) and
    ``bias' = bias * scale + shift`` (see :func:`norm_scale_shift`).

    Args:
        weight (Tensor): Conv weight ``(out, in / groups, kh, kw)``.
        bias (Tensor, optional): Conv bias ``(out,)`` or None.
        norm (nn.Module): BatchNorm or ``nn.Identity``.

    Returns:
        tuple[Tensor, Tensor]: The folded weight and bias (new tensors).
    """
    out = weight.shape[0]
    scale, shift = norm_scale_shift(norm, out, weight)
    with torch.no_grad():
        w = weight.detach() * scale.view(-1, *([1] * (weight.dim() - 1)))
        b = shift.clone() if bias is None else bias.detach() * scale + shift
    return w.clone(), b


def copy_act(act: nn.Module) -> Optional[nn.Module]:
    """A frozen copy of an activation layer (subnormal parameters flushed to
    0, see :func:`csnet_mmseg.utils.subnormal.flush_subnormal`; ``nn.PReLU``
    becomes :class:`ChannelPReLU`), or None for ``nn.Identity``."""
    if isinstance(act, nn.Identity):
        return None
    if isinstance(act, nn.PReLU):
        from .channel_prelu import ChannelPReLU
        return ChannelPReLU(flush_subnormal(act.weight.detach()))
    act = copy.deepcopy(act).eval()
    with torch.no_grad():
        for p in act.parameters():
            p.copy_(flush_subnormal(p))
            p.requires_grad_(False)
    return act
