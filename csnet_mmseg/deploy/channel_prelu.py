"""PReLU of the deploy-time CSNet."""
from torch import Tensor, nn

from .ops import prelu


class ChannelPReLU(nn.Module):
    """``nn.PReLU`` (one slope per channel, or one shared) that is fast on
    channels-last tensors (see :func:`csnet_mmseg.deploy.ops.prelu`); exports
    to ONNX as ``PRelu``.

    Args:
        weight (Tensor): The slopes, ``(C,)`` or ``(1,)``.
    """

    def __init__(self, weight: Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            weight.detach().clone().flatten(), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f'num_parameters={self.weight.numel()}'
