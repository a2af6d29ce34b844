"""``SeparableConv1D``: Keras 3's layer, its arguments, weights and config.

The layer holds one validated ``plan.ConvSpec`` (its arguments, read-only
after construction), one ``plan.WeightSet`` (its weights and their packed
forms, replaced whole on every change) and a cache of ``plan.Plan`` per input
shape.  The weight arrays it hands out are read-only: weights change through
``set_weights``, ``apply_constraints`` or the optimizers, which install a new
snapshot.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import (
    _fork,
    activations,
    arrays,
    constraints,
    functional,
    initializers,
    precision,
    regularizers,
)
from ._typing import ArrayLike
from .conv_utils import normalize_int
from .plan import ConvSpec, WeightSet, apply_activation
from .precision import MIXED_POLICIES

# The call (``layer(x, ...)``) is a C type's: see LayerCall.  Every kernel
# module has the type; the baseline one is built on every machine.
from ._sepconv import LayerCall, inherit_call  # noqa: E402  (after the package modules)

__all__ = ["SeparableConv1D"]

_LAYER_KWARGS = ("name", "dtype", "trainable", "input_shape", "batch_input_shape",
                 "input_dim", "batch_size")
_SUPPORTED_DTYPES = ("float32", "float64")
#: Class names a Keras SeparableConv1D goes by (the second is Keras 2's alias).
KERAS_CLASS_NAMES = ("SeparableConv1D", "SeparableConvolution1D")
_KERAS_HINT = "pip install keras (plus a backend: torch, tensorflow or jax)"
#: OpenMP's max threads (the same runtime for every kernel module).
_max_threads = functional.kernel_module().max_threads
_name_counter = itertools.count()
_name_lock = threading.Lock()


class _CallSignature:
    """``inspect.signature(layer)``: its call's, which inspect cannot read from a C slot.

    On the class it is None, so the class keeps its constructor's signature.
    """

    def __get__(self, instance, owner=None):
        if instance is None:
            return None
        method = inspect.signature(type(instance)._call)
        return method.replace(parameters=list(method.parameters.values())[1:])


def _is_dask_array(value):
    return type(value).__module__.startswith("dask.")


def _default_name():
    with _name_lock:
        index = next(_name_counter)
    return "separable_conv1d" if index == 0 else f"separable_conv1d_{index}"


_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy", "Policy")


def _normalize_dtype(dtype):
    """(policy name, variable dtype, compute dtype name) from the ``dtype`` argument.

    A name ('float32' default, 'float64', 'mixed_float16', 'mixed_bfloat16'),
    a NumPy dtype, or a Keras DTypePolicy config.  A policy config must be
    Keras's own shape, ``{"class_name": "DTypePolicy", "config": {"name": ...}}``
    (or the bare ``{"name": ...}``); anything else, an empty dict included, is
    a ValueError rather than a guess.
    """
    if dtype is None:
        return "float32", np.dtype(np.float32), "float32"
    value = dtype
    if isinstance(dtype, dict):
        class_name = dtype.get("class_name", "DTypePolicy")
        config = dtype.get("config", dtype)
        value = config.get("name") if isinstance(config, dict) else None
        if class_name not in _POLICY_CLASSES or not isinstance(value, str):
            raise ValueError(f"Argument `dtype` must be 'float32', 'float64', a mixed "
                             f"policy or a Keras DTypePolicy config naming one, received "
                             f"dtype={dtype!r}.")
    elif hasattr(dtype, "name") and not isinstance(dtype, (str, np.dtype, type)):
        value = dtype.name  # a DTypePolicy-like object
    if isinstance(value, str) and value in MIXED_POLICIES:
        return value, np.dtype(np.float32), MIXED_POLICIES[value]
    try:
        resolved = np.dtype(value)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in _SUPPORTED_DTYPES:
        raise ValueError(f"Argument `dtype` must be 'float32', 'float64', 'mixed_float16' "
                         f"or 'mixed_bfloat16', received dtype={dtype!r}.")
    return resolved.name, resolved, resolved.name


class _SpecField:
    """A layer argument read from the layer's spec; assigning it is an error.

    The kernels' packed weights and cached plans are derived from these
    values, so they cannot change under a built layer: make a new layer
    (``SeparableConv1D.from_config({**layer.get_config(), ...})``) instead.
    """

    def __init__(self, keras_tuple=False):
        self.keras_tuple = keras_tuple

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        value = getattr(layer._spec, self.name)
        return (value,) if self.keras_tuple else value

    def __set__(self, layer, value):
        raise AttributeError(f"SeparableConv1D.{self.name} is read-only (received "
                             f"{self.name}={value!r}); make a new layer with "
                             f"SeparableConv1D.from_config({{**layer.get_config(), "
                             f"{self.name!r}: ...}}).")


class SeparableConv1D(LayerCall):
    """Depthwise separable 1-D convolution, with Keras 3's arguments and semantics.

    A depthwise convolution of each input channel with ``depth_multiplier``
    filters of ``kernel_size`` taps, then a pointwise (1x1) convolution into
    ``filters`` channels, then the bias and the activation.

    Parameters
    ----------
    filters : int
        Output channels of the pointwise convolution (1 to 2**31 - 1).
    kernel_size : int or tuple of one int
        Taps of the depthwise convolution.
    strides : int or tuple of one int, default 1
        Step between depthwise windows.
    padding : {'valid', 'same'}, default 'valid'
        Case-insensitive. 'same' gives ``ceil(steps / strides)`` outputs,
        padding with the smaller half on the left, as Keras does.
    data_format : {'channels_last', 'channels_first'} or None
        Input and output layout, (batch, steps, channels) or (batch, channels,
        steps); None reads ``image_data_format`` from keras.json.
    dilation_rate : int or tuple of one int, default 1
        Spacing between the taps; may be combined with ``strides > 1``.
    depth_multiplier : int, default 1
        Depthwise outputs per input channel.
    activation : str, callable, dict or None
        Any Keras 3 activation name or config, or a callable; None is linear.
    use_bias : bool, default True
    depthwise_initializer, pointwise_initializer, bias_initializer
        Keras initializer names, configs, instances or callables (defaults
        'glorot_uniform', 'glorot_uniform', 'zeros').
    depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer
        Keras regularizers or None.  The activity penalty is divided by the
        batch size, as in Keras 3 (see ``losses``).
    depthwise_constraint, pointwise_constraint, bias_constraint
        Keras constraints or None, applied by ``apply_constraints`` and the
        optimizers.
    **kwargs
        ``name``; ``dtype``: 'float32' (default), 'float64', 'mixed_float16',
        'mixed_bfloat16' or a Keras DTypePolicy config; ``trainable``;
        ``input_shape`` / ``batch_input_shape`` build the layer at once.

    Attributes
    ----------
    depthwise_kernel : ndarray, (kernel_size, in_channels, depth_multiplier)
    pointwise_kernel : ndarray, (1, in_channels * depth_multiplier, filters)
    bias : ndarray, (filters,) or None
        The weights, read-only; change them with ``set_weights``.

    Examples
    --------
    >>> import numpy as np, sepconv
    >>> layer = sepconv.SeparableConv1D(3, 4, 3, "same", activation="relu")
    >>> layer(np.random.rand(4, 10, 12)).shape
    (4, 4, 3)
    """

    filters = _SpecField()
    kernel_size = _SpecField(keras_tuple=True)
    strides = _SpecField(keras_tuple=True)
    padding = _SpecField()
    data_format = _SpecField()
    dilation_rate = _SpecField(keras_tuple=True)
    depth_multiplier = _SpecField()
    activation = _SpecField()
    use_bias = _SpecField()

    def __init_subclass__(cls, **kwargs):
        # A subclass calls through LayerCall's vectorcall too, unless it
        # has a __call__ of its own (inherit_call leaves that one alone).
        super().__init_subclass__(**kwargs)
        inherit_call(cls)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None,
                 bias_constraint=None, **kwargs):
        unknown = sorted(set(kwargs) - set(_LAYER_KWARGS))
        if unknown:
            raise TypeError(f"SeparableConv1D got an unexpected keyword argument "
                            f"{unknown[0]!r} (received {unknown[0]}={kwargs[unknown[0]]!r}).")
        self._spec = ConvSpec.create(
            filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
            data_format=data_format, dilation_rate=dilation_rate,
            depth_multiplier=depth_multiplier, activation=activation, use_bias=use_bias,
            dtype=self._dtype_policy(kwargs.get("dtype")))
        self.depthwise_initializer = self._get(initializers, depthwise_initializer,
                                               "depthwise_initializer", required=True)
        self.pointwise_initializer = self._get(initializers, pointwise_initializer,
                                               "pointwise_initializer", required=True)
        self.bias_initializer = self._get(initializers, bias_initializer,
                                          "bias_initializer", required=True)
        self.depthwise_regularizer = self._get(regularizers, depthwise_regularizer,
                                               "depthwise_regularizer")
        self.pointwise_regularizer = self._get(regularizers, pointwise_regularizer,
                                               "pointwise_regularizer")
        self.bias_regularizer = self._get(regularizers, bias_regularizer, "bias_regularizer")
        self.activity_regularizer = self._get(regularizers, activity_regularizer,
                                              "activity_regularizer")
        self.depthwise_constraint = self._get(constraints, depthwise_constraint,
                                              "depthwise_constraint")
        self.pointwise_constraint = self._get(constraints, pointwise_constraint,
                                              "pointwise_constraint")
        self.bias_constraint = self._get(constraints, bias_constraint, "bias_constraint")

        name = kwargs.get("name")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Argument `name` must be a string, received name={name!r}.")
        self.name = name or _default_name()
        self._np_dtype = self._spec.dtype   # the variables' and the kernels' dtype
        self._channels_axis = 1 if self._spec.channels_first else -1
        self.dtype = self._np_dtype.name
        trainable = kwargs.get("trainable", True)
        if not isinstance(trainable, (bool, np.bool_)):
            raise TypeError(f"Argument `trainable` must be a bool, received "
                            f"trainable={trainable!r}.")
        self.trainable = bool(trainable)

        self._weights = None        # WeightSet snapshot, replaced whole on change
        self._plans = {}            # (input shape, threads, kernel module) -> Plan
        self._prepared = {}         # (input shape, threads, level) -> kernels.Prepared
        self._last = None           # the Prepared the last call used, tried first
        self._activity_loss = None
        self._saved = None          # (x, y, threads, WeightSet) of the last training call
        self.input_channels = None
        shape = kwargs.get("batch_input_shape") or kwargs.get("input_shape")
        if shape is not None:
            shape = tuple(shape)
            self.build(shape if kwargs.get("batch_input_shape") else (None,) + shape)

    def _dtype_policy(self, dtype):
        """Set the policy attributes; the kernels' dtype (the variables')."""
        self.dtype_policy, variable, self.compute_dtype = _normalize_dtype(dtype)
        self._mixed = self.compute_dtype if self.dtype_policy in MIXED_POLICIES else None
        return variable

    @property
    def variable_dtype(self) -> str:
        return self.dtype

    @staticmethod
    def _get(module, identifier, argument, required=False):
        if identifier is None and required:
            raise ValueError(f"Argument `{argument}` must not be None.")
        try:
            return module.get(identifier)
        except (ValueError, TypeError) as exc:
            text = str(exc)
            message = text if argument in text else f"Invalid `{argument}`: {text}"
            raise type(exc)(message) from None

    # ------------------------------------------------------------------ weights
    @property
    def built(self) -> bool:
        return self._weights is not None

    def build(self, input_shape: Sequence[Optional[int]]) -> None:
        """Create the weights for inputs of ``input_shape`` (batch, steps, channels)."""
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(f"Argument `input_shape` must have 3 entries (batch, steps, "
                             f"channels), received input_shape={input_shape!r}.")
        channels = shape[self._channels_axis]
        if channels is None:
            raise ValueError(f"The channel dimension of `input_shape` must be known, "
                             f"received input_shape={input_shape!r}.")
        channels = normalize_int(channels, "input channels")
        steps = self._spec.split(shape)[1]
        if steps is not None:
            self._spec.geometry(normalize_int(steps, "input steps", minimum=0))
        shapes = self._spec.weight_shapes(channels)
        depthwise = self.depthwise_initializer(shapes[0], dtype=self.dtype)
        pointwise = self.pointwise_initializer(shapes[1], dtype=self.dtype)
        bias = self.bias_initializer(shapes[2], dtype=self.dtype) if self.use_bias else None
        self._assign(channels, depthwise, pointwise, bias)

    def _assign(self, channels, depthwise, pointwise, bias):
        """Install validated weights (all or nothing): one new snapshot."""
        snapshot = WeightSet(depthwise, pointwise, bias, self._np_dtype,
                             self._spec.channels_first, self._mixed)
        self.input_channels = channels  # plans depend on it only through the input shape
        self._weights = snapshot
        self._saved = None

    @property
    def depthwise_kernel(self) -> Optional[np.ndarray]:
        return self._weights[0] if self.built else None

    @property
    def pointwise_kernel(self) -> Optional[np.ndarray]:
        return self._weights[1] if self.built else None

    @property
    def bias(self) -> Optional[np.ndarray]:
        return self._weights[2] if self.built else None

    @property
    def weights(self) -> List[np.ndarray]:
        """The weight arrays, Keras's order (read-only views; use set_weights)."""
        if not self.built:
            return []
        return [w for w in self._weights if w is not None]

    @property
    def trainable_weights(self) -> List[np.ndarray]:
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self) -> List[np.ndarray]:
        return [] if self.trainable else self.weights

    def get_weights(self) -> List[np.ndarray]:
        """Copies of the weights: [depthwise_kernel, pointwise_kernel(, bias)]."""
        return [np.array(w) for w in self.weights]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Replace the weights; shapes are checked and nothing changes on error.

        On a layer that is not built yet, the input channel count is taken from
        the depthwise kernel's shape.
        """
        if isinstance(weights, np.ndarray) or not hasattr(weights, "__len__"):
            raise TypeError(f"Argument `weights` must be a list of arrays, received "
                            f"{type(weights).__name__}.")
        weights = list(weights)
        expected_count = 3 if self.use_bias else 2
        if len(weights) != expected_count:
            raise ValueError(f"Argument `weights` must hold {expected_count} arrays "
                             f"(depthwise_kernel, pointwise_kernel{', bias' if self.use_bias else ''}), "
                             f"received {len(weights)}.")
        given = [arrays.real_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
        channels = self.input_channels
        if channels is None:
            if given[0].ndim != 3:
                raise ValueError(f"weights[0] (depthwise_kernel) must be 3-D, received "
                                 f"shape {given[0].shape}.")
            channels = given[0].shape[1]
        names = ("depthwise_kernel", "pointwise_kernel", "bias")
        for i, (array, shape) in enumerate(zip(given, self._spec.weight_shapes(channels))):
            if array.shape != shape:
                raise ValueError(f"weights[{i}] ({names[i]}) must have shape {shape}, "
                                 f"received shape {array.shape}.")
        self._assign(channels, given[0], given[1], given[2] if self.use_bias else None)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet: call build() or the "
                             "layer first.")
        return int(sum(w.size for w in self.weights))

    # ------------------------------------------------------------------- shapes
    def compute_output_shape(self, input_shape: Sequence[Optional[int]]
                             ) -> Tuple[Optional[int], ...]:
        """The output shape for ``input_shape`` (None for an unknown batch or length)."""
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(f"Argument `input_shape` must have 3 entries, received "
                             f"input_shape={input_shape!r}.")
        batch, steps, _ = self._spec.split(shape)
        out_steps = None if steps is None else self._spec.geometry(steps).out_steps
        return self._spec.output_shape(batch, out_steps)

    # --------------------------------------------------------------------- call
    def _plan(self, shape, threads, kernels):
        """The cached Plan for this input shape, thread count and kernel module."""
        key = (shape, threads, kernels)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._spec.plan(shape, threads, kernels)
            if len(self._plans) > 64:
                self._plans = {}
            self._plans[key] = plan
        return plan

    __signature__ = _CallSignature()

    def _call(self, inputs: Any, training: Optional[bool] = None, *,
              out: Optional[np.ndarray] = None,
              num_threads: Optional[int] = None) -> Any:
        # ``layer(...)`` (LayerCall.__call__, in C) when the latest prepared
        # call did not take the arguments as they are: everything else.
        if num_threads is None:
            threads = _max_threads()
            if threads > functional.MAX_THREADS:
                threads = functional.MAX_THREADS
        elif type(num_threads) is int and 1 <= num_threads <= functional.MAX_THREADS:
            threads = num_threads
        else:
            threads = functional.check_num_threads(num_threads, None)
        level = functional._LEVEL
        if type(inputs) is np.ndarray and not training and self.activity_regularizer is None:
            # A prepared call made by an earlier call of this shape.
            prepared = self._prepared.get((inputs.shape, threads, level))
            if prepared is not None:
                self._last = prepared
                return prepared(inputs, out)
        dtype = self._np_dtype
        weights = self._weights  # one snapshot for the whole call
        if (type(inputs) is np.ndarray and weights is not None and self._mixed is None
                and inputs.dtype == dtype and inputs.ndim == 3
                and inputs.flags.c_contiguous and inputs.flags.aligned
                and inputs.shape[self._channels_axis] == self.input_channels):
            x = inputs  # already in the kernel's layout: no conversion, no copy
        elif _is_dask_array(inputs):
            from . import dask_support
            return dask_support.apply_layer(self, inputs, num_threads=num_threads)
        else:
            x = arrays.real_array(inputs, "inputs")
            if weights is None:
                if x.ndim != 3:
                    raise ValueError(f"Input `x` must be 3-D, received shape {x.shape}.")
                self.build(x.shape)
                weights = self._weights
            x = arrays.check_input(x, dtype, self.input_channels,
                                   self._spec.channels_first)
            if self._mixed is not None:  # Keras casts the input to the compute dtype
                x = precision.round_to(x, self._mixed)
        kernels = functional.kernel_module()
        packed = weights.cache.get(kernels)
        if packed is None:
            packed = weights.packed(kernels)
        key = (x.shape, threads, level)
        if _fork.serial_only:
            threads = 1
        plan = self._plans.get((x.shape, threads, kernels))
        if plan is None:
            plan = self._plan(x.shape, threads, kernels)
        if type(inputs) is np.ndarray and inputs.shape == x.shape:
            self._remember(key, self._prepare_plan(plan, kernels, key[1]))
        shape, forward, post_activation, _, _, _ = plan
        if out is None:
            out = arrays.empty(shape, dtype)
        elif not (type(out) is np.ndarray and out.shape == shape and out.dtype == dtype
                  and out.flags.c_contiguous and out.flags.writeable and out.flags.aligned
                  and not np.may_share_memory(out, x)):
            arrays.check_out(out, shape, dtype, x)  # raises, naming what is wrong
        forward.run(x, packed, out)  # Plan.run, inlined: the hot path
        y = out if post_activation is None else apply_activation(post_activation, out)
        if self._mixed is not None:
            y = precision.cast_output(y, self._mixed)
        if self.activity_regularizer is not None:
            # Keras 3 divides the penalty by the batch size (0 for an empty batch).
            batch = y.shape[0]
            self._activity_loss = (float(self.activity_regularizer(y)) / batch if batch
                                   else 0.0)
        if training:
            # What backward() needs; copies, so later changes to the caller's
            # arrays (or to a reused out=) cannot corrupt the gradients.
            self._saved = (np.array(x), np.array(y), threads, weights)
        return y

    # ----------------------------------------------------------- prepared calls
    def prepare(self, input_shape: Sequence[int],
                num_threads: Optional[int] = None) -> Any:
        """A call of this layer for inputs of exactly ``input_shape``, made ready.

        Returns a callable ``prepared(x, out=None)`` that computes
        ``layer(x, out=out)``: the plan (geometry, tile, threads) is made here,
        once, and a call checks only that ``x`` (and ``out``) have the
        prepared shape, the layer's dtype and a C-contiguous layout before the
        kernel runs; any other input goes through the layer's usual
        validation and conversion (and a wrong shape is a ValueError).  It
        always uses the layer's current weights.  Prepared calls are for
        inference: they record no activity loss and keep nothing for
        ``backward``.  Builds the layer if it is not built yet.

        Parameters
        ----------
        input_shape : tuple of 3 ints
            (batch, steps, channels), or (batch, channels, steps) for
            channels_first; every entry known.
        num_threads : int, optional
            Threads of every call; default OpenMP's max threads now.

        Examples
        --------
        >>> import numpy as np, sepconv
        >>> layer = sepconv.SeparableConv1D(8, 3, padding="same", activation="relu")
        >>> run = layer.prepare((1, 16, 8))
        >>> x = np.ones((1, 16, 8), np.float32)
        >>> y = run(x)
        >>> bool(np.array_equal(y, layer(x)))
        True
        """
        if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
            raise TypeError(f"Argument `input_shape` must be a tuple of 3 ints, received "
                            f"input_shape={input_shape!r}.")
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(f"Argument `input_shape` must have 3 entries, received "
                             f"input_shape={input_shape!r}.")
        shape = tuple(normalize_int(value, f"input_shape[{i}]", minimum=0,
                                    maximum=arrays.MAX_ELEMENTS)
                      for i, value in enumerate(shape))
        if shape[0] * shape[1] * shape[2] > arrays.MAX_ELEMENTS:
            raise ValueError(f"Argument `input_shape` is too large: {shape} holds more than "
                             f"{arrays.MAX_ELEMENTS} elements.")
        if self.built:
            if shape[self._channels_axis] != self.input_channels:
                raise ValueError(f"Argument `input_shape` must have {self.input_channels} "
                                 f"channels on axis {self._channels_axis % 3}, received "
                                 f"input_shape={input_shape!r}.")
        else:
            self.build(shape)
        kernels = functional.kernel_module()
        threads = functional.check_num_threads(num_threads, kernels)
        return self._prepare_plan(self._plan(shape, threads, kernels), kernels, threads)

    def stream(self, batch_size: int = 1, num_threads: Optional[int] = None,
               steps: Optional[int] = None) -> Any:
        """A stream of this layer: feed a sequence chunk by chunk, bitwise equal to
        ``layer(x)`` on the whole sequence.

        ``stream.push(chunk)`` takes any number of new steps (in the layer's
        ``data_format``) and returns the output steps they complete;
        ``stream.flush()`` returns the rest ('same' padding) and starts a new
        sequence; ``stream.delay`` is the lookahead in input steps; ``stream.state``
        reads and restores the kept input steps.  The stream uses the layer's
        current weights at every push; it records no activity loss.

        Parameters
        ----------
        batch_size : int, default 1
            Sequences pushed side by side.
        num_threads : int, optional
            Threads of each push (default OpenMP's max threads now).
        steps : int, optional
            The sequence's total length; needed only by a 'same' layer with
            ``strides > 1`` whose padding depends on it (Keras's rule), and checked
            at ``flush()`` when given.

        Examples
        --------
        >>> import numpy as np, sepconv
        >>> layer = sepconv.SeparableConv1D(4, 3, padding="same", input_shape=(None, 2))
        >>> x = np.random.default_rng(0).standard_normal((1, 10, 2)).astype(np.float32)
        >>> stream = layer.stream()
        >>> parts = [stream.push(x[:, :4]), stream.push(x[:, 4:]), stream.flush()]
        >>> bool(np.array_equal(np.concatenate(parts, axis=1), layer(x)))
        True
        """
        from .streaming import Stream

        if not self.built:
            raise ValueError("stream() needs a built layer: call build() or the layer "
                             "first, or make it with input_shape=.")
        return Stream(self, self._spec, self.input_channels, self._mixed, self.name,
                      batch_size, num_threads, steps)

    def _prepare_plan(self, plan, kernels, threads):
        """A kernels.Prepared for ``plan`` (made for ``threads`` threads, which
        the plan may have cut to its work items): the layer's conversions as
        its slow paths."""
        bound = plan.forward
        shape, out_shape, dtype = bound.input_shape, plan.output_shape, self._np_dtype
        mixed, post_activation = self._mixed, plan.post_activation

        def convert(inputs):
            x = arrays.check_input(arrays.real_array(inputs, "x"), dtype,
                                   self.input_channels, self._spec.channels_first)
            if x.shape != shape:
                raise ValueError(f"This prepared call takes inputs of shape {shape}, "
                                 f"received shape {x.shape}: prepare() another shape, or "
                                 f"call the layer.")
            return x if mixed is None else precision.round_to(x, mixed)

        def check_out(out, x):
            arrays.check_out(out, out_shape, dtype, x)

        finish = None
        if post_activation is not None or mixed is not None:
            def finish(y):
                if post_activation is not None:
                    y = apply_activation(post_activation, y)
                return y if mixed is None else precision.cast_output(y, mixed)
        nbytes = np.dtype(dtype).itemsize
        for size in out_shape:
            nbytes *= size
        allocate = arrays.empty if nbytes >= arrays.ALIGNED_FROM else None
        return kernels.Prepared(bound, self, kernels, convert, check_out, finish,
                                mixed is not None, allocate, threads)

    def _forget_plans(self):
        """Drop every cached plan and prepared call (a new blocking was recorded)."""
        self._plans = {}
        self._prepared = {}
        self._last = None

    def _remember(self, key, prepared):
        if len(self._prepared) > 64:
            self._prepared = {}
        self._prepared[key] = prepared
        self._last = prepared

    def backward(self, dy: ArrayLike, include_regularization: bool = True,
                 num_threads: Optional[int] = None
                 ) -> Tuple[np.ndarray, List[np.ndarray]]:
        """Gradients for the last ``layer(x, training=True)`` call.

        Returns ``(dx, grads)``: ``dx`` has the input's layout, ``grads`` is
        aligned with ``trainable_weights`` (depthwise, pointwise, bias).  With
        ``include_regularization`` the weight regularizers' gradients and the
        activity regularizer's (through the layer) are included.
        """
        from . import backward as _backward

        if self._saved is None:
            raise ValueError("backward() needs a forward call with training=True first: "
                             "call layer(x, training=True).")
        x, y, threads, weights = self._saved
        dy = arrays.real_array(dy, "dy")
        if dy.shape != y.shape:
            raise ValueError(f"Argument `dy` must have the output's shape {y.shape}, "
                             f"received shape {dy.shape}.")
        dy = np.asarray(dy, dtype=self._np_dtype)
        if include_regularization and self.activity_regularizer is not None and y.shape[0]:
            penalty = np.asarray(self.activity_regularizer.gradient(y), dtype=np.float64)
            dy = dy + np.asarray(penalty / y.shape[0], dtype=self._np_dtype)
        kernels = functional.kernel_module()
        threads = threads if num_threads is None else functional.check_num_threads(
            num_threads, kernels)
        depthwise, pointwise, _ = weights
        name = activations.name_of(self.activation)
        if name == "linear":
            dz = dy
        elif name == "relu":  # relu'(z) from y alone: y > 0 exactly where z > 0
            dz = dy * (y > 0)
        else:
            plan = self._spec.without_activation().plan(x.shape, threads, kernels)
            z = plan.run(x, weights.packed(kernels),
                         np.empty(plan.output_shape, dtype=self._np_dtype))
            dz = _backward.pre_activation_gradient(self.activation, z, dy)
        pad_left = self._spec.geometry(self._spec.split(x.shape)[1]).pad_left
        dx, d_depthwise, d_pointwise, d_bias = _backward.convolution_backward(
            self._spec, x, np.ascontiguousarray(dz, dtype=self._np_dtype), depthwise,
            pointwise, pad_left, threads, kernels)
        grads = [d_depthwise, d_pointwise] + ([d_bias] if self.use_bias else [])
        if include_regularization:
            regs = (self.depthwise_regularizer, self.pointwise_regularizer,
                    self.bias_regularizer)
            for i, (reg, weight) in enumerate(zip(regs, weights)):
                if reg is not None and weight is not None:
                    grads[i] = grads[i] + np.asarray(reg.gradient(weight), dtype=self._np_dtype)
        return dx, (grads if self.trainable else [])

    # ------------------------------------------------------ losses, constraints
    @property
    def losses(self) -> List[float]:
        """Keras's order: the activity penalty of the last call (divided by its batch
        size), then the penalties of the trainable weights (none when the layer is
        not trainable)."""
        result = []
        if self._activity_loss is not None:
            result.append(self._activity_loss)
        if self.built and self.trainable:
            pairs = ((self.depthwise_regularizer, self._weights[0]),
                     (self.pointwise_regularizer, self._weights[1]),
                     (self.bias_regularizer, self._weights[2]))
            result.extend(float(reg(w)) for reg, w in pairs if reg is not None and w is not None)
        return result

    def apply_constraints(self) -> None:
        """Project the weights with their constraints (after an update)."""
        if not self.built:
            return
        projected = []
        for constraint, weight in zip((self.depthwise_constraint, self.pointwise_constraint,
                                       self.bias_constraint), self._weights):
            if constraint is None or weight is None:
                projected.append(weight)
            else:
                projected.append(np.asarray(constraint(np.array(weight)), dtype=self.dtype))
        for new, old in zip(projected, self._weights):
            if new is not None and new.shape != old.shape:
                raise ValueError(f"A constraint changed a weight's shape from {old.shape} "
                                 f"to {new.shape}.")
        self._assign(self.input_channels, *projected)

    # ----------------------------------------------------------------- pickling
    def __getstate__(self):
        """Everything but the plan cache, which holds this process's kernel entry
        points; the unpickled layer plans (and packs) again on its first call."""
        state = dict(self.__dict__)
        state["_plans"] = {}
        state["_prepared"] = {}
        state["_last"] = None
        return state

    def __setstate__(self, state):
        state.setdefault("_last", None)  # pickles made before the field existed
        self.__dict__.update(state)

    # ------------------------------------------------------------------- config
    def get_config(self) -> Dict[str, Any]:
        """Keras 3's config dict for this layer."""
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": {"module": "keras", "class_name": "DTypePolicy",
                      "config": {"name": self.dtype_policy}, "registered_name": None},
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "depth_multiplier": self.depth_multiplier,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "SeparableConv1D":
        """A layer from a config dict (its own, or a real Keras 3 get_config())."""
        if not isinstance(config, dict):
            raise TypeError(f"Argument `config` must be a dict, received "
                            f"{type(config).__name__}.")
        return cls(**config)

    @classmethod
    def from_keras(cls, keras_layer: Any) -> "SeparableConv1D":
        """A sepconv layer with a ``keras.layers.SeparableConv1D``'s config and weights.

        ``keras_layer`` may be built or not (then the sepconv layer is unbuilt too).
        """
        if isinstance(keras_layer, SeparableConv1D):
            raise TypeError("from_keras() needs a keras.layers.SeparableConv1D, received a "
                            "sepconv.SeparableConv1D (already converted).")
        if not hasattr(keras_layer, "get_config") or not hasattr(keras_layer, "get_weights"):
            raise TypeError(f"from_keras() needs a keras.layers.SeparableConv1D, received "
                            f"{type(keras_layer).__name__}.")
        if not any(kind.__name__ in KERAS_CLASS_NAMES for kind in type(keras_layer).__mro__):
            raise TypeError(f"from_keras() needs a keras.layers.SeparableConv1D, received a "
                            f"{type(keras_layer).__name__}.")
        layer = cls.from_config(dict(keras_layer.get_config()))
        if getattr(keras_layer, "built", False):
            weights = [np.asarray(w) for w in keras_layer.get_weights()]
            if weights:
                layer.set_weights(weights)
        return layer

    def to_keras(self) -> Any:
        """A ``keras.layers.SeparableConv1D`` with this layer's config (and weights if built).

        Built for inputs with this layer's channel count (any number of steps)
        when this layer is built.  Needs Keras 3.
        """
        try:
            import keras
        except ImportError as exc:
            raise ImportError(f"Converting to Keras layers needs Keras 3, which is not "
                              f"installed: {_KERAS_HINT}") from exc
        keras_layer = keras.layers.SeparableConv1D.from_config(self.get_config())
        if self.built:
            channels = self.input_channels
            shape = ((None, channels, None) if self._spec.channels_first
                     else (None, None, channels))
            keras_layer.build(shape)
            keras_layer.set_weights(self.get_weights())
        return keras_layer

    def __repr__(self):
        return (f"SeparableConv1D(name={self.name!r}, filters={self.filters}, "
                f"kernel_size={self.kernel_size}, strides={self.strides}, "
                f"padding={self.padding!r}, data_format={self.data_format!r}, "
                f"dilation_rate={self.dilation_rate}, "
                f"depth_multiplier={self.depth_multiplier}, "
                f"activation={activations.serialize(self.activation)!r}, "
                f"dtype={self.dtype!r})")


# The class statement's class calls through LayerCall's vectorcall (Python
# 3.9-3.11 do not pass it on; __init_subclass__ does this for subclasses).
inherit_call(SeparableConv1D)
