"""The stateless functional form and the plumbing shared with the layer.

Everything here runs before a kernel: argument normalisation, validation
(the kernels trust their arguments and have bounds checks off), dtype and
layout conversion, weight packing and the choice of tile size.
"""

from __future__ import annotations

import os

import numpy as np

from . import activations as _activations
from . import dispatch, tiling
from .conv_utils import (conv_geometry, normalize_data_format, normalize_int,
                         normalize_padding, normalize_tuple)

__all__ = ["separable_conv1d", "pack_weights", "kernel_module", "isa_level"]

_LEVEL = dispatch.select_level()
_KERNELS = {_LEVEL: dispatch.load(_LEVEL)}

# Largest element count we agree to index (kernels use ssize_t offsets);
# anything larger is a ValueError before any allocation.
_MAX_ELEMENTS = np.iinfo(np.intp).max // 16


def _physical_memory():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62


_PHYSICAL_MEMORY = _physical_memory()


def check_allocation(nbytes, what):
    """MemoryError, before trying, for an array larger than the machine's memory."""
    if nbytes > _PHYSICAL_MEMORY:
        raise MemoryError(f"{what} would need {nbytes / 2**30:.1f} GiB, more than this "
                          f"machine's {_PHYSICAL_MEMORY / 2**30:.1f} GiB of memory.")


def isa_level():
    """The instruction-set level the kernels run at."""
    return _LEVEL


def kernel_module(isa=None):
    """The compiled kernel module of ``isa`` (default: the selected level)."""
    level = _LEVEL if isa is None else isa
    module = _KERNELS.get(level)
    if module is None:
        if level not in dispatch.available_levels():
            raise ValueError(f"Argument `isa` must be one of the levels available on "
                             f"this machine {dispatch.available_levels()}, received isa={isa!r}.")
        module = _KERNELS[level] = dispatch.load(level)
    return module


# ----------------------------------------------------------------------------
# Validation helpers
# ----------------------------------------------------------------------------
def _real_array(value, name):
    """``value`` as an ndarray of a real numeric dtype, else TypeError."""
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"Argument `{name}` could not be converted to a numeric "
                            f"array: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{name}` must hold real numbers, received an array "
                        f"of dtype {array.dtype} (shape {array.shape}).")
    return array


def _float_dtype(*arrays):
    """float64 if any floating argument is float64 or wider, else float32."""
    for array in arrays:
        if array is not None and array.dtype.kind == "f" and array.dtype.itemsize >= 8:
            return np.dtype(np.float64)
    return np.dtype(np.float32)


def _as_kernel_array(array, dtype):
    """C-contiguous, aligned, native-endian copy (or the array itself)."""
    return np.require(array, dtype=dtype, requirements=["C", "A"])


def check_weights(depthwise_kernel, pointwise_kernel, bias):
    """Validate the three weights; return (dw, pw, bias) arrays and (K, C, M, F)."""
    dw = _real_array(depthwise_kernel, "depthwise_kernel")
    pw = _real_array(pointwise_kernel, "pointwise_kernel")
    if dw.ndim != 3 or 0 in dw.shape:
        raise ValueError(f"Argument `depthwise_kernel` must have shape (kernel_size, "
                         f"in_channels, depth_multiplier) with no zero dimension, received "
                         f"shape {dw.shape}.")
    taps, channels, mult = dw.shape
    if pw.ndim != 3 or pw.shape[0] != 1 or pw.shape[1] != channels * mult or pw.shape[2] == 0:
        raise ValueError(f"Argument `pointwise_kernel` must have shape (1, "
                         f"{channels * mult}, filters) for a depthwise kernel of shape "
                         f"{dw.shape}, received shape {pw.shape}.")
    filters = pw.shape[2]
    if bias is not None:
        bias = _real_array(bias, "bias")
        if bias.shape != (filters,):
            raise ValueError(f"Argument `bias` must have shape ({filters},), received "
                             f"shape {bias.shape}.")
    if taps * channels * mult > _MAX_ELEMENTS or channels * mult * filters > _MAX_ELEMENTS:
        raise ValueError(f"Weights are too large: depthwise_kernel shape {dw.shape}, "
                         f"pointwise_kernel shape {pw.shape}.")
    return dw, pw, bias, (taps, channels, mult, filters)


def check_num_threads(num_threads, kernels):
    """None -> OpenMP's max threads (threadpoolctl controls it); else an int >= 1."""
    if num_threads is None:
        return kernels.max_threads()
    return normalize_int(num_threads, "num_threads")


def resolve_activation(activation):
    """(callable, fused code or None) for an activation argument."""
    function = _activations.get(activation)
    name = _activations.name_of(function)
    return function, _FUSED_CODES.get(name)


def _fused_codes():
    module = next(iter(_KERNELS.values()))
    return dict(module.FUSED_ACTIVATIONS)


_FUSED_CODES = _fused_codes()


