"""Generalised OctConv (gOctConv) of CSNet (Gao et al., ECCV 2020)."""
import copy
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from .scaled_conv import conv_gain, single_scale_layout

Size = Tuple[int, int]
MultiScale = List[Optional[Tensor]]


def scale_size(base_size: Sequence[int], scale: int) -> Size:
    """Spatial size of ``scale`` (1/2^scale of ``base_size``, floored per halving).

    This is exactly the size that ``scale`` halvings by 2x2 pooling produce,
    so tensors made by pooling and tensors whose size is computed here agree
    for any input size (odd sizes included).
    """
    h, w = int(base_size[0]), int(base_size[1])
    for _ in range(scale):
        h, w = h // 2, w // 2
    return h, w


def infer_base_size(xs: Sequence[Optional[Tensor]]) -> Size:
    """Scale-0 size from the finest present tensor of a multi-scale list."""
    for i, x in enumerate(xs):
        if x is not None:
            return x.shape[-2] * 2**i, x.shape[-1] * 2**i
    raise ValueError('a multi-scale input needs at least one present scale')


def build_act_layer(act_cfg: OptConfigType, channels: int) -> nn.Module:
    """Build an activation from ``act_cfg``; PReLU gets one slope per channel."""
    if act_cfg is None:
        return nn.Identity()
    cfg = copy.deepcopy(act_cfg)
    kind = cfg.get('type')
    if kind in ('PReLU', 'FastPReLU') or (isinstance(kind, type)
                                          and issubclass(kind, nn.PReLU)):
        cfg.setdefault('num_parameters', channels)
    if kind == 'FastPReLU':
        # registered in mmseg's registry, which mmcv's builder only reaches
        # under the mmseg default scope
        return MODELS.build(cfg)
    return build_activation_layer(cfg)


class ScaleNormAct(nn.Module):
    """One norm + activation per scale; absent (0-channel) scales hold nothing.

    Args:
        channels (Sequence[int]): Channels per scale (0 = absent).
        norm_cfg (dict, optional): Config of the norm layer.
        act_cfg (dict, optional): Config of the activation layer.
    """

    def __init__(self, channels: Sequence[int], norm_cfg: OptConfigType,
                 act_cfg: OptConfigType) -> None:
        super().__init__()
        self.channels = [int(c) for c in channels]
        norms, acts = [], []
        for c in self.channels:
            if c > 0 and norm_cfg is not None:
                norms.append(build_norm_layer(norm_cfg, c)[1])
            else:
                norms.append(nn.Identity())
            acts.append(build_act_layer(act_cfg, c) if c > 0 else nn.Identity())
        self.norms = nn.ModuleList(norms)
        self.acts = nn.ModuleList(acts)

    def forward(self, xs: MultiScale) -> MultiScale:
        return [
            None if x is None else act(norm(x))
            for x, norm, act in zip(xs, self.norms, self.acts)
        ]


