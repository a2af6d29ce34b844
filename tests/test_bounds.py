"""Integer arguments at the edges of their bounds, at every ISA level.

The kernels compute offsets such as (t + r) * stride + k * dilation - pad in
Py_ssize_t with no checks: values that passed validation once wrapped around
there (a segfault, or a silently wrong result when the wrapped address fell
inside x).  Every integer is now bounded (sepconv.conv_utils.MAX_ARGUMENT,
MAX_SPAN; element counts by sepconv.arrays.MAX_ELEMENTS), so the largest
accepted values give the reference result and anything beyond is a
ValueError naming the argument.
"""

import numpy as np
import pytest

import sepconv
from reference import separable_conv1d_reference
from sepconv import activations, functional
from sepconv.backward import separable_conv1d_backward
from sepconv.conv_utils import MAX_ARGUMENT, MAX_SPAN

pytestmark = pytest.mark.usefixtures("level")

TOO_LARGE = [MAX_ARGUMENT + 1, 2**32, 2**62, 2**63 - 1, 2**63, 2**64, 10**30]


def _weights(rng, taps=3, channels=4, mult=2, filters=5, dtype=np.float64):
    return (rng.standard_normal((taps, channels, mult)).astype(dtype),
            rng.standard_normal((1, channels * mult, filters)).astype(dtype),
            rng.standard_normal(filters).astype(dtype))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_largest_stride_matches_the_reference(data_format, padding):
    rng = np.random.default_rng(0)
    dw, pw, b = _weights(rng)
    shape = (2, 4, 9) if data_format == "channels_first" else (2, 9, 4)
    x = rng.standard_normal(shape)
    y = sepconv.separable_conv1d(x, dw, pw, b, MAX_ARGUMENT, padding, 1, data_format, "relu")
    expected = separable_conv1d_reference(x, dw, pw, b, MAX_ARGUMENT, padding, 1, data_format,
                                          activations.relu)
    assert y.shape == expected.shape and y.shape[2 if data_format == "channels_first" else 1] == 1
    assert np.allclose(y, expected, rtol=1e-12, atol=1e-12)
    grads = separable_conv1d_backward(np.ones_like(y), x, dw, pw, b, MAX_ARGUMENT, padding, 1,
                                      data_format)
    assert all(np.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_largest_dilation_sees_only_padding(data_format):
    """Every tap but the centre one falls outside: the output is the centre tap alone."""
    rng = np.random.default_rng(1)
    dw, pw, b = _weights(rng, taps=3)
    shape = (2, 4, 40) if data_format == "channels_first" else (2, 40, 4)
    x = rng.standard_normal(shape)
    layer = sepconv.SeparableConv1D(5, 3, padding="same", data_format=data_format,
                                    dilation_rate=MAX_ARGUMENT, depth_multiplier=2,
                                    dtype="float64")
    layer.set_weights([dw, pw, b])
    y = layer(x)
    centre = dw.copy()
    centre[[0, 2]] = 0
    expected = sepconv.separable_conv1d(x, centre, pw, b, 1, "same", 1, data_format)
    assert np.allclose(y, expected, rtol=1e-12, atol=1e-12)
    y_train = layer(x, training=True)
    dx, grads = layer.backward(np.ones_like(y_train))
    assert np.isfinite(dx).all() and all(np.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("value", TOO_LARGE)
@pytest.mark.parametrize("argument", ["strides", "dilation_rate", "kernel_size", "filters",
                                      "depth_multiplier"])
def test_too_large_is_a_value_error_everywhere(argument, value):
    kwargs = dict(filters=4, kernel_size=3)
    kwargs[argument] = value
    with pytest.raises(ValueError, match=argument) as info:
        sepconv.SeparableConv1D(**kwargs)
    assert str(value) in str(info.value)
    config = sepconv.SeparableConv1D(4, 3).get_config()
    config[argument] = [value] if argument in ("strides", "dilation_rate", "kernel_size") else value
    with pytest.raises(ValueError, match=argument):
        sepconv.SeparableConv1D.from_config(config)
    if argument in ("strides", "dilation_rate"):
        rng = np.random.default_rng(2)
        dw, pw, b = _weights(rng)
        x = rng.standard_normal((1, 12, 4))
        with pytest.raises(ValueError, match=argument):
            sepconv.separable_conv1d(x, dw, pw, b, **{argument: value})
        with pytest.raises(ValueError, match=argument):
            separable_conv1d_backward(np.ones((1, 10, 5)), x, dw, pw, b, **{argument: value})


def test_dilated_kernel_span_is_bounded():
    kernel_size, dilation = 2**20 + 1, 2**20 + 1
    assert (kernel_size - 1) * dilation + 1 > MAX_SPAN
    with pytest.raises(ValueError, match="dilation_rate"):
        sepconv.SeparableConv1D(4, kernel_size, dilation_rate=dilation)
    sepconv.SeparableConv1D(4, 2, dilation_rate=MAX_ARGUMENT)  # span 2**31: accepted


@pytest.mark.parametrize("value", [functional.MAX_THREADS + 1, 10**6, 2**31, 2**63, 2**64])
def test_too_many_threads_is_a_value_error(value):
    rng = np.random.default_rng(3)
    dw, pw, b = _weights(rng)
    x = rng.standard_normal((1, 12, 4))
    layer = sepconv.SeparableConv1D(5, 3, dtype="float64")
    layer(x)
    for call in (lambda: sepconv.separable_conv1d(x, dw, pw, b, num_threads=value),
                 lambda: separable_conv1d_backward(np.ones((1, 10, 5)), x, dw, pw, b,
                                                   num_threads=value),
                 lambda: layer(x, num_threads=value)):
        with pytest.raises(ValueError, match="num_threads") as info:
            call()
        assert str(value) in str(info.value)


def test_most_threads_allowed_gives_the_single_thread_result():
    rng = np.random.default_rng(4)
    dw, pw, b = _weights(rng, channels=8, filters=16)
    x = rng.standard_normal((3, 700, 8))
    one = sepconv.separable_conv1d(x, dw, pw, b, padding="same", num_threads=1)
    most = sepconv.separable_conv1d(x, dw, pw, b, padding="same",
                                    num_threads=functional.MAX_THREADS)
    assert np.array_equal(one, most)
    grads_one = separable_conv1d_backward(np.ones_like(one), x, dw, pw, b, padding="same",
                                          num_threads=1)
    grads_most = separable_conv1d_backward(np.ones_like(one), x, dw, pw, b, padding="same",
                                           num_threads=functional.MAX_THREADS)
    for a, c in zip(grads_one, grads_most):
        assert np.array_equal(a, c)
