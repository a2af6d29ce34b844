"""Tests for sepconv.initializers: shapes, distributions, seeds and (de)serialisation.

Statistical checks use large seeded draws and bounds of six standard errors,
so they are deterministic and far from the edge.
"""

import inspect
import json
import math
import os

import numpy as np
import pytest

from sepconv import initializers as I

BIG = (64, 128, 64)  # a (k, in, out) kernel: fan_in = 64*128, fan_out = 64*64
N_BIG = math.prod(BIG)
FLOATS = [np.float32, np.float64]

RANDOM_CLASSES = [
    I.RandomNormal,
    I.RandomUniform,
    I.TruncatedNormal,
    I.VarianceScaling,
    I.GlorotNormal,
    I.GlorotUniform,
    I.HeNormal,
    I.HeUniform,
    I.LecunNormal,
    I.LecunUniform,
    I.Orthogonal,
]

# Every name Keras 3 accepts for a built-in initializer (class names, their
# snake_case forms and the extra aliases), with the class it must map to.
KERAS_NAMES = {
    "Constant": I.Constant,
    "constant": I.Constant,
    "Zeros": I.Zeros,
    "zeros": I.Zeros,
    "zero": I.Zeros,
    "Ones": I.Ones,
    "ones": I.Ones,
    "one": I.Ones,
    "Identity": I.Identity,
    "identity": I.Identity,
    "IdentityInitializer": I.Identity,
    "STFT": I.STFT,
    "stft": I.STFT,
    "STFTInitializer": I.STFT,
    "RandomNormal": I.RandomNormal,
    "random_normal": I.RandomNormal,
    "normal": I.RandomNormal,
    "RandomUniform": I.RandomUniform,
    "random_uniform": I.RandomUniform,
    "uniform": I.RandomUniform,
    "TruncatedNormal": I.TruncatedNormal,
    "truncated_normal": I.TruncatedNormal,
    "VarianceScaling": I.VarianceScaling,
    "variance_scaling": I.VarianceScaling,
    "GlorotNormal": I.GlorotNormal,
    "glorot_normal": I.GlorotNormal,
    "GlorotUniform": I.GlorotUniform,
    "glorot_uniform": I.GlorotUniform,
    "HeNormal": I.HeNormal,
    "he_normal": I.HeNormal,
    "HeUniform": I.HeUniform,
    "he_uniform": I.HeUniform,
    "LecunNormal": I.LecunNormal,
    "lecun_normal": I.LecunNormal,
    "LecunUniform": I.LecunUniform,
    "lecun_uniform": I.LecunUniform,
    "Orthogonal": I.Orthogonal,
    "orthogonal": I.Orthogonal,
    "OrthogonalInitializer": I.Orthogonal,
    "Initializer": I.Initializer,
    "initializer": I.Initializer,
}

CANONICAL = {
    I.Constant: "Constant",
    I.Zeros: "Zeros",
    I.Ones: "Ones",
    I.Identity: "Identity",
    I.STFT: "STFT",
    I.RandomNormal: "RandomNormal",
    I.RandomUniform: "RandomUniform",
    I.TruncatedNormal: "TruncatedNormal",
    I.VarianceScaling: "VarianceScaling",
    I.GlorotNormal: "GlorotNormal",
    I.GlorotUniform: "GlorotUniform",
    I.HeNormal: "HeNormal",
    I.HeUniform: "HeUniform",
    I.LecunNormal: "LecunNormal",
    I.LecunUniform: "LecunUniform",
    I.Orthogonal: "Orthogonal",
    I.Initializer: "Initializer",
}


