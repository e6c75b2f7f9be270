"""Saliency prediction on image files with the official CSNet protocol.

Resize the image to 224x224 (bilinear), normalise with the ImageNet
mean/std (RGB), run the network, take the sigmoid, and resize the
probability map back to the original size (bilinear); 8-bit maps are
``round(255 * p)``. Backends: the PyTorch segmentor (training form or
deploy form), ONNX Runtime and OpenVINO.
"""
import glob
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..datasets.image_io import read_image
from ..deploy.deploy_model import (IMAGENET_MEAN, IMAGENET_STD,
                                   convert_to_deploy)
from .logits import SegmentorLogits

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
TEST_SIZE = (224, 224)


def read_image_rgb(path: str) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB (grey and RGBA converted),
    read with the rule of training and testing
    (:func:`csnet_mmseg.datasets.image_io.read_image`): ``FileNotFoundError``
    or ``OSError`` naming a missing, empty, truncated or corrupt file."""
    return read_image(path, flag='color', channel_order='rgb')


def resize_images(images: Sequence[np.ndarray],
                  size: Tuple[int, int] = TEST_SIZE) -> np.ndarray:
    """``(N, 3, h, w)`` uint8 batch of RGB images resized to ``size`` (h, w)
    with OpenCV's bilinear filter (as MMSeg's ``Resize`` does)."""
    h, w = size
    out = [
        mmcv.imresize(img, (w, h), interpolation='bilinear') for img in images
    ]
    return np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2))


def normalise(batch: np.ndarray,
              mean: Sequence[float] = IMAGENET_MEAN,
              std: Sequence[float] = IMAGENET_STD) -> Tensor:
    """uint8 ``(N, 3, h, w)`` RGB -> float32 tensor ``(x - mean) / std``."""
    x = torch.from_numpy(batch).float()
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x - m) / s


def saliency_to_uint8(prob: Tensor, size: Tuple[int, int]) -> np.ndarray:
    """A probability map ``(h, w)`` / ``(1, h, w)`` resized bilinearly to
    ``size`` (H, W) -> ``(H, W)`` uint8 ``round(255 * p)``."""
    p = prob.float().reshape(1, 1, *prob.shape[-2:])
    if tuple(p.shape[-2:]) != tuple(size):
        p = F.interpolate(
            p, size=tuple(size), mode='bilinear', align_corners=False)
    p = p[0, 0].clamp(0, 1).mul(255).round()
    return p.to(torch.uint8).cpu().numpy()


def overlay_image(img_rgb: np.ndarray,
                  saliency: np.ndarray,
                  alpha: float = 0.5) -> np.ndarray:
    """A BGR picture (for ``cv2.imwrite``): the image blended with the
    saliency map drawn with the JET colour map."""
    heat = cv2.applyColorMap(saliency, cv2.COLORMAP_JET)
    img_bgr = cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR)
    return cv2.addWeighted(img_bgr, 1 - alpha, heat, alpha, 0)


class PyTorchSaliency:
    """Saliency with a PyTorch CSNet segmentor.

    Args:
        config (str): Config file (e.g. ``configs/csnet_l_x1.py``).
        checkpoint (str): Checkpoint file.
        device (str): Torch device. Defaults to 'cpu'.
        deploy (bool): Use :func:`convert_to_deploy`'s fused form instead of
            the segmentor. Defaults to False.
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 device: str = 'cpu',
                 deploy: bool = False) -> None:
        import csnet_mmseg  # noqa: F401  (registers the CSNet modules)
        from .builder import init_segmentor
        for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
            if not osp.isfile(path):
                raise FileNotFoundError(f'{what} file not found: {path}')
        self.segmentor = init_segmentor(config, checkpoint, device=device)
        self.device = device
        # the training form (the reference of every other form) or the
        # fused deploy form, both with the sigmoid
        self.model = convert_to_deploy(
            self.segmentor, with_sigmoid=True) if deploy else SegmentorLogits(
                self.segmentor, sigmoid=True)
        pre = self.segmentor.data_preprocessor
        self.mean = pre.mean.flatten().tolist()
        self.std = pre.std.flatten().tolist()

    @torch.no_grad()
    def __call__(self, batch: np.ndarray) -> Tensor:
        """uint8 RGB ``(N, 3, h, w)`` -> saliency ``(N, 1, h, w)``."""
        x = normalise(batch, self.mean, self.std).to(self.device)
        return self.model(x).cpu()


