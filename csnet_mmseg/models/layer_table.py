"""CSNet layer tables: the channels per scale of every layer, as data.

A layer table is the plain-data part of a CSNet model config::

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
ILBlock) follows from these. The pruning hook writes a narrowed table back in
the same form.
"""
import copy
from typing import Dict, List, Sequence

__all__ = [
    'make_layer_table', 'layer_table_from_model_cfg', 'table_layers',
    'format_layer_table_config',
    'CSNET_STAGE_BLOCKS', 'CSNET_DILATIONS'
]

CSNET_STAGE_BLOCKS = (3, 4, 6, 4)
CSNET_DILATIONS = (1, 2, 4, 8, 16)


def _split(channels: int, split: float) -> List[int]:
    """Two scales: ``split`` of the channels at scale 0, the rest at scale 1."""
    high = int(round(channels * split))
    return [high, channels - high]


def make_layer_table(width: int = 20,
                     split: float = 0.5,
                     stage_blocks: Sequence[int] = CSNET_STAGE_BLOCKS,
                     stage_widths: Sequence[int] = (1, 2, 4, 4),
                     merged_stages: Sequence[int] = (1, 2, 3),
                     dilations: Sequence[int] = CSNET_DILATIONS,
                     head_ratio: float = 0.5) -> Dict[str, dict]:
    """The initial (unpruned) CSNet layer table.

    Args:
        width (int): Base width ``w`` (20 for "x1", 40 for "x2").
        split (float): Share of each layer's channels at scale 0 (two scales
            per block at initialisation). Defaults to 0.5.
        stage_blocks (Sequence[int]): Blocks per stage. Defaults to (3, 4, 6, 4).
        stage_widths (Sequence[int]): Stage widths in units of ``w``.
            Defaults to (1, 2, 4, 4).
        merged_stages (Sequence[int]): Stages (0-based) whose last block
            merges its scales into one; their outputs feed the CSF head.
            Defaults to (1, 2, 3).
        dilations (Sequence[int]): Dilations of the CSF multi-dilation block.
        head_ratio (float): Width of the CSF 1x1 gOctConv (and of each
            scale's multi-dilation block) relative to the stage output it
            reads. Defaults to 0.5. The merged output is as wide as the last
            stage (``width * stage_widths[-1]``).

    Returns:
        dict: ``dict(backbone=..., decode_head=...)`` keyword arguments.
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
    return dict(
        backbone=dict(stem_channels=stem, stage_channels=stages),
        decode_head=dict(
            in_channels=head_in,
            fuse_channels=fuse,
            dilation_channels=dil,
            channels=width * stage_widths[-1]))


def layer_table_from_model_cfg(model_cfg: dict) -> Dict[str, dict]:
    """Extract the layer table (a deep copy) from a segmentor config."""
    bb, head = model_cfg['backbone'], model_cfg['decode_head']
    return copy.deepcopy(
        dict(
            backbone=dict(
                stem_channels=bb['stem_channels'],
                stage_channels=bb['stage_channels']),
            decode_head=dict(
                in_channels=head['in_channels'],
                fuse_channels=head['fuse_channels'],
                dilation_channels=head['dilation_channels'],
                channels=head['channels'])))


def table_layers(table: Dict[str, dict]) -> List[dict]:
    """Flatten a layer table into the released models' layer order.

    Returns one ``dict(in=..., out=...)`` per layer: the stem, the ILBlocks of
    every stage, then the CSF fuse, multi-dilation (with ``dilation_out``) and
    merge layers - the order of ``layer_config_csnet-L-x*.json``.
    """
    bb, head = table['backbone'], table['decode_head']
    layers, prev = [], [3]
    for out in [bb['stem_channels']] + [
            b for stage in bb['stage_channels'] for b in stage
    ]:
        layers.append({'in': list(prev), 'out': list(out)})
        prev = out
    fuse = list(head['fuse_channels'])
    dil_out = [sum(d) for d in head['dilation_channels']]
    layers.append({'in': list(head['in_channels']), 'out': fuse})
    layers.append({
        'in': fuse,
        'out': dil_out,
        'dilation_out': [list(d) for d in head['dilation_channels']]
    })
    layers.append({'in': dil_out, 'out': [head['channels']]})
    return layers


def format_layer_table_config(table: Dict[str, dict],
                              base: str,
                              header: str = '') -> str:
    """Config text: ``_base_ = [base]`` plus an override of the layer table.

    Only the layer-table keys of ``model.backbone`` and ``model.decode_head``
    are written, one list per line, so the file reads (and diffs) as a table.

    Args:
        table (dict): The layer table.
        base (str): The ``_base_`` config path, relative to the written file.
        header (str): Text put first (comments, ``custom_imports``).
    """
    bb, head = table['backbone'], table['decode_head']
    stages = ',\n'.join(f'            {list(s)}' for s in bb['stage_channels'])
    dil = ',\n'.join(f'            {list(d)}'
                     for d in head['dilation_channels'])
    return (f'{header}'
            f"_base_ = ['{base}']\n"
            'model = dict(\n'
            '    backbone=dict(\n'
            f"        stem_channels={list(bb['stem_channels'])},\n"
            f'        stage_channels=[\n{stages},\n        ]),\n'
            '    decode_head=dict(\n'
            f"        in_channels={list(head['in_channels'])},\n"
            f"        fuse_channels={list(head['fuse_channels'])},\n"
            f'        dilation_channels=[\n{dil},\n        ],\n'
            f"        channels={int(head['channels'])}))\n")
