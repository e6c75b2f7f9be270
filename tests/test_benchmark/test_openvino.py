"""csnet_mmseg.benchmark.openvino without OpenVINO itself (the OpenVINO
tests are tests/test_deploy/test_benchmark_openvino.py)."""
from csnet_mmseg.benchmark import exec_precision


def test_exec_precision():
    assert exec_precision('brgconv_avx512_I8') == 'int8'
    assert exec_precision('jit_avx512_U8') == 'int8'
    assert exec_precision('jit_avx512_FP32') == 'f32'
    assert exec_precision('ref_any') == 'other'
    assert exec_precision('undef') == 'none'
