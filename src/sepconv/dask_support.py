"""``SeparableConv1D`` on dask arrays: chunked, lazy, and bitwise equal to the in-memory call.

``layer(x)`` with a dask array ``x`` ends up in :func:`apply_layer`, which
returns a lazy dask array equal to ``layer(x.compute())``.  dask is an
optional dependency: it is imported inside the functions only.

Axes
----
* batch: blockwise, any chunking (every output block keeps its batch chunk);
* channels: one chunk (rechunked if needed), the kernel mixes all of them;
* steps: any chunking; several chunks are handled with halos (below).

Halo arithmetic (steps axis)
----------------------------
With L input steps, K taps, stride s, dilation d, the dilated kernel spans
``span = (K - 1) * d + 1`` steps, and ``(T, P) = conv_geometry(L, ...)``
gives the output length T and the left padding P (Keras's rule; 0 for
'valid').  Output step t reads the input positions::

    t * s - P + k * d,    k = 0 .. K - 1

and taps outside ``[0, L)`` contribute nothing.  The output is cut into
chunks ``[t0, t1)``: output step t belongs to the input chunk holding its
first tap ``t * s - P`` (clamped to chunk 0 for 'same' steps whose first
tap is in the left padding), so the boundary matching input boundary
``b`` is ``ceil((b + P) / s)``.  Empty output chunks are dropped, and
neighbours are merged until each chunk covers at least ``span`` input steps
(``(t1 - t0) * s >= span``), so that chunks smaller than the dilated kernel
cost no more than twice their size in halo.  Output chunk ``[t0, t1)`` needs
the input range::

    lo = t0 * s - P                      (first tap of the first output step)
    hi = (t1 - 1) * s - P + span         (one past the last tap of the last one)

which is cut at the sequence's edges to ``[a, b) = [max(lo, 0), min(hi, L))``;
the slice ``x[a:b]`` (it may cover several input chunks and is merged into
one block) is zero padded by ``a - lo`` steps on the left and ``hi - b`` on
the right, and a 'valid' convolution of the padded piece gives exactly the
``(hi - lo - span) // s + 1 = t1 - t0`` output steps wanted.  Only the first
and last pieces are ever padded.

Exactness.  The kernel sums every value over the taps in order, starting
from +0.0, whatever its tiling and thread count, and a piece sees the same
input values at the same taps as the whole array, so interior values are
bitwise equal.  At the edges the whole-array call *skips* taps in the
padding, while a padded piece adds ``0 * w`` for them: for a finite weight
w that is a signed zero, and adding a zero to a sum that started at +0.0
never changes its bits (such a sum is never -0.0), so the results are
bitwise equal as long as the depthwise weights are finite (non-finite input
values are fine: padding never multiplies them).  With an inf or NaN
depthwise weight, edge outputs could be NaN where the in-memory call is
not.  When the steps axis is a single chunk, the layer's own padding is used
and the result is bitwise equal unconditionally.

Activations act on the last axis of the output.  For channels_last that is
the filters axis, always one chunk, so the activation runs inside each
block.  For channels_first it is the steps axis: activations that are not
element-wise (softmax, log_softmax, glu, sparsemax, or an unknown callable)
run on the pre-activation output rechunked to one steps chunk.

Not supported: the activity regularizer's loss is not recorded for dask
inputs (``layer.losses`` keeps the value of the last in-memory call, if
any), and ``out=`` is not accepted.  The weights are captured when the graph
is built: later ``set_weights`` calls do not change a graph already built.
"""

from __future__ import annotations

import numpy as np

from . import activations as _activations
from .conv_utils import conv_geometry, normalize_int
from . import functional
from .functional import separable_conv1d
from .plan import apply_activation

__all__ = ["apply_layer", "steps_plan"]


