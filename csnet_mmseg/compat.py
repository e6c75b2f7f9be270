"""Compatibility of the pinned stack (torch 2.13 + mmengine 0.10.7).

**Safe checkpoint loading.** torch >= 2.6 loads checkpoints with
``weights_only=True``: only tensors, plain containers and an allow-list of
types can be unpickled, so a checkpoint cannot run code. A checkpoint saved
by mmengine 0.10.7 also holds the message hub (``HistoryBuffer`` objects
holding NumPy arrays) and NumPy scalars, which ``weights_only=True``
rejects ("Unsupported global ..."): ``tools/test.py``, ``load_from`` and
``--resume`` would fail.

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

Second, MMEngine 0.10.7's ``pytorch`` launcher assumes CUDA: ``init_dist``
calls ``torch.cuda.set_device`` and the DDP wrapper gets ``device_ids``.
:func:`setup_cpu_distributed`, called by ``tools/train.py`` and
``tools/test.py`` before the Runner is built, starts the gloo process group
itself on CUDA-less machines (the Runner then skips ``init_dist``) and sets
``model_wrapper_cfg.device_ids=None`` - only config and public torch APIs.

This is the only place where csnet-mmseg adapts MMEngine behaviour.
"""
import os.path as osp
import pickle
import re
from typing import List

import numpy as np
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader

__all__ = [
    'CheckpointError', 'UnsafeCheckpointError', 'SAFE_CHECKPOINT_GLOBALS',
    'load_local_checkpoint', 'load_checkpoint_file', 'load_numpy_pickle',
    'init_segmentor', 'setup_cpu_distributed'
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
            'and csnet_mmseg.compat.SAFE_CHECKPOINT_GLOBALS only, because '
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


#: (module, name) pairs a pickled NumPy array refers to, under NumPy 1 and 2
#: names: all :func:`load_numpy_pickle` accepts.
_NUMPY_PICKLE_GLOBALS = {
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar')
}


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickles containers, numbers, strings and NumPy arrays only."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_PICKLE_GLOBALS:
            if module == 'numpy.core.multiarray':
                try:  # numpy 2 name, without numpy.core's warning
                    from numpy._core import multiarray
                except ImportError:  # numpy < 2
                    from numpy.core import multiarray
                return getattr(multiarray, name)
            return super().find_class(module, name)
        raise UnsafeCheckpointError(
            f"Refused to unpickle {module}.{name}: only containers, numbers, "
            'strings and NumPy arrays are allowed (anything else could run '
            'code)')


def load_numpy_pickle(filename: str):
    """A pickle file holding only containers, numbers, strings and NumPy
    arrays (e.g. a released CSNet layer table); any other global (a class,
    a function such as ``os.system``) is refused with
    :class:`UnsafeCheckpointError` naming the file, before it is called.

    Args:
        filename (str): The pickle file.

    Returns:
        The unpickled object.
    """
    with open(filename, 'rb') as f:
        try:
            return _NumpyUnpickler(f).load()
        except UnsafeCheckpointError as e:
            raise UnsafeCheckpointError(f"'{filename}': {e}") from None


def init_segmentor(config, checkpoint: str, device: str = 'cpu'):
    """:func:`mmseg.apis.init_model` that also takes a checkpoint without
    ``meta`` (a bare ``state_dict`` or ``dict(state_dict=...)``, which
    ``init_model`` rejects with ``KeyError: 'meta'``).

    Args:
        config (str | Config): Model config.
        checkpoint (str): Checkpoint file (loaded safely, see
            :func:`load_checkpoint_file`).
        device (str): Torch device. Defaults to 'cpu'.

    Returns:
        nn.Module: The segmentor in eval mode, with ``dataset_meta``.
    """
    from mmengine.runner import load_checkpoint
    from mmseg.apis import init_model
    model = init_model(config, None, device=device)
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if isinstance(meta, dict) and meta.get('dataset_meta'):
        model.dataset_meta = meta['dataset_meta']
    else:
        model.dataset_meta = dict(
            classes=('background', 'foreground'),
            palette=[[0, 0, 0], [255, 255, 255]])
    return model.eval()


def setup_cpu_distributed(cfg: Config) -> None:
    """Start the process group of a ``--launcher pytorch`` run without CUDA.

    MMEngine's pytorch launcher calls ``torch.cuda.set_device`` (which fails
    on a CPU-only PyTorch) and builds DDP with ``device_ids`` (which DDP
    refuses for a CPU module). Without CUDA this starts the process group
    (``env_cfg.dist_cfg``: the backend must be gloo, other keys go to
    ``init_process_group``) - the Runner then skips its own ``init_dist`` -
    and sets ``model_wrapper_cfg.device_ids=None``. Nothing changes with
    CUDA, without a launcher, or when a process group already exists.

    Args:
        cfg (Config): The run's config, after ``--cfg-options``;
            ``cfg.launcher`` is the launcher.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or \
            torch.cuda.is_available() or dist.is_initialized():
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'gloo')
    if backend != 'gloo':
        raise ValueError(
            'a distributed run without CUDA needs the gloo backend, not '
            f'{backend!r}: add --cfg-options env_cfg.dist_cfg.backend=gloo')
    dist.init_process_group(backend=backend, **dist_cfg)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper
