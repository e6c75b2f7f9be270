from .fast_prelu import FastPReLU
from .goct_conv import GOctConv, ScaleNormAct, infer_base_size, scale_size
from .il_block import ILBlock

__all__ = [
    'FastPReLU', 'GOctConv', 'ILBlock', 'ScaleNormAct', 'infer_base_size',
    'scale_size'
]
