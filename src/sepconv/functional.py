"""The stateless functional form, and which kernel module runs.

``separable_conv1d`` validates its arguments into a ``plan.ConvSpec`` and the
arrays through ``sepconv.arrays``, packs the weights and runs the plan; the
layer, the backward pass and Dask use the same pieces.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Optional

import numpy as np

from . import _fork, arrays, dispatch, packing, tiling
from ._typing import ArrayLike, IntOrTuple
from .conv_utils import normalize_int
from .plan import ConvSpec, apply_activation

__all__ = ["separable_conv1d", "pack_weights", "kernel_module", "isa_level",
           "check_num_threads", "ALGORITHMS"]

_LEVEL = dispatch.select_level()
_KERNELS = {_LEVEL: dispatch.load(_LEVEL)}

#: The forward packed layout (``sepconv.packing`` owns it).
pack_weights = packing.pack_forward


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


#: The most threads a call may ask for: 8 per CPU, and at least 64.  More is
#: never useful, and asking OpenMP for thousands of threads can end the
#: process where thread creation fails (libgomp exits).
MAX_THREADS = max(64, 8 * (os.cpu_count() or 1))


def check_num_threads(num_threads, kernels):
    """None -> OpenMP's max threads (threadpoolctl controls it); else 1..MAX_THREADS."""
    if num_threads is None:
        threads = min(kernels.max_threads(), MAX_THREADS)
    else:
        threads = normalize_int(num_threads, "num_threads", maximum=MAX_THREADS)
    return 1 if _fork.serial_only else threads


def prepare(x, depthwise_kernel, pointwise_kernel, bias, strides, padding, dilation_rate,
            data_format, activation, num_threads, isa):
    """Validate the functional form's arguments.

    Returns ``(spec, kernels, threads, x, (dw, pw, bias))`` with x converted
    to the kernel's layout; shared with the backward pass.
    """
    kernels = kernel_module(isa)
    threads = check_num_threads(num_threads, kernels)
    dw, pw, bias, (taps, channels, mult, filters) = arrays.check_weights(
        depthwise_kernel, pointwise_kernel, bias)
    x_array = arrays.real_array(x, "x")
    dtype = arrays.float_dtype(dw, pw, bias, x_array if x_array.dtype.kind == "f" else None)
    spec = ConvSpec.create(filters=filters, kernel_size=taps, strides=strides, padding=padding,
                           data_format=data_format, dilation_rate=dilation_rate,
                           depth_multiplier=mult, activation=activation,
                           use_bias=bias is not None, dtype=dtype)
    x_array = arrays.check_input(x_array, dtype, channels, spec.channels_first)
    return spec, kernels, threads, x_array, (dw, pw, bias)


# ------------------------------------------------------------------ caches
# The functional form is stateless for its caller, but repeated calls with the
# same weight arrays (a loop over batches, a served model) should not pay for
# packing them, nor for planning the same shape, every time.  Both caches are
# small and bounded; entries are keyed by value (plans) or by the weight
# arrays' identity and checked against a private copy of their values
# (packed weights), so a weight changed in place between calls is repacked.
_CACHE_SIZE = 16
_plan_cache: dict = {}
_pack_cache: dict = {}


def _remember(cache, key, value):
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)), None)  # the oldest entry
    cache[key] = value


def _cached_plan(spec, shape, threads, kernels):
    key = (spec, shape, threads, kernels)
    try:
        plan = _plan_cache.get(key)
    except TypeError:  # an unhashable activation (a callable object)
        return spec.plan(shape, threads, kernels)
    if plan is None:
        plan = spec.plan(shape, threads, kernels)
        _remember(_plan_cache, key, plan)
    return plan


def _fingerprint(array):
    return (array.shape, array.strides, array.dtype.str, array.tobytes())


