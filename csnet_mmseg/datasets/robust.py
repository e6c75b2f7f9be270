"""Skip training samples whose files cannot be used, with a warning."""
import logging
from typing import Callable, List, Sequence, Tuple, Union

import torch
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log
from torch.utils.data import get_worker_info

from mmseg.registry import TRANSFORMS

__all__ = ['SkipBadSamples', 'BAD_SAMPLE_ERRORS', 'find_skip_bad_samples']

#: Errors of the wrapped loaders that mean "this sample's files are bad":
#: ``OSError`` (missing, empty, truncated or undecodable image or mask file;
#: ``FileNotFoundError`` is one), ``ValueError`` (a mask whose size differs
#: from its image, an unsupported channel layout) and ``TypeError`` (an
#: unsupported pixel type). The loaders' messages name the file.
BAD_SAMPLE_ERRORS = (OSError, ValueError, TypeError)

# One row of (loaded, skipped) counters per dataloader worker (row 0: the
# main process); workers beyond the last row share it.
_ROWS = 64


def _row() -> int:
    info = get_worker_info()
    return 0 if info is None else 1 + info.id % (_ROWS - 1)


@TRANSFORMS.register_module()
class SkipBadSamples(BaseTransform):
    """Run loading transforms; skip the sample if its files are bad.

    By default a sample whose image or mask cannot be used stops the run
    with an error naming the file (see ``docs/robustness.md``). Wrapping the
    loaders of a **training** pipeline in this transform turns such an error
    (one of :data:`BAD_SAMPLE_ERRORS`) into a warning naming the file and
    the reason, counts it, and returns ``None``: MMEngine's ``BaseDataset``
    then draws another sample in its place (``max_refetch`` times at most).
    :class:`~csnet_mmseg.engine.hooks.bad_sample_hook.BadSampleHook` reports
    the count at the end of every epoch and stops the run when too many
    samples were skipped. Other errors (a config mistake, a bug) still stop
    the run.

    Wrap only the loaders, not the augmentations (an error there is a bug,
    not a bad file). In a validation or test pipeline a skipped sample still
    stops the run (MMEngine refuses ``None`` in test mode): a benchmark never
    silently drops an image.

    Config::

        train_pipeline = [
            dict(type='SkipBadSamples', transforms=[
                dict(type='LoadSODImage'),
                dict(type='LoadSODAnnotations')]),
            ...  # augmentations, PackSegInputs
        ]
        custom_hooks = [dict(type='BadSampleHook', max_skip_ratio=0.01)]

    The counters live in shared memory, so the counts of dataloader worker
    processes reach the hook in the main process.

    Args:
        transforms (Sequence[dict | callable]): The loading transforms, run
            in order.
    """

    def __init__(self, transforms: Sequence[Union[dict, Callable]]) -> None:
        if isinstance(transforms, dict) or not transforms:
            raise ValueError('SkipBadSamples: `transforms` must be a '
                             'non-empty list of transforms, got '
                             f'{transforms!r}')
        self.transforms: List[Callable] = []
        for t in transforms:
            t = TRANSFORMS.build(t) if isinstance(t, dict) else t
            if not callable(t):
                raise TypeError(f'SkipBadSamples: {t!r} is not a transform')
            self.transforms.append(t)
        self._counts = torch.zeros(_ROWS, 2, dtype=torch.int64)
        self._counts.share_memory_()

    def transform(self, results: dict) -> Union[dict, None]:
        """Run the wrapped transforms on ``results``.

        Args:
            results (dict): Result dict from the data set.

        Returns:
            dict | None: The loaded sample, or None if it was skipped.
        """
        row = self._counts[_row()]
        row[0] += 1
        name = results.get('img_path', results.get('seg_map_path'))
        try:
            for t in self.transforms:
                results = t(results)
                if results is None:
                    return None
        except BAD_SAMPLE_ERRORS as e:
            row[1] += 1
            print_log(
                f"SkipBadSamples: skipped the sample '{name}': "
                f'{type(e).__name__}: {e}',
                logger='current',
                level=logging.WARNING)
            return None
        return results

    @property
    def counts(self) -> Tuple[int, int]:
        """``(loaded, skipped)``: samples this transform ran on and skipped,
        in this process and its dataloader workers."""
        total = self._counts.sum(0)
        return int(total[0]), int(total[1])

    def __repr__(self) -> str:
        inner = ', '.join(repr(t) for t in self.transforms)
        return f'{self.__class__.__name__}(transforms=[{inner}])'


def find_skip_bad_samples(dataset) -> List[SkipBadSamples]:
    """The :class:`SkipBadSamples` transforms in a data set's pipeline(s),
    also inside dataset wrappers (``ConcatDataset``, ``RepeatDataset`` ...)
    and nested transform lists (``Compose``, ``RandomChoice`` ...)."""
    found: List[SkipBadSamples] = []
    seen = set()

    def visit(obj, depth: int) -> None:
        if obj is None or id(obj) in seen or depth > 10:
            return
        seen.add(id(obj))
        if isinstance(obj, SkipBadSamples):
            found.append(obj)
            return
        for attr in ('dataset', 'datasets', 'pipeline', 'transforms'):
            child = getattr(obj, attr, None)
            if isinstance(child, (list, tuple)):
                for c in child:
                    visit(c, depth + 1)
            elif child is not None and not isinstance(child, (str, dict)):
                visit(child, depth + 1)

    visit(dataset, 0)
    return found
