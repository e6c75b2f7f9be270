"""OpenVINO for measurements: the deploy form exported through ONNX,
compiled for one input shape, and profiled per node (``PERF_COUNT``)."""
import os.path as osp
import tempfile
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

__all__ = [
    'NodeTime', 'export_openvino', 'compile_for_shape', 'profile_nodes',
    'exec_precision', 'node_type_times', 'node_precision_table'
]


@dataclass
class NodeTime:
    """One node of a profiled OpenVINO model.

    Args:
        name (str): Node name.
        node_type (str): Node type (e.g. Convolution, GroupConvolution).
        exec_type (str): Kernel that ran it (e.g. ``jit_avx512_FP32``).
        executed (bool): Whether its status was EXECUTED.
        ms (float): Its real time, mean over the profiled runs.
        count (int): How many nodes of this name one run reports.
    """

    name: str
    node_type: str
    exec_type: str
    executed: bool
    ms: float
    count: int = 1


def export_openvino(model,
                    size: Optional[Union[int, Sequence[int]]] = None,
                    fixed: bool = False,
                    onnx_file: Optional[str] = None):
    """The OpenVINO model of a :class:`DeployCSNet` through its ONNX export
    (:func:`~csnet_mmseg.deploy.onnx_export.export_onnx`).

    Args:
        model (DeployCSNet): The deploy form.
        size (int | Sequence[int], optional): Tracing size (square int or
            ``(H, W)``); None: 224x224. Defaults to None.
        fixed (bool): Export for ``size`` with a dynamic batch only (exact
            transposed-convolution upsampling: OpenVINO's fastest graph);
            False: dynamic batch, height and width. Defaults to False.
        onnx_file (str, optional): Keep the ONNX file here (replaced if it
            exists); None: a temporary file. Defaults to None.

    Returns:
        openvino.Model: The converted model (not compiled).
    """
    from ..deploy.onnx_export import export_onnx
    from ..deploy.openvino_backend import convert_to_openvino
    if size is None:
        size = 224
    shape = (size, size) if isinstance(size, int) else tuple(size)

    def export(path: str):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            export_onnx(
                model, path, shape=shape, dynamic_size=not fixed,
                overwrite=True)
        return convert_to_openvino(path)

    if onnx_file is not None:
        return export(onnx_file)
    with tempfile.TemporaryDirectory() as tmp:
        return export(osp.join(tmp, 'deploy.onnx'))


def compile_for_shape(ov_model,
                      shape: Optional[Sequence[int]] = None,
                      threads: Optional[int] = None,
                      precision: str = 'f32',
                      profile: bool = False):
    """Compile an OpenVINO model for the CPU, reshaped to ``shape``.

    Args:
        ov_model (openvino.Model): The model (left unchanged: a copy is
            reshaped).
        shape (Sequence[int], optional): ``(N, C, H, W)``; None compiles
            the model's own (e.g. dynamic) shape. Defaults to None.
        threads (int, optional): ``INFERENCE_NUM_THREADS``. Defaults to
            None.
        precision (str): Precision hint ('f32' is exact; int8 nodes of a
            quantised model stay int8). Defaults to 'f32'.
        profile (bool): Collect per-node counters. Defaults to False.

    Returns:
        openvino.CompiledModel: The compiled model.
    """
    from ..deploy.openvino_backend import compile_openvino
    if shape is not None:
        ov_model = ov_model.clone()
        ov_model.reshape([int(v) for v in shape])
    return compile_openvino(ov_model, threads, precision, profile)


def exec_precision(exec_type: str) -> str:
    """'int8' / 'f32' / 'other' / 'none' from an OpenVINO exec type such as
    ``brgconv_avx512_I8`` or ``jit_avx512_FP32``."""
    tail = exec_type.rsplit('_', 1)[-1].upper()
    if tail in ('I8', 'U8'):
        return 'int8'
    if tail in ('FP32', 'F32'):
        return 'f32'
    return 'other' if exec_type not in ('undef', 'unknown_FP32') else 'none'


def profile_nodes(request, x: np.ndarray, runs: int = 10,
                  warmup: int = 0) -> List[NodeTime]:
    """Per-node real times of a model compiled with ``profile=True``.

    Args:
        request (openvino.InferRequest | OpenVINORunner): The request (or
            a runner built with ``profile=True``: its request is used).
        x (np.ndarray): The input.
        runs (int): Profiled runs (the times are their mean). Defaults
            to 10.
        warmup (int): Unprofiled runs first. Defaults to 0.

    Returns:
        list[NodeTime]: One entry per node name, in the order of the first
        profiled run.
    """
    request = getattr(request, 'request', request)
    if runs < 1:
        raise ValueError(f'runs must be >= 1, got {runs}')
    if not _perf_count_on(request):
        raise RuntimeError('OpenVINO collects no per-node counters for this '
                           'model: compile it with profile=True')
    for _ in range(warmup):
        request.infer({0: x})
    nodes: Dict[str, NodeTime] = {}
    for k in range(runs):
        request.infer({0: x})
        for p in request.get_profiling_info():
            ms = p.real_time.total_seconds() * 1e3 / runs
            node = nodes.get(p.node_name)
            if node is None:
                node = nodes[p.node_name] = NodeTime(
                    p.node_name, p.node_type, p.exec_type,
                    p.status.name == 'EXECUTED', 0.0, 0)
            if k == 0:
                node.count += 1
            node.ms += ms
    return list(nodes.values())


def _perf_count_on(request) -> bool:
    try:
        value = request.get_compiled_model().get_property('PERF_COUNT')
    except (AttributeError, RuntimeError):  # cannot tell: try anyway
        return True
    return str(value).upper() not in ('NO', 'FALSE', '0')


def node_type_times(nodes: Sequence[NodeTime],
                    executed_only: bool = False) -> Dict[str, float]:
    """Node type -> summed mean time (ms)."""
    out: Dict[str, float] = defaultdict(float)
    for n in nodes:
        if n.executed or not executed_only:
            out[n.node_type] += n.ms
    return dict(out)


def node_precision_table(
        nodes: Sequence[NodeTime]) -> Dict[str, Dict[str, list]]:
    """Node type -> {execution precision: [count, ms]} over the executed
    nodes."""
    table: Dict[str, Dict[str, list]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0.0]))
    for n in nodes:
        if not n.executed:
            continue
        cell = table[n.node_type][exec_precision(n.exec_type)]
        cell[0] += n.count
        cell[1] += n.ms
    return {k: dict(v) for k, v in table.items()}
