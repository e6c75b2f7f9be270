from .goct_conv import GOctConv, ScaleNormAct, infer_base_size, scale_size
from .il_block import ILBlock

__all__ = [
    'GOctConv', 'ILBlock', 'ScaleNormAct', 'infer_base_size', 'scale_size'
]
