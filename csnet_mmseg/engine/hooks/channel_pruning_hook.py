"""Hook that turns a trained CSNet into a narrowed config + checkpoint."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmseg.registry import HOOKS
from csnet_mmseg.pruning import (calib_batches_from_loader,
                                 check_out_dir, prune_segmentor,
                                 unwrap_model, write_pruned)

STATE_KEY = 'channel_pruning'


@HOOKS.register_module()
class ChannelPruningHook(Hook):
    """Prune the channels whose BN gamma fell below a threshold and write a
    narrowed model that MMSeg tools can train, test and deploy.

    At the configured point (the end of training by default) the hook reads
    the gammas of every prunable layer of the CSNet segmentor (the mixing
    gOctConv of every ILBlock incl. the stem, the CSF head's ``fuse``,
    dilation branches and ``merge``), removes per scale the channels with
    ``|gamma| < threshold`` and writes into ``out_dir``:

    - ``pruned_config.py``: ``_base_ = ['./train_config.py']`` + the
      narrowed layer table only;
    - ``train_config.py``: the training config, resolved into one file
      (``work_dir``/``load_from``/``resume`` reset, this hook removed from
      ``custom_hooks``), so the folder stays valid when moved;
    - ``pruned.pth``: the surviving weights (``meta`` + ``state_dict``),
      for ``load_from``;
    - ``summary.md``: per layer and scale, channels, params and FLOPs before
      -> after (also logged).

    The running training is not changed: the wide model keeps training when
    pruning happens at an earlier epoch/iteration. See
    :mod:`csnet_mmseg.pruning` and ``docs/pruning.md``.

    Existing outputs are never overwritten: the hook checks ``out_dir``
    before training starts and stops with an error if it already holds
    pruning outputs (unless a resumed run had already pruned). Whether it has
    pruned (and where) is saved in the checkpoints' ``meta`` and restored on
    ``resume``.

    Args:
        threshold (float): Remove channels with ``|gamma| < threshold``.
            Defaults to 1e-20 (the released CSNet models).
        fold (bool): Fold (absorb) the image-independent output of removed
            channels (``beta``) into their consumers instead of dropping it,
            see :func:`~csnet_mmseg.pruning.absorb_removed_channels`.
            Defaults to True.
        at_epoch (int, optional): Prune after this (1-based) training epoch
            instead of at the end of training.
        at_iter (int, optional): Prune after this (1-based) training
            iteration instead of at the end of training.
        out_dir (str, optional): Output folder. Defaults to
            ``<work_dir>/pruned``. A relative path is relative to the current
            directory (like every path in an MMEngine config).
        input_size (Sequence[int]): ``(h, w)`` of the image that the folded
            constants and the FLOPs refer to. Defaults to (224, 224).
        calib_batches (int): With ``fold=True``, calibrate the absorbing on
            this many batches of the training dataloader (each removed
            channel is replaced by its mean output over them rather than its
            data-free image-independent part). Defaults to 0 (data-free).
    """

    priority = 'NORMAL'  # before CheckpointHook: the saved state is current

    def __init__(self,
                 threshold: float = 1e-20,
                 fold: bool = True,
                 at_epoch: Optional[int] = None,
                 at_iter: Optional[int] = None,
                 out_dir: Optional[str] = None,
                 input_size: Sequence[int] = (224, 224),
                 calib_batches: int = 0) -> None:
        if at_epoch is not None and at_iter is not None:
            raise ValueError('ChannelPruningHook: give at_epoch or at_iter, '
                             'not both')
        for key, value in (('at_epoch', at_epoch), ('at_iter', at_iter)):
            if value is not None and (not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f'ChannelPruningHook: {key} must be an int '
                                 f'>= 1, got {value!r}')
        if not threshold >= 0:
            raise ValueError('ChannelPruningHook: threshold must be >= 0, '
                             f'got {threshold!r}')
        if len(input_size) != 2:
            raise ValueError('ChannelPruningHook: input_size must be (h, w), '
                             f'got {input_size!r}')
        if not isinstance(calib_batches, int) or calib_batches < 0:
            raise ValueError('ChannelPruningHook: calib_batches must be an '
                             f'int >= 0, got {calib_batches!r}')
        self.calib_batches = calib_batches
        self.threshold = float(threshold)
        self.fold = bool(fold)
        self.at_epoch = at_epoch
        self.at_iter = at_iter
        self.out_dir = out_dir
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.pruned = False
        self.written_to: Optional[str] = None
        self._loaded_state: Optional[dict] = None

    def _resolve_out_dir(self, runner) -> str:
        if self.out_dir is None:
            return osp.join(runner.work_dir, 'pruned')
        return self.out_dir

    # ---- state across resume ------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[STATE_KEY] = dict(
            pruned=self.pruned, out_dir=self.written_to)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # both ``resume`` and ``load_from`` call this; ``before_train``
        # keeps the state only for a resumed run (iteration > 0)
        self._loaded_state = checkpoint.get('meta', {}).get(STATE_KEY)

    def before_train(self, runner) -> None:
        state, self._loaded_state = self._loaded_state, None
        if state is not None and runner.iter > 0:
            self.pruned = bool(state.get('pruned', False))
            self.written_to = state.get('out_dir')
        if self.pruned:
            runner.logger.info('ChannelPruningHook: this run already pruned '
                               f'into {self.written_to}; not pruning again')
            return
        if is_main_process():
            # fail now, not after the whole training
            check_out_dir(self._resolve_out_dir(runner))

    # ---- triggers -------------------------------------------------------
    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self.at_iter is not None and runner.iter + 1 == self.at_iter:
            self._prune(runner)

    def after_train_epoch(self, runner) -> None:
        if self.at_epoch is not None and runner.epoch + 1 == self.at_epoch:
            self._prune(runner)

    def after_train(self, runner) -> None:
        if self.at_epoch is None and self.at_iter is None:
            self._prune(runner)
        elif not self.pruned:
            at = f'epoch {self.at_epoch}' if self.at_epoch is not None \
                else f'iteration {self.at_iter}'
            runner.logger.warning(
                f'ChannelPruningHook: training ended before {at}; nothing '
                'was pruned')

    def _prune(self, runner) -> None:
        if self.pruned:
            return
        out_dir = self._resolve_out_dir(runner)
        if is_main_process():
            runner.logger.info(
                f'ChannelPruningHook: pruning |gamma| < {self.threshold:g} '
                f"({'fold' if self.fold else 'drop'}) at epoch "
                f'{runner.epoch + 1}, iteration {runner.iter + 1}')
            model = unwrap_model(runner.model)
            calib = None
            if self.fold and self.calib_batches > 0:
                calib = calib_batches_from_loader(
                    model, runner.train_dataloader, self.calib_batches)
            result = prune_segmentor(
                model,
                runner.cfg.model,
                threshold=self.threshold,
                fold=self.fold,
                input_size=self.input_size,
                calib=calib)
            source = (f'{runner.work_dir} at epoch {runner.epoch + 1}, '
                      f'iteration {runner.iter + 1}')
            paths = write_pruned(
                result,
                out_dir,
                runner.cfg,
                source=source,
                dataset_meta=getattr(model, 'dataset_meta', None))
            runner.logger.info('ChannelPruningHook: wrote '
                               f"{paths['config']}, {paths['checkpoint']}"
                               f" and {paths['summary']}\n{result.summary}")
        self.pruned = True
        self.written_to = out_dir
