"""Conversion of the authors' released CSNet checkpoints to csnet-mmseg.

The released checkpoints (``csnet-L-x1.pth.tar``, ``csnet-L-x2.pth.tar``) come
with a pickled layer table (``*.bin``): a list of
``[in_channels_per_scale, out_channels_per_scale(, dilation_channels)]``
arrays in layer order (stem, the ILBlocks of stages 1-4, the CSF fuse,
multi-dilation and merge layers), the last item being the stage depths.

Facts of the released model that the conversion respects:

- convs with a single input and a single output scale (the per-scale
  depthwise convs, the dilated convs, a single-scale gOctConv) multiply their
  stored weight by 100 in forward; multi-scale gOctConv weights are used as
  stored. For a target model of conv gain 1 (plain convs, the released
  inference configs) those weights are scaled by 100; for the released gain
  100 (``conv_cfg=dict(type='ScaledConv2d', gain=100.)``, the training
  configs) they are stored as released, and the gain goes into the state
  dict (``backbone.conv_gain``, ``decode_head.conv_gain``);
- a multi-scale gOctConv stores one weight with rows grouped by output scale
  and columns by input scale, exactly our :class:`GOctConv` layout;
- per-scale depthwise convs are separate tensors (``convs.j``), which our
  depthwise :class:`GOctConv` stores concatenated by scale.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger

from ..checkpoint import CheckpointError, load_checkpoint_file
from ..models.backbones.csnet import csnet_block_specs
from ..models.layer_table import CSNET_DILATIONS, LayerTable
from ..models.state_dict_check import GAIN_KEY
from ..utils.subnormal import FLUSH_BELOW, flush_subnormal, subnormal_mask
from .table_file import load_numpy_pickle

__all__ = [
    'ConversionError', 'layer_table_from_official', 'load_official_table',
    'load_official_checkpoint',
    'convert_official_state_dict', 'format_layer_table_config',
    'conv_gain_config_text', 'flush_small_values'
]

SCALE_FACTOR = 100.0
_NORM_KEYS = ('weight', 'bias', 'running_mean', 'running_var',
              'num_batches_tracked')


class ConversionError(ValueError):
    """A released checkpoint does not match its layer table."""


def _ints(values) -> List[int]:
    return [int(v) for v in list(values)]


def layer_table_from_official(layers: Sequence,
                              stage_blocks: Sequence[int]) -> LayerTable:
    """Build our layer table from the released per-layer table.

    Args:
        layers (Sequence): Per layer ``[in, out(, dilation_out)]`` (lists or
            numpy arrays), or dicts with keys ``in``, ``out``,
            ``dilation_out`` (the JSON form).
        stage_blocks (Sequence[int]): Blocks per stage, e.g. ``[3, 4, 6, 4]``.

    Returns:
        LayerTable: The layer table.
    """

    def get(layer, key, idx):
        if isinstance(layer, dict):
            return layer.get(key)
        return layer[idx] if len(layer) > idx else None

    stage_blocks = _ints(stage_blocks)
    n_backbone = 1 + sum(stage_blocks)
    if len(layers) != n_backbone + 3:
        raise ConversionError(
            f'the layer table has {len(layers)} layers; stage depths '
            f'{stage_blocks} need {n_backbone} backbone layers + 3 CSF layers')
    outs = [_ints(get(layer, 'out', 1)) for layer in layers]
    for i in range(1, n_backbone):
        if _ints(get(layers[i], 'in', 0)) != outs[i - 1]:
            raise ConversionError(
                f'layer {i}: its input {_ints(get(layers[i], "in", 0))} is '
                f'not the output {outs[i - 1]} of layer {i - 1}')
    stages, k = [], 1
    for n in stage_blocks:
        stages.append(outs[k:k + n])
        k += n
    fuse, dil, merge = layers[n_backbone:]
    dil_out = get(dil, 'dilation_out', 2)
    if dil_out is None:
        raise ConversionError('the multi-dilation layer has no per-dilation '
                              'channels (dilation_out)')
    head_in = _ints(get(fuse, 'in', 0))
    table = LayerTable(
        stem_channels=outs[0],
        stage_channels=stages,
        in_channels=head_in,
        fuse_channels=_ints(get(fuse, 'out', 1)),
        dilation_channels=[_ints(d) for d in dil_out],
        channels=_ints(get(merge, 'out', 1))[0])
    merged = [s[-1] for s in stages[1:]]
    if [m[0] for m in merged if len(m) == 1] != head_in:
        raise ConversionError(
            f'the CSF head reads {head_in}, but the last blocks of stages '
            f'2-4 output {merged}')
    return table


def load_official_table(path: str) -> LayerTable:
    """Read a released ``*.bin`` layer table (a pickle of NumPy arrays;
    any other Python object in it is refused, see
    :func:`csnet_mmseg.converters.table_file.load_numpy_pickle`)."""
    try:
        raw = load_numpy_pickle(path)
    except FileNotFoundError:
        raise FileNotFoundError(f'layer table not found: {path}') from None
    except Exception as e:  # noqa: BLE001  (any unpickling failure)
        raise ConversionError(
            f'cannot read the layer table {path}: {e}') from e
    if not isinstance(raw, (list, tuple)) or len(raw) < 4:
        raise ConversionError(f'{path} is not a released CSNet layer table')
    return layer_table_from_official(raw[:-1], raw[-1])


class _Consumer:
    """Hands out source tensors, each exactly once."""

    def __init__(self, state_dict: Dict[str, torch.Tensor]) -> None:
        self.sd = state_dict
        self.used = set()

    def take(self, key: str, shape: Optional[Tuple[int, ...]] = None):
        if key not in self.sd:
            raise ConversionError(f'the checkpoint has no tensor {key!r}')
        if key in self.used:
            raise ConversionError(f'tensor {key!r} used twice')
        t = self.sd[key]
        if shape is not None and tuple(t.shape) != tuple(shape):
            raise ConversionError(
                f'tensor {key!r} has shape {tuple(t.shape)}, the layer table '
                f'needs {tuple(shape)}')
        self.used.add(key)
        return t

    def unused(self) -> List[str]:
        return sorted(set(self.sd) - self.used)


def _norm_act(src: _Consumer, out: dict, src_bn: str, src_act: str,
              dst: str, scale: int, channels: int) -> None:
    for name in _NORM_KEYS:
        shape = () if name == 'num_batches_tracked' else (channels, )
        out[f'{dst}.norm_act.norms.{scale}.{name}'] = src.take(
            f'{src_bn}.{name}', shape)
    out[f'{dst}.norm_act.acts.{scale}.weight'] = src.take(
        f'{src_act}.weight', (channels, ))


def _scaled(w: torch.Tensor, gain: float) -> torch.Tensor:
    """A released ``Conv2dX100`` weight ``p`` (its conv is ``100 * p``) for
    a target conv of gain ``gain``: ``100 * p / gain``."""
    if gain == 1.0:
        return w * SCALE_FACTOR
    if gain == SCALE_FACTOR:
        return w
    return w * (SCALE_FACTOR / gain)


def _goct(src: _Consumer, out: dict, s: str, d: str, cin: List[int],
          cout: List[int], k: int, gain: float) -> None:
    """A scale-mixing gOctConv (``<s>.conv.weight``, ``bns.j``, ``prelus.j``)."""
    present_in = [c for c in cin if c > 0]
    present_out = [c for c in cout if c > 0]
    w = src.take(f'{s}.conv.weight', (sum(cout), sum(cin), k, k))
    if len(present_in) == 1 and len(present_out) == 1:
        w = _scaled(w, gain)
    out[f'{d}.weight'] = w
    for j, c in enumerate(cout):
        if c > 0:
            _norm_act(src, out, f'{s}.bns.{j}', f'{s}.prelus.{j}', d, j, c)


def _depthwise(src: _Consumer, out: dict, s: str, d: str, ch: List[int],
               gain: float) -> None:
    ws = [
        _scaled(src.take(f'{s}.convs.{j}.weight', (c, 1, 3, 3)), gain)
        for j, c in enumerate(ch) if c > 0
    ]
    out[f'{d}.weight'] = torch.cat(ws, 0)
    for j, c in enumerate(ch):
        if c > 0:
            _norm_act(src, out, f'{s}.bns.{j}', f'{s}.prelus.{j}', d, j, c)


def flush_small_values(state_dict: Dict[str, torch.Tensor],
                       flush_below: float = FLUSH_BELOW) -> int:
    """Set every floating-point value with ``|v| < flush_below`` to exactly
    zero, in place (the subnormal rule of :mod:`csnet_mmseg.utils.subnormal`:
    the released weights hold subnormal floats, which run on the CPU's slow
    path and make the training form 1.4-2.3x slower).

    Args:
        state_dict (dict): Tensors to flush; non-float tensors are left alone.
        flush_below (float): The magnitude below which a value becomes 0.

    Returns:
        int: How many values changed (non-zero values that became zero).
    """
    if flush_below <= 0:
        raise ValueError(f'flush_below must be > 0, got {flush_below}')
    changed = 0
    for key, t in state_dict.items():
        if not torch.is_tensor(t) or not t.is_floating_point():
            continue
        n = int(subnormal_mask(t, flush_below).sum())
        if n:
            state_dict[key] = flush_subnormal(t, flush_below)
            changed += n
    return changed


def convert_official_state_dict(
        state_dict: Dict[str, torch.Tensor],
        table: LayerTable,
        dilations: Sequence[int] = CSNET_DILATIONS,
        flush_below: Optional[float] = FLUSH_BELOW,
        gain: float = 1.0) -> 'OrderedDict':
    """Map a released state dict onto our ``EncoderDecoder`` keys.

    Every source tensor must be used exactly once and have the shape that the
    layer table implies; anything else raises :class:`ConversionError`.

    Args:
        state_dict (dict): The released ``state_dict`` (``module.`` prefixes
            of DataParallel checkpoints are removed).
        table (LayerTable): The layer table of that checkpoint.
        dilations (Sequence[int]): Dilations of the CSF block.
        flush_below (float, optional): Float values with a smaller magnitude
            become exactly 0 (see :func:`flush_small_values`); None keeps
            them (subnormal values included). Defaults to
            :data:`csnet_mmseg.utils.subnormal.FLUSH_BELOW` (1e-37).
        gain (float): The conv gain of the target model (its ``conv_cfg``):
            1 (plain convs: the released ``Conv2dX100`` weights are
            multiplied by 100) or 100 (``ScaledConv2d`` with the released
            gain: stored as released); any other gain stores
            ``100 / gain`` times them. The gain is stored as
            ``backbone.conv_gain`` / ``decode_head.conv_gain`` unless it is
            1. Defaults to 1.0.

    Returns:
        OrderedDict: State dict for ``EncoderDecoder(backbone=CSNet,
        decode_head=CSFHead)`` built from ``table`` with conv gain ``gain``.
    """
    gain = float(gain)
    if not gain > 0 or gain == float('inf'):
        raise ConversionError(f'the conv gain must be a number > 0, got '
                              f'{gain!r}')
    sd = OrderedDict(
        (re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())
    src = _Consumer(sd)
    out = OrderedDict()
    for spec in csnet_block_specs(table.stem_channels, table.stage_channels):
        # the released names: stage0.0 is the stem, stage<s+1>.<b> block b of
        # our stage s
        s = 'stage0.0' if spec.stage is None else \
            f'stage{spec.stage + 1}.{spec.index}'
        d = f'backbone.{spec.name}'
        _goct(src, out, f'{s}.conv1x1', f'{d}.conv_mix', spec.in_channels,
              spec.out_channels, spec.kernel_size, gain)
        _depthwise(src, out, f'{s}.conv3x3_1', f'{d}.conv_dw1',
                   spec.out_channels, gain)
        _depthwise(src, out, f'{s}.conv3x3_2', f'{d}.conv_dw2',
                   spec.out_channels, gain)

    fuse = list(table.fuse_channels)
    _goct(src, out, 'oct_fuse.fuse', 'decode_head.fuse',
          list(table.in_channels), fuse, 1, gain)
    dil_out = []
    for s, per in enumerate(table.dilation_channels):
        for k, c in enumerate(per):
            if c > 0:
                out[f'decode_head.multi_dilation.convs.{s}.{k}.weight'] = (
                    _scaled(
                        src.take(f'oct_fuse.ms.convs.{s}.msconv.{k}.weight',
                                 (c, fuse[s], 3, 3)), gain))
        dil_out.append(sum(per))
        if sum(per) > 0:
            _norm_act(src, out, f'oct_fuse.ms.convs.{s}.bn',
                      f'oct_fuse.ms.convs.{s}.prelu',
                      'decode_head.multi_dilation', s, sum(per))
    _goct(src, out, 'oct_fuse.fuse1x1', 'decode_head.merge', dil_out,
          [table.channels], 1, gain)
    out['decode_head.conv_seg.weight'] = src.take('cls_layer.weight',
                                                  (1, table.channels, 1, 1))
    out['decode_head.conv_seg.bias'] = src.take('cls_layer.bias', (1, ))
    left = src.unused()
    if left:
        raise ConversionError(
            f'{len(left)} source tensors were not matched by the layer '
            f'table: {left[:10]}{" ..." if len(left) > 10 else ""}')
    if gain != 1.0:
        for part in ('backbone', 'decode_head'):
            out[f'{part}.{GAIN_KEY}'] = torch.tensor(gain)
    if flush_below is not None:
        n = flush_small_values(out, flush_below)
        MMLogger.get_current_instance().info(
            f'converter: {n} float values with |v| < {flush_below:g} set '
            'to 0')
    return out


def load_official_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a released ``.pth.tar``, loaded with
    ``weights_only=True`` (:func:`csnet_mmseg.checkpoint.load_checkpoint_file`;
    the released files hold tensors, numbers and strings only): a file
    holding other Python objects is refused."""
    try:
        ckpt = load_checkpoint_file(path, map_location='cpu')
    except CheckpointError as e:
        raise ConversionError(str(e)) from e
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        return ckpt['state_dict']
    if isinstance(ckpt, dict) and all(
            isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt
    raise ConversionError(f'{path} holds no CSNet state_dict')


def conv_gain_config_text(text: str, gain: float) -> str:
    """Add a conv gain to a model config text whose ``model = dict(`` has
    ``backbone=dict(`` and ``decode_head=dict(`` lines (the text
    :func:`format_layer_table_config` writes); gain 1 leaves it as it is."""
    gain = float(gain)
    if gain == 1.0:
        return text
    line = f"conv_cfg = dict(type='ScaledConv2d', gain={gain!r})\n"
    for part in ('backbone', 'decode_head'):
        key = f'    {part}=dict(\n'
        if key not in text:
            raise ValueError(f'the config text has no {part}=dict( line')
        text = text.replace(key, f'{key}        conv_cfg=conv_cfg,\n', 1)
    return text.replace('model = dict(\n', line + 'model = dict(\n', 1)


def format_layer_table_config(table: LayerTable,
                              base: str = './_base_/models/csnet.py',
                              gain: float = 1.0) -> str:
    """A config (text) that builds the model of ``table`` with conv gain
    ``gain`` (see :func:`convert_official_state_dict`)."""
    return conv_gain_config_text(
        table.to_config_text(
            base,
            header="custom_imports = dict(imports=['csnet_mmseg'], "
            'allow_failed_imports=False)\n'), gain)
