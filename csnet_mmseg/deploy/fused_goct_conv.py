"""Deploy-time gOctConv: norm folded, paths merged into few convolutions."""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from csnet_mmseg.models.layers import GOctConv, infer_base_size
from csnet_mmseg.utils.subnormal import flush_subnormal
from .fold import copy_act, fold_norm
from .ops import (avg_pool2x, conv2d, exporting, halve, max_pool2x,
                  upsample)

MultiScale = List[Optional[Tensor]]


def _frozen(t: Tensor) -> nn.Parameter:
    """A constant deploy weight (subnormals flushed, see
    :func:`csnet_mmseg.utils.subnormal.flush_subnormal`)."""
    return nn.Parameter(
        flush_subnormal(t.detach()).contiguous(), requires_grad=False)


class FusedGOctConv(nn.Module):
    """Eval-only form of a :class:`GOctConv` with identical outputs.

    Built from a trained ``GOctConv`` (its norms in eval mode): each output
    scale's BatchNorm is folded into the rows of that scale (weight times
    ``gamma / sqrt(var + eps)``, bias ``beta - mean * gamma / sqrt(var +
    eps)``), and the paths are merged into as few convolutions as the math
    allows. The plan is computed once here; the forward only walks it.

    The eager forward (PyTorch inference) runs the merged plan below. When
    traced (ONNX export, OpenVINO's PyTorch frontend) the layer emits
    another graph of the same weights, which OpenVINO runs faster: one
    convolution per (input, output) path on constant weight slices, the
    paths added (OpenVINO fuses each addition and the PReLU into a
    convolution; no concatenation, no channel slicing), and each input
    max-pooled once per level (pool by 4 = pool by 2 of the pool by 2, exact
    for floored max pooling). Traced, the merged plan was up to 1.18x as
    slow in OpenVINO (csnet_l_x1/x2, 224 and 512 px; never faster beyond
    noise) and was dropped as an export graph (experiments/export_plans/).

    For an output scale ``j`` the inputs at its resolution are concatenated
    and convolved once, with the folded bias added once:

    - ``i == j``: the input itself;
    - ``i < j``: the input max-pooled by ``2**(j - i)`` (the training form
      pools first, then convolves);
    - ``i > j`` with a 1x1 kernel and fewer input channels than output
      channels: the input upsampled bilinearly first (a 1x1 convolution and
      a bilinear resize commute, and resizing the thinner tensor is cheaper).

    The other coarser inputs (``i > j``) are convolved at their own resolution
    -- one convolution per input scale for all finer outputs it feeds --,
    and the slices are upsampled and added. A depthwise ``GOctConv`` becomes
    one grouped convolution with bias per scale. The activation (PReLU with
    one slope per channel) follows each output scale.

    Args:
        goct (GOctConv): The trained layer; it is not modified.
    """

    def __init__(self, goct: GOctConv) -> None:
        super().__init__()
        if not isinstance(goct, GOctConv):
            raise TypeError(
                f'FusedGOctConv needs a GOctConv, got {type(goct).__name__}')
        self.in_channels = list(goct.in_channels)
        self.out_channels = list(goct.out_channels)
        self.kernel_size = goct.kernel_size
        self.stride = goct.stride
        self.dilation = goct.dilation
        self.padding = goct.padding
        self.depthwise = goct.depthwise
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        acts = []
        # (weight index, [(input scale, op, arg)]) per output scale, or None
        self.out_plan: List[Optional[Tuple[int, list]]] = []
        # (input scale, weight index, [(output scale, start, end)])
        self.coarse_plan: List[Tuple[int, int, list]] = []
        # output scales whose size the forward needs (upsampling targets)
        self.size_scales: List[int] = []

        norms, goct_acts = goct.norm_act.norms, goct.norm_act.acts
        if self.depthwise:
            for j, c in enumerate(self.out_channels):
                if c == 0:
                    self.out_plan.append(None)
                    acts.append(None)
                    continue
                # the weight the convolution uses (the conv gain folded in)
                w, b = fold_norm(goct.scaled_weight()[goct.out_slice(j)],
                                 None, norms[j])
                self.out_plan.append((len(self.weights), [(j, 'id', 0)]))
                self.weights.append(_frozen(w))
                self.biases.append(_frozen(b))
                acts.append(copy_act(goct_acts[j]))
        else:
            self._plan_dense(goct, acts)
        self.acts = nn.ModuleList(
            [nn.Identity() if a is None else a for a in acts])
        self.has_act = [a is not None for a in acts]

    def _plan_dense(self, goct: GOctConv, acts: list) -> None:
        paths = goct.paths()
        folded = {}
        for j, c in enumerate(self.out_channels):
            if c > 0 and any(pj == j for pj, _ in paths):
                # the weight the convolution uses (the conv gain folded in)
                folded[j] = fold_norm(goct.scaled_weight()[goct.out_slice(j)],
                                      None, goct.norm_act.norms[j])

        def cols(w: Tensor, i: int) -> Tensor:
            return w[:, goct.in_slice(i)]

        coarse = {}  # input scale -> output scales convolved at its scale
        for j in range(len(self.out_channels)):
            if j not in folded:
                self.out_plan.append(None)
                acts.append(None)
                continue
            w, b = folded[j]
            entries, blocks = [], []
            for i in range(len(self.in_channels)):
                if not goct.has_path(i, j):
                    continue
                if i <= j:
                    entries.append((i, 'pool', j - i))
                elif (self.kernel_size == 1
                      and self.in_channels[i] < self.out_channels[j]):
                    entries.append((i, 'up', j))
                    self._need_size(j)
                else:
                    coarse.setdefault(i, []).append(j)
                    self._need_size(j)
                    continue
                blocks.append(cols(w, i))
            if entries:
                self.out_plan.append((len(self.weights), entries))
                self.weights.append(_frozen(torch.cat(blocks, dim=1)))
                self.biases.append(_frozen(b))
            else:  # only upsampled paths: their convolution adds the bias
                self.out_plan.append((-1, []))
            acts.append(copy_act(goct.norm_act.acts[j]))
        for i, targets in sorted(coarse.items()):
            ws, bs, slices, start = [], [], [], 0
            for j in targets:
                w, b = folded[j]
                ws.append(cols(w, i))
                bias_here = self.out_plan[j][0] < 0 and j not in [
                    t for _, _, ts in self.coarse_plan for t, _, _ in ts
                ]
                bs.append(b if bias_here else torch.zeros_like(b))
                slices.append((j, start, start + w.shape[0]))
                start += w.shape[0]
            if len(slices) == 1:
                slices = [(slices[0][0], -1, -1)]  # the whole output
            self.coarse_plan.append((i, len(self.weights), slices))
            self.weights.append(_frozen(torch.cat(ws, dim=0)))
            self.biases.append(_frozen(torch.cat(bs, dim=0)))

    def _need_size(self, j: int) -> None:
        if j not in self.size_scales:
            self.size_scales.append(j)

    def _conv(self, x: Tensor, k: int, groups: int = 1) -> Tensor:
        return conv2d(x, self.weights[k], self.biases[k], self.padding,
                      self.dilation, groups)

    def forward(self,
                xs: MultiScale,
                base_size: Optional[Sequence] = None) -> MultiScale:
        """Same contract as :meth:`GOctConv.forward` (eval mode)."""
        if base_size is None and self.size_scales:
            base_size = infer_base_size(xs)
        if self.stride == 2:
            xs = [None if x is None else avg_pool2x(x) for x in xs]
            if base_size is not None:
                base_size = halve(base_size)
        if self.depthwise:
            return self._forward_depthwise(xs)
        sizes = {}
        if self.size_scales:
            size = base_size
            for j in range(max(self.size_scales) + 1):
                sizes[j] = size
                size = halve(size)
        if exporting() or torch.jit.is_tracing():
            return self._forward_export(xs, sizes)
        pieces: List[List[Tensor]] = [[] for _ in self.out_channels]
        for i, k, slices in self.coarse_plan:
            y = self._conv(xs[i], k)
            for j, start, end in slices:
                yj = y if start < 0 else y[:, start:end]
                pieces[j].append(upsample(yj, sizes[j]))
        outs: MultiScale = []
        for j, plan in enumerate(self.out_plan):
            if plan is None:
                outs.append(None)
                continue
            k, entries = plan
            y = None
            if entries:
                parts = []
                for i, op, arg in entries:
                    x = xs[i]
                    if op == 'pool':
                        x = max_pool2x(x, arg) if arg > 0 else x
                    else:
                        x = upsample(x, sizes[arg])
                    parts.append(x)
                y = self._conv(
                    parts[0] if len(parts) == 1 else torch.cat(parts, dim=1),
                    k)
            for p in pieces[j]:
                y = p if y is None else y + p
            outs.append(self.acts[j](y) if self.has_act[j] else y)
        return outs

    def _forward_export(self, xs: MultiScale, sizes: dict) -> MultiScale:
        """The traced graph (see the class docstring): the same weights,
        sliced per path (constant slices, folded by the exporter)."""
        pooled = {}

        def pool(i: int, times: int) -> Tensor:
            if times == 0:
                return xs[i]
            if (i, times) not in pooled:  # pool by 2 of the pool by 2
                pooled[i, times] = max_pool2x(pool(i, times - 1), 1)
            return pooled[i, times]

        pieces: List[List[Tensor]] = [[] for _ in self.out_channels]
        for i, k, slices in self.coarse_plan:
            w, b = self.weights[k], self.biases[k]
            for j, start, end in slices:  # one convolution per output
                if start >= 0:
                    w_j, b_j = w[start:end], b[start:end]
                else:  # the whole output
                    w_j, b_j = w, b
                y = conv2d(xs[i], w_j, b_j, self.padding, self.dilation)
                pieces[j].append(upsample(y, sizes[j]))
        outs: MultiScale = []
        for j, plan in enumerate(self.out_plan):
            if plan is None:
                outs.append(None)
                continue
            k, entries = plan
            y, col = None, 0
            for n, (i, op, arg) in enumerate(entries):
                x = pool(i, arg) if op == 'pool' else upsample(
                    xs[i], sizes[arg])
                c = self.in_channels[i]
                # the bias once, with the first path
                p = conv2d(x, self.weights[k][:, col:col + c],
                           self.biases[k] if n == 0 else None, self.padding,
                           self.dilation)
                col += c
                y = p if y is None else y + p
            for p in pieces[j]:
                y = p if y is None else y + p
            outs.append(self.acts[j](y) if self.has_act[j] else y)
        return outs

    def _forward_depthwise(self, xs: MultiScale) -> MultiScale:
        outs: MultiScale = []
        for j, plan in enumerate(self.out_plan):
            if plan is None:
                outs.append(None)
                continue
            y = self._conv(xs[j], plan[0], self.out_channels[j])
            outs.append(self.acts[j](y) if self.has_act[j] else y)
        return outs

    def extra_repr(self) -> str:
        s = (f'in_channels={self.in_channels}, out_channels='
             f'{self.out_channels}, kernel_size={self.kernel_size}, '
             f'convs={len(self.weights)}')
        if self.stride != 1:
            s += f', stride={self.stride}'
        if self.depthwise:
            s += ', depthwise=True'
        return s
