"""Refuse checkpoints saved from a model with another layer table."""
from typing import Mapping

from torch import nn

__all__ = ['check_state_dict_fits']

_SHOWN = 8


def check_state_dict_fits(module: nn.Module, state_dict: Mapping,
                          prefix: str) -> None:
    """Raise a ``ValueError`` if the checkpoint's tensors of ``module`` (the
    keys under ``prefix``) were saved from another layer table.

    MMEngine's ``load_checkpoint`` (``strict=False``: ``load_from``,
    tools/test.py, ``mmseg.apis.init_model``) only warns about a size
    mismatch and keeps the initial weights of those layers: a silently wrong
    model. Any shape mismatch, or a tensor the module does not have (a scale
    that has channels in the checkpoint and none here), is an error. Keys of
    the module that the checkpoint lacks are not: a partial checkpoint (only
    some layers, or nothing of this module) stays MMEngine's missing-key
    warning. Different channels per scale always show up as one of the two:
    the per-scale norms and activations have one entry per channel.

    Args:
        module (nn.Module): The CSNet backbone or CSF head being loaded.
        state_dict (Mapping): The state dict handed to
            ``_load_from_state_dict``.
        prefix (str): The module's prefix in it (``'backbone.'`` ...).
    """
    theirs = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    if not theirs:
        return
    own = module.state_dict()
    problems = []
    for k, v in theirs.items():
        shape = tuple(getattr(v, 'shape', ()))
        if k not in own:
            if not k.endswith('num_batches_tracked'):
                problems.append(f'{prefix}{k}: in the checkpoint, not in '
                                'the model')
        elif shape != tuple(own[k].shape):
            problems.append(f'{prefix}{k}: {shape} in the checkpoint, '
                            f'{tuple(own[k].shape)} in the model')
    if problems:
        shown = '\n  '.join(problems[:_SHOWN])
        if len(problems) > _SHOWN:
            shown += f'\n  ... and {len(problems) - _SHOWN} more'
        raise ValueError(
            f'{type(module).__name__}: the checkpoint was saved from a model '
            'with another layer table than this config '
            f'({len(problems)} tensors do not fit):\n  {shown}\nLoad it '
            'with the config it was trained with (csnet_l_x1 and '
            'csnet_l_x2 checkpoints each need their own config; a pruned '
            "checkpoint needs the pruned_config.py written next to it).")
