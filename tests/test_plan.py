"""The plan core: a validated spec, per-shape plans, weight snapshots.

The layer, the functional form and the backward pass all go through
``ConvSpec`` -> ``Plan`` -> kernel; these tests pin what that buys: one
validation, read-only layer geometry, and weights that a call reads as one
snapshot (never a mix of old and new, never stale).
"""

import threading

import numpy as np
import pytest

import sepconv
from reference import separable_conv1d_reference
from sepconv import functional, tiling
from sepconv.plan import ConvSpec, WeightSet

pytestmark = pytest.mark.usefixtures("level")


def test_spec_normalises_and_freezes():
    spec = ConvSpec.create(filters=4, kernel_size=(3,), strides=[2], padding="SAME",
                           data_format="channels_first", dilation_rate=1, depth_multiplier=2,
                           activation="relu", use_bias=False, dtype="float64")
    assert (spec.kernel_size, spec.strides, spec.padding, spec.channels_first) == (3, 2, "same",
                                                                                   True)
    assert spec.dtype == np.float64 and spec.fused_code is not None
    with pytest.raises(AttributeError):
        spec.strides = 5
    assert spec.without_activation().activation(np.array([-1.0])) == -1.0
    assert spec.without_activation().strides == 2


@pytest.mark.parametrize("argument, value, error", [
    ("strides", 0, ValueError), ("dilation_rate", -1, ValueError), ("kernel_size", 1.5, TypeError),
    ("filters", True, TypeError), ("padding", "full", ValueError), ("use_bias", 1, TypeError),
    ("depth_multiplier", 0, ValueError), ("data_format", "NCW", ValueError),
])
def test_spec_errors_name_the_argument_and_value(argument, value, error):
    kwargs = dict(filters=4, kernel_size=3)
    kwargs[argument] = value
    with pytest.raises(error, match=argument) as info:
        ConvSpec.create(**kwargs)
    assert repr(value) in str(info.value) or str(value) in str(info.value)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_plan_matches_the_layer_and_the_tiling_rules(level, data_format):
    kernels = functional.kernel_module(level)
    spec = ConvSpec.create(filters=7, kernel_size=5, strides=2, padding="same",
                           data_format=data_format, dilation_rate=2, depth_multiplier=3)
    shape = (3, 11, 301) if data_format == "channels_first" else (3, 301, 11)
    plan = spec.plan(shape, 2, kernels)
    layer = sepconv.SeparableConv1D(7, 5, 2, "same", data_format, 2, 3)
    assert plan.output_shape == layer.compute_output_shape(shape)
    assert plan.tile % tiling.step_unit(kernels, spec.dtype, plan.forward.layout) == 0
    assert plan.pad_left == spec.geometry(301).pad_left
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = layer(x)
    assert y.shape == plan.output_shape
    assert len(layer._plans) == 1
    layer(x)
    assert len(layer._plans) == 1  # the second call reused the plan


@pytest.mark.parametrize("attribute, value", [
    ("filters", 16), ("kernel_size", (5,)), ("strides", (2,)), ("padding", "same"),
    ("data_format", "channels_first"), ("dilation_rate", (3,)), ("depth_multiplier", 4),
    ("activation", sepconv.activations.get("tanh")), ("use_bias", False),
])
def test_layer_geometry_is_read_only(attribute, value):
    """Changing the geometry of a built layer once made the kernel read out of bounds."""
    rng = np.random.default_rng(1)
    layer = sepconv.SeparableConv1D(4, 3, padding="valid", activation="relu")
    x = rng.standard_normal((2, 20, 3)).astype(np.float32)
    before = layer(x)
    with pytest.raises(AttributeError, match=attribute):
        setattr(layer, attribute, value)
    longer = rng.standard_normal((2, 57, 3)).astype(np.float32)
    dw, pw, b = layer.weights
    expected = separable_conv1d_reference(longer, dw, pw, b, activation=sepconv.activations.relu)
    assert np.allclose(layer(longer), expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(layer(x), before)


def test_weight_set_is_an_immutable_snapshot(level):
    kernels = functional.kernel_module(level)
    rng = np.random.default_rng(2)
    dw, pw, b = rng.standard_normal((3, 4, 2)), rng.standard_normal((1, 8, 5)), np.ones(5)
    weights = WeightSet(dw, pw, b, np.float32, False)
    packed = weights.packed(kernels)
    assert weights.packed(kernels) is packed
    assert not packed.flags.writeable
    for array in weights:
        assert not array.flags.writeable and array.dtype == np.float32
    dw[...] = 0  # the caller's array: the snapshot took a copy
    assert np.any(weights[0] != 0)
    other = WeightSet(dw, pw, b, np.float32, True)
    assert np.array_equal(other.packed(kernels), functional.pack_weights(
        other[0], other[1], other[2], True, np.dtype(np.float32), kernels))


def test_concurrent_calls_see_old_or_new_weights_and_the_last_assignment_wins():
    """Calls racing set_weights: each output is exactly one snapshot's, never a mix."""
    rng = np.random.default_rng(3)
    layer = sepconv.SeparableConv1D(16, 3, padding="same", activation="tanh")
    x = rng.standard_normal((2, 64, 12)).astype(np.float32)
    layer(x)
    candidates = [[rng.standard_normal(w.shape).astype(np.float32) for w in layer.weights]
                  for _ in range(3)]
    expected = []
    for weights in candidates:
        probe = sepconv.SeparableConv1D.from_config(layer.get_config())
        probe.set_weights(weights)
        expected.append(probe(x, num_threads=1))
    layer.set_weights(candidates[0])
    stop = threading.Event()
    bad = []

    def caller():
        while not stop.is_set():
            y = layer(x, num_threads=1)
            if not any(np.array_equal(y, e) for e in expected):
                bad.append(y)

    threads = [threading.Thread(target=caller) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for i in range(150):
            k = i % 3
            layer.set_weights(candidates[k])
            assert np.array_equal(layer(x, num_threads=1), expected[k]), i
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not bad


@pytest.mark.parametrize("dtype", [{}, {"config": {}}, {"class_name": "Unknown",
                                                         "config": {"name": "float32"}},
                                   {"class_name": "DTypePolicy", "config": {"name": 32}},
                                   {"class_name": "DTypePolicy", "config": "float32"},
                                   {"name": None}, "float16", "int32", "mixed_float32", "bfloat16"])
def test_unknown_dtype_policies_are_value_errors(dtype):
    """An empty or unknown policy dict once became float64 silently."""
    with pytest.raises(ValueError, match="dtype"):
        sepconv.SeparableConv1D(4, 3, dtype=dtype)


@pytest.mark.parametrize("dtype, expected", [
    ({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"},
      "registered_name": None}, "float64"),
    ({"class_name": "FloatDTypePolicy", "config": {"name": "float32"}}, "float32"),
    ({"name": "float64"}, "float64"), ("float64", "float64"), (np.float32, "float32"),
    (None, "float32"),
])
def test_keras_dtype_policies_are_understood(dtype, expected):
    assert sepconv.SeparableConv1D(4, 3, dtype=dtype).dtype == expected
