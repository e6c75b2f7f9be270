"""The salient object detection protocol (MAE, F, S, E, weighted F)."""
import logging
import os
import os.path as osp
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ...datasets.transforms.loading import read_sod_mask

__all__ = ['SODMetric', 'saliency_from_logits']

#: Metric families (pysodmetrics classes) -> the keys they report.
SOD_METRIC_KEYS = OrderedDict(
    MAE=('MAE', ),
    Fmeasure=('maxF', 'meanF', 'adpF'),
    Smeasure=('Sm', ),
    Emeasure=('maxE', 'meanE', 'adpE'),
    WeightedFmeasure=('wFm', ))


def saliency_from_logits(seg_logits: torch.Tensor,
                         activation: str = 'auto') -> np.ndarray:
    """Turn a model output into an 8-bit saliency map.

    ``round(p * 255)`` of the foreground probability ``p``:

    - one channel: MMSeg's ``EncoderDecoder.postprocess_result`` already
      applies the sigmoid to a one-channel output, so ``seg_logits`` holds
      probabilities. ``'auto'`` uses them as they are when they lie in
      [0, 1] and applies a sigmoid otherwise (raw logits);
      ``'sigmoid'`` always applies it, ``'none'`` never.
    - two channels (``'auto'`` or ``'softmax'``): softmax, channel 1.

    Args:
        seg_logits (torch.Tensor): (1, H, W), (2, H, W) or (H, W).
        activation (str): 'auto', 'sigmoid', 'softmax' or 'none'.

    Returns:
        np.ndarray: (H, W) uint8.
    """
    x = seg_logits.detach().float().cpu()
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[0] not in (1, 2):
        raise ValueError('SOD saliency needs a (1, H, W) or (2, H, W) output,'
                         f' got {tuple(seg_logits.shape)}')
    if x.shape[0] == 2:
        if activation not in ('auto', 'softmax'):
            raise ValueError(f"activation '{activation}' does not fit a "
                             'two-channel output (use auto or softmax)')
        p = x.softmax(dim=0)[1]
    else:
        x = x[0]
        if activation == 'softmax':
            raise ValueError("activation 'softmax' needs a two-channel output")
        if activation == 'sigmoid' or (activation == 'auto' and
                                       (x.min() < 0 or x.max() > 1)):
            p = x.sigmoid()
        elif activation in ('auto', 'none'):
            p = x.clamp(0, 1)
        else:
            raise ValueError(f"unknown activation '{activation}'")
    return (p * 255).round().clamp(0, 255).to(torch.uint8).numpy()


def _image_stats(pred: np.ndarray, gt: np.ndarray,
                 families: Sequence[str]) -> dict:
    """Per-image results of fresh pysodmetrics objects.

    pysodmetrics averages every per-image quantity (scalars and the 256-bin
    curves) over the images, so the mean of these per-image results is
    exactly what one pysodmetrics object fed with all images returns. This
    keeps ``self.results`` small and mergeable across processes.
    """
    import py_sod_metrics as psm
    out = {}
    if 'MAE' in families:
        m = psm.MAE()
        m.step(pred, gt)
        out['MAE'] = float(m.get_results()['mae'])
    if 'Fmeasure' in families:
        with warnings.catch_warnings():  # 1.6 deprecates it for FmeasureV2
            warnings.simplefilter('ignore')
            m = psm.Fmeasure(beta=0.3)
        m.step(pred, gt)
        fm = m.get_results()['fm']
        out['adpF'] = float(fm['adp'])
        out['F_curve'] = np.asarray(fm['curve'], np.float64).reshape(-1)
    if 'Smeasure' in families:
        m = psm.Smeasure()
        m.step(pred, gt)
        out['Sm'] = float(m.get_results()['sm'])
    if 'Emeasure' in families:
        m = psm.Emeasure()
        m.step(pred, gt)
        em = m.get_results()['em']
        out['adpE'] = float(em['adp'])
        out['E_curve'] = np.asarray(em['curve'], np.float64).reshape(-1)
    if 'WeightedFmeasure' in families:
        m = psm.WeightedFmeasure()
        m.step(pred, gt)
        out['wFm'] = float(m.get_results()['wfm'])
    return out


