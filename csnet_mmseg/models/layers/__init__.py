from .fast_prelu import FastPReLU
from .goct_conv import GOctConv, ScaleNormAct, infer_base_size, scale_size
from .il_block import ILBlock
from .scaled_conv import (RELEASED_CONV_GAIN, ScaledConv2d, build_scaled_conv,
                          conv_gain, scaled_convs, single_scale_layout)

__all__ = [
    'FastPReLU', 'GOctConv', 'ILBlock', 'ScaleNormAct', 'infer_base_size',
    'scale_size', 'ScaledConv2d', 'RELEASED_CONV_GAIN', 'build_scaled_conv',
    'conv_gain', 'scaled_convs', 'single_scale_layout'
]
