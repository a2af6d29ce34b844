"""Tests for sepconv.activations.

The reference values are computed here, independently of the module, from each
activation's mathematical definition: in 50-digit ``decimal`` arithmetic (so
the reference itself has no cancellation or overflow) and rounded to float64;
GELU uses the standard library's ``math.erfc``; sparsemax uses exact
``fractions`` arithmetic.
"""

import decimal
import inspect
import math
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sepconv import activations as A

# -- name tables ----------------------------------------------------------------
CANONICAL = [
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax",
    "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax",
    "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "tanh", "tanh_shrink", "threshold",
]  # fmt: skip
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
ALL_NAMES = CANONICAL + list(ALIASES)
AXISWISE = ["softmax", "log_softmax", "glu", "sparsemax"]
ELEMENTWISE_NAMES = [n for n in CANONICAL if n not in AXISWISE]

# -- 50-digit reference arithmetic ---------------------------------------------------
CTX = decimal.Context(prec=50, Emax=10**7, Emin=-(10**7))
PI = Decimal("3.14159265358979323846264338327950288419716939937510")
SELU_ALPHA = Decimal("1.6732632423543772848170429916717")
SELU_SCALE = Decimal("1.0507009873554804934193349852946")


def d_exp(d):
    return d.exp()


def d_tanh(d):
    # tanh(d) = (e^{2d} - 1) / (e^{2d} + 1), rewritten by sign so e stays <= 1.
    e = d_exp(-2 * abs(d))
    t = (1 - e) / (1 + e)
    return t if d >= 0 else -t


def d_softplus(d):
    return (1 + d_exp(d)).ln()


def d_sigmoid(d):
    return 1 / (1 + d_exp(-d))


def _gelu_exact(x):
    # Phi(x) = erfc(-x / sqrt 2) / 2, accurate in both tails.
    return 0.5 * x * math.erfc(-x / math.sqrt(2.0))


# Each entry maps a Decimal argument to the Decimal value of the textbook
# definition (Keras's default parameters); "gelu_tanh" is gelu(approximate=True).
D_REF = {
    "celu": lambda d: d if d >= 0 else d_exp(d) - 1,  # alpha = 1
    "elu": lambda d: d if d >= 0 else d_exp(d) - 1,
    "exponential": d_exp,
    "hard_shrink": lambda d: d if abs(d) > Decimal("0.5") else Decimal(0),
    "hard_sigmoid": lambda d: min(max(d / 6 + Decimal("0.5"), Decimal(0)), Decimal(1)),
    "hard_silu": lambda d: (
        Decimal(0) if d < -3 else d if d > 3 else d * (d + 3) / 6
    ),
    "hard_tanh": lambda d: min(max(d, Decimal(-1)), Decimal(1)),
    "leaky_relu": lambda d: d if d >= 0 else Decimal("0.2") * d,
    "linear": lambda d: d,
    "log_sigmoid": lambda d: d_sigmoid(d).ln(),
    "mish": lambda d: d * d_tanh(d_softplus(d)),
    "relu": lambda d: max(d, Decimal(0)),
    "relu6": lambda d: min(max(d, Decimal(0)), Decimal(6)),
    "selu": lambda d: SELU_SCALE * (d if d >= 0 else SELU_ALPHA * (d_exp(d) - 1)),
    "sigmoid": d_sigmoid,
    "silu": lambda d: d * d_sigmoid(d),
    "soft_shrink": lambda d: (
        d - Decimal("0.5") if d > Decimal("0.5")
        else d + Decimal("0.5") if d < Decimal("-0.5") else Decimal(0)
    ),
    "softplus": d_softplus,
    "softsign": lambda d: d / (abs(d) + 1),
    "sparse_plus": lambda d: (
        Decimal(0) if d <= -1 else (d + 1) ** 2 / 4 if d < 1 else d
    ),
    "sparse_sigmoid": lambda d: (
        Decimal(0) if d <= -1 else Decimal(1) if d >= 1 else (d + 1) / 2
    ),
    "squareplus": lambda d: (d + (d * d + 4).sqrt()) / 2,
    "tanh": d_tanh,
    "tanh_shrink": lambda d: d - d_tanh(d),
    "threshold": lambda d: d if d > 0 else Decimal(0),
    "gelu_tanh": lambda d: d / 2 * (
        1 + d_tanh((2 / PI).sqrt() * (d + Decimal("0.044715") * d**3))
    ),
}  # fmt: skip


