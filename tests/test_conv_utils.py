"""The shared argument rules: integers, reals, the output-length rule."""

import numpy as np
import pytest

from sepconv.conv_utils import conv_geometry, normalize_int, normalize_real


@pytest.mark.parametrize("value", [True, 1.5, "2", None, np.float64(2.0)])
def test_normalize_int_rejects_non_integers(value):
    with pytest.raises(TypeError, match="filters"):
        normalize_int(value, "filters")


def test_normalize_int_bounds_and_numpy_integers():
    assert normalize_int(np.int64(3), "filters") == 3
    with pytest.raises(ValueError, match="filters=0"):
        normalize_int(0, "filters")
    assert normalize_int(0, "steps", minimum=0) == 0


@pytest.mark.parametrize("value", [True, np.bool_(False), "1", None, float("nan"),
                                   float("inf"), 1 + 2j])
def test_normalize_real_rejects_non_finite_and_non_numbers(value):
    with pytest.raises(ValueError, match=r"`rate` must be a finite real number"):
        normalize_real(value, "rate")


def test_normalize_real_bounds():
    assert normalize_real(np.float32(0.5), "rate", low=0, high=1) == 0.5
    assert isinstance(normalize_real(2, "x"), float)
    assert normalize_real(0, "x", low=0) == 0.0
    with pytest.raises(ValueError, match=r"must be in \(0, inf\)\. Received: x=0"):
        normalize_real(0, "x", low=0, low_open=True)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)\. Received: b=1"):
        normalize_real(1, "b", low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]\. Received: r=-0.1"):
        normalize_real(-0.1, "r", low=0, high=1)


@pytest.mark.parametrize("steps,kernel,stride,dilation", [(10, 4, 3, 1), (7, 3, 2, 2),
                                                          (1, 5, 1, 1), (16, 1, 4, 3)])
def test_same_padding_length_and_split(steps, kernel, stride, dilation):
    out, left = conv_geometry(steps, kernel, stride, dilation, "same")
    assert out == -(-steps // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - steps, 0)
    assert left == total // 2 and left <= total - left


def test_valid_padding_length_and_error():
    assert conv_geometry(10, 3, 2, 2, "valid") == (3, 0)
    with pytest.raises(ValueError, match="zero or negative"):
        conv_geometry(4, 3, 1, 2, "valid")
