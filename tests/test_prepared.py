"""Prepared calls (``layer.prepare``) and the kernels' bound entry points.

A prepared call must compute exactly what the layer computes, follow the
layer's weights, and refuse (or convert, as the layer does) every input it
was not prepared for before any kernel runs.  ``BoundForward.run`` is the
kernels' own guard: arrays that break its contract are ValueErrors.
"""

import pickle
import threading

import numpy as np
import pytest

import sepconv
from sepconv import functional
from reference import separable_conv1d_reference

pytestmark = pytest.mark.usefixtures("level")

CONFIGS = [
    # filters, kernel, strides, padding, dilation, mult, activation, data_format, dtype
    (8, 3, 1, "same", 1, 1, "relu", "channels_last", "float32"),
    (13, 4, 2, "same", 1, 2, "tanh", "channels_last", "float64"),
    (7, 5, 1, "valid", 3, 1, "gelu", "channels_first", "float32"),   # not fused
    (33, 2, 3, "same", 2, 3, None, "channels_first", "float64"),
    (5, 3, 1, "same", 1, 1, "softplus", "channels_last", "float32"),  # not fused
]


def _layer(filters, kernel, strides, padding, dilation, mult, activation, data_format, dtype,
           channels=6, seed=0):
    layer = sepconv.SeparableConv1D(filters, kernel, strides=strides, padding=padding,
                                    dilation_rate=dilation, depth_multiplier=mult,
                                    activation=activation, data_format=data_format,
                                    dtype=dtype, bias_initializer="random_normal")
    shape = (None, channels, None) if data_format == "channels_first" else (None, None, channels)
    layer.build(shape)
    return layer


def _input(layer, batch=3, steps=41, seed=1):
    rng = np.random.default_rng(seed)
    shape = ((batch, layer.input_channels, steps) if layer.data_format == "channels_first"
             else (batch, steps, layer.input_channels))
    return rng.standard_normal(shape).astype(layer.dtype)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("threads", [1, 2])
def test_prepared_call_equals_the_layer_bitwise(config, threads):
    layer = _layer(*config)
    x = _input(layer)
    prepared = layer.prepare(x.shape, num_threads=threads)
    expected = layer(x, training=True, num_threads=1)  # the slow path
    assert np.array_equal(prepared(x), expected)
    out = np.empty_like(expected)
    assert prepared(x, out) is out and np.array_equal(out, expected)
    assert prepared.input_shape == x.shape and prepared.output_shape == expected.shape
    # and the result is the reference's
    dw, pw, b = layer.weights
    ref = separable_conv1d_reference(x, dw, pw, b, config[2], config[3], config[4], config[7],
                                     layer.activation)
    tol = 2e-5 if config[8] == "float32" else 1e-11
    assert np.max(np.abs(expected - ref)) <= tol * max(1.0, np.max(np.abs(ref)))


def test_the_layers_hot_path_equals_its_first_call():
    # The second call of a shape goes through the prepared call the first made.
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    first = layer(x)
    assert len(layer._prepared) == 1
    for _ in range(3):
        assert np.array_equal(layer(x), first)
    out = np.full_like(first, np.nan)
    assert layer(x, out=out) is out and np.array_equal(out, first)


def test_prepared_call_takes_every_argument_form_python_does():
    # The call goes through vectorcall (pycall.h), which parses (x), (x, out)
    # and (x, out=out) itself and hands every other form to tp_call: each
    # form must do what a Python function `def f(x, out=None)` does.
    import functools

    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    prepared = layer.prepare(x.shape)
    expected = layer(x, training=True)
    out_name = "".join(["o", "ut"])  # an equal keyword that is not the interned one
    forms = [
        lambda out: prepared(x, out),
        lambda out: prepared(x, out=out),
        lambda out: prepared(x=x, out=out),
        lambda out: prepared(out=out, x=x),
        lambda out: prepared(x, **{out_name: out}),
        lambda out: prepared(*[x], **{"out": out}),
        lambda out: type(prepared).__call__(prepared, x, out=out),
        lambda out: functools.partial(prepared, out=out)(x),
    ]
    for form in forms:
        out = np.full_like(expected, np.nan)
        assert form(out) is out and np.array_equal(out, expected)
    for form in (lambda: prepared(x), lambda: prepared(x=x), lambda: prepared(x, None),
                 lambda: prepared(x, out=None)):
        assert np.array_equal(form(), expected)
    out = np.empty_like(expected)
    bad = [
        (lambda: prepared(), "0 given"),
        (lambda: prepared(x, out, out), "3 given"),
        (lambda: prepared(x, out, out=out), "out"),
        (lambda: prepared(x, output=out), "output"),
        (lambda: prepared(x, out=out, output=out), "output"),
        (lambda: prepared(out=out), "0 given"),
    ]
    for call, shown in bad:
        with pytest.raises(TypeError) as info:
            call()
        assert shown in str(info.value)


