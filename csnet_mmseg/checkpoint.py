"""Safe checkpoint loading for the pinned stack (torch 2.13 + mmengine
0.10.7).

torch >= 2.6 loads checkpoints with ``weights_only=True``: only tensors,
plain containers and an allow-list of types can be unpickled, so a
checkpoint cannot run code. A checkpoint saved by mmengine 0.10.7 also holds
the message hub (``HistoryBuffer`` objects holding NumPy arrays) and NumPy
scalars, which ``weights_only=True`` rejects ("Unsupported global ..."):
``tools/test.py``, ``load_from`` and ``--resume`` would fail.

The fix keeps ``weights_only=True`` and allows exactly those types,
:data:`SAFE_CHECKPOINT_GLOBALS`, only while a checkpoint is loaded
(``torch.serialization.safe_globals``, a context manager), in the loader of
local files that mmengine's documented extension point
:meth:`mmengine.runner.CheckpointLoader.register_scheme` selects for paths
without a scheme (prefix ``''``). Nothing is added to torch's process-wide
allow-list and remote schemes (``http://``, ``s3://`` ...) keep mmengine's
loaders. A checkpoint holding anything else (e.g. a pickle payload that
would run code) is refused with :class:`UnsafeCheckpointError` naming the
file; a damaged one raises :class:`CheckpointError`.

``csnet_mmseg/__init__.py`` imports this module first, so that importing
the package registers the loader. It is, with
:func:`csnet_mmseg.engine.setup_cpu_distributed` (CPU-only DDP), the only
place where csnet-mmseg adapts MMEngine behaviour, through MMEngine's
documented extension point.
"""
import os.path as osp
import pickle
import re
from typing import List

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader

__all__ = [
    'CheckpointError', 'UnsafeCheckpointError', 'SAFE_CHECKPOINT_GLOBALS',
    'load_local_checkpoint', 'load_checkpoint_file'
]


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be loaded (cut short, damaged, not a
    checkpoint)."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds Python objects outside the allow-list: loading it
    with ``weights_only=False`` could run code."""


#: Dtypes of the NumPy arrays and scalars in checkpoints: float64 and int64
#: (HistoryBuffer's logged values and counts).
_NUMPY_DTYPES = ('float64', 'int64')


def _numpy_globals() -> List:
    """What pickled NumPy arrays and scalars refer to: the array rebuild
    function, the array and dtype classes and the scalar rebuild function,
    the rebuild functions also under their NumPy 1 names
    (``numpy.core.multiarray``), which checkpoints saved with NumPy 1 use."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    found = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    # numpy >= 1.25 dtypes are instances of per-type classes, which the
    # unpickler must be allowed to build
    found += [type(np.dtype(t)) for t in _NUMPY_DTYPES]
    for func in (multiarray._reconstruct, multiarray.scalar):
        name = f'numpy.core.multiarray.{func.__name__}'
        if f'{func.__module__}.{func.__name__}' != name:
            found.append((func, name))
    return found


def _history_buffer_getattr(obj, name: str):
    """``getattr`` restricted to a HistoryBuffer's statistics methods.

    A pickled ``HistoryBuffer`` stores its ``statistics_methods``, functions
    of the class, which pickle writes as
    ``builtins.getattr(HistoryBuffer, 'min')``.
    Allowing the real ``getattr`` would let a checkpoint reach any
    attribute (module globals, ``__builtins__``); this stands in for it
    under the name ``builtins.getattr`` while a checkpoint is loaded.
    """
    allowed = ('min', 'max', 'current', 'mean')
    buffer = obj is HistoryBuffer or isinstance(obj, HistoryBuffer)
    if buffer and isinstance(name, str) and (
            name in allowed or name in HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'getattr({type(obj).__name__}, {name!r}) is not allowed in a '
        'checkpoint (only the statistics methods of a HistoryBuffer)')


