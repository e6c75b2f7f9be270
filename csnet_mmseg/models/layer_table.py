"""CSNet layer tables: the channels per scale of every layer, as one type.

In a config a layer table is plain data, the layer-table keys of the
segmentor's ``backbone`` and ``decode_head``::

    dict(
        backbone=dict(
            stem_channels=[10, 10],               # stem ILBlock, per scale
            stage_channels=[                      # per stage, per block,
                [[10, 10], [10, 10], [10, 10]],   # channels per scale
                ...]),
        decode_head=dict(
            in_channels=[40, 80, 80],             # last block of stages 2-4
            fuse_channels=[20, 40, 40],           # CSF 1x1 gOctConv, per scale
            dilation_channels=[[4, 4, 4, 4, 4],   # per scale, per dilation
                               ...],              # (1, 2, 4, 8, 16), 0 = absent
            channels=80))                         # CSF merge to one scale

Every other channel count (the input of a layer, the depthwise convs of an
ILBlock) follows from these. The code reads and writes it as a
:class:`LayerTable` (checked on the way in, plain data on the way out): the
segmentor reads one from a file, pruning writes the narrowed one back in the
same form, the converter builds one from the released tables.
"""
import copy
import json
import numbers
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Sequence, Union

__all__ = ['LayerTable', 'TABLE_KEYS', 'CSNET_STAGE_BLOCKS', 'CSNET_DILATIONS']

CSNET_STAGE_BLOCKS = (3, 4, 6, 4)
CSNET_DILATIONS = (1, 2, 4, 8, 16)

#: Layer-table keys of each part of the segmentor config.
TABLE_KEYS = dict(
    backbone=('stem_channels', 'stage_channels'),
    decode_head=('in_channels', 'fuse_channels', 'dilation_channels',
                 'channels'))

#: Nesting depth of each key: 0 an int, 1 a list of ints (channels per
#: scale), 2 a list of those, 3 a list of lists of those.
_DEPTH = dict(
    stem_channels=1,
    stage_channels=3,
    in_channels=1,
    fuse_channels=1,
    dilation_channels=2,
    channels=0)


def _split(channels: int, split: float) -> List[int]:
    """Two scales: ``split`` of the channels at scale 0, the rest at scale 1."""
    high = int(round(channels * split))
    return [high, channels - high]


def _plain(value, depth: int, where: str):
    """``value`` as nested lists of ints of the given depth (a channel count
    is an int >= 0).

    Raises:
        ValueError: Naming ``where`` (the key and index at fault).
    """
    if depth == 0:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral)\
                or value < 0:
            raise ValueError(f'{where} must be a channel count (an int >= '
                             f'0), got {value!r}')
        return int(value)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f'{where} must be a list, got {value!r}')
    return [_plain(v, depth - 1, f'{where}[{i}]') for i, v in enumerate(value)]


