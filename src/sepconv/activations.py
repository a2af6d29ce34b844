"""Keras 3 activation functions written with NumPy.

Every activation is a plain function ``f(x, **params)``.  It takes a NumPy
floating-point array (integer and boolean input is first cast to float32,
Keras's default float type) and returns an array of the same dtype; the
elementwise ones also keep the shape.  Parameters have Keras's default values,
so ``get("gelu")`` is Keras's ``gelu`` with ``approximate=False``.

Arithmetic is done in the input's dtype, with constants cast to that dtype as
Keras's NumPy backend does.  Where Keras's formula loses precision, an
equivalent rearrangement is used instead (sigmoid branches on the sign of
``x``, ``1 + tanh(u)`` is computed as ``2 * sigmoid(2 u)``, squareplus avoids
cancellation for negative ``x``); results agree with Keras to rounding.  The
exact GELU needs ``erf``, which is evaluated here in float64 without SciPy
(polynomials fitted at import time to ``math.erf``/``math.erfc``, and a
continued fraction in the far tail) and rounded once to the input dtype.

Where Keras leaves a parameter without default, this module picks one so that
every name works as a bare string: ``threshold(x, threshold=0.0,
default_value=0.0)``, which then equals ``relu``.

The module also keeps Keras's name table: ``get`` turns an identifier (None,
name, config dict or callable) into a function, ``serialize`` turns a built-in
back into its name, and ``deserialize`` reads either form.  ``ELEMENTWISE``
names the activations that act on each element independently, which the
kernel may fuse into its output loop.

``gradient(activation, x, dy)`` is the backward pass: the vector-Jacobian
product dL/dx of any built-in activation (default parameters, or those of a
``functools.partial``), computed in float64 and rounded to x's dtype, with
PyTorch's values at the kinks (relu'(0) = 0 and so on; see ``gradient``).
"""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np

from ._registry import Registry

__all__ = [
    "ELEMENTWISE",
    "celu",
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "glu",
    "gradient",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "name_of",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
]

_REGISTRY = Registry("activation", "keras.activations")
_register = _REGISTRY.register

# Modules whose serialised function configs name built-in activations.
_BUILTIN_MODULES = ("keras.activations", "keras.src.activations", __name__)

# SELU constants (Klambauer et al., 2017), to the precision Keras writes them.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class _IdentifierError(TypeError, ValueError):
    """An activation identifier of a type that cannot name an activation."""


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


# erf / erfc for the exact GELU, in float64 and without SciPy.  Three ranges
# of z = |x| / sqrt(2):
#   z < 1         erf(z) = z * A(z^2)              (then erfc = 1 - erf)
#   1 <= z < 4    erfc(z) = exp(-z^2) * B(z)
#   z >= 4        erfc(z) = exp(-z^2) / (sqrt(pi) * K(z)), K Laplace's continued fraction
# exp(-z^2) is computed as exp(-x^2 / 2) straight from x, so that the rounding
# of z = |x| / sqrt(2) does not reach the exponent.
# A and B are polynomials built at import time by interpolating math.erf /
# math.erfc at Chebyshev points (degrees 12 and 24 reach the accuracy of the
# sampled values, a few 1e-15 relative); they are stored in the power basis of
# the variable mapped onto [-1, 1] and evaluated with Horner's rule.
_ERF_SMALL_END = 1.0
_ERFC_MID_END = 4.0
_ERFC_CF_TERMS = 24  # enough for 1e-16 relative at z >= 4


def _chebyshev_power_coefficients(func, degree, lo, hi):
    """Power-series coefficients in u = (v - mid) / half_width of func's
    Chebyshev interpolant of the given degree on [lo, hi]."""
    mid, half_width = 0.5 * (lo + hi), 0.5 * (hi - lo)

    def on_window(u):
        return np.array([func(mid + half_width * float(ui)) for ui in np.atleast_1d(u)])

    cheb = np.polynomial.chebyshev.chebinterpolate(on_window, degree)
    return np.polynomial.chebyshev.cheb2poly(cheb), mid, half_width


def _erf_over_z_of_t(t):
    """erf(sqrt t) / sqrt t, continued to 2/sqrt(pi) at t = 0."""
    z = math.sqrt(t)
    return math.erf(z) / z if z > 0 else 2.0 / math.sqrt(math.pi)


def _erfc_times_exp_square(z):
    """erfc(z) * exp(z^2) for the z in [1, 4] it is sampled on."""
    hi = math.floor(z * 4096.0) / 4096.0  # hi*hi is exact; see _exp_neg_half_square
    return math.erfc(z) * math.exp(hi * hi) * math.exp((z - hi) * (z + hi))


_ERF_A = _chebyshev_power_coefficients(_erf_over_z_of_t, 12, 0.0, _ERF_SMALL_END**2)
_ERFC_B = _chebyshev_power_coefficients(_erfc_times_exp_square, 24, _ERF_SMALL_END, _ERFC_MID_END)


