"""Weight regularizers with Keras 3's names, arguments, formulas and configs.

A regularizer is a callable ``reg(w) -> float`` giving a penalty that is added
to the training loss.  Each one here also has ``gradient(w)``, the analytic
derivative of the penalty with respect to ``w`` (same shape and dtype as
``w``), for training without an autodiff framework.

Penalties (``n`` rows or columns, ``sum`` over all entries):

* ``L1(l1)``: ``l1 * sum(|w|)``
* ``L2(l2)``: ``l2 * sum(w**2)``
* ``L1L2(l1, l2)``: the sum of both
* ``OrthogonalRegularizer(factor, mode)``: rank-2 inputs only.  The rows
  (``mode="rows"``) or columns (``mode="columns"``) are L2-normalised, their
  Gram matrix ``G`` is formed and the penalty is
  ``factor * 0.5 * sum_{i != j} |G_ij| / (n * (n - 1) / 2)``, i.e. ``factor``
  times the mean absolute cosine between distinct rows (columns).  As in
  Keras, normalising multiplies by ``min(1 / norm, 1 / 1e-7)``.
"""

from __future__ import annotations


import numpy as np

from .conv_utils import normalize_real

from ._registry import KerasObject, Registry

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "get",
    "serialize",
    "deserialize",
    "REGISTRY",
]

REGISTRY = Registry("regularizer", "keras.regularizers")

EPSILON = 1e-7  # Keras's backend epsilon, used by the orthogonal regularizer


def _penalty_factor(value, name, default):
    """A penalty factor as Keras takes it: a finite number >= 0, None meaning ``default``."""
    return normalize_real(default if value is None else value, name, low=0.0)


def _as_float_array(x):
    """``x`` as an array of a floating dtype (integers and bools become float64)."""
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


@REGISTRY.register("Regularizer", "regularizer")
class Regularizer(KerasObject):
    """Base class: ``reg(w)`` is a float penalty, ``reg.gradient(w)`` its derivative.

    The base class itself adds no penalty.
    """

    registry = REGISTRY

    def __call__(self, x):
        return 0.0

    def gradient(self, x):
        arr = _as_float_array(x)
        return np.zeros_like(arr)