def _ref_one(fn, v):
    d = Decimal(float(v))
    with decimal.localcontext(CTX) as ctx:
        # 50 digits beyond the argument's own scale: exp(d) - 1 and similar
        # differences keep full relative accuracy even for subnormal d.
        ctx.prec = 50 + max(0, -d.adjusted()) if d else 50
        return float(fn(d))


def ref(name, xs):
    """float64 reference values of activation `name` on the float64 array xs."""
    xs = np.asarray(xs, dtype=np.float64)
    if name == "gelu":
        return np.array([_gelu_exact(v) for v in xs.ravel()]).reshape(xs.shape)
    fn = D_REF[name]
    return np.array([_ref_one(fn, v) for v in xs.ravel()]).reshape(xs.shape)


GRID = np.array(
    [-1000.0, -50.0, -20.0, -5.0, -3.0, -2.5, -1.5, -1.0, -0.75, -0.5, -0.3,
     -1e-3, -1e-7, 0.0, 1e-7, 1e-3, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 3.0, 5.0,
     20.0, 50.0, 1000.0]
    + list(np.random.default_rng(0).uniform(-8.0, 8.0, 40))
)  # fmt: skip

# rtol per dtype, plus an absolute slack of a few ulps of min(1, |x|) (the
# rounding of the arithmetic itself: x - tanh(x) near 0, underflowing tails)
# and of the smallest normal number (results that round into subnormals).
RTOL = {np.float32: 1e-6, np.float64: 1e-12}


def assert_matches(got, want, x, dtype):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    x = np.broadcast_to(np.asarray(x, dtype=np.float64), want.shape)
    assert got.shape == want.shape
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf])
    assert np.all(np.isfinite(got[~inf])), got
    info = np.finfo(dtype)
    tol = RTOL[dtype] * np.abs(want) + 8 * info.eps * np.minimum(1.0, np.abs(x)) + info.tiny
    err = np.abs(np.where(inf, 0.0, got) - np.where(inf, 0.0, want))
    bad = err > tol
    assert not bad.any(), list(zip(x[bad], got[bad], want[bad], err[bad]))


