"""Keras 3's SGD and Adam optimizers, updating sepconv layers in place.

>>> import numpy as np, sepconv
>>> from sepconv import optimizers
>>> layer = sepconv.SeparableConv1D(4, 3, depth_multiplier=2)
>>> layer.build((None, 10, 3))
>>> opt = optimizers.Adam(learning_rate=1e-3)
>>> grads = [np.ones_like(w) for w in layer.trainable_weights]
>>> opt.apply(layer, grads)       # or opt.apply_gradients(layer, grads)
>>> opt.iterations
1

``opt.apply(layer, grads)`` takes the gradients as a list aligned with
``layer.trainable_weights`` (depthwise kernel, pointwise kernel, bias),
computes the new weights with Keras 3's update rule, writes them with
``layer.set_weights`` and then calls ``layer.apply_constraints()``, as Keras
applies each variable's constraint after the update.  The update is all or
nothing: gradients are validated first (count, shapes, real and finite
values), and if writing the weights fails the layer and the optimizer state
are left as they were.

Update rules (Keras 3, ``keras/src/optimizers/sgd.py`` and ``adam.py``), with
``t`` the step number (1 on the first update of a layer):

* SGD, ``momentum == 0``: ``w -= lr * g``
* SGD with momentum: ``v = momentum * v - lr * g``; ``w += v``
* SGD with Nesterov momentum: ``v = momentum * v - lr * g``;
  ``w += momentum * v - lr * g``
* Adam: ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``;
  ``m += (g - m) * (1 - beta_1)``; ``v += (g**2 - v) * (1 - beta_2)``;
  ``w -= alpha * m / (sqrt(v) + epsilon)``; with ``amsgrad`` the running
  maximum ``v_hat = max(v_hat, v)`` replaces ``v`` in the last step.

As in Keras the arithmetic is done in the weight's dtype, with the
hyperparameters and gradients cast to it (``1 - beta`` is formed in float64
and then cast).  One difference: Keras keeps the learning rate in a float32
variable, so for float64 weights it uses ``float32(lr)``; here the learning
rate is used as given.

State.  The optimizer keeps its slots (``momentums``; ``velocities`` and
``velocity_hats`` for Adam) separately for every layer it updates, in a
weak-keyed table, so one optimizer can train several layers and forgets a
layer that is garbage collected.  Each layer's state also counts that
layer's steps (``get_state(layer)["iterations"]``), which is Adam's ``t``;
``opt.iterations`` counts all updates made by the optimizer.  With one layer
per optimizer both equal Keras's ``optimizer.iterations``.  ``reset(layer)``
forgets a layer's state (needed if the layer is rebuilt with other shapes).

Gradients that are None are skipped as in Keras (the weight and its slots are
left alone, at least one gradient must be given); note that
``layer.apply_constraints()`` still projects every constrained weight.

Non-trainable layers: ``layer.trainable_weights`` is then empty, so the only
valid ``grads`` is an empty list, and the call is a no-op (nothing changes,
nothing is counted, as Keras's ``apply`` with no gradients).  Passing
gradients for a non-trainable layer raises ValueError.
"""

from __future__ import annotations

import weakref

import numpy as np

from ._registry import Registry
from .conv_utils import normalize_real

__all__ = ["Optimizer", "SGD", "Adam", "get", "serialize", "deserialize"]

# Keras's base-optimizer config keys this module does not implement, with the
# only values accepted for them by from_config (Keras's defaults).
_UNSUPPORTED_DEFAULTS = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}
_WEIGHT_NAMES = ("depthwise_kernel", "pointwise_kernel", "bias")


class _ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (catchable as TypeError or ValueError)."""


def _bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise _ArgumentTypeError(f"Argument `{name}` must be a bool. Received: {name}={value!r}")
    return bool(value)


def _c(value, dtype):
    """A 0-d constant of ``dtype``, so that NumPy never promotes the result."""
    return np.asarray(value, dtype=dtype)


class _LayerState:
    """One layer's optimizer state: the step count and the slot arrays."""

    __slots__ = ("iterations", "slots")

    def __init__(self, slot_names, weights):
        self.iterations = 0
        # slots[name][i]: the slot of weight i, zeros in the weight's dtype.
        self.slots = {name: [np.zeros_like(w) for w in weights] for name in slot_names}


