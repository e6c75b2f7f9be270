"""OpenVINO CPU runtime for the deploy-time CSNet (and for any traceable
PyTorch model, e.g. the benchmark's peers).

The model comes either from the exported deploy ONNX file
(:func:`csnet_mmseg.deploy.onnx_export.export_onnx`) or directly from a
PyTorch module through OpenVINO's PyTorch frontend. It is compiled for the
CPU with a thread count and a precision hint; the default precision is the
exact ``'f32'`` (OpenVINO's own default on CPUs with AMX/AVX512-BF16 is bf16,
which moves CSNet's logits by about 0.3: a reduced precision is used only
when asked for, and must be measured for accuracy).
"""
import contextlib
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import MMLogger
from torch import Tensor, nn

__all__ = [
    'PRECISIONS', 'openvino_available', 'convert_to_openvino',
    'compile_openvino', 'OpenVINORunner', 'compare_with_openvino'
]

#: Precision hints accepted by :func:`compile_openvino` (the values of
#: OpenVINO's ``INFERENCE_PRECISION_HINT``). 'f32' is exact.
PRECISIONS = ('f32', 'bf16', 'f16')


def openvino_available() -> bool:
    """Whether the ``openvino`` package can be imported."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def _import_openvino():
    try:
        import openvino as ov
    except ImportError as e:
        raise ImportError(
            'the OpenVINO backend needs the openvino package: '
            'pip install openvino==2026.4.1') from e
    return ov


def convert_to_openvino(model: Union[str, nn.Module],
                        example_shape: Sequence[int] = (1, 3, 224, 224),
                        dynamic: Union[bool, str] = True):
    """An OpenVINO model (``openvino.Model``) from an ONNX file or a PyTorch
    module.

    Args:
        model (str | nn.Module): An ``.onnx`` file (e.g. the deploy ONNX
            export, which has a dynamic batch and image size), or a module
            taking one ``(N, 3, H, W)`` float tensor (a
            :class:`DeployCSNet` or a peer network), converted through
            OpenVINO's PyTorch frontend.
        example_shape (Sequence[int]): ``(N, C, H, W)`` of the example input
            used to trace a module. Defaults to (1, 3, 224, 224).
        dynamic (bool | str): For a module: True leaves batch, height and
            width dynamic (``[-1, C, -1, -1]``); ``'batch'`` only the batch
            (``[-1, C, H, W]``); False fixes the model to ``example_shape``.
            With a fixed size the deploy form's integer-factor upsamplings
            are traced in their faster exact form (see
            :func:`~csnet_mmseg.deploy.ops.static_size_export`).
            Defaults to True.

    Returns:
        openvino.Model: The converted model (not yet compiled).
    """
    ov = _import_openvino()
    if isinstance(model, str):
        if not osp.isfile(model):
            raise FileNotFoundError(f'ONNX file not found: {model}')
        return ov.convert_model(model)
    if not isinstance(model, nn.Module):
        raise TypeError('convert_to_openvino needs an .onnx path or an '
                        f'nn.Module, got {type(model).__name__}')
    if len(example_shape) != 4:
        raise ValueError(f'example_shape must be (N, C, H, W), got '
                         f'{tuple(example_shape)}')
    model = model.eval()
    example = torch.randn(*[int(v) for v in example_shape],
                          generator=torch.Generator().manual_seed(0))
    try:
        param = next(model.parameters())
        example = example.to(param.device)
    except StopIteration:
        pass
    if dynamic not in (True, False, 'batch'):
        raise ValueError(f"dynamic must be True, False or 'batch', got "
                         f'{dynamic!r}')
    shape = [int(v) for v in example_shape]
    if dynamic is True:
        shape = [-1, shape[1], -1, -1]
    elif dynamic == 'batch':
        shape[0] = -1
    from .ops import static_size_export
    static = contextlib.nullcontext() if dynamic is True else \
        static_size_export()
    with torch.no_grad(), static:
        return ov.convert_model(
            model, example_input=example, input=[(shape, ov.Type.f32)])


def compile_openvino(ov_model,
                     threads: Optional[int] = None,
                     precision: str = 'f32',
                     profile: bool = False,
                     denormals_as_zero: bool = False):
    """Compile an OpenVINO model for the CPU.

    ``denormals_as_zero=True`` flushes subnormal floats (|v| < 1.18e-38) to
    zero (``CPU_DENORMALS_OPTIMIZATION``): weights that weight decay drove close
    to zero make products in that range, which the CPU computes slowly. A
    CSNet trained 1,200 iterations with L2 5e-3 ran 10-25x slower without
    it (experiments/dwd/README.md); the outputs change by less than 1e-37.
    It is off by default because it sets the calling thread's flush-to-zero
    flags, which stay set and change later PyTorch results in that thread.

    Args:
        ov_model (openvino.Model | str): A model from
            :func:`convert_to_openvino`, or an ``.onnx`` / ``.xml`` file.
        threads (int, optional): ``INFERENCE_NUM_THREADS``; None lets
            OpenVINO choose. Defaults to None.
        precision (str): ``INFERENCE_PRECISION_HINT``, one of
            :data:`PRECISIONS`. Defaults to 'f32' (exact).
        profile (bool): Collect per-layer timings (``PERF_COUNT``; read them
            with ``request.get_profiling_info()``). Defaults to False.
        denormals_as_zero (bool): Flush subnormal floats to zero.
            Defaults to False.

    Returns:
        openvino.CompiledModel: Latency-mode CPU model.
    """
    ov = _import_openvino()
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got '
                         f'{precision!r}')
    if threads is not None and int(threads) < 1:
        raise ValueError(f'threads must be >= 1, got {threads}')
    config = {
        'INFERENCE_PRECISION_HINT': precision,
        'PERFORMANCE_HINT': 'LATENCY',
        'CPU_DENORMALS_OPTIMIZATION': bool(denormals_as_zero),
    }
    if threads is not None:
        config['INFERENCE_NUM_THREADS'] = int(threads)
    if profile:
        config['PERF_COUNT'] = True
    core = ov.Core()
    if isinstance(ov_model, str):
        if not osp.isfile(ov_model):
            raise FileNotFoundError(f'model file not found: {ov_model}')
        ov_model = core.read_model(ov_model)
    compiled = core.compile_model(ov_model, 'CPU', config)
    MMLogger.get_current_instance().debug(
        f'OpenVINO CPU model compiled: threads={threads}, '
        f'precision={precision}, denormals_as_zero={denormals_as_zero}')
    return compiled


class OpenVINORunner:
    """Runs a compiled OpenVINO model on NumPy arrays or tensors.

    Args:
        model (str | nn.Module | openvino.Model): An ``.onnx`` file, a
            PyTorch module (see :func:`convert_to_openvino`) or a converted
            model.
        threads (int, optional): CPU threads. Defaults to None.
        precision (str): Precision hint. Defaults to 'f32'.
        example_shape (Sequence[int]): Tracing shape for a module.
            Defaults to (1, 3, 224, 224).
        profile (bool): Collect per-node counters (read them with
            :func:`csnet_mmseg.benchmark.profile_nodes`). Defaults to False.
        dynamic (bool | str): For a module: dynamic batch and image size
            (True), dynamic batch only (``'batch'``), or fixed to
            ``example_shape`` (False). Defaults to True.
        denormals_as_zero (bool): See :func:`compile_openvino`.
            Defaults to False.
    """

    def __init__(self,
                 model,
                 threads: Optional[int] = None,
                 precision: str = 'f32',
                 example_shape: Sequence[int] = (1, 3, 224, 224),
                 profile: bool = False,
                 dynamic: Union[bool, str] = True,
                 denormals_as_zero: bool = False) -> None:
        ov = _import_openvino()
        if isinstance(model, (str, nn.Module)):
            if isinstance(model, str) and not osp.isfile(model):
                raise FileNotFoundError(f'model file not found: {model}')
            model = convert_to_openvino(model, example_shape, dynamic) \
                if isinstance(model, nn.Module) or model.endswith('.onnx') \
                else ov.Core().read_model(model)
        self.ov_model = model
        self.threads = threads
        self.precision = precision
        self.compiled = compile_openvino(model, threads, precision, profile,
                                         denormals_as_zero)
        self.request = self.compiled.create_infer_request()
        self.input = self.compiled.input(0)
        self.output = self.compiled.output(0)
        self.input_type = self.input.get_element_type().get_type_name()

    @property
    def output_name(self) -> str:
        """The model's output name (``'saliency'``, ``'logits'`` or what
        the frontend chose)."""
        names = self.output.get_names()
        return sorted(names)[0] if names else ''

    def __call__(self, x: Union[np.ndarray, Tensor]) -> np.ndarray:
        """Run one batch; returns the first output as a NumPy array (a copy,
        safe to keep across calls)."""
        if isinstance(x, Tensor):
            x = x.detach().cpu().numpy()
        x = np.ascontiguousarray(x)
        self.request.infer({0: x})
        return self.request.get_output_tensor(0).data.copy()


def compare_with_openvino(reference,
                          runner: OpenVINORunner,
                          inputs: Sequence[Tensor]) -> Tuple[float, int]:
    """Largest absolute difference between a PyTorch callable and an
    OpenVINO runner.

    Args:
        reference (callable): ``Tensor -> Tensor`` (e.g. the deploy model or
            the training form).
        runner (OpenVINORunner): The OpenVINO model.
        inputs (Sequence[Tensor]): Input batches (any sizes).

    Returns:
        tuple[float, int]: The max abs difference and the number of inputs.
    """
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            ref = reference(x).cpu().numpy()
            got = runner(x)
            if got.shape != ref.shape:
                raise AssertionError(
                    f'OpenVINO output {got.shape} != PyTorch {ref.shape}')
            worst = max(worst, float(np.abs(got - ref).max()))
    return worst, len(inputs)