# ----------------------------------------------------------------------------
# Packing
# ----------------------------------------------------------------------------
def pack_weights(depthwise_kernel, pointwise_kernel, bias, channels_first, dtype, kernels):
    """One flat array in the layout the kernels of ``kernels`` read.

    Layout (see the design block of src/_sepconv.pyx): the depthwise kernel
    as (K, M*C) with column m*C + c; the pointwise matrix with its rows in the
    same order, cut into zero-padded strips of NR filters (channels_last) or
    MR filters (channels_first); then the bias, zero padded.
    """
    taps, channels, mult = depthwise_kernel.shape
    filters = pointwise_kernel.shape[2]
    width = channels * mult
    depthwise = np.asarray(depthwise_kernel, dtype=dtype).transpose(0, 2, 1).reshape(taps, width)
    pointwise = (np.asarray(pointwise_kernel, dtype=dtype).reshape(channels, mult, filters)
                 .transpose(1, 0, 2).reshape(width, filters))
    strip = kernels.MR if channels_first else kernels.NR[dtype.name]
    panels = -(-filters // strip)
    padded = np.zeros((width, panels * strip), dtype=dtype)
    padded[:, :filters] = pointwise
    strips = padded.reshape(width, panels, strip).transpose(1, 0, 2)
    bias_padded = np.zeros(panels * strip, dtype=dtype)
    if bias is not None:
        bias_padded[:filters] = bias
    return np.concatenate([depthwise.ravel(), strips.ravel(), bias_padded])


# Below this many FLOPs per thread, waking another thread costs more than it saves.
_MIN_FLOPS_PER_THREAD = 200_000


def useful_threads(num_threads, batch, out_steps, width, taps, filters):
    """Fewer threads for small problems (never affects the results)."""
    flops = 2 * batch * out_steps * width * (taps + filters)
    return max(1, min(num_threads, flops // _MIN_FLOPS_PER_THREAD))


# ----------------------------------------------------------------------------
# Input and output checks
# ----------------------------------------------------------------------------
def check_input(x, dtype, channels, channels_first):
    """x as a C-contiguous array of ``dtype`` with ``channels`` channels."""
    array = _real_array(x, "x")
    if array.ndim != 3:
        raise ValueError(f"Input `x` must be 3-D (batch, steps, channels) or (batch, "
                         f"channels, steps), received shape {array.shape}.")
    axis = 1 if channels_first else 2
    if array.shape[axis] != channels:
        raise ValueError(f"Input `x` must have {channels} channels on axis {axis} "
                         f"({'channels_first' if channels_first else 'channels_last'}), "
                         f"received shape {array.shape}.")
    if array.size > _MAX_ELEMENTS:
        raise ValueError(f"Input `x` is too large: shape {array.shape}.")
    if not (array.dtype == dtype and array.flags.c_contiguous and array.flags.aligned):
        check_allocation(array.size * dtype.itemsize, f"A {dtype} copy of `x` {array.shape}")
    return _as_kernel_array(array, dtype)


def check_out(out, shape, dtype, x):
    """A preallocated output: right shape and dtype, C-contiguous, writable, no overlap."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"Argument `out` must be a numpy.ndarray, received "
                        f"{type(out).__name__}.")
    if out.shape != tuple(shape):
        raise ValueError(f"Argument `out` must have shape {tuple(shape)}, received shape "
                         f"{out.shape}.")
    if out.dtype != dtype:
        raise ValueError(f"Argument `out` must have dtype {dtype}, received dtype "
                         f"{out.dtype}.")
    if not (out.flags.c_contiguous and out.flags.aligned) or out.dtype.byteorder == ">":
        raise ValueError("Argument `out` must be C-contiguous, aligned and native-endian, "
                         f"received strides {out.strides}.")
    if not out.flags.writeable:
        raise ValueError("Argument `out` must be writable, received a read-only array.")
    if np.shares_memory(out, x):
        raise ValueError("Argument `out` must not overlap the input `x`.")
    return out


def output_shape(batch, out_steps, filters, channels_first):
    return (batch, filters, out_steps) if channels_first else (batch, out_steps, filters)


def run_kernel(kernels, x, packed, out, channels_first, taps, mult, filters, use_bias,
               activation, code, strides, dilation_rate, pad_left, num_threads):
    """Call the kernel on validated arrays, then any activation it did not fuse."""
    batch = x.shape[0]
    out_steps = out.shape[2] if channels_first else out.shape[1]
    width = x.shape[1 if channels_first else 2] * mult
    num_threads = useful_threads(num_threads, batch, out_steps, width, taps, filters)
    tile = tiling.forward_tile(out_steps, batch, width, channels_first, num_threads,
                               kernels, x.dtype)
    forward = kernels.forward_float32 if x.dtype == np.float32 else kernels.forward_float64
    forward(x, packed, out, channels_first, taps, mult, filters, use_bias,
            0 if code is None else code, strides, dilation_rate, pad_left, tile, num_threads)
    if code is None:
        return apply_activation(activation, out)
    return out


def apply_activation(activation, out):
    """An activation the kernel did not fuse, applied to its output (in place if it can)."""
    result = np.asarray(activation(out))
    if result.shape != out.shape:
        return result.astype(out.dtype, copy=False)
    if result is not out:
        out[...] = result
    return out


ALGORITHMS = ("auto", "naive", "fused", "tiled", "blocked")


def _run_ladder(algorithm, kernels, x, dw, pw, bias, out, channels_first, activation,
                strides, dilation_rate, pad_left):
    """One rung of the optimization ladder (single-threaded, see src/_ladder.pxi)."""
    dtype = x.dtype
    taps, channels, mult = dw.shape
    filters = pw.shape[2]
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 1)) if channels_first else x
    out_steps = out.shape[2] if channels_first else out.shape[1]
    y = np.empty((x.shape[0], out_steps, filters), dtype=dtype)
    bias_array = (np.zeros(filters, dtype=dtype) if bias is None
                  else np.ascontiguousarray(bias, dtype=dtype))
    packed = pack_weights(dw, pw, bias_array, False, dtype, kernels)
    tile = tiling.forward_tile(out_steps, x.shape[0], channels * mult, False, 1, kernels, dtype)
    kernels.ladder_forward(algorithm, x_cl, np.ascontiguousarray(dw, dtype=dtype),
                           np.ascontiguousarray(pw[0], dtype=dtype), bias_array, packed, y,
                           strides, dilation_rate, pad_left, tile)
    out[...] = y.transpose(0, 2, 1) if channels_first else y
    return apply_activation(activation, out)


def separable_conv1d(x, depthwise_kernel, pointwise_kernel, bias=None, strides=1,
                     padding="valid", dilation_rate=1, data_format=None, activation=None,
                     out=None, num_threads=None, *, isa=None, algorithm="auto"):
    """Depthwise 1-D convolution, pointwise 1x1 convolution, bias, activation.

    Parameters
    ----------
    x : array_like, (batch, steps, channels) or (batch, channels, steps)
    depthwise_kernel : array_like, (kernel_size, channels, depth_multiplier)
    pointwise_kernel : array_like, (1, channels * depth_multiplier, filters)
    bias : array_like (filters,) or None
    strides, dilation_rate : int or tuple/list of one int, > 0
    padding : 'valid' or 'same' (case-insensitive)
    data_format : 'channels_last', 'channels_first' or None (sepconv.config)
    activation : None, a name from sepconv.activations, a config dict or a callable
    out : ndarray, optional
        Preallocated output of the result's shape and dtype.
    num_threads : int, optional
        OpenMP threads; default OpenMP's max threads (threadpoolctl controls it).
    isa : str, optional
        Force an instruction-set level ('baseline', 'avx2', 'avx512').
    algorithm : str
        'auto' (the production kernel, default) or a rung of the optimization
        ladder for teaching: 'naive', 'fused', 'tiled', 'blocked'
        (single-threaded; see docs/optimization.md).

    Returns
    -------
    ndarray, float64 if any weight (or a floating x) is float64, else float32.
    """
    strides = normalize_tuple(strides, "strides")
    dilation_rate = normalize_tuple(dilation_rate, "dilation_rate")
    padding = normalize_padding(padding)
    data_format = normalize_data_format(data_format)
    channels_first = data_format == "channels_first"
    activation_fn, code = resolve_activation(activation)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Argument `algorithm` must be one of {ALGORITHMS}, received "
                         f"algorithm={algorithm!r}.")
    kernels = kernel_module(isa)
    num_threads = check_num_threads(num_threads, kernels)

    dw, pw, bias, (taps, channels, mult, filters) = check_weights(
        depthwise_kernel, pointwise_kernel, bias)
    x_array = _real_array(x, "x")
    dtype = _float_dtype(dw, pw, bias, x_array if x_array.dtype.kind == "f" else None)
    x_array = check_input(x_array, dtype, channels, channels_first)
    steps = x_array.shape[2] if channels_first else x_array.shape[1]
    out_steps, pad_left = conv_geometry(steps, taps, strides, dilation_rate, padding)
    shape = output_shape(x_array.shape[0], out_steps, filters, channels_first)
    if np.prod(shape, dtype=object) > _MAX_ELEMENTS:
        raise ValueError(f"The output would be too large: shape {shape}.")
    if out is None:
        check_allocation(int(np.prod(shape, dtype=object)) * dtype.itemsize,
                         f"The output {shape}")
        out = np.empty(shape, dtype=dtype)
    else:
        check_out(out, shape, dtype, x_array)
    if algorithm != "auto":
        return _run_ladder(algorithm, kernels, x_array, dw, pw, bias, out, channels_first,
                           activation_fn, strides, dilation_rate, pad_left)
    packed = pack_weights(dw, pw, bias, channels_first, dtype, kernels)
    return run_kernel(kernels, x_array, packed, out, channels_first, taps, mult, filters,
                      bias is not None, activation_fn, code, strides, dilation_rate,
                      pad_left, num_threads)
