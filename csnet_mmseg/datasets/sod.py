"""Salient object detection (SOD) data sets: one image folder, one mask
folder, files paired by stem."""
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

__all__ = ['SODDataset', 'SOD_IMG_SUFFIXES', 'SOD_IGNORED_SUFFIXES']

#: Suffixes (lower case) read as images or masks.
SOD_IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
#: Suffixes (lower case) of side files that may lie in a data folder and are
#: skipped without complaint (hidden files, whose name starts with '.', are
#: always skipped). Anything else is an error, see :class:`SODDataset`.
SOD_IGNORED_SUFFIXES = ('.txt', '.json', '.md', '.csv', '.xml', '.yaml',
                        '.yml', '.lst', '.mat', '.db', '.ini')

_SHOWN = 5  # how many offending files an error message lists


def _lower_tuple(suffixes: Sequence[str], arg: str) -> Tuple[str, ...]:
    if isinstance(suffixes, str):
        suffixes = [suffixes]
    out = []
    for s in suffixes:
        if not isinstance(s, str) or not s.startswith('.'):
            raise ValueError(f'SODDataset: `{arg}` must hold suffixes that '
                             f"start with '.', got {s!r}")
        out.append(s.lower())
    return tuple(out)


def _shorten(items: List[str]) -> str:
    text = ', '.join(f"'{i}'" for i in items[:_SHOWN])
    if len(items) > _SHOWN:
        text += f' (+{len(items) - _SHOWN} more)'
    return text


