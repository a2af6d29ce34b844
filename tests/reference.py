"""An independent float64 NumPy reference for SeparableConv1D (tests only).

Written from the definition with an explicitly zero-padded input, so it
shares nothing with the kernels except the output-length rule, which lives
in one place (sepconv.conv_utils.conv_geometry).
"""

import numpy as np

from sepconv.conv_utils import conv_geometry


def _padded_depthwise(x, dw, strides, padding, dilation_rate):
    """(zero-padded x, depthwise result (B, L_out, C, M), pad_left); x channels_last."""
    batch, steps, channels = x.shape
    taps, _, mult = dw.shape
    out_steps, pad_left = conv_geometry(steps, taps, strides, dilation_rate, padding.lower())
    needed = (out_steps - 1) * strides + (taps - 1) * dilation_rate + 1
    padded = np.zeros((batch, max(needed, pad_left + steps), channels))
    padded[:, pad_left:pad_left + steps] = x
    depthwise = np.zeros((batch, out_steps, channels, mult))
    for t in range(out_steps):
        for k in range(taps):
            depthwise[:, t] += padded[:, t * strides + k * dilation_rate, :, None] * dw[k]
    return padded, depthwise, pad_left


def separable_conv1d_reference(x, depthwise_kernel, pointwise_kernel, bias=None, strides=1,
                               padding="valid", dilation_rate=1,
                               data_format="channels_last", activation=None):
    """float64 result of depthwise conv, pointwise conv, bias, activation."""
    x = np.asarray(x, dtype=np.float64)
    if data_format == "channels_first":
        x = x.transpose(0, 2, 1)
    dw = np.asarray(depthwise_kernel, dtype=np.float64)
    pw = np.asarray(pointwise_kernel, dtype=np.float64)
    _, depthwise, _ = _padded_depthwise(x, dw, strides, padding, dilation_rate)
    batch, out_steps, channels, mult = depthwise.shape
    y = depthwise.reshape(batch, out_steps, channels * mult) @ pw[0]
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    if data_format == "channels_first":
        y = y.transpose(0, 2, 1)
    if activation is not None:
        y = activation(y)
    return y


def separable_conv1d_reference_gradients(dz, x, depthwise_kernel, pointwise_kernel,
                                         use_bias=True, strides=1, padding="valid",
                                         dilation_rate=1, data_format="channels_last"):
    """float64 (dx, d_depthwise, d_pointwise, d_bias) of sum(dz * z).

    z is the pre-activation output (depthwise, pointwise, bias); written
    from the chain rule on the explicitly padded input, step by step.
    """
    x = np.asarray(x, dtype=np.float64)
    dz = np.asarray(dz, dtype=np.float64)
    if data_format == "channels_first":
        x = x.transpose(0, 2, 1)
        dz = dz.transpose(0, 2, 1)
    dw = np.asarray(depthwise_kernel, dtype=np.float64)
    pw = np.asarray(pointwise_kernel, dtype=np.float64)[0]
    padded, depthwise, pad_left = _padded_depthwise(x, dw, strides, padding, dilation_rate)
    batch, out_steps, channels, mult = depthwise.shape
    flat = depthwise.reshape(batch, out_steps, channels * mult)
    d_pointwise = np.einsum("btj,btf->jf", flat, dz)[None]
    d_depthwise_out = (dz @ pw.T).reshape(batch, out_steps, channels, mult)
    d_depthwise = np.zeros_like(dw)
    d_padded = np.zeros_like(padded)
    for t in range(out_steps):
        for k in range(dw.shape[0]):
            pos = t * strides + k * dilation_rate
            d_depthwise[k] += np.einsum("bcm,bc->cm", d_depthwise_out[:, t], padded[:, pos])
            d_padded[:, pos] += np.einsum("bcm,cm->bc", d_depthwise_out[:, t], dw[k])
    dx = d_padded[:, pad_left:pad_left + x.shape[1]]
    if data_format == "channels_first":
        dx = dx.transpose(0, 2, 1)
    d_bias = dz.sum(axis=(0, 1)) if use_bias else None
    return dx, d_depthwise, d_pointwise, d_bias