def test_the_layers_call_takes_every_argument_form_python_does():
    # layer(...) is LayerCall.__call__ (C, no tuple-and-dict slot of a Python
    # __call__): on the hot path and off it (the first call, which builds;
    # training=True, which skips the prepared call), every form a Python
    # `def f(inputs, training=None, *, out=None, num_threads=None)` takes
    # gives the same bits, and every form it refuses is a TypeError naming
    # what was wrong, with nothing written to out.
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    twin = _layer(*CONFIGS[0])
    twin.set_weights(layer.get_weights())
    expected = twin(x)
    assert layer._last is None and not layer._prepared   # never called
    forms = [
        lambda out: layer(x, out=out),                  # the first: builds the plan
        lambda out: layer(x, out=out),                  # the hot path
        lambda out: layer(x, None, out=out),
        lambda out: layer(x, False, out=out, num_threads=1),
        lambda out: layer(inputs=x, out=out),
        lambda out: layer(out=out, inputs=x, training=False),
        lambda out: layer(*[x], **{"".join(["o", "ut"]): out}),
        lambda out: layer(x, training=None, num_threads=None, out=out),
        lambda out: layer(x, **{"training": False, "out": out}),
        lambda out: type(layer).__call__(layer, x, out=out),
        lambda out: layer(x, training=True, out=out),   # off the hot path
    ]
    for form in forms:
        out = np.full_like(expected, np.nan)
        assert form(out) is out and np.array_equal(out, expected)
    out = np.full_like(expected, np.nan)
    bad = [
        (lambda: layer(), "positional argument"),
        (lambda: layer(x, None, out), "positional"),
        (lambda: layer(x, output=out), "output"),
        (lambda: layer(x, training=True, training_mode=True), "training_mode"),
        (lambda: layer(x, out=out, inputs=x), "inputs"),
        (lambda: layer(x, None, training=True, out=out), "training"),
        (lambda: layer(x, None, None, out=out), "positional"),
        (lambda: layer(training=False, out=out), "positional argument"),
    ]
    for call, shown in bad:
        with pytest.raises(TypeError) as info:
            call()
        assert shown in str(info.value)
    assert np.isnan(out).all()


def test_the_layers_call_and_class_keep_their_signatures():
    # inspect cannot read a C slot's signature; the layer tells it the call's,
    # and the class still shows its constructor's.
    import inspect

    layer = _layer(*CONFIGS[0])
    call = inspect.signature(layer)
    assert list(call.parameters) == ["inputs", "training", "out", "num_threads"]
    assert call.parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY
    assert call.parameters["training"].default is None
    made = inspect.signature(sepconv.SeparableConv1D)
    assert list(made.parameters)[:2] == ["filters", "kernel_size"]


def test_the_layers_call_can_be_overridden_and_patched():
    # The call is a C type's slot, inherited as any method is: a subclass's
    # own __call__ runs (and reaches the C one through super()), and a
    # __call__ patched onto the class afterwards is the one that runs.
    from unittest import mock

    class Doubled(sepconv.SeparableConv1D):
        def __call__(self, inputs, **kwargs):
            return 2 * super().__call__(inputs, **kwargs)

    layer = Doubled(8, 3, padding="same", activation="relu")
    x = _input(_layer(*CONFIGS[0]))
    plain = sepconv.SeparableConv1D.from_config(layer.get_config())
    once = layer(x)           # builds the layer (and its weights) first
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    for _ in range(2):        # the second call goes through the prepared call
        assert np.array_equal(layer(x), 2 * plain(x))
    assert np.array_equal(once, 2 * plain(x))
    with mock.patch.object(sepconv.SeparableConv1D, "__call__", return_value="patched"):
        assert plain(x) == "patched"
        assert plain(x, out=None, num_threads=1) == "patched"
    assert np.array_equal(plain(x), once / 2)


