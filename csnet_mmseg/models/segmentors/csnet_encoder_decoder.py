"""An EncoderDecoder whose CSNet layer table may come from a file."""
import copy
import json
import os.path as osp
from typing import Dict, Optional, Union

from mmengine.config import Config

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import ConfigType
from ..layer_table import layer_table_from_model_cfg

__all__ = ['CSNetEncoderDecoder', 'load_layer_table']

#: Layer-table keys of each part of the segmentor config.
TABLE_KEYS = dict(
    backbone=('stem_channels', 'stage_channels'),
    decode_head=('in_channels', 'fuse_channels', 'dilation_channels',
                 'channels'))


def _check_table(table: dict, source: str) -> Dict[str, dict]:
    if not isinstance(table, dict):
        raise ValueError(f'layer table {source}: expected a dict with '
                         f"'backbone' and 'decode_head', got "
                         f'{type(table).__name__}')
    out = {}
    for part, keys in TABLE_KEYS.items():
        values = table.get(part)
        if not isinstance(values, dict):
            raise ValueError(f"layer table {source}: no '{part}' entry "
                             f'(it needs {part}={{{", ".join(keys)}}})')
        missing = [k for k in keys if k not in values]
        if missing:
            raise ValueError(f'layer table {source}: {part} lacks '
                             f'{", ".join(missing)}')
        out[part] = {k: copy.deepcopy(values[k]) for k in keys}
    return out


def load_layer_table(source: Union[str, dict]) -> Dict[str, dict]:
    """Read a CSNet layer table.

    Args:
        source (str | dict): A table dict (``dict(backbone=..., decode_head=
            ...)``), a ``.json`` file holding one, or a config file (``.py``)
            whose ``model`` holds the table keys - e.g. the
            ``pruned_config.py`` written by ``tools/prune.py`` and
            ``ChannelPruningHook``.

    Returns:
        dict: ``dict(backbone=dict(stem_channels, stage_channels),
        decode_head=dict(in_channels, fuse_channels, dilation_channels,
        channels))``.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it holds no complete layer table (naming the file and
            the missing keys).
    """
    if isinstance(source, dict):
        return _check_table(source, '(dict)')
    if not isinstance(source, str):
        raise TypeError('layer_table must be a file path or a dict, got '
                        f'{type(source).__name__}')
    if not osp.isfile(source):
        raise FileNotFoundError(f'layer table file {source!r} does not exist')
    if source.endswith('.json'):
        with open(source) as f:
            try:
                table = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f'layer table {source!r} is not valid JSON: '
                                 f'{e}') from None
        return _check_table(table, repr(source))
    if source.endswith('.py'):
        cfg = Config.fromfile(source)
        model = cfg.get('model')
        if not isinstance(model, dict) or not all(
                isinstance(model.get(p), dict) for p in TABLE_KEYS):
            raise ValueError(f'layer table {source!r}: the config has no '
                             'model.backbone / model.decode_head')
        try:
            table = layer_table_from_model_cfg(model)
        except KeyError as e:
            raise ValueError(f'layer table {source!r}: the model config '
                             f'lacks {e}') from None
        return _check_table(table, repr(source))
    raise ValueError(f'layer table {source!r}: expected a .py config or a '
                     '.json file')


@MODELS.register_module()
class CSNetEncoderDecoder(EncoderDecoder):
    """MMSeg's ``EncoderDecoder`` whose CSNet layer table can be given as a
    file, so that a config can build a pruned model whose table was written
    by the pruning step (``tools/prune.py``, ``ChannelPruningHook``)::

        python tools/train.py configs/csnet_duts_finetune.py --cfg-options \\
            model.layer_table=work_dirs/csnet_duts/pruned/pruned_config.py \\
            load_from=work_dirs/csnet_duts/pruned/pruned.pth

    Everything else is ``EncoderDecoder``; checkpoints are interchangeable
    with it (same module names).

    Args:
        backbone (dict): The CSNet backbone config.
        decode_head (dict): The CSF head config.
        layer_table (str | dict, optional): The table that replaces the
            layer-table keys of ``backbone`` (``stem_channels``,
            ``stage_channels``) and ``decode_head`` (``in_channels``,
            ``fuse_channels``, ``dilation_channels``, ``channels``): a
            ``pruned_config.py`` (any config whose ``model`` holds them), a
            ``.json`` file or a dict, see :func:`load_layer_table`. A
            relative path is relative to the current directory. Defaults to
            None (the configs' own table).
        require_layer_table (bool): Refuse to build without
            ``layer_table`` (fine-tune configs set it, so that a forgotten
            ``--cfg-options model.layer_table=...`` is an error instead of a
            fine-tune of the wide initial model). Defaults to False.
        **kwargs: The other arguments of ``EncoderDecoder``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 layer_table: Optional[Union[str, dict]] = None,
                 require_layer_table: bool = False,
                 **kwargs) -> None:
        if layer_table is None and require_layer_table:
            raise ValueError(
                'model.layer_table is not set, but this config trains a '
                'pruned CSNet: pass the files that the pruning step wrote, '
                '--cfg-options model.layer_table=<pruned dir>/'
                'pruned_config.py load_from=<pruned dir>/pruned.pth')
        self.layer_table_source = layer_table
        if layer_table is not None:
            table = load_layer_table(layer_table)
            backbone = copy.deepcopy(backbone)
            decode_head = copy.deepcopy(decode_head)
            backbone.update(table['backbone'])
            decode_head.update(table['decode_head'])
        super().__init__(backbone=backbone, decode_head=decode_head, **kwargs)
