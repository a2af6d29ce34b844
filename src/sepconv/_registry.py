"""Name registries shared by activations, initializers, regularizers and constraints.

Keras serialises these objects as ``{"module", "class_name", "config",
"registered_name"}`` dicts and accepts a name, such a dict, an instance or a
callable wherever one is expected.  A :class:`Registry` holds the names of one
family (CamelCase class names, snake_case names and aliases all point at the
same object) and implements the ``get`` / ``serialize`` / ``deserialize``
triple once, so the four families behave alike.
"""

from __future__ import annotations

import inspect

__all__ = ["Registry", "KerasObject"]


class KerasObject:
    """Config plumbing shared by initializers, regularizers and constraints.

    Subclasses set ``registry``; ``get_config`` returns the constructor's
    arguments under Keras's names and ``from_config`` rebuilds from them.
    """

    registry = None

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**cls.registry.constructor_kwargs(cls, config))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Registry:
    """Names of one family of objects (for example Keras's initializers).

    Parameters
    ----------
    kind : str
        Singular noun used in error messages ("initializer").
    module : str
        The Keras module written into serialised configs ("keras.initializers").
    """

    def __init__(self, kind, module):
        self.kind = kind
        self.module = module
        self._by_name = {}
        self._class_name = {}

    # -- registration -----------------------------------------------------
    def register(self, *names):
        """Decorator: register a class or function under ``names``.

        The first name is the canonical ``class_name`` written by
        :meth:`serialize`; a name that is already taken is an error so that
        two objects never silently share one name.
        """
        if not names:
            raise ValueError("register() needs at least one name")

        def decorator(obj):
            for name in names:
                if name in self._by_name and self._by_name[name] is not obj:
                    raise ValueError(f"{self.kind} name {name!r} is already registered")
                self._by_name[name] = obj
            self._class_name.setdefault(obj, names[0])
            return obj

        return decorator

    def names(self):
        """Every registered name, sorted."""
        return sorted(self._by_name)

    def canonical_name(self, obj):
        """The canonical name of a registered class or function, else None."""
        try:
            return self._class_name.get(obj)
        except TypeError:  # unhashable objects are never registered
            return None

    def lookup(self, name, argument=None):
        """The object registered as ``name``; ValueError naming ``argument`` if none."""
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            pass
        label = argument or self.kind
        raise ValueError(
            f"Unknown {self.kind} for `{label}`: received {name!r}. "
            f"Expected one of: {', '.join(self.names())}."
        )

    # -- resolution ---------------------------------------------------------
    def resolve(self, identifier, base_class, deserialize, argument=None):
        """Keras's ``get()``: None, a name or config dict, an instance, a class or a callable.

        None stays None; names and dicts go through ``deserialize``; an
        instance of ``base_class`` or any callable is returned as is; a class
        is instantiated without arguments.
        """
        label = argument or self.kind
        if identifier is None:
            return None
        if isinstance(identifier, base_class):
            return identifier
        if isinstance(identifier, (str, dict)):
            return deserialize(identifier, argument)
        if inspect.isclass(identifier):
            try:
                obj = identifier()
            except Exception as exc:
                raise ValueError(
                    f"Could not interpret {self.kind} identifier for `{label}`: received "
                    f"{identifier!r}, which cannot be instantiated without arguments "
                    f"({exc}).") from exc
            if callable(obj):
                return obj
            raise ValueError(f"Could not interpret {self.kind} identifier for `{label}`: "
                             f"received {identifier!r}, whose instances are not callable.")
        if callable(identifier):
            return identifier
        raise ValueError(
            f"Could not interpret {self.kind} identifier for `{label}`: received "
            f"{identifier!r}. Expected None, a name, a config dict, an instance, a class "
            "or a callable.")

    def constructor_kwargs(self, cls, config):
        """The keys of a config dict that ``cls.__init__`` accepts.

        Unknown keys whose value is None are dropped (Keras adds such keys
        across versions); any other unknown key is a ValueError.
        """
        if not isinstance(config, dict):
            raise ValueError(f"{self.kind} config must be a dict. Received: {config!r}")
        params = inspect.signature(cls.__init__).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return dict(config)
        accepted = {name for name in params if name != "self"}
        kwargs = {}
        for key, value in config.items():
            if key in accepted:
                kwargs[key] = value
            elif value is not None:
                raise ValueError(f"Unknown argument {key!r} in the config of {self.kind} "
                                 f"{cls.__name__}: received {config!r}")
        return kwargs

    # -- serialisation ------------------------------------------------------
    def config_dict(self, class_name, config):
        """A Keras-shaped config dict for a built-in object."""
        return {
            "module": self.module,
            "class_name": class_name,
            "config": config,
            "registered_name": None,
        }

    def serialize(self, obj):
        """Keras config dict of an instance whose class is registered.

        Instances must provide ``get_config()``.  None serialises to None.
        """
        if obj is None:
            return None
        class_name = self.canonical_name(type(obj))
        if class_name is None or not hasattr(obj, "get_config"):
            raise ValueError(
                f"Cannot serialize {self.kind} {obj!r}: it is not a registered "
                f"{self.kind} instance."
            )
        return self.config_dict(class_name, obj.get_config())

    def deserialize(self, config, argument=None):
        """Instance from a Keras config dict (or a bare class name string)."""
        label = argument or self.kind
        if isinstance(config, str):
            target = self.lookup(config, label)
            return target() if inspect.isclass(target) else target
        if not isinstance(config, dict) or "class_name" not in config:
            raise ValueError(
                f"Could not interpret {self.kind} config for `{label}`: received "
                f"{config!r}. Expected a dict with a 'class_name' key."
            )
        module = config.get("module")
        if module not in (None, self.module):
            raise ValueError(
                f"Could not interpret {self.kind} config for `{label}`: module "
                f"{module!r} is not {self.module!r} (received {config!r})."
            )
        target = self.lookup(config["class_name"], label)
        inner = config.get("config") or {}
        if not isinstance(inner, dict):
            raise ValueError(
                f"Could not interpret {self.kind} config for `{label}`: 'config' must "
                f"be a dict, received {inner!r}."
            )
        if inspect.isclass(target):
            if hasattr(target, "from_config"):
                return target.from_config(dict(inner))
            return target(**inner)
        return target