def test_the_layers_vectorcall_follows_every_subclass_and_patch():
    # The layer's call skips the argument tuple and dict (vectorcall, turned
    # on for the class and each subclass by hand: Python 3.9-3.11 do not
    # pass it on).  Whatever a class statement or an assignment does to
    # __call__ must still be what runs: a subclass's own __call__, its
    # subclass's (which inherits that one), a __call__ assigned onto a class
    # that had the fast call, and the fast call again once it is deleted.
    from sepconv._sepconv import LayerCall, inherit_call

    have_vectorcall = 1 << 11   # Py_TPFLAGS_HAVE_VECTORCALL
    x = _input(_layer(*CONFIGS[0]))

    class Plain(sepconv.SeparableConv1D):
        pass

    class Own(sepconv.SeparableConv1D):
        def __call__(self, inputs, **kwargs):
            return ("own", super().__call__(inputs, **kwargs))

    class Below(Own):
        pass

    # A fresh subclass has the flag.  (Python 3.12+ clear it when __call__
    # is assigned, and keep it cleared once that is deleted: after a test
    # that patched the layer's __call__, the class itself calls through
    # tp_call, which is why it is not checked here; inherit_call turns it on
    # again.)
    assert Plain.__flags__ & have_vectorcall
    assert inherit_call(Own) is False and inherit_call(Plain) is True
    assert inherit_call(sepconv.SeparableConv1D) is True
    assert sepconv.SeparableConv1D.__flags__ & have_vectorcall
    with pytest.raises(TypeError, match="not a subclass of LayerCall"):
        inherit_call(dict)
    base = sepconv.SeparableConv1D(8, 3, padding="same", activation="relu")
    expected = base(x)
    layers = {}
    for cls in (Plain, Own, Below):
        layer = cls.from_config(base.get_config())
        layer.build(x.shape)
        layer.set_weights(base.get_weights())
        layers[cls] = layer
    for _ in range(2):   # the second call of each goes through its prepared call
        assert np.array_equal(layers[Plain](x), expected)
        out = np.full_like(expected, np.nan)
        assert layers[Plain](x, out=out, num_threads=1) is out
        assert np.array_equal(out, expected)
        for cls in (Own, Below):
            tag, y = layers[cls](x, num_threads=1)
            assert tag == "own" and np.array_equal(y, expected)

    Plain.__call__ = lambda self, inputs, **kwargs: ("assigned", kwargs)
    try:
        assert layers[Plain](x, out=None, num_threads=1) == (
            "assigned", {"out": None, "num_threads": 1})
        assert layers[Plain](x) == ("assigned", {})
    finally:
        del Plain.__call__
    assert np.array_equal(layers[Plain](x), expected)
    assert np.array_equal(LayerCall.__call__(layers[Plain], x), expected)


def test_the_fast_calls_and_their_fallbacks_keep_no_reference():
    # The vectorcall functions take borrowed arguments; the way out to
    # tp_call (sepconv_call_slot) packs them into a tuple and a dict of its
    # own and must let go of both, on success and on a TypeError alike.
    import sys

    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    out = layer(x)
    prepared = layer.prepare(x.shape)
    calls = [
        lambda: layer(x, out=out),                      # the layer's fast path
        lambda: layer(inputs=x, out=out),               # its fallback, taken
        lambda: prepared(x, out=out),                   # the prepared call's
        lambda: prepared(x=x, out=out),                 # its fallback, taken
    ]
    refused = [
        lambda: layer(x, output=out),                   # fallback, refused
        lambda: prepared(x, out, out=out),
    ]
    for call in calls + refused:
        before = (sys.getrefcount(x), sys.getrefcount(out))
        for _ in range(1000):
            try:
                assert call() is out
            except TypeError:
                assert call in refused
        assert (sys.getrefcount(x), sys.getrefcount(out)) == before