# -- elementwise values ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ELEMENTWISE_NAMES + list(ALIASES))
def test_elementwise_matches_reference(name, dtype):
    x = GRID.astype(dtype)
    y = A.get(name)(x)
    assert isinstance(y, np.ndarray)
    assert y.dtype == dtype
    assert y.shape == x.shape
    assert_matches(y, ref(ALIASES.get(name, name), x.astype(np.float64)), x, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gelu_approximate_matches_reference(dtype):
    x = GRID.astype(dtype)
    y = A.gelu(x, approximate=True)
    assert y.dtype == dtype
    assert_matches(y, ref("gelu_tanh", x.astype(np.float64)), x, dtype)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_dtype_and_shape_preserved(name, dtype):
    x = np.linspace(-4, 4, 24).reshape(2, 3, 4).astype(dtype)
    y = A.get(name)(x)
    assert y.dtype == dtype
    expected_shape = (2, 3, 2) if name == "glu" else x.shape
    assert y.shape == expected_shape


@pytest.mark.parametrize("name", ALL_NAMES)
def test_integer_input_becomes_float32(name):
    y = A.get(name)(np.arange(-3, 3).reshape(1, 6))
    assert y.dtype == np.float32


@pytest.mark.parametrize("name", ALL_NAMES)
def test_no_floating_point_warnings_on_extremes(name):
    x = np.array([[-1e30, -1000.0, -50.0, 0.0, 50.0, 1000.0, 1e30, 3.0e38]])
    for dtype in (np.float32, np.float64):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                y = A.get(name)(x.astype(dtype))
        assert not np.isnan(y).any(), (name, dtype, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_magnitudes_do_not_overflow(dtype):
    x = np.array([-1000.0, 1000.0], dtype=dtype)
    assert A.softplus(x).tolist() == [0.0, 1000.0]
    assert A.log_sigmoid(x).tolist() == [-1000.0, 0.0]
    assert A.mish(x).tolist() == [0.0, 1000.0]
    assert A.exponential(x).tolist() == [0.0, math.inf]
    assert A.sigmoid(x).tolist() == [0.0, 1.0]
    assert A.silu(x).tolist() == [0.0, 1000.0]
    assert A.gelu(x).tolist() == [0.0, 1000.0]
    assert A.gelu(x, approximate=True).tolist() == [0.0, 1000.0]
    assert A.tanh(x).tolist() == [-1.0, 1.0]
    assert A.elu(x).tolist() == [-1.0, 1000.0]
    huge = np.array([-np.finfo(dtype).max, np.finfo(dtype).max], dtype=dtype)
    np.testing.assert_array_equal(A.gelu(huge), [0.0, huge[1]])
    np.testing.assert_array_equal(A.gelu(huge, approximate=True), [0.0, huge[1]])
    np.testing.assert_array_equal(A.softplus(huge), [0.0, huge[1]])
    np.testing.assert_array_equal(A.mish(huge), [0.0, huge[1]])
    big = np.array([3.0e38], dtype=dtype)
    assert A.squareplus(big)[0] == big[0]
    assert A.squareplus(-big)[0] >= 0


def test_nan_propagates():
    x = np.array([np.nan, 1.0])
    for name in ELEMENTWISE_NAMES:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert np.isnan(A.get(name)(x)[0]), name


def test_linear_returns_input_unchanged():
    x = np.arange(5.0)
    assert A.linear(x) is x


def test_scalar_input():
    y = A.relu(np.float32(-2.0))
    assert y.shape == () and y.dtype == np.float32 and y == 0


# -- parameters and Keras defaults ----------------------------------------------------
KERAS_DEFAULTS = {
    "relu": {"negative_slope": 0.0, "max_value": None, "threshold": 0.0},
    "leaky_relu": {"negative_slope": 0.2},
    "elu": {"alpha": 1.0},
    "celu": {"alpha": 1.0},
    "gelu": {"approximate": False},
    "squareplus": {"b": 4},
    "hard_shrink": {"threshold": 0.5},
    "soft_shrink": {"threshold": 0.5},
    "softmax": {"axis": -1},
    "log_softmax": {"axis": -1},
    "glu": {"axis": -1},
    "sparsemax": {"axis": -1},
    "threshold": {"threshold": 0.0, "default_value": 0.0},  # Keras: both required
}


@pytest.mark.parametrize("name", CANONICAL)
def test_signature_defaults(name):
    params = dict(inspect.signature(A.get(name)).parameters)
    assert list(params)[0] == "x"
    defaults = {k: p.default for k, p in list(params.items())[1:]}
    assert defaults == KERAS_DEFAULTS.get(name, {})


def test_relu_keras_doc_examples():
    x = np.array([-10, -5, 0.0, 5, 10])
    np.testing.assert_array_equal(A.relu(x), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(A.relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(A.relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(A.relu(x, threshold=5.0), [0, 0, 0, 0, 10])


def _relu_ref(v, negative_slope, max_value, threshold):
    # Keras 3: keep x above threshold (else 0), clip to [0, max_value] when a
    # max is given, then subtract negative_slope * max(threshold - x, 0).
    y = v if v > threshold else 0.0
    if max_value is not None:
        y = min(max(y, 0.0), max_value)
    return y - negative_slope * max(threshold - v, 0.0)


@pytest.mark.parametrize("negative_slope", [0.0, 0.1, 1.5])
@pytest.mark.parametrize("max_value", [None, 6, 2.5])
@pytest.mark.parametrize("threshold", [0.0, 1.0, -1.0])
def test_relu_parameters(negative_slope, max_value, threshold):
    x = np.linspace(-8, 8, 65)
    want = [_relu_ref(v, negative_slope, max_value, threshold) for v in x]
    got = A.relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15)
    got32 = A.relu(x.astype(np.float32), negative_slope, max_value, threshold)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=1e-6, atol=1e-6)


def test_other_parameters():
    x = np.linspace(-6, 6, 49)
    np.testing.assert_allclose(A.leaky_relu(x, 0.01), np.where(x >= 0, x, 0.01 * x))
    np.testing.assert_allclose(A.leaky_relu(x, 3.0), np.where(x >= 0, x, 3.0 * x))
    np.testing.assert_allclose(A.elu(x, 0.5), [v if v >= 0 else 0.5 * math.expm1(v) for v in x])
    np.testing.assert_allclose(
        A.celu(x, 2.0), [v if v >= 0 else 2.0 * math.expm1(v / 2.0) for v in x], rtol=1e-13
    )
    np.testing.assert_allclose(A.squareplus(x, b=1), (x + np.sqrt(x * x + 1)) / 2, rtol=1e-13)
    np.testing.assert_allclose(A.squareplus(x, b=0), np.maximum(x, 0), atol=0)
    np.testing.assert_allclose(A.hard_shrink(x, 2.0), np.where(np.abs(x) > 2, x, 0))
    np.testing.assert_allclose(
        A.soft_shrink(x, 2.0), np.where(x > 2, x - 2, np.where(x < -2, x + 2, 0))
    )
    np.testing.assert_array_equal(
        A.threshold(x, threshold=1.0, default_value=-7.0), np.where(x > 1, x, -7.0)
    )
    x32 = x.astype(np.float32)
    assert A.threshold(x32, 0.5, -1.0).dtype == np.float32
    assert A.elu(x32, np.float64(0.3)).dtype == np.float32  # parameters never upcast


def test_threshold_bare_name_is_relu():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(A.get("threshold")(x), A.relu(x))


def test_selu_constants():
    # selu(x) = scale * alpha * (e^x - 1) for x < 0, so selu(-inf) = -scale * alpha.
    assert A.selu(np.array([-1e3]))[0] == pytest.approx(-1.0507009873554805 * 1.6732632423543772, rel=1e-15)
    assert A.selu(np.array([1.0]))[0] == pytest.approx(1.0507009873554805, rel=1e-15)


def test_gelu_tails_are_accurate():
    # Phi in the lower tail is tiny; the product must keep its relative accuracy.
    x = np.array([-12.0, -8.0, -5.0, -2.0, -1.4, -1.0])
    want = np.array([_gelu_exact(v) for v in x])
    np.testing.assert_allclose(A.gelu(x), want, rtol=1e-13)


def test_gelu_dense_grid():
    # Dense enough to cross every internal range boundary of an erf evaluation.
    x = np.concatenate([np.linspace(-38, 38, 7601), [-np.sqrt(2), np.sqrt(2), -4 * np.sqrt(2)]])
    want = np.array([_gelu_exact(v) for v in x])
    np.testing.assert_allclose(A.gelu(x), want, rtol=1e-12, atol=1e-300)
    x32 = x.astype(np.float32)
    want32 = np.array([_gelu_exact(float(v)) for v in x32])
    np.testing.assert_allclose(A.gelu(x32), want32, rtol=1e-6, atol=1e-37)


# -- axis-wise activations ----------------------------------------------------------
ROWS = [
    [0.0, 0.0, 0.0, 0.0],
    [1.0, 2.0, 3.0, 4.0],
    [-1.0, -2.0, -3.0, -4.0],
    [1000.0, -1000.0, 0.5, 999.0],
    [-1000.0, -1001.0, -999.5, -1000.0],
    [0.3, 0.3, 0.1, -0.2],
    [50.0, 0.0, -50.0, 25.0],
    [1e-7, -1e-7, 2e-7, 0.0],
]


def softmax_ref(row):
    with decimal.localcontext(CTX):
        d = [Decimal(float(v)) for v in row]
        m = max(d)
        e = [d_exp(v - m) for v in d]
        s = sum(e)
        return [float(v / s) for v in e]


def log_softmax_ref(row):
    with decimal.localcontext(CTX):
        d = [Decimal(float(v)) for v in row]
        m = max(d)
        lse = m + sum(d_exp(v - m) for v in d).ln()
        return [float(v - lse) for v in d]


def glu_ref(row):
    half = len(row) // 2
    with decimal.localcontext(CTX):
        d = [Decimal(float(v)) for v in row]
        return [float(a * d_sigmoid(b)) for a, b in zip(d[:half], d[half:])]


def sparsemax_ref(row):
    """Sort-based sparsemax (Martins & Astudillo, 2016) in exact rational arithmetic."""
    z = [Fraction(float(v)) for v in row]
    z_sorted = sorted(z, reverse=True)
    running, k_star, sum_star = Fraction(0), 0, Fraction(0)
    for k, value in enumerate(z_sorted, start=1):
        running += value
        if 1 + k * value > running:
            k_star, sum_star = k, running
    tau = (sum_star - 1) / k_star
    return [float(max(v - tau, Fraction(0))) for v in z]


AXIS_REFS = {
    "softmax": softmax_ref,
    "log_softmax": log_softmax_ref,
    "glu": glu_ref,
    "sparsemax": sparsemax_ref,
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", AXISWISE)
def test_axiswise_matches_reference_on_last_axis(name, dtype):
    x = np.array(ROWS, dtype=dtype).reshape(2, 4, 4)
    y = A.get(name)(x)
    assert y.dtype == dtype
    want = np.array([AXIS_REFS[name](row) for row in x.reshape(-1, 4)])
    want = want.reshape(x.shape[:-1] + (want.shape[-1],))
    # Values of order 1000 enter sums, so the absolute slack scales with them.
    scale = np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), 1.0)
    if name == "glu":
        scale = np.ones_like(scale)  # elementwise products, no sums
    tol = 4 * RTOL[dtype] * np.abs(want) + 16 * np.finfo(dtype).eps * scale
    err = np.abs(y - want)
    assert np.all(err <= tol), (err, tol)


@pytest.mark.parametrize("name", AXISWISE)
def test_axiswise_axis_argument(name):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 6))  # even sizes: glu halves the axis
    f = A.get(name)
    for axis in (0, 1, 2, -2):
        moved = np.moveaxis(f(np.moveaxis(x, axis, -1)), -1, axis)
        np.testing.assert_allclose(f(x, axis=axis), moved, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(f(x), f(x, axis=2))


def test_softmax_rows_sum_to_one():
    x = np.array(ROWS, dtype=np.float32)
    np.testing.assert_allclose(A.softmax(x).sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(A.log_softmax(x)).sum(axis=-1), 1.0, rtol=1e-6)


def test_glu_halves_last_axis():
    x = np.arange(12.0).reshape(2, 6)
    y = A.glu(x)
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y, x[:, :3] / (1 + np.exp(-x[:, 3:])), rtol=1e-15)
    assert A.glu(x, axis=0).shape == (1, 6)
    with pytest.raises(ValueError, match="even"):
        A.glu(np.ones((2, 5)))