def _horner(fit, v):
    """Evaluate a fit from _chebyshev_power_coefficients at the float64 array v."""
    coef, mid, half_width = fit
    u = (v - mid) / half_width
    y = np.full_like(u, coef[-1])
    for c in coef[-2::-1]:
        y *= u
        y += c
    return y


def _exp_neg_half_square(a):
    """exp(-a**2 / 2) for float64 a >= 0, without the rounding error of a*a."""
    hi = np.floor(a * 4096.0) / 4096.0  # few enough bits that hi*hi is exact
    return np.exp(-0.5 * (hi * hi)) * np.exp(-0.5 * ((a - hi) * (a + hi)))


def _erfc_far(z, a):
    """erfc(z) for float64 z = a / sqrt(2) >= 4: exp(-z^2) / (sqrt(pi) * K), with
    Laplace's continued fraction K = z + (1/2)/(z + (2/2)/(z + (3/2)/(z + ...)))
    evaluated from a fixed depth upwards."""
    k_frac = z.copy()
    for k in range(_ERFC_CF_TERMS, 0, -1):
        k_frac = z + (0.5 * k) / k_frac
    return _exp_neg_half_square(a) / (math.sqrt(math.pi) * k_frac)


def _normal_cdf(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 in float64, accurate in both tails."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        a = np.abs(x)
        z = a * (1.0 / math.sqrt(2.0))
        small = z < _ERF_SMALL_END
        if small.all():  # the common case: no masking needed
            erfc = 1.0 - z * _horner(_ERF_A, z * z)
        else:
            erfc = np.full(z.shape, np.nan)  # NaN stays NaN
            mid = ~small & (z < _ERFC_MID_END)
            far = z >= _ERFC_MID_END  # includes +inf
            zs, zm, zf = z[small], z[mid], z[far]
            erfc[small] = 1.0 - zs * _horner(_ERF_A, zs * zs)
            erfc[mid] = _exp_neg_half_square(a[mid]) * _horner(_ERFC_B, zm)
            # erfc(z) < 1e-690 beyond z = 40: zero, also for huge or infinite z
            erfc[far] = np.where(zf > 40.0, 0.0, _erfc_far(zf, a[far]))
        half = 0.5 * erfc
        return np.where(x >= 0, 1.0 - half, half)


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


def name_of(fn):
    """The canonical Keras name of a built-in activation function, else None."""
    return _REGISTRY.canonical_name(fn)


def get(identifier):
    """The activation for ``identifier``: None (linear), a name, a config dict or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return _REGISTRY.lookup(identifier, "activation")
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise _IdentifierError(
        f"Could not interpret activation function identifier: received "
        f"{identifier!r}. Expected None, an activation name, a config dict or a callable."
    )


def serialize(activation):
    """Keras's serialised form of an activation: a built-in's name, else a function config.

    Aliases serialise to the canonical name (``swish`` -> ``"silu"``,
    ``hard_swish`` -> ``"hard_silu"``), exactly as Keras does, because the alias
    is the same function object.  None serialises to None.  Other callables give
    ``{"module", "class_name": "function", "config", "registered_name"}``.
    """
    if activation is None:
        return None
    if isinstance(activation, str):
        return name_of(_REGISTRY.lookup(activation, "activation"))
    name = name_of(activation)
    if name is not None:
        return name
    if not callable(activation):
        raise _IdentifierError(
            f"Cannot serialize activation {activation!r}: it is neither a callable "
            "nor an activation name."
        )
    fn_name = getattr(activation, "__name__", type(activation).__name__)
    module = getattr(activation, "__module__", None) or type(activation).__module__
    return {
        "module": module,
        "class_name": "function",
        "config": fn_name,
        "registered_name": fn_name,
    }


def deserialize(config, custom_objects=None):
    """The activation function named by ``config``: a name string or a Keras function config dict.

    ``custom_objects`` maps names to user functions, for configs that
    :func:`serialize` wrote for callables that are not built in.
    """
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        if config in custom_objects:
            return custom_objects[config]
        return _REGISTRY.lookup(config, "activation")
    if not isinstance(config, dict) or "class_name" not in config:
        raise _IdentifierError(
            f"Could not interpret activation config: received {config!r}. Expected "
            "an activation name or a dict with a 'class_name' key."
        )
    class_name = config["class_name"]
    if class_name != "function":
        # Legacy form: {"class_name": "relu", "config": ...}.
        return deserialize(class_name, custom_objects)
    inner = config.get("config")
    registered = config.get("registered_name")
    module = config.get("module")
    for key in (registered, inner):
        if isinstance(key, str) and key in custom_objects:
            return custom_objects[key]
    builtin_module = module is None or any(
        module == m or module.startswith(m + ".") for m in _BUILTIN_MODULES
    )
    if builtin_module and isinstance(inner, str):
        return _REGISTRY.lookup(inner, "activation")
    raise ValueError(
        f"Could not deserialize activation config {config!r}: function "
        f"{inner!r} from module {module!r} is not a built-in activation; pass it "
        "in custom_objects."
    )


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
