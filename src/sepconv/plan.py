"""The plan core: a convolution validated once, then planned per input shape.

``ConvSpec`` is the immutable, validated description of one separable
convolution: Keras's arguments after normalisation, plus the computation
dtype.  It is made only by ``ConvSpec.create``, which checks every argument;
nothing downstream of a spec validates again.

``spec.plan(input_shape, threads, kernels)`` makes a ``Plan``: everything one
call with that input shape needs (output shape, left padding, useful thread
count, tile, the kernel entry point and its bound arguments), computed once.
The layer keeps one spec and a cache of plans; the functional form, the
backward pass and Dask make a spec from their arguments and plan from it.

``WeightSet`` is an immutable snapshot of the three weights together with
their packed forms, made lazily per kernel module.  A layer replaces the
whole snapshot when its weights change and a call reads it once, so a call
never mixes old and new weights and a packed copy can never go stale.

Path of a call: ``layer(x)`` -> ``arrays.check_input`` (only when x is not
already in the kernel's layout) -> ``WeightSet.packed`` (cached) ->
``Plan`` (cached per shape and thread count) -> ``Plan.run`` -> the kernel
module's ``BoundForward.run``, which checks the arrays against the plan with
a few C comparisons and calls the kernel.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from . import activations as _activations
from . import _fork, arrays, packing, tiling, tuning
from .conv_utils import (MAX_SPAN, Geometry, conv_geometry, normalize_data_format,
                         normalize_int, normalize_padding, normalize_tuple)

__all__ = ["ConvSpec", "Plan", "WeightSet", "useful_threads", "apply_activation"]


def _fused_codes():
    from . import dispatch

    module = dispatch.load(dispatch.available_levels()[-1])
    return dict(module.FUSED_ACTIVATIONS)


_FUSED_CODES = _fused_codes()
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Below this many FLOPs per thread, waking another thread costs more than it saves.
_MIN_FLOPS_PER_THREAD = 200_000


def useful_threads(num_threads, batch, out_steps, width, taps, filters):
    """Fewer threads for small problems (never affects the results)."""
    flops = 2 * batch * out_steps * width * (taps + filters)
    return max(1, min(num_threads, flops // _MIN_FLOPS_PER_THREAD))


def apply_activation(activation, out):
    """An activation the kernel did not fuse, applied to its output (in place if it can)."""
    result = np.asarray(activation(out))
    if result.shape != out.shape:
        return result.astype(out.dtype, copy=False)
    if result is not out:
        out[...] = result
    return out


class ConvSpec(NamedTuple):
    """A validated separable convolution (see the module docstring).

    ``kernel_size``, ``strides`` and ``dilation_rate`` are plain ints here;
    the layer shows them as Keras's 1-tuples.  Immutable (a tuple), and cheap
    to make: the functional form makes one per call.
    """

    filters: int
    kernel_size: int
    strides: int
    padding: str
    data_format: str
    dilation_rate: int
    depth_multiplier: int
    activation: Callable
    use_bias: bool
    dtype: np.dtype
    fused_code: Optional[int]

    @classmethod
    def create(cls, *, filters, kernel_size, strides=1, padding="valid", data_format=None,
               dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
               dtype=np.float32):
        """Validate and normalise every argument (errors name the argument and value)."""
        strides = normalize_tuple(strides, "strides")
        dilation_rate = normalize_tuple(dilation_rate, "dilation_rate")
        padding = normalize_padding(padding)
        data_format = normalize_data_format(data_format)
        activation = _activations.get(activation)
        filters = normalize_int(filters, "filters")
        kernel_size = normalize_tuple(kernel_size, "kernel_size")
        depth_multiplier = normalize_int(depth_multiplier, "depth_multiplier")
        span = (kernel_size - 1) * dilation_rate + 1
        if span > MAX_SPAN:
            raise ValueError(f"The dilated kernel, (kernel_size - 1) * dilation_rate + 1 = "
                             f"{span} steps, must be <= {MAX_SPAN}: received "
                             f"kernel_size={kernel_size}, dilation_rate={dilation_rate}.")
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"Argument `use_bias` must be a bool, received "
                            f"use_bias={use_bias!r}.")
        dtype = np.dtype(dtype)
        if dtype not in _FLOAT_DTYPES:
            raise ValueError(f"The computation dtype must be float32 or float64, received "
                             f"{dtype}.")
        code = _FUSED_CODES.get(_activations.name_of(activation))
        return cls(filters, kernel_size, strides, padding, data_format, dilation_rate,
                   depth_multiplier, activation, bool(use_bias), dtype, code)

    def without_activation(self):
        """The same convolution with a linear activation (the pre-activation output)."""
        return self._replace(activation=_activations.get(None),
                             fused_code=_FUSED_CODES["linear"])

    @property
    def channels_first(self):
        return self.data_format == "channels_first"

    def split(self, shape):
        """(batch, steps, channels) of an input shape in this spec's layout."""
        if self.channels_first:
            return shape[0], shape[2], shape[1]
        return shape[0], shape[1], shape[2]

    def geometry(self, steps) -> Geometry:
        """(out_steps, pad_left) for ``steps`` input steps (ValueError if too short)."""
        return conv_geometry(steps, self.kernel_size, self.strides, self.dilation_rate,
                             self.padding)

    def output_shape(self, batch, out_steps):
        if self.channels_first:
            return (batch, self.filters, out_steps)
        return (batch, out_steps, self.filters)

    def weight_shapes(self, channels):
        """Keras's weight shapes for ``channels`` input channels."""
        shapes = [(self.kernel_size, channels, self.depth_multiplier),
                  (1, channels * self.depth_multiplier, self.filters)]
        if self.use_bias:
            shapes.append((self.filters,))
        return shapes

    def plan(self, input_shape, num_threads, kernels, blocking=None):
        """The Plan for inputs of ``input_shape`` (already checked) and ``num_threads``.

        The tile and kc are ``blocking`` (sepconv.tune's candidates), or what
        this machine's wisdom recorded for the problem, or the rule's (all
        checked by tiling.forward_blocking).
        """
        batch, steps, channels = self.split(input_shape)
        out_steps, pad_left = self.geometry(steps)
        output_shape = self.output_shape(batch, out_steps)
        count = batch * out_steps * self.filters  # Python ints: no overflow
        if count > arrays.MAX_ELEMENTS:
            raise ValueError(f"The output would be too large: shape {output_shape}.")
        arrays.check_allocation(count * self.dtype.itemsize, f"The output {output_shape}")
        width = channels * self.depth_multiplier
        threads = _fork.note_threads(useful_threads(num_threads, batch, out_steps, width,
                                                    self.kernel_size, self.filters))
        if blocking is None:
            blocking = tuning.lookup(tuning.problem_key(
                kernels.ISA, self.dtype, self.channels_first, batch, out_steps, width,
                self.filters, self.kernel_size, self.strides, self.dilation_rate, threads))
        layout = tiling.forward_layout(self.channels_first, self.strides, width, out_steps)
        tile, kc = tiling.forward_blocking(out_steps, batch, width, layout, threads, kernels,
                                           self.dtype, blocking)
        code = self.fused_code
        forward = kernels.BoundForward(
            "float32" if self.dtype.char == "f" else "float64", tuple(input_shape), output_shape, layout,
            self.kernel_size, self.depth_multiplier, self.filters, self.use_bias,
            0 if code is None else code, self.strides, self.dilation_rate, pad_left, tile, kc,
            threads, packing.forward_size(self.kernel_size, channels, self.depth_multiplier,
                                          self.filters, self.channels_first, self.dtype,
                                          kernels))
        return Plan(output_shape, forward, None if code is not None else self.activation,
                    pad_left, threads, tile)