def test_sparsemax_known_values():
    np.testing.assert_allclose(A.sparsemax(np.array([-1.0, -2.0])), [1.0, 0.0])
    np.testing.assert_allclose(A.sparsemax(np.array([0.5, 0.2])), [0.65, 0.35])
    np.testing.assert_allclose(A.sparsemax(np.array([3.0, 1.0, 0.0])), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(A.sparsemax(np.zeros(4)), [0.25] * 4)


def _check_simplex_projection(x, y, tol):
    """y is the Euclidean projection of each row of x onto the probability simplex."""
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=0, atol=tol)
    # KKT conditions: x - y equals one tau on the support, and x <= tau off it.
    for xr, yr in zip(x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])):
        support = yr > 0
        tau = np.mean((xr - yr)[support])
        np.testing.assert_allclose((xr - yr)[support], tau, atol=tol)
        assert np.all(xr[~support] <= tau + tol)


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7), elements=finite))
def test_sparsemax_is_simplex_projection(x):
    y = A.sparsemax(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    scale = max(1.0, float(np.max(np.abs(x))))
    _check_simplex_projection(x, y, tol=1e-12 * scale * x.shape[-1])
    want = np.array([sparsemax_ref(r) for r in x.reshape(-1, x.shape[-1])]).reshape(x.shape)
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-12 * scale * x.shape[-1])


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7), elements=st.floats(-1e3, 1e3, width=32)))
def test_softmax_is_distribution_float32(x):
    y = A.softmax(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.all((y >= 0) & (y <= 1))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=0, atol=1e-5)
    ls = A.log_softmax(x)
    assert ls.dtype == np.float32 and np.all(ls <= 0)
    np.testing.assert_allclose(np.exp(ls), y, rtol=1e-4, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 16), elements=st.floats(-60, 60)))
