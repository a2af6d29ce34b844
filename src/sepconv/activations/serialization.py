"""``get``, ``serialize``, ``deserialize``: Keras's identifiers for activations.

Built-ins serialise to their canonical name; other callables to Keras's
``{"module", "class_name": "function", "config", "registered_name"}`` dict.
"""

from __future__ import annotations

from . import functions as _functions
from ._table import REGISTRY as _REGISTRY

linear = _functions.linear

# Modules whose serialised function configs name built-in activations.
_BUILTIN_MODULES = ("keras.activations", "keras.src.activations", "sepconv.activations")


class _IdentifierError(TypeError, ValueError):
    """An activation identifier of a type that cannot name an activation."""


def name_of(fn):
    """The canonical Keras name of ``fn`` if it is a built-in activation, else None."""
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
