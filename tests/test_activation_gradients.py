"""Tests for sepconv.activations.gradient (the backward pass of every activation).

The analytic vector-Jacobian products are checked against central finite
differences of the scalar L(x) = sum(dy * f(x)) in float64, perturbing every
element of x in turn, at random points kept more than 1e-3 away from every
kink; against fixed values at the kinks (PyTorch's conventions); and, when
PyTorch is installed, against torch.autograd.
"""

import functools

import numpy as np
import pytest

from sepconv import activations as A

CANONICAL = [
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax",
    "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax",
    "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "tanh", "tanh_shrink", "threshold",
]  # fmt: skip
AXISWISE = ["softmax", "log_softmax", "glu", "sparsemax"]
ELEMENTWISE = [n for n in CANONICAL if n not in AXISWISE]

# Points where the function (or its first derivative) is not smooth.
KINKS = {
    "relu": [0.0], "leaky_relu": [0.0], "relu6": [0.0, 6.0], "elu": [0.0],
    "selu": [0.0], "celu": [0.0], "hard_sigmoid": [-3.0, 3.0],
    "hard_silu": [-3.0, 3.0], "hard_tanh": [-1.0, 1.0], "hard_shrink": [-0.5, 0.5],
    "soft_shrink": [-0.5, 0.5], "sparse_plus": [-1.0, 1.0],
    "sparse_sigmoid": [-1.0, 1.0], "threshold": [0.0], "softsign": [0.0],
}  # fmt: skip

FD_STEP = 1e-5
MARGIN = 1e-3


def away_from(x, kinks):
    """x with every element moved more than MARGIN away from the kinks."""
    x = np.array(x, dtype=np.float64)
    for _ in range(10):
        near = np.zeros(x.shape, dtype=bool)
        for k in kinks:
            near |= np.abs(x - k) <= MARGIN
        if not near.any():
            return x
        x[near] += 0.01
    raise AssertionError("could not move the points away from the kinks")