@REGISTRY.register("L1L2", "l1l2")
class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``; both factors default to 0 (None means 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _penalty_factor(l1, "l1", 0.0)
        self.l2 = _penalty_factor(l2, "l2", 0.0)

    def __call__(self, x):
        arr = _as_float_array(x)
        total = 0.0
        if self.l1:
            total += float(arr.dtype.type(self.l1) * np.sum(np.abs(arr)))
        if self.l2:
            total += float(arr.dtype.type(self.l2) * np.sum(np.square(arr)))
        return total

    def gradient(self, x):
        arr = _as_float_array(x)
        grad = np.zeros_like(arr)
        if self.l1:
            grad += arr.dtype.type(self.l1) * np.sign(arr)
        if self.l2:
            grad += arr.dtype.type(2.0 * self.l2) * arr
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


@REGISTRY.register("L1", "l1")
class L1(Regularizer):
    """``l1 * sum(|w|)``; gradient ``l1 * sign(w)`` (0 where ``w == 0``)."""

    def __init__(self, l1=0.01):
        self.l1 = _penalty_factor(l1, "l1", 0.01)

    def __call__(self, x):
        arr = _as_float_array(x)
        return float(arr.dtype.type(self.l1) * np.sum(np.abs(arr)))

    def gradient(self, x):
        arr = _as_float_array(x)
        return arr.dtype.type(self.l1) * np.sign(arr)

    def get_config(self):
        return {"l1": self.l1}


@REGISTRY.register("L2", "l2")
class L2(Regularizer):
    """``l2 * sum(w**2)``; gradient ``2 * l2 * w``."""

    def __init__(self, l2=0.01):
        self.l2 = _penalty_factor(l2, "l2", 0.01)

    def __call__(self, x):
        arr = _as_float_array(x)
        return float(arr.dtype.type(self.l2) * np.sum(np.square(arr)))

    def gradient(self, x):
        arr = _as_float_array(x)
        return arr.dtype.type(2.0 * self.l2) * arr

    def get_config(self):
        return {"l2": self.l2}


@REGISTRY.register("OrthogonalRegularizer", "orthogonal_regularizer")
class OrthogonalRegularizer(Regularizer):
    """Penalises non-orthogonality of the rows (or columns) of a 2-D weight.

    Penalty: ``factor`` times the mean, over distinct pairs, of the absolute
    dot products between the L2-normalised rows (``mode="rows"``) or columns
    (``mode="columns"``).  Like Keras, inputs of any rank other than 2 raise
    ValueError.  With a single row (column) there are no pairs: the penalty
    and gradient are 0 (Keras divides 0 by 0 and returns NaN).
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _penalty_factor(factor, "factor", 0.01)
        if mode not in ("rows", "columns"):
            raise ValueError(
                "Invalid value for argument `mode`: expected 'rows' or 'columns'. "
                f"Received: mode={mode!r}"
            )
        self.mode = mode

    def _vectors(self, x):
        """The input as a float matrix whose rows are the vectors to decorrelate."""
        arr = _as_float_array(x)
        if arr.ndim != 2:
            raise ValueError(
                "Inputs to OrthogonalRegularizer must have rank 2. Received: "
                f"inputs.shape={arr.shape}"
            )
        return arr if self.mode == "rows" else arr.T

    @staticmethod
    def _normalize(v):
        """Rows scaled by ``min(1 / norm, 1 / eps)``; also returns norms and the mask
        of rows whose norm exceeds eps (where the 1/norm branch applies)."""
        norms = np.sqrt(np.sum(np.square(v), axis=1, keepdims=True))
        with np.errstate(divide="ignore"):
            inv = np.minimum(1.0 / norms, v.dtype.type(1.0 / EPSILON))
        return v * inv, norms, norms > EPSILON

    def _scale(self, n):
        # factor * 0.5 * S / (n (n - 1) / 2) == factor * S / (n (n - 1))
        return self.factor / (n * (n - 1.0))

    def __call__(self, x):
        v = self._vectors(x)
        n = v.shape[0]
        if n < 2:
            return 0.0
        u, _, _ = self._normalize(v)
        gram = u @ u.T
        np.fill_diagonal(gram, 0.0)
        return float(v.dtype.type(self._scale(n)) * np.sum(np.abs(gram)))

    def gradient(self, x):
        """d penalty / d x.

        With ``U`` the normalised rows, ``G = U U^T`` and ``S = sign(G)`` with a
        zero diagonal, ``dP/dU = 2 c S U`` where ``c = factor / (n (n - 1))``.
        For a row with norm ``r > eps``, ``u = x / r`` and
        ``dP/dx = (g - (g . u) u) / r``; for ``r <= eps`` Keras's clamp makes
        ``u = x / eps`` and ``dP/dx = g / eps``.
        """
        v = self._vectors(x)
        n = v.shape[0]
        if n < 2:
            grad_rows = np.zeros_like(v)
        else:
            u, norms, big = self._normalize(v)
            signs = np.sign(u @ u.T)
            np.fill_diagonal(signs, 0.0)
            g = v.dtype.type(2.0 * self._scale(n)) * (signs @ u)
            radial = np.sum(g * u, axis=1, keepdims=True) * u
            with np.errstate(divide="ignore", invalid="ignore"):
                projected = (g - radial) / norms
            grad_rows = np.where(big, projected, g / v.dtype.type(EPSILON))
        grad_rows = grad_rows.astype(v.dtype, copy=False)
        return grad_rows if self.mode == "rows" else np.ascontiguousarray(grad_rows.T)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def _l1_l2_shortcut(l1=0.01, l2=0.01):
    """What the string ``"l1_l2"`` means: L1L2 with both factors 0.01 (Keras docs)."""
    return L1L2(l1=l1, l2=l2)


# "l1_l2" is the name Keras documents for the string form, with 0.01 / 0.01
# defaults (unlike the L1L2 class, whose defaults are 0 / 0).
REGISTRY.register("l1_l2")(_l1_l2_shortcut)

# Keras also exposes the classes under their snake_case names.
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer


def serialize(regularizer):
    """Keras config dict of a registered regularizer instance (None -> None)."""
    return REGISTRY.serialize(regularizer)


def deserialize(config, argument=None):
    """Regularizer from a Keras config dict or a registered name.

    ``config`` is a Keras config dict or a registered name; ``argument`` is
    the layer argument named in error messages (e.g. "bias_initializer").
    """
    obj = REGISTRY.deserialize(config, argument)
    if obj is _l1_l2_shortcut:
        inner = {}
        if isinstance(config, dict):
            inner = config.get("config") or {}
        return _l1_l2_shortcut(**REGISTRY.constructor_kwargs(L1L2, inner))
    return obj


def get(identifier, argument=None):
    """Resolve ``identifier`` to a regularizer (None stays None).

    ``argument`` names the layer argument in error messages (for example
    ``"depthwise_regularizer"``).
    """
    return REGISTRY.resolve(identifier, Regularizer, deserialize, argument)


