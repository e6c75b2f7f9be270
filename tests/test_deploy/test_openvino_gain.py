"""OpenVINO runs the deploy form of a gain-100 CSNet (the gain folded into
its weights) with the training form's outputs."""
import pytest
import torch
from conftest import training_form

from csnet_mmseg.deploy import convert_to_deploy
from csnet_mmseg.deploy.openvino_backend import (OpenVINORunner,
                                                 compare_with_openvino,
                                                 openvino_available)
from csnet_mmseg.testing import SMALL_TABLE, TINY_TABLE
from gain_helpers import build_gain_segmentor

if not openvino_available():
    pytest.skip(
        'openvino is not importable (pip install openvino==2026.4.1)',
        allow_module_level=True)


@pytest.mark.parametrize('table,seed', [(TINY_TABLE, 1), (SMALL_TABLE, 2)])
def test_openvino_of_gain_100_equals_training_form(table, seed):
    seg = build_gain_segmentor(table, 100.0, seed=seed)
    runner = OpenVINORunner(
        convert_to_deploy(seg), threads=1, example_shape=(1, 3, 64, 64))
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(2, 3, 75, 61, generator=g),
          torch.randn(1, 3, 33, 97, generator=g)]
    diff, n = compare_with_openvino(lambda x: training_form(seg, x), runner,
                                    xs)
    assert n == 2 and diff <= 1e-4, diff
