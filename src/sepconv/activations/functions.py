"""The activation functions themselves (see the package docstring)."""

from __future__ import annotations

import math

import numpy as np

from ._erf import _normal_cdf
from ._table import REGISTRY as _REGISTRY
from ._table import register as _register

# SELU constants (Klambauer et al., 2017), to the precision Keras writes them.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# -- helpers -----------------------------------------------------------------
def _as_float(x):
    """``x`` as an ndarray of a floating dtype (ints and bools become float32)."""
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        return x.astype(np.float32)
    if x.dtype.kind != "f":
        raise TypeError(
            f"activations need real floating-point input; received dtype {x.dtype}"
        )
    return x


def _c(value, dtype):
    """A 0-d constant of ``dtype``, so that NumPy never promotes the result."""
    return np.asarray(value, dtype=dtype)


def _done(y, dtype):
    """``y`` as an ndarray of exactly ``dtype`` (no copy when it already is)."""
    return np.asarray(y).astype(dtype, copy=False)


def _sigmoid(x):
    """Overflow-free logistic function in x's dtype (x already a float array)."""
    one = _c(1.0, x.dtype)
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, one / (one + e), e / (one + e))


def _softplus(x):
    """log(1 + exp(x)) without overflow, in x's dtype (x already a float array)."""
    with np.errstate(invalid="ignore"):  # np.logaddexp flags NaN input
        return np.logaddexp(x, _c(0.0, x.dtype))


# -- ReLU family ---------------------------------------------------------------
@_register("relu")
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """ReLU: max(x, 0) with the defaults; in general see below.

    As in Keras: y = x if x > threshold else 0; when ``max_value`` is given
    (None: no upper bound) y is clipped to [0, max_value]; then
    ``negative_slope * max(threshold - x, 0)`` is subtracted.
    """
    x = _as_float(x)
    dt = x.dtype
    zero = _c(0.0, dt)
    if threshold == 0:
        y = np.maximum(x, zero)
    else:
        y = np.where(x <= _c(threshold, dt), zero, x)  # NaN stays NaN
    if max_value is not None:
        y = np.minimum(np.maximum(y, zero), _c(max_value, dt))
    if negative_slope != 0:
        y = y - _c(negative_slope, dt) * np.maximum(_c(threshold, dt) - x, zero)
    return _done(y, dt)


