"""Mixed precision policies against real Keras 3.15.1 (tests/data/keras/mixed.*,
made by make_mixed_golden.py with the torch backend).

sepconv rounds the input and the weights to the compute dtype, computes in
float32 and rounds the output (sepconv.precision); Keras computes in the
compute dtype throughout.  Outputs must agree to a few units in the last
place of the compute dtype.
"""

import json
import os
import pickle

import numpy as np
import pytest

import sepconv
from sepconv import precision

HERE = os.path.join(os.path.dirname(__file__), "data", "keras")
with open(os.path.join(HERE, "mixed.json")) as _handle:
    META = json.load(_handle)
ARRAYS = np.load(os.path.join(HERE, "mixed.npz"))
# Units in the last place: float16 has 11 significant bits, bfloat16 8.
ULP = {"float16": 2.0**-10, "bfloat16": 2.0**-7}

pytestmark = pytest.mark.usefixtures("level")


@pytest.mark.parametrize("index", range(len(META["cases"])))
def test_mixed_policies_match_keras(index):
    case = META["cases"][index]
    compute = case["compute_dtype"]
    layer = sepconv.SeparableConv1D.from_config(case["config"])
    assert (layer.dtype, layer.variable_dtype, layer.compute_dtype) == (
        "float32", "float32", compute)
    assert layer.get_config()["dtype"] == case["config"]["dtype"]
    layer.set_weights([ARRAYS[f"w{i}_{index}"] for i in range(case["weights"])])
    assert all(w.dtype == np.float32 for w in layer.weights)
    y = layer(ARRAYS[f"x_{index}"])
    expected = ARRAYS[f"y_{index}"]
    assert y.shape == expected.shape
    assert y.dtype == (np.float16 if compute == "float16" else np.float32)
    if compute == "bfloat16":  # every value is a bfloat16 number
        assert np.array_equal(precision.round_to(y, "bfloat16"), y)
    scale = float(np.max(np.abs(expected)))
    error = float(np.max(np.abs(y.astype(np.float64) - expected)))
    assert error <= 8 * ULP[compute] * scale, (error, scale)
    clone = pickle.loads(pickle.dumps(layer))
    assert np.array_equal(clone(ARRAYS[f"x_{index}"]), y)


def test_bfloat16_rounding_is_to_nearest_even():
    values = np.array([1.0, 1.0 + 2**-8, 1.0 + 3 * 2**-8, 1.0 + 2**-9, -2.5, np.inf, -np.inf,
                       np.nan, 3.4e38, 3.3895314e38, 0.0, -0.0], dtype=np.float32)
    rounded = precision.round_to(values, "bfloat16")
    assert rounded[0] == 1.0 and rounded[1] == 1.0          # a tie goes to even
    assert rounded[2] == 1.0 + 2**-6                         # the other tie, up to even
    assert rounded[3] == 1.0 and rounded[4] == -2.5
    assert np.isposinf(rounded[5]) and np.isneginf(rounded[6]) and np.isnan(rounded[7])
    assert np.isposinf(rounded[8])                           # past bfloat16's largest
    assert rounded[9] == np.float32(3.3895314e38)            # bfloat16's largest itself
    finite = ~np.isnan(rounded)
    assert (rounded[finite].view(np.uint32) & 0xFFFF == 0).all()


def test_mixed_policy_by_name_and_training():
    rng = np.random.default_rng(0)
    layer = sepconv.SeparableConv1D(4, 3, padding="same", dtype="mixed_float16",
                                    activation="tanh")
    x = rng.standard_normal((2, 10, 3)).astype(np.float32)
    y = layer(x, training=True)
    assert y.dtype == np.float16 and layer.dtype_policy == "mixed_float16"
    dx, grads = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    assert all(np.isfinite(g).all() for g in grads)
