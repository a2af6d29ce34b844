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
"""

from __future__ import annotations

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
