"""Building a segmentor from a config and its weights: for inference
(:func:`init_segmentor`, MMSeg's ``init_model``) and for measurements and
tools (:func:`build_segmentor`: a checkpoint or random weights)."""
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from torch import nn

__all__ = ['init_segmentor', 'build_segmentor']


def init_segmentor(config, checkpoint: str, device: str = 'cpu'):
    """:func:`mmseg.apis.init_model` that also takes a checkpoint without
    ``meta`` (a bare ``state_dict`` or ``dict(state_dict=...)``, which
    ``init_model`` rejects with ``KeyError: 'meta'``).

    Args:
        config (str | Config): Model config.
        checkpoint (str): Checkpoint file (loaded safely, see
            :func:`csnet_mmseg.checkpoint.load_checkpoint_file`).
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


def build_segmentor(config: Union[str, Config],
                    checkpoint: Optional[str] = None,
                    random_weights: bool = False,
                    *,
                    seed: Optional[int] = 0,
                    strict: bool = False,
                    device: str = 'cpu',
                    logger: str = 'silent',
                    return_checkpoint: bool = False):
    """The segmentor of a config, in eval mode, with the weights of a
    checkpoint or random ones.

    The model is built with ``MODELS.build(cfg.model)`` in the config's
    default scope (after ``torch.manual_seed(seed)``, so that the layers
    that initialise themselves do so reproducibly). Then either the
    checkpoint is loaded (MMEngine's ``load_checkpoint``, through the
    project's safe loader), or with ``random_weights`` the BN
    statistics, affine parameters and PReLU slopes are drawn at random
    (:func:`csnet_mmseg.testing.randomise_weights` with ``convs=False``,
    as the benchmark and profiling tools need), or neither: the layers'
    own initialisation.

    Args:
        config (str | Config): A config file or a loaded config (e.g. with
            ``--cfg-options`` merged).
        checkpoint (str, optional): A checkpoint file. Defaults to None.
        random_weights (bool): Random BN statistics, affine parameters and
            PReLU slopes instead of a checkpoint. Defaults to False.
        seed (int, optional): ``torch.manual_seed`` before building (None:
            not seeded). Defaults to 0.
        strict (bool): Refuse a checkpoint whose keys do not match.
            Defaults to False.
        device (str): Torch device of the returned model. Defaults to
            'cpu'.
        logger (str): ``load_checkpoint``'s logger ('current' logs the
            loaded file and any key mismatch). Defaults to 'silent'.
        return_checkpoint (bool): Also return what ``load_checkpoint``
            returned (None without a checkpoint). Defaults to False.

    Returns:
        nn.Module | tuple[nn.Module, dict | None]: The segmentor in eval
        mode (and the loaded checkpoint with ``return_checkpoint``).

    Raises:
        ValueError: Both ``checkpoint`` and ``random_weights`` are given.
        FileNotFoundError: The config or the checkpoint file is missing.
    """
    import csnet_mmseg  # noqa: F401  (registers the CSNet modules)
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    if checkpoint is not None and random_weights:
        raise ValueError('build_segmentor takes a checkpoint or '
                         f'random_weights=True, not both (got {checkpoint})')
    if isinstance(config, str):
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        config = Config.fromfile(config)
    if not isinstance(config, Config):
        raise TypeError('build_segmentor needs a config file or a Config, '
                        f'got {type(config).__name__}')
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint file not found: {checkpoint}')
    register_all_modules(init_default_scope=False)
    init_default_scope(config.get('default_scope', 'mmseg'))
    if seed is not None:
        torch.manual_seed(seed)
    model: nn.Module = MODELS.build(config.model)
    loaded = None
    if random_weights:
        from ..testing import randomise_weights
        randomise_weights(model, convs=False)
    elif checkpoint is not None:
        loaded = load_checkpoint(
            model,
            checkpoint,
            map_location='cpu',
            strict=strict,
            logger=logger)
    model = model.to(device).eval()
    return (model, loaded) if return_checkpoint else model
