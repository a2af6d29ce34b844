"""Hypothesis fuzzing of every argument, valid and invalid.

A valid call must match the float64 reference; an invalid one must raise
ValueError or TypeError (MemoryError for sizes past the machine) and nothing
else.  CI also runs this file against the SEPCONV_DEBUG=1 build, where
Cython's bounds checks are on and AddressSanitizer and
UndefinedBehaviorSanitizer watch every memory access of the kernels.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sepconv
from reference import separable_conv1d_reference
from sepconv import activations
from sepconv.conv_utils import MAX_ARGUMENT, MAX_SPAN, conv_geometry
from sepconv.functional import MAX_THREADS

EXAMPLES = int(os.environ.get("SEPCONV_FUZZ_EXAMPLES", "300"))
pytestmark = pytest.mark.usefixtures("level")  # every test at every ISA level

_EXTREME = [MAX_ARGUMENT, MAX_ARGUMENT + 1, 2**62, 2**63 - 1, 2**63, 2**64, -2**63]
_int_args = st.one_of(st.integers(-2, 6), st.sampled_from([0, 1.5, True, None, "2", (2,),
                                                            [3], (1, 2), ()]),
                      st.sampled_from(_EXTREME), st.sampled_from([(v,) for v in _EXTREME]))
_threads = st.one_of(st.none(), st.integers(-1, 5), st.just(2.0),
                     st.sampled_from([MAX_THREADS, MAX_THREADS + 1, 2**31, 2**63, 2**64]))
_padding = st.sampled_from(["valid", "same", "VALID", "Same", "full", 2, None, ""])
_formats = st.sampled_from(["channels_last", "channels_first", None, "NCW", 3])
_activation = st.sampled_from([None, "relu", "gelu", "softmax", "glu", "sparsemax",
                               "elu", "hard_silu", "no_such_activation", 7])
_dtypes = st.sampled_from(["float32", "float64", "float16", "int32", "complex64",
                           "bool", ">f4", "object"])


def _is_valid_int(value):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            return False
        value = value[0]
    return (isinstance(value, int) and not isinstance(value, bool)
            and 1 <= value <= MAX_ARGUMENT)


def _direct_reference(x, dw, pw, bias, strides, dilation, padding, data_format, activation):
    """The definition as loops over taps that skip positions outside the input.

    For dilations too long for the padded reference (a 2**31-step kernel):
    with steps <= 24 at most one tap per output lands inside.
    """
    x_cl = x.transpose(0, 2, 1) if data_format == "channels_first" else x
    batch, steps, channels = x_cl.shape
    taps, _, mult = dw.shape
    out_steps, pad_left = conv_geometry(steps, taps, strides, dilation, padding)
    depthwise = np.zeros((batch, out_steps, channels, mult))
    for t in range(out_steps):
        for k in range(taps):
            position = t * strides + k * dilation - pad_left
            if 0 <= position < steps:
                depthwise[:, t] += x_cl[:, position, :, None] * dw[k]
    y = depthwise.reshape(batch, out_steps, channels * mult) @ np.asarray(pw[0], float)
    if bias is not None:
        y = y + bias
    if data_format == "channels_first":
        y = y.transpose(0, 2, 1)
    return y if activation is None else activation(y)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data(), batch=st.integers(0, 3), steps=st.integers(0, 24),
       channels=st.integers(1, 6), mult=st.integers(1, 3), filters=st.integers(1, 9),
       taps=st.integers(1, 6), strides=_int_args, dilation=_int_args, padding=_padding,
       data_format=_formats, activation=_activation, threads=_threads, dtype=_dtypes,
       use_bias=st.booleans())
def test_fuzz_functional(data, batch, steps, channels, mult, filters, taps, strides, dilation,
                         padding, data_format, activation, threads, dtype, use_bias, level):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    channels_first = data_format == "channels_first"
    shape = (batch, channels, steps) if channels_first else (batch, steps, channels)
    wrong_channels = data.draw(st.booleans()) and data.draw(st.booleans())
    if wrong_channels:
        shape = shape[:1] + (shape[1] + 1,) + shape[2:] if channels_first else shape[:2] + (channels + 1,)
    x = (rng.standard_normal(shape) * 3).astype(np.float64)
    x = x.astype(dtype) if dtype != "object" else x.astype(object)
    if data.draw(st.booleans()) and x.ndim == 3 and x.shape[1] > 1:
        x = x[:, ::-1]  # a negative-stride view
    dw = rng.standard_normal((taps, channels, mult))
    pw = rng.standard_normal((1, channels * mult, filters))
    bias = rng.standard_normal(filters) if use_bias else None
    weight_dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    dw, pw = dw.astype(weight_dtype), pw.astype(weight_dtype)

    valid = (_is_valid_int(strides) and _is_valid_int(dilation)
             and padding in ("valid", "same", "VALID", "Same")
             and data_format in ("channels_last", "channels_first", None)
             and activation not in ("no_such_activation", 7)
             and (threads is None or (isinstance(threads, int) and 1 <= threads <= MAX_THREADS))
             and dtype not in ("complex64", "object") and not wrong_channels)
    if valid:
        s = strides if isinstance(strides, int) else strides[0]
        d = dilation if isinstance(dilation, int) else dilation[0]
        span = (taps - 1) * d + 1
        if padding.lower() == "valid" and steps < span:
            valid = False
        if span > MAX_SPAN:
            valid = False
        fmt = data_format or sepconv.config.image_data_format()
        out_steps = -(-steps // s) if padding.lower() == "same" else (steps - span) // s + 1
        last_axis = out_steps if fmt == "channels_first" else filters
        if activation == "glu" and last_axis % 2:
            valid = False  # glu halves the last axis, which must be even
    try:
        y = sepconv.separable_conv1d(x, dw, pw, bias, strides=strides, padding=padding,
                                     dilation_rate=dilation, data_format=data_format,
                                     activation=activation, num_threads=threads, isa=level)
    except (ValueError, TypeError):
        assert not valid, "a valid call raised"
        return
    assert valid, "an invalid call did not raise"
    fmt = data_format or sepconv.config.image_data_format()
    fn = activations.get(activation)
    with np.errstate(all="ignore"):
        if span > 10**6:  # the padded reference would need span steps of zeros
            expected = _direct_reference(np.asarray(x, dtype=np.float64), dw, pw, bias, s, d,
                                         padding.lower(), fmt, fn)
        else:
            expected = separable_conv1d_reference(np.asarray(x, dtype=np.float64), dw, pw,
                                                  bias, strides=s, padding=padding.lower(),
                                                  dilation_rate=d, data_format=fmt,
                                                  activation=fn)
    assert y.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    tol = (3e-5 if weight_dtype == np.float32 and np.asarray(x).dtype != np.float64
           else 1e-9) * scale
    if y.size:
        assert np.max(np.abs(y - expected)) <= tol


@settings(max_examples=max(20, EXAMPLES // 3), deadline=None)
@given(data=st.data(), channels=st.integers(1, 5), filters=st.integers(1, 6),
       use_bias=st.booleans())
def test_fuzz_set_weights_is_all_or_nothing(data, channels, filters, use_bias):
    layer = sepconv.SeparableConv1D(filters, 3, depth_multiplier=2, use_bias=use_bias)
    layer.build((None, 8, channels))
    before = layer.get_weights()
    shapes = [(3, channels, 2), (1, channels * 2, filters)] + ([(filters,)] if use_bias else [])
    mutated = [tuple(max(0, n + data.draw(st.integers(-1, 1))) for n in shape)
               for shape in shapes]
    count = len(shapes) + data.draw(st.integers(-1, 1))
    candidate = [np.ones(s) for s in (mutated + mutated)[:max(count, 0)]]
    should_work = count == len(shapes) and mutated == shapes
    if should_work:
        layer.set_weights(candidate)
        assert all(np.all(w == 1) for w in layer.get_weights())
    else:
        with pytest.raises((ValueError, TypeError)):
            layer.set_weights(candidate)
        for old, new in zip(before, layer.get_weights()):
            assert np.array_equal(old, new)