@DATASETS.register_module()
class SODDataset(BaseSegDataset):
    """Salient object detection data set (DUTS, ECSSD, PASCAL-S, ...).

    The layout is one folder of images and one folder of masks whose files
    share their stems (the part before the suffix):

    .. code-block:: none

        data_root
        ├── images          # data_prefix['img_path']
        │   ├── 0001.jpg
        │   └── ...
        └── GT              # data_prefix['seg_map_path']
            ├── 0001.png
            └── ...

    Both folders are listed flat (sub-folders are not searched). In each
    folder:

    - files whose suffix (case-insensitive) is in ``img_suffixes`` /
      ``seg_map_suffixes`` are data;
    - hidden files (name starting with ``'.'``) and files whose suffix is in
      ``ignore_suffixes`` (``.txt``, ``.json``, ``.md``, ``.csv``, ``.xml``,
      ``.yaml``, ``.yml``, ``.lst``, ``.mat``, ``.db``, ``.ini`` by default:
      lists, notes, ``Thumbs.db``) are skipped;
    - any other file raises a ``ValueError`` naming it, so that a wrong
      folder or an unexpected format (``.tif``, ``.gif``, ...) is not
      silently dropped from a benchmark;
    - two data files with one stem (``a.jpg`` and ``a.png``) raise a
      ``ValueError`` naming both.

    Every image needs a mask (else ``FileNotFoundError`` naming the image and
    the mask paths that were looked for); masks without an image are skipped
    with a warning. A missing or empty folder raises ``FileNotFoundError``.
    With ``ann_file`` (one stem or file name per line) only the listed
    samples are used, in the file's order; otherwise all images, sorted by
    file name.

    Each data info holds ``img_path``, ``seg_map_path``, ``dataset_name``,
    ``label_map`` (None), ``reduce_zero_label`` (False) and ``seg_fields``.
    ``dataset_name`` lets :class:`SODMetric` report several data sets
    concatenated by ``ConcatDataset`` separately; add it to the
    ``meta_keys`` of ``PackSegInputs`` (the configs in
    ``configs/_base_/datasets`` do).

    Masks are loaded by :class:`LoadSODAnnotations`, which maps them to
    {0, 1}; MMSeg's ``LoadAnnotations`` would keep the 255 of the
    foreground, which is the ignore index.

    Args:
        data_root (str, optional): Root folder of the data set; relative
            ``data_prefix`` folders and ``ann_file`` are joined to it.
            Defaults to None.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders.
            Defaults to ``dict(img_path='images', seg_map_path='GT')``.
        dataset_name (str, optional): Name of the data set in metric keys
            (``'<dataset_name>/MAE'``) and output folders. Defaults to None:
            the base name of ``data_root`` (of the image folder's parent if
            ``data_root`` is None).
        img_suffixes (Sequence[str]): Image suffixes.
            Defaults to ``('.jpg', '.jpeg', '.png', '.bmp')``.
        seg_map_suffixes (Sequence[str]): Mask suffixes. Defaults to the
            same list.
        ignore_suffixes (Sequence[str]): Suffixes of side files to skip.
            Defaults to :data:`SOD_IGNORED_SUFFIXES`.
        ann_file (str): Optional list of samples. Defaults to ''.
        metainfo (dict, optional): Meta information; defaults to
            ``classes=('background', 'foreground')`` with a black/white
            palette.
        reduce_zero_label (bool): Must be False (the background is a
            class). Defaults to False.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`
            (``pipeline``, ``test_mode``, ``indices``, ``serialize_data``,
            ``lazy_init``, ``backend_args`` ...).
    """
    METAINFO = dict(
        classes=('background', 'foreground'),
        palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='GT'),
                 dataset_name: Optional[str] = None,
                 img_suffixes: Sequence[str] = SOD_IMG_SUFFIXES,
                 seg_map_suffixes: Sequence[str] = SOD_IMG_SUFFIXES,
                 ignore_suffixes: Sequence[str] = SOD_IGNORED_SUFFIXES,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        for old, new in (('img_suffix', 'img_suffixes'),
                         ('seg_map_suffix', 'seg_map_suffixes')):
            if old in kwargs:
                raise TypeError(f'SODDataset takes `{new}` (a list of '
                                f'suffixes), not `{old}`')
        if reduce_zero_label:
            raise ValueError(
                'SODDataset: reduce_zero_label must be False (label 0 is the '
                'background class of the saliency mask)')
        data_prefix = dict(data_prefix)
        for key in ('img_path', 'seg_map_path'):
            if not isinstance(data_prefix.get(key), str):
                raise ValueError(f'SODDataset: data_prefix[{key!r}] must be '
                                 f'a folder path, got {data_prefix}')
        self.img_suffixes = _lower_tuple(img_suffixes, 'img_suffixes')
        self.seg_map_suffixes = _lower_tuple(seg_map_suffixes,
                                             'seg_map_suffixes')
        self.ignore_suffixes = _lower_tuple(ignore_suffixes,
                                            'ignore_suffixes')
        if dataset_name is None:
            if data_root:
                dataset_name = osp.basename(osp.abspath(data_root))
            else:
                dataset_name = osp.basename(
                    osp.dirname(osp.abspath(data_prefix['img_path'])))
        if not dataset_name or '/' in dataset_name:
            raise ValueError('SODDataset: dataset_name must be a non-empty '
                             f"name without '/', got {dataset_name!r}")
        self.dataset_name = dataset_name
        try:
            super().__init__(
                ann_file=ann_file,
                img_suffix=self.img_suffixes[0],
                seg_map_suffix=self.seg_map_suffixes[0],
                metainfo=metainfo,
                data_root=data_root,
                data_prefix=data_prefix,
                reduce_zero_label=False,
                **kwargs)
        except TypeError as e:  # name this data set, not BaseSegDataset
            raise TypeError(f'SODDataset: {e}') from e

    def _scan(self, folder: str, suffixes: Tuple[str, ...],
              kind: str) -> Dict[str, str]:
        """List one folder: ``{stem: file name}`` of its data files."""
        where = f"SODDataset '{self.dataset_name}'"
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f"{where}: the {kind} folder '{folder}' does not exist "
                f'(check data_root and data_prefix)')
        names = sorted(os.listdir(folder))
        if not names:
            raise FileNotFoundError(
                f"{where}: the {kind} folder '{folder}' is empty")
        found: Dict[str, str] = {}
        unknown: List[str] = []
        subdirs = 0
        for name in names:
            path = osp.join(folder, name)
            if name.startswith('.'):
                continue
            if osp.isdir(path):
                subdirs += 1
                continue
            stem, ext = osp.splitext(name)
            ext = ext.lower()
            if ext in suffixes:
                if stem in found:
                    raise ValueError(
                        f'{where}: two {kind} files with the stem '
                        f"'{stem}': '{osp.join(folder, found[stem])}' and "
                        f"'{path}'")
                found[stem] = name
            elif ext not in self.ignore_suffixes:
                unknown.append(path)
        if unknown:
            raise ValueError(
                f'{where}: unexpected file(s) in the {kind} folder '
                f"'{folder}': {_shorten(unknown)}. Accepted {kind} suffixes: "
                f'{list(suffixes)}; skipped side files: '
                f'{list(self.ignore_suffixes)} and hidden files. Remove '
                'them, or add their suffix to `ignore_suffixes` (or to the '
                'accepted suffixes).')
        if not found:
            extra = (f' (it holds {subdirs} sub-folder(s); folders are not '
                     'searched recursively)' if subdirs else '')
            raise FileNotFoundError(
                f"{where}: no {kind} file in '{folder}' with a suffix in "
                f'{list(suffixes)}{extra}')
        return found

    def _read_ann_file(self, images: Dict[str, str]) -> List[str]:
        """Stems listed in ``ann_file`` (a suffix, if any, is dropped)."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f"SODDataset '{self.dataset_name}': ann_file "
                f"'{self.ann_file}' does not exist")
        stems = []
        for line in mmengine.list_from_file(
                self.ann_file, backend_args=self.backend_args):
            name = osp.basename(line.strip())
            if not name:
                continue
            stem, ext = osp.splitext(name)
            if ext.lower() not in self.img_suffixes:
                stem = name
            if stem not in images:
                img_dir = self.data_prefix['img_path']
                raise FileNotFoundError(
                    f"SODDataset '{self.dataset_name}': '{name}' listed in "
                    f"'{self.ann_file}' has no image in '{img_dir}' (looked "
                    f'for suffixes {list(self.img_suffixes)})')
            stems.append(stem)
        if not stems:
            raise ValueError(f"SODDataset '{self.dataset_name}': ann_file "
                             f"'{self.ann_file}' lists no sample")
        return stems

    def load_data_list(self) -> List[dict]:
        """List the image/mask pairs.

        Returns:
            list[dict]: One data info per image.
        """
        img_dir = self.data_prefix['img_path']
        ann_dir = self.data_prefix['seg_map_path']
        images = self._scan(img_dir, self.img_suffixes, 'image')
        masks = self._scan(ann_dir, self.seg_map_suffixes, 'mask')
        if self.ann_file:
            stems = self._read_ann_file(images)
        else:
            stems = sorted(images, key=lambda s: images[s])
        missing = [s for s in stems if s not in masks]
        if missing:
            lines = []
            for stem in missing[:_SHOWN]:
                expected = ', '.join(
                    f"'{osp.join(ann_dir, stem + s)}'"
                    for s in self.seg_map_suffixes)
                lines.append(f"  image '{osp.join(img_dir, images[stem])}' "
                             f'-> no mask among {expected}')
            if len(missing) > _SHOWN:
                lines.append(f'  ... and {len(missing) - _SHOWN} more')
            raise FileNotFoundError(
                f"SODDataset '{self.dataset_name}': {len(missing)} of "
                f"{len(stems)} image(s) in '{img_dir}' have no mask in "
                f"'{ann_dir}':\n" + '\n'.join(lines))
        if not self.ann_file:
            orphans = sorted(set(masks) - set(images))
            if orphans:
                print_log(
                    f"SODDataset '{self.dataset_name}': {len(orphans)} "
                    f"mask(s) in '{ann_dir}' have no image and are skipped, "
                    f'e.g. {_shorten([masks[s] for s in orphans])}',
                    logger='current',
                    level=logging.WARNING)
        data_list = []
        for stem in stems:
            data_list.append(
                dict(
                    img_path=osp.join(img_dir, images[stem]),
                    seg_map_path=osp.join(ann_dir, masks[stem]),
                    dataset_name=self.dataset_name,
                    label_map=self.label_map,
                    reduce_zero_label=False,
                    seg_fields=[]))
        return data_list
