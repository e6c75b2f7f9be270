"""Every inference form of one segmentor, built once: the training form
(eval, logits resized to the input), the deploy form, ONNX Runtime and
OpenVINO."""
import contextlib
import io
import os
import os.path as osp
import sys
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
from torch import nn

from ..apis.logits import SegmentorLogits

__all__ = ['ALL_FORMS', 'SegmentorForms', 'silenced_fds']

#: The forms of the benchmark: ``train-ftz`` is the training form run with
#: ``torch.set_flush_denormal(True)`` (the caller sets it).
ALL_FORMS = ['train', 'train-ftz', 'deploy', 'ort', 'openvino']


@contextlib.contextmanager
def silenced_fds():
    """Send what is written to the stdout/stderr file descriptors (Python
    and C++ alike) to /dev/null."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [null]:
            os.close(fd)


class SegmentorForms:
    """The callables of one segmentor's forms, each built on first use and
    kept.

    A deployable segmentor (CSNet) has all of :data:`ALL_FORMS`: its deploy
    form (:func:`~csnet_mmseg.deploy.convert_to_deploy`), that form's ONNX
    export with dynamic shapes in ONNX Runtime, and in OpenVINO its export
    for each size with a dynamic batch (the fastest graph; converted from
    the PyTorch module if the export fails). Another segmentor (a peer) has
    ``train``, ``ort`` (exported at each size, batch 1) and ``openvino``
    (converted by OpenVINO's PyTorch frontend at each input shape).

    Args:
        segmentor (nn.Module): The segmentor (eval mode).
        tmpdir (str): Folder for the ONNX files.
        deployable (bool): Whether ``convert_to_deploy`` applies.
        name (str): Name of the ONNX files. Defaults to 'model'.
        denormals_as_zero (bool): OpenVINO flushes subnormal floats (see
            :func:`~csnet_mmseg.deploy.openvino_backend.compile_openvino`).
            Defaults to False.
    """

    def __init__(self,
                 segmentor: nn.Module,
                 tmpdir: str,
                 deployable: bool = True,
                 name: str = 'model',
                 denormals_as_zero: bool = False) -> None:
        self.segmentor = segmentor
        self.tmpdir = tmpdir
        self.deployable = deployable
        self.name = name
        self.denormals_as_zero = denormals_as_zero
        self.train = SegmentorLogits(segmentor).eval()
        self.deploy = None
        if deployable:
            from ..deploy import convert_to_deploy
            self.deploy = convert_to_deploy(segmentor)
        self.onnx_files: Dict = {}  # key -> path or the export's exception
        self.sessions: Dict = {}
        self.ov_runners: Dict = {}

    def available(self, forms: Sequence[str] = ALL_FORMS) -> List[str]:
        """The ones of ``forms`` this segmentor has, in order."""
        return [
            f for f in forms
            if self.deployable or f not in ('train-ftz', 'deploy')
        ]

    def onnx_file(self, size: int, fixed: bool = False):
        """A deployable segmentor: its dynamic-shape ONNX file, or with
        ``fixed`` the one for ``size`` (dynamic batch); a peer: its file for
        ``size``. The exception of a failed export is returned (and kept)
        instead of a path."""
        key = ('fixed', size) if fixed else None if self.deployable else size
        if key not in self.onnx_files:
            tag = f'fixed{size}' if fixed else key
            path = osp.join(self.tmpdir, f'{self.name}_{tag}.onnx')
            try:
                # the TorchScript exporter prints the whole graph (from
                # C++) when it fails: keep it out of the report
                with silenced_fds():
                    self._export(path, size, fixed)
                self.onnx_files[key] = path
            except Exception as e:  # noqa: BLE001  (the caller reports it)
                self.onnx_files[key] = e
        return self.onnx_files[key]

    def _export(self, path: str, size: int, fixed: bool) -> None:
        if self.deployable:
            from ..deploy.onnx_export import export_onnx
            export_onnx(
                self.deploy, path, shape=(size, size), dynamic_size=not fixed)
            return
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(
                self.train, (torch.randn(1, 3, size, size), ),
                path,
                dynamo=False,
                opset_version=17,
                input_names=['input'],
                output_names=['logits'])

    def session(self, size: int, threads: int):
        """The ONNX Runtime session of :meth:`onnx_file` (per thread
        count)."""
        path = self.onnx_file(size)
        if isinstance(path, Exception):
            raise path
        key = (path, threads)
        if key not in self.sessions:
            from ..deploy.onnx_export import ort_session
            self.sessions[key] = ort_session(path, threads)
        return self.sessions[key]

    def openvino(self, shape: Sequence[int], threads: int):
        """An OpenVINO runner (f32) for inputs of ``shape`` (N, C, H, W)."""
        from ..deploy.openvino_backend import OpenVINORunner
        key = (shape[-1] if self.deployable else tuple(shape), threads)
        if key not in self.ov_runners:
            model: Union[str, nn.Module] = self.train
            if self.deployable:
                path = self.onnx_file(shape[-1], fixed=True)
                model = self.deploy if isinstance(path, Exception) else path
            with silenced_fds(), warnings.catch_warnings():
                warnings.simplefilter('ignore')
                self.ov_runners[key] = OpenVINORunner(
                    model,
                    threads=threads,
                    precision='f32',
                    example_shape=tuple(shape),
                    dynamic=self.deployable,
                    denormals_as_zero=self.denormals_as_zero)
        return self.ov_runners[key]

    def callable(self,
                 form: str,
                 size: int,
                 threads: int,
                 batch: int = 1) -> Callable:
        """``x -> output`` of one form (a tensor for the PyTorch forms, a
        NumPy array otherwise) for ``(batch, 3, size, size)`` inputs."""
        if form in ('train', 'train-ftz'):
            return lambda x: self.train(x)
        if form == 'deploy':
            if self.deploy is None:
                raise ValueError('this segmentor has no deploy form')
            return lambda x: self.deploy(x)
        if form == 'openvino':
            return self.openvino((batch, 3, size, size), threads)
        if form != 'ort':
            raise ValueError(f'form must be one of {ALL_FORMS}, got '
                             f'{form!r}')
        if not self.deployable and batch != 1:
            raise RuntimeError('peers are exported to ONNX at batch 1 only')
        sess = self.session(size, threads)
        name = sess.get_inputs()[0].name
        return lambda x: sess.run(None, {name: x.numpy()})[0]

    def max_diffs(self, size: int,
                  forms: Optional[Sequence[str]] = None) -> Dict[str, float]:
        """max |form - train| on one seeded random input at ``size`` for
        ``deploy``, ``ort`` and ``openvino`` (those of ``forms``; a form
        that fails is left out)."""
        import numpy as np
        forms = self.available(forms or ALL_FORMS)
        out = {}
        x = torch.randn(
            1, 3, size, size, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            ref = self.train(x)
            if self.deploy is not None:
                out['deploy'] = (self.deploy(x) - ref).abs().max().item()
            for form in ('ort', 'openvino'):
                if form not in forms:
                    continue
                try:
                    fn = self.callable(form, size, 1)
                    out[form] = float(np.abs(fn(x) - ref.numpy()).max())
                except Exception:  # noqa: BLE001  (reported elsewhere)
                    pass
        return out