def _std_normal_pdf(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _std_normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


# Variance of a standard normal truncated to [-2, 2], from the closed form.
TRUNC2_VAR = 1.0 - 2.0 * 2.0 * _std_normal_pdf(2.0) / (2.0 * _std_normal_cdf(2.0) - 1.0)


def _check_moments(x, mean, var, kurtosis):
    """Sample mean / variance within six standard errors of the theory."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    se_mean = math.sqrt(var / n)
    se_var = var * math.sqrt((kurtosis - 1.0) / n)
    assert abs(x.mean() - mean) <= 6 * se_mean, (x.mean(), mean, se_mean)
    assert abs(x.var() - var) <= 6 * se_var, (x.var(), var, se_var)


def _same(a, b):
    return type(a) is type(b) and a.get_config() == b.get_config()


# ---------------------------------------------------------------------------
# shapes and dtypes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    "cls, shape",
    [
        (cls, shape)
        for cls in RANDOM_CLASSES + [I.Zeros, I.Ones, I.Constant]
        for shape in [(7,), (4, 5), (3, 4, 5), (2, 3, 4, 5)]
        if not (cls is I.Orthogonal and len(shape) < 2)  # Orthogonal needs rank >= 2
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_shape_and_dtype(cls, shape, dtype):
    out = cls()(shape, dtype=dtype)
    assert isinstance(out, np.ndarray)
    assert out.shape == shape
    assert out.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("cls", RANDOM_CLASSES, ids=lambda c: c.__name__)
def test_default_dtype_is_float32_and_list_shape(cls):
    out = cls(seed=1)([3, 4])
    assert out.dtype == np.float32 and out.shape == (3, 4)
    assert np.array_equal(out, cls(seed=1)((3, 4), dtype="float32"))


@pytest.mark.parametrize("cls", [c for c in RANDOM_CLASSES if c is not I.Orthogonal])
def test_scalar_and_empty_shapes(cls):
    assert cls(seed=0)((), "float64").shape == ()
    assert cls(seed=0)((0, 3), "float64").shape == (0, 3)
    assert cls(seed=0)(5, "float64").shape == (5,)


@pytest.mark.parametrize("cls", RANDOM_CLASSES, ids=lambda c: c.__name__)
def test_random_initializers_reject_integer_dtypes(cls):
    with pytest.raises(ValueError, match="int32"):
        cls()((3, 3), dtype="int32")


@pytest.mark.parametrize("bad", [(3, -1), (2.5, 3), "abc", (None, 3), object()])
def test_bad_shape_is_reported(bad):
    with pytest.raises(ValueError, match="shape"):
        I.GlorotUniform()(bad)


def test_zeros_ones_constant_values_and_integer_dtypes():
    assert np.array_equal(I.Zeros()((2, 3), "int64"), np.zeros((2, 3), np.int64))
    assert np.array_equal(I.Ones()((2, 3), "int8"), np.ones((2, 3), np.int8))
    c = I.Constant(2.5)((3, 2), "float64")
    assert c.dtype == np.float64 and np.all(c == 2.5)
    assert np.all(I.Constant(7)((4,), "int32") == 7)
    assert np.all(I.Constant()((4,)) == 0.0)
    assert np.all(I.Constant(np.float32(1.5))((2,), "float64") == 1.5)
    assert I.Constant(np.float32(1.5)).get_config() == {"value": 1.5}


@pytest.mark.parametrize("bad", [[1.0, 2.0], "x", None, {"a": 1}])
def test_constant_rejects_non_scalars(bad):
    with pytest.raises(ValueError) as info:
        I.Constant(bad)
    assert repr(bad) in str(info.value)


# ---------------------------------------------------------------------------
# fans
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((9,), (9, 9)),
        ((3, 4), (3, 4)),
        ((5, 3, 4), (15, 20)),  # (k, in, out)
        ((2, 5, 3, 4), (30, 40)),
        ((5, 1, 4), (5, 20)),  # SeparableConv1D depthwise kernel, in=1 per group
    ],
)
def test_compute_fans(shape, fans):
    assert I.compute_fans(shape) == fans


def test_compute_fans_with_explicit_axes():
    # (in, heads, head_dim) like an attention projection: in -> heads*head_dim
    assert I.compute_fans((6, 2, 3), input_axes=[0], output_axes=[1, 2]) == (6, 6)
    # the default heuristic is reproduced by the explicit conv axes
    assert I.compute_fans((5, 3, 4), input_axes=1, output_axes=-1) == (15, 20)
    with pytest.raises(ValueError, match="together"):
        I.compute_fans((5, 3, 4), input_axes=1)
    with pytest.raises(ValueError, match="out of range"):
        I.compute_fans((5, 3), input_axes=0, output_axes=5)
    with pytest.raises(ValueError, match="distinct"):
        I.compute_fans((5, 3), input_axes=0, output_axes=[0])


def test_variance_scaling_uses_explicit_axes():
    init = I.VarianceScaling(scale=2.0, mode="fan_out", seed=0, input_axes=[0], output_axes=[1, 2])
    assert init.variance((6, 2, 3)) == pytest.approx(2.0 / 6)
    assert init.get_config()["input_axes"] == [0]
    assert _same(I.deserialize(I.serialize(init)), init)


# ---------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------
def test_random_normal_moments():
    x = I.RandomNormal(mean=0.3, stddev=2.0, seed=11)(BIG, "float64")
    _check_moments(x, 0.3, 4.0, kurtosis=3.0)


def test_random_uniform_bounds_and_moments():
    lo, hi = -0.25, 0.75
    x = I.RandomUniform(minval=lo, maxval=hi, seed=12)(BIG, "float64")
    assert x.min() >= lo and x.max() <= hi
    assert x.min() < lo + 1e-3 and x.max() > hi - 1e-3  # the whole range is used
    _check_moments(x, (lo + hi) / 2, (hi - lo) ** 2 / 12, kurtosis=1.8)


@pytest.mark.parametrize("dtype", FLOATS)
def test_random_uniform_float32_respects_bounds(dtype):
    x = I.RandomUniform(minval=0.0, maxval=1.0, seed=3)((1000, 100), dtype)
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_truncated_normal_truncation_and_moments():
    mean, stddev = -1.0, 0.5
    x = I.TruncatedNormal(mean=mean, stddev=stddev, seed=13)(BIG, "float64")
    assert np.all(np.abs(x - mean) <= 2 * stddev)
    assert np.abs(x - mean).max() > 1.99 * stddev  # truncation is at 2 sigma, not less
    _check_moments(x, mean, stddev**2 * TRUNC2_VAR, kurtosis=3.0)


def test_truncation_constant_is_the_truncated_stddev():
    assert math.sqrt(TRUNC2_VAR) == pytest.approx(I.TRUNCATED_NORMAL_STDDEV_FACTOR, rel=1e-12)


def _expected_variance(scale, mode, shape):
    """scale / n with fans written out for a (k, in, out) kernel."""
    k, cin, cout = shape
    fan_in, fan_out = k * cin, k * cout
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return scale / max(1.0, n)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling_formulas(mode, distribution):
    scale = 3.0
    var = _expected_variance(scale, mode, BIG)
    x = I.VarianceScaling(scale=scale, mode=mode, distribution=distribution, seed=21)(
        BIG, "float64"
    )
    assert I.VarianceScaling(scale, mode, distribution).variance(BIG) == pytest.approx(var)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * var)
        assert np.abs(x).max() <= limit
        assert np.abs(x).max() > 0.999 * limit
        _check_moments(x, 0.0, var, kurtosis=1.8)
    elif distribution == "truncated_normal":
        pre_truncation_std = math.sqrt(var) / 0.87962566103423978
        assert np.abs(x).max() <= 2 * pre_truncation_std
        assert np.abs(x).max() > 1.99 * pre_truncation_std
        _check_moments(x, 0.0, var, kurtosis=3.0)
    else:
        assert np.abs(x).max() > 3 * math.sqrt(var)  # not truncated
        _check_moments(x, 0.0, var, kurtosis=3.0)


def test_variance_scaling_normal_alias_and_case():
    assert I.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    assert I.VarianceScaling(distribution="Uniform").distribution == "uniform"


def test_variance_scaling_small_fans_are_clamped_to_one():
    assert I.VarianceScaling(scale=2.0).variance(()) == 2.0
    assert I.VarianceScaling(scale=2.0, mode="fan_avg").variance((0, 0)) == 2.0


@pytest.mark.parametrize(
    "cls, scale, mode, distribution",
    [
        (I.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
        (I.GlorotUniform, 1.0, "fan_avg", "uniform"),
        (I.HeNormal, 2.0, "fan_in", "truncated_normal"),
        (I.HeUniform, 2.0, "fan_in", "uniform"),
        (I.LecunNormal, 1.0, "fan_in", "truncated_normal"),
        (I.LecunUniform, 1.0, "fan_in", "uniform"),
    ],
)
def test_named_variance_scaling_initializers(cls, scale, mode, distribution):
    init = cls(seed=5)
    assert (init.scale, init.mode, init.distribution) == (scale, mode, distribution)
    assert init.get_config() == {"seed": 5, "input_axes": None, "output_axes": None}
    # Same seed and settings as the generic initializer -> same values.
    generic = I.VarianceScaling(scale=scale, mode=mode, distribution=distribution, seed=5)
    assert np.array_equal(init((5, 3, 4)), generic((5, 3, 4)))
    shape = (8, 64, 32)
    x = init(shape, "float64")
    k, cin, cout = shape
    if cls in (I.GlorotNormal, I.GlorotUniform):
        var = 2.0 / (k * cin + k * cout)
    elif cls in (I.HeNormal, I.HeUniform):
        var = 2.0 / (k * cin)
    else:
        var = 1.0 / (k * cin)
    if distribution == "uniform":
        assert np.abs(x).max() <= math.sqrt(3 * var)
        _check_moments(x, 0.0, var, kurtosis=1.8)
    else:
        assert np.abs(x).max() <= 2 * math.sqrt(var) / 0.87962566103423978
        _check_moments(x, 0.0, var, kurtosis=3.0)


def test_glorot_uniform_limit_on_a_dense_kernel():
    x = I.GlorotUniform(seed=2)((300, 200), "float64")
    limit = math.sqrt(6.0 / (300 + 200))
    assert np.abs(x).max() <= limit and np.abs(x).max() > 0.99 * limit


# ---------------------------------------------------------------------------
# orthogonal, identity, STFT
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (3, 5, 4), (2, 3, 20)])
@pytest.mark.parametrize("dtype", FLOATS)
def test_orthogonal(shape, dtype):
    gain = 1.7
    x = I.Orthogonal(gain=gain, seed=4)(shape, dtype)
    assert x.shape == shape and x.dtype == np.dtype(dtype)
    m = x.reshape(-1, shape[-1]).astype(np.float64) / gain
    tol = 1e-5 if dtype == np.float32 else 1e-12
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=tol)
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=tol)


def test_orthogonal_needs_rank_two():
    with pytest.raises(ValueError, match=r"\(5,\)"):
        I.Orthogonal()((5,))


def test_orthogonal_is_not_biased_in_sign():
    # With the sign fix the diagonal of square draws is symmetric around 0.
    diag = np.concatenate([np.diag(I.Orthogonal(seed=s)((8, 8), "float64")) for s in range(200)])
    assert abs(np.mean(diag > 0) - 0.5) < 0.1


@pytest.mark.parametrize("dtype", FLOATS + [np.int32])
def test_identity(dtype):
    np.testing.assert_array_equal(I.Identity()((3, 3), dtype), np.eye(3, dtype=dtype))
    x = I.Identity(gain=2.5)((2, 4), "float64")
    expected = np.zeros((2, 4))
    expected[0, 0] = expected[1, 1] = 2.5
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), ()])
def test_identity_rejects_non_matrices(shape):
    with pytest.raises(ValueError) as info:
        I.Identity()(shape)
    assert repr(shape) in str(info.value)


def _stft_expected(shape, side, window_values, scaling):
    t_len, channels, bins = shape
    kernel = np.empty(shape)
    for t in range(t_len):
        for f in range(bins):
            angle = -2 * math.pi * t * f / (2 * (bins - 1))
            kernel[t, :, f] = math.cos(angle) if side == "real" else math.sin(angle)
    if window_values is not None:
        w = np.asarray(window_values, dtype=np.float64)
        norm = {"density": math.sqrt(float(np.sum(w * w))), "spectrum": float(np.sum(np.abs(w))), None: 1.0}[scaling]
        kernel = kernel * w[:, None, None] / norm
    return kernel


@pytest.mark.parametrize("side", ["real", "imag"])
@pytest.mark.parametrize("scaling", ["density", "spectrum", None])
@pytest.mark.parametrize("periodic", [False, True])
def test_stft_hann(side, scaling, periodic):
    shape = (8, 1, 5)
    n = shape[0]
    period = n if periodic else n - 1
    hann = [0.5 - 0.5 * math.cos(2 * math.pi * i / period) for i in range(n)]
    x = I.STFT(side=side, window="hann", scaling=scaling, periodic=periodic)(shape, "float64")
    np.testing.assert_allclose(x, _stft_expected(shape, side, hann, scaling), atol=1e-12)


def test_stft_array_window_none_window_and_channels():
    win = [0.2, 1.0, 0.5, 0.1]
    x = I.STFT(window=win, scaling="spectrum")((4, 3, 3), "float64")
    np.testing.assert_allclose(x, _stft_expected((4, 3, 3), "real", win, "spectrum"), atol=1e-12)
    y = I.STFT(side="imag", window=None)((4, 1, 3), "float32")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, _stft_expected((4, 1, 3), "imag", None, None), atol=1e-6)
    with pytest.raises(ValueError, match="window"):
        I.STFT(window=[1.0, 2.0])((4, 1, 3))


def test_stft_windows_match_scipy():
    signal = pytest.importorskip("scipy.signal")
    for name in ["hann", "hamming", "boxcar", "blackman"]:
        for periodic in (False, True):
            x = I.STFT(window=name, scaling=None, periodic=periodic)((9, 1, 4), "float64")
            w = signal.get_window(name, 9, fftbins=periodic)
            np.testing.assert_allclose(x, _stft_expected((9, 1, 4), "real", w, None), atol=1e-12)


def test_stft_argument_errors():
    with pytest.raises(ValueError, match="'left'"):
        I.STFT(side="left")
    with pytest.raises(ValueError, match="'l3'"):
        I.STFT(scaling="l3")
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        I.STFT()((4, 5))


# ---------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", RANDOM_CLASSES, ids=lambda c: c.__name__)
def test_seed_reproducibility(cls):
    shape = (3, 6, 5)
    a = cls(seed=123)
    first = a(shape)
    assert np.array_equal(first, a(shape))  # same values on every call
    assert np.array_equal(first, cls(seed=123)(shape))  # and across fresh instances
    assert np.array_equal(first, I.deserialize(I.serialize(a))(shape))
    assert not np.array_equal(first, cls(seed=124)(shape))
    unseeded = cls()
    assert not np.array_equal(unseeded(shape), unseeded(shape))  # fresh draws
    assert np.array_equal(cls(seed=-7)(shape), cls(seed=-7)(shape))  # negative seeds work


@pytest.mark.parametrize("bad", [1.5, "3", True, [1]])
def test_bad_seed(bad):
    with pytest.raises(ValueError) as info:
        I.RandomNormal(seed=bad)
    assert "seed" in str(info.value) and repr(bad) in str(info.value)


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "factory, name, value",
    [
        (lambda v: I.VarianceScaling(scale=v), "scale", 0.0),
        (lambda v: I.VarianceScaling(scale=v), "scale", -1.5),
        (lambda v: I.VarianceScaling(mode=v), "mode", "fan_sum"),
        (lambda v: I.VarianceScaling(distribution=v), "distribution", "gamma"),
        (lambda v: I.VarianceScaling(distribution=v), "distribution", 3),
        (lambda v: I.RandomNormal(stddev=v), "stddev", -0.1),
        (lambda v: I.TruncatedNormal(stddev=v), "stddev", float("nan")),
        (lambda v: I.RandomNormal(mean=v), "mean", "zero"),
        (lambda v: I.RandomUniform(minval=v), "minval", 1.0),
        (lambda v: I.Orthogonal(gain=v), "gain", None),
        (lambda v: I.Identity(gain=v), "gain", "big"),
        (lambda v: I.VarianceScaling(input_axes=v, output_axes=[1]), "input_axes", "a"),
    ],
)
def test_argument_validation(factory, name, value):
    with pytest.raises(ValueError) as info:
        factory(value)
    message = str(info.value)
    assert name in message and repr(value) in message


# ---------------------------------------------------------------------------
# get / serialize / deserialize
# ---------------------------------------------------------------------------
def test_registry_holds_exactly_the_keras_names():
    assert set(I.REGISTRY.names()) == set(KERAS_NAMES)


@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_get_every_name(name):
    obj = I.get(name)
    assert type(obj) is KERAS_NAMES[name]
    assert type(I.deserialize(name)) is KERAS_NAMES[name]
    config = I.serialize(obj)
    assert config == {
        "module": "keras.initializers",
        "class_name": CANONICAL[KERAS_NAMES[name]],
        "config": obj.get_config(),
        "registered_name": None,
    }
    assert json.loads(json.dumps(config)) == config
    assert _same(I.deserialize(config), obj)
    assert _same(I.get(config), obj)
    assert _same(I.get({**config, "class_name": name}), obj)


NON_DEFAULT = [
    I.Constant(3.25),
    I.Identity(gain=0.5),
    I.STFT(side="imag", window="hamming", scaling="spectrum", periodic=True),
    I.STFT(window=[0.5, 1.0, 0.5], scaling=None),
    I.RandomNormal(mean=1.0, stddev=0.2, seed=3),
    I.RandomUniform(minval=-2.0, maxval=3.0, seed=4),
    I.TruncatedNormal(mean=-1.0, stddev=0.1, seed=5),
    I.VarianceScaling(scale=0.3, mode="fan_avg", distribution="uniform", seed=6),
    I.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal"),
    I.GlorotNormal(seed=7),
    I.GlorotUniform(seed=8),
    I.HeNormal(seed=9),
    I.HeUniform(seed=10),
    I.LecunNormal(seed=11),
    I.LecunUniform(seed=12),
    I.Orthogonal(gain=2.0, seed=13),
]


@pytest.mark.parametrize("init", NON_DEFAULT, ids=repr)
def test_round_trip_non_default(init):
    config = I.serialize(init)
    again = I.deserialize(json.loads(json.dumps(config)))
    assert _same(again, init)
    assert _same(type(init).from_config(init.get_config()), init)
    assert _same(init.clone(), init)
    if getattr(init, "seed", None) is not None:
        assert np.array_equal(again((4, 5)), init((4, 5)))


KERAS_DICTS = [
    # Exactly as Keras 3.15 writes them.
    (
        {
            "class_name": "GlorotUniform",
            "config": {"input_axes": None, "output_axes": None, "seed": None},
            "module": "keras.initializers",
            "registered_name": None,
        },
        I.GlorotUniform,
    ),
    (
        {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}, "registered_name": None},
        I.GlorotUniform,
    ),
    ({"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": None}, I.Zeros),
    (
        {
            "module": "keras.initializers",
            "class_name": "VarianceScaling",
            "config": {
                "seed": 3,
                "scale": 2.0,
                "mode": "fan_out",
                "distribution": "truncated_normal",
                "input_axes": None,
                "output_axes": None,
            },
            "registered_name": None,
        },
        I.VarianceScaling,
    ),
    (
        {"module": "keras.initializers", "class_name": "OrthogonalInitializer", "config": {"seed": None, "gain": 1.0}, "registered_name": None},
        I.Orthogonal,
    ),
    ({"module": "keras.initializers", "class_name": "IdentityInitializer", "config": {}, "registered_name": None}, I.Identity),
    ({"module": "keras.initializers", "class_name": "Constant", "config": {"value": 0.5}, "registered_name": None}, I.Constant),
    # Keras 2 style: no module, no registered_name
    ({"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.05, "seed": None}}, I.RandomNormal),
]


@pytest.mark.parametrize("config, cls", KERAS_DICTS)
def test_keras_dicts(config, cls):
    obj = I.get(config)
    assert type(obj) is cls
    for key, value in config["config"].items():
        if key in obj.get_config():
            assert obj.get_config()[key] == value


def test_golden_layer_configs_deserialize():
    path = os.path.join(os.path.dirname(__file__), "data", "separable_conv1d_keras.json")
    if not os.path.exists(path):
        pytest.skip("golden data not present")
    with open(path) as fh:
        cases = json.load(fh)["cases"]
    seen = 0
    for case in cases:
        config = case.get("config") or {}
        for key in ("depthwise_initializer", "pointwise_initializer", "bias_initializer"):
            if config.get(key) is not None:
                obj = I.get(config[key])
                assert isinstance(obj, I.Initializer)
                assert I.serialize(obj)["class_name"] == config[key]["class_name"]
                seen += 1
    assert seen > 0


def test_unknown_config_keys():
    base = {"module": "keras.initializers", "class_name": "HeNormal"}
    # unknown keys set to None are harmless and ignored
    assert type(I.get({**base, "config": {"seed": 1, "future_option": None}})) is I.HeNormal
    with pytest.raises(ValueError, match="future_option"):
        I.get({**base, "config": {"seed": 1, "future_option": 3}})


def test_get_passthrough_and_classes():
    assert I.get(None) is None
    inst = I.HeUniform(seed=1)
    assert I.get(inst) is inst
    assert type(I.get(I.LecunNormal)) is I.LecunNormal

    def custom(shape, dtype=None):
        return np.full(shape, 0.25, dtype=dtype)

    assert I.get(custom) is custom
    lam = lambda shape, dtype=None: np.zeros(shape)  # noqa: E731
    assert I.get(lam) is lam

    class Custom:
        def __call__(self, shape, dtype=None):
            return np.ones(shape)

    assert isinstance(I.get(Custom), Custom)
    assert I.serialize(None) is None


@pytest.mark.parametrize("bad", [42, 3.5, [1, 2], ("glorot_uniform",), object()])
def test_get_rejects_other_values(bad):
    with pytest.raises((ValueError, TypeError)) as info:
        I.get(bad)
    assert "initializer" in str(info.value) and repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", ["glorot", "Glorot_Uniform", "", "GLOROT_UNIFORM"])
def test_get_rejects_unknown_names(bad):
    with pytest.raises(ValueError) as info:
        I.get(bad)
    assert "initializer" in str(info.value) and repr(bad) in str(info.value)


def test_get_error_names_the_argument():
    with pytest.raises(ValueError, match="depthwise_initializer") as info:
        I.get("nope", argument="depthwise_initializer")
    assert "'nope'" in str(info.value)


def test_get_rejects_bad_classes_and_dicts():
    class NeedsArgs:
        def __init__(self, x):
            self.x = x

    with pytest.raises(ValueError, match="NeedsArgs"):
        I.get(NeedsArgs)
    with pytest.raises(ValueError, match="int"):
        I.get(int)  # int() == 0 is not callable
    bad_module = {"module": "keras.regularizers", "class_name": "L1", "config": {}}
    with pytest.raises(ValueError) as info:
        I.get(bad_module)
    assert "keras.regularizers" in str(info.value)
    with pytest.raises(ValueError, match="class_name"):
        I.get({"config": {}})
    with pytest.raises(ValueError, match="Nope"):
        I.get({"class_name": "Nope", "config": {}})


def test_serialize_rejects_unregistered_objects():
    with pytest.raises(ValueError):
        I.serialize(lambda shape, dtype=None: np.zeros(shape))


def test_public_snake_case_aliases():
    for name in ["glorot_uniform", "he_normal", "zeros", "orthogonal", "variance_scaling"]:
        assert inspect.isclass(getattr(I, name))
        assert getattr(I, name) is KERAS_NAMES[name]
