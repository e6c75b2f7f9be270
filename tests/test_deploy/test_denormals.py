"""Both CPU backends flush subnormal floats to zero when asked: weights that
decay drove towards zero make products below 1.18e-38, which the CPU
computes many times slower (a DUTS-TR-trained CSNet ran 10-25x slower)."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from csnet_mmseg.deploy.onnx_export import ort_session

TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32


class Shrink(nn.Module):
    """A 3x3 conv with weights 1e-20: for inputs 1e-20 every product is
    1e-40, a subnormal made of two normal numbers."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        nn.init.constant_(self.conv.weight, 1e-20)

    def forward(self, x):
        return self.conv(x)


@pytest.fixture(scope='module')
def onnx_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('denormal') / 'shrink.onnx')
    torch.onnx.export(Shrink().eval(), (torch.ones(1, 1, 4, 4), ), path,
                      dynamo=False, opset_version=17, input_names=['input'],
                      output_names=['out'])
    return path


X = np.full((1, 1, 4, 4), 1e-20, np.float32)


def test_reference_is_subnormal():
    with torch.no_grad():
        y = Shrink()(torch.from_numpy(X)).numpy()
    assert 0 < y.min() and y.max() < TINY


def run_fresh(code: str, onnx_file: str) -> tuple:
    """min and max of the output of ``code`` (which sets ``out``) in a new
    process: flushing sets the calling thread's FTZ/DAZ flags, which stay
    set for the rest of a process, so each setting gets a clean one."""
    prog = ('import sys, numpy as np\n'
            'X = np.full((1, 1, 4, 4), 1e-20, np.float32)\n'
            f'path = {onnx_file!r}\n' + code +
            '\nprint(float(out.min()), float(out.max()))\n')
    res = subprocess.run([sys.executable, '-c', prog], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    lo, hi = res.stdout.strip().splitlines()[-1].split()
    return float(lo), float(hi)


ORT = """
from csnet_mmseg.deploy.onnx_export import ort_session
out = ort_session(path, threads=1, {arg}).run(None, {{'input': X}})[0]
"""

OV = """
from csnet_mmseg.deploy.openvino_backend import compile_openvino
c = compile_openvino(path, threads=1, {arg})
assert c.get_property('CPU_DENORMALS_OPTIMIZATION') is {flag}
out = c.create_infer_request().infer({{0: X}})[c.output(0)]
"""


def test_onnxruntime_flushes_when_asked(onnx_file):
    assert run_fresh(ORT.format(arg='denormals_as_zero=True'),
                     onnx_file) == (0.0, 0.0)
    lo, hi = run_fresh(ORT.format(arg=''), onnx_file)
    assert 0 < lo and hi < TINY


def test_openvino_flushes_when_asked(onnx_file):
    pytest.importorskip('openvino')
    assert run_fresh(OV.format(arg='denormals_as_zero=True', flag=True),
                     onnx_file) == (0.0, 0.0)
    lo, hi = run_fresh(OV.format(arg='', flag=False), onnx_file)
    assert 0 < lo and hi < TINY