def test_prepared_calls_cannot_be_subclassed():
    # Vectorcall is set on the type itself; a subclass would not inherit it.
    layer = _layer(*CONFIGS[0])
    with pytest.raises(TypeError):
        type("Sub", (type(layer.prepare((1, 16, 6))),), {})


def test_the_layers_latest_prepared_call_takes_only_what_it_was_made_for():
    # layer(x) tries its latest prepared call first (Prepared.try_call); any
    # argument that is not exactly what it was made for takes the usual
    # path, with the same errors and the same bits as a first call.
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    expected = layer(x, training=True)
    layer(x)
    latest = layer._last
    level = functional._LEVEL
    assert latest is not None
    assert np.array_equal(latest.try_call(x, None, None, level), expected)
    assert latest.try_call(x, None, None, level + "-other") is None
    assert latest.try_call(x, None, 10**6, level) is None
    assert latest.try_call(x, None, 1.0, level) is None
    assert latest.try_call(x, None, np.int64(1), level) is None
    assert latest.try_call(x.astype(np.float64), None, None, level) is None
    assert latest.try_call(x[:, :-1], None, None, level) is None
    assert latest.try_call(np.asfortranarray(x), None, None, level) is None
    assert latest.try_call(x.view(np.ndarray), None, None, level) is not None
    sub = type("Sub", (np.ndarray,), {})
    assert latest.try_call(x.view(sub), None, None, level) is None
    out = np.empty_like(expected)
    assert latest.try_call(x, out.view(sub), None, level) is None
    assert latest.try_call(x, out[:, :-1], None, level) is None
    assert latest.try_call(x, out.astype(np.float64), None, level) is None
    # Through the layer: the same bits by every path, the same errors.
    for variant in (x.astype(np.float64), x.tolist(), np.asfortranarray(x), x.view(sub)):
        assert np.array_equal(layer(variant), expected)
    for threads in (1, 2, 3):
        assert np.array_equal(layer(x, num_threads=threads), expected)
        assert layer._last.try_call(x, None, threads, level) is not None
    for threads, error in ((0, ValueError), (10**6, ValueError), (True, TypeError),
                           (2.0, TypeError), ("1", TypeError)):
        with pytest.raises(error, match="num_threads"):
            layer(x, num_threads=threads)
    readonly = np.empty_like(expected)
    readonly.flags.writeable = False
    for bad, shown in ((np.empty_like(expected)[:, :-1], "shape"),
                       (np.empty(expected.shape, np.float64), "dtype"),
                       (readonly, "writable"), (expected.tolist(), "ndarray")):
        with pytest.raises((ValueError, TypeError), match=shown):
            layer(x, out=bad)
    shared = np.empty(max(x.size, expected.size), np.float32)
    inside = shared[:x.size].reshape(x.shape)
    inside[...] = x
    with pytest.raises(ValueError, match="overlap"):
        layer(inside, out=shared[:expected.size].reshape(expected.shape))
    assert np.array_equal(inside, x)  # refused before the kernel wrote anything
    assert np.array_equal(layer(x, out=out), expected)


def test_the_latest_prepared_call_follows_the_thread_count_asked_for():
    # A one-item shape plans one thread whatever was asked; the prepared
    # call remembers what was asked, so each thread count finds its own.
    from threadpoolctl import threadpool_limits

    layer = _layer(*CONFIGS[0])
    x = _input(layer, batch=1, steps=8)
    expected = layer(x, num_threads=1)
    with threadpool_limits(limits=2, user_api="openmp"):
        assert np.array_equal(layer(x), expected)
        two = layer._last
        assert two.try_call(x, None, None, functional._LEVEL) is not None
        assert two.try_call(x, None, 2, functional._LEVEL) is not None
        assert two.try_call(x, None, 1, functional._LEVEL) is None
    with threadpool_limits(limits=1, user_api="openmp"):
        assert two.try_call(x, None, None, functional._LEVEL) is None
        assert np.array_equal(layer(x), expected)
        assert layer._last is not two


