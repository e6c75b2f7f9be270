"""Deploy-time CSNet: folded norms, merged gOctConv paths, ONNX-ready.

Not imported by ``csnet_mmseg`` itself; use
``from csnet_mmseg.deploy import convert_to_deploy``. The OpenVINO runtime is
in :mod:`csnet_mmseg.deploy.openvino_backend` (needs ``openvino``).
"""
from .deploy_model import (IMAGENET_MEAN, IMAGENET_STD, DeployCSNet,
                           convert_to_deploy)
from .fold import fold_norm, norm_scale_shift
from .fused_csf_head import FusedCSFHead, FusedMultiDilationConv
from .fused_goct_conv import FusedGOctConv
from .fused_il_block import FusedILBlock
from .ops import static_size_export, upsample_by

__all__ = [
    'DeployCSNet', 'convert_to_deploy', 'FusedGOctConv', 'FusedILBlock',
    'FusedCSFHead', 'FusedMultiDilationConv', 'fold_norm', 'norm_scale_shift',
    'IMAGENET_MEAN', 'IMAGENET_STD', 'static_size_export', 'upsample_by'
]
