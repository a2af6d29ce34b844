"""Gradients of the separable convolution (the backward pass).

``separable_conv1d_backward`` returns the gradients of ``sum(dy * y)`` for
``y = separable_conv1d(x, ...)`` with the same arguments.  The activation is
differentiated on the Python side (``sepconv.activations.gradient``) from the
pre-activation output, which is recomputed by the forward kernel; the
convolution part runs in the Cython kernel (see the design block of
src/_sepconv.pyx).  channels_first arrays are transposed to channels_last
for the kernel and the input gradient is transposed back.
"""

from __future__ import annotations

import numpy as np

from . import activations as _activations
from . import functional, tiling
from .conv_utils import (conv_geometry, normalize_data_format, normalize_padding,
                         normalize_tuple)

__all__ = ["separable_conv1d_backward"]


def _pack_for_backward(dw, pw, dtype, kernels):
    """Depthwise kernel as (K, M*C) and the transposed pointwise matrix (F, width_pad)."""
    taps, channels, mult = dw.shape
    filters = pw.shape[2]
    width = channels * mult
    width_pad, filters_pad = tiling.backward_padding(width, filters, kernels, dtype)
    depthwise = np.ascontiguousarray(
        np.asarray(dw, dtype=dtype).transpose(0, 2, 1).reshape(taps, width))
    pointwise = (np.asarray(pw, dtype=dtype).reshape(channels, mult, filters)
                 .transpose(1, 0, 2).reshape(width, filters))
    transposed = np.zeros((filters, width_pad), dtype=dtype)
    transposed[:, :width] = pointwise.T
    return depthwise, transposed, width_pad, filters_pad


def pre_activation_gradient(activation, z, dy):
    """dL/dz for y = activation(z), from dL/dy."""
    name = _activations.name_of(activation)
    if name == "linear":
        return dy
    return np.asarray(_activations.gradient(activation, z, dy), dtype=z.dtype)


def convolution_backward(x, dz, dw, pw, use_bias, strides, dilation_rate, pad_left,
                         channels_first, num_threads, kernels):
    """(dx, d_depthwise, d_pointwise, d_bias) from dL/dz, arrays already validated."""
    dtype = x.dtype
    taps, channels, mult = dw.shape
    filters = pw.shape[2]
    width = channels * mult
    if channels_first:
        x = np.ascontiguousarray(x.transpose(0, 2, 1))
        dz = np.ascontiguousarray(dz.transpose(0, 2, 1))
    batch, steps, _ = x.shape
    out_steps = dz.shape[1]
    depthwise, pointwise_t, width_pad, filters_pad = _pack_for_backward(dw, pw, dtype, kernels)
    tile = tiling.backward_tile(out_steps, kernels)
    dx = np.zeros((batch, steps, channels), dtype=dtype)
    ddw_parts = np.zeros((batch, taps, width), dtype=dtype)
    dpw_parts = np.zeros((batch, width_pad, filters_pad), dtype=dtype)
    db_parts = np.zeros((batch, filters), dtype=dtype)
    kernels.backward(x, dz, depthwise, pointwise_t, dx, ddw_parts, dpw_parts, db_parts, mult,
                     strides, dilation_rate, pad_left, tile, num_threads)
    # Partial sums are added in batch order: independent of the thread count.
    d_depthwise = ddw_parts.sum(axis=0).reshape(taps, mult, channels).transpose(0, 2, 1)
    d_pointwise = (dpw_parts.sum(axis=0)[:width, :filters].reshape(mult, channels, filters)
                   .transpose(1, 0, 2).reshape(1, width, filters))
    d_bias = db_parts.sum(axis=0) if use_bias else None
    if channels_first:
        dx = np.ascontiguousarray(dx.transpose(0, 2, 1))
    return dx, np.ascontiguousarray(d_depthwise), np.ascontiguousarray(d_pointwise), d_bias


def separable_conv1d_backward(dy, x, depthwise_kernel, pointwise_kernel, bias=None,
                              strides=1, padding="valid", dilation_rate=1, data_format=None,
                              activation=None, num_threads=None, *, isa=None):
    """Gradients of ``sum(dy * y)`` for ``y = separable_conv1d(x, ...)``.

    Returns ``(dx, d_depthwise_kernel, d_pointwise_kernel, d_bias)``; ``dx``
    has x's layout and every gradient the computation dtype (see
    separable_conv1d); ``d_bias`` is None without a bias.
    """
    strides = normalize_tuple(strides, "strides")
    dilation_rate = normalize_tuple(dilation_rate, "dilation_rate")
    padding = normalize_padding(padding)
    data_format = normalize_data_format(data_format)
    channels_first = data_format == "channels_first"
    activation_fn = _activations.get(activation)
    kernels = functional.kernel_module(isa)
    num_threads = functional.check_num_threads(num_threads, kernels)
    dw, pw, bias, (taps, channels, mult, filters) = functional.check_weights(
        depthwise_kernel, pointwise_kernel, bias)
    x_array = functional._real_array(x, "x")
    dtype = functional._float_dtype(dw, pw, bias,
                                    x_array if x_array.dtype.kind == "f" else None)
    x_array = functional.check_input(x_array, dtype, channels, channels_first)
    steps = x_array.shape[2] if channels_first else x_array.shape[1]
    out_steps, pad_left = conv_geometry(steps, taps, strides, dilation_rate, padding)
    z = functional.separable_conv1d(x_array, dw, pw, bias, strides, padding, dilation_rate,
                                    data_format, None, num_threads=num_threads, isa=isa)
    dy_array = functional._real_array(dy, "dy")
    expected = np.asarray(activation_fn(z[:1])).shape[1:] if z.shape[0] else None
    if dy_array.ndim != 3 or dy_array.shape[0] != z.shape[0] or (
            expected is not None and dy_array.shape[1:] != expected):
        raise ValueError(f"Argument `dy` must have the output's shape "
                         f"{(z.shape[0],) + tuple(expected or z.shape[1:])}, received shape "
                         f"{dy_array.shape}.")
    dy_array = np.asarray(dy_array, dtype=dtype)
    dz = np.ascontiguousarray(pre_activation_gradient(activation_fn, z, dy_array), dtype=dtype)
    return convolution_backward(x_array, dz, np.asarray(dw, dtype=dtype),
                                np.asarray(pw, dtype=dtype), bias is not None, strides,
                                dilation_rate, pad_left, channels_first, num_threads, kernels)