def test_elementwise_random_against_reference(x):
    for name in ("gelu", "mish", "silu", "softplus", "log_sigmoid", "squareplus", "selu", "celu"):
        assert_matches(A.get(name)(x), ref(name, x), x, np.float64)


# -- get / serialize / deserialize -------------------------------------------------------
@pytest.mark.parametrize("name", ALL_NAMES)
def test_round_trips(name):
    fn = A.get(name)
    canonical = ALIASES.get(name, name)
    assert callable(fn)
    assert fn is getattr(A, name)
    assert A.name_of(fn) == canonical
    assert A.serialize(fn) == canonical
    assert A.serialize(name) == canonical
    assert A.get(A.serialize(fn)) is fn
    assert A.deserialize(name) is fn
    assert A.deserialize(canonical) is fn
    keras_dict = {
        "module": "keras.activations",
        "class_name": "function",
        "config": canonical,
        "registered_name": canonical,
    }
    assert A.deserialize(keras_dict) is fn
    assert A.get(keras_dict) is fn
    assert A.get(fn) is fn


def test_aliases_serialize_to_canonical_names():
    assert A.swish is A.silu and A.hard_swish is A.hard_silu
    assert A.serialize(A.swish) == "silu"
    assert A.serialize(A.hard_swish) == "hard_silu"
    assert A.serialize(A.get("swish")) == "silu"


