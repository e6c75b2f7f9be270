"""csnet-mmseg: CSNet (Gao et al., ECCV 2020 / TPAMI 2021) for MMSegmentation.

Importing this package registers every component into the MMSeg/MMEngine
registries (``mmseg.registry``) and installs the checkpoint-loading
safe loader of local checkpoints (see :mod:`csnet_mmseg.checkpoint`).
"""
from . import checkpoint  # noqa: F401  (must come first: checkpoint loading)
from . import datasets, engine, evaluation, models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
