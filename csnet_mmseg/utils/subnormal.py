"""The one rule for subnormal floats in weights: values with
``|v| < FLUSH_BELOW`` (1e-37) become exactly 0.

Weights of channels that training drove towards zero (pruned channels,
dynamic weight decay) end up subnormal (``|v| < 1.18e-38`` in float32; the
released CSNet checkpoints hold hundreds, e.g. 1e-40). A CPU computes with
subnormals tens of times slower than with normal floats, so a single such
weight tensor can make its convolution the slowest op of the network and
the training form of the released models 1.4-2.3x slower. A value below
1e-37 cannot change a float32 output, so setting it to 0 changes no result.
The threshold (the converter's from its first version) lies a little above
the float32 subnormal range, and far below any weight that matters (the
pruning threshold of the released models is 1e-20).

The converter of the released weights
(:func:`csnet_mmseg.converters.flush_small_values`) and the deploy form
(:mod:`csnet_mmseg.deploy`, every frozen weight) apply this rule to
tensors. :class:`csnet_mmseg.engine.hooks.FlushDenormalHook` is a different
thing: it switches the CPU to treat subnormal operands and results as 0
during a run (``torch.set_flush_denormal``), without changing any tensor.
"""
from torch import Tensor

__all__ = ['FLUSH_BELOW', 'subnormal_mask', 'flush_subnormal']

#: Float values with a smaller magnitude are set to exactly 0.
FLUSH_BELOW: float = 1e-37


def subnormal_mask(t: Tensor, below: float = FLUSH_BELOW) -> Tensor:
    """Where ``t`` holds a non-zero value with ``|v| < below``.

    Args:
        t (Tensor): A floating-point tensor.
        below (float): The magnitude below which a value counts.
            Defaults to :data:`FLUSH_BELOW`.

    Returns:
        Tensor: A bool tensor of ``t``'s shape.
    """
    return (t.abs() < below) & (t != 0)


def flush_subnormal(t: Tensor, below: float = FLUSH_BELOW) -> Tensor:
    """``t`` with every value ``|v| < below`` set to 0.

    Args:
        t (Tensor): Any tensor; a non-float tensor is returned as it is.
        below (float): The magnitude below which a value becomes 0.
            Defaults to :data:`FLUSH_BELOW`.

    Returns:
        Tensor: A new tensor (``t`` itself if it is not floating-point).
    """
    if not t.is_floating_point():
        return t
    return t.masked_fill(subnormal_mask(t, below), 0.0)
