from .loading import (LoadSODAnnotations, LoadSODImage, mask_to_grey8,
                      read_sod_mask)
from .transforms import RandomFlipLRUD, SODRandomCrop

__all__ = [
    'LoadSODAnnotations', 'LoadSODImage', 'read_sod_mask', 'mask_to_grey8',
    'SODRandomCrop', 'RandomFlipLRUD'
]
