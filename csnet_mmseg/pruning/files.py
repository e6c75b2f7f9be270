"""The written files: a self-contained training config, the narrowed
config (layer table only), the checkpoint and the summary."""
import copy
import datetime
import os
import os.path as osp
from typing import Dict, Optional

from mmengine.config import Config

from csnet_mmseg.models.layer_table import LayerTable
from .summary import mode_text

#: File names written by :func:`write_pruned` into its output folder.
PRUNED_CONFIG = 'pruned_config.py'
TRAIN_CONFIG = 'train_config.py'
PRUNED_CHECKPOINT = 'pruned.pth'
SUMMARY = 'summary.md'
OUTPUT_FILES = (PRUNED_CONFIG, TRAIN_CONFIG, PRUNED_CHECKPOINT, SUMMARY)

#: Keys of the training config that describe one run, not the model: they
#: are reset in the copy written beside the narrowed config.
RUN_KEYS = dict(work_dir=None, load_from=None, resume=False)
PRUNING_HOOK_TYPES = ('ChannelPruningHook', 'mmseg.ChannelPruningHook')


def to_plain(cfg) -> dict:
    """A config (or ConfigDict, or dict) as a plain dict copy."""
    if hasattr(cfg, 'to_dict'):
        return cfg.to_dict()
    return copy.deepcopy(dict(cfg))


def format_table_override(table: LayerTable,
                          base: str = './' + TRAIN_CONFIG,
                          header: str = '') -> str:
    """Config text: ``_base_`` plus an override of the layer table only."""
    return table.to_config_text(base, header)


def check_out_dir(out_dir: str) -> None:
    """Refuse an output folder that already holds pruning outputs.

    Raises:
        FileExistsError: Naming the files that would be overwritten.
    """
    existing = [f for f in OUTPUT_FILES if osp.exists(osp.join(out_dir, f))]
    if existing:
        raise FileExistsError(
            f'channel pruning: {out_dir} already holds {", ".join(existing)};'
            ' refusing to overwrite - remove them or choose another output '
            'folder (out_dir= / --out-dir)')


def write_pruned(result: 'PruningResult',
                 out_dir: str,
                 train_cfg: Config,
                 source: str = '',
                 dataset_meta: Optional[dict] = None) -> Dict[str, str]:
    """Write the narrowed config, checkpoint and summary into ``out_dir``.

    Files (never overwritten: :func:`check_out_dir` refuses first):

    - ``train_config.py``: the training config as it was run, resolved into
      one self-contained file (no ``_base_``), minus the run-specific keys
      ``work_dir``/``load_from``/``resume`` (reset) and the
      ``ChannelPruningHook`` (removed from ``custom_hooks``), so the folder
      stays valid wherever it is moved;
    - ``pruned_config.py``: ``_base_ = ['./train_config.py']`` plus ONLY the
      narrowed layer table (``model.backbone.stem_channels/stage_channels``,
      ``model.decode_head.in_channels/fuse_channels/dilation_channels/
      channels``);
    - ``pruned.pth``: ``dict(meta=..., state_dict=...)`` of the narrowed
      segmentor, loadable with ``load_from`` (strict keys);
    - ``summary.md``: the summary table.

    Args:
        result (PruningResult): From :func:`prune_segmentor`.
        out_dir (str): Output folder (created).
        train_cfg (Config): The training config.
        source (str): Where the wide weights came from (for ``meta``).
        dataset_meta (dict, optional): Copied into ``meta``.

    Returns:
        dict: Paths of the written files by kind (``config``,
        ``train_config``, ``checkpoint``, ``summary``).
    """
    from mmengine.runner import save_checkpoint
    check_out_dir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(
        config=osp.join(out_dir, PRUNED_CONFIG),
        train_config=osp.join(out_dir, TRAIN_CONFIG),
        checkpoint=osp.join(out_dir, PRUNED_CHECKPOINT),
        summary=osp.join(out_dir, SUMMARY))

    base = Config(to_plain(train_cfg))
    for key, value in RUN_KEYS.items():
        if key in base:
            base[key] = value
    hooks = base.get('custom_hooks')
    if hooks:
        base['custom_hooks'] = [
            h for h in hooks if h.get('type') not in PRUNING_HOOK_TYPES
        ]
    header = (
        '# The training config of the pruned model, resolved into one file '
        'by csnet_mmseg\n# channel pruning. Reset: '
        f'{", ".join(f"{k}={v!r}" for k, v in RUN_KEYS.items())}; the '
        'ChannelPruningHook is\n# removed from custom_hooks (add it again to '
        'prune the narrowed model again).\n')
    with open(paths['train_config'], 'w', encoding='utf-8') as f:
        f.write(header + base.pretty_text)

    stamp = datetime.datetime.now().isoformat(timespec='seconds')
    b, a = result.before, result.after
    header = (
        '# Narrowed CSNet written by csnet_mmseg channel pruning '
        f'({stamp}).\n'
        f'# |gamma| < {result.plan.threshold:g} removed, '
        f'{mode_text(result.fold, result.calib_images)}; source: '
        f"{source or '?'}\n"
        f"# params {b['params']:,} -> {a['params']:,}"
        + (f"; FLOPs ({result.input_size[0]}x{result.input_size[1]}) "
           f"{b['flops']:,} -> {a['flops']:,}" if a.get('flops') else '')
        + '\n# Only the layer table is overridden; weights: '
        f'{PRUNED_CHECKPOINT} (load_from).\n')
    with open(paths['config'], 'w', encoding='utf-8') as f:
        f.write(format_table_override(result.table, header=header))

    meta = dict(
        pruning=dict(
            threshold=result.plan.threshold,
            fold=result.fold,
            calib_images=result.calib_images,
            input_size=list(result.input_size),
            source=source,
            layer_table=result.table.to_dict(),
            params=[b['params'], a['params']],
            flops=[b.get('flops'), a.get('flops')],
            notes=list(result.plan.notes),
            time=stamp))
    if dataset_meta is not None:
        meta['dataset_meta'] = copy.deepcopy(dataset_meta)
    state_dict = {
        k: v.detach().cpu()
        for k, v in result.model.state_dict().items()
    }
    save_checkpoint(dict(meta=meta, state_dict=state_dict),
                    paths['checkpoint'])
    with open(paths['summary'], 'w', encoding='utf-8') as f:
        f.write(result.summary)
    return paths