def test_the_latest_prepared_call_follows_the_level(monkeypatch):
    # Tests (and the conftest level fixture) switch functional._LEVEL: the
    # next call must use the new level's kernels, not the latest prepared
    # call of the old one.
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    expected = layer(x)
    assert type(layer._last).__module__ == functional.kernel_module().__name__
    for other in sepconv.dispatch.available_levels():
        monkeypatch.setattr(functional, "_LEVEL", other)
        got = layer(x)
        assert type(layer._last).__module__ == functional.kernel_module(other).__name__
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-6)
        # and the call after it, now on the fast path, stays on that level
        assert np.array_equal(layer(x), got)
        assert type(layer._last).__module__ == functional.kernel_module(other).__name__


def test_only_small_one_thread_calls_keep_the_gil():
    # Releasing the GIL costs more than a tiny call's kernel; such a call
    # keeps it, but one that shares items with workers, or has more than
    # 32K multiply-adds, releases it (the long-call case is timed in
    # test_reliability.test_gil_is_released_during_the_kernel).
    tiny = sepconv.SeparableConv1D(8, 3, padding="same")
    tiny.build((None, None, 8))
    assert not tiny.prepare((1, 16, 8), num_threads=1).bound.release_gil
    assert not tiny.prepare((1, 16, 8), num_threads=2).bound.release_gil  # one item
    shared = tiny.prepare((64, 512, 8), num_threads=2).bound
    assert shared.threads == 2 and shared.release_gil
    assert tiny.prepare((1, 4096, 8), num_threads=1).bound.release_gil  # 360K multiply-adds
    x = np.random.default_rng(3).standard_normal((1, 16, 8)).astype(np.float32)
    expected = tiny(x, num_threads=1)
    results, errors = [], []

    def worker():
        try:
            run = tiny.prepare(x.shape, num_threads=1)
            results.extend(run(x) for _ in range(2000))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 8000
    assert all(np.array_equal(y, expected) for y in results)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("width", [24, 32, 48, 56, 64, 72, 96])
def test_scratch_on_the_stack_and_off_it(dtype, width):
    # Per-thread scratch up to 8 KiB is on the thread's stack, larger is
    # allocated: 16 steps of `width` channels and filters put the scratch on
    # either side of that line (at AVX-512, float32 up to 64 channels and
    # float64 up to 32 are on the stack).
    layer = sepconv.SeparableConv1D(width, 3, padding="same", activation="relu",
                                    dtype=dtype, bias_initializer="random_normal")
    x = np.random.default_rng(width).standard_normal((3, 16, width)).astype(dtype)
    got = [layer(x, num_threads=threads) for threads in (1, 2)]
    dw, pw, b = layer.weights
    ref = separable_conv1d_reference(x, dw, pw, b, 1, "same", 1, "channels_last",
                                     layer.activation)
    tol = 2e-5 if dtype == "float32" else 1e-11
    assert np.array_equal(got[0], got[1])
    assert np.max(np.abs(got[0] - ref)) <= tol * max(1.0, np.max(np.abs(ref)))


def test_prepared_call_follows_set_weights():
    layer = _layer(*CONFIGS[1])
    x = _input(layer)
    prepared = layer.prepare(x.shape)
    before = prepared(x)
    new = [w * 0.5 + 0.25 for w in layer.get_weights()]
    layer.set_weights(new)
    after = prepared(x)
    assert not np.array_equal(before, after)
    fresh = _layer(*CONFIGS[1])
    fresh.set_weights(new)
    assert np.array_equal(after, fresh(x))


def test_prepare_builds_an_unbuilt_layer():
    layer = sepconv.SeparableConv1D(4, 3, padding="same")
    prepared = layer.prepare((2, 10, 5))
    assert layer.built and layer.input_channels == 5
    x = np.ones((2, 10, 5), np.float32)
    assert np.array_equal(prepared(x), layer(x))