def test_none_and_linear():
    assert A.get(None) is A.linear
    assert A.serialize(A.get(None)) == "linear"
    assert A.serialize(None) is None


def test_elementwise_set():
    assert isinstance(A.ELEMENTWISE, frozenset)
    assert A.ELEMENTWISE == frozenset(ELEMENTWISE_NAMES)
    assert not A.ELEMENTWISE & set(AXISWISE)
    assert "swish" not in A.ELEMENTWISE and "hard_swish" not in A.ELEMENTWISE


def test_elementwise_functions_act_per_element():
    x = np.random.default_rng(2).normal(scale=3, size=(4, 5, 6))
    for name in A.ELEMENTWISE:
        f = A.get(name)
        np.testing.assert_array_equal(f(x).ravel(), f(x.ravel()), err_msg=name)
        np.testing.assert_array_equal(f(x)[1:3, ::2], f(x[1:3, ::2]), err_msg=name)


def test_name_of_unregistered_is_none():
    assert A.name_of(lambda x: x) is None
    assert A.name_of(np.tanh) is None
    assert A.name_of([]) is None


def my_activation(x):
    return 2 * x


def test_custom_callables():
    assert A.get(my_activation) is my_activation
    assert A.get(np.tanh) is np.tanh
    config = A.serialize(my_activation)
    assert config == {
        "module": __name__,
        "class_name": "function",
        "config": "my_activation",
        "registered_name": "my_activation",
    }
    assert A.deserialize(config, custom_objects={"my_activation": my_activation}) is my_activation
    with pytest.raises(ValueError, match="my_activation"):
        A.deserialize(config)


def test_legacy_dict_form():
    assert A.deserialize({"class_name": "relu", "config": None}) is A.relu
    assert A.get({"class_name": "swish"}) is A.silu


