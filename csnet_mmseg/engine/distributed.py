"""Distributed training and testing on CUDA-less machines.

MMEngine 0.10.7's ``pytorch`` launcher assumes CUDA: ``init_dist`` calls
``torch.cuda.set_device`` and the DDP wrapper gets ``device_ids``.
:func:`setup_cpu_distributed`, called by ``tools/train.py`` and
``tools/test.py`` before the Runner is built, starts the gloo process group
itself on CUDA-less machines (the Runner then skips ``init_dist``) and sets
``model_wrapper_cfg.device_ids=None`` - only config and public torch APIs.
"""
import torch
import torch.distributed as dist
from mmengine.config import Config

__all__ = ['setup_cpu_distributed']


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