@MODELS.register_module()
class GOctConv(BaseModule):
    """Generalised octave convolution followed by per-scale norm + activation.

    Takes features at any number of input scales and produces any number of
    output scales; scale ``k`` runs at 1/2^k of scale 0's resolution. Every
    (input scale i -> output scale j) path is a convolution:

    - ``i == j``: convolution at that resolution;
    - ``i > j`` (coarser to finer): convolve at the coarse resolution, then
      upsample bilinearly (``align_corners=False``) to the exact size of the
      output scale;
    - ``i < j`` (finer to coarser): max-pool by 2^(j-i), then convolve.

    With ``stride=2`` every input is average-pooled by 2 first. The outputs of
    all paths into one scale are summed, then each output scale gets its own
    norm and activation. A scale with 0 channels is absent: no parameters and
    ``None`` in the input/output lists.

    The weight of all paths is one tensor of shape
    ``(sum(out_channels), sum(in_channels) // groups, k, k)`` whose rows are
    grouped by output scale and columns by input scale (scale 0 first); the
    path (i -> j) uses block ``[rows of j, columns of i]``. The forward runs
    one convolution per input scale for all outputs at or finer than it, and
    one per coarser output.

    Conv gain: with ``conv_cfg=dict(type='ScaledConv2d', gain=g)`` a
    single-scale layer (one present input scale and one present output
    scale, :func:`single_scale_layout`) and every depthwise layer convolve
    with ``g * weight``, as the released code's ``Conv2dX100`` (``g=100``);
    a layer with several present input or output scales uses its weight as
    stored. :attr:`gain` is the layer's own gain (1 or ``g``), fixed by its
    layout; :meth:`scaled_weight` is the weight its forward uses. The
    stored weight is initialised the same way whatever the gain.

    Args:
        in_channels (Sequence[int]): Input channels per scale.
        out_channels (Sequence[int]): Output channels per scale.
        kernel_size (int): Kernel size. Defaults to 1.
        stride (int): 1 or 2 (average-pool all inputs by 2). Defaults to 1.
        dilation (int): Dilation of every path. Defaults to 1.
        depthwise (bool): Per-scale depthwise convolution (each scale to
            itself, groups = channels); needs ``in_channels == out_channels``.
            Defaults to False.
        cross_scale (bool): Whether paths between different scales exist.
            Defaults to True (ignored for ``depthwise``).
        norm_cfg (dict, optional): Norm of each output scale.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation of each output scale.
            Defaults to ``dict(type='PReLU')`` (one slope per channel).
        conv_cfg (dict, optional): None (plain convolutions) or
            ``dict(type='ScaledConv2d', gain=g)``, see above.
            Defaults to None.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: Sequence[int],
                 kernel_size: int = 1,
                 stride: int = 1,
                 dilation: int = 1,
                 depthwise: bool = False,
                 cross_scale: bool = True,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: OptConfigType = dict(type='PReLU'),
                 conv_cfg: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = [int(c) for c in in_channels]
        self.out_channels = [int(c) for c in out_channels]
        if any(c < 0 for c in self.in_channels + self.out_channels):
            raise ValueError('GOctConv channels must be >= 0, got '
                             f'in={self.in_channels} out={self.out_channels}')
        if sum(self.out_channels) == 0:
            raise ValueError('GOctConv needs at least one output channel, got '
                             f'out_channels={self.out_channels}')
        if stride not in (1, 2):
            raise ValueError(f'GOctConv stride must be 1 or 2, got {stride}')
        if depthwise and self.in_channels != self.out_channels:
            raise ValueError('a depthwise GOctConv needs in_channels == '
                             f'out_channels, got {self.in_channels} vs '
                             f'{self.out_channels}')
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.dilation = int(dilation)
        self.padding = (self.kernel_size // 2) * self.dilation
        self.depthwise = bool(depthwise)
        self.cross_scale = bool(cross_scale) and not self.depthwise
        self.in_offsets = [0] + list(_cumsum(self.in_channels))
        self.out_offsets = [0] + list(_cumsum(self.out_channels))
        #: the gain of ``conv_cfg``, and this layer's own (see above)
        self.conv_gain = conv_gain(conv_cfg)
        self.gain = self.conv_gain if (self.depthwise or single_scale_layout(
            self.in_channels, self.out_channels)) else 1.0
        in_per_group = 1 if self.depthwise else sum(self.in_channels)
        self.weight = nn.Parameter(
            torch.empty(
                sum(self.out_channels), in_per_group, self.kernel_size,
                self.kernel_size))
        self.norm_act = ScaleNormAct(self.out_channels, norm_cfg, act_cfg)
        self.reset_parameters()

    @property
    def num_in_scales(self) -> int:
        return len(self.in_channels)

    @property
    def num_out_scales(self) -> int:
        return len(self.out_channels)

    def reset_parameters(self) -> None:
        """Kaiming-normal weights with each path's real fan-in."""
        with torch.no_grad():
            for j, i in self.paths():
                w = self.path_weight(i, j)
                fan_in = w.shape[1] * self.kernel_size**2
                if not self.depthwise:
                    # every output sums the paths of all its inputs
                    fan_in = sum(c for s, c in enumerate(self.in_channels)
                                 if self.has_path(s, j)) * self.kernel_size**2
                w.normal_(0, math.sqrt(2.0 / max(fan_in, 1)))

    def has_path(self, i: int, j: int) -> bool:
        """Whether the (input scale i -> output scale j) path exists."""
        if self.in_channels[i] == 0 or self.out_channels[j] == 0:
            return False
        return i == j or (self.cross_scale and i < self.num_in_scales
                          and j < self.num_out_scales)

    def paths(self) -> List[Tuple[int, int]]:
        """All existing (output scale, input scale) pairs."""
        if self.depthwise:
            return [(j, j) for j in range(self.num_out_scales)
                    if self.out_channels[j] > 0]
        return [(j, i) for j in range(self.num_out_scales)
                for i in range(self.num_in_scales) if self.has_path(i, j)]

    def out_slice(self, j: int) -> slice:
        """The rows of :attr:`weight` (output channels) of output scale j."""
        return slice(self.out_offsets[j], self.out_offsets[j + 1])

    def in_slice(self, i: int) -> slice:
        """The columns of :attr:`weight` (input channels) of input scale i
        (not for a depthwise layer, whose weight has one column)."""
        return slice(self.in_offsets[i], self.in_offsets[i + 1])

    def path_weight(self, i: int, j: int) -> Tensor:
        """The stored weight block (a view; the convolution uses it times
        :attr:`gain`) of the path (input i -> output j)."""
        if self.depthwise:
            return self.weight[self.out_slice(j)]
        return self.weight[self.out_slice(j), self.in_slice(i)]

    def scaled_weight(self) -> Tensor:
        """The weight the convolutions use: ``gain * weight`` (the stored
        parameter itself for gain 1)."""
        return self.weight if self.gain == 1.0 else self.weight * self.gain

    def narrowed_weight(self,
                        keep_in: Sequence[Tensor],
                        keep_out: Sequence[Tensor],
                        gain: Optional[float] = None) -> Tensor:
        """The weight restricted to kept channels (a detached copy).

        Args:
            keep_in (Sequence[Tensor]): Per input scale, a boolean mask over
                its channels (ignored for a depthwise layer).
            keep_out (Sequence[Tensor]): Per output scale, a boolean mask over
                its channels.
            gain (float, optional): The gain of the layer the weight is for
                (the narrowed layer's :attr:`gain`: narrowing can remove all
                but one scale, which makes a multi-scale layer single-scale);
                the stored weight is rescaled by ``self.gain / gain`` so that
                the convolutions stay the same. None: this layer's gain.

        Returns:
            Tensor: The rows of the kept output channels and, unless
            depthwise, the columns of the kept input channels, scale by scale
            in order: the weight of this layer narrowed to those channels.
        """
        rows = torch.cat([
            self.out_slice(j).start + _indices(k)
            for j, k in enumerate(keep_out)
        ])
        w = self.weight.detach()[rows]
        if not self.depthwise:
            cols = torch.cat([
                self.in_slice(i).start + _indices(k)
                for i, k in enumerate(keep_in)
            ])
            w = w[:, cols]
        if gain is not None and float(gain) != self.gain:
            w = w * (self.gain / float(gain))
        return w

    def _conv(self, x: Tensor, weight: Tensor, groups: int = 1) -> Tensor:
        return F.conv2d(x, weight, None, 1, self.padding, self.dilation,
                        groups)

    def _check_inputs(self, xs: MultiScale) -> None:
        if len(xs) != self.num_in_scales:
            raise ValueError(f'GOctConv expects {self.num_in_scales} input '
                             f'scales, got {len(xs)}')
        for i, (x, c) in enumerate(zip(xs, self.in_channels)):
            got = 0 if x is None else x.shape[1]
            if got != c:
                raise ValueError(f'GOctConv input scale {i} should have {c} '
                                 f'channels, got {got}')

    def forward_conv(self,
                     xs: MultiScale,
                     base_size: Optional[Sequence[int]] = None) -> MultiScale:
        """The summed path convolutions, before norm and activation.

        Args:
            xs (list[Tensor | None]): One tensor per input scale (``None``
                for absent scales).
            base_size (tuple[int, int], optional): Spatial size of scale 0 of
                the inputs. Inferred from the finest present input if omitted.

        Returns:
            list[Tensor | None]: One tensor per output scale.
        """
        self._check_inputs(xs)
        if base_size is None:
            base_size = infer_base_size(xs)
        if self.stride == 2:
            xs = [None if x is None else F.avg_pool2d(x, 2, 2) for x in xs]
            base_size = scale_size(base_size, 1)
        outs: MultiScale = [None] * self.num_out_scales

        def add(j: int, y: Tensor) -> None:
            outs[j] = y if outs[j] is None else outs[j] + y

        weight = self.scaled_weight()
        if self.depthwise:
            for j, x in enumerate(xs):
                if x is not None:
                    add(j, self._conv(x, weight[self.out_slice(j)],
                                      self.in_channels[j]))
            return outs

        for i, x in enumerate(xs):
            if x is None:
                continue
            cols = self.in_slice(i)
            # outputs at this resolution or finer: one convolution at scale i
            fine = [
                j for j in range(min(i + 1, self.num_out_scales))
                if self.has_path(i, j)
            ]
            if fine:
                first = self.out_slice(fine[0]).start
                rows = slice(first, self.out_slice(fine[-1]).stop)
                y = self._conv(x, weight[rows, cols])
                for j in fine:
                    start = self.out_slice(j).start - first
                    yj = y[:, start:start + self.out_channels[j]]
                    if j < i:
                        yj = F.interpolate(
                            yj,
                            size=scale_size(base_size, j),
                            mode='bilinear',
                            align_corners=False)
                    add(j, yj)
            # coarser outputs: max-pool first, then convolve
            for j in range(i + 1, self.num_out_scales):
                if self.has_path(i, j):
                    k = 2**(j - i)
                    add(j, self._conv(F.max_pool2d(x, k, k),
                                      weight[self.out_slice(j),
                                             self.in_slice(i)]))
        return outs

    def forward(self,
                xs: MultiScale,
                base_size: Optional[Sequence[int]] = None) -> MultiScale:
        """Convolution paths, then per-scale norm and activation."""
        return self.norm_act(self.forward_conv(xs, base_size))

    def extra_repr(self) -> str:
        s = (f'in_channels={self.in_channels}, out_channels='
             f'{self.out_channels}, kernel_size={self.kernel_size}')
        if self.stride != 1:
            s += f', stride={self.stride}'
        if self.dilation != 1:
            s += f', dilation={self.dilation}'
        if self.depthwise:
            s += ', depthwise=True'
        elif not self.cross_scale:
            s += ', cross_scale=False'
        if self.gain != 1.0:
            s += f', gain={self.gain:g}'
        return s


def _indices(mask: Tensor) -> Tensor:
    return torch.nonzero(mask, as_tuple=False).flatten()


def _cumsum(values: Sequence[int]) -> List[int]:
    out, total = [], 0
    for v in values:
        total += v
        out.append(total)
    return out