@pytest.mark.parametrize("shape, error, shown", [
    ((1, 16), ValueError, "3 entries"),
    ((1, 16, 8, 1), ValueError, "3 entries"),
    ((1, None, 6), TypeError, "input_shape[1]"),
    ((1, -1, 6), ValueError, "input_shape[1]"),
    ((1, 16, 5), ValueError, "6 channels"),
    ((1, 2**62, 6), ValueError, "input_shape[1]"),
    ((1, 2**64, 6), ValueError, "input_shape[1]"),
    ((2**40, 2**40, 6), ValueError, "too large"),
    ((1, 2, 6), ValueError, "kernel"),          # valid padding, 2 steps < 5 taps
    ("abc", TypeError, "input_shape"),
    (16, TypeError, "input_shape"),
    ((1, 16.5, 6), TypeError, "input_shape[1]"),
])
def test_prepare_argument_errors(shape, error, shown):
    layer = _layer(4, 5, 1, "valid", 1, 1, None, "channels_last", "float32")
    with pytest.raises(error) as info:
        layer.prepare(shape)
    assert shown in str(info.value)


@pytest.mark.parametrize("threads", [0, -1, 10**6, 2.0, "2"])
def test_prepare_thread_count_errors(threads):
    layer = _layer(*CONFIGS[0])
    with pytest.raises((ValueError, TypeError), match="num_threads"):
        layer.prepare((1, 16, 6), num_threads=threads)


def test_prepared_call_converts_what_the_layer_converts():
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    prepared = layer.prepare(x.shape)
    expected = prepared(x)
    for variant in (x.astype(np.float64), x.tolist(), np.asfortranarray(x), x.astype(">f4")):
        assert np.array_equal(prepared(variant), expected)
    wide = np.zeros((x.shape[0], x.shape[1], 2 * x.shape[2]), np.float32)
    wide[:, :, ::2] = x
    assert np.array_equal(prepared(wide[:, :, ::2]), expected)  # strided view


@pytest.mark.parametrize("bad, error, shown", [
    (lambda x: x[:, :-1], ValueError, "shape"),
    (lambda x: x[:1], ValueError, "shape"),
    (lambda x: x[..., :-1], ValueError, "channels"),
    (lambda x: x[0], ValueError, "3-D"),
    (lambda x: x.astype(np.complex64), TypeError, "real numbers"),
    (lambda x: "text", TypeError, "x"),
    (lambda x: None, TypeError, "x"),
])
def test_prepared_call_refuses_other_inputs(bad, error, shown):
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    prepared = layer.prepare(x.shape)
    with pytest.raises(error) as info:
        prepared(bad(x))
    assert shown in str(info.value)


def test_prepared_call_out_errors_before_the_kernel():
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    prepared = layer.prepare(x.shape)
    y = prepared(x)
    cases = [
        (np.empty(y.shape, np.float64), ValueError, "dtype"),
        (np.empty(y.shape[:2] + (y.shape[2] + 1,), np.float32), ValueError, "shape"),
        (np.empty(y.shape, np.float32, order="F"), ValueError, "C-contiguous"),
        (y.tolist(), TypeError, "numpy.ndarray"),
    ]
    readonly = np.empty_like(y)
    readonly.flags.writeable = False
    cases.append((readonly, ValueError, "writable"))
    for out, error, shown in cases:
        sentinel = np.array(out, copy=True) if isinstance(out, np.ndarray) else None
        with pytest.raises(error) as info:
            prepared(x, out)
        assert shown in str(info.value)
        if sentinel is not None and sentinel.dtype == out.dtype:
            assert np.array_equal(sentinel, out, equal_nan=True)  # untouched


def test_prepared_call_refuses_an_out_overlapping_its_input():
    layer = sepconv.SeparableConv1D(6, 3, padding="same")
    layer.build((None, None, 6))
    buffer = np.random.default_rng(2).standard_normal((2, 9, 6)).astype(np.float32)
    prepared = layer.prepare(buffer.shape)
    with pytest.raises(ValueError, match="overlap"):
        prepared(buffer, buffer)
    # A view of the same memory is refused too.
    with pytest.raises(ValueError, match="overlap"):
        prepared(buffer, buffer.reshape(2, 9, 6)[:, :, :])


def test_subclass_out_is_accepted_when_the_layer_accepts_it():
    class Tagged(np.ndarray):
        pass

    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    prepared = layer.prepare(x.shape)
    out = np.empty(prepared.output_shape, np.float32).view(Tagged)
    assert prepared(x, out) is out
    assert np.array_equal(out, prepared(x))


