"""The packed weight layouts the kernels read: the one owner of both.

Forward (``pack_forward``), one flat array (see the design block of
src/kernels/_sepconv.pyx):
    [ depthwise (K, M*C) | pointwise panels | bias padded ]
The depthwise channel index is permuted to jp = m*C + c so that, for
channels_last input, the depthwise loop reads x and the weights
contiguously; the pointwise rows are permuted the same way.  The pointwise
matrix is cut into zero-padded strips of NR filters (channels_last, the B
operand of the micro-kernel) or MR filters (channels_first, the A operand).
channels_first layouts also carry the NR strips, after the bias, for tiles
the kernel multiplies the channels_last way round (few output steps):
    [ depthwise | MR strips | bias padded to MR | NR strips ]

Backward (``pack_backward``): the depthwise kernel as (K, M*C) in the same
permuted order, and the pointwise matrix transposed to (F, width_pad), its
rows zero padded to ``tiling.backward_padding``.
"""

from __future__ import annotations

import numpy as np

from . import tiling

__all__ = ["pack_forward", "forward_size", "pack_backward"]


def _permuted(depthwise_kernel, pointwise_kernel, dtype):
    """Depthwise (K, M*C) and pointwise (M*C, F), channels in the order m*C + c."""
    taps, channels, mult = depthwise_kernel.shape
    filters = pointwise_kernel.shape[2]
    width = channels * mult
    depthwise = np.asarray(depthwise_kernel, dtype=dtype).transpose(0, 2, 1).reshape(taps, width)
    pointwise = (np.asarray(pointwise_kernel, dtype=dtype).reshape(channels, mult, filters)
                 .transpose(1, 0, 2).reshape(width, filters))
    return depthwise, pointwise


def _strip(channels_first, dtype, kernels):
    """Filters per pointwise strip: MR (channels_first, the A operand) or NR."""
    if channels_first:
        return kernels.MR
    return kernels.NR["float32" if np.dtype(dtype).char == "f" else "float64"]


def forward_size(taps, channels, mult, filters, channels_first, dtype, kernels):
    """Element count of ``pack_forward``'s array for these weight shapes."""
    width = channels * mult
    strip = _strip(channels_first, dtype, kernels)
    padded = -(-filters // strip) * strip
    size = taps * width + width * padded + padded
    if channels_first:   # and the NR strips, for tiles multiplied the other way round
        nr = _strip(False, dtype, kernels)
        size += width * (-(-filters // nr) * nr)
    return size


def _strips(pointwise, strip, dtype):
    """(panels, width, strip): the pointwise matrix cut into zero-padded strips."""
    width, filters = pointwise.shape
    panels = -(-filters // strip)
    padded = np.zeros((width, panels * strip), dtype=dtype)
    padded[:, :filters] = pointwise
    return padded.reshape(width, panels, strip).transpose(1, 0, 2)


def pack_forward(depthwise_kernel, pointwise_kernel, bias, channels_first, dtype, kernels):
    """One flat array in the forward layout of ``kernels`` (see the module docstring)."""
    depthwise, pointwise = _permuted(depthwise_kernel, pointwise_kernel, dtype)
    filters = pointwise.shape[1]
    strips = _strips(pointwise, _strip(channels_first, dtype, kernels), dtype)
    bias_padded = np.zeros(strips.shape[0] * strips.shape[2], dtype=dtype)
    if bias is not None:
        bias_padded[:filters] = bias
    parts = [depthwise.ravel(), strips.ravel(), bias_padded]
    if channels_first:
        parts.append(_strips(pointwise, _strip(False, dtype, kernels), dtype).ravel())
    return np.concatenate(parts)


def pack_backward(depthwise_kernel, pointwise_kernel, dtype, kernels):
    """(depthwise (K, M*C), pointwise transposed (F, width_pad), width_pad, filters_pad)."""
    depthwise, pointwise = _permuted(depthwise_kernel, pointwise_kernel, dtype)
    width, filters = pointwise.shape
    width_pad, filters_pad = tiling.backward_padding(width, filters, kernels, dtype)
    transposed = np.zeros((filters, width_pad), dtype=dtype)
    transposed[:, :width] = pointwise.T
    return np.ascontiguousarray(depthwise), transposed, width_pad, filters_pad
