"""``gradient``: the backward pass of every built-in activation."""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np

from ._erf import _normal_cdf
from .functions import (_AXISWISE, _SELU_ALPHA, _SELU_SCALE, ELEMENTWISE, _as_float, _done,
                        _sigmoid, _softplus, softmax, sparsemax)
from .serialization import get, name_of

# -- gradients -----------------------------------------------------------------
# Each elementwise activation has a derivative ``_d_<name>(x, **params)`` that
# takes the pre-activation in the compute dtype (float64, or wider for
# longdouble input) and returns f'(x) there; ``gradient`` multiplies by dy.
# The axis-wise ones have a vector-Jacobian product ``_vjp_<name>(x, dy, axis)``
# instead.  Parameters mirror the forward functions' and take their defaults
# from the forward signatures, so the two can never disagree.
#
# At the points where the forward function is not differentiable the value of
# PyTorch's backward is used:
#   relu / threshold         x <= threshold -> 0 (relu'(0) = 0)
#   leaky_relu               x > 0 -> 1, else negative_slope (so f'(0) = slope)
#   elu / selu / celu        x <= 0 takes the exponential branch
#                            (selu'(0) = scale * alpha; elu, celu are C1 at 0)
#   relu6 / hard_tanh / hard_sigmoid / sparse_sigmoid
#                            0 at both ends of the linear piece
#   hard_silu                x <= -3 -> 0, -3 < x < 3 -> x/3 + 1/2, x >= 3 -> 1
#                            (the outer pieces at both kinks, as PyTorch 2.x)
#   hard_shrink / soft_shrink  |x| <= threshold -> 0
#   sparsemax                the support is {i : y_i > 0}
# sparse_plus is continuously differentiable and needs no convention.
def _compute_dtype(dtype):
    return np.promote_types(dtype, np.float64)


