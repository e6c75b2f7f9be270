"""Choose the checkpoint a ``--resume`` run continues from, skipping files
that a killed run left incomplete.

MMEngine's ``CheckpointHook`` writes a checkpoint in place and then names
it in ``WORK_DIR/last_checkpoint``; ``--resume`` loads the named file. A run
killed (or a machine that lost power) while a checkpoint is written can
leave the named file cut short or missing (``max_keep_ckpts=1`` deletes the
only complete one before the new one is written; a file system may keep the
pointer but not the data). :func:`find_resumable_checkpoint` verifies the
named file and otherwise picks the newest complete checkpoint of the work
dir, with a warning; ``tools/train.py --resume`` passes it to the Runner as
``load_from`` (MMEngine resumes from ``load_from`` when ``resume=True``).
"""
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional

from mmengine.logging import print_log

__all__ = ['checkpoint_problem', 'find_resumable_checkpoint']

_CKPT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a complete checkpoint, or None if it is.

    A checkpoint written by ``torch.save`` is a zip archive; a file cut
    short lacks the archive's directory (at its end) and a damaged one fails
    the CRC check of its members. Files in the legacy (non-zip) format are
    loaded with the project's safe loader instead.

    Args:
        path (str): Checkpoint file.

    Returns:
        str or None: The problem, or None.
    """
    if not osp.isfile(path):
        return 'the file does not exist'
    if osp.getsize(path) == 0:
        return 'the file is empty'
    with open(path, 'rb') as f:
        is_zip = f.read(4) == b'PK\x03\x04'  # cut short: no zip directory
    if not is_zip:
        from ..checkpoint import load_local_checkpoint
        try:
            load_local_checkpoint(path, map_location='cpu')
        except Exception as e:  # noqa: BLE001  (any reading failure)
            return f'{type(e).__name__}: {e}'
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
        return f'incomplete or damaged ({type(e).__name__}: {e})'
    if bad is not None:
        return f'damaged (CRC error in {bad})'
    return None


def _candidates(work_dir: str) -> List[str]:
    """Checkpoints ``iter_N.pth`` / ``epoch_N.pth`` of ``work_dir``,
    newest (largest N) first."""
    found = []
    for name in os.listdir(work_dir):
        m = _CKPT_NAME.match(name)
        path = osp.join(work_dir, name)
        if m and osp.isfile(path):
            found.append((int(m.group(1)), osp.getmtime(path), path))
    return [p for _, _, p in sorted(found, reverse=True)]


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` should continue from.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str or None: The file named by ``work_dir/last_checkpoint`` when it
        is complete; otherwise the newest complete ``iter_N.pth`` /
        ``epoch_N.pth`` of the work dir (with a warning naming the broken
        file); None when the work dir holds no checkpoint at all (MMEngine
        then starts from scratch, as without this check).

    Raises:
        RuntimeError: The work dir holds checkpoints but none is complete.
    """
    if not osp.isdir(work_dir):
        return None
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
        if named and not osp.isfile(named) and osp.isfile(
                osp.join(work_dir, osp.basename(named))):
            named = osp.join(work_dir, osp.basename(named))  # moved dir
    broken = []
    if named:
        problem = checkpoint_problem(named)
        if problem is None:
            return named
        broken.append(f"'{named}' (named in {pointer}): {problem}")
    elif osp.isfile(pointer):
        broken.append(f'{pointer} is empty')
    else:
        broken.append(f'there is no {pointer}')
    for path in _candidates(work_dir):
        if named and osp.abspath(path) == osp.abspath(named):
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            print_log(
                f"Resume: {'; '.join(broken)}. Resuming from the newest "
                f"complete checkpoint '{path}' instead (the iterations "
                'after it are trained again).',
                logger='current',
                level=logging.WARNING)
            return path
        broken.append(f"'{path}': {problem}")
    if named or len(broken) > 1:
        raise RuntimeError(
            f'Resume: no complete checkpoint in {work_dir}: '
            + '; '.join(broken) + '. Restore a checkpoint, or start a new '
            'run without --resume (or in another --work-dir).')
    return None
