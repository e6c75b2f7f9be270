"""Convert a released CSNet checkpoint (SOD100K ``csnet-L-x*.pth.tar``) into
an MMSeg checkpoint for ``configs/csnet_l_x1.py`` / ``configs/csnet_l_x2.py``.

Usage:
    python tools/model_converters/csnet2mmseg.py SRC.pth.tar DST.pth \
        [--layer-config SRC.bin] [--config-out CONFIG.py] [--keep-subnormal]
        [--gain 100]

The layer table ``.bin`` beside SRC (same stem) is read unless
``--layer-config`` is given. Both are read safely: SRC with
``weights_only=True``, the table as a pickle of NumPy arrays only (the
released files pass; a file holding other Python objects is refused). If
the table is not the one of a shipped config, the matching config is
printed (or written with ``--config-out``).

Float values with ``|v| < 1e-37`` (the released weights hold subnormal
floats, which slow every CPU form of the model down 1.4-2.3x) are set to
exactly 0 and counted; ``--keep-subnormal`` keeps them as released.

``--gain G`` converts for a model of conv gain G
(``conv_cfg=dict(type='ScaledConv2d', gain=G)``): ``--gain 100`` is the
released training form (its ``Conv2dX100`` weights stored as released, to
fine-tune with the paper's recipe); the default 1 is the plain-conv form of
the shipped inference configs. For a gain other than 1 the config to use
(the shipped one plus the gain) is printed, or written with
``--config-out``.
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config

from csnet_mmseg.converters import (ConversionError,
                                    convert_official_state_dict,
                                    flush_small_values,
                                    format_layer_table_config,
                                    load_official_checkpoint,
                                    load_official_table)
from csnet_mmseg.models import LayerTable
from csnet_mmseg.utils.subnormal import FLUSH_BELOW

CONFIG_DIR = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..',
                      'configs')
SHIPPED = ('csnet_l_x1.py', 'csnet_l_x2.py')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert a released CSNet checkpoint to MMSeg')
    parser.add_argument('src', help='released checkpoint (.pth.tar)')
    parser.add_argument('dst', help='output MMSeg checkpoint (.pth)')
    parser.add_argument(
        '--layer-config',
        help='released layer table (.bin); default: SRC with .bin suffix')
    parser.add_argument(
        '--config-out',
        help='write the matching config here when no shipped config fits')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing DST')
    parser.add_argument(
        '--keep-subnormal',
        action='store_true',
        help=f'keep float values with |v| < {FLUSH_BELOW:g} as released '
        '(by default they are set to 0: subnormal floats make CPU inference '
        'slow and cannot change an output)')
    parser.add_argument(
        '--gain',
        type=float,
        default=1.0,
        help='conv gain of the target model: 1 (plain convs, the shipped '
        'inference configs) or 100 (the released training form, '
        "conv_cfg=dict(type='ScaledConv2d', gain=100.0))")
    return parser.parse_args()


def default_table_path(src: str) -> str:
    stem = src[:-len('.pth.tar')] if src.endswith('.pth.tar') else \
        osp.splitext(src)[0]
    return stem + '.bin'


def matching_config(table: LayerTable):
    for name in SHIPPED:
        path = osp.normpath(osp.join(CONFIG_DIR, name))
        if osp.isfile(path):
            cfg = Config.fromfile(path)
            if LayerTable.from_model_cfg(cfg.model) == table:
                return path
    return None


def main():
    args = parse_args()
    table_path = args.layer_config or default_table_path(args.src)
    if not osp.isfile(args.src):
        sys.exit(f'error: checkpoint not found: {args.src}')
    if not osp.isfile(table_path):
        sys.exit(f'error: layer table not found: {table_path} '
                 '(give it with --layer-config)')
    if osp.exists(args.dst) and not args.overwrite:
        sys.exit(f'error: {args.dst} exists; pass --overwrite to replace it')
    if osp.exists(args.dst) and osp.samefile(args.dst, args.src):
        sys.exit(f'error: DST {args.dst} is the source checkpoint')
    try:
        source = load_official_checkpoint(args.src)
        table = load_official_table(table_path)
        state_dict = convert_official_state_dict(
            source, table, flush_below=None, gain=args.gain)
    except ConversionError as e:
        sys.exit(f'error: {e}')
    flushed = 0 if args.keep_subnormal else flush_small_values(
        state_dict, FLUSH_BELOW)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(
        dict(
            meta=dict(
                source=osp.basename(args.src),
                converter='csnet2mmseg',
                layer_table=table.to_dict(),
                conv_gain=args.gain,
                dataset_meta=dict(
                    classes=('background', 'foreground'),
                    palette=[[0, 0, 0], [255, 255, 255]])),
            state_dict=state_dict), args.dst)
    n = sum(v.numel() for k, v in state_dict.items()
            if not k.endswith(('running_mean', 'running_var',
                               'num_batches_tracked', 'conv_gain')))
    print(f'converted {len(state_dict)} tensors ({n:,} parameters) '
          f'-> {args.dst}')
    if args.keep_subnormal:
        print(f'kept values with |v| < {FLUSH_BELOW:g} as released '
              '(--keep-subnormal)')
    else:
        print(f'flushed {flushed} float values with |v| < {FLUSH_BELOW:g} '
              'to 0 (--keep-subnormal keeps them)')
    config = matching_config(table)
    if config and args.gain == 1.0:
        print(f'use it with: {osp.relpath(config)}')
        return
    if config:  # the shipped config plus the gain
        text = (f"_base_ = ['./{osp.basename(config)}']\n"
                f"conv_cfg = dict(type='ScaledConv2d', gain={args.gain!r})\n"
                'model = dict(backbone=dict(conv_cfg=conv_cfg), '
                'decode_head=dict(conv_cfg=conv_cfg))\n')
    else:
        text = format_layer_table_config(table, gain=args.gain)
    if args.config_out:
        if osp.exists(args.config_out) and not args.overwrite:
            sys.exit(f'error: {args.config_out} exists; pass --overwrite')
        with open(args.config_out, 'w') as f:
            f.write(text)
        what = f'conv gain {args.gain:g}' if config else \
            'no shipped config has this layer table'
        print(f'{what}; wrote {args.config_out} (its _base_ is relative to '
              'configs/)')
    else:
        what = f'for conv gain {args.gain:g}' if config else \
            'no shipped config has this layer table;'
        print(f'{what} use this config (saved in configs/):\n')
        print(text)


if __name__ == '__main__':
    main()