def _mul0(a, b):
    """a * b, but exactly 0 where b == 0 (so that inf * 0 gives the limit 0)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(b == 0, 0.0, a * b)


def _d_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    passed = x > threshold  # y = x there, else 0
    if max_value is not None:
        passed = passed & (x > 0) & (x < max_value)  # inside the clip to [0, max]
    d = passed.astype(x.dtype)
    if negative_slope != 0:
        d = d + negative_slope * (x <= threshold)
    return d


def _d_leaky_relu(x, negative_slope=0.2):
    return np.where(x > 0, 1.0, negative_slope).astype(x.dtype)


def _d_relu6(x):
    return ((x > 0) & (x < 6)).astype(x.dtype)


def _d_elu(x, alpha=1.0):
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def _d_selu(x):
    return _SELU_SCALE * _d_elu(x, _SELU_ALPHA)


def _d_celu(x, alpha=1.0):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0) / alpha))


def _d_sigmoid(x):
    return _sigmoid(x) * _sigmoid(-x)


def _d_silu(x):
    s = _sigmoid(x)
    return s + _mul0(x, s * _sigmoid(-x))


def _d_gelu(x, approximate=False):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if approximate:
            c = math.sqrt(2.0 / math.pi)
            k = 0.044715
            two_u = 2.0 * c * (x + k * (x * x * x))
            s = _sigmoid(two_u)
            du = 2.0 * c * (1.0 + 3.0 * k * (x * x))
            return s + _mul0(x * du, s * _sigmoid(-two_u))
        pdf = np.exp(-0.5 * (x * x)) * (1.0 / math.sqrt(2.0 * math.pi))
        return _normal_cdf(x).astype(x.dtype) + _mul0(x, pdf)


def _d_mish(x):
    # mish = x tanh(sp), sp = softplus(x):  mish' = tanh(sp) + x sech^2(sp) sigmoid(x),
    # with sech^2(sp) = 4 / (p + 1/p)^2 for p = 1 + exp(x) = exp(sp).
    with np.errstate(over="ignore"):
        p = 1.0 + np.exp(x)
        sech2 = 4.0 / (p + 1.0 / p) ** 2
    return np.tanh(_softplus(x)) + _mul0(x, sech2 * _sigmoid(x))


def _d_tanh(x):
    e = np.exp(-2.0 * np.abs(x))  # sech^2 x = 4 e / (1 + e)^2, no cancellation
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def _d_tanh_shrink(x):
    t = np.tanh(x)
    return t * t


def _d_softplus(x):
    return _sigmoid(x)


def _d_softsign(x):
    with np.errstate(over="ignore"):
        a = 1.0 + np.abs(x)
        return 1.0 / (a * a)


def _d_log_sigmoid(x):
    return _sigmoid(-x)


def _d_exponential(x):
    with np.errstate(over="ignore"):
        return np.exp(x)


def _d_linear(x):
    return np.ones_like(x)


def _d_squareplus(x, b=4):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        root = np.hypot(x, math.sqrt(b)) if b >= 0 else np.sqrt(x * x + b)
        pos = 0.5 + 0.5 * (x / root)
        neg = 0.5 * b / (root * (root - x))  # = (1 + x / root) / 2 without cancellation
        pos = np.where(np.isposinf(x), 1.0, pos)
    return np.where(x >= 0, pos, neg)


def _d_hard_sigmoid(x):
    return np.where((x > -3) & (x < 3), 1.0 / 6.0, 0.0).astype(x.dtype)


def _d_hard_silu(x):
    return np.where(x <= -3, 0.0, np.where(x < 3, x / 3.0 + 0.5, 1.0))


def _d_hard_tanh(x):
    return ((x > -1) & (x < 1)).astype(x.dtype)


def _d_hard_shrink(x, threshold=0.5):
    return (np.abs(x) > threshold).astype(x.dtype)


def _d_soft_shrink(x, threshold=0.5):
    return (np.abs(x) > threshold).astype(x.dtype)


def _d_sparse_plus(x):
    return np.where(x <= -1, 0.0, np.where(x < 1, 0.5 * (x + 1.0), 1.0))


def _d_sparse_sigmoid(x):
    return np.where((x > -1) & (x < 1), 0.5, 0.0).astype(x.dtype)


def _d_threshold(x, threshold=0.0, default_value=0.0):
    return (x > threshold).astype(x.dtype)


def _vjp_softmax(x, dy, axis=-1):
    y = softmax(x, axis=axis)
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def _vjp_log_softmax(x, dy, axis=-1):
    return dy - softmax(x, axis=axis) * np.sum(dy, axis=axis, keepdims=True)


def _vjp_glu(x, dy, axis=-1):
    a, b = np.split(x, 2, axis=axis)
    s = _sigmoid(b)
    return np.concatenate([dy * s, dy * a * s * _sigmoid(-b)], axis=axis)


def _vjp_sparsemax(x, dy, axis=-1):
    # On the support S (y > 0), y_S = x_S - tau with sum(y_S) = 1, so the
    # Jacobian is I - 1 1^T / |S| there and 0 elsewhere.
    support = sparsemax(x, axis=axis) > 0
    count = np.maximum(np.sum(support, axis=axis, keepdims=True), 1)
    mean = np.sum(np.where(support, dy, 0.0), axis=axis, keepdims=True) / count
    return np.where(support, dy - mean, 0.0)


_AXISWISE_GRADIENTS = {
    "softmax": _vjp_softmax,
    "log_softmax": _vjp_log_softmax,
    "glu": _vjp_glu,
    "sparsemax": _vjp_sparsemax,
}
_ELEMENTWISE_GRADIENTS = {
    "celu": _d_celu,
    "elu": _d_elu,
    "exponential": _d_exponential,
    "gelu": _d_gelu,
    "hard_shrink": _d_hard_shrink,
    "hard_sigmoid": _d_hard_sigmoid,
    "hard_silu": _d_hard_silu,
    "hard_tanh": _d_hard_tanh,
    "leaky_relu": _d_leaky_relu,
    "linear": _d_linear,
    "log_sigmoid": _d_log_sigmoid,
    "mish": _d_mish,
    "relu": _d_relu,
    "relu6": _d_relu6,
    "selu": _d_selu,
    "sigmoid": _d_sigmoid,
    "silu": _d_silu,
    "soft_shrink": _d_soft_shrink,
    "softplus": _d_softplus,
    "softsign": _d_softsign,
    "sparse_plus": _d_sparse_plus,
    "sparse_sigmoid": _d_sparse_sigmoid,
    "squareplus": _d_squareplus,
    "tanh": _d_tanh,
    "tanh_shrink": _d_tanh_shrink,
    "threshold": _d_threshold,
}


def _gradient_target(activation):
    """(canonical name, forward function, parameters) for ``gradient``."""
    fn = get(activation)
    params = {}
    if isinstance(fn, functools.partial) and name_of(fn.func) is not None and not fn.args:
        fn, params = fn.func, dict(fn.keywords)
    name = name_of(fn)
    if name is None:
        raise ValueError(
            f"no analytic gradient for activation {activation!r}; gradient() supports "
            "the built-in activations (a name, a built-in function, a config dict, or "
            "functools.partial of a built-in with keyword arguments only): "
            f"{', '.join(sorted(ELEMENTWISE | _AXISWISE))}."
        )
    signature = inspect.signature(fn)
    try:
        bound = signature.bind(None, **params)
    except TypeError as exc:
        raise ValueError(
            f"invalid parameters {params!r} for activation {name!r}: {exc}"
        ) from None
    bound.apply_defaults()
    params = dict(bound.arguments)
    params.pop(next(iter(signature.parameters)))  # the input x
    return name, fn, params


def gradient(activation, x, dy):
    """dL/dx for y = activation(x), given dy = dL/dy (a vector-Jacobian product).

    ``activation`` is anything :func:`get` accepts that names a built-in
    activation (a name, the function, a config dict), or a
    ``functools.partial`` of a built-in with keyword parameters, e.g.
    ``partial(gelu, approximate=True)``; a bare built-in uses its default
    parameters.  Other callables raise ValueError.  ``x`` is the
    pre-activation array (any shape); ``dy`` must have the shape of
    ``activation(x)`` (for ``glu`` the split axis is halved).  Softmax,
    log-softmax, GLU and sparsemax act along their ``axis`` (default -1).

    The derivative is that of the forward formulas of this module, evaluated
    in float64 (or wider) and rounded once to x's floating dtype (integer and
    boolean ``x`` give float32, like the forward functions).  At kinks the
    PyTorch convention is used: relu'(0) = 0, leaky_relu'(0) =
    negative_slope, selu'(0) = scale * alpha, 0 at both ends of the linear
    pieces of relu6 / hard_tanh / hard_sigmoid / sparse_sigmoid, 0 at
    ``|x| = threshold`` for hard_shrink / soft_shrink, hard_silu'(-3) = 0
    and hard_silu'(3) = 1; sparsemax's support is ``{i: y_i > 0}``.  NaN in
    ``x`` gives NaN for the elementwise activations; derivatives at +-inf are
    their limits.
    """
    name, _, params = _gradient_target(activation)
    x = _as_float(x)
    dt = x.dtype
    ct = _compute_dtype(dt)
    dy = np.asarray(dy)
    if dy.dtype.kind not in "biuf":
        raise TypeError(f"Argument `dy` must hold real numbers; received dtype {dy.dtype}")
    if name in _AXISWISE:
        axis = params["axis"]
        if x.ndim == 0:
            raise ValueError(f"{name} needs an input with at least one axis; received a scalar")
        valid = (isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_))
                 and -x.ndim <= axis < x.ndim)
        if not valid:
            raise ValueError(f"invalid axis {axis!r} for {name} on an input of shape {x.shape}")
        ax = int(axis) % x.ndim
        expected = list(x.shape)
        if name == "glu":
            if expected[ax] % 2:
                raise ValueError(
                    f"glu needs an even size along axis {axis}; received shape {x.shape}"
                )
            expected[ax] //= 2
        expected = tuple(expected)
    else:
        expected = x.shape
    if dy.shape != expected:
        raise ValueError(
            f"Argument `dy` must have the shape of {name}(x), {expected}; received "
            f"shape {dy.shape}"
        )
    if x.size == 0:
        return np.zeros(x.shape, dtype=dt)
    xc = x.astype(ct)
    dyc = dy.astype(ct)
    with np.errstate(invalid="ignore", over="ignore"):
        if name in _AXISWISE:
            dx = _AXISWISE_GRADIENTS[name](xc, dyc, axis=ax)
        else:
            d = _ELEMENTWISE_GRADIENTS[name](xc, **params)
            d = np.where(np.isnan(xc), np.nan, d)
            dx = d * dyc
        return _done(dx, dt)