@pytest.mark.parametrize("bad", ["nope", "ReLU", "Swish", "", "relu "])
def test_unknown_name_errors(bad):
    with pytest.raises(ValueError) as info:
        A.get(bad)
    message = str(info.value)
    assert "activation" in message and repr(bad) in message
    assert "relu" in message and "sparsemax" in message  # lists valid names
    with pytest.raises(ValueError, match=repr(bad)):
        A.deserialize(bad)
    with pytest.raises(ValueError, match=repr(bad)):
        A.serialize(bad)


@pytest.mark.parametrize("bad", [3, 2.5, ["relu"], ("relu",), b"relu", object()])
def test_uninterpretable_identifier_errors(bad):
    with pytest.raises((TypeError, ValueError)) as info:
        A.get(bad)
    message = str(info.value)
    assert "activation" in message and repr(bad) in message
    # Keras raises ValueError here; the error is also a TypeError.
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_bad_config_errors():
    unknown = {"module": "keras.activations", "class_name": "function", "config": "nope", "registered_name": "nope"}
    with pytest.raises(ValueError, match="'nope'"):
        A.deserialize(unknown)
    with pytest.raises(ValueError, match="'nope'"):
        A.get(unknown)
    foreign = {"module": "mypkg.acts", "class_name": "function", "config": "relu", "registered_name": "relu"}
    with pytest.raises(ValueError, match="mypkg.acts"):
        A.deserialize(foreign)
    with pytest.raises(ValueError, match="activation"):
        A.deserialize({"config": "relu"})
    with pytest.raises(ValueError, match="42"):
        A.deserialize(42)
    with pytest.raises((TypeError, ValueError), match="activation"):
        A.serialize(42)


def test_complex_input_rejected():
    with pytest.raises(TypeError, match="complex"):
        A.relu(np.array([1j]))


# -- optional cross-check against PyTorch ------------------------------------------------
def test_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.concatenate([GRID, np.linspace(-4, 4, 81)])
    t = torch.from_numpy(x)
    cases = {
        "relu": F.relu(t),
        "leaky_relu": F.leaky_relu(t, 0.2),
        "relu6": F.relu6(t),
        "elu": F.elu(t),
        "selu": F.selu(t),
        "celu": F.celu(t),
        "gelu": F.gelu(t),
        "sigmoid": torch.sigmoid(t),
        "silu": F.silu(t),
        "mish": F.mish(t),
        "tanh": torch.tanh(t),
        "softsign": F.softsign(t),
        "log_sigmoid": F.logsigmoid(t),
        "hard_sigmoid": F.hardsigmoid(t),
        "hard_silu": F.hardswish(t),
        "hard_tanh": F.hardtanh(t),
        "hard_shrink": F.hardshrink(t, 0.5),
        "soft_shrink": F.softshrink(t, 0.5),
        "tanh_shrink": F.tanhshrink(t),
        "threshold": F.threshold(t, 0.0, 0.0),
        "exponential": torch.exp(t),
    }
    for name, want in cases.items():
        np.testing.assert_allclose(A.get(name)(x), want.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(A.gelu(x, approximate=True), F.gelu(t, approximate="tanh").numpy(), rtol=1e-12, atol=1e-14)
    # torch's softplus switches to x above 20; compare where that is exact to ~1e-9.
    np.testing.assert_allclose(A.softplus(x), F.softplus(t).numpy(), rtol=1e-8)
    rows = torch.from_numpy(np.array(ROWS))
    np.testing.assert_allclose(A.softmax(np.array(ROWS)), F.softmax(rows, dim=-1).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(A.log_softmax(np.array(ROWS)), F.log_softmax(rows, dim=-1).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(A.glu(np.array(ROWS)), F.glu(rows, dim=-1).numpy(), rtol=1e-12, atol=1e-300)
    x32 = x.astype(np.float32)
    t32 = torch.from_numpy(x32)
    np.testing.assert_allclose(A.gelu(x32), F.gelu(t32).numpy(), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(A.mish(x32), F.mish(t32).numpy(), rtol=2e-6, atol=1e-6)
