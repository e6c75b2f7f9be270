"""Inference on image files with CSNet models (PyTorch, ONNX Runtime or
OpenVINO), and building segmentors, as MMSeg keeps its own in
``mmseg.apis``."""
from .builder import build_segmentor, init_segmentor
from .inference import (IMAGE_EXTENSIONS, TEST_SIZE, OnnxRuntimeSaliency,
                        OpenVINOSaliency, PyTorchSaliency, collect_images,
                        normalise, overlay_image, read_image_rgb,
                        resize_images, saliency_to_uint8)
from .logits import SegmentorLogits, segmentor_logits

__all__ = [
    'IMAGE_EXTENSIONS', 'TEST_SIZE', 'OnnxRuntimeSaliency',
    'OpenVINOSaliency', 'PyTorchSaliency', 'SegmentorLogits',
    'build_segmentor', 'collect_images', 'init_segmentor', 'normalise',
    'overlay_image', 'read_image_rgb', 'resize_images', 'saliency_to_uint8',
    'segmentor_logits'
]
