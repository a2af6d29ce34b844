"""Regularizers against real Keras 3.15.1 (tests/data/keras/regularizers.*,
made by make_regularizer_golden.py with the torch backend): the activity
penalty divided by the batch size, ``losses`` in Keras's order (activity
first, then the trainable weights' penalties), and the gradients of
``sum(dy * y) + sum(losses)`` through the layer."""

import json
import os

import numpy as np
import pytest

import sepconv

HERE = os.path.join(os.path.dirname(__file__), "data", "keras")
with open(os.path.join(HERE, "regularizers.json")) as _handle:
    META = json.load(_handle)
ARRAYS = np.load(os.path.join(HERE, "regularizers.npz"))

pytestmark = pytest.mark.usefixtures("level")


def _close(actual, desired, rtol):
    actual, desired = np.asarray(actual, dtype=np.float64), np.asarray(desired)
    scale = max(1.0, float(np.max(np.abs(desired)))) if desired.size else 1.0
    assert actual.shape == desired.shape
    assert float(np.max(np.abs(actual - desired), initial=0.0)) <= rtol * scale


@pytest.mark.parametrize("index", range(len(META["cases"])))
def test_losses_and_gradients_match_keras(index):
    case = META["cases"][index]
    layer = sepconv.SeparableConv1D.from_config(case["config"])
    layer.set_weights([ARRAYS[f"w{i}_{index}"] for i in range(case["weights"])])
    y = layer(ARRAYS[f"x_{index}"], training=True)
    _close(y, ARRAYS[f"y_{index}"], 1e-12)
    assert len(layer.losses) == len(case["losses"])
    # Keras sums the activity penalty in float32 even for a float64 layer.
    assert layer.losses == pytest.approx(case["losses"], rel=1e-6)
    dx, grads = layer.backward(ARRAYS[f"dy_{index}"])
    _close(dx, ARRAYS[f"dx_{index}"], 1e-6)
    assert len(grads) == case["grads"]
    for i, grad in enumerate(grads):
        _close(grad, ARRAYS[f"g{i}_{index}"], 1e-6)


def test_the_golden_file_is_keras_3():
    assert META["keras_version"].startswith("3.") and len(META["cases"]) == 4
    assert any(not case["config"]["trainable"] for case in META["cases"])
