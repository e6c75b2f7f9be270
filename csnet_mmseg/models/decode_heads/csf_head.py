"""Cross-stage fusion (CSF) head of CSNet."""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from ..layer_table import CSNET_DILATIONS
from ..layers import GOctConv, ScaleNormAct, build_scaled_conv, conv_gain
from ..state_dict_check import check_state_dict_fits, register_conv_gain


class MultiDilationConv(nn.Module):
    """Per scale, parallel 3x3 convs with several dilations, concatenated in
    dilation order, then one norm + activation per scale.

    Args:
        in_channels (Sequence[int]): Input channels per scale.
        dilation_channels (Sequence[Sequence[int]]): Per scale, the output
            channels of each dilation (0 = branch absent).
        dilations (Sequence[int]): The dilations. Defaults to (1, 2, 4, 8, 16).
        norm_cfg (dict, optional): Norm config.
        act_cfg (dict, optional): Activation config.
        conv_cfg (dict, optional): Conv config of every dilated conv (each
            is single-scale, so a ``ScaledConv2d`` gain always applies).
            Defaults to None (``nn.Conv2d``).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 dilation_channels: Sequence[Sequence[int]],
                 dilations: Sequence[int] = CSNET_DILATIONS,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: OptConfigType = dict(type='PReLU'),
                 conv_cfg: OptConfigType = None) -> None:
        super().__init__()
        if len(dilation_channels) != len(in_channels):
            raise ValueError(
                f'dilation_channels has {len(dilation_channels)} scales but '
                f'the head has {len(in_channels)} (fuse_channels)')
        for s, per in enumerate(dilation_channels):
            if len(per) != len(dilations):
                raise ValueError(
                    f'dilation_channels[{s}] = {list(per)} needs one entry '
                    f'per dilation {tuple(dilations)}')
        self.in_channels = [int(c) for c in in_channels]
        self.dilations = tuple(int(d) for d in dilations)
        self.dilation_channels = [[int(c) for c in per]
                                  for per in dilation_channels]
        self.out_channels = [sum(per) for per in self.dilation_channels]
        # weights[s][k]: scale s, dilation k (None when absent)
        self.convs = nn.ModuleList()
        for s, per in enumerate(self.dilation_channels):
            branches = nn.ModuleList()
            for c, d in zip(per, self.dilations):
                if c > 0 and self.in_channels[s] > 0:
                    branches.append(
                        build_scaled_conv(
                            conv_cfg,
                            self.in_channels[s],
                            c,
                            3,
                            padding=d,
                            dilation=d,
                            bias=False))
                else:
                    branches.append(nn.Identity())
            self.convs.append(branches)
        self.norm_act = ScaleNormAct(self.out_channels, norm_cfg, act_cfg)

    def forward(self, xs: List[Tensor]) -> List[Tensor]:
        outs = []
        for x, branches in zip(xs, self.convs):
            ys = [
                conv(x) for conv in branches if isinstance(conv, nn.Conv2d)
            ] if x is not None else []
            outs.append(torch.cat(ys, dim=1) if ys else None)
        return self.norm_act(outs)


@MODELS.register_module()
class CSFHead(BaseDecodeHead):
    """Cross-stage fusion head of CSNet.

    The stage outputs (here of stages 2, 3 and 4) are taken as the scales of
    one multi-scale feature: a 1x1 gOctConv mixes them across stages, each
    scale then goes through parallel 3x3 convolutions with dilations
    (1, 2, 4, 8, 16), concatenated, norm + activation; a 1x1 gOctConv merges
    all scales into the finest one (``channels`` wide), and ``conv_seg`` (1x1
    with bias) gives the logits. The logits are upsampled to the input size
    by ``predict_by_feat`` / ``loss_by_feat``.

    ``conv_cfg`` (None or ``dict(type='ScaledConv2d', gain=g)``) gives the
    dilated convs and the single-scale ones of ``fuse`` / ``merge`` the gain
    ``g`` (the released training code: 100); ``conv_seg`` stays a plain conv
    (as released). A gain other than 1 is stored in the state dict
    (``decode_head.conv_gain``) and a checkpoint of another gain is refused.

    Args:
        in_channels (Sequence[int]): Channels of the selected backbone outputs.
        fuse_channels (Sequence[int]): Output channels per scale of the 1x1
            cross-stage gOctConv.
        dilation_channels (Sequence[Sequence[int]]): Per scale, channels of
            each dilation branch (0 = absent).
        channels (int): Channels of the merged finest scale (input of
            ``conv_seg``).
        dilations (Sequence[int]): Dilations. Defaults to (1, 2, 4, 8, 16).
        norm_cfg (dict, optional): Norm config. Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation config.
            Defaults to ``dict(type='PReLU')``.
        conv_cfg (dict, optional): Conv config (see above). Defaults to None.
        **kwargs: Arguments of :class:`BaseDecodeHead` (``num_classes``,
            ``out_channels``, ``threshold``, ``loss_decode``, ...).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 fuse_channels: Sequence[int],
                 dilation_channels: Sequence[Sequence[int]],
                 channels: int,
                 dilations: Sequence[int] = CSNET_DILATIONS,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: OptConfigType = dict(type='PReLU'),
                 conv_cfg: OptConfigType = None,
                 in_index: Sequence[int] = (0, 1, 2),
                 input_transform: str = 'multiple_select',
                 dropout_ratio: float = 0.0,
                 **kwargs) -> None:
        try:
            super().__init__(
                in_channels=list(in_channels),
                channels=channels,
                in_index=list(in_index),
                input_transform=input_transform,
                dropout_ratio=dropout_ratio,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                conv_cfg=conv_cfg,
                **kwargs)
        except TypeError as e:  # name this head, not BaseDecodeHead
            raise TypeError(f'CSFHead: {e}') from e
        if len(fuse_channels) != len(in_channels):
            raise ValueError(
                f'CSFHead: fuse_channels {list(fuse_channels)} needs one entry '
                f'per input ({len(in_channels)} in_channels)')
        self.fuse_channels = [int(c) for c in fuse_channels]
        #: the conv gain of ``conv_cfg`` (1 for plain convolutions)
        self.gain = conv_gain(conv_cfg)
        register_conv_gain(self, self.gain)
        self.fuse = GOctConv(
            self.in_channels,
            self.fuse_channels,
            kernel_size=1,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            conv_cfg=conv_cfg)
        self.multi_dilation = MultiDilationConv(
            self.fuse_channels,
            dilation_channels,
            dilations,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            conv_cfg=conv_cfg)
        self.dilation_channels = self.multi_dilation.dilation_channels
        self.dilations = self.multi_dilation.dilations
        self.merge = GOctConv(
            self.multi_dilation.out_channels, [channels],
            kernel_size=1,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            conv_cfg=conv_cfg)

    def _forward_feature(self, inputs: Tuple[Tensor]) -> Tensor:
        xs = self._transform_inputs(inputs)
        xs = self.fuse(list(xs), tuple(xs[0].shape[-2:]))
        xs = self.multi_dilation(xs)
        return self.merge(xs, tuple(inputs[self.in_index[0]].shape[-2:]))[0]

    def forward(self, inputs: Tuple[Tensor]) -> Tensor:
        """Logits at the resolution of the finest selected input."""
        return self.cls_seg(self._forward_feature(inputs))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # a checkpoint of another layer table must not load with a warning
        check_state_dict_fits(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
