"""No input crashes the interpreter, no data race, no leak (issue 3)."""

import gc
import threading

import numpy as np
import pytest

import sepconv
from reference import separable_conv1d_reference



def _rss_bytes():
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    import resource
    return pages * resource.getpagesize()


def _weights(rng, taps=3, channels=4, mult=2, filters=5, dtype=np.float32):
    return (rng.standard_normal((taps, channels, mult)).astype(dtype),
            rng.standard_normal((1, channels * mult, filters)).astype(dtype),
            rng.standard_normal(filters).astype(dtype))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_nan_and_inf_propagate_like_the_reference(level, data_format):
    rng = np.random.default_rng(0)
    dw, pw, b = _weights(rng, dtype=np.float64)
    x = rng.standard_normal((2, 9, 4) if data_format == "channels_last" else (2, 4, 9))
    x[0, 3, 1 if data_format == "channels_last" else 3] = np.nan
    x[1, 5 if data_format == "channels_last" else 2, 2 if data_format == "channels_last" else 5] = np.inf
    y = sepconv.separable_conv1d(x, dw, pw, b, padding="same", data_format=data_format,
                                 isa=level)
    with np.errstate(invalid="ignore"):
        expected = separable_conv1d_reference(x, dw, pw, b, padding="same",
                                              data_format=data_format)
    assert np.array_equal(np.isnan(y), np.isnan(expected))
    assert np.array_equal(np.isinf(y), np.isinf(expected))
    finite = np.isfinite(expected)
    assert finite.any() and not finite.all()
    assert np.allclose(y[finite], expected[finite], rtol=1e-12, atol=1e-12)


def test_huge_virtual_input_is_refused_before_allocation():
    rng = np.random.default_rng(1)
    dw, pw, b = _weights(rng)
    huge = np.broadcast_to(np.float32(0), (2**40, 8, 4))
    assert huge.strides == (0, 0, 0)
    with pytest.raises((ValueError, MemoryError)):
        sepconv.separable_conv1d(huge, dw, pw, b)
    layer = sepconv.SeparableConv1D(5, 3, depth_multiplier=2)
    layer.build((None, 8, 4))
    with pytest.raises((ValueError, MemoryError)):
        layer(huge)


def test_output_size_overflow_is_a_value_error():
    rng = np.random.default_rng(2)
    dw = rng.standard_normal((1, 1, 1)).astype(np.float32)
    big_filters = np.broadcast_to(np.float32(1), (1, 1, 2**40))
    x = np.broadcast_to(np.float32(1), (2**30, 8, 1))
    with pytest.raises((ValueError, MemoryError)):
        sepconv.separable_conv1d(x, dw, big_filters)


def test_eight_python_threads_share_one_layer():
    rng = np.random.default_rng(3)
    layer = sepconv.SeparableConv1D(16, 5, padding="same", depth_multiplier=2,
                                    activation="relu")
    layer.build((None, None, 12))
    inputs = [rng.standard_normal((3, 40 + 7 * i, 12)).astype(np.float32) for i in range(8)]
    expected = [layer(x, num_threads=1) for x in inputs]
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def work(index):
        try:
            barrier.wait()
            for _ in range(25):
                y = layer(inputs[index])
                if not np.array_equal(y, expected[index]):
                    raise AssertionError(f"thread {index} got a different result")
            results[index] = y
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for got, want in zip(results, expected):
        assert np.array_equal(got, want)


