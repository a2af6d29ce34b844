"""An independent float64 NumPy reference for SeparableConv1D (tests only).

Written from the definition with an explicitly zero-padded input, so it
shares nothing with the kernels except the output-length rule, which lives
in one place (sepconv.conv_utils.conv_geometry).
"""

import numpy as np

from sepconv.conv_utils import conv_geometry


def separable_conv1d_reference(x, depthwise_kernel, pointwise_kernel, bias=None, strides=1,
                               padding="valid", dilation_rate=1,
                               data_format="channels_last", activation=None):
    """float64 result of depthwise conv, pointwise conv, bias, activation."""
    x = np.asarray(x, dtype=np.float64)
    if data_format == "channels_first":
        x = x.transpose(0, 2, 1)
    dw = np.asarray(depthwise_kernel, dtype=np.float64)
    pw = np.asarray(pointwise_kernel, dtype=np.float64)
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
    y = depthwise.reshape(batch, out_steps, channels * mult) @ pw[0]
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    if data_format == "channels_first":
        y = y.transpose(0, 2, 1)
    if activation is not None:
        y = activation(y)
    return y
