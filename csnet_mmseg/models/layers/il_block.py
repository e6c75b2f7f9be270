"""Inception-like block (ILBlock) of CSNet."""
from typing import Optional, Sequence

from mmengine.model import BaseModule

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from .goct_conv import GOctConv, MultiScale


@MODELS.register_module()
class ILBlock(BaseModule):
    """ILBlock: a scale-mixing gOctConv, then two per-scale depthwise 3x3
    gOctConvs, each followed by per-scale norm + activation.

    Args:
        in_channels (Sequence[int]): Input channels per scale.
        out_channels (Sequence[int]): Output channels per scale (the width of
            the mixing gOctConv and of both depthwise convs).
        kernel_size (int): Kernel of the mixing gOctConv (1, or 3 in the stem
            and in stride-2 blocks). Defaults to 1.
        stride (int): Stride of the mixing gOctConv. Defaults to 1.
        norm_cfg (dict, optional): Norm config. Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation config.
            Defaults to ``dict(type='PReLU')``.
        conv_cfg (dict, optional): Conv config of the three gOctConvs: None
            or ``dict(type='ScaledConv2d', gain=g)``; the depthwise convs
            always take the gain, the mixing conv only when it is
            single-scale (see :class:`GOctConv`). Defaults to None.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: Sequence[int],
                 kernel_size: int = 1,
                 stride: int = 1,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: OptConfigType = dict(type='PReLU'),
                 conv_cfg: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        self.out_channels = list(out_channels)
        self.stride = stride
        self.conv_mix = GOctConv(
            in_channels,
            out_channels,
            kernel_size=kernel_size,
            stride=stride,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            conv_cfg=conv_cfg)
        self.conv_dw1 = GOctConv(
            out_channels,
            out_channels,
            kernel_size=3,
            depthwise=True,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            conv_cfg=conv_cfg)
        self.conv_dw2 = GOctConv(
            out_channels,
            out_channels,
            kernel_size=3,
            depthwise=True,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            conv_cfg=conv_cfg)

    def forward(self,
                xs: MultiScale,
                base_size: Optional[Sequence[int]] = None) -> MultiScale:
        """Forward a multi-scale list; ``base_size`` is the input's scale-0
        size (the output's is halved for ``stride=2``)."""
        out = self.conv_mix(xs, base_size)
        return self.conv_dw2(self.conv_dw1(out))
