"""Tensor helpers of the deploy-time CSNet: fast eager CPU kernels for
CSNet's few-channel, high-resolution maps, and plain standard ops while
exporting to ONNX (same results either way)."""
import contextlib
from typing import Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


_STATIC_SIZE = [False]


def exporting() -> bool:
    """Whether an ONNX export is tracing the model."""
    return torch.onnx.is_in_onnx_export()


@contextlib.contextmanager
def static_size_export() -> Iterator[None]:
    """Trace for one fixed image size (ONNX export or OpenVINO conversion
    without dynamic height and width): :func:`upsample` may then use the
    exact integer-factor form (:func:`upsample_by`), which is only valid for
    the traced size."""
    old = _STATIC_SIZE[0]
    _STATIC_SIZE[0] = True
    try:
        yield
    finally:
        _STATIC_SIZE[0] = old


def is_channels_last(x: Tensor) -> bool:
    """Channels-last (NHWC) memory and not also plain contiguous."""
    return (x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last))


def onednn_inference(x: Tensor) -> bool:
    """Whether ``x`` can take the oneDNN channels-last path: float32 on a
    CPU with oneDNN, no autograd, not tracing or exporting (traced graphs
    keep the standard ops)."""
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and torch.backends.mkldnn.is_available()
            and hasattr(torch, 'mkldnn_convolution')
            and not torch.is_grad_enabled() and not exporting()
            and not torch.jit.is_tracing())


def conv2d(x: Tensor,
           weight: Tensor,
           bias: Optional[Tensor],
           padding: int = 0,
           dilation: int = 1,
           groups: int = 1) -> Tensor:
    """Stride-1 ``F.conv2d``.

    A channels-last CPU input (no autograd) goes straight to oneDNN, which
    keeps the layout; ``F.conv2d`` would pick its slow reference kernel for
    1x1 and small convolutions when running with one thread.
    """
    if (onednn_inference(x)
            and x.is_contiguous(memory_format=torch.channels_last)):
        return torch.mkldnn_convolution(x, weight, bias, [padding, padding],
                                        [1, 1], [dilation, dilation], groups)
    return F.conv2d(x, weight, bias, 1, padding, dilation, groups)


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """``F.prelu`` with one slope per channel.

    For a channels-last tensor the channels are the innermost dimension,
    where a per-channel broadcast does not vectorise; viewing it as
    ``(N * H, W * C)`` with the slopes tiled ``W`` times gives the same
    result several times faster.
    """
    if (exporting() or torch.jit.is_tracing() or not is_channels_last(x)
            or weight.numel() == 1):
        return F.prelu(x, weight)
    n, c, h, w = x.shape
    tiled = weight.expand(w, c).reshape(w * c)
    y = F.prelu(x.permute(0, 2, 3, 1).reshape(n * h, w * c), tiled)
    return y.view(n, h, w, c).permute(0, 3, 1, 2)


def halve(size: Sequence) -> tuple:
    """Size after one 2x2 pooling (floored); works on traced sizes too."""
    return size[0] // 2, size[1] // 2


def max_pool2x(x: Tensor, times: int = 1) -> Tensor:
    """``F.max_pool2d(x, 2**times, 2**times)``.

    In eager mode this is computed as the maximum of the four strided
    sub-grids, several times faster on a CPU than ``max_pool2d`` for the
    few-channel, high-resolution maps of CSNet; the results are identical (a
    max is exact; the sub-grids drop the last row/column of odd sizes as the
    floored pooling does). ONNX export gets the plain ``MaxPool``.
    """
    if exporting() or torch.jit.is_tracing():
        k = 2**times
        return F.max_pool2d(x, k, k)
    for _ in range(times):
        h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = torch.maximum(
            torch.maximum(x[..., 0:h:2, 0:w:2], x[..., 0:h:2, 1:w:2]),
            torch.maximum(x[..., 1:h:2, 0:w:2], x[..., 1:h:2, 1:w:2]))
    return x


def avg_pool2x(x: Tensor) -> Tensor:
    """``F.avg_pool2d(x, 2, 2)`` (floored sizes)."""
    return F.avg_pool2d(x, 2, 2)


def upsample(x: Tensor, size: Sequence, align_corners: bool = False) -> Tensor:
    """Bilinear resize to ``size`` (as the training form does).

    While tracing for a fixed size (:func:`static_size_export`), a resize by
    the same integer factor in both dimensions becomes :func:`upsample_by`
    (OpenVINO runs it about 2.5 times as fast as its ``Interpolate``).
    """
    if (_STATIC_SIZE[0] and not align_corners
            and (exporting() or torch.jit.is_tracing())):
        h, w = int(x.shape[-2]), int(x.shape[-1])
        th, tw = int(size[0]), int(size[1])
        if th % h == 0 and th // h >= 2 and th * w == tw * h:
            return upsample_by(x, th // h)
    return F.interpolate(
        x, size=size, mode='bilinear', align_corners=align_corners)


def upsample_by(x: Tensor, factor: int) -> Tensor:
    """Bilinear upsampling by an integer ``factor`` with
    ``align_corners=False``, as a transposed depthwise convolution.

    Equal to ``F.interpolate(x, scale_factor=factor, mode='bilinear')`` up
    to float rounding: each output pixel mixes the two nearest input pixels
    per dimension with the triangle weights ``1 - |k - (factor - 0.5)| /
    factor`` (``k < 2 * factor``), and the edge clamping of the half-pixel
    rule is a one-pixel replicate padding of the input.
    """
    s = int(factor)
    c = int(x.shape[1])
    k = torch.arange(2 * s, dtype=x.dtype, device=x.device)
    tri = 1 - (k - (s - 0.5)).abs() / s
    weight = torch.outer(tri, tri).expand(c, 1, 2 * s, 2 * s)
    x = F.pad(x, (1, 1, 1, 1), mode='replicate')
    return F.conv_transpose2d(
        x, weight, stride=s, padding=s + s // 2, groups=c)