@dataclass
class LayerTable:
    """The channels per scale of every layer of a CSNet segmentor.

    Args:
        stem_channels (list[int]): The stem ILBlock, per scale.
        stage_channels (list[list[list[int]]]): Per stage, per block, the
            channels per scale.
        in_channels (list[int]): The head inputs (the single-scale last
            blocks of stages 2-4).
        fuse_channels (list[int]): The CSF 1x1 gOctConv, per scale.
        dilation_channels (list[list[int]]): Per scale, per dilation, the
            channels of the multi-dilation branches (0 = absent).
        channels (int): The CSF merge (one scale).
    """
    stem_channels: List[int]
    stage_channels: List[List[List[int]]]
    in_channels: List[int]
    fuse_channels: List[int]
    dilation_channels: List[List[int]]
    channels: int

    # ---- from and to config data ---------------------------------------
    @classmethod
    def from_dict(cls, table: dict, source: str = '(dict)') -> 'LayerTable':
        """A table from its config form ``dict(backbone=..., decode_head=
        ...)`` (extra keys of the parts are ignored).

        Args:
            table (dict): The table.
            source (str): Where it came from, for the errors.

        Raises:
            ValueError: Naming ``source`` and the key at fault (a missing
                part or key, a value of the wrong shape).
        """
        if not isinstance(table, dict):
            raise ValueError(f'layer table {source}: expected a dict with '
                             f"'backbone' and 'decode_head', got "
                             f'{type(table).__name__}')
        values = {}
        for part, keys in TABLE_KEYS.items():
            entries = table.get(part)
            if not isinstance(entries, dict):
                raise ValueError(f"layer table {source}: no '{part}' entry "
                                 f'(it needs {part}={{{", ".join(keys)}}})')
            missing = [k for k in keys if k not in entries]
            if missing:
                raise ValueError(f'layer table {source}: {part} lacks '
                                 f'{", ".join(missing)}')
            for key in keys:
                values[key] = _plain(entries[key], _DEPTH[key],
                                     f'layer table {source}: {part}.{key}')
        return cls(**values)

    @classmethod
    def from_model_cfg(cls,
                       model_cfg: dict,
                       source: str = 'model config') -> 'LayerTable':
        """The table of a segmentor config (its ``backbone`` and
        ``decode_head``)."""
        return cls.from_dict(
            {part: model_cfg.get(part)
             for part in TABLE_KEYS}, source)

    def to_dict(self) -> Dict[str, dict]:
        """The config form: ``dict(backbone=..., decode_head=...)`` (new
        plain lists)."""
        return dict(
            backbone=dict(
                stem_channels=list(self.stem_channels),
                stage_channels=copy.deepcopy(self.stage_channels)),
            decode_head=dict(
                in_channels=list(self.in_channels),
                fuse_channels=list(self.fuse_channels),
                dilation_channels=copy.deepcopy(self.dilation_channels),
                channels=int(self.channels)))

    def apply_to(self, model_cfg: dict) -> dict:
        """A deep copy of a segmentor config with this table's keys
        replaced in its ``backbone`` and ``decode_head``."""
        cfg = copy.deepcopy(model_cfg)
        for part, values in self.to_dict().items():
            cfg[part].update(values)
        return cfg

    @classmethod
    def load(cls, source: Union[str, dict]) -> 'LayerTable':
        """Read a table from a dict, a ``.json`` file holding one, or a
        config file (``.py``) whose ``model`` holds the table keys - e.g.
        the ``pruned_config.py`` written by ``tools/prune.py`` and
        ``ChannelPruningHook``.

        Raises:
            FileNotFoundError: If the file does not exist.
            ValueError: If it holds no complete layer table (naming the file
                and the key at fault).
        """
        if isinstance(source, dict):
            return cls.from_dict(source, '(dict)')
        if not isinstance(source, str):
            raise TypeError('layer_table must be a file path or a dict, got '
                            f'{type(source).__name__}')
        if not osp.isfile(source):
            raise FileNotFoundError(
                f'layer table file {source!r} does not exist')
        if source.endswith('.json'):
            with open(source) as f:
                try:
                    table = json.load(f)
                except json.JSONDecodeError as e:
                    raise ValueError(f'layer table {source!r} is not valid '
                                     f'JSON: {e}') from None
            return cls.from_dict(table, repr(source))
        if source.endswith('.py'):
            from mmengine.config import Config
            model = Config.fromfile(source).get('model')
            if not isinstance(model, dict) or not all(
                    isinstance(model.get(p), dict) for p in TABLE_KEYS):
                raise ValueError(f'layer table {source!r}: the config has no '
                                 'model.backbone / model.decode_head')
            for part, keys in TABLE_KEYS.items():
                missing = [k for k in keys if k not in model[part]]
                if missing:
                    raise ValueError(f'layer table {source!r}: the model '
                                     f'config lacks {missing[0]!r}')
            return cls.from_model_cfg(model, repr(source))
        raise ValueError(f'layer table {source!r}: expected a .py config or '
                         'a .json file')

    # ---- the initial table ----------------------------------------------
    @classmethod
    def initial(cls,
                width: int = 20,
                split: float = 0.5,
                stage_blocks: Sequence[int] = CSNET_STAGE_BLOCKS,
                stage_widths: Sequence[int] = (1, 2, 4, 4),
                merged_stages: Sequence[int] = (1, 2, 3),
                dilations: Sequence[int] = CSNET_DILATIONS,
                head_ratio: float = 0.5) -> 'LayerTable':
        """The initial (unpruned) CSNet layer table.

        Args:
            width (int): Base width ``w`` (20 for "x1", 40 for "x2").
            split (float): Share of each layer's channels at scale 0 (two
                scales per block at initialisation). Defaults to 0.5.
            stage_blocks (Sequence[int]): Blocks per stage. Defaults to
                (3, 4, 6, 4).
            stage_widths (Sequence[int]): Stage widths in units of ``w``.
                Defaults to (1, 2, 4, 4).
            merged_stages (Sequence[int]): Stages (0-based) whose last block
                merges its scales into one; their outputs feed the CSF head.
                Defaults to (1, 2, 3).
            dilations (Sequence[int]): Dilations of the CSF multi-dilation
                block.
            head_ratio (float): Width of the CSF 1x1 gOctConv (and of each
                scale's multi-dilation block) relative to the stage output
                it reads. Defaults to 0.5. The merged output is as wide as
                the last stage (``width * stage_widths[-1]``).
        """
        stem = _split(width * stage_widths[0], split)
        stages = []
        for s, (n, m) in enumerate(zip(stage_blocks, stage_widths)):
            c = width * m
            blocks = [_split(c, split) for _ in range(n)]
            if s in merged_stages:
                blocks[-1] = [c]
            stages.append(blocks)
        head_in = [width * stage_widths[s] for s in merged_stages]
        fuse = [int(round(c * head_ratio)) for c in head_in]
        dil = []
        for c in fuse:
            per = [c // len(dilations)] * len(dilations)
            for k in range(c - sum(per)):
                per[k] += 1
            dil.append(per)
        return cls(
            stem_channels=stem,
            stage_channels=stages,
            in_channels=head_in,
            fuse_channels=fuse,
            dilation_channels=dil,
            channels=width * stage_widths[-1])

    # ---- views ----------------------------------------------------------
    @property
    def stage_blocks(self) -> List[int]:
        """Blocks per stage."""
        return [len(s) for s in self.stage_channels]

    def released_layers(self) -> List[dict]:
        """The table in the released models' layer order.

        Returns one ``dict(in=..., out=...)`` per layer: the stem, the
        ILBlocks of every stage, then the CSF fuse, multi-dilation (with
        ``dilation_out``) and merge layers - the order of
        ``layer_config_csnet-L-x*.json``.
        """
        layers, prev = [], [3]
        for out in [self.stem_channels] + [
                b for stage in self.stage_channels for b in stage
        ]:
            layers.append({'in': list(prev), 'out': list(out)})
            prev = out
        fuse = list(self.fuse_channels)
        dil_out = [sum(d) for d in self.dilation_channels]
        layers.append({'in': list(self.in_channels), 'out': fuse})
        layers.append({
            'in': fuse,
            'out': dil_out,
            'dilation_out': [list(d) for d in self.dilation_channels]
        })
        layers.append({'in': dil_out, 'out': [self.channels]})
        return layers

    def to_config_text(self, base: str, header: str = '') -> str:
        """Config text: ``_base_ = [base]`` plus an override of the table.

        Only the layer-table keys of ``model.backbone`` and
        ``model.decode_head`` are written, one list per line, so the file
        reads (and diffs) as a table.

        Args:
            base (str): The ``_base_`` config path, relative to the written
                file.
            header (str): Text put first (comments, ``custom_imports``).
        """
        stages = ',\n'.join(f'            {list(s)}'
                            for s in self.stage_channels)
        dil = ',\n'.join(f'            {list(d)}'
                         for d in self.dilation_channels)
        return (f'{header}'
                f"_base_ = ['{base}']\n"
                'model = dict(\n'
                '    backbone=dict(\n'
                f'        stem_channels={list(self.stem_channels)},\n'
                f'        stage_channels=[\n{stages},\n        ]),\n'
                '    decode_head=dict(\n'
                f'        in_channels={list(self.in_channels)},\n'
                f'        fuse_channels={list(self.fuse_channels)},\n'
                f'        dilation_channels=[\n{dil},\n        ],\n'
                f'        channels={int(self.channels)}))\n')
