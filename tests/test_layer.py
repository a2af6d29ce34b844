"""The ``SeparableConv1D`` layer: signature, weights, config, losses, constraints."""

import inspect
import json
import os

import numpy as np
import pytest

import sepconv
from sepconv import SeparableConv1D, activations, constraints, initializers, regularizers

pytestmark = pytest.mark.usefixtures("level")  # every test at every ISA level

from reference import separable_conv1d_reference

DATA = os.path.join(os.path.dirname(__file__), "data")
FORMATS = ["channels_last", "channels_first"]


def _golden_config():
    with open(os.path.join(DATA, "separable_conv1d_keras.json")) as handle:
        cases = json.load(handle)["cases"]
    return next(case["config"] for case in cases if "config" in case)


def _weights(rng, taps, channels, mult, filters, bias=True, dtype=np.float32):
    result = [rng.uniform(-1, 1, (taps, channels, mult)).astype(dtype),
              rng.uniform(-1, 1, (1, channels * mult, filters)).astype(dtype)]
    if bias:
        result.append(rng.uniform(-1, 1, (filters,)).astype(dtype))
    return result


def _input(rng, batch, steps, channels, data_format="channels_last", dtype=np.float32):
    shape = (batch, channels, steps) if data_format == "channels_first" else (batch, steps,
                                                                             channels)
    return rng.uniform(-1, 1, shape).astype(dtype)


def _same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# ----------------------------------------------------------------------------
# Signature and constructor
# ----------------------------------------------------------------------------
def test_signature_matches_keras():
    expected = [
        ("filters", inspect.Parameter.empty),
        ("kernel_size", inspect.Parameter.empty),
        ("strides", 1),
        ("padding", "valid"),
        ("data_format", None),
        ("dilation_rate", 1),
        ("depth_multiplier", 1),
        ("activation", None),
        ("use_bias", True),
        ("depthwise_initializer", "glorot_uniform"),
        ("pointwise_initializer", "glorot_uniform"),
        ("bias_initializer", "zeros"),
        ("depthwise_regularizer", None),
        ("pointwise_regularizer", None),
        ("bias_regularizer", None),
        ("activity_regularizer", None),
        ("depthwise_constraint", None),
        ("pointwise_constraint", None),
        ("bias_constraint", None),
    ]
    params = list(inspect.signature(SeparableConv1D).parameters.values())
    assert [(p.name, p.default) for p in params[:-1]] == expected
    for p in params[:-1]:
        assert p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params[-1].name == "kwargs" and params[-1].kind == inspect.Parameter.VAR_KEYWORD