class OnnxRuntimeSaliency:
    """Saliency with an ONNX model from ``tools/deployment/pytorch2onnx.py``.

    The kind of input (normalised float, RGB 0-255 float, or uint8) is read
    from the model's input type and metadata; a ``'logits'`` output gets
    the sigmoid here.

    Args:
        onnx_file (str): The ``.onnx`` file.
        threads (int, optional): ONNX Runtime ``intra_op_num_threads``.
    """

    def __init__(self, onnx_file: str, threads: Optional[int] = None) -> None:
        from ..deploy.onnx_export import ort_session
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
        self.session = ort_session(onnx_file, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        meta = self.session.get_modelmeta().custom_metadata_map
        self.uint8 = inp.type == 'tensor(uint8)'
        self.raw = self.uint8 or meta.get(
            'input', '').startswith('RGB image, values 0-255')
        self.logits = self.session.get_outputs()[0].name != 'saliency'

    def __call__(self, batch: np.ndarray) -> Tensor:
        """uint8 RGB ``(N, 3, h, w)`` -> saliency ``(N, 1, h, w)``."""
        if self.uint8:
            x = batch
        elif self.raw:
            x = batch.astype(np.float32)
        else:
            x = normalise(batch).numpy()
        out = torch.from_numpy(self.session.run(None, {self.input_name: x})[0])
        return out.sigmoid() if self.logits else out


class OpenVINOSaliency:
    """Saliency with OpenVINO's CPU runtime.

    The model is the deploy ONNX file of ``tools/deployment/pytorch2onnx.py``
    (the kind of input is read from its input type and metadata, as
    :class:`OnnxRuntimeSaliency` does), an OpenVINO IR (``.xml``, e.g. the
    INT8 model of ``tools/deployment/quantize_openvino.py``: normalised
    float input, ``logits`` output), or, given ``config`` and
    ``checkpoint`` instead, the deploy form of that segmentor converted by
    OpenVINO's PyTorch frontend for the protocol's 224x224 input and any
    batch (its upsamplings then run as exact transposed convolutions).

    Args:
        onnx_file (str, optional): The ``.onnx`` (or OpenVINO ``.xml``)
            file.
        config (str, optional): Model config (without ``onnx_file``).
        checkpoint (str, optional): Checkpoint (without ``onnx_file``).
        threads (int, optional): ``INFERENCE_NUM_THREADS``.
        precision (str): ``INFERENCE_PRECISION_HINT``: 'f32' (exact,
            default), 'bf16' or 'f16' (reduced: measure the accuracy).
    """

    def __init__(self,
                 onnx_file: Optional[str] = None,
                 config: Optional[str] = None,
                 checkpoint: Optional[str] = None,
                 threads: Optional[int] = None,
                 precision: str = 'f32') -> None:
        from ..deploy.openvino_backend import OpenVINORunner
        if (onnx_file is None) == (config is None or checkpoint is None):
            raise ValueError('OpenVINOSaliency needs either onnx_file, or '
                             'config and checkpoint')
        self.raw = self.uint8 = False
        if onnx_file is not None and onnx_file.endswith('.xml'):
            if not osp.isfile(onnx_file):
                raise FileNotFoundError(f'OpenVINO IR not found: {onnx_file}')
            self.runner = OpenVINORunner(onnx_file, threads, precision)
            self.uint8 = self.runner.input_type == 'u8'
            self.logits = self.runner.output_name != 'saliency'
            self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD
        elif onnx_file is not None:
            import onnx
            if not osp.isfile(onnx_file):
                raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
            proto = onnx.load(onnx_file, load_external_data=False)
            meta = {p.key: p.value for p in proto.metadata_props}
            self.uint8 = proto.graph.input[0].type.tensor_type.elem_type \
                == onnx.TensorProto.UINT8
            self.raw = self.uint8 or meta.get(
                'input', '').startswith('RGB image, values 0-255')
            self.logits = proto.graph.output[0].name != 'saliency'
            self.runner = OpenVINORunner(onnx_file, threads, precision)
            self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD
        else:
            torch_model = PyTorchSaliency(config, checkpoint, deploy=True)
            self.mean, self.std = torch_model.mean, torch_model.std
            self.logits = False
            # the protocol's fixed size (any batch): the faster graph
            self.runner = OpenVINORunner(
                torch_model.model,
                threads,
                precision,
                example_shape=(1, 3, *TEST_SIZE),
                dynamic='batch')

    def __call__(self, batch: np.ndarray) -> Tensor:
        """uint8 RGB ``(N, 3, h, w)`` -> saliency ``(N, 1, h, w)``."""
        if self.uint8:
            x = batch
        elif self.raw:
            x = batch.astype(np.float32)
        else:
            x = normalise(batch, self.mean, self.std).numpy()
        out = torch.from_numpy(self.runner(x))
        return out.sigmoid() if self.logits else out


def backend_option_error(backend: str,
                         config: Optional[str] = None,
                         checkpoint: Optional[str] = None,
                         deploy: bool = False,
                         onnx_file: Optional[str] = None,
                         ir_file: Optional[str] = None,
                         precision: Optional[str] = None) -> Optional[str]:
    """Why these model options do not fit ``backend`` (the message names
    the ``tools/infer.py`` flags), or None when they do."""
    if ir_file is not None:
        if backend != 'openvino':
            return '--ir is for --backend openvino'
        if not ir_file.endswith('.xml'):
            return f'--ir must be an OpenVINO .xml file, got {ir_file}'
    if backend == 'pytorch':
        if not (config and checkpoint):
            return 'the pytorch backend needs --config and --checkpoint'
        if onnx_file:
            return '--onnx is for --backend onnxruntime'
    elif backend == 'onnxruntime':
        if not onnx_file:
            return 'the onnxruntime backend needs --onnx'
        if config or checkpoint or deploy:
            return ('--config/--checkpoint/--deploy are for the pytorch '
                    'backend')
    else:
        given = bool(config) + bool(checkpoint)
        files = bool(onnx_file) + bool(ir_file)
        if files > 1 or (files and given) or (not files and given != 2):
            return ('the openvino backend needs --onnx, --ir, or --config '
                    'and --checkpoint (the deploy form is converted)')
        if deploy:
            return ('--deploy is for the pytorch backend (openvino always '
                    'runs the deploy form)')
    if precision is not None:
        from ..deploy.openvino_backend import PRECISIONS
        if backend != 'openvino':
            return '--precision is for --backend openvino'
        if precision not in PRECISIONS:
            return (f'--precision must be one of {", ".join(PRECISIONS)}, '
                    f'got {precision!r}')
    return None


def build_predictor(backend: str,
                    config: Optional[str] = None,
                    checkpoint: Optional[str] = None,
                    onnx_file: Optional[str] = None,
                    device: str = 'cpu',
                    deploy: bool = False,
                    threads: Optional[int] = None,
                    precision: str = 'f32'):
    """The saliency predictor of a backend.

    Args:
        backend (str): 'pytorch' (``config`` + ``checkpoint``, ``device``,
            ``deploy``), 'onnxruntime' (``onnx_file``) or 'openvino'
            (``onnx_file``, an ``.onnx`` or ``.xml`` file, or ``config`` +
            ``checkpoint``; ``precision``).
        threads (int, optional): ONNX Runtime / OpenVINO threads.

    Returns:
        PyTorchSaliency | OnnxRuntimeSaliency | OpenVINOSaliency: uint8
        RGB ``(N, 3, h, w)`` -> saliency ``(N, 1, h, w)``.
    """
    if backend == 'pytorch':
        return PyTorchSaliency(config, checkpoint, device, deploy)
    if backend == 'onnxruntime':
        return OnnxRuntimeSaliency(onnx_file, threads)
    if backend == 'openvino':
        return OpenVINOSaliency(
            onnx_file, config, checkpoint, threads=threads,
            precision=precision)
    raise ValueError('backend must be pytorch, onnxruntime or openvino, got '
                     f'{backend!r}')


def collect_images(inputs: Sequence[str]) -> List[str]:
    """Image files from files, folders (their images, sorted) and glob
    patterns, in order, without duplicates."""
    files: List[str] = []
    for item in inputs:
        if osp.isdir(item):
            found = sorted(
                osp.join(item, f) for f in os.listdir(item)
                if f.lower().endswith(IMAGE_EXTENSIONS)
                and osp.isfile(osp.join(item, f)))
            if not found:
                raise FileNotFoundError(f'no images in the folder {item}')
        elif osp.isfile(item):
            found = [item]
        elif any(c in item for c in '*?['):
            found = sorted(
                f for f in glob.glob(item, recursive=True)
                if osp.isfile(f) and f.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise FileNotFoundError(f'no images match {item}')
        else:
            raise FileNotFoundError(f'no such image, folder or pattern: '
                                    f'{item}')
        for f in found:
            if f not in files:
                files.append(f)
    return files
