"""Streaming inference: a layer fed chunk by chunk, bitwise equal to the offline call.

A ``Stream`` keeps the input steps that outputs still need (at most the
dilated kernel's span minus one, plus the stride phase) and counts the steps
seen.  ``push(chunk)`` appends the new steps and returns every output step
whose window now lies entirely inside the steps seen, or starts before the
sequence (the left padding of 'same', which the kernel skips as the offline
call does); ``flush()`` returns the rest (the right padding of 'same': taps
past the end of the sequence are skipped) and starts a new sequence.

Why the bits are the offline call's: an output step is computed by the same
kernel from the same input values, each depthwise value summed over the taps
in order and each output over the depthwise channels in order, skipping the
same taps; which call computes it, and how many steps around it that call
sees, changes neither the operands nor the order.  A layer's
``channels_first`` stream computes in the channels_last kernel (the two
layouts give the same bits) so that its history is a slice of one buffer.

The steps are kept in one buffer per stream, written in place and moved to
its front only when it is full: each input step is copied into the buffer
once and moved at most a few times, however small the chunks.

Keras's 'same' rule splits the padding of a strided layer by the total
length (``padding_amounts``), which a stream sees only at its end; such a
stream needs the total length up front (``steps=``) when the split depends
on it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from . import activations as _activations
from . import arrays, packing, precision, tiling
from .conv_utils import conv_geometry, normalize_int
from .plan import apply_activation, useful_threads

__all__ = ["Stream", "separable_conv1d_stream"]

#: Activations that mix output steps: a stream cannot compute them chunk by chunk
#: when the last axis is the steps axis (channels_first).
_AXIS_WISE = ("softmax", "log_softmax", "glu", "sparsemax")
_BOUND_CACHE = 64


class Stream:
    """Chunk-by-chunk forward calls of one layer (``SeparableConv1D.stream``).

    Attributes
    ----------
    batch_size : int
    delay : int
        Lookahead: output step ``t`` (its window starting at input step
        ``t * strides - pad_left``) is returned by the push that brings input
        step ``t * strides + delay``.  For 'same' with stride 1 that is the
        right padding, ``(kernel_size - 1) * dilation_rate - pad_left``.
    steps_seen : int
        Input steps pushed since the start of the sequence.
    outputs_returned : int
        Output steps returned since the start of the sequence.
    """

    def __init__(self, owner, spec, channels, mixed=None, name="", batch_size=1,
                 num_threads=None, steps=None):
        # owner: anything whose ``_weights`` is the current WeightSet (a layer).
        from . import functional

        self.batch_size = normalize_int(batch_size, "batch_size", minimum=1,
                                        maximum=arrays.MAX_ELEMENTS)
        self._owner = owner
        self._name = name
        self._spec = spec
        self._kernels = functional.kernel_module()
        self._threads = functional.check_num_threads(num_threads, self._kernels)
        self._channels = channels
        self._dtype = spec.dtype
        self._mixed = mixed
        self._channels_first = spec.channels_first
        if self.batch_size * self._channels > arrays.MAX_ELEMENTS:
            raise ValueError(f"Argument `batch_size` is too large: batch_size="
                             f"{self.batch_size} with {channels} channels.")
        self._span = (spec.kernel_size - 1) * spec.dilation_rate + 1
        name = _activations.name_of(spec.activation)
        if self._channels_first and (name in _AXIS_WISE):
            raise ValueError(f"A channels_first stream cannot apply activation={name!r}: it "
                             f"works along the last axis, the steps, which a stream sees a "
                             f"chunk at a time.")
        self._post = None if spec.fused_code is not None else spec.activation
        self._code = 0 if spec.fused_code is None else spec.fused_code
        self._total = None if steps is None else normalize_int(steps, "steps", minimum=0,
                                                                maximum=arrays.MAX_ELEMENTS)
        self._pad_left = self._left_padding()
        self.delay = self._span - 1 - self._pad_left
        self._bounds: Dict[Any, Any] = {}
        self._copy_rows = self._kernels.copy_rows
        self._stride = spec.strides
        self._fast = (not self._channels_first and self._post is None and self._mixed is None
                      and self._total is None)
        self._nothing = np.empty((self.batch_size, 0, spec.filters), dtype=self._dtype)
        self._row_bytes = self.batch_size * spec.filters * self._dtype.itemsize  # per step
        self._nothing.flags.writeable = False
        self._packed_for = (None, None)
        self._buffer = np.zeros((self.batch_size, max(64, 2 * self._span), self._channels),
                                dtype=self._dtype)
        self.reset()

    # ------------------------------------------------------------- geometry
    def _left_padding(self):
        """The left padding of the whole sequence (ValueError if it needs steps=)."""
        spec = self._spec
        if spec.padding != "same":
            return 0
        if self._total is not None:
            return conv_geometry(self._total, spec.kernel_size, spec.strides,
                                 spec.dilation_rate, "same").pad_left
        # Keras's split depends on the total length only through its phase.
        phases = {conv_geometry(spec.strides + r, spec.kernel_size, spec.strides,
                                spec.dilation_rate, "same").pad_left
                  for r in range(spec.strides)}
        if len(phases) > 1:
            raise ValueError(f"A 'same' layer with strides={spec.strides} and a dilated "
                             f"kernel of {self._span} steps pads by the total length "
                             f"(Keras's rule): pass steps=<total input steps> to stream().")
        return phases.pop()

    def _final_outputs(self, seen):
        """Output steps whose windows lie inside the first ``seen`` input steps."""
        last = seen - self._span + self._pad_left
        return 0 if last < 0 else last // self._spec.strides + 1

    def output_steps(self, steps):
        """Output steps the next ``push`` of ``steps`` input steps returns."""
        steps = normalize_int(steps, "steps", minimum=0, maximum=arrays.MAX_ELEMENTS)
        return self._final_outputs(self.steps_seen + steps) - self.outputs_returned

    def flush_steps(self):
        """Output steps the next ``flush()`` returns."""
        return self._total_outputs(self.steps_seen) - self.outputs_returned

    def _total_outputs(self, seen):
        spec = self._spec
        if spec.padding == "same":
            return -(-seen // spec.strides)
        return 0 if seen < self._span else (seen - self._span) // spec.strides + 1

    # ---------------------------------------------------------------- state
    def reset(self):
        """Forget the sequence: the next push starts a new one."""
        self.steps_seen = 0
        self.outputs_returned = 0
        self._start = 0      # buffer row of input step self._base
        self._base = 0       # first input step still kept

    def _keep_from(self, returned):
        """First input step that outputs from ``returned`` on still read."""
        return max(0, returned * self._spec.strides - self._pad_left)

    @property
    def state(self):
        """The stream's state as arrays: ``{"history": the kept input steps in the
        layer's layout, "steps_seen": a 0-d int64 array}``; assign such a dict to
        restore it (in this stream or another of the same layer and batch size)."""
        kept = self.steps_seen - self._base
        history = self._buffer[:, self._start:self._start + kept].copy()
        if self._channels_first:
            history = np.ascontiguousarray(history.transpose(0, 2, 1))
        return {"history": history, "steps_seen": np.array(self.steps_seen, dtype=np.int64)}

    @state.setter
    def state(self, value):
        if not isinstance(value, dict) or set(value) != {"history", "steps_seen"}:
            raise TypeError(f"Stream.state must be a dict with keys 'history' and "
                            f"'steps_seen', received {type(value).__name__}"
                            f"{sorted(value) if isinstance(value, dict) else ''}.")
        seen = np.asarray(value["steps_seen"])
        if seen.shape != () or seen.dtype.kind not in "iu":
            raise TypeError(f"state['steps_seen'] must be an integer scalar, received "
                            f"{value['steps_seen']!r}.")
        seen = normalize_int(int(seen), "state['steps_seen']", minimum=0,
                             maximum=arrays.MAX_ELEMENTS)
        if self._total is not None and seen > self._total:
            raise ValueError(f"state['steps_seen']={seen} is more than this stream's "
                             f"steps={self._total}.")
        returned = self._final_outputs(seen)
        kept = seen - min(self._keep_from(returned), seen)
        history = arrays.real_array(value["history"], "state['history']")
        expected = ((self.batch_size, self._channels, kept) if self._channels_first
                    else (self.batch_size, kept, self._channels))
        if history.shape != expected:
            raise ValueError(f"state['history'] must have shape {expected} for "
                             f"steps_seen={seen}, received shape {history.shape}.")
        if self._channels_first:
            history = history.transpose(0, 2, 1)
        self._reserve(kept, fresh=True)
        self._buffer[:, :kept] = history
        self.steps_seen, self.outputs_returned = seen, returned
        self._base, self._start = seen - kept, 0

    # ----------------------------------------------------------------- calls
    def _reserve(self, steps, fresh=False):
        """Room for ``steps`` more rows after the kept ones (moving or growing)."""
        kept = 0 if fresh else self.steps_seen - self._base
        end = self._start + kept
        if not fresh and end + steps <= self._buffer.shape[1]:
            return
        size = self._buffer.shape[1]
        if kept + steps > size // 2:
            size = max(2 * (kept + steps), 64)
        if size != self._buffer.shape[1]:
            buffer = arrays.empty((self.batch_size, size, self._channels), self._dtype)
            buffer[:, :kept] = self._buffer[:, self._start:end]
            self._buffer = buffer
        elif kept:
            self._buffer[:, :kept] = self._buffer[:, self._start:end].copy()
        self._start = 0

    def _packed(self):
        snapshot = self._owner._weights
        if self._packed_for[0] is not snapshot:
            if not self._channels_first:
                packed = snapshot.packed(self._kernels)
            else:  # the channels_last kernel's layout
                weights = [None if w is None else (w if self._mixed is None else
                                                   precision.round_to(w, self._mixed))
                           for w in snapshot]
                packed = packing.pack_forward(weights[0], weights[1], weights[2], False,
                                              self._dtype, self._kernels)
            self._packed_for = (snapshot, packed)
        return self._packed_for[1]

    def _bound(self, steps_in, steps_out, pad):
        key = (steps_in, steps_out, pad)
        bound = self._bounds.get(key)
        if bound is None:
            spec, kernels = self._spec, self._kernels
            width = self._channels * spec.depth_multiplier
            rows = self.batch_size
            threads = useful_threads(self._threads, rows, steps_out, width, spec.kernel_size,
                                     spec.filters)
            tile = tiling.forward_tile(steps_out, rows, width, tiling.LAST, threads, kernels,
                                       self._dtype)
            bound = kernels.BoundForward(
                "float32" if self._dtype.char == "f" else "float64", (rows, steps_in,
                                                                     self._channels),
                (rows, steps_out, spec.filters), tiling.LAST, spec.kernel_size,
                spec.depth_multiplier, spec.filters, spec.use_bias, self._code, spec.strides,
                spec.dilation_rate, pad, tile, tiling.forward_kc(width), threads,
                packing.forward_size(spec.kernel_size, self._channels, spec.depth_multiplier,
                                     spec.filters, False, self._dtype, kernels))
            if len(self._bounds) >= _BOUND_CACHE:
                self._bounds.clear()
            self._bounds[key] = bound
        return bound

    def _compute(self, first, last, out):
        """Output steps [first, last) of the sequence, in the layer's layout."""
        count = last - first
        spec = self._spec
        shape = self._output_shape(count)
        if count == 0:
            return arrays.empty(shape, self._dtype) if out is None else out
        strides = spec.strides
        begin = max(0, first * strides - self._pad_left)
        end = min(self.steps_seen, (last - 1) * strides - self._pad_left + self._span)
        pad = self._pad_left + begin - first * strides
        bound = self._bound(max(0, end - begin), count, pad)
        direct = out if (out is not None and not self._channels_first) else None
        if out is None and not self._channels_first and \
                count * self._row_bytes >= arrays.ALIGNED_FROM:
            direct = arrays.empty(shape, self._dtype)
        # The kernel reads the rows in place (each batch element's rows are
        # contiguous in the buffer) and writes the result in channels_last.
        result = bound.run_rows(self._buffer, self._start + begin - self._base,
                                self._packed(), direct)
        if self._channels_first:
            result = result.transpose(0, 2, 1)
            if out is not None:
                out[...] = result
                result = out
            else:
                result = np.ascontiguousarray(result)
        if self._post is not None:
            result = apply_activation(self._post, result)
        if self._mixed is not None:
            result = precision.cast_output(result, self._mixed)
        return result

    def _output_shape(self, count):
        if self._channels_first:
            return (self.batch_size, self._spec.filters, count)
        return (self.batch_size, count, self._spec.filters)

    def push(self, chunk: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Append ``chunk`` (batch, steps, channels) — (batch, channels, steps) for
        channels_first — of any number of steps, 0 included; return the output steps
        it completes (``output_steps(steps)`` of them), into ``out`` if given."""
        if (out is None and self._fast and type(chunk) is np.ndarray and chunk.ndim == 3
                and chunk.dtype == self._dtype):
            result = self._push_fast(chunk)
            if result is not None:
                return result
        return self._push(chunk, out)

    def _push_fast(self, chunk):
        # The common case inlined (a C-contiguous chunk of the stream's dtype,
        # channels_last, fused activation, no out=): the general path's steps
        # in the same order, or None (nothing changed) to take the general path.
        batch, steps, channels = chunk.shape
        if batch != self.batch_size or channels != self._channels:
            return None
        seen = self.steps_seen + steps
        end = self._start + self.steps_seen - self._base
        buffer = self._buffer
        if end + steps > buffer.shape[1] or not self._copy_rows(buffer, end, chunk):
            return None
        self.steps_seen = seen
        first = self.outputs_returned
        strides, pad_left = self._stride, self._pad_left
        last = seen - self._span + pad_left
        last = 0 if last < 0 else last // strides + 1
        if last == first:
            return self._nothing
        begin = first * strides - pad_left
        if begin < 0:
            begin = 0
        stop = (last - 1) * strides - pad_left + self._span
        if stop > seen:
            stop = seen
        key = (stop - begin, last - first, pad_left + begin - first * strides)
        bound = self._bounds.get(key)
        if bound is None:
            bound = self._bound(*key)
        held = self._packed_for
        packed = held[1] if held[0] is self._owner._weights else self._packed()
        count = last - first
        out = (arrays.empty((batch, count, self._spec.filters), self._dtype)
               if count * self._row_bytes >= arrays.ALIGNED_FROM else None)
        result = bound.run_rows(buffer, self._start + begin - self._base, packed, out)
        self.outputs_returned = last
        keep = last * strides - pad_left
        if keep > self._base:
            drop = (keep if keep < seen else seen) - self._base
            self._start += drop
            self._base += drop
        return result

    def _push(self, chunk, out):
        x = self._check_chunk(chunk)
        steps = x.shape[2] if self._channels_first else x.shape[1]
        seen = self.steps_seen + steps
        if self._total is not None and seen > self._total:
            raise ValueError(f"This stream was made for steps={self._total}; a push of "
                             f"{steps} steps after {self.steps_seen} would pass it.")
        first = self.outputs_returned
        last = seen - self._span + self._pad_left      # _final_outputs, inlined
        last = 0 if last < 0 else last // self._spec.strides + 1
        if out is not None:   # checked before the stream changes
            arrays.check_out(out, self._output_shape(last - first), self._dtype, x)
        end = self._start + self.steps_seen - self._base
        if end + steps > self._buffer.shape[1]:
            self._reserve(steps)
            end = self._start + self.steps_seen - self._base
        if self._channels_first:
            self._buffer[:, end:end + steps] = x.transpose(0, 2, 1)
        elif not self._copy_rows(self._buffer, end, x):
            self._buffer[:, end:end + steps] = x
        self.steps_seen = seen
        result = self._compute(first, last, out)
        if last != first:
            self._advance(last)
        return result

    def flush(self, out: Optional[np.ndarray] = None) -> np.ndarray:
        """The output steps left at the end of the sequence (``flush_steps()`` of them:
        those whose windows reach past its end, 'same' padding), then ``reset()``."""
        if self._total is not None and self.steps_seen != self._total:
            raise ValueError(f"This stream was made for steps={self._total}; flush() after "
                             f"{self.steps_seen} steps.")
        first, last = self.outputs_returned, self._total_outputs(self.steps_seen)
        if out is not None:
            arrays.check_out(out, self._output_shape(last - first), self._dtype, self._buffer)
        result = self._compute(first, last, out)
        self.reset()
        return result

    def _advance(self, returned):
        self.outputs_returned = returned
        keep = self._keep_from(returned)
        if keep > self._base:
            drop = min(keep, self.steps_seen) - self._base
            self._start += drop
            self._base += drop

    def _check_chunk(self, chunk):
        axis = 1 if self._channels_first else 2
        if not (type(chunk) is np.ndarray and chunk.dtype == self._dtype and chunk.ndim == 3
                and chunk.shape[0] == self.batch_size and chunk.shape[axis] == self._channels):
            chunk = arrays.check_input(arrays.real_array(chunk, "chunk"), self._dtype,
                                       self._channels, self._channels_first)
            if chunk.shape[0] != self.batch_size:
                raise ValueError(f"This stream takes chunks of batch_size="
                                 f"{self.batch_size}, received shape {chunk.shape}.")
        if self._mixed is not None:
            chunk = precision.round_to(chunk, self._mixed)
        return chunk

    def __repr__(self):
        return (f"Stream(layer={self._name!r}, batch_size={self.batch_size}, "
                f"delay={self.delay}, steps_seen={self.steps_seen}, "
                f"outputs_returned={self.outputs_returned})")


class _Weights:
    """The owner of a functional stream's weights (one fixed snapshot)."""

    __slots__ = ("_weights",)

    def __init__(self, weights):
        self._weights = weights


def separable_conv1d_stream(depthwise_kernel: Any, pointwise_kernel: Any, bias: Any = None,
                            strides: Any = 1, padding: str = "valid", dilation_rate: Any = 1,
                            data_format: Optional[str] = None, activation: Any = None, *,
                            batch_size: int = 1, num_threads: Optional[int] = None,
                            steps: Optional[int] = None) -> Stream:
    """A stream of ``separable_conv1d`` with these weights (see ``SeparableConv1D.stream``).

    Parameters
    ----------
    depthwise_kernel, pointwise_kernel, bias, strides, padding, dilation_rate, data_format, activation
        As for ``separable_conv1d``; the weights are copied (later changes to the
        caller's arrays do not reach the stream).  The dtype is float64 if a weight is
        float64, else float32.
    batch_size : int, default 1
        Sequences pushed side by side.
    num_threads : int, optional
        Threads of each push (default OpenMP's max threads).
    steps : int, optional
        The sequence's total length; needed only by a strided 'same' layer whose
        padding depends on it.

    Returns
    -------
    Stream
    """
    from .plan import ConvSpec, WeightSet

    dw, pw, b, (taps, channels, mult, filters) = arrays.check_weights(
        depthwise_kernel, pointwise_kernel, bias)
    dtype = arrays.float_dtype(dw, pw, b)
    spec = ConvSpec.create(filters=filters, kernel_size=taps, strides=strides, padding=padding,
                           data_format=data_format, dilation_rate=dilation_rate,
                           depth_multiplier=mult, activation=activation,
                           use_bias=b is not None, dtype=dtype)
    weights = WeightSet(dw, pw, b, dtype, spec.channels_first)
    return Stream(_Weights(weights), spec, channels, None, "separable_conv1d", batch_size,
                  num_threads, steps)