def test_constructor_defaults():
    layer = SeparableConv1D(4, 3, data_format="channels_last")
    assert layer.filters == 4
    assert layer.kernel_size == (3,)
    assert layer.strides == (1,)
    assert layer.padding == "valid"
    assert layer.dilation_rate == (1,)
    assert layer.depth_multiplier == 1
    assert layer.use_bias is True
    assert layer.activation is activations.linear
    assert layer.dtype == "float32"
    assert layer.trainable is True
    assert not layer.built
    assert layer.weights == [] and layer.losses == []
    config = layer.get_config()
    assert config["activation"] == "linear"
    assert config["depthwise_initializer"]["class_name"] == "GlorotUniform"
    assert config["pointwise_initializer"]["class_name"] == "GlorotUniform"
    assert config["bias_initializer"]["class_name"] == "Zeros"
    for key in ("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
                "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                "bias_constraint"):
        assert config[key] is None


def test_positional_arguments_follow_keras_order():
    layer = SeparableConv1D(5, 4, 2, "SAME", "channels_first", 1, 3, "relu", False)
    assert (layer.filters, layer.kernel_size, layer.strides, layer.padding, layer.data_format,
            layer.dilation_rate, layer.depth_multiplier, layer.activation, layer.use_bias) == (
        5, (4,), (2,), "same", "channels_first", (1,), 3, activations.relu, False)


@pytest.mark.parametrize("value", [[3], (3,)])
def test_tuple_arguments(value):
    layer = SeparableConv1D(2, value, strides=value, dilation_rate=value,
                            data_format="channels_last")
    assert layer.kernel_size == layer.strides == layer.dilation_rate == (3,)


@pytest.mark.parametrize("argument,value,exc_type,shown", [
    ("filters", 0, ValueError, "0"),
    ("filters", -2, ValueError, "-2"),
    ("filters", 2.5, TypeError, "2.5"),
    ("filters", True, TypeError, "True"),
    ("kernel_size", 0, ValueError, "0"),
    ("kernel_size", (2, 2), ValueError, "(2, 2)"),
    ("kernel_size", 3.0, TypeError, "3.0"),
    ("strides", 0, ValueError, "0"),
    ("strides", False, TypeError, "False"),
    ("dilation_rate", -1, ValueError, "-1"),
    ("depth_multiplier", 0, ValueError, "0"),
    ("depth_multiplier", 1.5, TypeError, "1.5"),
    ("padding", "causal", ValueError, "'causal'"),
    ("padding", 2, ValueError, "2"),
    ("data_format", "NWC", ValueError, "'NWC'"),
    ("activation", "no_such_activation", ValueError, "'no_such_activation'"),
    ("use_bias", "yes", TypeError, "'yes'"),
    ("depthwise_initializer", "no_such_init", ValueError, "'no_such_init'"),
    ("bias_regularizer", "no_such_reg", ValueError, "'no_such_reg'"),
    ("pointwise_constraint", "no_such_constraint", ValueError, "'no_such_constraint'"),
    ("dtype", "int32", ValueError, "'int32'"),
])
def test_constructor_argument_errors(argument, value, exc_type, shown):
    kwargs = {"filters": 2, "kernel_size": 3, "data_format": "channels_last", argument: value}
    with pytest.raises(exc_type) as info:
        SeparableConv1D(**kwargs)
    message = str(info.value)
    assert argument in message, message
    assert shown in message, message


def test_unknown_keyword_argument():
    with pytest.raises(TypeError, match="kernel_sizes"):
        SeparableConv1D(2, 3, kernel_sizes=3)
    with pytest.raises(TypeError, match="depthwise_kernel_initializer"):
        SeparableConv1D(2, 3, depthwise_kernel_initializer="zeros")


def test_auto_naming():
    first = SeparableConv1D(2, 3)
    second = SeparableConv1D(2, 3)
    assert isinstance(first.name, str) and isinstance(second.name, str)
    assert first.name.startswith("separable_conv1d")
    assert first.name != second.name
    assert SeparableConv1D(2, 3, name="mine").name == "mine"


# ----------------------------------------------------------------------------
# Doc example
# ----------------------------------------------------------------------------
def test_keras_doc_example_with_positional_padding_error():
    # The Keras docs pass 2 as the fourth positional argument, which is `padding`.
    with pytest.raises(ValueError) as info:
        SeparableConv1D(3, 4, 3, 2, activation="relu")
    assert "padding" in str(info.value)
    assert "2" in str(info.value)


def test_keras_doc_example_corrected():
    x = np.random.default_rng(0).random((4, 10, 12))
    layer = SeparableConv1D(3, 4, 3, "same", activation="relu", data_format="channels_last")
    y = layer(x)
    assert y.shape == (4, 4, 3)
    assert y.dtype == np.float32
    assert np.all(y >= 0)


# ----------------------------------------------------------------------------
# Build, weights, shapes
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("data_format", FORMATS)
def test_weight_shapes_after_build(data_format, use_bias):
    layer = SeparableConv1D(7, 5, depth_multiplier=3, use_bias=use_bias,
                            data_format=data_format)
    shape = (None, 6, 20) if data_format == "channels_first" else (None, 20, 6)
    layer.build(shape)
    assert layer.built
    shapes = [w.shape for w in layer.weights]
    expected = [(5, 6, 3), (1, 18, 7)] + ([(7,)] if use_bias else [])
    assert shapes == expected
    assert [w.shape for w in layer.get_weights()] == expected
    assert layer.depthwise_kernel.shape == (5, 6, 3)
    assert layer.pointwise_kernel.shape == (1, 18, 7)
    assert (layer.bias is None) == (not use_bias)
    if use_bias:
        assert np.all(layer.bias == 0)  # zeros initializer
    assert all(w.dtype == np.float32 for w in layer.weights)
    assert layer.count_params() == 5 * 6 * 3 + 18 * 7 + (7 if use_bias else 0)


def test_build_from_first_call():
    rng = np.random.default_rng(1)
    for data_format in FORMATS:
        layer = SeparableConv1D(4, 3, depth_multiplier=2, data_format=data_format)
        x = _input(rng, 2, 9, 5, data_format)
        layer(x)
        assert [w.shape for w in layer.weights] == [(3, 5, 2), (1, 10, 4), (4,)]


def test_glorot_uniform_limits():
    layer = SeparableConv1D(16, 5, depth_multiplier=2, data_format="channels_last")
    layer.build((None, None, 8))
    dw, pw, _ = layer.get_weights()
    # Keras fans: receptive field * in / out for the last two axes.
    dw_limit = np.sqrt(6.0 / (5 * 8 + 5 * 2))
    pw_limit = np.sqrt(6.0 / (16 + 16))
    assert np.max(np.abs(dw)) <= dw_limit and np.max(np.abs(pw)) <= pw_limit
    assert np.std(dw) > 0 and np.std(pw) > 0


@pytest.mark.parametrize("k,filters,channels,mult,bias", [
    (1, 1, 1, 1, True), (3, 8, 4, 2, True), (5, 7, 6, 3, False), (9, 32, 17, 1, True)])
def test_count_params(k, filters, channels, mult, bias):
    layer = SeparableConv1D(filters, k, depth_multiplier=mult, use_bias=bias,
                            data_format="channels_last")
    with pytest.raises(ValueError):
        layer.count_params()
    layer.build((2, 50, channels))
    assert layer.count_params() == k * channels * mult + channels * mult * filters + (
        filters if bias else 0)


def test_input_shape_kwarg_builds():
    layer = SeparableConv1D(3, 2, input_shape=(None, 4), data_format="channels_last")
    assert layer.built and layer.depthwise_kernel.shape == (2, 4, 1)


@pytest.mark.parametrize("data_format", FORMATS)
def test_compute_output_shape(data_format):
    layer = SeparableConv1D(6, 4, strides=3, dilation_rate=1, padding="same",
                            data_format=data_format)
    first = data_format == "channels_first"
    shape_in = (4, 12, 10) if first else (4, 10, 12)
    assert layer.compute_output_shape(shape_in) == ((4, 6, 4) if first else (4, 4, 6))
    none_in = (None, 12, None) if first else (None, None, 12)
    assert layer.compute_output_shape(none_in) == ((None, 6, None) if first else
                                                   (None, None, 6))
    valid = SeparableConv1D(6, 4, strides=2, dilation_rate=3, data_format=data_format)
    shape_in = (2, 12, 30) if first else (2, 30, 12)
    # floor((30 - 9 - 1) / 2) + 1 = 11
    assert valid.compute_output_shape(shape_in) == ((2, 6, 11) if first else (2, 11, 6))
    with pytest.raises(ValueError):
        valid.compute_output_shape((2, 12, 9) if first else (2, 9, 12))


def test_set_weights_and_get_weights_copies():
    rng = np.random.default_rng(2)
    layer = SeparableConv1D(4, 3, depth_multiplier=2, data_format="channels_last")
    new = _weights(rng, 3, 5, 2, 4)
    layer.set_weights(new)  # builds the layer from the depthwise kernel's shape
    assert layer.built and layer.input_channels == 5
    assert _same_weights(layer.get_weights(), new)
    x = _input(rng, 2, 10, 5)
    y = layer(x)
    # Mutating a returned copy or the source arrays changes nothing.
    got = layer.get_weights()
    for w in got:
        w[...] = 0
    for w in new:
        w[...] = 0
    assert not any(np.array_equal(w, np.zeros_like(w)) for w in layer.get_weights()[:2])
    assert np.array_equal(layer(x), y)
    # get_weights returns fresh arrays each time.
    a, b = layer.get_weights(), layer.get_weights()
    assert all(p is not q and not np.shares_memory(p, q) for p, q in zip(a, b))


def test_set_weights_errors_leave_weights_untouched():
    rng = np.random.default_rng(3)
    layer = SeparableConv1D(4, 3, depth_multiplier=2, data_format="channels_last")
    layer.build((None, None, 5))
    before = layer.get_weights()
    x = _input(rng, 2, 10, 5)
    y_before = layer(x)
    good = _weights(rng, 3, 5, 2, 4)
    bad_sets = [
        (ValueError, good[:2]),                                    # too few
        (ValueError, good + [np.zeros(4, np.float32)]),            # too many
        (ValueError, [good[0], good[1], np.zeros(5, np.float32)]),  # bias shape
        (ValueError, [good[0], np.zeros((1, 10, 5), np.float32), good[2]]),
        (ValueError, [np.zeros((3, 6, 2), np.float32), good[1], good[2]]),
        (ValueError, [np.zeros((4, 5, 2), np.float32), good[1], good[2]]),
        (ValueError, [good[0][None], good[1], good[2]]),
        (TypeError, [good[0], good[1], good[2].astype(complex)]),
        (TypeError, np.zeros(3)),
    ]
    for exc_type, weights in bad_sets:
        with pytest.raises(exc_type):
            layer.set_weights(weights)
        assert _same_weights(layer.get_weights(), before)
        assert np.array_equal(layer(x), y_before)


def test_set_weights_error_message_names_weight():
    layer = SeparableConv1D(4, 3, data_format="channels_last")
    layer.build((None, None, 2))
    w = layer.get_weights()
    with pytest.raises(ValueError) as info:
        layer.set_weights([w[0], np.zeros((1, 3, 4)), w[2]])
    assert "pointwise_kernel" in str(info.value) and "(1, 3, 4)" in str(info.value)
    with pytest.raises(ValueError) as info:
        layer.set_weights(w[:2])
    assert "2" in str(info.value)


def test_no_bias_layer():
    rng = np.random.default_rng(4)
    layer = SeparableConv1D(3, 2, use_bias=False, data_format="channels_last")
    layer.set_weights(_weights(rng, 2, 4, 1, 3, bias=False))
    assert len(layer.weights) == 2 and layer.bias is None
    x = _input(rng, 2, 6, 4)
    dw, pw = layer.get_weights()
    expected = separable_conv1d_reference(x, dw, pw)
    assert np.max(np.abs(layer(x) - expected)) <= 2e-5 * max(1, np.max(np.abs(expected)))
    with pytest.raises(ValueError):
        layer.set_weights(_weights(rng, 2, 4, 1, 3, bias=True))


def test_trainable_false():
    layer = SeparableConv1D(3, 2, trainable=False, data_format="channels_last")
    layer.build((None, 5, 4))
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 3
    layer2 = SeparableConv1D(3, 2, data_format="channels_last")
    layer2.build((None, 5, 4))
    assert len(layer2.trainable_weights) == 3 and layer2.non_trainable_weights == []
    layer2.trainable = False
    assert layer2.trainable_weights == [] and len(layer2.non_trainable_weights) == 3
    assert layer.get_config()["trainable"] is False


def test_wrong_input_after_build():
    layer = SeparableConv1D(3, 2, data_format="channels_last")
    layer.build((None, None, 4))
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 6, 5), np.float32))
    assert "(2, 6, 5)" in str(info.value)
    with pytest.raises(ValueError):
        layer(np.zeros((6, 4), np.float32))
    with pytest.raises(TypeError):
        layer(np.zeros((2, 6, 4), complex))
    with pytest.raises(ValueError, match="steps"):
        layer(np.zeros((2, 1, 4), np.float32))