def steps_plan(chunks, kernel_size, strides, dilation_rate, padding):
    """Output chunking of the steps axis and the input range each chunk needs.

    ``chunks`` are the input's steps chunks.  Returns ``(out_steps, pieces)``
    with one ``(t0, t1, a, b, pad_lo, pad_hi)`` per output chunk: output
    steps ``[t0, t1)`` are the 'valid' convolution of input steps ``[a, b)``
    padded with ``pad_lo`` zeros on the left and ``pad_hi`` on the right.
    """
    steps = int(sum(chunks))
    out_steps, pad_left = conv_geometry(steps, kernel_size, strides, dilation_rate, padding)
    span = (kernel_size - 1) * dilation_rate + 1
    if out_steps == 0:
        return out_steps, []
    # Output boundaries: ceil((b + P) / s) for each inner input boundary b.
    bounds = [0]
    position = 0
    for size in chunks[:-1]:
        position += size
        t = min(max(-(-(position + pad_left) // strides), 0), out_steps)
        if t > bounds[-1]:
            bounds.append(t)
    if bounds[-1] < out_steps:
        bounds.append(out_steps)
    # Merge neighbours until each output chunk covers at least ``span`` inputs;
    # a short last chunk joins the one before it.
    merged = [0]
    for t in bounds[1:]:
        if (t - merged[-1]) * strides >= span or t == out_steps:
            merged.append(t)
    if len(merged) > 2 and (merged[-1] - merged[-2]) * strides < span:
        del merged[-2]
    pieces = []
    for t0, t1 in zip(merged[:-1], merged[1:]):
        lo = t0 * strides - pad_left
        hi = (t1 - 1) * strides - pad_left + span
        a, b = max(lo, 0), min(hi, steps)
        pieces.append((t0, t1, a, b, a - lo, hi - b))
    return out_steps, pieces


def _is_elementwise(activation):
    name = _activations.name_of(activation)
    return name is not None and name in _activations.ELEMENTWISE


def _activated_length(activation, length, dtype):
    """Length of the last axis after ``activation`` (glu halves it)."""
    if _is_elementwise(activation) or length == 0:
        return length
    probe = np.asarray(activation(np.zeros((1, 1, length), dtype=dtype)))
    return int(probe.shape[-1])


def _convolve_block(block, weights, strides, padding, dilation_rate, data_format,
                    activation, num_threads, pad, axis):
    if pad != (0, 0):
        widths = [(0, 0)] * 3
        widths[axis] = pad
        block = np.pad(block, widths)
    depthwise, pointwise, bias = weights
    return separable_conv1d(block, depthwise, pointwise, bias, strides=strides,
                            padding=padding, dilation_rate=dilation_rate,
                            data_format=data_format, activation=activation,
                            num_threads=num_threads)


def _activate_block(block, activation, dtype):
    return apply_activation(activation, np.array(block, dtype=dtype, order="C", copy=True))


def apply_layer(layer, x, num_threads=None):
    """``layer(x)`` for a dask array ``x``, as a lazy dask array (see the module docstring)."""
    import dask.array as da

    if not isinstance(x, da.Array):
        x = da.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"Input `x` must be 3-D (batch, steps, channels) or (batch, "
                         f"channels, steps), received shape {x.shape}.")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"Argument `inputs` must hold real numbers, received a dask "
                        f"array of dtype {x.dtype}.")
    channels_first = layer.data_format == "channels_first"
    channel_axis = 1 if channels_first else 2
    steps_axis = 2 if channels_first else 1
    channels = x.shape[channel_axis]
    if channels != channels or channels is None:  # NaN: unknown
        raise ValueError("The channel dimension of a dask input must be known; call "
                         "`x.compute_chunk_sizes()` first.")
    if any(c != c for c in x.chunks[steps_axis]):
        raise ValueError("The steps chunk sizes of a dask input must be known; call "
                         "`x.compute_chunk_sizes()` first.")
    if not layer.built:
        layer.build(tuple(x.shape))
    if channels != layer.input_channels:
        raise ValueError(f"Input `x` must have {layer.input_channels} channels on axis "
                         f"{channel_axis} ({layer.data_format}), received shape {x.shape}.")

    if num_threads is not None:
        num_threads = normalize_int(num_threads, "num_threads",  # fail now, not at compute
                                    maximum=functional.MAX_THREADS)
    dtype = np.dtype(layer.dtype)
    x = x.astype(dtype)
    if len(x.chunks[channel_axis]) != 1:
        x = x.rechunk({channel_axis: -1})

    taps, stride, dilation = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
    weights = (layer.depthwise_kernel, layer.pointwise_kernel, layer.bias)
    activation = layer.activation
    filters = layer.filters
    meta = np.empty((0, 0, 0), dtype=dtype)
    steps_chunks = x.chunks[steps_axis]
    out_steps, pieces = steps_plan(steps_chunks, taps, stride, dilation, layer.padding)

    def output_chunks(batch_chunks, steps_chunk, filters_chunk):
        if channels_first:
            return (batch_chunks, (filters_chunk,), (steps_chunk,))
        return (batch_chunks, (steps_chunk,), (filters_chunk,))

    def convolve(piece, steps_chunk, padding, pad, act):
        last = steps_chunk if channels_first else filters
        if act is not None:
            last = _activated_length(act, last, dtype)
        if channels_first:
            chunks = output_chunks(piece.chunks[0], last, filters)
        else:
            chunks = output_chunks(piece.chunks[0], steps_chunk, last)
        return piece.map_blocks(
            _convolve_block, weights, stride, padding, dilation, layer.data_format, act,
            num_threads, pad, steps_axis, chunks=chunks, dtype=dtype, meta=meta,
            token="sepconv")

    if len(pieces) <= 1:
        # One steps chunk: the layer's own padding, exact in every case.
        if len(steps_chunks) != 1:
            x = x.rechunk({steps_axis: -1})
        return convolve(x, out_steps, layer.padding, (0, 0), activation)

    deferred = channels_first and not _is_elementwise(activation)
    act = None if deferred else activation
    blocks = []
    for t0, t1, a, b, pad_lo, pad_hi in pieces:
        index = [slice(None)] * 3
        index[steps_axis] = slice(a, b)
        piece = x[tuple(index)]
        if len(piece.chunks[steps_axis]) != 1:
            piece = piece.rechunk({steps_axis: -1})
        blocks.append(convolve(piece, t1 - t0, "valid", (pad_lo, pad_hi), act))
    y = da.concatenate(blocks, axis=steps_axis)
    if deferred:
        y = y.rechunk({2: -1})
        last = _activated_length(activation, out_steps, dtype)
        y = y.map_blocks(_activate_block, activation, dtype,
                         chunks=(y.chunks[0], y.chunks[1], (last,)), dtype=dtype, meta=meta,
                         token="sepconv-activation")
    return y
