"""Checks of the command-line arguments shared by the tools."""
import difflib
from typing import Dict, Optional

from mmengine.config import Config, DictAction

__all__ = ['CfgOptionsAction', 'check_cfg_options', 'RUNNER_KEYS']

#: Top-level keys MMEngine's Runner (and our tools) read besides those of
#: the config files: ``--cfg-options`` may add them.
RUNNER_KEYS = frozenset((
    'auto_scale_lr', 'custom_hooks', 'data_preprocessor', 'default_hooks',
    'default_scope', 'env_cfg', 'experiment_name', 'launcher', 'load_from',
    'log_level', 'log_processor', 'optim_wrapper', 'param_scheduler',
    'randomness', 'resume', 'test_cfg', 'test_dataloader', 'test_evaluator',
    'train_cfg', 'train_dataloader', 'val_cfg', 'val_dataloader',
    'val_evaluator', 'visualizer', 'model', 'work_dir', 'runner_type',
    'model_wrapper_cfg', 'find_unused_parameters', 'sync_bn', 'compile',
    'cfg', 'custom_imports', 'tta_model', 'tta_pipeline'))


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction`` that reports an item without ``=`` as a
    usage error (``DictAction`` raises a bare ``ValueError`` traceback)."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            if '=' not in item or item.startswith('='):
                parser.error(
                    f'{option_string}: expected KEY=VALUE items, got '
                    f'{item!r} (e.g. {option_string} '
                    'train_cfg.max_iters=100)')
        super().__call__(parser, namespace, values, option_string)


def check_cfg_options(cfg: Config, options: Optional[Dict]) -> None:
    """Refuse ``--cfg-options`` whose top-level key is neither in the
    config nor read by the Runner: ``load_form=x.pth`` would otherwise add
    a key that nothing reads, silently.

    Args:
        cfg (Config): The config, before the options are merged.
        options (dict, optional): The parsed ``--cfg-options``.

    Raises:
        ValueError: Naming the key (and the closest known one).
    """
    for key in options or {}:
        top = key.split('.', 1)[0]
        if top in cfg or top in RUNNER_KEYS:
            continue
        close = difflib.get_close_matches(
            top, sorted(set(cfg.keys()) | RUNNER_KEYS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ''
        raise ValueError(f"--cfg-options {key}: '{top}' is not a key of the "
                       f'config nor a Runner setting, nothing would read '
                       f'it{hint}')

