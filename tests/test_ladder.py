"""Every rung of the optimization ladder agrees with the float64 reference."""

import numpy as np
import pytest

import sepconv
from reference import separable_conv1d_reference
from sepconv import activations
from sepconv.functional import ALGORITHMS

pytestmark = pytest.mark.usefixtures("level")  # every test at every ISA level


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_rung_matches_the_reference(algorithm, level):
    rng = np.random.default_rng(sum(map(ord, algorithm + level)))
    for trial in range(12):
        taps, dilation, strides = (int(v) for v in rng.integers(1, 4, size=3))
        mult = int(rng.integers(1, 4))
        channels, filters = (int(v) for v in rng.integers(1, 40, size=2))
        padding = "same" if trial % 2 else "valid"
        data_format = "channels_first" if trial % 3 == 0 else "channels_last"
        steps = int(rng.integers((taps - 1) * dilation + 1, 70 if trial % 2 else 300))
        dtype = np.float32 if trial % 4 else np.float64
        shape = (2, channels, steps) if data_format == "channels_first" else (2, steps, channels)
        x = rng.standard_normal(shape).astype(dtype)
        dw = rng.standard_normal((taps, channels, mult)).astype(dtype)
        pw = rng.standard_normal((1, channels * mult, filters)).astype(dtype)
        b = rng.standard_normal(filters).astype(dtype) if trial % 5 else None
        activation = ["relu", None, "tanh", "softmax"][trial % 4]
        y = sepconv.separable_conv1d(x, dw, pw, b, strides, padding, dilation, data_format,
                                     activation, isa=level, algorithm=algorithm)
        expected = separable_conv1d_reference(x, dw, pw, b, strides, padding, dilation,
                                              data_format, activations.get(activation))
        scale = max(1.0, float(np.max(np.abs(expected))))
        tol = (2e-5 if dtype == np.float32 else 1e-11) * scale
        assert y.dtype == dtype
        assert np.max(np.abs(y - expected)) <= tol, (algorithm, trial)


def test_unknown_algorithm_is_a_value_error():
    with pytest.raises(ValueError, match="algorithm='fast'"):
        sepconv.separable_conv1d(np.ones((1, 4, 2)), np.ones((1, 2, 1)), np.ones((1, 2, 3)),
                                 algorithm="fast")
