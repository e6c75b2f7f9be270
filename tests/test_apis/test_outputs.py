"""csnet_mmseg.apis.outputs and the option check of the inference backends:
where the maps go, never over an input, failures reported per image."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from csnet_mmseg.apis.inference import backend_option_error
from csnet_mmseg.apis.outputs import (check_inputs_kept, plan_outputs,
                                      write_saliency_maps)


def test_plan_and_clashes(tmp_path):
    plan = plan_outputs(['x/a.jpg', 'y/b.png'], 'out', overlay=True)
    assert plan == [('x/a.jpg', osp.join('out', 'a.png'),
                     osp.join('out', 'overlay', 'a.jpg')),
                    ('y/b.png', osp.join('out', 'b.png'),
                     osp.join('out', 'overlay', 'b.jpg'))]
    assert plan_outputs(['a.jpg'], 'o', False)[0][2] is None
    with pytest.raises(ValueError, match='same name stem'):
        plan_outputs(['x/a.jpg', 'y/a.png'], 'out', False)
    img = tmp_path / 'c.png'
    img.write_bytes(b'')
    with pytest.raises(ValueError, match='would replace the input'):
        check_inputs_kept(plan_outputs([str(img)], str(tmp_path), False))
    check_inputs_kept(plan_outputs([str(img)], str(tmp_path / 'o'), False))


def test_write_reports_each_image(tmp_path):
    good = tmp_path / 'a.jpg'
    cv2.imwrite(str(good), np.full((30, 20, 3), 200, np.uint8))
    (tmp_path / 'bad.jpg').write_bytes(b'')
    out = tmp_path / 'out'
    out.mkdir()
    plan = plan_outputs([str(good), str(tmp_path / 'bad.jpg')], str(out),
                        overlay=False)

    def predict(batch):  # uint8 (N, 3, 224, 224) -> saliency 1
        assert batch.shape[1:] == (3, 224, 224) and batch.dtype == np.uint8
        return torch.ones(len(batch), 1, 224, 224)

    events = list(write_saliency_maps(predict, plan, batch_size=2))
    assert events[0][0].endswith('bad.jpg') and 'empty' in events[0][1]
    assert events[1] == (str(good), None)
    sal = cv2.imread(str(out / 'a.png'), cv2.IMREAD_UNCHANGED)
    assert sal.shape == (30, 20) and (sal == 255).all()


def test_backend_option_errors():
    ok = dict(config='c.py', checkpoint='c.pth')
    assert backend_option_error('pytorch', **ok) is None
    assert backend_option_error('onnxruntime', onnx_file='m.onnx') is None
    assert backend_option_error('openvino', ir_file='m.xml') is None
    assert backend_option_error('openvino', precision='bf16', **ok) is None
    cases = [
        (('pytorch', ), {}, 'needs --config and --checkpoint'),
        (('onnxruntime', ), dict(onnx_file='m.onnx', **ok),
         '--config/--checkpoint/--deploy'),
        (('onnxruntime', ), {}, 'needs --onnx'),
        (('openvino', ), dict(onnx_file='m.onnx', **ok), '--onnx, --ir, or'),
        (('openvino', ), dict(deploy=True, **ok), '--deploy is for'),
        (('openvino', ), dict(precision='int3', **ok), 'must be one of'),
        (('pytorch', ), dict(precision='f32', **ok), '--precision is for'),
        (('openvino', ), dict(ir_file='m.onnx'), '--ir must be an'),
    ]
    for args, kwargs, message in cases:
        assert message in backend_option_error(*args, **kwargs), message