def test_gil_is_released_during_the_kernel():
    """Another Python thread makes progress while one long call runs."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 4096, 64)).astype(np.float32)
    dw, pw, b = _weights(rng, taps=9, channels=64, mult=1, filters=64)
    layer = sepconv.SeparableConv1D(64, 9, padding="same")
    layer.set_weights([dw, pw, b])
    layer(x[:1], num_threads=1)
    ticks = []
    call_running = threading.Event()
    call_done = threading.Event()

    def counter():
        call_running.wait()
        while not call_done.is_set():
            ticks.append(1)

    thread = threading.Thread(target=counter)
    thread.start()
    old = None
    try:
        import sys
        old = sys.getswitchinterval()
        sys.setswitchinterval(1.0)  # with the GIL held, the counter could not run
        ticks_before = len(ticks)
        call_running.set()
        layer(x, num_threads=1)
        ticks_during = len(ticks) - ticks_before
    finally:
        call_done.set()
        thread.join()
        if old is not None:
            sys.setswitchinterval(old)
    assert ticks_during > 1000


def test_repeated_calls_do_not_leak():
    rng = np.random.default_rng(5)
    layer = sepconv.SeparableConv1D(32, 5, padding="same", depth_multiplier=2)
    x = rng.standard_normal((2, 64, 16)).astype(np.float32)
    out = layer(x)
    bad = rng.standard_normal((2, 64, 15)).astype(np.float32)
    for _ in range(500):
        layer(x)
    gc.collect()
    before = _rss_bytes()
    for _ in range(10_000):
        layer(x)
        layer(x, out=out)
    for _ in range(2_000):
        with pytest.raises(ValueError):
            layer(bad)
        with pytest.raises(ValueError):
            layer(x, out=out[:, :-1])
    gc.collect()
    grown = _rss_bytes() - before
    assert grown < 8 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"


def test_results_are_bitwise_identical_for_any_thread_count(level):
    rng = np.random.default_rng(6)
    dw, pw, b = _weights(rng, taps=7, channels=24, mult=3, filters=40)
    for data_format, shape in (("channels_last", (5, 333, 24)), ("channels_first", (5, 24, 333))):
        x = rng.standard_normal(shape).astype(np.float32)
        results = [sepconv.separable_conv1d(x, dw, pw, b, padding="same", strides=2,
                                            dilation_rate=2, data_format=data_format,
                                            activation="silu", num_threads=n, isa=level)
                   for n in (1, 2, 3, 5, 8, 16)]
        for other in results[1:]:
            assert np.array_equal(results[0], other)


def test_threadpoolctl_controls_the_default_thread_count():
    from threadpoolctl import threadpool_limits

    from sepconv.functional import kernel_module

    kernels = kernel_module()
    if not kernels.OPENMP:
        pytest.skip("built without OpenMP")
    with threadpool_limits(1, user_api="openmp"):
        assert kernels.max_threads() == 1
    with threadpool_limits(3, user_api="openmp"):
        assert kernels.max_threads() == 3


def test_failed_set_weights_and_calls_leave_the_layer_unchanged():
    rng = np.random.default_rng(7)
    layer = sepconv.SeparableConv1D(5, 3, depth_multiplier=2)
    x = rng.standard_normal((2, 10, 4)).astype(np.float32)
    y = layer(x)
    before = layer.get_weights()
    dw, pw, b = before
    for bad in ([dw, pw], [dw, pw, b, b], [dw, pw[:, :-1], b], [dw, pw, b[:-1]],
                [dw, pw, np.array(["a"] * 5)], [dw.astype(complex), pw, b]):
        with pytest.raises((ValueError, TypeError)):
            layer.set_weights(bad)
        for old, new in zip(before, layer.get_weights()):
            assert np.array_equal(old, new)
    for bad_input in (x[:, :, :3], x[0], x.astype(complex), np.zeros((2, 1, 4))):
        with pytest.raises((ValueError, TypeError)):
            layer(bad_input)
    assert np.array_equal(layer(x), y)


def test_weights_are_read_only_views():
    layer = sepconv.SeparableConv1D(5, 3)
    layer.build((None, 10, 4))
    with pytest.raises(ValueError):
        layer.depthwise_kernel[0, 0, 0] = 1.0


def test_odd_memory_layouts_give_reference_results(level):
    rng = np.random.default_rng(8)
    dw, pw, b = _weights(rng, dtype=np.float64)
    base = rng.standard_normal((2, 12, 4))
    raw = np.zeros(base.size * 8 + 1, dtype=np.uint8)[1:]
    unaligned = raw.view(np.float64).reshape(base.shape)
    unaligned[...] = base
    assert not unaligned.flags.aligned
    read_only = base.copy()
    read_only.flags.writeable = False
    variants = {
        "unaligned": unaligned,
        "big-endian": base.astype(">f8"),
        "negative strides": base[:, ::-1][:, ::-1],
        "read-only": read_only,
        "float16": base.astype(np.float16),
        "int": (base * 10).astype(np.int16),
        "list": base.tolist(),
    }
    for name, x in variants.items():
        y = sepconv.separable_conv1d(x, dw, pw, b, padding="same", isa=level)
        expected = separable_conv1d_reference(np.asarray(x, dtype=np.float64), dw, pw, b,
                                              padding="same")
        assert np.allclose(y, expected, rtol=1e-12, atol=1e-12), name
    assert np.array_equal(read_only, base)  # the caller's array is untouched


def _big_scratch_layer(dtype=np.float64):
    # 1,024 channels x 4 outputs each: a depthwise tile of a block of steps
    # (MR: 4 to 8) x 4,096 float64 (128-256 KiB), all of it written, per
    # participant: past the size at which glibc maps and unmaps a block for
    # each call.
    rng = np.random.default_rng(11)
    layer = sepconv.SeparableConv1D(8, 3, padding="same", depth_multiplier=4,
                                    dtype=np.dtype(dtype).name)
    x = rng.standard_normal((1, 16, 1024)).astype(dtype)
    return layer, x


def test_a_thread_keeps_its_scratch_for_its_next_call(level):
    kernels = sepconv.functional.kernel_module(level)
    layer, x = _big_scratch_layer()
    expected = layer(x, num_threads=1)
    kept = {}

    def worker():
        first = layer(x, num_threads=1)
        kept["first"] = kernels.scratch_kept()
        second = layer(x, num_threads=1)
        kept["second"] = kernels.scratch_kept()
        kept["same"] = np.array_equal(first, expected) and np.array_equal(second, expected)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert kept["same"]
    if kernels.DEBUG or kernels.threading_layer() != "pool":
        # Debug builds allocate each call's scratch (so that AddressSanitizer
        # sees an overrun); builds without POSIX threads (no pool) keep none.
        assert kept["first"] == kept["second"] == 0
    else:
        assert kept["first"] >= 4 * 4096 * 8   # a tile of at least 4 steps (MR)
        assert kept["second"] == kept["first"]


def _rss_growth_over_short_lived_threads(layer, x):
    # RSS growth over 300 threads (30 rounds of 10 at once), each making one
    # call and exiting; every output is checked.
    expected = layer(x, num_threads=1)
    failures = []

    def worker():
        if not np.array_equal(layer(x, num_threads=1), expected):
            failures.append(1)

    for _ in range(20):   # warm up the allocator's arenas
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    gc.collect()
    before = _rss_bytes()
    for _ in range(30):
        threads = [threading.Thread(target=worker) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    gc.collect()
    assert not failures
    return _rss_bytes() - before


def test_scratch_kept_by_threads_is_freed_when_they_exit(level):
    # Each of 300 short-lived threads makes a call with 128-256 KiB of scratch:
    # had each thread's block outlived it, RSS would grow by 75-98 MiB
    # (measured with the key's destructor removed).  The same churn
    # with a call whose scratch is a few hundred bytes is the control: what
    # the threads themselves cost (near 0 natively; under qemu-user, which
    # keeps some of each guest thread's memory, 93 MiB, against 95 MiB with the
    # big call).
    small = sepconv.SeparableConv1D(2, 3, padding="same", dtype="float64")
    small_x = np.random.default_rng(12).standard_normal((1, 16, 4))
    control = _rss_growth_over_short_lived_threads(small, small_x)
    grown = _rss_growth_over_short_lived_threads(*_big_scratch_layer())
    assert grown - control < 24 * 2**20, (
        f"RSS grew by {grown / 2**20:.1f} MiB ({control / 2**20:.1f} MiB "
        "with a small call)")