@METRICS.register_module()
class SODMetric(BaseMetric):
    """Salient object detection metrics, per data set.

    Follows the SOD evaluation protocol with ``pysodmetrics``: the
    prediction is the 8-bit saliency map ``round(p * 255)`` at the original
    image size (``p``: foreground probability, see
    :func:`saliency_from_logits`), the ground truth is the original 8-bit
    mask read from the sample's ``seg_map_path`` (grey levels, binarised by
    pysodmetrics at ``> 128``; RGB / RGBA / 16-bit masks are first turned
    into grey as by :class:`LoadSODAnnotations`).

    Reported per data set (the sample's ``dataset_name``):

    - ``MAE``: mean absolute error;
    - ``maxF`` / ``meanF`` / ``adpF``: F-measure (beta^2 = 0.3), maximum and
      mean over the 256 thresholds of the mean F curve, and adaptive
      threshold (twice the mean saliency);
    - ``Sm``: S-measure (alpha = 0.5);
    - ``maxE`` / ``meanE`` / ``adpE``: E-measure, the same way;
    - ``wFm``: weighted F-measure.

    Keys are ``'<dataset_name>/<metric>'`` (e.g. ``'ECSSD/MAE'``, usable as
    ``default_hooks.checkpoint.save_best='ECSSD/MAE'`` with
    ``rule='less'``). When a single data set is evaluated the plain keys
    (``'MAE'``, ``'maxF'``, ...) are returned as well, so a schedule can
    select the best checkpoint the same way for any validation set. With
    ``prefix`` every key gets ``'<prefix>/'`` in front. A table per data
    set is logged.

    The data set name comes from the data sample's ``dataset_name`` (set by
    :class:`SODDataset`; add ``'dataset_name'`` to the ``meta_keys`` of
    ``PackSegInputs``). Without it, the name of the folder above the mask
    folder is used (``<root>/ECSSD/GT/x.png`` -> ``ECSSD``), with a warning.

    ``process`` keeps per-image results only (a few scalars and two
    256-bin curves), so results gather cheaply across processes
    (``collect_device``).

    Args:
        sod_metrics (Sequence[str]): Metric families to compute among
            ``'MAE'``, ``'Fmeasure'``, ``'Smeasure'``, ``'Emeasure'`` and
            ``'WeightedFmeasure'`` (the slowest). Defaults to all. (Not
            called ``metrics``: mmengine reads a config dict with a
            ``metrics`` key as an ``Evaluator``.)
        activation (str): How the output becomes a probability:
            ``'auto'``, ``'sigmoid'``, ``'softmax'`` or ``'none'``, see
            :func:`saliency_from_logits`. Defaults to 'auto'.
        output_dir (str, optional): If set, the 8-bit saliency maps are
            written as PNG to ``output_dir/<dataset_name>/<stem>.png``
            (stem of the image file). Defaults to None.
        overwrite (bool): If ``output_dir`` already exists and is not empty
            when the metric is built, raise ``FileExistsError`` unless
            True; with True, maps with the same name are replaced (other
            files stay). Maps written by this metric itself (validation
            every few epochs) are always replaced. Defaults to False.
        format_only (bool): Only write the maps (needs ``output_dir``),
            compute nothing; no mask is needed. Defaults to False.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric keys. Defaults to None
            (no prefix).
        collect_dir (str, optional): See
            :class:`mmengine.evaluator.BaseMetric`.
    """
    default_prefix: Optional[str] = ''

    def __init__(self,
                 sod_metrics: Sequence[str] = tuple(SOD_METRIC_KEYS),
                 activation: str = 'auto',
                 output_dir: Optional[str] = None,
                 overwrite: bool = False,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        if isinstance(sod_metrics, str):
            sod_metrics = [sod_metrics]
        unknown = [m for m in sod_metrics if m not in SOD_METRIC_KEYS]
        if unknown or not sod_metrics:
            raise KeyError(f'SODMetric: unknown sod_metrics {unknown}; '
                           f'choose among {list(SOD_METRIC_KEYS)}')
        self.sod_metrics = [m for m in SOD_METRIC_KEYS if m in sod_metrics]
        if activation not in ('auto', 'sigmoid', 'softmax', 'none'):
            raise ValueError(f"SODMetric: unknown activation '{activation}'")
        self.activation = activation
        if format_only and not output_dir:
            raise ValueError('SODMetric: format_only=True needs output_dir')
        self.format_only = format_only
        self.output_dir = output_dir
        self.overwrite = overwrite
        self._warned_name = False
        if output_dir and is_main_process():
            if osp.exists(output_dir) and not osp.isdir(output_dir):
                raise FileExistsError(
                    f"SODMetric: output_dir '{output_dir}' is a file")
            if osp.isdir(output_dir) and os.listdir(output_dir) \
                    and not overwrite:
                raise FileExistsError(
                    f"SODMetric: output_dir '{output_dir}' exists and is not "
                    'empty; choose a new folder or set overwrite=True '
                    '(e.g. --cfg-options test_evaluator.overwrite=True)')
            os.makedirs(output_dir, exist_ok=True)

    def _dataset_name(self, sample: dict) -> str:
        name = sample.get('dataset_name')
        if name:
            return str(name)
        path = sample.get('seg_map_path') or sample.get('img_path') or ''
        name = osp.basename(osp.dirname(osp.dirname(osp.abspath(path))))
        name = name or 'default'
        if not self._warned_name:
            self._warned_name = True
            print_log(
                'SODMetric: the data samples carry no `dataset_name`; add '
                "'dataset_name' to PackSegInputs(meta_keys=...). Using the "
                f"folder name '{name}' instead.",
                logger='current',
                level=logging.WARNING)
        return name

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Compute per-image results and write the maps.

        Args:
            data_batch (dict): A batch of data from the dataloader.
            data_samples (Sequence[dict]): Model outputs
                (``SegDataSample`` or their ``to_dict()``) with
                ``seg_logits`` at the original size, ``img_path`` and
                ``seg_map_path``.
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            if 'seg_logits' not in sample:
                raise KeyError('SODMetric needs `seg_logits` in the model '
                               f"output of {sample.get('img_path')}")
            name = self._dataset_name(sample)
            pred = saliency_from_logits(sample['seg_logits']['data'],
                                        self.activation)
            img_path = sample.get('img_path') or ''
            stem = osp.splitext(osp.basename(img_path))[0]
            if self.output_dir:
                if not stem:
                    raise KeyError('SODMetric: saving maps needs `img_path` '
                                   'in the data sample')
                folder = osp.join(self.output_dir, name)
                os.makedirs(folder, exist_ok=True)
                out_file = osp.join(folder, stem + '.png')
                if not cv2.imwrite(out_file, pred):
                    raise OSError(f"SODMetric: cannot write '{out_file}'")
            if self.format_only:
                self.results.append(dict(dataset=name))
                continue
            gt_path = sample.get('seg_map_path')
            if not gt_path:
                raise KeyError(
                    'SODMetric needs `seg_map_path` in the data sample (keep '
                    f"it in PackSegInputs meta_keys) for image '{img_path}'")
            gt = read_sod_mask(gt_path)
            if gt.shape != pred.shape:
                raise ValueError(
                    f"SODMetric: the mask '{gt_path}' is "
                    f'{gt.shape[1]}x{gt.shape[0]} (WxH) but the prediction '
                    f"for '{img_path}' is {pred.shape[1]}x{pred.shape[0]}; "
                    'predictions must be at the original image size')
            stats = _image_stats(pred, gt, self.sod_metrics)
            stats['dataset'] = name
            self.results.append(stats)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Average the per-image results of each data set.

        Args:
            results (list): Per-image results of all processes.

        Returns:
            dict[str, float]: ``'<dataset_name>/<metric>'`` (and the plain
            keys when there is a single data set).
        """
        groups: Dict[str, List[dict]] = OrderedDict()
        for r in results:
            groups.setdefault(r['dataset'], []).append(r)
        if self.format_only:
            for name, items in groups.items():
                print_log(
                    f'SODMetric: {len(items)} saliency maps of {name} '
                    f"written to '{osp.join(self.output_dir, name)}'",
                    logger='current')
            return OrderedDict()
        metrics: Dict[str, float] = OrderedDict()
        per_dataset = OrderedDict()
        for name, items in groups.items():
            values = self._summarise(items)
            per_dataset[name] = values
            for key, value in values.items():
                metrics[f'{name}/{key}'] = value
            table = PrettyTable()
            table.field_names = ['dataset', 'images'] + list(values)
            table.add_row([name, len(items)] +
                          [f'{v:.4f}' for v in values.values()])
            print_log(f'SOD metrics of {name}:\n' + table.get_string(),
                      logger='current')
        if self.output_dir:
            print_log(f"SODMetric: saliency maps written to '"
                      f"{self.output_dir}/<dataset>/'", logger='current')
        if len(per_dataset) == 1:
            metrics.update(next(iter(per_dataset.values())))
        return metrics

    def _summarise(self, items: List[dict]) -> Dict[str, float]:
        out: Dict[str, float] = OrderedDict()
        for family in self.sod_metrics:
            if family == 'Fmeasure' or family == 'Emeasure':
                c = family[0]
                curve = np.mean(
                    np.stack([i[f'{c}_curve'] for i in items]), axis=0)
                out[f'max{c}'] = float(curve.max())
                out[f'mean{c}'] = float(curve.mean())
                out[f'adp{c}'] = float(np.mean([i[f'adp{c}'] for i in items]))
            else:
                key = SOD_METRIC_KEYS[family][0]
                out[key] = float(np.mean([i[key] for i in items]))
        return out
