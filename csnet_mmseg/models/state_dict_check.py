"""Refuse checkpoints saved from a model with another layer table or
another conv gain."""
from typing import Mapping

import torch
from torch import nn

__all__ = [
    'check_state_dict_fits', 'check_conv_gain', 'register_conv_gain',
    'GAIN_KEY'
]

_SHOWN = 8

#: The buffer of the CSNet backbone and the CSF head that stores their conv
#: gain in a checkpoint (only for a gain other than 1).
GAIN_KEY = 'conv_gain'


def register_conv_gain(module: nn.Module, gain: float) -> None:
    """Store ``gain`` as the persistent buffer :data:`GAIN_KEY` of
    ``module`` when it is not 1 (a gain-1 model's state dict is unchanged),
    so that its checkpoints say which gain their conv weights are for."""
    if float(gain) != 1.0:
        module.register_buffer(GAIN_KEY, torch.tensor(float(gain)))


def _describe(gain: float) -> str:
    if gain == 1.0:
        return 'gain 1 (plain convs, conv_cfg=None)'
    return f"gain {gain:g} (conv_cfg=dict(type='ScaledConv2d', gain={gain:g}))"


def check_conv_gain(module: nn.Module, state_dict: Mapping,
                    prefix: str) -> None:
    """Raise a ``ValueError`` if the checkpoint's tensors of ``module`` were
    trained with another conv gain than ``module.gain``.

    The checkpoint's gain is its ``<prefix>conv_gain`` tensor, or 1 if it
    has tensors of the module but no such tensor (a gain-1 checkpoint). A
    stored weight ``p`` means the convolution ``gain * p``, so loading it
    into a model of another gain would silently change every single-scale,
    depthwise and dilated convolution. A checkpoint without tensors of the
    module is not checked (a partial checkpoint).

    Args:
        module (nn.Module): The CSNet backbone or CSF head being loaded
            (its ``gain`` attribute, 1 if absent).
        state_dict (Mapping): The state dict handed to
            ``_load_from_state_dict``.
        prefix (str): The module's prefix in it.
    """
    if not any(k.startswith(prefix) for k in state_dict):
        return
    key = prefix + GAIN_KEY
    theirs = float(state_dict[key]) if key in state_dict else 1.0
    own = float(getattr(module, 'gain', 1.0))
    if theirs != own:
        where = f'{key} = {theirs:g}' if key in state_dict else \
            f'no {key} tensor'
        raise ValueError(
            f'{type(module).__name__}: the checkpoint was trained with conv '
            f'{_describe(theirs)} ({where}), but this config builds conv '
            f'{_describe(own)}. Its stored conv weights mean convolutions '
            f'{theirs / own:g}x those of this model; load it with a config of '
            f'conv gain {theirs:g}.')


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
    the per-scale norms and activations have one entry per channel. A
    checkpoint of another conv gain is refused first
    (:func:`check_conv_gain`).

    Args:
        module (nn.Module): The CSNet backbone or CSF head being loaded.
        state_dict (Mapping): The state dict handed to
            ``_load_from_state_dict``.
        prefix (str): The module's prefix in it (``'backbone.'`` ...).
    """
    check_conv_gain(module, state_dict, prefix)
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
