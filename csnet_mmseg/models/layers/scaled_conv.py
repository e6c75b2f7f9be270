"""Convolutions with a constant gain on their stored weight (the released
CSNet training code's ``Conv2dX100``)."""
import copy
from typing import Iterator, Sequence, Tuple

import torch
from mmcv.cnn import build_conv_layer
from torch import Tensor, nn

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType

__all__ = [
    'ScaledConv2d', 'RELEASED_CONV_GAIN', 'conv_gain', 'build_scaled_conv',
    'single_scale_layout', 'scaled_convs'
]

#: The gain of the released training code: its single-scale convolutions
#: store ``p`` and convolve with ``100 * p`` ("for faster convergence").
RELEASED_CONV_GAIN = 100.0


@MODELS.register_module()
class ScaledConv2d(nn.Conv2d):
    """``nn.Conv2d`` that convolves with ``gain * weight``.

    The stored parameter ``weight`` (``p``) is initialised as ``nn.Conv2d``
    initialises it; the forward convolves with ``gain * p`` (the bias, if
    any, is used as stored). The function of the layer is that of a plain
    conv with weight ``gain * p``, but an optimizer sees ``p``: under Adam
    the effective weight moves ``gain`` times faster, and a coupled L2 decay
    ``wd * p`` is ``gain**2`` times weaker relative to the loss gradient.
    This is the released CSNet training code's ``Conv2dX100`` with
    ``gain=100``. ``gain=1`` is ``nn.Conv2d`` exactly (same state dict,
    same outputs, no extra op).

    Built through mmcv's ``build_conv_layer`` with
    ``conv_cfg=dict(type='ScaledConv2d', gain=100.)`` (see
    :func:`build_scaled_conv`).

    Args:
        *args: The arguments of ``nn.Conv2d``.
        gain (float): The constant factor of the stored weight.
            Defaults to 1.0.
        **kwargs: The keyword arguments of ``nn.Conv2d``.
    """

    def __init__(self, *args, gain: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gain = _check_gain(gain, 'ScaledConv2d')

    def scaled_weight(self) -> Tensor:
        """The weight the forward convolves with (``gain * weight``)."""
        return self.weight if self.gain == 1.0 else self.weight * self.gain

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.scaled_weight(), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', gain={self.gain:g}'


def _check_gain(gain, what: str) -> float:
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) \
            or not gain > 0 or gain != gain or gain == float('inf'):
        raise ValueError(f'{what}: the conv gain must be a finite number '
                         f'> 0, got {gain!r}')
    return float(gain)


def _conv_type(conv_cfg: OptConfigType):
    if conv_cfg is None:
        return nn.Conv2d
    if not isinstance(conv_cfg, dict) or 'type' not in conv_cfg:
        raise TypeError(f'conv_cfg must be None or a dict with a type, got '
                        f'{conv_cfg!r}')
    kind = conv_cfg['type']
    if kind in ('Conv', 'Conv2d'):
        return nn.Conv2d
    if kind == 'ScaledConv2d':
        return ScaledConv2d
    if isinstance(kind, type) and issubclass(kind, nn.Conv2d) and \
            kind in (nn.Conv2d, ScaledConv2d):
        return kind
    raise ValueError(
        f'CSNet convolutions are Conv2d or ScaledConv2d, got conv_cfg type '
        f'{kind!r}')


def conv_gain(conv_cfg: OptConfigType) -> float:
    """The gain a CSNet ``conv_cfg`` gives its single-scale convolutions.

    Args:
        conv_cfg (dict, optional): None or ``dict(type='Conv2d')`` (gain 1),
            or ``dict(type='ScaledConv2d', gain=g)`` (``g``, default 1).

    Returns:
        float: The gain.
    """
    if _conv_type(conv_cfg) is nn.Conv2d:
        return 1.0
    return _check_gain(conv_cfg.get('gain', 1.0), 'conv_cfg')


def build_scaled_conv(conv_cfg: OptConfigType, *args, **kwargs) -> nn.Module:
    """Build a conv of ``conv_cfg`` (None: ``nn.Conv2d``) with mmcv's
    ``build_conv_layer``; ``ScaledConv2d`` is looked up in MMSeg's registry
    (which mmcv's builder only reaches under the mmseg default scope)."""
    cfg = None if conv_cfg is None else copy.deepcopy(dict(conv_cfg))
    if cfg is not None:
        cfg['type'] = _conv_type(cfg)
    return build_conv_layer(cfg, *args, **kwargs)


def single_scale_layout(in_channels: Sequence[int],
                        out_channels: Sequence[int]) -> bool:
    """Whether a gOctConv of these channels per scale is a plain conv: one
    present (non-0) input scale and one present output scale.

    This is the rule of the released code: such a layer, every depthwise
    conv and every dilated conv of the CSF head are ``Conv2dX100``; a
    gOctConv with several present input or output scales uses its weight as
    stored (gain 1).
    """
    return (sum(1 for c in in_channels if c > 0) == 1
            and sum(1 for c in out_channels if c > 0) == 1)


def scaled_convs(model: nn.Module) -> Iterator[Tuple[str, nn.Module]]:
    """The modules of ``model`` whose forward multiplies their stored
    ``weight`` by a gain other than 1 (``GOctConv`` and ``ScaledConv2d``
    layers: their ``gain`` attribute), with their names."""
    for name, module in model.named_modules():
        gain = getattr(module, 'gain', None)
        if isinstance(gain, float) and gain != 1.0 and isinstance(
                getattr(module, 'weight', None), torch.Tensor):
            yield name, module
