"""CSNet backbone (Gao et al., "Highly Efficient Salient Object Detection with
100K Parameters", ECCV 2020)."""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from ..layers import ILBlock, conv_gain, scale_size
from ..state_dict_check import check_state_dict_fits, register_conv_gain


class BlockSpec(NamedTuple):
    """Where an ILBlock sits in a CSNet and how it is built.

    Args:
        name (str): Its module name in the backbone (``'stem'``,
            ``'stages.<s>.<b>'``).
        stage (int, optional): Its stage (None for the stem).
        index (int): Its index in the stage (0 for the stem).
        in_channels (list[int]): Input channels per scale.
        out_channels (list[int]): Output channels per scale.
        kernel_size (int): Kernel of its mixing gOctConv.
        stride (int): Stride of its mixing gOctConv.
    """
    name: str
    stage: Optional[int]
    index: int
    in_channels: List[int]
    out_channels: List[int]
    kernel_size: int
    stride: int


class CSNetBlock(NamedTuple):
    """An ILBlock of a built CSNet (see :meth:`CSNet.blocks`).

    Args:
        spec (BlockSpec): Where it sits (``name``, ``stage``, ``index``) and
            how it was built.
        block (ILBlock): The block.
    """
    spec: BlockSpec
    block: ILBlock

    @property
    def name(self) -> str:
        """Its module name in the backbone."""
        return self.spec.name

    @property
    def stage(self) -> Optional[int]:
        """Its stage (None for the stem)."""
        return self.spec.stage


def csnet_block_specs(stem_channels: Sequence[int],
                      stage_channels: Sequence[Sequence[Sequence[int]]],
                      in_channels: int = 3,
                      strides: Sequence[int] = (1, 2, 2, 2)
                      ) -> List[BlockSpec]:
    """The ILBlocks of a CSNet layer table, stem first, in forward order.

    The stem is a 3x3 stride-1 block on the image; a stage starting with
    stride 2 starts with a 3x3 block, every other mixing conv is 1x1; a
    block's input channels are the output channels of the block before it.
    This is the one walk over stem and stages: the backbone is built from it
    and the converter of the released weights reads it.

    Args:
        stem_channels (Sequence[int]): As :class:`CSNet`'s.
        stage_channels (Sequence[Sequence[Sequence[int]]]): As
            :class:`CSNet`'s.
        in_channels (int): As :class:`CSNet`'s. Defaults to 3.
        strides (Sequence[int]): As :class:`CSNet`'s.
            Defaults to (1, 2, 2, 2).

    Returns:
        list[BlockSpec]: One entry per block.
    """
    prev = [int(c) for c in stem_channels]
    specs = [BlockSpec('stem', None, 0, [int(in_channels)], prev, 3, 1)]
    for s, (stage, stride) in enumerate(zip(stage_channels, strides)):
        for b, out in enumerate(stage):
            out = [int(c) for c in out]
            first_strided = b == 0 and stride > 1
            specs.append(
                BlockSpec(f'stages.{s}.{b}', s, b, prev, out,
                          3 if first_strided else 1,
                          stride if b == 0 else 1))
            prev = out
    return specs


