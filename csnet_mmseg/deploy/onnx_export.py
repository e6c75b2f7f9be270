"""ONNX export of the deploy-time CSNet and its check with ONNX Runtime."""
import contextlib
import io
import os
import os.path as osp
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .deploy_model import DeployCSNet
from .ops import static_size_export

INPUT_NAME = 'input'


def output_name(model: DeployCSNet) -> str:
    """``'saliency'`` for a model with sigmoid, else ``'logits'``."""
    return 'saliency' if model.with_sigmoid else 'logits'


def export_onnx(model: DeployCSNet,
                out_file: str,
                shape: Sequence[int] = (224, 224),
                opset: int = 17,
                input_dtype: torch.dtype = torch.float32,
                overwrite: bool = False,
                dynamic_size: bool = True) -> Dict[str, str]:
    """Export a :class:`DeployCSNet` to ONNX with dynamic batch, height and
    width (or only a dynamic batch, ``dynamic_size=False``).

    The graph is traced (TorchScript-based exporter) at ``shape`` with batch
    1; every size in it is computed from the input's shape, so any batch and
    image size runs. The input is named ``'input'`` and is ``(N, 3, H, W)``;
    the output (``'saliency'`` in [0, 1] with ``with_sigmoid``, else
    ``'logits'``) is ``(N, 1, H, W)``. The meaning of the input (normalised,
    or RGB 0-255 with the normalisation in the graph) is written into the
    model's metadata (``metadata_props``).

    Args:
        model (DeployCSNet): The model (see :func:`convert_to_deploy`).
        out_file (str): Output ``.onnx`` path.
        shape (Sequence[int]): ``(H, W)`` used for tracing.
            Defaults to (224, 224).
        opset (int): ONNX opset, >= 13. Defaults to 17.
        input_dtype (torch.dtype): Input element type: float32, or uint8
            (only with ``with_preprocess``). Defaults to float32.
        overwrite (bool): Replace an existing ``out_file``.
            Defaults to False.
        dynamic_size (bool): Dynamic height and width. False fixes them to
            ``shape``: the bilinear upsamplings by an integer factor then
            become exact transposed depthwise convolutions
            (:func:`~csnet_mmseg.deploy.ops.upsample_by`), which OpenVINO
            runs faster than a resize. Defaults to True.

    Returns:
        dict: The metadata written into the model.
    """
    import onnx
    if not isinstance(model, DeployCSNet):
        raise TypeError('export_onnx needs a DeployCSNet (convert_to_deploy), '
                        f'got {type(model).__name__}')
    if opset < 13:
        raise ValueError(f'opset must be >= 13, got {opset}')
    if input_dtype not in (torch.float32, torch.uint8):
        raise ValueError(f'input_dtype must be float32 or uint8, got '
                         f'{input_dtype}')
    if input_dtype == torch.uint8 and not model.with_preprocess:
        raise ValueError('a uint8 input needs the normalisation in the graph '
                         '(with_preprocess=True)')
    if osp.exists(out_file) and not overwrite:
        raise FileExistsError(
            f'{out_file} exists; pass overwrite=True (--overwrite) to '
            'replace it')
    h, w = int(shape[0]), int(shape[1])
    if input_dtype == torch.uint8:
        dummy = torch.randint(0, 256, (1, 3, h, w), dtype=torch.uint8)
    elif model.with_preprocess:
        dummy = torch.rand(1, 3, h, w) * 255
    else:
        dummy = torch.randn(1, 3, h, w)
    dummy = dummy.to(model.mean.device)
    out_name = output_name(model)
    axes = {0: 'batch', 2: 'height', 3: 'width'} if dynamic_size else {
        0: 'batch'
    }
    buf = io.BytesIO()
    model.eval()
    static = contextlib.nullcontext() if dynamic_size else \
        static_size_export()
    with torch.no_grad(), warnings.catch_warnings(), static:
        # the TorchScript-based exporter is deprecated in favour of the
        # dynamo one (which needs onnxscript); the trace is checked below
        warnings.simplefilter('ignore')
        torch.onnx.export(
            model, (dummy, ),
            buf,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[out_name],
            dynamic_axes={
                INPUT_NAME: axes,
                out_name: axes
            },
            do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    if model.with_preprocess:
        desc = ('RGB image, values 0-255 ({}), NCHW; normalised in the graph '
                'with mean {} and std {}').format(
                    'uint8' if input_dtype == torch.uint8 else 'float32',
                    _fmt(model.mean), _fmt(1.0 / model.inv_std))
    else:
        desc = ('RGB image x (0-255) normalised with ImageNet mean/std: '
                '(x - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375], '
                'float32, NCHW')
    meta = {
        'model':
        'CSNet (csnet-mmseg deploy form)',
        'input':
        desc,
        'output': ('saliency in [0, 1]' if model.with_sigmoid else
                   'logits (sigmoid gives saliency)') +
        ', (N, 1, H, W) at the input size',
        'protocol':
        'resize the image to 224x224 (bilinear), run, resize '
        'the saliency map back to the original size (bilinear)',
    }
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    dirname = osp.dirname(osp.abspath(out_file))
    os.makedirs(dirname, exist_ok=True)
    onnx.save(proto, out_file)
    return meta


def _fmt(t: Tensor) -> str:
    return '[' + ', '.join(f'{v:.3f}' for v in t.flatten().tolist()) + ']'


def verification_inputs(path: str,
                        max_images: int,
                        with_preprocess: bool,
                        dtype: torch.dtype,
                        fixed_shape: Optional[Sequence[int]] = None
                        ) -> Tuple[List[str], List[Tensor]]:
    """Inputs to compare an exported model with PyTorch on real images.

    Single images at 224x224 and the first two at 336x288 (a fixed-size
    model: all at ``fixed_shape``), then the first one as a batch of 2.

    Args:
        path (str): An image or a folder of images.
        max_images (int): At most this many images.
        with_preprocess (bool): The model normalises in its graph: the
            inputs are RGB 0-255 (else normalised with the ImageNet
            mean/std).
        dtype (torch.dtype): With ``with_preprocess``: uint8 or float32.
        fixed_shape (Sequence[int], optional): ``(H, W)`` of a fixed-size
            model.

    Returns:
        tuple[list[str], list[Tensor]]: The image files and the batches.
    """
    from ..apis.inference import (collect_images, normalise, read_image_rgb,
                                  resize_images)
    files = collect_images([path])[:max_images]
    if fixed_shape is not None:
        sizes = [tuple(fixed_shape)]
    else:
        sizes = [(224, 224), (336, 288)]
    groups = [
        resize_images([read_image_rgb(f) for f in files], sizes[0])
    ] + [
        resize_images([read_image_rgb(f) for f in files[:2]], s)
        for s in sizes[1:]
    ]
    batches = []
    for b in groups:
        t = torch.from_numpy(b)
        if not with_preprocess:
            t = normalise(b)
        elif dtype == torch.float32:
            t = t.float()
        batches.extend(t[i:i + 1] for i in range(len(t)))
    batches.append(batches[0].expand(2, -1, -1, -1).contiguous())  # batch 2
    return files, batches


def ort_session(onnx_file: str,
                threads: Optional[int] = None,
                denormals_as_zero: bool = False):
    """An ONNX Runtime CPU session; ``threads`` sets ``intra_op_num_threads``
    (and one inter-op thread). ``denormals_as_zero=True`` flushes
    subnormal floats to zero (``session.set_denormal_as_zero``), as
    :func:`~csnet_mmseg.deploy.openvino_backend.compile_openvino` does:
    a CSNet whose weights decay drove towards zero otherwise runs several
    times slower. Off by default: it sets the calling thread's
    flush-to-zero flags, which stay set for later PyTorch work there."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if denormals_as_zero:
        opts.add_session_config_entry('session.set_denormal_as_zero', '1')
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(
        onnx_file, opts, providers=['CPUExecutionProvider'])


def compare_with_onnxruntime(model: DeployCSNet,
                             onnx_file: str,
                             inputs: Sequence[Tensor],
                             session=None) -> Tuple[float, int]:
    """Largest absolute difference between ``model`` and the ONNX model.

    Args:
        model (DeployCSNet): The PyTorch reference.
        onnx_file (str): The exported model.
        inputs (Sequence[Tensor]): Input batches (any sizes).
        session (optional): An existing ONNX Runtime session.

    Returns:
        tuple[float, int]: The max abs difference over all inputs and the
        number of inputs compared.
    """
    sess = session or ort_session(onnx_file)
    name = sess.get_inputs()[0].name
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            ref = model(x).cpu().numpy()
            got = sess.run(None, {name: x.cpu().numpy()})[0]
            if got.shape != ref.shape:
                raise AssertionError(
                    f'ONNX Runtime output {got.shape} != PyTorch {ref.shape}')
            worst = max(worst, float(np.abs(got - ref).max()))
    return worst, len(inputs)