class Plan(NamedTuple):
    """Everything one call with a given input shape and thread count needs.

    A tuple, so the layer's hot path unpacks it in one step.
    """

    output_shape: tuple
    forward: Any           # the kernel module's BoundForward: .run(x, packed, out)
    post_activation: Optional[Callable]   # an activation the kernel does not fuse
    pad_left: int
    threads: int
    tile: int

    def run(self, x, packed, out):
        """The kernel on checked arrays, then any activation it did not fuse."""
        self.forward.run(x, packed, out)
        if self.post_activation is not None:
            return apply_activation(self.post_activation, out)
        return out


class WeightSet:
    """The three weights (read-only arrays) and their packed forms: one snapshot.

    Unpacks as ``depthwise, pointwise, bias = weight_set``.  ``packed``
    computes the kernel layout (for the snapshot's data layout) once per
    kernel module; two threads asking at once may both pack, and store equal
    arrays.
    """

    __slots__ = ("_arrays", "channels_first", "compute", "cache")

    def __init__(self, depthwise, pointwise, bias, dtype, channels_first, compute=None):
        frozen = []
        for array in (depthwise, pointwise, bias):
            if array is not None:
                array = np.array(array, dtype=dtype, order="C", copy=True)
                array.flags.writeable = False
            frozen.append(array)
        self._arrays = tuple(frozen)
        self.channels_first = bool(channels_first)
        self.compute = compute  # a mixed policy's compute dtype: pack rounded weights
        self.cache: dict[Any, np.ndarray] = {}   # kernel module -> packed weights

    def __iter__(self):
        return iter(self._arrays)

    def __getstate__(self):
        # The arrays only: packed forms belong to this process's kernel modules.
        return self._arrays, self.channels_first, self.compute

    def __setstate__(self, state):
        arrays, self.channels_first, self.compute = state
        for array in arrays:
            if array is not None:
                array.flags.writeable = False
        self._arrays = tuple(arrays)
        self.cache = {}

    def __getitem__(self, index):
        return self._arrays[index]

    def packed(self, kernels):
        packed = self.cache.get(kernels)
        if packed is None:
            depthwise, pointwise, bias = self._arrays
            if self.compute is not None:  # Keras casts the variables to the compute dtype
                from . import precision
                depthwise, pointwise, bias = (
                    None if w is None else precision.round_to(w, self.compute)
                    for w in (depthwise, pointwise, bias))
            packed = packing.pack_forward(depthwise, pointwise, bias, self.channels_first,
                                          depthwise.dtype, kernels)
            packed.flags.writeable = False
            self.cache[kernels] = packed
        return packed
