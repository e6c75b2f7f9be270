"""Inference on image files with CSNet models (PyTorch, ONNX Runtime or
OpenVINO),
as MMSeg keeps its own in ``mmseg.apis``."""
from .builder import init_segmentor
from .inference import (IMAGE_EXTENSIONS, TEST_SIZE, OnnxRuntimeSaliency,
                        OpenVINOSaliency, PyTorchSaliency, collect_images,
                        normalise,
                        overlay_image, read_image_rgb, resize_images,
                        saliency_to_uint8)
from .logits import segmentor_logits

__all__ = [
    'IMAGE_EXTENSIONS', 'TEST_SIZE', 'OnnxRuntimeSaliency',
    'OpenVINOSaliency', 'PyTorchSaliency',
    'collect_images', 'normalise', 'overlay_image', 'read_image_rgb',
    'resize_images', 'saliency_to_uint8', 'segmentor_logits',
    'init_segmentor'
]