@MODELS.register_module()
class CSNet(BaseModule):
    """CSNet backbone built from a layer table.

    A stem ILBlock (3x3 gOctConv, stride 1, from the image), then stages of
    ILBlocks. The first stage keeps full resolution, the others start with a
    stride-2 block whose mixing gOctConv is 3x3; all other mixing convs are
    1x1. The channels per scale of every block come from the layer table
    (``stem_channels``, ``stage_channels``); the input channels of a block are
    the output channels of the block before it. The outputs of the stages in
    ``out_indices`` must be single-scale (their last block merges the scales).

    Args:
        stem_channels (Sequence[int]): Output channels per scale of the stem.
        stage_channels (Sequence[Sequence[Sequence[int]]]): Per stage, per
            block, the output channels per scale.
        in_channels (int): Image channels. Defaults to 3.
        strides (Sequence[int]): Stride of each stage's first block.
            Defaults to (1, 2, 2, 2).
        out_indices (Sequence[int]): Stages whose (single-scale) output is
            returned. Defaults to (1, 2, 3).
        norm_cfg (dict, optional): Norm config, e.g. ``dict(type='SyncBN')``.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation config.
            Defaults to ``dict(type='PReLU')`` (per channel).
        norm_eval (bool): Keep norm layers in eval mode while training.
            Defaults to False.
        conv_cfg (dict, optional): Conv config of every gOctConv: None
            (plain convolutions) or ``dict(type='ScaledConv2d', gain=g)``:
            the single-scale gOctConvs and all depthwise convs convolve with
            ``g`` times their stored weight (the released training code:
            ``g = 100``, :data:`~csnet_mmseg.models.layers.RELEASED_CONV_GAIN`;
            see :class:`~csnet_mmseg.models.layers.GOctConv`). A gain other
            than 1 is stored in the state dict (``conv_gain``) and a
            checkpoint of another gain is refused. Defaults to None.
        channels_last (bool): Run the network in channels-last (NHWC)
            memory: the input is converted once and every layer keeps the
            layout. On a CPU, oneDNN's convolutions (depthwise above all)
            and their backward are faster in it for CSNet's few-channel,
            high-resolution maps (``experiments/train_speed/train_speed.py``
            measures it). Values are the same up to float rounding (sums run
            in another order). Defaults to False.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 stem_channels: Sequence[int],
                 stage_channels: Sequence[Sequence[Sequence[int]]],
                 in_channels: int = 3,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 out_indices: Sequence[int] = (1, 2, 3),
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: OptConfigType = dict(type='PReLU'),
                 norm_eval: bool = False,
                 channels_last: bool = False,
                 conv_cfg: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(strides) != len(stage_channels):
            raise ValueError(
                f'CSNet: strides has {len(strides)} entries but '
                f'stage_channels has {len(stage_channels)} stages')
        for s, stage in enumerate(stage_channels):
            if len(stage) == 0:
                raise ValueError(f'CSNet: stage_channels[{s}] has no blocks')
        for i in out_indices:
            if not 0 <= i < len(stage_channels):
                raise ValueError(f'CSNet: out_indices has stage {i}, but '
                                 f'there are {len(stage_channels)} stages')
            last = list(stage_channels[i][-1])
            if len(last) != 1 or last[0] <= 0:
                raise ValueError(
                    f'CSNet: the output of stage {i} must be single-scale, '
                    f'but stage_channels[{i}][-1] = {last}')
        self.stem_channels = [int(c) for c in stem_channels]
        self.stage_channels = [[[int(c) for c in block] for block in stage]
                               for stage in stage_channels]
        self.strides = list(strides)
        self.out_indices = tuple(out_indices)
        self.norm_eval = norm_eval
        self.channels_last = bool(channels_last)
        #: the conv gain of ``conv_cfg`` (1 for plain convolutions)
        self.gain = conv_gain(conv_cfg)
        register_conv_gain(self, self.gain)

        #: the blocks (stem first), as :func:`csnet_block_specs` lays them out
        self.block_specs = csnet_block_specs(self.stem_channels,
                                             self.stage_channels, in_channels,
                                             self.strides)
        blocks = [
            ILBlock(
                spec.in_channels,
                spec.out_channels,
                kernel_size=spec.kernel_size,
                stride=spec.stride,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                conv_cfg=conv_cfg) for spec in self.block_specs
        ]
        self.stem = blocks[0]
        self.stages = nn.ModuleList(
            nn.ModuleList() for _ in self.stage_channels)
        for spec, block in zip(self.block_specs[1:], blocks[1:]):
            self.stages[spec.stage].append(block)

    def blocks(self) -> List[CSNetBlock]:
        """Every ILBlock (the stem first) in forward order, with its place.

        Returns:
            list[CSNetBlock]: ``(spec, block)`` per block; ``.name`` and
            ``.stage`` read the spec.
        """
        return [
            CSNetBlock(spec, self.get_submodule(spec.name))
            for spec in self.block_specs
        ]

    def output_blocks(self) -> List[int]:
        """Positions in :meth:`blocks` of the blocks whose (scale-0) output
        :meth:`forward` returns, in the order it returns them."""
        last = {
            blk.stage: k
            for k, blk in enumerate(self.blocks()) if blk.stage is not None
        }
        return [last[s] for s in sorted(set(self.out_indices))]

    @property
    def out_channels(self) -> List[int]:
        """Channels of each returned (single-scale) feature map."""
        return [self.stage_channels[i][-1][0] for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        size = tuple(x.shape[-2:])
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        xs = [x]
        outs = []
        out_blocks = self.output_blocks()
        for k, blk in enumerate(self.blocks()):
            xs = blk.block(xs, size)
            if blk.block.stride > 1:
                size = scale_size(size, 1)
            if k in out_blocks:
                outs.append(xs[0])
        return tuple(outs)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # a checkpoint of another layer table must not load with a warning
        check_state_dict_fits(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def train(self, mode: bool = True) -> 'CSNet':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self