# ----------------------------------------------------------------------------
# Calls: dtype, reference, functional equality, out= and num_threads=
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("data_format", FORMATS)
def test_float64_layer(data_format):
    rng = np.random.default_rng(5)
    layer = SeparableConv1D(6, 4, strides=2, padding="same", dilation_rate=1,
                            depth_multiplier=2, activation="tanh", dtype="float64",
                            bias_initializer="random_normal", data_format=data_format)
    x = _input(rng, 3, 21, 5, data_format, np.float64)
    y = layer(x)
    assert y.dtype == np.float64
    assert all(w.dtype == np.float64 for w in layer.weights)
    dw, pw, b = layer.get_weights()
    expected = separable_conv1d_reference(x, dw, pw, b, 2, "same", 1, data_format,
                                          activations.tanh)
    assert np.max(np.abs(y - expected)) <= 1e-10 * max(1, np.max(np.abs(expected)))
    # float32 input is computed in the layer's dtype.
    assert layer(x.astype(np.float32)).dtype == np.float64


def test_float32_layer_output_dtype():
    rng = np.random.default_rng(6)
    layer = SeparableConv1D(3, 2, data_format="channels_last")
    for dtype in (np.float64, np.float16, np.int32):
        assert layer(_input(rng, 2, 5, 4).astype(dtype)).dtype == np.float32


