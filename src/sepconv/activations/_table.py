"""The activations' name table: one ``Registry`` (sepconv._registry), as for
every Keras family; ``functions`` registers each activation into it."""

from __future__ import annotations

from .._registry import Registry

REGISTRY = Registry("activation", "keras.activations")
register = REGISTRY.register
