"""Inference on image files with CSNet models (PyTorch, ONNX Runtime or
OpenVINO),
as MMSeg keeps its own in ``mmseg.apis``."""
from .inference import (IMAGE_EXTENSIONS, TEST_SIZE, OnnxRuntimeSaliency,
                        OpenVINOSaliency, PyTorchSaliency, collect_images,
                        normalise,
                        overlay_image, read_image_rgb, resize_images,
                        saliency_to_uint8)
from .builder import build_segmentor
from .logits import SegmentorLogits, segmentor_logits

__all__ = [
    'build_segmentor', 'SegmentorLogits', 'IMAGE_EXTENSIONS', 'TEST_SIZE', 'OnnxRuntimeSaliency',
    'OpenVINOSaliency', 'PyTorchSaliency',
    'collect_images', 'normalise', 'overlay_image', 'read_image_rgb',
    'resize_images', 'saliency_to_uint8', 'segmentor_logits'
]