def _cached_packing(given, weights, spec, kernels):
    """pack_forward of ``weights``, reused while the caller's arrays are unchanged.

    ``given`` are the caller's own arguments: only ndarrays are cached (a
    list is a new object every call), by identity, and a hit must also find
    the same shape, strides, dtype and bytes as when they were packed.
    """
    dw, pw, bias = weights
    if not all(w is None or type(w) is np.ndarray for w in given):
        return packing.pack_forward(dw, pw, bias, spec.channels_first, spec.dtype, kernels)
    key = (tuple(id(w) for w in given), spec.channels_first, spec.dtype.char, kernels)
    entry = _pack_cache.get(key)
    prints = tuple(None if w is None else _fingerprint(w) for w in given)
    if entry is not None:
        refs, old_prints, packed = entry
        if all((r is None and w is None) or (r is not None and r() is w)
               for r, w in zip(refs, given)) and old_prints == prints:
            return packed
    packed = packing.pack_forward(dw, pw, bias, spec.channels_first, spec.dtype, kernels)
    packed.flags.writeable = False
    refs = tuple(None if w is None else weakref.ref(w) for w in given)
    _remember(_pack_cache, key, (refs, prints, packed))
    return packed


ALGORITHMS = ("auto", "naive", "fused", "interchanged", "tiled", "blocked", "vector")


def _run_ladder(algorithm, spec, kernels, x, weights, out, pad_left):
    """One rung of the optimization ladder (single-threaded, see src/kernels/ladder.pxi)."""
    dtype = spec.dtype
    dw, pw, bias = weights
    filters = spec.filters
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 1)) if spec.channels_first else x
    batch, out_steps = x.shape[0], out.shape[2] if spec.channels_first else out.shape[1]
    y = np.empty((batch, out_steps, filters), dtype=dtype)
    bias_array = (np.zeros(filters, dtype=dtype) if bias is None
                  else np.ascontiguousarray(bias, dtype=dtype))
    packed = packing.pack_forward(dw, pw, bias_array, False, dtype, kernels)
    tile = tiling.forward_tile(out_steps, batch, dw.shape[1] * dw.shape[2], False, 1, kernels,
                               dtype)
    kernels.ladder_forward(algorithm, x_cl, np.ascontiguousarray(dw, dtype=dtype),
                           np.ascontiguousarray(pw[0], dtype=dtype), bias_array, packed, y,
                           spec.strides, spec.dilation_rate, pad_left, tile)
    out[...] = y.transpose(0, 2, 1) if spec.channels_first else y
    return apply_activation(spec.activation, out)


def separable_conv1d(x: ArrayLike, depthwise_kernel: ArrayLike, pointwise_kernel: ArrayLike,
                     bias: Optional[ArrayLike] = None, strides: IntOrTuple = 1,
                     padding: str = "valid", dilation_rate: IntOrTuple = 1,
                     data_format: Optional[str] = None, activation: Any = None,
                     out: Optional[np.ndarray] = None, num_threads: Optional[int] = None, *,
                     isa: Optional[str] = None, algorithm: str = "auto") -> np.ndarray:
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
        ladder for teaching: 'naive', 'fused', 'interchanged', 'tiled', 'blocked',
        'vector'
        (single-threaded; see docs/optimization.md).

    Returns
    -------
    ndarray, float64 if any weight (or a floating x) is float64, else float32.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Argument `algorithm` must be one of {ALGORITHMS}, received "
                         f"algorithm={algorithm!r}.")
    spec, kernels, threads, x_array, weights = prepare(
        x, depthwise_kernel, pointwise_kernel, bias, strides, padding, dilation_rate,
        data_format, activation, num_threads, isa)
    plan = _cached_plan(spec, x_array.shape, threads, kernels)
    if out is None:
        out = arrays.empty(plan.output_shape, spec.dtype)
    else:
        arrays.check_out(out, plan.output_shape, spec.dtype, x_array)
    if algorithm != "auto":
        return _run_ladder(algorithm, spec, kernels, x_array, weights, out, plan.pad_left)
    packed = _cached_packing((depthwise_kernel, pointwise_kernel, bias), weights, spec, kernels)
    return plan.run(x_array, packed, out)