#: The non-tensor types that mmengine's and csnet-mmseg's checkpoints hold,
#: allowed (and nothing else) while a checkpoint is loaded:
#:
#: - ``mmengine.logging.HistoryBuffer``: the message hub's logged scalars
#:   (``checkpoint['message_hub']['log_scalars']``); its state is two NumPy
#:   arrays and an int;
#: - NumPy's ``multiarray._reconstruct``, ``ndarray`` and ``dtype`` for the
#:   arrays inside the HistoryBuffers;
#: - NumPy's ``multiarray.scalar`` for NumPy scalars (e.g. a logged value
#:   or a seed stored as ``np.int64``);
#: - ``builtins.getattr``, replaced by :func:`_history_buffer_getattr`
#:   (``getattr`` on a HistoryBuffer for its statistics methods ``min``,
#:   ``max``, ``current``, ``mean`` and registered ones, nothing else): a
#:   HistoryBuffer pickles its ``statistics_methods`` as bound methods.
#:
#: None of them runs code when unpickled: the arrays are rebuilt from raw
#: bytes, the HistoryBuffer from its attribute dict.
SAFE_CHECKPOINT_GLOBALS: List = [
    HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')
] + _numpy_globals()


def _refused(filename: str, error: Exception) -> str:
    text = str(error)
    m = re.search(r'Unsupported global: GLOBAL ([\w.]+)', text)
    if m:
        what = f'it refers to {m.group(1)}'
    else:
        lines = [line.strip() for line in text.split('WeightsUnpickler error:'
                                                     )[-1].splitlines()]
        what = next((line for line in lines if line), text)[:300]
    return (f"Refused to load the checkpoint '{filename}': {what}, which is "
            'not allowed. csnet-mmseg loads checkpoints with '
            'torch.load(weights_only=True), allowing tensors, containers '
            'and csnet_mmseg.checkpoint.SAFE_CHECKPOINT_GLOBALS only, because '
            'unpickling anything else can run code. If the file comes '
            'from a source you trust, load it yourself with torch.load('
            "..., weights_only=False) and save its 'state_dict'.")


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load(filename, weights_only=True)`` with
    :data:`SAFE_CHECKPOINT_GLOBALS` allowed during the call.

    Args:
        filename (str): Local checkpoint file.
        map_location (optional): Same as :func:`torch.load`.

    Returns:
        The loaded object (a dict for checkpoints).

    Raises:
        FileNotFoundError: No such file.
        UnsafeCheckpointError: The file holds other Python objects (it
            could run code if loaded with ``weights_only=False``).
        CheckpointError: The file is cut short, damaged or not a PyTorch
            checkpoint.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with open(filename, 'rb') as f:
        head = f.read(4)
    # torch.save writes a zip archive (legacy format: a pickle, b'\x80')
    if not (head.startswith(b'PK\x03\x04') or head.startswith(b'\x80')):
        raise CheckpointError(
            f"Cannot load the checkpoint '{filename}': "
            + ('the file is empty' if not head else
               'not a PyTorch checkpoint (neither a zip archive nor a '
               'pickle)'))
    try:
        with torch.serialization.safe_globals(SAFE_CHECKPOINT_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if 'weights_only' in str(e) or 'Unsupported' in str(e):
            raise UnsafeCheckpointError(_refused(filename, e)) from e
        raise CheckpointError(
            f"Cannot load the checkpoint '{filename}' (damaged or not a "
            f'PyTorch checkpoint): {e}') from e
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        raise CheckpointError(
            f"Cannot load the checkpoint '{filename}' (cut short, damaged "
            f'or not a PyTorch checkpoint): {type(e).__name__}: '
            f'{str(e).strip().splitlines()[0] if str(e).strip() else ""}'
        ) from e


def load_local_checkpoint(filename: str, map_location=None):
    """Load a local checkpoint safely (the mmengine ``''`` scheme).

    Args:
        filename (str): Local checkpoint path (``~`` is expanded).
        map_location (str, optional): Same as :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.
    """
    return load_checkpoint_file(
        osp.expanduser(filename), map_location=map_location)


CheckpointLoader.register_scheme(
    prefixes='', loader=load_local_checkpoint, force=True)
