"""Streams (``layer.stream``): chunk by chunk, bitwise equal to the offline call.

The property: for any layer configuration and any split of a sequence into
chunks (empty and 1-step chunks included), the concatenation of what the
pushes and the flush return is bitwise equal to ``layer(x)``.
"""

import os
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sepconv
from sepconv import functional

pytestmark = pytest.mark.usefixtures("level")

EXAMPLES = int(os.environ.get("SEPCONV_STREAM_EXAMPLES", "1000"))
ACTIVATIONS = [None, "relu", "tanh", "gelu", "softmax", "leaky_relu", "elu"]


def _layer(filters, kernel, strides, dilation, mult, padding, data_format, dtype, activation,
           channels, seed=0):
    layer = sepconv.SeparableConv1D(filters, kernel, strides=strides, dilation_rate=dilation,
                                    depth_multiplier=mult, padding=padding,
                                    data_format=data_format, activation=activation,
                                    dtype=dtype, bias_initializer="random_normal")
    layer.build((None, channels, None) if data_format == "channels_first"
                else (None, None, channels))
    return layer


def _sequence(layer, batch, steps, seed):
    rng = np.random.default_rng(seed)
    shape = ((batch, layer.input_channels, steps) if layer.data_format == "channels_first"
             else (batch, steps, layer.input_channels))
    x = rng.standard_normal(shape).astype(np.float32 if layer.dtype == "float32"
                                          else np.float64)
    return x


def _axis(layer):
    return 2 if layer.data_format == "channels_first" else 1


def _streamed(stream, layer, x, cuts):
    """Push x cut at ``cuts`` (sorted step indices), then flush; concatenate."""
    axis = _axis(layer)
    parts, previous = [], 0
    for cut in list(cuts) + [x.shape[axis]]:
        chunk = x[:, :, previous:cut] if axis == 2 else x[:, previous:cut]
        expected = stream.output_steps(cut - previous)
        part = stream.push(chunk)
        assert part.shape[axis] == expected
        parts.append(part)
        previous = cut
    expected = stream.flush_steps()
    tail = stream.flush()
    assert tail.shape[axis] == expected
    parts.append(tail)
    return np.concatenate(parts, axis=axis)


@st.composite
def _configs(draw):
    kernel = draw(st.integers(1, 9))
    strides = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 4))
    padding = draw(st.sampled_from(["same", "valid"]))
    span = (kernel - 1) * dilation + 1
    low = span if padding == "valid" else 0
    steps = draw(st.integers(low, low + 60))
    cuts = sorted(draw(st.lists(st.integers(0, steps), max_size=12)))
    return dict(
        filters=draw(st.integers(1, 40)), kernel=kernel, strides=strides, dilation=dilation,
        mult=draw(st.integers(1, 3)), padding=padding,
        data_format=draw(st.sampled_from(["channels_last", "channels_first"])),
        dtype=draw(st.sampled_from(["float32", "float64"])),
        activation=draw(st.sampled_from(ACTIVATIONS)), channels=draw(st.integers(1, 40)),
        batch=draw(st.integers(1, 3)), steps=steps, cuts=cuts,
        seed=draw(st.integers(0, 2**16)))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_configs())
def test_streamed_output_is_bitwise_the_offline_output(case):
    if case["data_format"] == "channels_first" and case["activation"] == "softmax":
        case["activation"] = "relu"   # softmax over steps cannot stream (tested below)
    layer = _layer(case["filters"], case["kernel"], case["strides"], case["dilation"],
                   case["mult"], case["padding"], case["data_format"], case["dtype"],
                   case["activation"], case["channels"], case["seed"])
    x = _sequence(layer, case["batch"], case["steps"], case["seed"])
    expected = layer(x)
    try:
        stream = layer.stream(batch_size=case["batch"])
    except ValueError as exc:   # a strided 'same' layer whose padding needs the length
        assert "steps=" in str(exc) and case["strides"] > 1 and case["padding"] == "same"
        stream = layer.stream(batch_size=case["batch"], steps=case["steps"])
    got = _streamed(stream, layer, x, case["cuts"])
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
    # The stream starts over after flush: the same sequence again gives the same bits.
    again = _streamed(stream, layer, x, [])
    assert again.tobytes() == expected.tobytes()


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_one_step_at_a_time_with_empty_pushes(data_format, padding):
    layer = _layer(16, 5, 1, 2, 2, padding, data_format, "float32", "relu", 6)
    x = _sequence(layer, 2, 50, 1)
    stream = layer.stream(batch_size=2)
    axis = _axis(layer)
    parts = []
    for t in range(x.shape[axis]):
        parts.append(stream.push(x[:, :, t:t + 1] if axis == 2 else x[:, t:t + 1]))
        parts.append(stream.push(x[:, :, :0] if axis == 2 else x[:, :0]))
    parts.append(stream.flush())
    got = np.concatenate(parts, axis=axis)
    assert got.tobytes() == layer(x).tobytes()


