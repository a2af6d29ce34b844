"""SeparableConv1D on dask arrays: lazy, chunked, and bitwise equal to the in-memory call."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import sepconv  # noqa: E402
from sepconv.conv_utils import conv_geometry  # noqa: E402
from sepconv.dask_support import steps_plan  # noqa: E402


@pytest.fixture(autouse=True)
def synchronous_scheduler():
    with dask.config.set(scheduler="synchronous"):
        yield


def assert_bitwise(actual, expected):
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    unsigned = np.uint32 if expected.dtype == np.float32 else np.uint64
    same = actual.view(unsigned) == expected.view(unsigned)
    if not same.all():
        bad = np.argwhere(~same)[:5]
        raise AssertionError(f"{(~same).sum()} values differ in their bits, first at "
                             f"{bad.tolist()}: {actual[tuple(bad[0])]!r} vs "
                             f"{expected[tuple(bad[0])]!r}")


def shape_of(batch, steps, channels, data_format):
    if data_format == "channels_first":
        return (batch, channels, steps)
    return (batch, steps, channels)


def chunks_of(batch_chunks, steps_chunks, channels, data_format):
    if data_format == "channels_first":
        return (batch_chunks, channels, steps_chunks)
    return (batch_chunks, steps_chunks, channels)


def check(layer, x, dx, **call_kwargs):
    """layer(dx) is a lazy dask array with the right metadata, bitwise equal to layer(x)."""
    y = layer(dx, **call_kwargs)
    assert isinstance(y, da.Array)
    expected = layer(x)
    assert y.shape == expected.shape
    assert y.dtype == expected.dtype == np.dtype(layer.dtype)
    assert y.chunks[0] == dx.chunks[0]  # batch stays blockwise
    result = y.compute()
    assert isinstance(result, np.ndarray)
    assert result.shape == y.shape and result.dtype == y.dtype
    # The chunks announced before compute are the blocks' real shapes.
    for index in np.ndindex(*y.numblocks):
        block = y.blocks[index].compute()
        assert block.shape == tuple(c[i] for c, i in zip(y.chunks, index))
    assert_bitwise(result, expected)
    return y


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_batch_chunked_only(data_format, activation):
    rng = np.random.default_rng(1)
    layer = sepconv.SeparableConv1D(5, 3, padding="same", depth_multiplier=2,
                                    activation=activation, data_format=data_format)
    x = rng.standard_normal(shape_of(7, 20, 4, data_format)).astype(np.float32)
    dx = da.from_array(x, chunks=chunks_of((3, 3, 1), -1, -1, data_format))
    y = check(layer, x, dx)
    steps_axis = 2 if data_format == "channels_first" else 1
    assert len(y.chunks[steps_axis]) == 1


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_steps_irregular_chunks(data_format, padding, dtype):
    rng = np.random.default_rng(2)
    layer = sepconv.SeparableConv1D(6, 4, strides=2, dilation_rate=2, padding=padding,
                                    activation="relu", data_format=data_format, dtype=dtype)
    x = rng.standard_normal(shape_of(3, 61, 5, data_format))
    dx = da.from_array(x, chunks=chunks_of((2, 1), (13, 2, 20, 9, 17), 5, data_format))
    y = check(layer, x, dx)
    steps_axis = 2 if data_format == "channels_first" else 1
    assert len(y.chunks[steps_axis]) > 2


def _random_case(seed):
    rng = np.random.default_rng(1000 + seed)
    data_format = ["channels_last", "channels_first"][seed % 2]
    activation = [None, "relu", "softmax", "tanh", "log_softmax", "gelu"][(seed // 2) % 6]
    dtype = ["float32", "float64"][(seed // 12 + seed // 2) % 2]
    kernel_size = int(rng.integers(1, 8))
    strides = int(rng.integers(1, 4))
    dilation = int(rng.integers(1, 4))
    padding = ["valid", "same"][int(rng.integers(0, 2))]
    mult = int(rng.integers(1, 4))
    filters = int(rng.integers(1, 20))
    channels = int(rng.integers(1, 12))
    batch = int(rng.integers(1, 5))
    span = (kernel_size - 1) * dilation + 1
    steps = int(rng.integers(span, span + 80))
    # Random steps chunks, often smaller than the dilated kernel.
    sizes, left = [], steps
    if seed % 3 == 0:  # chunks at least as long as the dilated kernel
        smallest, largest = span, 3 * span + 10
    else:
        smallest, largest = 1, int(rng.choice([1, 2, 3, max(1, span - 1), span + 5, 30]))
    while left:
        size = min(left, int(rng.integers(smallest, largest + 1)))
        sizes.append(size)
        left -= size
    batch_chunks = int(rng.integers(1, batch + 1))
    channel_chunks = int(rng.integers(1, channels + 1))  # rechunked to one
    layer = sepconv.SeparableConv1D(filters, kernel_size, strides=strides, padding=padding,
                                    data_format=data_format, dilation_rate=dilation,
                                    depth_multiplier=mult, activation=activation,
                                    dtype=dtype, bias_initializer="random_normal")
    x = rng.standard_normal(shape_of(batch, steps, channels, data_format))
    if rng.random() < 0.3:
        x = x.astype(np.float32 if dtype == "float64" else np.float64)  # cast lazily
    dx = da.from_array(x, chunks=chunks_of(batch_chunks, tuple(sizes), channel_chunks,
                                           data_format))
    return layer, x, dx


@pytest.mark.parametrize("seed", range(40))
def test_random_configurations(seed):
    layer, x, dx = _random_case(seed)
    check(layer, x, dx)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_chunks_smaller_than_kernel(data_format):
    rng = np.random.default_rng(3)
    layer = sepconv.SeparableConv1D(3, 7, dilation_rate=3, padding="same",
                                    data_format=data_format)
    x = rng.standard_normal(shape_of(2, 50, 3, data_format)).astype(np.float32)
    dx = da.from_array(x, chunks=chunks_of(1, 1, 3, data_format))
    y = check(layer, x, dx)
    steps_axis = 2 if data_format == "channels_first" else 1
    # Neighbouring one-step chunks are merged: no output chunk is shorter than the kernel.
    assert all(size >= 19 for size in y.chunks[steps_axis])


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_strides_larger_than_chunks(data_format):
    rng = np.random.default_rng(4)
    layer = sepconv.SeparableConv1D(2, 2, strides=3, data_format=data_format)
    x = rng.standard_normal(shape_of(2, 40, 2, data_format)).astype(np.float32)
    dx = da.from_array(x, chunks=chunks_of(2, (1, 1, 5, 1, 2, 20, 1, 1, 8), 2, data_format))
    check(layer, x, dx)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("activation", ["softmax", "log_softmax", "sparsemax", "glu"])
def test_axiswise_activations(data_format, activation):
    rng = np.random.default_rng(5)
    layer = sepconv.SeparableConv1D(6, 3, padding="same", activation=activation,
                                    data_format=data_format)
    x = rng.standard_normal(shape_of(3, 24, 4, data_format)).astype(np.float32)
    dx = da.from_array(x, chunks=chunks_of(2, (5, 11, 8), 4, data_format))
    y = check(layer, x, dx)
    if data_format == "channels_first":
        assert len(y.chunks[2]) == 1  # the activation's axis is one chunk
    else:
        assert len(y.chunks[1]) == 3


def test_glu_odd_steps_raises_like_in_memory():
    layer = sepconv.SeparableConv1D(2, 3, padding="same", activation="glu",
                                    data_format="channels_first")
    x = np.ones((1, 2, 19), np.float32)
    with pytest.raises(ValueError, match="glu"):
        layer(x)
    with pytest.raises(ValueError, match="glu"):
        layer(da.from_array(x, chunks=(1, 2, 5)))


def test_custom_callable_activation():
    def scaled_softmax(v):
        return sepconv.activations.softmax(2 * v)

    rng = np.random.default_rng(6)
    for data_format in ("channels_last", "channels_first"):
        layer = sepconv.SeparableConv1D(4, 3, padding="same", activation=scaled_softmax,
                                        data_format=data_format)
        x = rng.standard_normal(shape_of(2, 30, 3, data_format))
        dx = da.from_array(x, chunks=chunks_of(1, 7, 3, data_format))
        check(layer, x, dx)


def test_builds_unbuilt_layer_and_casts_lazily():
    rng = np.random.default_rng(7)
    layer = sepconv.SeparableConv1D(3, 3, dtype="float64")
    x = rng.integers(-5, 5, size=(4, 25, 6)).astype(np.int32)
    dx = da.from_array(x, chunks=(2, 10, 4))
    y = layer(dx)
    assert layer.built and layer.input_channels == 6
    assert y.dtype == np.float64 and y.shape == (4, 23, 3)
    assert_bitwise(y.compute(), layer(x))


def test_graph_is_lazy():
    calls = []

    def tracked(block):
        calls.append(block.shape)
        return block

    x = np.random.default_rng(8).standard_normal((2, 30, 3)).astype(np.float32)
    dx = da.from_array(x, chunks=(1, 8, 3)).map_blocks(tracked, dtype=np.float32)
    calls.clear()  # dask may probe the function on an empty meta array
    layer = sepconv.SeparableConv1D(2, 5, padding="same")
    y = layer(dx)
    assert calls == []
    assert y.shape == (2, 30, 2)
    assert_bitwise(y.compute(), layer(x))
    assert calls and all(0 not in shape for shape in calls)


def test_non_finite_inputs():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 40, 3))
    x[0, 0, 0] = np.nan
    x[1, 39, 2] = np.inf
    x[0, 17, 1] = -np.inf
    for padding in ("valid", "same"):
        layer = sepconv.SeparableConv1D(4, 5, padding=padding, dtype="float64")
        dx = da.from_array(x, chunks=(1, 9, 3))
        expected = layer(x)
        result = layer(dx).compute()
        np.testing.assert_array_equal(result, expected)
        finite = np.isfinite(expected)
        assert_bitwise(np.where(finite, result, 0), np.where(finite, expected, 0))


def test_signed_zeros_at_the_edges():
    # Zero input: the kernel's sums start at +0.0, so padded taps (0 * w) cannot
    # turn a skipped tap's +0.0 into -0.0; with negative weights and no bias the
    # products are -0.0 and the results must still match bit for bit.
    layer = sepconv.SeparableConv1D(2, 5, padding="same", use_bias=False)
    layer.build((None, None, 2))
    layer.set_weights([-np.ones((5, 2, 1)), -np.ones((1, 2, 2))])
    x = np.zeros((1, 23, 2), np.float32)
    x[0, 10] = -0.0
    dx = da.from_array(x, chunks=(1, 4, 2))
    assert_bitwise(layer(dx).compute(), layer(x))


def test_threaded_scheduler_and_num_threads():
    rng = np.random.default_rng(10)
    layer = sepconv.SeparableConv1D(8, 3, strides=2, padding="same",
                                    data_format="channels_first")
    x = rng.standard_normal((6, 5, 300)).astype(np.float32)
    dx = da.from_array(x, chunks=(2, 5, 37))
    with dask.config.set(scheduler="threads"):
        assert_bitwise(layer(dx, num_threads=2).compute(), layer(x))


def test_channels_axis_rechunked_and_validated():
    rng = np.random.default_rng(11)
    layer = sepconv.SeparableConv1D(3, 2, data_format="channels_first")
    x = rng.standard_normal((2, 6, 17)).astype(np.float32)
    dx = da.from_array(x, chunks=(1, 2, 5))
    assert_bitwise(layer(dx).compute(), layer(x))
    with pytest.raises(ValueError, match="channels"):
        layer(da.zeros((2, 5, 17), chunks=2))
    with pytest.raises(ValueError, match="3-D"):
        layer(da.zeros((2, 6), chunks=2))


def test_valid_too_short_raises_and_empty_same():
    layer = sepconv.SeparableConv1D(2, 5, dilation_rate=2)
    layer.build((None, None, 3))
    with pytest.raises(ValueError):
        layer(da.zeros((1, 8, 3), chunks=(1, 3, 3)))
    same = sepconv.SeparableConv1D(2, 5, padding="same")
    same.build((None, None, 3))
    y = same(da.zeros((2, 0, 3), chunks=(1, 1, 3)))
    assert y.shape == (2, 0, 2)
    assert y.compute().shape == same(np.zeros((2, 0, 3))).shape


def test_activity_regularizer_is_not_recorded():
    layer = sepconv.SeparableConv1D(2, 3, activity_regularizer="l2")
    x = np.ones((1, 10, 2), np.float32)
    y = layer(da.from_array(x, chunks=(1, 4, 2)))
    assert layer.losses == []
    assert_bitwise(y.compute(), layer(x))
    assert len(layer.losses) == 1


@pytest.mark.parametrize("seed", range(200))
def test_steps_plan_covers_the_output(seed):
    rng = np.random.default_rng(seed)
    kernel_size, strides, dilation = (int(v) for v in rng.integers(1, 8, size=3))
    padding = ["valid", "same"][seed % 2]
    span = (kernel_size - 1) * dilation + 1
    steps = int(rng.integers(span if padding == "valid" else 0, 120))
    sizes, left = [], steps
    while left:
        sizes.append(min(left, int(rng.integers(1, 20))))
        left -= sizes[-1]
    if not sizes:
        sizes = [0]
    out_steps, pieces = steps_plan(tuple(sizes), kernel_size, strides, dilation, padding)
    expected_steps, pad_left = conv_geometry(steps, kernel_size, strides, dilation, padding)
    assert out_steps == expected_steps
    position = 0
    for i, (t0, t1, a, b, pad_lo, pad_hi) in enumerate(pieces):
        assert t0 == position and t1 > t0
        position = t1
        assert 0 <= a <= b <= steps and pad_lo >= 0 and pad_hi >= 0
        assert a - pad_lo == t0 * strides - pad_left  # first tap of the first step
        assert b + pad_hi == (t1 - 1) * strides - pad_left + span  # past the last tap
        if i:
            assert pad_lo == 0
        if i < len(pieces) - 1:
            assert pad_hi == 0
        if len(pieces) > 1:
            assert (t1 - t0) * strides >= span
    assert position == out_steps


def test_non_finite_weights():
    # One steps chunk uses the layer's own padding: exact even with an inf weight.
    # Several chunks zero-pad the edge pieces, and 0 * inf = NaN there (documented),
    # so only the outputs whose taps are all inside the input are compared.
    layer = sepconv.SeparableConv1D(2, 5, padding="same", dtype="float64")
    layer.build((None, None, 2))
    weights = layer.get_weights()
    weights[0][0, 0, 0] = np.inf
    layer.set_weights(weights)
    x = np.random.default_rng(12).standard_normal((2, 30, 2))
    expected = layer(x)
    assert_bitwise(layer(da.from_array(x, chunks=(1, 30, 2))).compute(), expected)
    chunked = layer(da.from_array(x, chunks=(1, 7, 2))).compute()
    assert_bitwise(chunked[:, 2:-2], expected[:, 2:-2])


def test_num_threads_checked_eagerly():
    layer = sepconv.SeparableConv1D(2, 3)
    with pytest.raises(ValueError, match="num_threads"):
        layer(da.zeros((1, 9, 2), chunks=(1, 4, 2)), num_threads=0)
