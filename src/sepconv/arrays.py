"""Array arguments: validation and conversion to what the kernels read.

Every array that reaches a kernel passes through here first: a real numeric
dtype, the expected shape, C-contiguous, aligned and native-endian in the
computation dtype, element counts bounded so that no kernel offset can
overflow, and allocations bounded by the machine's memory.  Errors name the
argument and the value received.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["MAX_ELEMENTS", "check_allocation", "real_array", "float_dtype", "as_kernel_array",
           "check_weights", "check_input", "check_out", "empty", "ALIGNED_FROM"]

# Largest element count we agree to index (kernels use ssize_t offsets);
# anything larger is a ValueError before any allocation.
MAX_ELEMENTS = np.iinfo(np.intp).max // 16


#: Arrays sepconv allocates (outputs, stream buffers) of at least this many
#: bytes start on a 64-byte line.  NumPy aligns to 16 bytes; a vector store
#: across two lines measured 1.5-3% slower (Zen 4: quartz_b8 9.52 -> 9.83
#: ms, audio_b1 321 -> 326 us with the output at 16 mod 64).  Smaller arrays
#: keep np.empty: there the slicing would cost more than it saves.
ALIGNED_FROM = 64 * 1024


def empty(shape, dtype):
    """np.empty(shape, dtype), starting on a 64-byte line when it is large.

    A C-contiguous, writable view of a slightly larger buffer (its ``base``)
    when it holds at least ALIGNED_FROM bytes; a plain np.empty otherwise.
    """
    dtype = np.dtype(dtype)
    count = 1
    for size in shape:
        count *= size
    nbytes = count * dtype.itemsize
    if nbytes < ALIGNED_FROM:
        return np.empty(shape, dtype)
    raw = np.empty(nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + nbytes].view(dtype).reshape(shape)


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


def real_array(value, name):
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


def float_dtype(*arrays):
    """float64 if any floating argument is float64 or wider, else float32."""
    for array in arrays:
        if array is not None and array.dtype.kind == "f" and array.dtype.itemsize >= 8:
            return np.dtype(np.float64)
    return np.dtype(np.float32)


def as_kernel_array(array, dtype):
    """C-contiguous, aligned, native-endian copy (or the array itself)."""
    return np.require(array, dtype=dtype, requirements=["C", "A"])


def check_weights(depthwise_kernel, pointwise_kernel, bias):
    """Validate the three weights; return (dw, pw, bias) arrays and (K, C, M, F)."""
    dw = real_array(depthwise_kernel, "depthwise_kernel")
    pw = real_array(pointwise_kernel, "pointwise_kernel")
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
        bias = real_array(bias, "bias")
        if bias.shape != (filters,):
            raise ValueError(f"Argument `bias` must have shape ({filters},), received "
                             f"shape {bias.shape}.")
    if taps * channels * mult > MAX_ELEMENTS or channels * mult * filters > MAX_ELEMENTS:
        raise ValueError(f"Weights are too large: depthwise_kernel shape {dw.shape}, "
                         f"pointwise_kernel shape {pw.shape}.")
    return dw, pw, bias, (taps, channels, mult, filters)


def check_input(x, dtype, channels, channels_first):
    """x as a C-contiguous array of ``dtype`` with ``channels`` channels."""
    array = real_array(x, "x")
    if array.ndim != 3:
        raise ValueError(f"Input `x` must be 3-D (batch, steps, channels) or (batch, "
                         f"channels, steps), received shape {array.shape}.")
    axis = 1 if channels_first else 2
    if array.shape[axis] != channels:
        raise ValueError(f"Input `x` must have {channels} channels on axis {axis} "
                         f"({'channels_first' if channels_first else 'channels_last'}), "
                         f"received shape {array.shape}.")
    if array.size > MAX_ELEMENTS:
        raise ValueError(f"Input `x` is too large: shape {array.shape}.")
    if not (array.dtype == dtype and array.flags.c_contiguous and array.flags.aligned):
        check_allocation(array.size * dtype.itemsize, f"A {dtype} copy of `x` {array.shape}")
    return as_kernel_array(array, dtype)


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