def test_mixed_policy_prepared_call_equals_the_layer():
    layer = sepconv.SeparableConv1D(5, 3, padding="same", activation="relu",
                                    dtype="mixed_float16")
    layer.build((None, None, 4))
    x = np.random.default_rng(4).standard_normal((2, 12, 4)).astype(np.float32)
    expected = layer(x, training=True)
    prepared = layer.prepare(x.shape)
    got = prepared(x)
    assert got.dtype == np.float16 and np.array_equal(got, expected)
    assert np.array_equal(layer(x), expected)  # the hot path


def test_activity_regularizer_and_training_calls_skip_the_hot_path():
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    layer(x)
    layer(x)                      # now on the hot path
    layer.activity_regularizer = sepconv.regularizers.get("l2")
    y = layer(x)
    assert layer.losses and layer.losses[0] == pytest.approx(
        0.01 * float(np.sum(y.astype(np.float64) ** 2)) / x.shape[0], rel=1e-5)
    layer.activity_regularizer = None
    layer(x, training=True)
    dx, grads = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape and len(grads) == 3


def test_prepared_calls_from_threads_see_whole_weight_snapshots():
    layer = _layer(*CONFIGS[0])
    x = _input(layer, batch=4, steps=200)
    prepared = layer.prepare(x.shape, num_threads=1)
    old = layer.get_weights()
    new = [w[::-1].copy() if w.ndim == 1 else -w for w in old]
    expected_old = prepared(x)
    layer.set_weights(new)
    expected_new = prepared(x)
    layer.set_weights(old)
    stop = threading.Event()
    bad = []

    def call():
        while not stop.is_set():
            y = prepared(x)
            if not (np.array_equal(y, expected_old) or np.array_equal(y, expected_new)):
                bad.append(y)

    workers = [threading.Thread(target=call) for _ in range(3)]
    for worker in workers:
        worker.start()
    for i in range(200):
        layer.set_weights(new if i % 2 else old)
    stop.set()
    for worker in workers:
        worker.join()
    assert not bad
    assert np.array_equal(prepared(x), expected_new)   # the last assignment wins


def test_layer_with_prepared_calls_pickles():
    layer = _layer(*CONFIGS[2])
    x = _input(layer)
    expected = layer(x)
    layer(x)
    clone = pickle.loads(pickle.dumps(layer))
    assert clone._prepared == {} and clone._last is None
    assert np.array_equal(clone(x), expected)
    assert np.array_equal(clone.prepare(x.shape)(x), expected)


# ---------------------------------------------------------------- BoundForward
def _bound():
    layer = _layer(*CONFIGS[0])
    x = _input(layer)
    plan = layer._plan(x.shape, 1, functional.kernel_module())
    packed = layer._weights.packed(functional.kernel_module())
    return plan.forward, x, packed, np.empty(plan.output_shape, np.float32)


def test_bound_forward_runs_on_planned_arrays():
    bound, x, packed, out = _bound()
    assert bound.run(x, packed, out) is out
    assert bound.input_shape == x.shape and bound.output_shape == out.shape


@pytest.mark.parametrize("what", ["x-shape", "x-dtype", "x-strided", "x-list", "out-shape",
                                  "out-readonly", "out-overlap", "out-swapped",
                                  "packed-short", "packed-dtype", "packed-2d"])
def test_bound_forward_refuses_arrays_outside_its_contract(what):
    bound, x, packed, out = _bound()
    if what == "x-shape":
        x = np.zeros((x.shape[0], x.shape[1] + 1, x.shape[2]), np.float32)
    elif what == "x-dtype":
        x = x.astype(np.float64)
    elif what == "x-strided":
        x = np.repeat(x, 2, axis=2)[:, :, ::2]
    elif what == "x-list":
        x = x.tolist()
    elif what == "out-shape":
        out = np.empty(out.shape[:2] + (out.shape[2] + 1,), np.float32)
    elif what == "out-readonly":
        out.flags.writeable = False
    elif what == "out-overlap":
        out = x if x.shape == out.shape else x[:, :out.shape[1], :out.shape[2]]
    elif what == "out-swapped":
        out = out.astype(">f4")
    elif what == "packed-short":
        packed = packed[:-1]
    elif what == "packed-dtype":
        packed = packed.astype(np.float64)
    elif what == "packed-2d":
        packed = packed.reshape(1, -1)
    with pytest.raises(ValueError, match="sepconv kernel"):
        bound.run(x, packed, out)