def test_dtype_policy_dict():
    policy = {"module": "keras", "class_name": "DTypePolicy",
              "config": {"name": "float64"}, "registered_name": None}
    layer = SeparableConv1D(3, 2, dtype=policy, data_format="channels_last")
    assert layer.dtype == "float64"
    assert layer.get_config()["dtype"] == policy


@pytest.mark.parametrize("activation", ["relu", "gelu", "softmax", None])
@pytest.mark.parametrize("data_format", FORMATS)
def test_layer_equals_functional_bitwise(data_format, activation):
    rng = np.random.default_rng(7)
    layer = SeparableConv1D(9, 3, strides=2, padding="same", dilation_rate=2,
                            depth_multiplier=2, activation=activation,
                            data_format=data_format)
    x = _input(rng, 3, 40, 5, data_format)
    layer.build(x.shape)
    layer.set_weights(_weights(rng, 3, 5, 2, 9))
    y = layer(x)
    z = sepconv.separable_conv1d(x, *layer.get_weights(), strides=2, padding="same",
                                 dilation_rate=2, data_format=data_format,
                                 activation=activation)
    assert y.dtype == z.dtype == np.float32
    assert np.array_equal(y, z)
    for threads in (1, 3):
        out = np.empty_like(y)
        result = layer(x, out=out, num_threads=threads)
        assert result is out
        assert np.array_equal(out, y)


