"""Every case of the Keras 3.15.1 golden set, at every ISA level this machine runs
(the ``level`` fixture of conftest.py), through the layer and the functional form."""

import json
import os

import numpy as np
import pytest

import sepconv

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "separable_conv1d_keras.json")) as _handle:
    CASES = json.load(_handle)["cases"]
ACCEPTED = [i for i, case in enumerate(CASES) if "config" in case]
REJECTED = [i for i, case in enumerate(CASES) if "error" in case]
pytestmark = pytest.mark.usefixtures("level")


def _tolerance(dtype, expected):
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    return (2e-5 if dtype == "float32" else 1e-7) * scale


def test_golden_set_is_complete():
    assert len(CASES) == 200
    assert len(REJECTED) == 11
    assert all(CASES[i]["error"] == "ValueError" for i in REJECTED)


@pytest.mark.parametrize("index", ACCEPTED)
def test_keras_golden_case(golden, index):
    case = CASES[index]
    arrays = golden[1]
    layer = sepconv.SeparableConv1D.from_config(case["config"])
    weights = [arrays[f"dw_{index}"], arrays[f"pw_{index}"]]
    if case["config"]["use_bias"]:
        weights.append(arrays[f"b_{index}"])
    layer.set_weights(weights)
    x = arrays[f"x_{index}"]
    expected = arrays[f"y_{index}"]
    y = layer(x)
    assert y.shape == tuple(case["output_shape"])
    assert y.dtype == np.dtype(case["config"]["dtype"]["config"]["name"])
    assert np.max(np.abs(y - expected)) <= _tolerance(layer.dtype, expected)
    assert layer.compute_output_shape(x.shape) == tuple(case["output_shape"])


def test_keras_golden_functional_form(golden, level):
    """The functional form against every accepted case."""
    arrays = golden[1]
    for index in ACCEPTED:
        config = CASES[index]["config"]
        bias = arrays[f"b_{index}"] if config["use_bias"] else None
        expected = arrays[f"y_{index}"]
        y = sepconv.separable_conv1d(
            arrays[f"x_{index}"], arrays[f"dw_{index}"], arrays[f"pw_{index}"], bias,
            strides=config["strides"], padding=config["padding"],
            dilation_rate=config["dilation_rate"], data_format=config["data_format"],
            activation=config["activation"], isa=level)
        dtype = config["dtype"]["config"]["name"]
        assert y.dtype == np.dtype(dtype)
        assert np.max(np.abs(y - expected)) <= _tolerance(dtype, expected), index


@pytest.mark.parametrize("index", REJECTED)
def test_keras_golden_rejected(golden, index):
    case = CASES[index]
    kwargs = dict(case["kwargs"])
    x = golden[1][f"x_{index}"]
    with pytest.raises(ValueError, match="zero or negative"):
        layer = sepconv.SeparableConv1D(**kwargs)
        layer(x)