@pytest.mark.parametrize("layout", [-1, 3, 2**31 - 1])
def test_bound_forward_refuses_an_unknown_layout(layout):
    # The layout (sepconv.tiling: LAST, FIRST, FIRST_TRANSPOSED) picks the
    # kernel's loops; any other value is refused before anything is bound.
    kernels = functional.kernel_module()
    with pytest.raises(ValueError, match=f"layout must be 0, 1 or 2.*received {layout}"):
        kernels.BoundForward("float32", (1, 8, 4), (1, 8, 2), layout, 3, 1, 2, True, 0, 1, 1,
                             1, 6, 4, 1, 100)


def test_run_rows_and_copy_rows_refuse_arrays_outside_their_contract():
    kernels = functional.kernel_module()
    layer = _layer(*CONFIGS[0])
    stream = layer.stream()
    stream.push(_input(layer, batch=1, steps=10))
    bound = next(iter(stream._bounds.values()))
    packed = stream._packed()
    buffer = stream._buffer
    steps_in = bound.input_shape[1]
    assert bound.run_rows(buffer, 0, packed).shape == bound.output_shape
    for bad_row in (-1, buffer.shape[1] - steps_in + 1):
        with pytest.raises(ValueError, match="sepconv kernel"):
            bound.run_rows(buffer, bad_row, packed)
    for bad_buffer in (buffer.astype(np.float64), buffer[:, :, :-1].copy(), buffer.tolist()):
        with pytest.raises(ValueError, match="sepconv kernel"):
            bound.run_rows(bad_buffer, 0, packed)
    with pytest.raises(ValueError, match="packed"):
        bound.run_rows(buffer, 0, packed[:-1])
    with pytest.raises(ValueError, match="out"):
        bound.run_rows(buffer, 0, packed, np.empty((1, 1, 1), np.float32))
    chunk = np.ones((1, 2, buffer.shape[2]), np.float32)
    assert kernels.copy_rows(buffer, 0, chunk) and np.array_equal(buffer[:, :2], chunk)
    assert not kernels.copy_rows(buffer, buffer.shape[1] - 1, chunk)   # past the end
    assert not kernels.copy_rows(buffer, 0, chunk.astype(np.float64))  # other dtype
    assert not kernels.copy_rows(buffer, 0, np.ones((1, 4, 2 * buffer.shape[2]),
                                                    np.float32)[:, :, ::2])  # strided
    assert not kernels.copy_rows(buffer, -1, chunk)


def test_large_outputs_start_on_a_cache_line():
    """Outputs sepconv allocates (layer, prepared call, functional form, stream) of
    ALIGNED_FROM bytes or more start on a 64-byte line; the values are the same."""
    from sepconv import arrays
    rng = np.random.default_rng(3)
    layer = sepconv.SeparableConv1D(64, 3, padding="same", activation="relu")
    x = rng.standard_normal((2, 300, 16)).astype(np.float32)  # output 150 KiB
    assert 2 * 300 * 64 * 4 >= arrays.ALIGNED_FROM
    expected = layer(x, out=np.empty((2, 300, 64), np.float32))
    outputs = [layer(x), layer(x), layer.prepare(x.shape)(x)]
    dw, pw, b = layer.get_weights()
    outputs.append(sepconv.separable_conv1d(x, dw, pw, b, padding="same", activation="relu"))
    stream = layer.stream(batch_size=2)
    pushed = stream.push(x)
    assert pushed.nbytes < arrays.ALIGNED_FROM or pushed.ctypes.data % 64 == 0
    for y in outputs:
        assert y.ctypes.data % 64 == 0 and y.flags.c_contiguous and y.flags.writeable
        assert np.array_equal(y, expected)
    small = arrays.empty((3, 5), np.float64)
    assert small.shape == (3, 5) and small.base is None
    big = arrays.empty((1000, 33), np.float64)
    assert big.ctypes.data % 64 == 0 and big.shape == (1000, 33) and big.dtype == np.float64
    assert arrays.empty((0, 10 ** 5), np.float32).shape == (0, 10 ** 5)