def test_delay_is_the_lookahead():
    # 'same', stride 1, kernel 5, dilation 2: span 9, left padding 4, lookahead 4.
    layer = _layer(3, 5, 1, 2, 1, "same", "channels_last", "float32", None, 2)
    stream = layer.stream()
    assert stream.delay == 4
    x = _sequence(layer, 1, 20, 2)
    returned = 0
    for t in range(20):
        returned += stream.push(x[:, t:t + 1]).shape[1]
        # output step u is final once input step u + delay arrived
        assert returned == max(0, t - stream.delay + 1)
    assert stream.flush().shape[1] == stream.delay
    valid = _layer(3, 4, 1, 1, 1, "valid", "channels_last", "float32", None, 2).stream()
    assert valid.delay == 3


def test_state_round_trip_between_streams_and_processes():
    layer = _layer(8, 7, 2, 1, 1, "valid", "channels_last", "float64", "tanh", 5)
    x = _sequence(layer, 1, 90, 3)
    expected = layer(x)
    first = layer.stream()
    head = first.push(x[:, :37])
    state = first.state
    assert state["history"].shape[1] <= (7 - 1) * 1 + 2
    assert int(state["steps_seen"]) == 37
    second = layer.stream()
    second.state = pickle.loads(pickle.dumps(state))
    rest = [second.push(x[:, 37:61]), second.push(x[:, 61:]), second.flush()]
    got = np.concatenate([head] + rest, axis=1)
    assert got.tobytes() == expected.tobytes()
    # the first stream is unaffected and can go on too
    got_first = np.concatenate([head, first.push(x[:, 37:]), first.flush()], axis=1)
    assert got_first.tobytes() == expected.tobytes()


@pytest.mark.parametrize("bad, error, shown", [
    ({"history": np.zeros((1, 3, 5)), "steps_seen": np.array(37)}, ValueError, "shape"),
    ({"history": np.zeros((1, 6, 5))}, TypeError, "steps_seen"),
    ({"history": np.zeros((1, 6, 5)), "steps_seen": np.array(1.5)}, TypeError, "integer"),
    ({"history": np.zeros((1, 6, 5)), "steps_seen": np.array(-2)}, ValueError, "steps_seen"),
    ({"history": "text", "steps_seen": np.array(37)}, TypeError, "history"),
    ([np.zeros(3)], TypeError, "dict"),
])
def test_bad_state_is_refused_and_leaves_the_stream_as_it_was(bad, error, shown):
    layer = _layer(8, 7, 2, 1, 1, "valid", "channels_last", "float64", "tanh", 5)
    stream = layer.stream()
    x = _sequence(layer, 1, 60, 4)
    stream.push(x[:, :20])
    before = stream.state
    with pytest.raises(error) as info:
        stream.state = bad
    assert shown in str(info.value)
    after = stream.state
    assert int(after["steps_seen"]) == 20
    assert after["history"].tobytes() == before["history"].tobytes()


