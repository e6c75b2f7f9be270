"""Compatibility of the pinned stack (torch 2.13 + mmengine 0.10.7).

torch >= 2.6 loads checkpoints with ``weights_only=True`` by default, but a
checkpoint saved by mmengine 0.10.7 also holds the message hub
(``HistoryBuffer``), numpy scalars and the config, so ``tools/test.py``,
``load_from`` and ``--resume`` fail with "Unsupported global ...".

The fix goes through mmengine's documented extension point
:meth:`mmengine.runner.CheckpointLoader.register_scheme`: the loader of local
paths (prefix ``''``) is replaced by one that passes ``weights_only=False``.
Only local files are affected; remote schemes (``http://``, ``s3://`` ...)
keep mmengine's own loaders. Loading a pickle runs code, so only load
checkpoints you trust - exactly as with torch < 2.6.

This is the only place where csnet-mmseg adapts MMEngine behaviour.
"""
import os.path as osp

import torch
from mmengine.runner import CheckpointLoader

__all__ = ['load_local_checkpoint', 'torch_load_trusted']


def torch_load_trusted(filename: str, map_location=None):
    """``torch.load`` for a trusted local file that may hold Python objects."""
    return torch.load(filename, map_location=map_location, weights_only=False)


def load_local_checkpoint(filename: str, map_location=None):
    """Load a trusted local checkpoint (the mmengine ``''`` scheme).

    Args:
        filename (str): Local checkpoint path (``~`` is expanded).
        map_location (str, optional): Same as :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch_load_trusted(filename, map_location=map_location)


CheckpointLoader.register_scheme(
    prefixes='', loader=load_local_checkpoint, force=True)
