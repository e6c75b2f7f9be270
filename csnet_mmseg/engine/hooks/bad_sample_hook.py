"""Report the training samples that SkipBadSamples skipped."""
from typing import List, Optional, Tuple

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.hooks import Hook

from mmseg.registry import HOOKS
from csnet_mmseg.datasets.robust import find_skip_bad_samples


@HOOKS.register_module()
class BadSampleHook(Hook):
    """Count, report and bound the samples skipped for bad files.

    Works with :class:`~csnet_mmseg.datasets.robust.SkipBadSamples` in the
    training pipeline (which logs every skipped file as it happens). At the
    end of every training epoch the hook logs how many of the samples loaded
    in that epoch were skipped (summed over processes and dataloader
    workers), and at the end of training the total. Every ``interval``
    iterations and at each report it checks the share of skipped samples
    since the start of this process and stops the run with a
    ``RuntimeError`` when it exceeds ``max_skip_ratio``: many bad files mean
    a broken data set (a wrong folder, an unsupported format), which should
    not train silently on what is left. MMEngine's iteration-based loop has
    a single epoch, hence the periodic check.

    Args:
        max_skip_ratio (float, optional): Largest tolerated share of
            skipped samples, in [0, 1]. None never stops. Defaults to 0.01.
        interval (int): Check every this many training iterations.
            Defaults to 100.
    """

    priority = 'NORMAL'

    def __init__(self,
                 max_skip_ratio: Optional[float] = 0.01,
                 interval: int = 100) -> None:
        if max_skip_ratio is not None and not 0 <= max_skip_ratio <= 1:
            raise ValueError('BadSampleHook: max_skip_ratio must be in '
                             f'[0, 1] or None, got {max_skip_ratio!r}')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError('BadSampleHook: interval must be an int >= 1, '
                             f'got {interval!r}')
        self.max_skip_ratio = max_skip_ratio
        self.interval = interval
        self._wrappers: List = []
        self._epoch_start: Tuple[int, int] = (0, 0)

    def _totals(self) -> Tuple[int, int]:
        """(loaded, skipped) since the start, summed over processes."""
        loaded = sum(w.counts[0] for w in self._wrappers)
        skipped = sum(w.counts[1] for w in self._wrappers)
        if is_distributed():
            t = torch.tensor([loaded, skipped], dtype=torch.float64)
            all_reduce(t, op='sum')
            loaded, skipped = int(t[0]), int(t[1])
        return loaded, skipped

    def _check(self, runner, loaded: int, skipped: int) -> None:
        if self.max_skip_ratio is None or loaded == 0:
            return
        if skipped / loaded > self.max_skip_ratio:
            raise RuntimeError(
                f'BadSampleHook: {skipped} of {loaded} training samples '
                f'({100 * skipped / loaded:.1f}%) were skipped because their '
                'files could not be used, more than max_skip_ratio='
                f'{self.max_skip_ratio:g}. The data set looks broken: the '
                'warnings of SkipBadSamples above name the files. Fix them, '
                'or raise max_skip_ratio.')

    def before_train(self, runner) -> None:
        self._wrappers = find_skip_bad_samples(runner.train_dataloader.dataset)
        if not self._wrappers:
            runner.logger.warning(
                'BadSampleHook: the training pipeline has no SkipBadSamples '
                'transform, so a bad file stops the run with its error; '
                'nothing to count')
        self._epoch_start = self._totals()

    def before_train_epoch(self, runner) -> None:
        self._epoch_start = self._totals()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._check(runner, *self._totals())

    def after_train_epoch(self, runner) -> None:
        loaded, skipped = self._totals()
        e_loaded = loaded - self._epoch_start[0]
        e_skipped = skipped - self._epoch_start[1]
        if e_skipped:
            runner.logger.warning(
                f'BadSampleHook: epoch {runner.epoch + 1}: {e_skipped} of '
                f'{e_loaded} loaded training samples were skipped (bad '
                'files, named in the warnings above); others were drawn in '
                'their place')
        self._check(runner, loaded, skipped)

    def after_train(self, runner) -> None:
        loaded, skipped = self._totals()
        if self._wrappers:
            runner.logger.info(
                f'BadSampleHook: {skipped} of {loaded} loaded training '
                'samples were skipped in this run')
