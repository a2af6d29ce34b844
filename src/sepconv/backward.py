"""Gradients of the separable convolution (the backward pass).

``separable_conv1d_backward`` returns the gradients of ``sum(dy * y)`` for
``y = separable_conv1d(x, ...)`` with the same arguments.  The activation is
differentiated on the Python side (``sepconv.activations.gradient``) from the
pre-activation output, which is recomputed by the forward kernel; the
convolution part runs in the Cython kernel (see the design block of
src/kernels/_sepconv.pyx).  channels_first arrays are transposed to channels_last
for the kernel and the input gradient is transposed back.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import _fork, arrays, functional, packing, tiling
from . import activations as _activations
from ._typing import ArrayLike, IntOrTuple

__all__ = ["separable_conv1d_backward"]


def pre_activation_gradient(activation, z, dy):
    """dL/dz for y = activation(z), from dL/dy."""
    name = _activations.name_of(activation)
    if name == "linear":
        return dy
    return np.asarray(_activations.gradient(activation, z, dy), dtype=z.dtype)


def convolution_backward(spec, x, dz, dw, pw, pad_left, num_threads, kernels):
    """(dx, d_depthwise, d_pointwise, d_bias) from dL/dz, for a checked ``spec`` and arrays."""
    dtype = spec.dtype
    taps, channels, mult = dw.shape
    filters = pw.shape[2]
    width = channels * mult
    if spec.channels_first:
        x = np.ascontiguousarray(x.transpose(0, 2, 1))
        dz = np.ascontiguousarray(dz.transpose(0, 2, 1))
    batch, steps, _ = x.shape
    out_steps = dz.shape[1]
    depthwise, pointwise_t, width_pad, filters_pad = packing.pack_backward(dw, pw, dtype, kernels)
    tile = tiling.backward_tile(out_steps, kernels)
    num_threads = _fork.note_threads(num_threads)
    dx = np.zeros((batch, steps, channels), dtype=dtype)
    ddw_parts = np.zeros((batch, taps, width), dtype=dtype)
    dpw_parts = np.zeros((batch, width_pad, filters_pad), dtype=dtype)
    db_parts = np.zeros((batch, filters), dtype=dtype)
    kernels.backward(x, dz, depthwise, pointwise_t, dx, ddw_parts, dpw_parts, db_parts, mult,
                     spec.strides, spec.dilation_rate, pad_left, tile, num_threads)
    # Partial sums are added in batch order: independent of the thread count.
    d_depthwise = ddw_parts.sum(axis=0).reshape(taps, mult, channels).transpose(0, 2, 1)
    d_pointwise = (dpw_parts.sum(axis=0)[:width, :filters].reshape(mult, channels, filters)
                   .transpose(1, 0, 2).reshape(1, width, filters))
    d_bias = db_parts.sum(axis=0) if spec.use_bias else None
    if spec.channels_first:
        dx = np.ascontiguousarray(dx.transpose(0, 2, 1))
    return dx, np.ascontiguousarray(d_depthwise), np.ascontiguousarray(d_pointwise), d_bias


def separable_conv1d_backward(dy: ArrayLike, x: ArrayLike, depthwise_kernel: ArrayLike,
                              pointwise_kernel: ArrayLike, bias: Optional[ArrayLike] = None,
                              strides: IntOrTuple = 1, padding: str = "valid",
                              dilation_rate: IntOrTuple = 1,
                              data_format: Optional[str] = None, activation: Any = None,
                              num_threads: Optional[int] = None, *,
                              isa: Optional[str] = None
                              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray,
                                         Optional[np.ndarray]]:
    """Gradients of ``sum(dy * y)`` for ``y = separable_conv1d(x, ...)``.

    Parameters
    ----------
    dy : array_like
        dL/dy, the shape of the forward output.
    x, depthwise_kernel, pointwise_kernel, bias, strides, padding, dilation_rate, data_format, activation, num_threads, isa
        As for :func:`sepconv.separable_conv1d`; validated the same way.

    Returns
    -------
    (dx, d_depthwise_kernel, d_pointwise_kernel, d_bias)
        ``dx`` has x's layout and every gradient the computation dtype (see
        separable_conv1d); ``d_bias`` is None without a bias.  Bitwise
        identical for any ``num_threads``.
    """
    spec, kernels, threads, x_array, (dw, pw, bias) = functional.prepare(
        x, depthwise_kernel, pointwise_kernel, bias, strides, padding, dilation_rate,
        data_format, activation, num_threads, isa)
    dtype = spec.dtype
    dw, pw = np.asarray(dw, dtype=dtype), np.asarray(pw, dtype=dtype)
    linear = spec.without_activation()
    plan = linear.plan(x_array.shape, threads, kernels)
    z = plan.run(x_array, packing.pack_forward(dw, pw, bias, spec.channels_first, dtype,
                                               kernels),
                 np.empty(plan.output_shape, dtype=dtype))
    dy_array = arrays.real_array(dy, "dy")
    expected = np.asarray(spec.activation(z[:1])).shape[1:] if z.shape[0] else None
    if dy_array.ndim != 3 or dy_array.shape[0] != z.shape[0] or (
            expected is not None and dy_array.shape[1:] != expected):
        raise ValueError(f"Argument `dy` must have the output's shape "
                         f"{(z.shape[0],) + tuple(expected or z.shape[1:])}, received shape "
                         f"{dy_array.shape}.")
    dy_array = np.asarray(dy_array, dtype=dtype)
    dz = np.ascontiguousarray(pre_activation_gradient(spec.activation, z, dy_array), dtype=dtype)
    return convolution_backward(spec, x_array, dz, dw, pw, plan.pad_left, threads, kernels)