class Optimizer:
    """Base class: validation, per-layer state and the apply loop.

    Subclasses set ``_slot_names`` and implement ``_update(weight, grad,
    slots, step)`` returning the new weight and the new slot arrays (a dict);
    they must not modify their arguments.

    Parameters
    ----------
    learning_rate : float
        The step size, > 0.
    name : str or None
        Defaults to the class's Keras name ('sgd', 'adam').
    """

    _default_name = "optimizer"

    def __init__(self, learning_rate, name=None):
        self.learning_rate = learning_rate
        if name is None:
            name = self._default_name
        if not isinstance(name, str):
            raise _ArgumentTypeError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name
        self._iterations = 0
        self._states = weakref.WeakKeyDictionary()
        self._strong_states = {}  # id(layer) -> (layer, state) for non-weakrefable layers

    # -- pickling -------------------------------------------------------------------
    def __getstate__(self):
        """The per-layer states as (layer, state) pairs: a WeakKeyDictionary does not
        pickle.  Pickled together with its layers (one pickle.dumps of both, a
        deepcopy of both, or a Pool task carrying both), an optimizer keeps their
        state; pickled alone it carries its layers along, which then live only
        as long as something else holds them."""
        state = dict(self.__dict__)
        pairs = list(self._states.items()) + list(self._strong_states.values())
        state["_states"] = [(layer, (s.iterations, s.slots)) for layer, s in pairs]
        state["_strong_states"] = {}
        return state

    def __setstate__(self, state):
        pairs = state.pop("_states")
        self.__dict__.update(state)
        self._states = weakref.WeakKeyDictionary()
        self._strong_states = {}
        for layer, (iterations, slots) in pairs:
            layer_state = _LayerState((), ())
            layer_state.iterations, layer_state.slots = iterations, slots
            self._store(layer, layer_state)

    # -- hyperparameters ----------------------------------------------------------
    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = normalize_real(value, "learning_rate", low=0.0, low_open=True)

    @property
    def iterations(self):
        """Number of updates this optimizer has applied (to all layers)."""
        return self._iterations

    @property
    def _slot_names(self):
        return ()

    # -- state ------------------------------------------------------------------------
    def _lookup(self, layer):
        try:
            return self._states.get(layer)
        except TypeError:
            entry = self._strong_states.get(id(layer))
            return entry[1] if entry is not None and entry[0] is layer else None

    def _store(self, layer, state):
        try:
            self._states[layer] = state
        except TypeError:
            self._strong_states[id(layer)] = (layer, state)

    def get_state(self, layer):
        """Copies of ``layer``'s state: ``{"iterations": n, slot name: [arrays]}``, or None."""
        state = self._lookup(layer)
        if state is None:
            return None
        result = {"iterations": state.iterations}
        for name, arrays in state.slots.items():
            result[name] = [np.array(a) for a in arrays]
        return result

    def reset(self, layer=None):
        """Forget the state of ``layer`` (of every layer if None); ``iterations`` is kept."""
        if layer is None:
            self._states = weakref.WeakKeyDictionary()
            self._strong_states = {}
            return
        try:
            self._states.pop(layer, None)
        except TypeError:
            self._strong_states.pop(id(layer), None)

    # -- validation ---------------------------------------------------------------------
    @staticmethod
    def _check_layer(layer):
        for attribute in ("trainable", "trainable_weights", "get_weights", "set_weights",
                          "apply_constraints", "built"):
            if not hasattr(layer, attribute):
                raise _ArgumentTypeError(
                    f"Argument `layer` must be a sepconv layer (with `{attribute}`). "
                    f"Received: layer={layer!r}"
                )
        if not layer.built:
            raise ValueError(
                f"Argument `layer` must be built before its weights can be updated: call "
                f"layer.build(input_shape) or the layer first. Received: layer={layer!r}"
            )

    @staticmethod
    def _check_grads(layer, grads):
        """The gradients as arrays (None kept), validated against the trainable weights."""
        if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)):
            raise _ArgumentTypeError(
                "Argument `grads` must be a list of arrays aligned with "
                f"layer.trainable_weights. Received: grads of type {type(grads).__name__}"
            )
        weights = layer.trainable_weights
        if not layer.trainable:
            if len(grads):
                raise ValueError(
                    f"Layer {getattr(layer, 'name', layer)!r} is not trainable "
                    "(trainable=False): its trainable_weights are empty, so `grads` must "
                    f"be an empty list. Received: {len(grads)} gradients"
                )
            return []
        if len(grads) != len(weights):
            names = ", ".join(_WEIGHT_NAMES[: len(weights)])
            raise ValueError(
                f"Argument `grads` must hold {len(weights)} gradients, one per trainable "
                f"weight ({names}). Received: {len(grads)} gradients"
            )
        checked = []
        for i, (grad, weight) in enumerate(zip(grads, weights)):
            label = f"grads[{i}]"
            if grad is None:
                checked.append(None)
                continue
            try:
                array = np.asarray(grad)
            except (TypeError, ValueError) as exc:
                raise _ArgumentTypeError(
                    f"Argument `{label}` could not be converted to an array: {exc}"
                ) from None
            if array.dtype.kind not in "iuf":
                raise _ArgumentTypeError(
                    f"Argument `{label}` must hold real numbers. Received: an array of "
                    f"dtype {array.dtype}"
                )
            if array.shape != weight.shape:
                raise ValueError(
                    f"Argument `{label}` ({_WEIGHT_NAMES[i]}) must have shape "
                    f"{weight.shape}. Received: shape {array.shape}"
                )
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
                raise ValueError(
                    f"Argument `{label}` ({_WEIGHT_NAMES[i]}) must be finite. Received: "
                    f"{bad} NaN or infinite values"
                )
            checked.append(array)
        if all(g is None for g in checked):
            raise ValueError("No gradients provided for any weight: every entry of `grads` is None.")
        return checked

    # -- the update ------------------------------------------------------------------------
    def apply(self, layer, grads):
        """Update ``layer``'s trainable weights in place from ``grads``, then apply its constraints.

        ``grads`` is a list aligned with ``layer.trainable_weights``; None
        entries are skipped.  Returns None.
        """
        self._check_layer(layer)
        grads = self._check_grads(layer, grads)
        if not grads:  # non-trainable layer: nothing to do
            return None
        weights = layer.get_weights()  # copies, in the layer's dtype
        state = self._lookup(layer)
        if state is not None:
            for name, arrays in state.slots.items():
                for i, (slot, weight) in enumerate(zip(arrays, weights)):
                    if slot.shape != weight.shape or slot.dtype != weight.dtype:
                        raise ValueError(
                            f"The optimizer's {name!r} state for weight {i} has shape "
                            f"{slot.shape} ({slot.dtype}) but the weight now has shape "
                            f"{weight.shape} ({weight.dtype}); call optimizer.reset(layer) "
                            f"after rebuilding a layer. Received: layer={layer!r}"
                        )
        else:
            state = _LayerState(self._slot_names, weights)
        step = state.iterations + 1
        new_weights = list(weights)
        new_slots = {name: list(arrays) for name, arrays in state.slots.items()}
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            for i, grad in enumerate(grads):
                if grad is None:
                    continue
                weight = weights[i]
                slots = {name: arrays[i] for name, arrays in state.slots.items()}
                new_weight, updated = self._update(
                    weight, grad.astype(weight.dtype, copy=False), slots, step
                )
                new_weights[i] = new_weight
                for name, array in updated.items():
                    new_slots[name][i] = array
        try:
            layer.set_weights(new_weights)
            layer.apply_constraints()
        except BaseException:
            layer.set_weights(weights)
            raise
        state.slots = new_slots
        state.iterations = step
        self._store(layer, state)
        self._iterations += 1
        return None

    def apply_gradients(self, layer, grads):
        """Alias of :meth:`apply` (Keras names it ``apply_gradients(grads_and_vars)``)."""
        return self.apply(layer, grads)

    def _update(self, weight, grad, slots, step):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- config ------------------------------------------------------------------------
    def get_config(self):
        """Keras 3's config dict (base keys at Keras's defaults, then the hyperparameters)."""
        config = {"name": self.name, "learning_rate": self.learning_rate}
        config.update(_UNSUPPORTED_DEFAULTS)
        return config

    @classmethod
    def from_config(cls, config):
        """An optimizer from ``get_config()`` output (ours or Keras 3's)."""
        if not isinstance(config, dict):
            raise _ArgumentTypeError(
                f"Argument `config` must be a dict. Received: config={config!r}"
            )
        config = dict(config)
        for key, default in _UNSUPPORTED_DEFAULTS.items():
            if key in config:
                value = config.pop(key)
                if value != default:
                    raise ValueError(
                        f"Argument `{key}` is not supported by sepconv.optimizers (only "
                        f"{key}={default!r}). Received: {key}={value!r}"
                    )
        if isinstance(config.get("learning_rate"), dict):
            raise ValueError(
                "Learning-rate schedules are not supported; `learning_rate` must be a "
                f"number. Received: learning_rate={config['learning_rate']!r}"
            )
        try:
            return cls(**config)
        except TypeError as exc:
            if isinstance(exc, ValueError):
                raise
            raise ValueError(f"Argument(s) not recognized in `config`: {exc}") from None

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                           if k not in _UNSUPPORTED_DEFAULTS)
        return f"{type(self).__name__}({params})"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras 3's rule.

    Parameters
    ----------
    learning_rate : float, default 0.01
        The step size, > 0.
    momentum : float in [0, 1], default 0.0
    nesterov : bool, default False
    name : str or None, default 'sgd'
    """

    _default_name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None):
        super().__init__(learning_rate, name)
        self.momentum = normalize_real(momentum, "momentum", low=0.0, high=1.0)
        self.nesterov = _bool(nesterov, "nesterov")

    @property
    def _slot_names(self):
        return ("momentums",) if self.momentum != 0 else ()

    def _update(self, weight, grad, slots, step):
        dt = weight.dtype
        lr = _c(self.learning_rate, dt)
        if self.momentum == 0:
            return weight - grad * lr, {}
        momentum = _c(self.momentum, dt)
        m = slots["momentums"] * momentum - grad * lr
        if self.nesterov:
            new_weight = weight + (m * momentum - grad * lr)
        else:
            new_weight = weight + m
        return new_weight, {"momentums": m}

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), with the optional AMSGrad variant, Keras 3's rule.

    Parameters
    ----------
    learning_rate : float, default 0.001
        The step size, > 0.
    beta_1, beta_2 : float in [0, 1), default 0.9 and 0.999
        Decay rates of the first and second moment estimates.
    epsilon : float > 0, default 1e-7
        Added to ``sqrt(v)``, as in Keras.
    amsgrad : bool, default False
    name : str or None, default 'adam'
    """

    _default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name=None):
        super().__init__(learning_rate, name)
        self.beta_1 = normalize_real(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = normalize_real(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = normalize_real(epsilon, "epsilon", low=0.0, low_open=True)
        self.amsgrad = _bool(amsgrad, "amsgrad")

    @property
    def _slot_names(self):
        names = ("momentums", "velocities")
        return names + ("velocity_hats",) if self.amsgrad else names

    def _update(self, weight, grad, slots, step):
        dt = weight.dtype
        one = _c(1.0, dt)
        lr = _c(self.learning_rate, dt)
        local_step = _c(step, dt)
        beta_1_power = np.power(_c(self.beta_1, dt), local_step)
        beta_2_power = np.power(_c(self.beta_2, dt), local_step)
        alpha = lr * np.sqrt(one - beta_2_power) / (one - beta_1_power)
        m = slots["momentums"]
        v = slots["velocities"]
        m = m + (grad - m) * _c(1.0 - self.beta_1, dt)
        v = v + (grad * grad - v) * _c(1.0 - self.beta_2, dt)
        updated = {"momentums": m, "velocities": v}
        if self.amsgrad:
            v = np.maximum(slots["velocity_hats"], v)
            updated["velocity_hats"] = v
        new_weight = weight - (m * alpha) / (np.sqrt(v) + _c(self.epsilon, dt))
        return new_weight, updated

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2,
                       "epsilon": self.epsilon, "amsgrad": self.amsgrad})
        return config


#: The optimizers' name table: the same ``Registry`` as every Keras family.
REGISTRY = Registry("optimizer", "keras.optimizers")
REGISTRY.register("SGD", "sgd")(SGD)
REGISTRY.register("Adam", "adam")(Adam)


def serialize(optimizer):
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` dict of ``optimizer``."""
    if not isinstance(optimizer, Optimizer):
        raise _ArgumentTypeError(
            f"Argument `optimizer` must be a sepconv optimizer. Received: {optimizer!r}"
        )
    return REGISTRY.serialize(optimizer)


def deserialize(config):
    """An optimizer from ``config``: :func:`serialize`'s dict (or Keras's), or a name."""
    return REGISTRY.deserialize(config, "optimizer")


def get(identifier):
    """An optimizer from ``identifier``: an instance, a name ('sgd', 'adam') or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return REGISTRY.deserialize(identifier, "optimizer")
    raise _ArgumentTypeError(
        f"Could not interpret optimizer identifier: received {identifier!r}."
    )
