"""The functional form ``sepconv.separable_conv1d`` against the float64 reference."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepconv import activations, dispatch, functional, tiling
from sepconv import plan as plan_module
from sepconv.functional import separable_conv1d

from reference import separable_conv1d_reference

pytestmark = pytest.mark.usefixtures("level")  # every test at every ISA level
FORMATS = ["channels_last", "channels_first"]
# Fused (elementwise) and unfused (axis-wise) activations; all are smooth or
# piecewise linear, so rounding in the pre-activation cannot flip a branch by
# more than the tolerance.
ACTIVATIONS = [None, "linear", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "silu",
               "hard_sigmoid", "hard_silu", "elu", "gelu", "softplus", "selu", "softmax",
               "log_softmax"]


def _tolerance(dtype, expected):
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    return (2e-5 if np.dtype(dtype) == np.float32 else 1e-10) * scale


def _assert_close(y, expected, dtype):
    assert y.shape == expected.shape
    assert y.dtype == np.dtype(dtype)
    if expected.size:
        err = float(np.max(np.abs(y.astype(np.float64) - expected)))
        assert err <= _tolerance(dtype, expected), err


def _case(rng, batch=2, steps=11, channels=3, mult=2, filters=4, taps=3,
          channels_first=False, dtype=np.float32, bias=True):
    shape = (batch, channels, steps) if channels_first else (batch, steps, channels)
    x = rng.uniform(-1, 1, shape).astype(dtype)
    dw = rng.uniform(-1, 1, (taps, channels, mult)).astype(dtype)
    pw = rng.uniform(-1, 1, (1, channels * mult, filters)).astype(dtype)
    b = rng.uniform(-1, 1, (filters,)).astype(dtype) if bias else None
    return x, dw, pw, b


def _mixed_case(draw, word):
    flags = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if f else c for c, f in zip(word, flags))


# ----------------------------------------------------------------------------
# Property test against the reference
# ----------------------------------------------------------------------------
@st.composite
def conv_cases(draw):
    return dict(
        batch=draw(st.integers(0, 3)),
        # Up to 320 steps: several forward tiles of every MR, any remainder.
        steps=draw(st.one_of(st.integers(1, 60), st.integers(61, 320))),
        channels=draw(st.integers(1, 12)),
        mult=draw(st.integers(1, 3)),
        filters=draw(st.integers(1, 40)),
        taps=draw(st.integers(1, 6)),
        strides=draw(st.integers(1, 4)),
        dilation=draw(st.integers(1, 4)),
        padding=_mixed_case(draw, draw(st.sampled_from(["valid", "same"]))),
        data_format=draw(st.sampled_from(FORMATS)),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        bias=draw(st.booleans()),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        num_threads=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 2**32 - 1)),
        wrap_args=draw(st.booleans()),
    )


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=conv_cases())
def test_matches_reference(case, level):
    rng = np.random.default_rng(case["seed"])
    channels_first = case["data_format"] == "channels_first"
    x, dw, pw, b = _case(rng, case["batch"], case["steps"], case["channels"], case["mult"],
                         case["filters"], case["taps"], channels_first, case["dtype"],
                         case["bias"])
    strides, dilation = case["strides"], case["dilation"]
    if case["wrap_args"]:
        strides, dilation = (strides,), [dilation]
    kwargs = dict(strides=strides, padding=case["padding"], dilation_rate=dilation,
                  data_format=case["data_format"], activation=case["activation"],
                  num_threads=case["num_threads"], isa=level)
    span = (case["taps"] - 1) * case["dilation"] + 1
    if case["padding"].lower() == "valid" and case["steps"] < span:
        with pytest.raises(ValueError, match="steps"):
            separable_conv1d(x, dw, pw, b, **kwargs)
        return
    y = separable_conv1d(x, dw, pw, b, **kwargs)
    post = None if case["activation"] is None else activations.get(case["activation"])
    expected = separable_conv1d_reference(
        x, dw, pw, b, strides=case["strides"], padding=case["padding"],
        dilation_rate=case["dilation"], data_format=case["data_format"], activation=post)
    steps = case["steps"]
    out_steps = (-(-steps // case["strides"]) if case["padding"].lower() == "same"
                 else (steps - span) // case["strides"] + 1)
    shape = ((case["batch"], case["filters"], out_steps) if channels_first
             else (case["batch"], out_steps, case["filters"]))
    assert y.shape == shape
    _assert_close(y, expected, case["dtype"])


@pytest.mark.parametrize("data_format", FORMATS)
def test_zero_batch_gives_empty_output(level, data_format):
    rng = np.random.default_rng(1)
    x, dw, pw, b = _case(rng, batch=0, steps=9, channels_first=data_format == "channels_first")
    y = separable_conv1d(x, dw, pw, b, strides=2, padding="same", data_format=data_format,
                         isa=level)
    expected_shape = (0, 4, 5) if data_format == "channels_first" else (0, 5, 4)
    assert y.shape == expected_shape and y.dtype == np.float32


@pytest.mark.parametrize("data_format", FORMATS)
def test_zero_steps_same_padding_gives_empty_output(level, data_format):
    """'same' output length is ceil(0 / s) = 0: an empty result, not a crash."""
    rng = np.random.default_rng(2)
    x, dw, pw, b = _case(rng, batch=2, steps=0, channels_first=data_format == "channels_first")
    y = separable_conv1d(x, dw, pw, b, padding="same", data_format=data_format, isa=level)
    assert y.shape == ((2, 4, 0) if data_format == "channels_first" else (2, 0, 4))


def test_strides_with_dilation():
    rng = np.random.default_rng(3)
    x, dw, pw, b = _case(rng, batch=2, steps=37, channels=5, taps=4)
    for padding in ("valid", "same"):
        y = separable_conv1d(x, dw, pw, b, strides=3, dilation_rate=2, padding=padding,
                             data_format="channels_last")
        expected = separable_conv1d_reference(x, dw, pw, b, 3, padding, 2)
        _assert_close(y, expected, np.float32)


# ----------------------------------------------------------------------------
# Determinism across thread counts
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_identical_across_thread_counts(level, data_format, dtype):
    rng = np.random.default_rng(4)
    channels_first = data_format == "channels_first"
    x, dw, pw, b = _case(rng, batch=5, steps=300, channels=24, mult=2, filters=40, taps=5,
                         channels_first=channels_first, dtype=dtype)
    for padding, strides in (("same", 1), ("valid", 2)):
        results = [separable_conv1d(x, dw, pw, b, strides=strides, padding=padding,
                                    data_format=data_format, activation="gelu",
                                    num_threads=n, isa=level)
                   for n in (1, 2, 3, 4, 7)]
        for other in results[1:]:
            assert np.array_equal(results[0], other)
        expected = separable_conv1d_reference(x, dw, pw, b, strides, padding, 1, data_format,
                                              activations.gelu)
        _assert_close(results[0], expected, dtype)


# ----------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_filter_counts_around_the_half_width_panel(level, dtype, activation):
    # A last panel of filters at most half full runs one vector wide; each
    # side of that bound, with and without full panels before it, 1 and 3
    # threads, every output written (out starts as NaN).
    nr = functional.kernel_module().NR["float32" if dtype == np.float32 else "float64"]
    rng = np.random.default_rng(11)
    for filters in (1, nr // 2, nr // 2 + 1, nr - 1, nr + nr // 2, nr + nr // 2 + 1, 2 * nr + 3):
        x, dw, pw, b = _case(rng, batch=3, steps=203, channels=7, mult=2, filters=filters,
                             taps=5, dtype=dtype)
        expected = separable_conv1d_reference(x, dw, pw, b, 1, "same", 1, "channels_last",
                                              getattr(activations, activation))
        results = []
        for threads in (1, 3):
            out = np.full(expected.shape, np.nan, dtype)
            separable_conv1d(x, dw, pw, b, padding="same", activation=activation, out=out,
                             num_threads=threads, isa=level)
            results.append(out)
        _assert_close(results[0], expected, dtype)
        assert np.array_equal(results[0], results[1]), filters


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels_first", [False, True])
def test_a_narrow_last_panel_gives_the_bits_of_a_full_one(level, dtype, channels_first):
    # The last, partial panel of filters runs only as wide as it needs: a
    # quarter, a half or three quarters of NR where the level has quarter
    # kernels (AVX-512), a half or all of it elsewhere.  Each filter's sum is
    # the same chain whatever the width, so F filters give exactly the
    # first F outputs of the same layer with the filters padded to whole
    # panels (which runs full-width kernels only); every quarter bound, and
    # the rows of a tile's last partial block (203 steps).
    kernels = functional.kernel_module()
    nr = kernels.NR["float32" if dtype == np.float32 else "float64"]
    quarter = nr // 4
    rng = np.random.default_rng(12)
    fmt = "channels_first" if channels_first else "channels_last"
    for tail in sorted({1, quarter - 1, quarter, quarter + 1, 2 * quarter, 2 * quarter + 1,
                        3 * quarter - 1, 3 * quarter, 3 * quarter + 1, nr - 1} - {0}):
        filters = nr + tail
        x, dw, pw, b = _case(rng, batch=2, steps=203, channels=5, mult=2, filters=2 * nr,
                             taps=3, dtype=dtype)
        if channels_first:
            x = np.ascontiguousarray(x.transpose(0, 2, 1))
        padded = separable_conv1d(x, dw, pw, b, padding="same", activation="relu",
                                  data_format=fmt, num_threads=1, isa=level)
        for threads in (1, 2):
            out = separable_conv1d(x, dw, pw[..., :filters], b[:filters], padding="same",
                                   activation="relu", data_format=fmt, num_threads=threads,
                                   isa=level)
            part = padded[:, :filters] if channels_first else padded[..., :filters]
            assert np.array_equal(out, part), (tail, threads)
    assert kernels.GEMM_QUARTERS == dispatch.describe(level).gemm_quarters


def _two_passes(monkeypatch, kernels):
    """Plans made in this test sum more than KC inputs in two passes of the
    pointwise product (the rule sums up to 1024 in one), so the passes after
    the first, through the C tile, are what the test checks; the plan cache
    is emptied for the test so no plan crosses into or out of it."""
    monkeypatch.setattr(tiling, "_MAX_RULE_KC", kernels.KC)
    monkeypatch.setattr(functional, "_plan_cache", {})
    assert tiling.forward_kc(kernels.KC + 1) < kernels.KC + 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation, use_bias", [("relu", True), ("tanh", True), (None, False)])
def test_a_masked_last_panel_writes_its_filters_and_nothing_past_them(level, dtype, activation,
                                                                      use_bias, monkeypatch):
    # The last, partial panel of filters is stored straight into the
    # layer's output under a lane mask (AVX2, AVX-512) or lane by lane: its
    # row of the output ends where the mask does, and after the last row
    # comes whatever the caller keeps there.  out= is a view that ends 64
    # bytes before the end of a buffer full of a sentinel: every tail width
    # of the panel, a rows-outer order (out off a line) and the panel order,
    # one and two KC blocks of the sum, 1 and 2 threads, five full row
    # blocks (at tail_pairs levels two pairs and one alone); each call's
    # bits are the first F outputs of the layer padded to whole panels, and
    # the sentinel past the view is untouched.
    kernels = functional.kernel_module(level)
    _two_passes(monkeypatch, kernels)
    nr = kernels.NR["float32" if dtype == np.float32 else "float64"]
    itemsize = np.dtype(dtype).itemsize
    bits = np.uint32 if dtype == np.float32 else np.uint64
    sentinel = np.array(-12345.5, dtype).view(bits)
    rng = np.random.default_rng(47)
    act = activations.get(activation) if activation else None
    for channels in (5, kernels.KC // 2 + 7):
        x, dw, pw, b = _case(rng, batch=2, steps=5 * kernels.MR + 2, channels=channels,
                             mult=2, filters=2 * nr, taps=3, dtype=dtype, bias=use_bias)
        padded = separable_conv1d(x, dw, pw, b, padding="valid", activation=activation,
                                  num_threads=1, isa=level)
        for tail in range(1, nr):
            filters = nr + tail
            cut_b = None if b is None else b[:filters]
            expected = padded[..., :filters]
            if tail in (1, nr // 2 + 1, nr - 1):
                reference = separable_conv1d_reference(x, dw, pw[..., :filters], cut_b,
                                                       activation=act)
                _assert_close(expected, reference, dtype)
            for offset in (0, 16):
                nbytes = expected.size * itemsize
                raw = np.empty(nbytes + offset + 192, np.uint8)
                start = (-raw.ctypes.data) % 64 + offset
                buffer = raw[start:].view(bits)
                buffer[...] = sentinel
                out = buffer[:expected.size].view(dtype).reshape(expected.shape)
                for threads in (1, 2):
                    out[...] = np.nan
                    separable_conv1d(x, dw, pw[..., :filters], cut_b, padding="valid",
                                     activation=activation, out=out, num_threads=threads,
                                     isa=level)
                    assert np.array_equal(out.view(bits), expected.view(bits)), (
                        channels, tail, offset, threads)
                    assert (buffer[expected.size:] == sentinel).all(), (channels, tail, offset)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation, use_bias", [("relu", True), ("tanh", True), (None, False)])
def test_a_tiles_last_rows_give_the_bits_of_full_blocks(level, dtype, activation, use_bias, monkeypatch):
    # The rows of a tile's last, partial block of MR rows go through the C
    # tile in MR-row micro-kernel calls (MR / 2 rows or more) or one row at a
    # time; either way each output is the same chain of multiply-adds as in a
    # full block.  A sequence whose outputs are whole blocks, cut to each
    # remainder: the cut outputs are exactly its first ones, bit for bit
    # (with a NaN and an infinity in the input of those rows).  300 depthwise
    # outputs (two KC blocks of the sum), 1.75 panels of filters (a partial
    # panel), 1 and 2 threads.
    kernels = functional.kernel_module(level)
    _two_passes(monkeypatch, kernels)
    mr = kernels.MR
    nr = kernels.NR["float32" if dtype == np.float32 else "float64"]
    taps = 3
    rng = np.random.default_rng(31)
    x, dw, pw, b = _case(rng, batch=2, steps=5 * mr + taps - 1, channels=150, mult=2,
                         filters=nr + 3 * nr // 4, taps=taps, dtype=dtype, bias=use_bias)
    assert 150 * 2 > kernels.KC
    whole = separable_conv1d(x, dw, pw, b, activation=activation, num_threads=1, isa=level)
    assert whole.shape[1] == 5 * mr
    expected = separable_conv1d_reference(
        x, dw, pw, b, activation=activations.get(activation) if activation else None)
    _assert_close(whole, expected, dtype)
    x[0, 3 * mr + 1, 7] = np.nan
    x[1, 3 * mr + 2, 9] = np.inf
    whole = separable_conv1d(x, dw, pw, b, activation=activation, num_threads=1, isa=level)
    assert np.isnan(whole[0, 3 * mr]).any() and np.isnan(whole[1, 3 * mr + 2]).any()
    bits = np.uint32 if dtype == np.float32 else np.uint64
    for rem in range(mr):
        n = 3 * mr + rem
        for threads in (1, 2):
            cut = separable_conv1d(x[:, :n + taps - 1], dw, pw, b, activation=activation,
                                   num_threads=threads, isa=level)
            assert np.array_equal(cut.view(bits), whole[:, :n].view(bits)), (rem, threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strides", [1, 2])
def test_channel_counts_around_the_depthwise_blocks(level, dtype, strides):
    # The channels_last depthwise loop takes blocks two vectors wide; the
    # channels after the last one take a block ending at the last channel,
    # one vector wide when they fit in one; fewer than two vectors of
    # channels take one-vector blocks, fewer than one but at least half of
    # one half-vector blocks, fewer a plain loop.  Each
    # side of each bound, with 2 depthwise outputs per channel, input at a
    # 64-byte boundary and 16 bytes past one, 1 and 3 threads, every output
    # written (out starts as NaN).
    nr = functional.kernel_module().NR["float32" if dtype == np.float32 else "float64"]
    lanes = nr // 2
    rng = np.random.default_rng(12)
    counts = (1, lanes // 2 - 1, lanes // 2, lanes // 2 + 1, lanes - 1, lanes, lanes + 1,
              nr - 1, nr, nr + 1, nr + lanes, nr + lanes + 1, 2 * nr + 3)
    for channels in sorted(set(c for c in counts if c >= 1)):
        x, dw, pw, b = _case(rng, batch=2, steps=157, channels=channels, mult=2, filters=5,
                             taps=4, dtype=dtype)
        expected = separable_conv1d_reference(x, dw, pw, b, strides, "same", 1, "channels_last",
                                              activations.relu)
        results = []
        for offset in (0, 16):
            raw = np.empty(x.nbytes + 128, np.uint8)
            start = (-raw.ctypes.data) % 64 + offset
            moved = raw[start:start + x.nbytes].view(dtype).reshape(x.shape)
            moved[...] = x
            for threads in (1, 3):
                out = np.full(expected.shape, np.nan, dtype)
                separable_conv1d(moved, dw, pw, b, strides=strides, padding="same",
                                 activation="relu", out=out, num_threads=threads, isa=level)
                results.append(out)
        _assert_close(results[0], expected, dtype)
        for other in results[1:]:
            assert np.array_equal(results[0], other), channels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("taps, strides, dilation, mult, padding", [
    (1, 1, 1, 1, "valid"), (2, 1, 1, 1, "same"), (7, 1, 1, 2, "same"), (15, 1, 8, 1, "same"),
    (5, 2, 1, 3, "same"), (9, 3, 2, 1, "valid"), (33, 1, 1, 1, "same"), (4, 4, 5, 2, "same"),
    (300, 1, 1, 1, "valid"), (20, 1, 9, 1, "same"), (3, 1, 1, 1, "same")])
def test_fewer_channels_than_half_a_vector(level, dtype, taps, strides, dilation, mult,
                                           padding):
    # Below half a vector of channels the channels_last depthwise takes, at
    # stride 1 with one output per channel, flat runs over whole vectors of
    # outputs (a table of each tap's weights repeated; edge steps in runs of
    # the same taps inside; 300 taps outgrow the table), and otherwise the
    # scalar block (DW_ROWS sums side by side) where a block's taps are all
    # inside the input and single sums over the taps inside elsewhere.
    # Every such count (1 at least), input on a line and an element past
    # one, edge tiles with taps outside, NaN and inf in the input and the
    # weights: the reference (finite batch element), the channels_first
    # bits (its own depthwise loop, the same sums in the same order) and the
    # same bits for 1 and 3 threads.
    lanes = functional.kernel_module().NR["float32" if dtype == np.float32 else "float64"] // 2
    rng = np.random.default_rng(taps * 31 + strides)
    steps = 200 if taps < 100 else 480
    for channels, offset in [(c, o) for c in range(1, max(2, lanes // 2)) for o in (0, 1)]:
        values, dw, pw, b = _case(rng, batch=3, steps=steps, channels=channels, mult=mult,
                                  filters=11, taps=taps, dtype=dtype)
        raw = np.empty(values.size + 64, dtype)
        start = (-raw.ctypes.data % 64) // raw.itemsize + offset
        x = raw[start:start + values.size].reshape(values.shape)
        x[...] = values
        assert x.ctypes.data % 64 == offset * raw.itemsize
        x[2, 40:47] = np.nan
        x[2, 90, 0] = np.inf
        expected = separable_conv1d_reference(x[:2], dw, pw, b, strides, padding, dilation,
                                              "channels_last", activations.tanh)
        kwargs = dict(strides=strides, padding=padding, dilation_rate=dilation,
                      activation="tanh", isa=level)
        last = separable_conv1d(x, dw, pw, b, num_threads=1, **kwargs)
        _assert_close(last[:2], expected, dtype)
        assert np.isnan(last[2]).any() and not np.isnan(last[2]).all()
        first = separable_conv1d(np.ascontiguousarray(x.transpose(0, 2, 1)), dw, pw, b,
                                 data_format="channels_first", num_threads=1, **kwargs)
        np.testing.assert_array_equal(first.transpose(0, 2, 1), last)
        np.testing.assert_array_equal(
            separable_conv1d(x, dw, pw, b, num_threads=3, **kwargs), last)
        dw_bad = dw.copy()
        dw_bad[taps // 2, channels - 1, mult - 1] = np.inf
        last = separable_conv1d(x, dw_bad, pw, b, num_threads=1, **kwargs)
        first = separable_conv1d(np.ascontiguousarray(x.transpose(0, 2, 1)), dw_bad, pw, b,
                                 data_format="channels_first", num_threads=1, **kwargs)
        np.testing.assert_array_equal(first.transpose(0, 2, 1), last)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_taps_around_the_depthwise_register_groups(level, dtype):
    # With DW_TAPS (AVX-512: 4), a stride-1 depthwise block of DW_TAPS + 3
    # taps or more holds the weights of DW_TAPS taps in registers at a time
    # and ends with a group of 1-3.  Every tap count on both sides of those
    # bounds, both paddings (even taps put the extra step of 'same' on the right),
    # channels that end in a full block, a one-vector block and a plain
    # loop; against the reference, the same bits at 1 and 3 threads, and
    # every output written (out starts as NaN).
    nr = functional.kernel_module().NR["float32" if dtype == np.float32 else "float64"]
    rng = np.random.default_rng(31)
    for taps in range(1, 15):
        for padding in ("valid", "same"):
            for channels in (nr, nr + nr // 2, nr + 1):
                x, dw, pw, b = _case(rng, batch=1, steps=61, channels=channels, mult=1,
                                     filters=3, taps=taps, dtype=dtype)
                expected = separable_conv1d_reference(x, dw, pw, b, 1, padding, 1,
                                                      "channels_last", activations.linear)
                results = []
                for threads in (1, 3):
                    out = np.full(expected.shape, np.nan, dtype)
                    separable_conv1d(x, dw, pw, b, padding=padding, out=out,
                                     num_threads=threads, isa=level)
                    results.append(out)
                _assert_close(results[0], expected, dtype)
                assert np.array_equal(results[0], results[1]), (taps, padding, channels)


@pytest.mark.parametrize("channels_first", [False, True])
def test_outputs_past_the_streamed_size_give_the_same_bits(level, channels_first):
    # An output larger than STREAMED_OUTPUT bytes is prefetched before each
    # storing micro-kernel call; one batch element alone is below it.  The
    # whole batch (1 and 2 threads, out at a 64-byte boundary and 16 bytes
    # past one) must give the bits of the elements computed one at a time,
    # and match the reference; out starts as NaN, so every output is written.
    # 130 filters make rows that are not whole lines, so at levels with
    # rows_outer this is also the row-block order with its shared-line
    # prefetch (prefetch_out's shared_first).
    kernels = functional.kernel_module()
    dtype = np.float32
    batch, steps, filters = 3, 700, 130
    per_element = steps * filters * np.dtype(dtype).itemsize
    assert per_element <= kernels.STREAMED_OUTPUT < batch * per_element
    rng = np.random.default_rng(21)
    x, dw, pw, b = _case(rng, batch=batch, steps=steps, channels=37, mult=1, filters=filters,
                         taps=5, channels_first=channels_first, dtype=dtype)
    data_format = "channels_first" if channels_first else "channels_last"
    expected = separable_conv1d_reference(x, dw, pw, b, 1, "same", 1, data_format,
                                          activations.relu)
    one_at_a_time = np.concatenate([
        separable_conv1d(x[i:i + 1], dw, pw, b, padding="same", activation="relu",
                         data_format=data_format, num_threads=1, isa=level)
        for i in range(batch)])
    _assert_close(one_at_a_time, expected, dtype)
    for offset in (0, 16):
        raw = np.empty(one_at_a_time.nbytes + 128, np.uint8)
        start = (-raw.ctypes.data) % 64 + offset
        out = raw[start:start + one_at_a_time.nbytes].view(dtype).reshape(expected.shape)
        for threads in (1, 2):
            out[...] = np.nan
            separable_conv1d(x, dw, pw, b, padding="same", activation="relu",
                             data_format=data_format, out=out, num_threads=threads, isa=level)
            assert np.array_equal(out, one_at_a_time), (offset, threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_rows_off_a_line_give_the_same_bits(level, dtype, monkeypatch):
    # At levels with rows_outer (AVX2, AVX-512) the last KC block into rows
    # of y that are not whole 64-byte lines (out off a line, or a row of
    # filters that is not a whole number of lines) runs row block by row
    # block instead of panel by panel; other levels keep the panel order.
    # Filter
    # counts around the panel width (full, partial, quarter-width last
    # panels), one and two KC blocks of inputs, valid rows that end inside a
    # row block, an activation applied after the store (tanh) and one in it
    # (relu); out at a line and 4, 16 and 48 bytes past one (every output
    # written: out starts as NaN), 1 and 3 threads: the bits of the aligned
    # 1-thread call, which matches the reference.
    kernels = functional.kernel_module()
    _two_passes(monkeypatch, kernels)
    nr = kernels.NR["float32" if dtype == np.float32 else "float64"]
    itemsize = np.dtype(dtype).itemsize
    rng = np.random.default_rng(44)
    for filters in sorted({nr - 1, nr, nr + 1, 2 * nr, 2 * nr + nr // 4, 3 * nr - 2}):
        for channels, steps in ((7, 61), (kernels.KC // 2 + 3, 29)):
            x, dw, pw, b = _case(rng, batch=2, steps=steps, channels=channels, mult=2,
                                 filters=filters, taps=3, dtype=dtype)
            for activation in ("relu", "tanh"):
                expected = separable_conv1d_reference(x, dw, pw, b, 1, "same", 1,
                                                      "channels_last",
                                                      activations.get(activation))
                results = []
                for offset in (0, 4, 16, 48):
                    if offset % itemsize:
                        continue
                    nbytes = expected.size * itemsize
                    raw = np.empty(nbytes + 128, np.uint8)
                    start = (-raw.ctypes.data) % 64 + offset
                    out = raw[start:start + nbytes].view(dtype).reshape(expected.shape)
                    assert out.ctypes.data % 64 == offset
                    for threads in (1, 3):
                        out[...] = np.nan
                        separable_conv1d(x, dw, pw, b, padding="same", activation=activation,
                                         out=out, num_threads=threads, isa=level)
                        results.append(out.copy())
                _assert_close(results[0], expected, dtype)
                for other in results[1:]:
                    assert np.array_equal(results[0], other), (filters, channels, activation)


@pytest.fixture
def weights():
    rng = np.random.default_rng(5)
    _, dw, pw, b = _case(rng, channels=3, mult=2, filters=4, taps=3)
    return dw, pw, b


def _check(x, dw, pw, b, dtype=np.float32, data_format="channels_last", **kwargs):
    expected = separable_conv1d_reference(np.asarray(x, dtype=np.float64), dw, pw, b,
                                          data_format=data_format, **kwargs)
    y = separable_conv1d(x, dw, pw, b, data_format=data_format, **kwargs)
    _assert_close(y, expected, dtype)


def test_integer_input(weights):
    x = np.random.default_rng(6).integers(-5, 6, (2, 10, 3))
    for dtype in (np.int8, np.int32, np.int64, np.uint8):
        _check(x.astype(dtype) if dtype != np.uint8 else np.abs(x).astype(dtype), *weights)


def test_bool_input(weights):
    x = np.random.default_rng(6).integers(0, 2, (2, 10, 3)).astype(bool)
    _check(x, *weights)


def test_float16_input(weights):
    x = np.random.default_rng(7).uniform(-1, 1, (2, 10, 3)).astype(np.float16)
    _check(x, *weights)


def test_big_endian_input(weights):
    x = np.random.default_rng(8).uniform(-1, 1, (2, 10, 3))
    _check(x.astype(">f4"), *weights)
    _check(x.astype(">f8"), *weights, dtype=np.float64)


def test_big_endian_weights(weights):
    x = np.random.default_rng(8).uniform(-1, 1, (2, 10, 3)).astype(np.float32)
    dw, pw, b = (w.astype(">f4") for w in weights)
    _check(x, dw, pw, b)


def test_non_contiguous_inputs(weights):
    rng = np.random.default_rng(9)
    base = rng.uniform(-1, 1, (4, 30, 7)).astype(np.float32)
    _check(base[::2, ::3, 1:4], *weights)
    _check(base[:, ::-1, 4:7], *weights, padding="same", strides=2)
    # A transposed view: channels_first data seen through a channels_last array.
    stored = rng.uniform(-1, 1, (2, 12, 3)).astype(np.float32)
    view = stored.transpose(0, 2, 1)
    assert not view.flags.c_contiguous
    _check(view, *weights, data_format="channels_first")
    # Fortran order.
    _check(np.asfortranarray(stored), *weights)


def test_non_contiguous_weights(weights):
    dw, pw, b = weights
    x = np.random.default_rng(10).uniform(-1, 1, (2, 10, 3)).astype(np.float32)
    dw_f = np.asfortranarray(dw)
    pw_view = np.concatenate([pw, pw], axis=2)[:, :, ::2]
    b_view = np.repeat(b, 2)[::2]
    _check(x, dw_f, pw_view, b_view)


def test_read_only_input(weights):
    x = np.random.default_rng(11).uniform(-1, 1, (2, 10, 3)).astype(np.float32)
    x.flags.writeable = False
    dw, pw, b = (w.copy() for w in weights)
    for w in (dw, pw, b):
        w.flags.writeable = False
    _check(x, dw, pw, b)


def test_unaligned_input(weights):
    raw = np.zeros(2 * 10 * 3 * 4 + 1, dtype=np.uint8)
    x = raw[1:].view(np.float32).reshape(2, 10, 3)
    x[...] = np.random.default_rng(12).uniform(-1, 1, x.shape)
    assert not x.flags.aligned
    _check(x, *weights)


def test_python_lists(weights):
    dw, pw, b = weights
    x = np.random.default_rng(13).uniform(-1, 1, (2, 10, 3))
    expected = separable_conv1d_reference(x, dw, pw, b)
    y = separable_conv1d(x.tolist(), dw.tolist(), pw.tolist(), b.tolist(),
                         data_format="channels_last")
    # Python floats are float64.
    _assert_close(y, expected, np.float64)
    y = separable_conv1d(x.tolist(), dw, pw, b, data_format="channels_last")
    _assert_close(y, expected, np.float64)


def test_input_not_modified(weights):
    x = np.random.default_rng(14).uniform(-1, 1, (2, 10, 3)).astype(np.float32)
    copies = [x.copy()] + [w.copy() for w in weights]
    separable_conv1d(x, *weights, padding="same", activation="relu",
                     data_format="channels_last")
    for before, after in zip(copies, (x,) + tuple(weights)):
        assert np.array_equal(before, after)


# ----------------------------------------------------------------------------
# out=
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_out_is_filled_and_returned(weights, activation, level):
    x = np.random.default_rng(15).uniform(-1, 1, (2, 10, 3)).astype(np.float32)
    out = np.full((2, 8, 4), np.nan, dtype=np.float32)
    y = separable_conv1d(x, *weights, activation=activation, out=out,
                         data_format="channels_last", isa=level)
    assert y is out
    expected = separable_conv1d(x, *weights, activation=activation,
                                data_format="channels_last", isa=level)
    assert np.array_equal(out, expected)


def test_out_errors(weights):
    x = np.random.default_rng(16).uniform(-1, 1, (2, 10, 3)).astype(np.float32)
    kw = dict(data_format="channels_last")
    with pytest.raises(ValueError, match="out"):
        separable_conv1d(x, *weights, out=np.empty((2, 10, 4), np.float32), **kw)
    with pytest.raises(ValueError, match="out"):
        separable_conv1d(x, *weights, out=np.empty((2, 8, 4), np.float64), **kw)
    with pytest.raises(ValueError, match="out"):
        separable_conv1d(x, *weights, out=np.empty((2, 8, 8), np.float32)[:, :, ::2], **kw)
    with pytest.raises(ValueError, match="out"):
        separable_conv1d(x, *weights, out=np.empty((2, 4, 8), np.float32).transpose(0, 2, 1),
                         **kw)
    read_only = np.empty((2, 8, 4), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        separable_conv1d(x, *weights, out=read_only, **kw)
    with pytest.raises(ValueError, match="out"):
        separable_conv1d(x, *weights, out=np.empty((2, 8, 4), ">f4"), **kw)
    with pytest.raises(TypeError, match="out"):
        separable_conv1d(x, *weights, out=np.empty((2, 8, 4), np.float32).tolist(), **kw)
    with pytest.raises(TypeError, match="out"):
        separable_conv1d(x, *weights, out="buffer", **kw)


def test_out_overlapping_input():
    rng = np.random.default_rng(17)
    dw = rng.uniform(-1, 1, (3, 4, 1)).astype(np.float32)
    pw = rng.uniform(-1, 1, (1, 4, 4)).astype(np.float32)
    x = rng.uniform(-1, 1, (2, 10, 4)).astype(np.float32)
    kw = dict(padding="same", data_format="channels_last")
    # out is x itself.
    with pytest.raises(ValueError, match="overlap"):
        separable_conv1d(x, dw, pw, out=x, **kw)
    # out and x are two views of one buffer.
    buffer = rng.uniform(-1, 1, 2 * 10 * 4 + 40).astype(np.float32)
    x_view = buffer[:80].reshape(2, 10, 4)
    out_view = buffer[40:].reshape(2, 10, 4)
    before = buffer.copy()
    with pytest.raises(ValueError, match="overlap"):
        separable_conv1d(x_view, dw, pw, out=out_view, **kw)
    assert np.array_equal(buffer, before)


def test_out_error_leaves_out_untouched(weights):
    x = np.random.default_rng(18).uniform(-1, 1, (2, 10, 3)).astype(np.float32)
    out = np.full((2, 9, 4), 7.0, dtype=np.float32)
    with pytest.raises(ValueError):
        separable_conv1d(x, *weights, out=out, data_format="channels_last")
    assert np.all(out == 7.0)


# ----------------------------------------------------------------------------
# Errors: type and message
# ----------------------------------------------------------------------------
def _raises(exc_type, fragments, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        separable_conv1d(*args, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


@pytest.fixture
def small():
    rng = np.random.default_rng(19)
    x, dw, pw, b = _case(rng, batch=2, steps=7, channels=4, mult=2, filters=5, taps=3)
    return x, dw, pw, b


@pytest.mark.parametrize("argument,value,exc_type,shown", [
    ("strides", 0, ValueError, "0"),
    ("strides", -1, ValueError, "-1"),
    ("strides", 1.5, TypeError, "1.5"),
    ("strides", True, TypeError, "True"),
    ("strides", (1, 2), ValueError, "(1, 2)"),
    ("strides", [0], ValueError, "[0]"),
    ("strides", "2", TypeError, "'2'"),
    ("strides", None, TypeError, "None"),
    ("dilation_rate", 0, ValueError, "0"),
    ("dilation_rate", -3, ValueError, "-3"),
    ("dilation_rate", 2.0, TypeError, "2.0"),
    ("padding", 2, ValueError, "2"),
    ("padding", "full", ValueError, "'full'"),
    ("padding", "causal", ValueError, "'causal'"),
    ("data_format", "NCW", ValueError, "'NCW'"),
    ("num_threads", 0, ValueError, "0"),
    ("num_threads", -2, ValueError, "-2"),
    ("num_threads", 1.0, TypeError, "1.0"),
])
def test_argument_errors(small, argument, value, exc_type, shown):
    x, dw, pw, b = small
    kwargs = {"data_format": "channels_last", argument: value}
    message = _raises(exc_type, [argument, shown], x, dw, pw, b, **kwargs)
    assert f"{argument}=" in message or "received" in message.lower()


def test_activation_error(small):
    _raises(ValueError, ["activation", "'no_such_activation'"], *small,
            activation="no_such_activation", data_format="channels_last")


def test_isa_error(small):
    _raises(ValueError, ["isa", "'sse9'"], *small, isa="sse9", data_format="channels_last")


@pytest.mark.parametrize("dw_shape", [(3, 4), (3, 4, 2, 1), (0, 4, 2), (3, 0, 2)])
def test_depthwise_kernel_shape_errors(small, dw_shape):
    x, _, pw, b = small
    _raises(ValueError, ["depthwise_kernel", str(dw_shape)], x, np.ones(dw_shape, np.float32),
            pw, b, data_format="channels_last")


def test_depthwise_pointwise_mismatch(small):
    x, _, pw, b = small
    _raises(ValueError, ["pointwise_kernel", "(1, 8, 5)", "(3, 5, 2)"], x,
            np.ones((3, 5, 2), np.float32), pw, b, data_format="channels_last")


@pytest.mark.parametrize("pw_shape", [(8, 5), (1, 7, 5), (2, 8, 5), (1, 8, 0), (1, 8, 5, 1)])
def test_pointwise_kernel_shape_errors(small, pw_shape):
    x, dw, _, b = small
    _raises(ValueError, ["pointwise_kernel", str(pw_shape)], x, dw,
            np.ones(pw_shape, np.float32), b, data_format="channels_last")


@pytest.mark.parametrize("b_shape", [(4,), (6,), (1, 5), ()])
def test_bias_shape_errors(small, b_shape):
    x, dw, pw, _ = small
    _raises(ValueError, ["bias", str(b_shape)], x, dw, pw, np.ones(b_shape, np.float32),
            data_format="channels_last")


def test_weight_dtype_errors(small):
    x, dw, pw, b = small
    _raises(TypeError, ["depthwise_kernel", "complex"], x, dw.astype(complex), pw, b,
            data_format="channels_last")
    _raises(TypeError, ["pointwise_kernel", "object"], x, dw, pw.astype(object), b,
            data_format="channels_last")
    _raises(TypeError, ["bias", "<U"], x, dw, pw, ["a"] * 5, data_format="channels_last")


@pytest.mark.parametrize("bad_x,shown", [
    (np.zeros((2, 7, 4), np.complex64), "complex64"),
    (np.zeros((2, 7, 4), object), "object"),
    (np.full((2, 7, 4), "a"), "<U1"),
    ("abc", "<U3"),
    ([[[1 + 2j] * 4] * 7] * 2, "complex128"),
])
def test_input_dtype_errors(small, bad_x, shown):
    _, dw, pw, b = small
    _raises(TypeError, ["`x`", shown], bad_x, dw, pw, b, data_format="channels_last")


def test_ragged_list_input(small):
    _, dw, pw, b = small
    with pytest.raises((TypeError, ValueError), match="x"):
        separable_conv1d([[[1.0] * 4] * 7, [[1.0] * 4] * 6], dw, pw, b,
                         data_format="channels_last")


def test_wrong_channel_count(small):
    x, dw, pw, b = small
    _raises(ValueError, ["`x`", "(2, 7, 5)", "4"], np.zeros((2, 7, 5), np.float32), dw, pw, b,
            data_format="channels_last")
    # Right count, wrong axis for channels_first.
    _raises(ValueError, ["`x`", "(2, 7, 4)"], x, dw, pw, b, data_format="channels_first")


@pytest.mark.parametrize("shape", [(7, 4), (4,), (1, 2, 7, 4)])
def test_wrong_input_rank(small, shape):
    _, dw, pw, b = small
    _raises(ValueError, ["`x`", str(shape)], np.zeros(shape, np.float32), dw, pw, b,
            data_format="channels_last")


def test_valid_padding_too_short_input(small):
    _, dw, pw, b = small
    x = np.zeros((2, 4, 4), np.float32)
    message = _raises(ValueError, ["steps=4"], x, dw, pw, b, dilation_rate=2,
                      data_format="channels_last")
    assert "kernel_size=3" in message and "dilation_rate=2" in message
    # The same input is fine with 'same' padding.
    assert separable_conv1d(x, dw, pw, b, dilation_rate=2, padding="same",
                            data_format="channels_last").shape == (2, 4, 5)


# ----------------------------------------------------------------------------
# dtype promotion
# ----------------------------------------------------------------------------
def test_dtype_promotion():
    rng = np.random.default_rng(20)
    x32, dw32, pw32, b32 = _case(rng)
    x64, dw64, pw64, b64 = (a.astype(np.float64) for a in (x32, dw32, pw32, b32))
    kw = dict(data_format="channels_last")
    ref = separable_conv1d_reference(x32, dw32, pw32, b32)
    assert separable_conv1d(x32, dw32, pw32, b32, **kw).dtype == np.float32
    # Any float64 weight gives float64.
    for args in ((x32, dw64, pw32, b32), (x32, dw32, pw64, b32), (x32, dw32, pw32, b64)):
        y = separable_conv1d(*args, **kw)
        assert y.dtype == np.float64
        _assert_close(y, separable_conv1d_reference(*args), np.float64)
    # float32 weights with a float64 x give float64 (computed in float64).
    y = separable_conv1d(x64, dw32, pw32, b32, **kw)
    _assert_close(y, ref, np.float64)
    # Integer x with float32 weights stays float32; integer weights too.
    xi = rng.integers(-3, 4, x32.shape)
    assert separable_conv1d(xi, dw32, pw32, b32, **kw).dtype == np.float32
    y = separable_conv1d(xi.astype(np.int64), dw32, pw32, b32, **kw)
    _assert_close(y, separable_conv1d_reference(xi, dw32, pw32, b32), np.float32)
    dwi = rng.integers(-3, 4, dw32.shape)
    assert separable_conv1d(x32, dwi, pw32, b32, **kw).dtype == np.float32
    # float16 anywhere does not widen beyond float32.
    assert separable_conv1d(x32.astype(np.float16), dw32, pw32, b32, **kw).dtype == np.float32
    assert separable_conv1d(x32, dw32.astype(np.float16), pw32, None, **kw).dtype == np.float32


# ------------------------------------------------ caches of the functional form
def _cache_case(seed=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 30, 6)).astype(np.float32)
    dw = rng.standard_normal((3, 6, 2)).astype(np.float32)
    pw = rng.standard_normal((1, 12, 9)).astype(np.float32)
    b = rng.standard_normal(9).astype(np.float32)
    return x, dw, pw, b


def _reference_of(x, dw, pw, b):
    return separable_conv1d_reference(x, dw, pw, b, padding="same", activation=None)


def test_weights_changed_in_place_are_repacked(level):
    from sepconv import functional

    x, dw, pw, b = _cache_case()
    first = separable_conv1d(x, dw, pw, b, padding="same")
    assert any(entry[2] is not None for entry in functional._pack_cache.values())
    for change in (lambda: dw.__setitem__((0, 0, 0), 7.0),
                   lambda: pw.__imul__(-1.0),
                   lambda: b.__setitem__(3, b[3] + 1e-3)):
        change()
        again = separable_conv1d(x, dw, pw, b, padding="same")
        _assert_close(again, _reference_of(x, dw, pw, b), np.float32)
        assert not np.array_equal(again, first)
        first = again


def test_a_weight_reshaped_in_place_is_not_taken_from_the_cache(level):
    x, dw, pw, b = _cache_case()
    separable_conv1d(x, dw, pw, b, padding="same")
    dw2 = dw.reshape(3, 12, 1)
    pw_same = pw  # (1, 12, 9) fits both depthwise shapes
    y = separable_conv1d(np.concatenate([x, x], axis=2), dw2, pw_same, b, padding="same")
    _assert_close(y, _reference_of(np.concatenate([x, x], axis=2), dw2, pw_same, b),
                  np.float32)
    dw.shape = (3, 12, 1)  # the same object, another shape
    y = separable_conv1d(np.concatenate([x, x], axis=2), dw, pw, b, padding="same")
    _assert_close(y, _reference_of(np.concatenate([x, x], axis=2), dw, pw, b), np.float32)


def test_new_arrays_at_a_reused_address_are_packed_afresh(level):
    # CPython reuses the memory (and so the id) of freed arrays: identity alone
    # would hand out the packing of a dead array.
    x = _cache_case()[0]
    for seed in range(6):
        _, dw, pw, b = _cache_case(seed)
        y = separable_conv1d(x, dw, pw, b, padding="same")
        _assert_close(y, _reference_of(x, dw, pw, b), np.float32)
        del dw, pw, b


def test_list_weights_and_many_weight_sets(level):
    x, dw, pw, b = _cache_case()
    expected = separable_conv1d(x, dw, pw, b, padding="same")
    from_lists = separable_conv1d(x, dw.tolist(), pw.tolist(), b.tolist(), padding="same")
    _assert_close(from_lists, _reference_of(x, dw, pw, b), np.float64)  # lists are float64
    sets = [_cache_case(seed)[1:] for seed in range(40)]   # more than the cache holds
    first = [separable_conv1d(x, *w, padding="same") for w in sets]
    for w, y in zip(sets, first):
        assert np.array_equal(separable_conv1d(x, *w, padding="same"), y)


# ------------------------------------- the two layouts compute the same bits
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("taps, dilation, padding", [(33, 1, "same"), (5, 3, "same"),
                                                     (8, 2, "valid"), (3, 1, "same")])
@pytest.mark.parametrize("weights_kind", ["finite", "with_inf_and_nan"])
def test_channels_first_equals_channels_last_bitwise(level, dtype, taps, dilation, padding,
                                                     weights_kind):
    # The channels_first depthwise loop copies edge tiles into a zero-padded
    # window (finite weights) or checks each tap (other weights); either way
    # it must give the channels_last result, which skips the outside taps.
    rng = np.random.default_rng(taps * 7 + dilation)
    channels, mult, filters, steps = 24, 2, 20, 150
    x = rng.standard_normal((3, steps, channels)).astype(dtype)
    x[0, :5] = np.nan
    x[1, -3:, 2] = np.inf
    dw = rng.standard_normal((taps, channels, mult)).astype(dtype)
    if weights_kind != "finite":
        dw[0, 3, 1] = np.inf
        dw[-1, 9, 0] = np.nan
    pw = rng.standard_normal((1, channels * mult, filters)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    last = separable_conv1d(x, dw, pw, b, padding=padding, dilation_rate=dilation,
                            data_format="channels_last", num_threads=1)
    for threads in (1, 3):
        first = separable_conv1d(np.ascontiguousarray(x.transpose(0, 2, 1)), dw, pw, b,
                                 padding=padding, dilation_rate=dilation,
                                 data_format="channels_first", num_threads=threads)
        np.testing.assert_array_equal(first.transpose(0, 2, 1), last)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels, taps, strides, mult, steps, padding", [
    (24, 8, 2, 2, 150, "same"), (13, 21, 4, 3, 66, "same"), (7, 5, 3, 1, 101, "valid"),
    (40, 33, 2, 1, 300, "same"), (6, 9, 5, 1, 200, "same"), (30, 4, 4, 1, 97, "valid"),
    (12, 1, 3, 2, 50, "same"), (4, 3, 2, 1, 40, "same"), (18, 7, 6, 2, 35, "valid"),
    (12, 3, 60, 1, 20000, "same")])
@pytest.mark.parametrize("weights_kind", ["finite", "with_inf_and_nan"])
def test_strided_channels_first_equals_channels_last_bitwise(level, dtype, channels, taps,
                                                             strides, mult, steps, padding,
                                                             weights_kind):
    # Strided, the channels_first depthwise loop splits each row into its
    # stride phases (a vectorized deinterleave for strides 2-4, a plain one
    # above), zero padded at the edges, and runs the vector block with a
    # per-tap offset; blocks with a weight that is not finite, the channels
    # past the last full block and windows too long to copy (the last case:
    # 60 x ~130 steps) keep the one-row-at-a-time loop.  Every way must give
    # the channels_last bits.
    rng = np.random.default_rng(channels * 31 + taps * 7 + strides)
    filters = 11
    x = rng.standard_normal((3, steps, channels)).astype(dtype)
    x[0, :4] = np.nan
    x[1, -2:, 1] = np.inf
    dw = rng.standard_normal((taps, channels, mult)).astype(dtype)
    if weights_kind != "finite":
        dw[0, 2 % channels, 0] = np.inf
        dw[-1, (channels - 1), mult - 1] = np.nan
    pw = rng.standard_normal((1, channels * mult, filters)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    last = separable_conv1d(x, dw, pw, b, strides=strides, padding=padding,
                            data_format="channels_last", num_threads=1)
    if weights_kind == "finite":   # the non-finite inputs reach only some outputs
        assert 0.3 < np.isfinite(last).mean() < 1
    for threads in (1, 3):
        first = separable_conv1d(np.ascontiguousarray(x.transpose(0, 2, 1)), dw, pw, b,
                                 strides=strides, padding=padding,
                                 data_format="channels_first", num_threads=threads)
        np.testing.assert_array_equal(first.transpose(0, 2, 1), last)
    if weights_kind == "finite" and steps < 1000:
        x64 = x.astype(np.float64)
        x64[~np.isfinite(x64)] = 0.5
        got = separable_conv1d(np.ascontiguousarray(x64.transpose(0, 2, 1)).astype(dtype), dw,
                               pw, b, strides=strides, padding=padding,
                               data_format="channels_first")
        want = separable_conv1d_reference(x64, dw.astype(np.float64), pw.astype(np.float64),
                                          b.astype(np.float64), strides=strides,
                                          padding=padding)
        _assert_close(got.transpose(0, 2, 1), want, dtype)


def _assert_channels_first_bits(x, dw, pw, b, args, label):
    """The channels_first layer on x transposed, at 1 and 2 threads, into an
    out= buffer with sentinels around it, gives the channels_last bits and
    writes nothing past out."""
    last = separable_conv1d(x, dw, pw, b, data_format="channels_last", **args)
    xf = np.ascontiguousarray(x.transpose(0, 2, 1))
    buffer = np.full(last.size + 5, 7.0, x.dtype)
    out = buffer[2:2 + last.size].reshape(x.shape[0], pw.shape[2], last.shape[1])
    for threads in (1, 2):
        y = separable_conv1d(xf, dw, pw, b, data_format="channels_first", num_threads=threads,
                             out=out, **args)
        assert y is out
        np.testing.assert_array_equal(y.transpose(0, 2, 1), last,
                                      err_msg=f"{label}, {threads} threads")
        assert (buffer[:2] == 7).all() and (buffer[-3:] == 7).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kc_passes", [1, 2])
def test_channels_first_tiles_either_way_round_give_the_channels_last_bits(level, dtype,
                                                                           kc_passes,
                                                                           monkeypatch):
    # A channels_first tile of fewer output steps than one column block is
    # multiplied steps x filters (rows of MR steps, the NR strips packed
    # after the bias, the C tile written to y transposed); others filters x
    # steps.  Forced both ways (set_cf_rows) and by the rule, every call
    # must give the channels_last bits: sequences of 1 to 40 output steps
    # (every remainder of MR: the last rows one at a time or as one more
    # block), long ones whose last tile is short, a filter count off NR,
    # strided and dilated layers, one pass or two of the pointwise sum,
    # output written where out= says and nowhere else.
    kernels = functional.kernel_module(level)
    if kc_passes == 2:
        _two_passes(monkeypatch, kernels)
    rng = np.random.default_rng(kc_passes)
    channels, mult, filters = (137, 2, 29) if kc_passes == 2 else (19, 3, 29)
    cases = [(steps, 3, 1, 1, "same") for steps in range(1, 41)]
    cases += [(70, 5, 1, 1, "same"), (131, 4, 1, 1, "valid"), (50, 11, 1, 4, "valid"),
              (23, 7, 2, 1, "valid"), (9, 3, 4, 1, "same"), (300, 5, 1, 1, "same")]
    dw = rng.standard_normal((11, channels, mult)).astype(dtype)
    pw = rng.standard_normal((1, channels * mult, filters)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    previous = kernels.set_cf_rows(-1)
    try:
        for steps, taps, strides, dilation, padding in cases:
            x = rng.standard_normal((2, steps, channels)).astype(dtype)
            args = dict(strides=strides, padding=padding, dilation_rate=dilation,
                        activation="relu")
            for mode in (-1, 0, 1):
                kernels.set_cf_rows(mode)
                _assert_channels_first_bits(x, dw[:taps], pw, b, args,
                                            f"{steps} steps, mode {mode}")
    finally:
        kernels.set_cf_rows(previous)
    with pytest.raises(ValueError, match="received 2"):
        kernels.set_cf_rows(2)


def _force_layout(monkeypatch, layout):
    """Plans made in this test use ``layout`` for channels_first calls (the
    plan cache emptied, so that no plan crosses into or out of the test)."""
    monkeypatch.setattr(tiling, "forward_layout",
                        lambda channels_first, *rest: layout if channels_first else tiling.LAST)
    monkeypatch.setattr(functional, "_plan_cache", {})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kc_passes", [1, 2])
def test_transposed_channels_first_tiles_give_the_channels_last_bits(level, dtype, kc_passes,
                                                                     monkeypatch):
    # tiling.FIRST_TRANSPOSED: each channels_first tile's input window is
    # transposed to steps-major rows (4 x 4 blocks, the edges one value at
    # a time), computed by the channels_last depthwise loop, multiplied
    # steps x filters and written to y transposed (the bias added there).
    # Every call must give the channels_last bits: channel and filter counts
    # off the 4 x 4 blocks, 1 to 30 output steps (partial MR blocks), long
    # sequences of several tiles, strides, dilations, depth multipliers,
    # 'same' edges, one or two pointwise passes, 1 and 2 threads, outputs
    # written where out= says and nowhere else.
    kernels = functional.kernel_module(level)
    if kc_passes == 2:
        _two_passes(monkeypatch, kernels)
    _force_layout(monkeypatch, tiling.FIRST_TRANSPOSED)
    rng = np.random.default_rng(10 + kc_passes)
    shapes = [(19, 3, 29), (137, 2, 30)] if kc_passes == 2 else [(19, 3, 29), (8, 1, 4),
                                                                   (5, 2, 7)]
    cases = [(steps, 3, 1, 1, "same") for steps in range(1, 31, 3)]
    cases += [(70, 5, 1, 1, "same"), (131, 4, 1, 1, "valid"), (50, 11, 1, 4, "valid"),
              (23, 7, 2, 1, "valid"), (9, 3, 4, 1, "same"), (301, 5, 3, 1, "same"),
              (64, 2, 5, 1, "valid"), (700, 9, 1, 2, "same")]
    for channels, mult, filters in shapes:
        dw = rng.standard_normal((11, channels, mult)).astype(dtype)
        pw = rng.standard_normal((1, channels * mult, filters)).astype(dtype)
        b = rng.standard_normal(filters).astype(dtype)
        for steps, taps, strides, dilation, padding in cases:
            x = rng.standard_normal((2, steps, channels)).astype(dtype)
            args = dict(strides=strides, padding=padding, dilation_rate=dilation,
                        activation="relu")
            _assert_channels_first_bits(x, dw[:taps], pw, b, args,
                                        f"{channels} x {steps} steps")
    # No bias, no activation (the transposed store adds nothing), and an
    # activation the kernel applies after the store (tanh).
    x = rng.standard_normal((3, 41, 10)).astype(dtype)
    dw = rng.standard_normal((5, 10, 2)).astype(dtype)
    pw = rng.standard_normal((1, 20, 13)).astype(dtype)
    for bias, activation in ((None, None), (rng.standard_normal(13).astype(dtype), "tanh")):
        _assert_channels_first_bits(x, dw, pw, bias, dict(strides=2, activation=activation),
                                    f"bias {bias is not None}, {activation}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposed_channels_first_without_room_to_stage(level, dtype, monkeypatch):
    # A tile whose input window would take more than the largest stage
    # (1 MiB) keeps its rows in the caller's array and runs the
    # channels_first depthwise loop, still multiplied steps x filters; and
    # weights that are not all finite keep that loop's skipping of taps
    # outside the input.  Same bits as channels_last either way.
    kernels = functional.kernel_module(level)
    _force_layout(monkeypatch, tiling.FIRST_TRANSPOSED)
    rng = np.random.default_rng(3)
    channels, taps, dilation = (4200 if dtype == np.float32 else 2100), 9, 8
    x = rng.standard_normal((1, 80, channels)).astype(dtype)
    dw = rng.standard_normal((taps, channels, 1)).astype(dtype)
    pw = rng.standard_normal((1, channels, 5)).astype(dtype)
    args = dict(padding="same", dilation_rate=dilation, activation="relu")
    xf = np.ascontiguousarray(x.transpose(0, 2, 1))
    for weights in ("finite", "inf"):
        if weights == "inf":
            dw[0, :7, 0] = np.inf
            dw[1, 7:9, 0] = np.nan
        last = separable_conv1d(x, dw, pw, None, data_format="channels_last", **args)
        first = separable_conv1d(xf, dw, pw, None, data_format="channels_first", **args)
        np.testing.assert_array_equal(first.transpose(0, 2, 1), last, err_msg=weights)
    window = (6 - 1) + (taps - 1) * dilation + 1   # one MR block's rows, at least
    assert window * channels * np.dtype(dtype).itemsize > (1 << 20)


def test_the_layout_rule_transposes_where_it_was_measured_to_pay():
    # tiling.forward_layout: the measured shapes (bench/RESULTS.md) on the
    # side the rule puts them, and plans that follow it.
    rule = tiling.forward_layout
    assert rule(False, 4, 1000, 10) == tiling.LAST
    assert rule(True, 4, 204, 2) == tiling.FIRST_TRANSPOSED        # rand2_18
    assert rule(True, 4, 292, 50) == tiling.FIRST_TRANSPOSED       # rand2_14
    assert rule(True, 4, 992, 78) == tiling.FIRST_TRANSPOSED       # rand4_18
    assert rule(True, 2, 128, 253) == tiling.FIRST_TRANSPOSED      # dm4_s2_b16
    assert rule(True, 1, 269, 1) == tiling.FIRST_TRANSPOSED        # rand2_0
    assert rule(True, 1, 309, 24) == tiling.FIRST_TRANSPOSED       # rand2_25
    assert rule(True, 4, 64, 1023) == tiling.FIRST                 # s4k8_b8
    assert rule(True, 2, 30, 1851) == tiling.FIRST                 # rand2_11
    assert rule(True, 1, 90, 127) == tiling.FIRST                  # rand1_20
    assert rule(True, 1, 256, 800) == tiling.FIRST                 # quartz_b8
    assert rule(True, 1, 512, 256) == tiling.FIRST                 # c512_b4
    kernels = functional.kernel_module()
    for shape, strides, layout in [((3, 204, 16), 4, tiling.FIRST_TRANSPOSED),
                                   ((2, 64, 400), 1, tiling.FIRST)]:
        spec = plan_module.ConvSpec.create(filters=20, kernel_size=3, strides=strides,
                                           padding="valid", data_format="channels_first")
        plan = spec.plan(shape, 1, kernels)
        assert plan.forward.layout == layout
        assert plan.tile % tiling.step_unit(kernels, spec.dtype, layout) == 0


# ------------------------------------------- input staging (misaligned input)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels, taps, strides, dilation, mult, padding", [
    (64, 9, 1, 1, 1, "same"), (40, 33, 1, 1, 1, "same"), (24, 8, 2, 3, 2, "valid"),
    (7, 12, 3, 1, 3, "same"), (96, 8, 1, 50, 1, "same"), (128, 5, 1, 1, 1, "same"),
    (20, 6, 4, 2, 1, "valid"), (33, 4, 1, 1, 1, "same"), (64, 7, 1, 2, 4, "same"),
    (50, 25, 2, 1, 1, "same"), (40, 13, 1, 1, 1, "valid"), (64, 8, 4, 1, 1, "valid"),
    (64, 3, 2, 1, 2, "same"), (96, 9, 1, 1, 1, "valid"), (256, 10, 2, 1, 1, "same")])
def test_results_do_not_depend_on_where_the_input_lies(level, dtype, channels, taps, strides,
                                                       dilation, mult, padding):
    # Where the kernel's rule says so (stages_input), misaligned
    # channels_last input is copied tile by tile into aligned scratch; other
    # inputs are read where they lie, with the depthwise blocks shifted to
    # the first channel on a vector boundary where rows are whole vectors
    # (depthwise_lead).  The bits must be those of an aligned input always.
    rng = np.random.default_rng(channels + taps)
    batch, steps, filters = 2, 700, 40
    itemsize = np.dtype(dtype).itemsize
    dw = rng.standard_normal((taps, channels, mult)).astype(dtype)
    pw = rng.standard_normal((1, channels * mult, filters)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    values = rng.standard_normal((batch, steps, channels)).astype(dtype)
    values[0, ::97] = np.nan
    results = []
    for offset in (0, itemsize, 16, 32, 48, 40 + itemsize):
        raw = np.zeros(values.size + 128 // itemsize, dtype)
        start = (-raw.ctypes.data % 64 + offset) // itemsize
        x = raw[start:start + values.size].reshape(values.shape)
        x[...] = values
        assert x.ctypes.data % 64 == offset
        for threads in (1, 2):
            results.append(separable_conv1d(x, dw, pw, b, strides=strides, padding=padding,
                                            dilation_rate=dilation, num_threads=threads))
    for y in results[1:]:
        np.testing.assert_array_equal(y, results[0])
    # batch element 1 holds no NaN
    _assert_close(results[0][1:], separable_conv1d_reference(values[1:], dw, pw, b, strides,
                                                             padding, dilation), dtype)


def test_every_level_stages_some_of_the_inputs_above(level):
    # The test above covers the staged path at every level only if some of
    # its cases are staged there: at an offset that puts vector loads across
    # a line (16 bytes for vectors over 16 bytes, 4 otherwise).
    kernels = functional.kernel_module(level)
    offset = 16 if kernels.VEC_BYTES > 16 else 4
    cases = [(64, 7, 1, 2, 4), (50, 25, 2, 1, 1), (7, 12, 3, 1, 3), (40, 13, 1, 1, 1)]
    for dtype in (np.float32, np.float64):
        staged = [kernels.stages_input(64 * 1000 + offset, channels * np.dtype(dtype).itemsize,
                                       taps, mult, strides, dilation)
                  for channels, taps, strides, dilation, mult in cases]
        assert staged[0] and staged[1], (level, dtype, staged)


def test_the_staging_rule(level):
    # Aligned rows are never staged; a block that loads each row fewer than
    # 12 times is not, nor the tap-reuse block (levels with dw_taps); a
    # misaligned input whose rows are loaded often is.
    kernels = functional.kernel_module(level)
    off = 16 if kernels.VEC_BYTES > 16 else 4
    line = 64 * 1000
    assert not kernels.stages_input(line, 256, 33, 4, 1, 2)
    assert not kernels.stages_input(line + kernels.VEC_BYTES, 2 * kernels.VEC_BYTES, 33, 4, 1, 2)
    assert kernels.stages_input(line + off, 256, 7, 4, 2, 1)        # 28 loads per row
    assert kernels.stages_input(line, 256 + off, 7, 4, 2, 1)        # rows off a line
    assert not kernels.stages_input(line + off, 256, 8, 1, 4, 1)    # s4k8_b8: 2 per row
    assert not kernels.stages_input(line + off, 256, 11, 1, 1, 1)   # 11 per row
    assert kernels.stages_input(line + off, 256, 12, 1, 1, 2)       # 12 (dilated)
    reuse = kernels.DW_TAPS > 0
    assert kernels.stages_input(line + off, 256, 33, 1, 1, 1) == (not reuse)
    assert kernels.stages_input(line + off, 256, 33, 1, 1, 2)       # dilated: no reuse
    # Counted over a tile's own window of input rows too: a tile of few
    # steps with dilated taps reads few of the rows it would copy.
    assert kernels.stages_input(line + off, 256, 19, 1, 1, 5, rows=300, steps=1000)
    assert not kernels.stages_input(line + off, 256, 19, 1, 1, 5, rows=1, steps=91)  # 19 of 91
    assert not kernels.stages_input(line + off, 256, 21, 1, 1, 6, rows=54, steps=267)
    assert kernels.stages_input(line + off, 256, 7, 4, 2, 1, rows=90, steps=512)  # dm4_s2_b16
    assert not kernels.stages_input(line + off, 256, 7, 4, 2, 1, rows=6, steps=512)
    assert kernels.stages_input(line + off, 256, 25, 1, 2, 1, rows=300, steps=1000)  # 7500 >= 12 x 623
    assert not kernels.stages_input(line + off, 256, 25, 1, 2, 1, rows=6, steps=25)  # 150 < 12 x 25


def test_every_level_realigns_some_of_the_inputs_above(level):
    # ... and covers the realigned blocks (every head and tail width) only
    # if some unstaged cases there have a lead, at offsets of the test.
    kernels = functional.kernel_module(level)
    cases = [(64, 9, 1, 1, 1), (128, 5, 1, 1, 1), (64, 8, 4, 1, 1), (64, 3, 2, 1, 2),
             (96, 9, 1, 1, 1), (256, 10, 2, 1, 1)]
    for dtype in (np.float32, np.float64):
        itemsize = np.dtype(dtype).itemsize
        leads = set()
        for offset in (itemsize, 16, 32, 48, 40 + itemsize):
            for channels, taps, strides, dilation, mult in cases:
                address = 64 * 1000 + offset
                if kernels.stages_input(address, channels * itemsize, taps, mult, strides,
                                        dilation):
                    continue
                lead = kernels.depthwise_lead(address, channels, itemsize, taps, strides)
                if lead:
                    leads.add(lead)
        lanes = kernels.VEC_BYTES // itemsize
        if kernels.VEC_BYTES < 64:   # only 64-byte vectors are realigned
            assert not leads
            continue
        # a lead below, at and above half a vector
        assert min(leads) <= lanes // 2 < max(leads), (dtype, sorted(leads))


def test_the_realignment_rule(level):
    # A lead is the first channel on a vector boundary, for rows of whole
    # 64-byte vectors that start off one, from 8 vectors of channels and 5
    # loads of each row (taps / stride) on.
    kernels = functional.kernel_module(level)
    vec = kernels.VEC_BYTES
    line = 64 * 1000
    if vec < 64:
        for itemsize in (4, 8):
            for off in range(itemsize, 64, itemsize):
                assert kernels.depthwise_lead(line + off, 512, itemsize, 33, 1) == 0
        return
    for itemsize in (4, 8):
        lanes = vec // itemsize
        channels = 8 * lanes
        assert kernels.depthwise_lead(line, channels, itemsize, 9, 1) == 0
        assert kernels.depthwise_lead(line + vec, channels, itemsize, 9, 1) == 0
        for off in range(itemsize, vec, itemsize):
            lead = kernels.depthwise_lead(line + off, channels, itemsize, 5, 1)
            assert (line + off + lead * itemsize) % vec == 0 and 0 < lead < lanes
            assert kernels.depthwise_lead(line + off, channels, itemsize, 10, 2) == lead
            # rows that are not whole vectors, fewer than 8 vectors, fewer
            # than 5 loads per row
            assert kernels.depthwise_lead(line + off, channels + 1, itemsize, 9, 1) == 0
            assert kernels.depthwise_lead(line + off, channels - lanes, itemsize, 9, 1) == 0
            assert kernels.depthwise_lead(line + off, channels, itemsize, 4, 1) == 0
            assert kernels.depthwise_lead(line + off, channels, itemsize, 9, 2) == 0
        # an address that is not a whole number of items past a boundary
        assert kernels.depthwise_lead(line + 2, channels, itemsize, 9, 1) == 0
