"""CSNet backbone (Gao et al., "Highly Efficient Salient Object Detection with
100K Parameters", ECCV 2020)."""
from typing import List, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from ..layers import ILBlock, scale_size
from ..state_dict_check import check_state_dict_fits


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

        self.stem = ILBlock([in_channels],
                            self.stem_channels,
                            kernel_size=3,
                            norm_cfg=norm_cfg,
                            act_cfg=act_cfg)
        prev = self.stem_channels
        self.stages = nn.ModuleList()
        for stage, stride in zip(self.stage_channels, self.strides):
            blocks = nn.ModuleList()
            for b, out in enumerate(stage):
                first_strided = b == 0 and stride > 1
                blocks.append(
                    ILBlock(
                        prev,
                        out,
                        kernel_size=3 if first_strided else 1,
                        stride=stride if b == 0 else 1,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                prev = out
            self.stages.append(blocks)

    @property
    def out_channels(self) -> List[int]:
        """Channels of each returned (single-scale) feature map."""
        return [self.stage_channels[i][-1][0] for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        size = tuple(x.shape[-2:])
        xs = self.stem([x], size)
        outs = []
        for s, (stage, stride) in enumerate(zip(self.stages, self.strides)):
            for b, block in enumerate(stage):
                xs = block(xs, size)
                if b == 0 and stride > 1:
                    size = scale_size(size, 1)
            if s in self.out_indices:
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