def test_push_into_out_and_out_errors():
    layer = _layer(6, 3, 1, 1, 1, "same", "channels_last", "float32", "relu", 4)
    x = _sequence(layer, 1, 30, 5)
    stream = layer.stream()
    out = np.empty((1, stream.output_steps(10), 6), np.float32)
    assert stream.push(x[:, :10], out=out) is out
    with pytest.raises(ValueError, match="shape"):
        stream.push(x[:, 10:20], out=np.empty((1, 3, 6), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        stream.push(x[:, 10:20], out=np.empty((1, 10, 6), np.float64))
    # a refused push changes nothing: the stream goes on as if it never happened
    rest = [stream.push(x[:, 10:]), stream.flush()]
    got = np.concatenate([out] + rest, axis=1)
    assert got.tobytes() == layer(x).tobytes()


@pytest.mark.parametrize("chunk, error, shown", [
    (np.zeros((2, 5, 4), np.float32), ValueError, "batch_size"),
    (np.zeros((1, 5, 3), np.float32), ValueError, "channels"),
    (np.zeros((1, 5), np.float32), ValueError, "3-D"),
    ("abc", TypeError, "chunk"),
    (np.zeros((1, 5, 4), np.complex64), TypeError, "real"),
])
def test_bad_chunks_are_refused_before_anything_changes(chunk, error, shown):
    layer = _layer(6, 3, 1, 1, 1, "same", "channels_last", "float32", None, 4)
    stream = layer.stream()
    x = _sequence(layer, 1, 12, 6)
    first = stream.push(x[:, :5])
    with pytest.raises(error) as info:
        stream.push(chunk)
    assert shown in str(info.value)
    got = np.concatenate([first, stream.push(x[:, 5:]), stream.flush()], axis=1)
    assert got.tobytes() == layer(x).tobytes()


def test_strided_same_needs_the_length_when_the_padding_depends_on_it():
    layer = _layer(4, 4, 3, 1, 1, "same", "channels_last", "float32", None, 2)
    with pytest.raises(ValueError, match="steps="):
        layer.stream()
    x = _sequence(layer, 1, 31, 7)
    stream = layer.stream(steps=31)
    got = np.concatenate([stream.push(x[:, :9]), stream.push(x[:, 9:]), stream.flush()],
                         axis=1)
    assert got.tobytes() == layer(x).tobytes()
    with pytest.raises(ValueError, match="steps=31"):
        stream.push(np.zeros((1, 32, 2), np.float32))
    stream.push(x[:, :3])
    with pytest.raises(ValueError, match="flush"):
        stream.flush()
    # a stride whose split never depends on the length streams without steps=
    assert layer.__class__(4, 1, 3, "same", input_shape=(None, 2)).stream().delay == 0


def test_axis_wise_activation_over_steps_is_refused():
    layer = _layer(4, 3, 1, 1, 1, "same", "channels_first", "float32", "softmax", 2)
    with pytest.raises(ValueError, match="softmax"):
        layer.stream()


def test_stream_follows_set_weights_and_unbuilt_layers_are_refused():
    layer = _layer(5, 3, 1, 1, 1, "same", "channels_last", "float32", None, 3)
    x = _sequence(layer, 1, 20, 8)
    stream = layer.stream()
    head = stream.push(x[:, :10])
    layer.set_weights([w * 2 for w in layer.get_weights()])
    tail = [stream.push(x[:, 10:]), stream.flush()]
    new = layer(x)
    assert np.concatenate(tail, axis=1).tobytes() == new[:, head.shape[1]:].tobytes()
    with pytest.raises(ValueError, match="built"):
        sepconv.SeparableConv1D(3, 3).stream()
    with pytest.raises((TypeError, ValueError), match="batch_size"):
        layer.stream(batch_size=0)


def test_mixed_policy_stream():
    layer = sepconv.SeparableConv1D(5, 3, padding="same", activation="relu",
                                    dtype="mixed_float16")
    layer.build((None, None, 4))
    x = np.random.default_rng(9).standard_normal((1, 40, 4)).astype(np.float32)
    stream = layer.stream()
    got = np.concatenate([stream.push(x[:, :7]), stream.push(x[:, 7:]), stream.flush()],
                         axis=1)
    expected = layer(x)
    assert got.dtype == np.float16 and got.tobytes() == expected.tobytes()


def test_functional_stream_equals_the_functional_form():
    rng = np.random.default_rng(10)
    dw = rng.standard_normal((5, 6, 2))
    pw = rng.standard_normal((1, 12, 7))
    b = rng.standard_normal(7)
    x = rng.standard_normal((2, 45, 6))
    expected = sepconv.separable_conv1d(x, dw, pw, b, padding="same", dilation_rate=2,
                                        activation="silu")
    stream = sepconv.separable_conv1d_stream(dw, pw, b, padding="same", dilation_rate=2,
                                             activation="silu", batch_size=2)
    dw[...] = 0   # the stream copied the weights
    got = np.concatenate([stream.push(x[:, :1]), stream.push(x[:, 1:30]),
                          stream.push(x[:, 30:]), stream.flush()], axis=1)
    assert got.dtype == np.float64 and got.tobytes() == expected.tobytes()


def test_many_small_pushes_keep_a_bounded_buffer():
    layer = _layer(8, 3, 1, 1, 1, "same", "channels_last", "float32", None, 8)
    stream = layer.stream()
    chunk = np.ones((1, 1, 8), np.float32)
    for _ in range(5000):
        stream.push(chunk)
    assert stream._buffer.shape[1] <= 64
    assert stream.state["history"].shape[1] <= 2
