"""Weight constraints with Keras 3's names, arguments, formulas and configs.

A constraint is a callable ``c(w) -> np.ndarray`` applied to a weight after
each optimiser step; it returns the projected weight with the same shape (and
the same floating dtype; integer inputs come back as float32, Keras's default
float type).  Norms are L2 norms over ``axis`` with ``keepdims``, and the
rescaling divides by ``norm + 1e-7`` exactly as Keras does (so even "unchanged"
vectors are scaled by ``norm / (norm + 1e-7)``):

* ``MaxNorm(max_value, axis)``: ``w * clip(norm, 0, max_value) / (eps + norm)``
* ``MinMaxNorm(min_value, max_value, rate, axis)``:
  ``w * (rate * clip(norm, min_value, max_value) + (1 - rate) * norm) / (eps + norm)``
* ``NonNeg()``: ``max(w, 0)``
* ``UnitNorm(axis)``: ``w / (eps + norm)``
"""

from __future__ import annotations

import numbers

import numpy as np

from .conv_utils import normalize_real

from ._registry import KerasObject, Registry

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "get",
    "serialize",
    "deserialize",
    "REGISTRY",
]

REGISTRY = Registry("constraint", "keras.constraints")

EPSILON = 1e-7  # Keras's backend epsilon


def _axis(axis):
    """Validate ``axis`` (an int or a non-empty list/tuple of ints); keep its form."""
    if isinstance(axis, (numbers.Integral, np.integer)) and not isinstance(
        axis, (bool, np.bool_)
    ):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(
        isinstance(a, (numbers.Integral, np.integer)) and not isinstance(a, (bool, np.bool_))
        for a in axis
    ):
        return type(axis)(int(a) for a in axis)
    raise ValueError(
        "Argument `axis` must be an integer or a non-empty list of integers. "
        f"Received: axis={axis!r}"
    )


def _float_array(w):
    """``w`` as an array of a floating dtype (non-float inputs become float32)."""
    arr = np.asarray(w)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return arr


def _norms(arr, axis):
    reduce_axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.sum(np.square(arr), axis=reduce_axis, keepdims=True))


@REGISTRY.register("Constraint", "constraint")
class Constraint(KerasObject):
    """Base class; by itself it returns the weight unchanged."""

    registry = REGISTRY

    def __call__(self, w):
        return np.asarray(w)


@REGISTRY.register("MaxNorm", "max_norm")
class MaxNorm(Constraint):
    """Rescales slices whose L2 norm over ``axis`` exceeds ``max_value`` down to it."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = normalize_real(max_value, "max_value", low=0)
        self.axis = _axis(axis)

    def __call__(self, w):
        arr = _float_array(w)
        norms = _norms(arr, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return arr * (desired / (EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


@REGISTRY.register("NonNeg", "non_neg")
class NonNeg(Constraint):
    """Sets negative entries to 0 (keeps the input dtype)."""

    def __call__(self, w):
        arr = np.asarray(w)
        return np.maximum(arr, arr.dtype.type(0))


@REGISTRY.register("UnitNorm", "unit_norm")
class UnitNorm(Constraint):
    """Rescales every slice to unit L2 norm over ``axis``."""

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        arr = _float_array(w)
        return arr / (EPSILON + _norms(arr, self.axis))

    def get_config(self):
        return {"axis": self.axis}


@REGISTRY.register("MinMaxNorm", "min_max_norm")
class MinMaxNorm(Constraint):
    """Moves each slice's L2 norm over ``axis`` towards ``[min_value, max_value]``.

    The target norm is ``rate * clip(norm, min_value, max_value) +
    (1 - rate) * norm``: ``rate=1`` enforces the bounds strictly, smaller rates
    move part of the way on each application.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = normalize_real(min_value, "min_value", low=0)
        self.max_value = normalize_real(max_value, "max_value", low=0)
        if self.max_value < self.min_value:
            raise ValueError(
                "Argument `max_value` must not be smaller than `min_value`. Received: "
                f"min_value={min_value!r}, max_value={max_value!r}"
            )
        self.rate = normalize_real(rate, "rate", low=0, high=1)
        self.axis = _axis(axis)

    def __call__(self, w):
        arr = _float_array(w)
        norms = _norms(arr, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (
            1 - self.rate
        ) * norms
        return arr * (desired / (EPSILON + norms))

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


# Keras also exposes the classes under their snake_case names.
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm


def serialize(constraint):
    """Keras config dict of a registered constraint instance (None -> None)."""
    return REGISTRY.serialize(constraint)


def deserialize(config, argument=None):
    """Constraint from a Keras config dict or a registered name.

    ``config`` is a Keras config dict or a registered name; ``argument`` is
    the layer argument named in error messages (e.g. "bias_initializer").
    """
    return REGISTRY.deserialize(config, argument)


def get(identifier, argument=None):
    """Resolve ``identifier`` to a constraint (None stays None).

    ``argument`` names the layer argument in error messages (for example
    ``"depthwise_constraint"``).
    """
    return REGISTRY.resolve(identifier, Constraint, deserialize, argument)