def test_layer_out_errors():
    rng = np.random.default_rng(8)
    layer = SeparableConv1D(3, 2, data_format="channels_last")
    x = _input(rng, 2, 5, 4)
    with pytest.raises(ValueError, match="out"):
        layer(x, out=np.empty((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="out"):
        layer(x, out=np.empty((2, 4, 3), np.float64))
    with pytest.raises(TypeError, match="out"):
        layer(x, out=[0.0])
    with pytest.raises(ValueError, match="num_threads"):
        layer(x, num_threads=0)


def test_layer_non_contiguous_and_list_input():
    rng = np.random.default_rng(9)
    layer = SeparableConv1D(3, 2, data_format="channels_last")
    x = _input(rng, 4, 12, 8)
    view = x[::2, ::2, ::2]
    expected = layer(np.ascontiguousarray(view))
    assert np.array_equal(layer(view), expected)
    assert np.array_equal(layer(view.tolist()), expected)


# ----------------------------------------------------------------------------
# Config round trip
# ----------------------------------------------------------------------------
def test_get_config_keys_match_keras():
    layer = SeparableConv1D(3, 2, data_format="channels_last")
    assert set(layer.get_config()) == set(_golden_config())


def test_from_golden_config():
    golden = _golden_config()
    layer = SeparableConv1D.from_config(golden)
    config = layer.get_config()
    for key, value in golden.items():
        if isinstance(value, list):
            value = tuple(value)
        assert config[key] == value, key


def _round_trip(layer, x):
    config = layer.get_config()
    clone = SeparableConv1D.from_config(config)
    assert clone.get_config() == config
    # Through JSON as Keras stores it.
    from_json = SeparableConv1D.from_config(json.loads(json.dumps(config)))
    assert from_json.get_config() == config
    y = layer(x)
    for other in (clone, from_json):
        other.set_weights(layer.get_weights())
        assert np.array_equal(other(x), y)
    return config


@pytest.mark.parametrize("form", ["names", "instances", "dicts"])
def test_config_round_trip(form):
    rng = np.random.default_rng(10)
    if form == "names":
        options = dict(
            activation="silu",
            depthwise_initializer="he_normal", pointwise_initializer="lecun_uniform",
            bias_initializer="ones",
            depthwise_regularizer="l1", pointwise_regularizer="l2",
            bias_regularizer="l1_l2", activity_regularizer="l2",
            depthwise_constraint="non_neg", pointwise_constraint="max_norm",
            bias_constraint="unit_norm")
    elif form == "instances":
        options = dict(
            activation=activations.tanh,
            depthwise_initializer=initializers.RandomNormal(mean=0.1, stddev=0.3, seed=4),
            pointwise_initializer=initializers.Orthogonal(gain=2.0),
            bias_initializer=initializers.Constant(0.5),
            depthwise_regularizer=regularizers.L1(0.003),
            pointwise_regularizer=regularizers.L2(0.004),
            bias_regularizer=regularizers.L1L2(l1=0.1, l2=0.2),
            activity_regularizer=regularizers.L1(0.05),
            depthwise_constraint=constraints.MaxNorm(1.5, axis=[0, 1]),
            pointwise_constraint=constraints.NonNeg(),
            bias_constraint=constraints.MinMaxNorm(0.5, 1.0, rate=0.5))
    else:
        def cfg(module, name, config):
            return {"module": f"keras.{module}", "class_name": name, "config": config,
                    "registered_name": None}
        options = dict(
            activation={"module": "keras.activations", "class_name": "function",
                        "config": "gelu", "registered_name": "gelu"},
            depthwise_initializer=cfg("initializers", "RandomUniform",
                                      {"minval": -0.2, "maxval": 0.3, "seed": 1}),
            pointwise_initializer=cfg("initializers", "GlorotNormal", {"seed": None}),
            bias_initializer=cfg("initializers", "Zeros", {}),
            depthwise_regularizer=cfg("regularizers", "L1", {"l1": 0.02}),
            pointwise_regularizer=cfg("regularizers", "L1L2", {"l1": 0.0, "l2": 0.03}),
            bias_regularizer=cfg("regularizers", "L2", {"l2": 0.5}),
            activity_regularizer=cfg("regularizers", "L1L2", {"l1": 0.01, "l2": 0.01}),
            depthwise_constraint=cfg("constraints", "UnitNorm", {"axis": 0}),
            pointwise_constraint=cfg("constraints", "MaxNorm",
                                     {"max_value": 0.7, "axis": 1}),
            bias_constraint=cfg("constraints", "NonNeg", {}))
    layer = SeparableConv1D(6, 3, strides=2, padding="Same", dilation_rate=1,
                            depth_multiplier=2, data_format="channels_first",
                            name=f"round_trip_{form}", dtype="float64", **options)
    x = _input(rng, 2, 15, 4, "channels_first", np.float64)
    config = _round_trip(layer, x)
    assert config["name"] == f"round_trip_{form}"
    assert config["padding"] == "same"
    assert config["dtype"]["config"]["name"] == "float64"
    for key in ("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
                "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                "bias_constraint", "depthwise_initializer", "pointwise_initializer",
                "bias_initializer"):
        assert set(config[key]) == {"module", "class_name", "config", "registered_name"}
    if form == "names":
        assert config["activation"] == "silu"
        assert config["depthwise_regularizer"]["class_name"] == "L1"
        assert config["depthwise_regularizer"]["config"] == {"l1": pytest.approx(0.01)}
        assert config["bias_regularizer"]["class_name"] == "L1L2"
        assert config["bias_regularizer"]["config"] == {"l1": pytest.approx(0.01),
                                                        "l2": pytest.approx(0.01)}
        assert config["depthwise_constraint"]["class_name"] == "NonNeg"
        assert config["pointwise_constraint"]["class_name"] == "MaxNorm"
        assert config["bias_initializer"]["class_name"] == "Ones"
    elif form == "instances":
        assert config["activation"] == "tanh"
        assert config["depthwise_regularizer"]["config"] == {"l1": pytest.approx(0.003)}
        assert config["depthwise_constraint"]["config"]["max_value"] == 1.5
        assert config["bias_initializer"]["config"] == {"value": 0.5}
    else:
        assert config["activation"] == "gelu"
        assert config["pointwise_constraint"]["config"] == {"max_value": 0.7, "axis": 1}
        assert config["bias_regularizer"]["config"] == {"l2": 0.5}


def test_config_round_trip_defaults_both_formats():
    rng = np.random.default_rng(11)
    for data_format in FORMATS:
        layer = SeparableConv1D(5, 4, activation="relu", data_format=data_format)
        config = _round_trip(layer, _input(rng, 2, 9, 3, data_format))
        assert config["data_format"] == data_format
        assert config["kernel_size"] == (4,) and config["strides"] == (1,)


def test_from_config_rejects_non_dict():
    with pytest.raises(TypeError):
        SeparableConv1D.from_config([("filters", 2)])


# ----------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------
def test_weight_regularizer_losses():
    rng = np.random.default_rng(12)
    layer = SeparableConv1D(4, 3, depth_multiplier=2, data_format="channels_last",
                            depthwise_regularizer=regularizers.L1(0.01),
                            pointwise_regularizer=regularizers.L2(0.02),
                            bias_regularizer=regularizers.L1L2(l1=0.1, l2=0.2))
    assert layer.losses == []
    dw, pw, b = _weights(rng, 3, 5, 2, 4)
    layer.set_weights([dw, pw, b])
    d64, p64, b64 = (w.astype(np.float64) for w in (dw, pw, b))
    expected = [0.01 * np.sum(np.abs(d64)), 0.02 * np.sum(p64 ** 2),
                0.1 * np.sum(np.abs(b64)) + 0.2 * np.sum(b64 ** 2)]
    losses = layer.losses
    assert len(losses) == 3
    assert losses == pytest.approx(expected, rel=1e-5)
    assert all(isinstance(v, float) for v in losses)
    # Losses follow the weights.
    layer.set_weights([2 * dw, pw, b])
    assert layer.losses[0] == pytest.approx(2 * expected[0], rel=1e-5)


def test_regularizer_names_use_keras_defaults():
    rng = np.random.default_rng(13)
    layer = SeparableConv1D(4, 3, data_format="channels_last", depthwise_regularizer="l1",
                            pointwise_regularizer="l2", bias_regularizer="l1_l2")
    dw, pw, b = _weights(rng, 3, 2, 1, 4)
    layer.set_weights([dw, pw, b])
    d64, p64, b64 = (w.astype(np.float64) for w in (dw, pw, b))
    expected = [0.01 * np.sum(np.abs(d64)), 0.01 * np.sum(p64 ** 2),
                0.01 * np.sum(np.abs(b64)) + 0.01 * np.sum(b64 ** 2)]
    assert layer.losses == pytest.approx(expected, rel=1e-5)


def test_only_some_regularizers():
    rng = np.random.default_rng(14)
    layer = SeparableConv1D(4, 3, data_format="channels_last",
                            pointwise_regularizer=regularizers.L2(0.5))
    dw, pw, b = _weights(rng, 3, 2, 1, 4)
    layer.set_weights([dw, pw, b])
    assert layer.losses == pytest.approx([0.5 * np.sum(pw.astype(np.float64) ** 2)],
                                         rel=1e-5)


def test_activity_regularizer_loss_of_last_call():
    rng = np.random.default_rng(15)
    layer = SeparableConv1D(4, 3, data_format="channels_last", activation="relu",
                            depthwise_regularizer=regularizers.L1(0.01),
                            activity_regularizer=regularizers.L2(0.05), dtype="float64")
    layer.build((None, None, 3))
    assert len(layer.losses) == 1  # no call yet: weight penalty only
    y1 = layer(_input(rng, 2, 10, 3, dtype=np.float64))
    losses = layer.losses
    assert len(losses) == 2
    # Keras 3's order and scale: the activity penalty divided by the batch size
    # first, then the weight penalties.
    assert losses[0] == pytest.approx(0.05 * np.sum(y1 ** 2) / 2, rel=1e-12)
    assert losses[1] == pytest.approx(0.01 * np.sum(np.abs(layer.get_weights()[0])),
                                      rel=1e-12)
    y2 = layer(_input(rng, 3, 7, 3, dtype=np.float64))
    losses = layer.losses
    assert len(losses) == 2
    assert losses[0] == pytest.approx(0.05 * np.sum(y2 ** 2) / 3, rel=1e-12)
    layer(_input(rng, 0, 7, 3, dtype=np.float64))
    assert layer.losses[0] == 0.0  # an empty batch: Keras's divide_no_nan
    layer.trainable = False
    assert len(layer.losses) == 1  # weight penalties follow trainable_weights


def test_activity_regularizer_l1():
    rng = np.random.default_rng(16)
    layer = SeparableConv1D(4, 3, data_format="channels_first",
                            activity_regularizer="l1")
    y = layer(_input(rng, 2, 10, 3, "channels_first"))
    assert layer.losses == pytest.approx([0.01 * np.sum(np.abs(y.astype(np.float64))) / 2],
                                         rel=1e-5)


# ----------------------------------------------------------------------------
# Constraints
# ----------------------------------------------------------------------------
def _max_norm(w, max_value, axis):
    w = w.astype(np.float64)
    norms = np.sqrt(np.sum(w ** 2, axis=axis, keepdims=True))
    return w * np.clip(norms, 0, max_value) / (1e-7 + norms)


def test_apply_constraints():
    rng = np.random.default_rng(17)
    layer = SeparableConv1D(4, 3, depth_multiplier=2, data_format="channels_last",
                            depthwise_constraint="non_neg",
                            pointwise_constraint=constraints.MaxNorm(0.5, axis=[0, 1]),
                            bias_constraint=constraints.MaxNorm(1.0, axis=0))
    layer.apply_constraints()  # not built: nothing to do
    dw, pw, b = _weights(rng, 3, 5, 2, 4)
    b = b * 5
    layer.set_weights([dw, pw, b])
    x = _input(rng, 2, 10, 5)
    layer(x)  # fill the packed-weight cache before projecting
    layer.apply_constraints()
    new_dw, new_pw, new_b = layer.get_weights()
    assert np.array_equal(new_dw, np.maximum(dw, 0))
    assert np.allclose(new_pw, _max_norm(pw, 0.5, (0, 1)), rtol=1e-6, atol=1e-7)
    assert np.all(np.sqrt(np.sum(new_pw.astype(np.float64) ** 2, axis=(0, 1))) <= 0.5 + 1e-6)
    assert np.allclose(new_b, _max_norm(b, 1.0, 0), rtol=1e-6, atol=1e-7)
    assert np.linalg.norm(new_b) <= 1.0 + 1e-6
    assert all(w.dtype == np.float32 for w in layer.get_weights())
    # The layer computes with the projected weights.
    expected = sepconv.separable_conv1d(x, new_dw, new_pw, new_b,
                                        data_format="channels_last")
    assert np.array_equal(layer(x), expected)


def test_apply_constraints_without_constraints_keeps_weights():
    layer = SeparableConv1D(4, 3, data_format="channels_last", bias_constraint="non_neg")
    layer.build((None, None, 2))
    before = layer.get_weights()
    layer.apply_constraints()
    after = layer.get_weights()
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])


# ----------------------------------------------------------------------------
# Empty inputs
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("data_format", FORMATS)
def test_zero_batch_call(data_format):
    layer = SeparableConv1D(3, 2, strides=2, padding="same", data_format=data_format,
                            activity_regularizer="l2")
    x = np.zeros((0, 4, 9) if data_format == "channels_first" else (0, 9, 4), np.float32)
    y = layer(x)
    assert y.shape == ((0, 3, 5) if data_format == "channels_first" else (0, 5, 3))
    assert layer.losses == [0.0]


def test_built_layer_zero_steps_same_padding():
    """'same' gives ceil(0 / s) = 0 output steps: an empty result, not a crash."""
    layer = SeparableConv1D(3, 2, padding="same", data_format="channels_last")
    layer.build((None, None, 4))
    assert layer.compute_output_shape((2, 0, 4)) == (2, 0, 3)
    y = layer(np.zeros((2, 0, 4), np.float32))
    assert y.shape == (2, 0, 3)
