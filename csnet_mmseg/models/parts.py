"""The CSNet parts of a segmentor, checked once for every tool that needs
them (channel pruning, the deploy form)."""
from typing import Tuple

from torch import nn

from .backbones.csnet import CSNet
from .decode_heads.csf_head import CSFHead


class NotCSNetError(TypeError):
    """A model is not a CSNet segmentor (CSNet backbone + CSFHead, no neck)."""


def csnet_parts(segmentor: nn.Module,
                purpose: str = 'this operation') -> Tuple[CSNet, CSFHead]:
    """The ``(backbone, decode_head)`` of a CSNet segmentor.

    Args:
        segmentor (nn.Module): An ``EncoderDecoder`` (not a model wrapper).
        purpose (str): What needs the parts, for the error message (e.g.
            ``'channel pruning'``). Defaults to 'this operation'.

    Returns:
        tuple[CSNet, CSFHead]: The backbone and the decode head.

    Raises:
        NotCSNetError: If the backbone is not a :class:`CSNet`, the decode
            head not a :class:`CSFHead`, or a neck sits between them.
    """
    backbone = getattr(segmentor, 'backbone', None)
    head = getattr(segmentor, 'decode_head', None)
    if not isinstance(backbone, CSNet) or not isinstance(head, CSFHead):
        raise NotCSNetError(
            f'{purpose} needs a segmentor with a CSNet backbone and a '
            f'CSFHead decode head, got backbone={type(backbone).__name__}, '
            f'decode_head={type(head).__name__}')
    if getattr(segmentor, 'with_neck', False):
        raise NotCSNetError(f'{purpose} does not support a neck between the '
                            'CSNet backbone and the CSF head')
    return backbone, head