def finite_difference_vjp(f, x, dy, h=FD_STEP):
    """Gradient of L(x) = sum(dy * f(x)) by central differences, one element at a time.

    L(x + h e_i) - L(x - h e_i) is summed as sum(dy * (f(x + h e_i) - f(x - h e_i))):
    the entries of f that do not depend on x_i are bitwise equal in both
    evaluations and cancel exactly, so the difference keeps full precision.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        step = xp[i] - xm[i]  # the exactly representable step
        grad[i] = np.sum(dy * (f(xp) - f(xm))) / step
    return grad


def assert_matches_fd(f, activation, x, dy):
    analytic = A.gradient(activation, x, dy)
    assert analytic.dtype == np.float64
    assert analytic.shape == x.shape
    numeric = finite_difference_vjp(f, x, dy)
    rel = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic), 1e-300)
    assert rel <= 1e-6, rel
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def random_dy(rng, shape):
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def sparsemax_input(rng, shape):
    """Random rows whose elements are all more than MARGIN away from tau."""
    for _ in range(1000):
        x = rng.uniform(-1.0, 1.0, shape)
        y = A.sparsemax(x)
        # tau = x_j - y_j for any j in the support (y_j > 0); take the largest x.
        tau = np.max(x, axis=-1, keepdims=True) - np.max(y, axis=-1, keepdims=True)
        if np.all(np.abs(x - tau) > MARGIN):
            return x
    raise AssertionError("no suitable sparsemax input")


# -- finite differences ---------------------------------------------------------------
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_matches_finite_differences(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    x = away_from(rng.uniform(-4.0, 4.0, (3, 4, 5)), KINKS.get(name, []))
    if name == "relu6":  # also cover the upper kink at 6
        x = away_from(np.concatenate([x.ravel(), rng.uniform(4.0, 8.0, 20)]), [0.0, 6.0])
    dy = random_dy(rng, x.shape)
    assert_matches_fd(A.get(name), name, x, dy)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "glu"])
@pytest.mark.parametrize("shape", [(6,), (3, 6), (2, 3, 4)])
def test_axiswise_matches_finite_differences(name, shape):
    rng = np.random.default_rng(len(name) * 100 + len(shape))
    x = rng.uniform(-4.0, 4.0, shape)
    out_shape = shape[:-1] + (shape[-1] // 2,) if name == "glu" else shape
    assert_matches_fd(A.get(name), name, x, random_dy(rng, out_shape))


@pytest.mark.parametrize("shape", [(6,), (4, 7), (2, 3, 5)])
def test_sparsemax_matches_finite_differences(shape):
    rng = np.random.default_rng(len(shape))
    x = sparsemax_input(rng, shape)
    support = A.sparsemax(x) > 0
    assert support.any() and not support.all()  # both pieces of the Jacobian are used
    assert_matches_fd(A.sparsemax, "sparsemax", x, random_dy(rng, shape))


@pytest.mark.parametrize(
    "partial, kinks",
    [
        (functools.partial(A.gelu, approximate=True), []),
        (functools.partial(A.leaky_relu, negative_slope=0.1), [0.0]),
        (functools.partial(A.relu, negative_slope=0.1, max_value=3.0, threshold=0.5), [0.5, 3.0]),
        (functools.partial(A.relu, threshold=-1.0), [-1.0]),
        (functools.partial(A.relu, max_value=2.0), [0.0, 2.0]),
        (functools.partial(A.elu, alpha=0.5), [0.0]),
        (functools.partial(A.celu, alpha=2.0), [0.0]),
        (functools.partial(A.squareplus, b=1.0), []),
        (functools.partial(A.hard_shrink, threshold=1.0), [-1.0, 1.0]),
        (functools.partial(A.soft_shrink, threshold=1.0), [-1.0, 1.0]),
        (functools.partial(A.threshold, threshold=1.0, default_value=-2.0), [1.0]),
    ],
    ids=lambda p: f"{p.func.__name__}{p.keywords}" if isinstance(p, functools.partial) else "",
)
def test_partial_parameters_match_finite_differences(partial, kinks):
    rng = np.random.default_rng(7)
    x = away_from(rng.uniform(-4.0, 4.0, (4, 5)), kinks)
    assert_matches_fd(partial, partial, x, random_dy(rng, x.shape))


def test_axis_parameter():
    rng = np.random.default_rng(3)
    x = rng.uniform(-2.0, 2.0, (4, 3))
    for fn in (A.softmax, A.log_softmax):
        act = functools.partial(fn, axis=0)
        assert_matches_fd(act, act, x, random_dy(rng, x.shape))
        # Same as the last-axis gradient of the transposed problem.
        dy = random_dy(rng, x.shape)
        np.testing.assert_allclose(A.gradient(act, x, dy), A.gradient(fn, x.T, dy.T).T)
    glu0 = functools.partial(A.glu, axis=0)
    assert_matches_fd(glu0, glu0, x, random_dy(rng, (2, 3)))


def test_large_arguments_are_accurate():
    # Derivatives that are tiny relative to the function value (tails).
    x = np.array([-30.0, -20.0, 20.0, 30.0])
    e = np.exp(-np.abs(x))  # sigmoid'(x) = e / (1 + e)^2, e = exp(-|x|)
    np.testing.assert_allclose(A.gradient("sigmoid", x, np.ones(4)), e / (1 + e) ** 2, rtol=1e-14)
    np.testing.assert_allclose(A.gradient("tanh", x, np.ones(4)), 1.0 / np.cosh(x) ** 2, rtol=1e-13)
    # gelu'(x) = Phi(x) + x phi(x) ~ -x phi(x) (1 - 1/x^2 + ...) far in the left tail.
    phi = np.exp(-0.5 * 900.0) / np.sqrt(2 * np.pi)
    expected = phi * (1 / 30 * (1 - 1 / 900 + 3 / 900**2 - 15 / 900**3) - 30)
    np.testing.assert_allclose(A.gradient("gelu", np.array([-30.0]), np.ones(1)), [expected],
                               rtol=1e-12)


# -- conventions at the kinks ------------------------------------------------------------
KINK_VALUES = [
    ("relu", 0.0, 0.0),
    ("threshold", 0.0, 0.0),
    ("leaky_relu", 0.0, 0.2),
    ("relu6", 0.0, 0.0),
    ("relu6", 6.0, 0.0),
    ("elu", 0.0, 1.0),
    ("celu", 0.0, 1.0),
    ("selu", 0.0, 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717),
    ("hard_tanh", -1.0, 0.0),
    ("hard_tanh", 1.0, 0.0),
    ("hard_sigmoid", -3.0, 0.0),
    ("hard_sigmoid", 3.0, 0.0),
    ("hard_silu", -3.0, 0.0),
    ("hard_silu", 3.0, 1.0),
    ("hard_shrink", -0.5, 0.0),
    ("hard_shrink", 0.5, 0.0),
    ("soft_shrink", -0.5, 0.0),
    ("soft_shrink", 0.5, 0.0),
    ("sparse_sigmoid", -1.0, 0.0),
    ("sparse_sigmoid", 1.0, 0.0),
    ("sparse_plus", -1.0, 0.0),
    ("sparse_plus", 1.0, 1.0),
    ("softsign", 0.0, 1.0),
]


@pytest.mark.parametrize("name, x, expected", KINK_VALUES)
def test_value_at_kink(name, x, expected):
    assert A.gradient(name, np.array([x]), np.array([1.0]))[0] == pytest.approx(expected, rel=1e-15)


def test_sparsemax_tie_at_threshold():
    # x = [1, 0]: y = [1, 0], element 1 sits exactly at tau = 0 and is outside the support.
    x = np.array([1.0, 0.0])
    np.testing.assert_array_equal(A.sparsemax(x), [1.0, 0.0])
    np.testing.assert_array_equal(A.gradient("sparsemax", x, np.array([2.0, 5.0])), [0.0, 0.0])


# -- dtypes, identifiers, edge values -----------------------------------------------------
@pytest.mark.parametrize("name", CANONICAL)
def test_dtypes(name):
    rng = np.random.default_rng(11)
    x64 = away_from(rng.uniform(-3.0, 3.0, (2, 4)), KINKS.get(name, []))
    dy_shape = (2, 2) if name == "glu" else (2, 4)
    dy = random_dy(rng, dy_shape)
    g64 = A.gradient(name, x64, dy)
    assert g64.dtype == np.float64
    x32 = x64.astype(np.float32)
    g32 = A.gradient(name, x32, dy.astype(np.float32))
    assert g32.dtype == np.float32 and g32.shape == x32.shape
    # float32 input is widened to float64 internally and rounded once.
    expected = A.gradient(name, x32.astype(np.float64), dy.astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(g32, expected.astype(np.float32))
    # Integer input behaves like the forward functions: float32.
    gi = A.gradient(name, np.array([[-2, 1, 2, 3], [0, -1, 1, 2]]), np.ones(dy_shape, np.int64))
    assert gi.dtype == np.float32


@pytest.mark.parametrize("name", CANONICAL)
def test_identifier_forms_agree(name):
    rng = np.random.default_rng(5)
    x = rng.uniform(-2.0, 2.0, (3, 4))
    dy = random_dy(rng, (3, 2) if name == "glu" else (3, 4))
    by_name = A.gradient(name, x, dy)
    np.testing.assert_array_equal(A.gradient(A.get(name), x, dy), by_name)
    config = {"module": "keras.activations", "class_name": "function", "config": name,
              "registered_name": name}
    np.testing.assert_array_equal(A.gradient(config, x, dy), by_name)
    np.testing.assert_array_equal(A.gradient(functools.partial(A.get(name)), x, dy), by_name)


def test_aliases_and_none():
    x = np.linspace(-4, 4, 17)
    dy = np.ones_like(x)
    np.testing.assert_array_equal(A.gradient("swish", x, dy), A.gradient("silu", x, dy))
    np.testing.assert_array_equal(A.gradient("hard_swish", x, dy), A.gradient("hard_silu", x, dy))
    np.testing.assert_array_equal(A.gradient(None, x, dy), dy)  # None is linear


def test_linear_passes_dy_through():
    dy = np.array([[1.5, -2.0], [np.inf, 0.0]])
    np.testing.assert_array_equal(A.gradient("linear", np.zeros((2, 2)), dy), dy)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_infinite_and_nan_inputs(name):
    x = np.array([np.inf, -np.inf, np.nan, 1e300, -1e300])
    g = A.gradient(name, x, np.ones(5))
    assert np.isnan(g[2])
    # +-inf give the limits, which equal the values at +-1e300 (up to exp overflow).
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(g[[0, 1]], g[[3, 4]])
    assert not np.isnan(g[[0, 1, 3, 4]]).any()


@pytest.mark.parametrize("name", CANONICAL)
def test_empty_input(name):
    x = np.zeros((0, 4), np.float32)
    g = A.gradient(name, x, np.zeros((0, 2) if name == "glu" else (0, 4)))
    assert g.shape == (0, 4) and g.dtype == np.float32


def test_unregistered_callable_is_rejected():
    with pytest.raises(ValueError, match="no analytic gradient for activation"):
        A.gradient(lambda t: t * 2, np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="no analytic gradient for activation"):
        A.gradient(np.tanh, np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="no analytic gradient"):
        A.gradient(functools.partial(np.tanh), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="no analytic gradient"):
        A.gradient(functools.partial(A.relu, np.ones(3)), np.ones(3), np.ones(3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unknown activation"):
        A.gradient("nope", np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        A.gradient("relu", np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="shape"):
        A.gradient("softmax", np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        A.gradient("glu", np.ones((2, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="even"):
        A.gradient("glu", np.ones((2, 3)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="invalid parameters"):
        A.gradient(functools.partial(A.relu, slope=1.0), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="axis"):
        A.gradient(functools.partial(A.softmax, axis=2), np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="axis"):
        A.gradient("softmax", np.float64(1.0), np.float64(1.0))
    with pytest.raises(TypeError):
        A.gradient("relu", np.ones(3), np.array(["a", "b", "c"]))
    with pytest.raises(TypeError):
        A.gradient("relu", np.ones(3, complex), np.ones(3))


def test_gradient_is_exported():
    assert "gradient" in A.__all__
    assert A.gradient.__doc__ and "PyTorch" in A.gradient.__doc__


# -- PyTorch autograd ----------------------------------------------------------------------
def test_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    torch_fns = {
        "celu": F.celu, "elu": F.elu, "exponential": torch.exp, "gelu": F.gelu,
        "hard_shrink": F.hardshrink, "hard_sigmoid": F.hardsigmoid,
        "hard_silu": F.hardswish, "hard_tanh": F.hardtanh,
        "leaky_relu": lambda t: F.leaky_relu(t, 0.2), "linear": lambda t: t * 1.0,
        "log_sigmoid": F.logsigmoid, "mish": F.mish, "relu": F.relu, "relu6": F.relu6,
        "selu": F.selu, "sigmoid": torch.sigmoid, "silu": F.silu,
        "soft_shrink": F.softshrink, "softplus": F.softplus, "softsign": F.softsign,
        "tanh": torch.tanh, "tanh_shrink": F.tanhshrink,
        "threshold": lambda t: F.threshold(t, 0.0, 0.0),
        "softmax": lambda t: F.softmax(t, dim=-1),
        "log_softmax": lambda t: F.log_softmax(t, dim=-1),
        "glu": lambda t: F.glu(t, dim=-1),
    }  # fmt: skip
    rng = np.random.default_rng(0)
    kinks = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0])
    failures = []
    for name, fn in torch_fns.items():
        x = np.concatenate([rng.uniform(-6.0, 6.0, 40), kinks]).reshape(6, 8)
        dy = random_dy(rng, (6, 4) if name == "glu" else (6, 8))
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        fn(xt).backward(torch.tensor(dy, dtype=torch.float64))
        ours = A.gradient(name, x, dy)
        # rtol 1e-7: PyTorch's float64 hardsigmoid backward multiplies by a
        # float32 1/6, and its sigmoid / tanh backward (y (1 - y)) cancels a bit.
        if not np.allclose(ours, xt.grad.numpy(), rtol=1e-7, atol=1e-12):
            failures.append(name)
    assert not failures, failures
    # float32 too, loosely.
    x = rng.uniform(-4.0, 4.0, (5, 6)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    F.gelu(xt).sum().backward()
    ours = A.gradient("gelu", x, np.ones_like(x))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    # gelu's tanh approximation.
    x = rng.uniform(-5.0, 5.0, 50)
    xt = torch.tensor(x, requires_grad=True)
    F.gelu(xt, approximate="tanh").sum().backward()
    ours = A.gradient(functools.partial(A.gelu, approximate=True), x, np.ones_like(x))
    np.testing.assert_allclose(ours, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