@_register("leaky_relu")
def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: x if x >= 0 else negative_slope * x."""
    x = _as_float(x)
    return _done(np.where(x >= 0, x, _c(negative_slope, x.dtype) * x), x.dtype)


@_register("relu6")
def relu6(x):
    """ReLU6: min(max(x, 0), 6)."""
    x = _as_float(x)
    dt = x.dtype
    return _done(np.minimum(np.maximum(x, _c(0.0, dt)), _c(6.0, dt)), dt)


@_register("elu")
def elu(x, alpha=1.0):
    """ELU: x if x >= 0 else alpha * (exp(x) - 1)."""
    x = _as_float(x)
    dt = x.dtype
    neg = _c(alpha, dt) * np.expm1(np.minimum(x, _c(0.0, dt)))
    return _done(np.where(x >= 0, x, neg), dt)


@_register("selu")
def selu(x):
    """SELU: scale * elu(x, alpha), alpha = 1.67326324..., scale = 1.05070098...."""
    x = _as_float(x)
    return _done(_c(_SELU_SCALE, x.dtype) * elu(x, _SELU_ALPHA), x.dtype)


@_register("celu")
def celu(x, alpha=1.0):
    """CELU: max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)."""
    x = _as_float(x)
    dt = x.dtype
    zero = _c(0.0, dt)
    a = _c(alpha, dt)
    return _done(np.maximum(x, zero) + a * np.expm1(np.minimum(x, zero) / a), dt)


# -- smooth gates ------------------------------------------------------------------
@_register("sigmoid")
def sigmoid(x):
    """Sigmoid: 1 / (1 + exp(-x))."""
    x = _as_float(x)
    return _done(_sigmoid(x), x.dtype)


@_register("silu", "swish")
def silu(x):
    """SiLU (swish): x * sigmoid(x)."""
    x = _as_float(x)
    return _done(x * _sigmoid(x), x.dtype)


swish = silu


@_register("gelu")
def gelu(x, approximate=False):
    """GELU: x * (1 + erf(x / sqrt(2))) / 2, or with approximate=True the tanh form below.

    approximate=True: x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2.
    Keras's default is the exact form (``approximate=False``).  The exact form
    is computed in float64 and rounded once to x's dtype; the approximate form
    uses the identity (1 + tanh(u)) / 2 = sigmoid(2u) in x's dtype.
    """
    x = _as_float(x)
    dt = x.dtype
    if approximate:
        with np.errstate(over="ignore", invalid="ignore"):
            u = _c(math.sqrt(2.0 / math.pi), dt) * (x + _c(0.044715, dt) * (x * x * x))
            y = x * _sigmoid(_c(2.0, dt) * u)
        return _done(y, dt)
    with np.errstate(invalid="ignore"):
        y = np.asarray(x, dtype=np.float64) * _normal_cdf(x)
    return _done(y, dt)


@_register("mish")
def mish(x):
    """Mish: x * tanh(softplus(x)), softplus(x) = log(1 + exp(x))."""
    x = _as_float(x)
    return _done(x * np.tanh(_softplus(x)), x.dtype)


# -- saturating and smooth elementwise ---------------------------------------
@_register("tanh")
def tanh(x):
    """Tanh: (exp(x) - exp(-x)) / (exp(x) + exp(-x))."""
    x = _as_float(x)
    return _done(np.tanh(x), x.dtype)


@_register("softplus")
def softplus(x):
    """Softplus: log(exp(x) + 1)."""
    x = _as_float(x)
    return _done(_softplus(x), x.dtype)


@_register("softsign")
def softsign(x):
    """Softsign: x / (|x| + 1)."""
    x = _as_float(x)
    return _done(x / (_c(1.0, x.dtype) + np.abs(x)), x.dtype)


@_register("log_sigmoid")
def log_sigmoid(x):
    """Log-sigmoid: log(1 / (1 + exp(-x))) = -softplus(-x)."""
    x = _as_float(x)
    return _done(-_softplus(-x), x.dtype)


@_register("exponential")
def exponential(x):
    """Exponential: exp(x) (overflows to +inf, never NaN)."""
    x = _as_float(x)
    with np.errstate(over="ignore"):
        return _done(np.exp(x), x.dtype)


@_register("linear")
def linear(x):
    """Linear: x (the identity; the input array itself is returned)."""
    return _as_float(x)


@_register("squareplus")
def squareplus(x, b=4):
    """Squareplus: (x + sqrt(x^2 + b)) / 2.

    For x < 0 the equal form b / (2 (sqrt(x^2 + b) - x)) avoids cancellation.
    """
    x = _as_float(x)
    dt = x.dtype
    bb = _c(b, dt)
    half = _c(0.5, dt)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if b >= 0:
            root = np.hypot(x, np.sqrt(bb))  # sqrt(x^2 + b) without overflow
        else:
            root = np.sqrt(x * x + bb)
        pos = half * x + half * root  # halves first: x + root may overflow
        neg = half * bb / (root - x)
    return _done(np.where(x >= 0, pos, neg), dt)


# -- piecewise-linear elementwise -----------------------------------------------
@_register("hard_sigmoid")
def hard_sigmoid(x):
    """Hard sigmoid: clip(x / 6 + 0.5, 0, 1)."""
    x = _as_float(x)
    dt = x.dtype
    y = x / _c(6.0, dt) + _c(0.5, dt)
    return _done(np.minimum(np.maximum(y, _c(0.0, dt)), _c(1.0, dt)), dt)


@_register("hard_silu", "hard_swish")
def hard_silu(x):
    """Hard SiLU (hard swish): x * clip(x / 6 + 0.5, 0, 1)."""
    x = _as_float(x)
    return _done(x * hard_sigmoid(x), x.dtype)


hard_swish = hard_silu


@_register("hard_tanh")
def hard_tanh(x):
    """Hard tanh: clip(x, -1, 1)."""
    x = _as_float(x)
    dt = x.dtype
    return _done(np.minimum(np.maximum(x, _c(-1.0, dt)), _c(1.0, dt)), dt)


@_register("hard_shrink")
def hard_shrink(x, threshold=0.5):
    """Hard shrink: x if |x| > threshold else 0."""
    x = _as_float(x)
    dt = x.dtype
    return _done(np.where(np.abs(x) <= _c(threshold, dt), _c(0.0, dt), x), dt)


@_register("soft_shrink")
def soft_shrink(x, threshold=0.5):
    """Soft shrink: x - threshold if x > threshold, x + threshold if x < -threshold, else 0."""
    x = _as_float(x)
    dt = x.dtype
    t = _c(threshold, dt)
    y = np.where(x < -t, x + t, np.where(x <= t, _c(0.0, dt), x - t))  # NaN stays NaN
    return _done(y, dt)


@_register("tanh_shrink")
def tanh_shrink(x):
    """Tanh shrink: x - tanh(x)."""
    x = _as_float(x)
    return _done(x - np.tanh(x), x.dtype)


@_register("sparse_plus")
def sparse_plus(x):
    """SparsePlus: 0 if x <= -1, (x + 1)^2 / 4 if -1 < x < 1, x if x >= 1."""
    x = _as_float(x)
    dt = x.dtype
    one = _c(1.0, dt)
    xc = np.minimum(np.maximum(x, -one), one)  # keeps the unused branch finite
    mid = _c(0.25, dt) * (xc + one) * (xc + one)
    return _done(np.where(x <= -one, _c(0.0, dt), np.where(x < one, mid, x)), dt)


@_register("sparse_sigmoid")
def sparse_sigmoid(x):
    """Sparse sigmoid: 0 if x <= -1, (x + 1) / 2 if -1 < x < 1, 1 if x >= 1."""
    x = _as_float(x)
    dt = x.dtype
    one = _c(1.0, dt)
    mid = _c(0.5, dt) * (x + one)
    return _done(np.where(x <= -one, _c(0.0, dt), np.where(x >= one, one, mid)), dt)


@_register("threshold")
def threshold(x, threshold=0.0, default_value=0.0):
    """Threshold: x if x > threshold else default_value.

    Keras requires both ``threshold`` and ``default_value``; here both default
    to 0.0 so that the bare name ``"threshold"`` is usable, and then it equals
    ``relu``.
    """
    x = _as_float(x)
    dt = x.dtype
    y = np.where(x <= _c(threshold, dt), _c(default_value, dt), x)  # NaN stays NaN
    return _done(y, dt)


# -- axis-wise -----------------------------------------------------------------
@_register("softmax")
def softmax(x, axis=-1):
    """Softmax along ``axis``: exp(x - max(x)) / sum(exp(x - max(x)))."""
    x = _as_float(x)
    if x.size == 0:
        return x.copy()
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return _done(e / np.sum(e, axis=axis, keepdims=True), x.dtype)


@_register("log_softmax")
def log_softmax(x, axis=-1):
    """Log-softmax along ``axis``: (x - max(x)) - log(sum(exp(x - max(x))))."""
    x = _as_float(x)
    if x.size == 0:
        return x.copy()
    shifted = x - np.max(x, axis=axis, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return _done(shifted - lse, x.dtype)


@_register("glu")
def glu(x, axis=-1):
    """GLU along ``axis``: a * sigmoid(b), with a, b the two halves of x on that axis."""
    x = _as_float(x)
    n = x.shape[axis]
    if n % 2:
        raise ValueError(
            f"glu needs an even size along axis {axis}; received shape {x.shape}"
        )
    a, b = np.split(x, 2, axis=axis)
    return _done(a * _sigmoid(b), x.dtype)


@_register("sparsemax")
def sparsemax(x, axis=-1):
    """Sparsemax along ``axis``: max(x - tau(x), 0), the Euclidean projection onto the simplex."""
    x = _as_float(x)
    dt = x.dtype
    if x.size == 0:
        return x.copy()
    z = np.moveaxis(x, axis, -1)
    n = z.shape[-1]
    z_desc = -np.sort(-z, axis=-1)
    cums = np.cumsum(z_desc, axis=-1)
    k = np.arange(1, n + 1, dtype=dt)
    one = _c(1.0, dt)
    with np.errstate(over="ignore", invalid="ignore"):
        # The k-th largest element (1-based) is in the support iff
        # z_(k) > (z_(1) + ... + z_(k) - 1) / k; the support is a prefix.
        in_support = z_desc > (cums - one) / k
        k_max = np.maximum(np.sum(in_support, axis=-1, keepdims=True), 1)
        tau = (np.take_along_axis(cums, k_max - 1, axis=-1) - one) / k_max.astype(dt)
        y = np.maximum(z - tau, _c(0.0, dt))
    return _done(np.moveaxis(y, -1, axis), dt)


# -- name table ------------------------------------------------------------------
_AXISWISE = frozenset({"softmax", "log_softmax", "glu", "sparsemax"})

#: Canonical names of the activations that act on each element independently.
ELEMENTWISE = frozenset(
    name
    for name in _REGISTRY.names()
    if _REGISTRY.canonical_name(_REGISTRY.lookup(name)) == name and name not in _AXISWISE
)
