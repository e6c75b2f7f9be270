"""Deploy-time CSNet: one module from a normalised image to logits/saliency."""
from typing import List, Optional

import torch
from torch import Tensor, nn

from csnet_mmseg.models.backbones.csnet import CSNet
from csnet_mmseg.models.decode_heads.csf_head import CSFHead
from csnet_mmseg.models.parts import csnet_parts
from .fused_csf_head import FusedCSFHead
from .fused_il_block import FusedILBlock
from .ops import halve, onednn_inference, upsample

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


class DeployCSNet(nn.Module):
    """Eval-only CSNet (backbone + CSF head) with folded norms and merged
    gOctConv paths; see :func:`convert_to_deploy`.

    Maps a normalised RGB batch ``(N, 3, H, W)`` (ImageNet mean/std, as the
    segmentor's data preprocessor makes it) to logits ``(N, 1, H, W)`` at the
    input size, or to saliency in [0, 1] with ``with_sigmoid=True``. With
    ``with_preprocess=True`` the input is instead an RGB image batch with
    values 0-255 (any float or integer dtype) and the normalisation is part
    of the module (and of an exported ONNX graph).

    Args:
        backbone (CSNet): Trained backbone (not modified).
        head (CSFHead): Trained head (not modified).
        with_sigmoid (bool): Return ``sigmoid(logits)``. Defaults to False.
        with_preprocess (bool): Take 0-255 RGB input and normalise it here
            with ``mean``/``std``. Defaults to False.
        mean (Sequence[float]): Per-channel mean (RGB) for
            ``with_preprocess``. Defaults to the ImageNet mean.
        std (Sequence[float]): Per-channel std (RGB) for ``with_preprocess``.
            Defaults to the ImageNet std.
        channels_last (bool): Run in channels-last (NHWC) memory format on a
            CPU without autograd (the input is converted once): oneDNN's
            depthwise and small convolutions are several times faster in it
            for CSNet's few-channel, high-resolution maps. The result is the
            same; ONNX export always traces the plain NCHW graph.
            Defaults to True.
    """

    def __init__(self,
                 backbone: CSNet,
                 head: CSFHead,
                 with_sigmoid: bool = False,
                 with_preprocess: bool = False,
                 mean=IMAGENET_MEAN,
                 std=IMAGENET_STD,
                 channels_last: bool = True) -> None:
        super().__init__()
        if with_sigmoid and head.out_channels != 1:
            raise ValueError(
                'with_sigmoid needs a binary head with out_channels=1, got '
                f'out_channels={head.out_channels}')
        self.with_sigmoid = bool(with_sigmoid)
        self.with_preprocess = bool(with_preprocess)
        self.channels_last = bool(channels_last)
        self.align_corners = head.align_corners
        # the stage outputs the head reads: positions of the stages' last
        # blocks
        self.out_blocks: List[int] = backbone.output_blocks()
        self.blocks = nn.ModuleList(
            [FusedILBlock(blk.block) for blk in backbone.blocks()])
        self.strides = [b.stride for b in self.blocks]
        self.head = FusedCSFHead(head)
        ref = head.conv_seg.weight
        self.register_buffer(
            'mean',
            torch.tensor(mean, dtype=ref.dtype).view(1, -1, 1, 1))
        self.register_buffer(
            'inv_std',
            1.0 / torch.tensor(std, dtype=ref.dtype).view(1, -1, 1, 1))
        self.eval()

    def forward(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` -> logits or saliency ``(N, 1, H, W)``."""
        if self.with_preprocess:
            x = (x.to(self.mean.dtype) - self.mean) * self.inv_std
        size = x.shape[-2:]
        base = size
        cl = self.channels_last and onednn_inference(x)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        xs: List[Optional[Tensor]] = [x]
        feats = []
        for k, block in enumerate(self.blocks):
            xs = block(xs, base)
            if self.strides[k] == 2:
                base = halve(base)
            if k in self.out_blocks:
                feats.append(xs[0])
        out = upsample(self.head(feats), size, self.align_corners)
        if cl:
            out = out.contiguous()
        return out.sigmoid() if self.with_sigmoid else out

    def train(self, mode: bool = True) -> 'DeployCSNet':
        if mode:
            raise RuntimeError('DeployCSNet is inference-only (folded norms); '
                               'train the segmentor it was made from')
        return super().train(False)


def convert_to_deploy(segmentor: nn.Module,
                      with_sigmoid: bool = False,
                      with_preprocess: bool = False,
                      channels_last: bool = True) -> DeployCSNet:
    """The deploy form of a trained CSNet segmentor, in one call.

    Folds every BatchNorm into its convolution (running statistics, i.e.
    eval behaviour) and merges the gOctConv paths; the segmentor itself is
    not modified. Its output equals the segmentor's eval logits upsampled to
    the input size (``EncoderDecoder`` in ``mode='tensor'`` followed by the
    head's bilinear resize) up to float rounding.

    Args:
        segmentor (nn.Module): An ``EncoderDecoder`` with a :class:`CSNet`
            backbone and a :class:`CSFHead` decode head (no neck), e.g. from
            ``mmseg.apis.init_model(config, checkpoint)``.
        with_sigmoid (bool): Output saliency in [0, 1] instead of logits.
            Defaults to False.
        with_preprocess (bool): Input is RGB 0-255; normalise with the
            segmentor's data preprocessor mean/std inside the module.
            Defaults to False.
        channels_last (bool): See :class:`DeployCSNet`. Defaults to True.

    Returns:
        DeployCSNet: In eval mode, without gradients, on the segmentor's
        device and dtype.

    Raises:
        NotCSNetError: If ``segmentor`` is not a CSNet segmentor.
    """
    backbone, head = csnet_parts(segmentor, 'convert_to_deploy')
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    pre = getattr(segmentor, 'data_preprocessor', None)
    if with_preprocess:
        if getattr(pre, 'mean', None) is None:
            raise ValueError(
                'with_preprocess needs the segmentor\'s data_preprocessor to '
                'normalise (mean/std); it has none')
        if not getattr(pre, 'channel_conversion', False):
            raise ValueError(
                'with_preprocess assumes the data preprocessor converts BGR '
                'to RGB (bgr_to_rgb=True), as the CSNet configs do')
        mean = pre.mean.flatten().tolist()
        std = pre.std.flatten().tolist()
    model = DeployCSNet(
        backbone,
        head,
        with_sigmoid=with_sigmoid,
        with_preprocess=with_preprocess,
        mean=mean,
        std=std,
        channels_last=channels_last)
    param = next(segmentor.parameters())
    return model.to(device=param.device, dtype=param.dtype).eval()
