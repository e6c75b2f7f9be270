"""Deploy-time ILBlock."""
from typing import Optional, Sequence

from torch import nn

from csnet_mmseg.models.layers import ILBlock
from .fused_goct_conv import FusedGOctConv, MultiScale


class FusedILBlock(nn.Module):
    """Eval-only form of an :class:`ILBlock`: its three gOctConvs as
    :class:`FusedGOctConv` (norms folded, paths merged).

    Args:
        block (ILBlock): The trained block; it is not modified.
    """

    def __init__(self, block: ILBlock) -> None:
        super().__init__()
        if not isinstance(block, ILBlock):
            raise TypeError(
                f'FusedILBlock needs an ILBlock, got {type(block).__name__}')
        self.stride = block.stride
        self.conv_mix = FusedGOctConv(block.conv_mix)
        self.conv_dw1 = FusedGOctConv(block.conv_dw1)
        self.conv_dw2 = FusedGOctConv(block.conv_dw2)

    def forward(self,
                xs: MultiScale,
                base_size: Optional[Sequence] = None) -> MultiScale:
        return self.conv_dw2(self.conv_dw1(self.conv_mix(xs, base_size)))
