"""Weight initializers with Keras 3's names, arguments, defaults and configs.

Every initializer is a callable ``init(shape, dtype="float32")`` that returns
a NumPy array of exactly ``shape`` and ``dtype``.  The random ones draw from
:class:`numpy.random.Generator`, so values follow Keras's distributions but are
not bit-for-bit equal to Keras's (which uses its backend's generator).

Seeding
-------
* ``seed=<int>``: each call builds a fresh generator from the seed, so the
  initializer returns identical values on every call, and two initializers
  built with the same seed agree (this is what Keras 3 documents for integer
  seeds).
* ``seed=None``: values are drawn from one module-level generator, so every
  call gives fresh values.

Lookup and serialisation
------------------------
:func:`get` accepts None, a registered name (CamelCase class name, its
snake_case form, or one of Keras's aliases such as ``"uniform"``), a Keras
config dict, an instance, a class, or any other callable.  :func:`serialize`
writes the same ``{"module", "class_name", "config", "registered_name"}``
dict that Keras writes, and :func:`deserialize` reads it back.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .conv_utils import normalize_real

from ._registry import KerasObject, Registry

__all__ = [
    "Initializer",
    "Constant",
    "Zeros",
    "Ones",
    "Identity",
    "STFT",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "Orthogonal",
    "compute_fans",
    "get",
    "serialize",
    "deserialize",
    "REGISTRY",
]

REGISTRY = Registry("initializer", "keras.initializers")

# Standard deviation of a standard normal truncated to [-2, 2]; dividing by it
# makes a 2-sigma truncated normal have the requested standard deviation.
TRUNCATED_NORMAL_STDDEV_FACTOR = 0.87962566103423978

_DEFAULT_DTYPE = "float32"

# Draws for unseeded initializers.  One shared generator, so successive calls
# (and successive unseeded initializers) give different values.
_GLOBAL_RNG = np.random.default_rng()


# ---------------------------------------------------------------------------
# small validation helpers
# ---------------------------------------------------------------------------
def _plain(value):
    """NumPy scalars -> Python scalars, so configs stay JSON-friendly."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _normalize_shape(shape):
    """A tuple of non-negative Python ints, or ValueError naming ``shape``."""
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        dims = (shape,)
    else:
        try:
            dims = tuple(shape)
        except TypeError:
            raise ValueError(
                f"`shape` must be a tuple of non-negative integers. Received: shape={shape!r}"
            ) from None
    out = []
    for dim in dims:
        if (
            isinstance(dim, (bool, np.bool_))
            or not isinstance(dim, (numbers.Integral, np.integer))
            or dim < 0
        ):
            raise ValueError(
                f"`shape` must be a tuple of non-negative integers. Received: shape={shape!r}"
            )
        out.append(int(dim))
    return tuple(out)


def _normalize_dtype(dtype, *, floating=False):
    if dtype is None:
        dtype = _DEFAULT_DTYPE
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"Unsupported dtype: received dtype={dtype!r}") from None
    if floating and not np.issubdtype(dt, np.floating):
        raise ValueError(
            "This initializer only produces floating-point values; received "
            f"dtype={dtype!r}"
        )
    return dt


def _normalize_seed(seed):
    """Validate a seed: None or an integer (Keras also accepts negative ints)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise ValueError(
            "Argument `seed` must be None or an integer. Received: " f"seed={seed!r}"
        )
    return int(seed)


def _normalize_axes(axes, name):
    """None, or a tuple of ints given as an int or a sequence of ints."""
    if axes is None:
        return None
    if isinstance(axes, (numbers.Integral, np.integer)) and not isinstance(axes, bool):
        return (int(axes),)
    try:
        items = tuple(axes)
    except TypeError:
        items = None
    if items is None or not items or any(
        isinstance(a, (bool, np.bool_)) or not isinstance(a, (numbers.Integral, np.integer))
        for a in items
    ):
        raise ValueError(
            f"Argument `{name}` must be None, an integer or a non-empty sequence of "
            f"integers. Received: {name}={axes!r}"
        )
    return tuple(int(a) for a in items)


# ---------------------------------------------------------------------------
# fans
# ---------------------------------------------------------------------------
def compute_fans(shape, input_axes=None, output_axes=None):
    """``(fan_in, fan_out)`` of a weight shape, computed as Keras does.

    Scalars: (1, 1).  1-D ``(n,)``: (n, n).  2-D ``(in, out)``: (in, out).
    Higher ranks are convolution kernels ``(*spatial, in, out)``: both fans
    are multiplied by the receptive-field size ``prod(spatial)``; for a
    SeparableConv1D kernel ``(k, in, out)`` that is ``(k*in, k*out)``.

    ``input_axes`` / ``output_axes`` (both or neither) name the axes holding
    the input and output units explicitly; every axis in neither list is
    treated as a receptive-field axis and multiplies both fans.
    """
    shape = _normalize_shape(shape)
    input_axes = _normalize_axes(input_axes, "input_axes")
    output_axes = _normalize_axes(output_axes, "output_axes")
    if input_axes is None and output_axes is None:
        if len(shape) == 0:
            fan_in = fan_out = 1
        elif len(shape) == 1:
            fan_in = fan_out = shape[0]
        elif len(shape) == 2:
            fan_in, fan_out = shape
        else:
            receptive = math.prod(shape[:-2])
            fan_in = shape[-2] * receptive
            fan_out = shape[-1] * receptive
        return int(fan_in), int(fan_out)
    if input_axes is None or output_axes is None:
        raise ValueError(
            "`input_axes` and `output_axes` must be given together. Received: "
            f"input_axes={input_axes!r}, output_axes={output_axes!r}"
        )
    rank = len(shape)

    def resolve(axes, name):
        out = []
        for a in axes:
            if not -rank <= a < rank:
                raise ValueError(
                    f"Axis {a} in `{name}` is out of range for shape={shape!r}"
                )
            out.append(a % rank)
        return out

    ins, outs = resolve(input_axes, "input_axes"), resolve(output_axes, "output_axes")
    if len(set(ins)) != len(ins) or len(set(outs)) != len(outs) or set(ins) & set(outs):
        raise ValueError(
            "`input_axes` and `output_axes` must be distinct axes. Received: "
            f"input_axes={input_axes!r}, output_axes={output_axes!r}"
        )
    receptive = math.prod(shape[i] for i in range(rank) if i not in ins and i not in outs)
    fan_in = math.prod(shape[i] for i in ins) * receptive
    fan_out = math.prod(shape[i] for i in outs) * receptive
    return int(fan_in), int(fan_out)


# ---------------------------------------------------------------------------
# base classes
# ---------------------------------------------------------------------------
@REGISTRY.register("Initializer", "initializer")
class Initializer(KerasObject):
    """Base class: a callable ``init(shape, dtype=None) -> np.ndarray``.

    Subclasses implement ``__call__`` and ``get_config``; ``from_config``
    rebuilds an instance from ``get_config()``'s output.
    """

    registry = REGISTRY

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            f"Initializer subclass {type(self).__name__} must implement __call__()"
        )

    def clone(self):
        return type(self).from_config(self.get_config())


class RandomInitializer(Initializer):
    """Base of the random initializers: stores and validates ``seed``."""

    def __init__(self, seed=None):
        self.seed = _normalize_seed(seed)

    def _generator(self):
        if self.seed is None:
            return _GLOBAL_RNG
        # Two's-complement mapping keeps negative seeds valid and distinct.
        return np.random.default_rng(self.seed & 0xFFFFFFFFFFFFFFFF)

    def get_config(self):
        return {"seed": self.seed}


def _truncated_standard_normal(rng, shape):
    """Standard normal draws, each redrawn until it lies within [-2, 2]."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out


# ---------------------------------------------------------------------------
# constant initializers
# ---------------------------------------------------------------------------
@REGISTRY.register("Constant", "constant")
class Constant(Initializer):
    """Fills the tensor with one scalar ``value`` (cast to the dtype)."""

    def __init__(self, value=0.0):
        value = _plain(value)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if not isinstance(value, (numbers.Number, bool)):
            raise ValueError(
                "Argument `value` of Constant must be a scalar number. Received: "
                f"value={value!r}"
            )
        self.value = value

    def __call__(self, shape, dtype=None):
        shape = _normalize_shape(shape)
        dt = _normalize_dtype(dtype)
        return np.full(shape, np.asarray(self.value).astype(dt), dtype=dt)

    def get_config(self):
        return {"value": self.value}


@REGISTRY.register("Zeros", "zeros", "zero")
class Zeros(Initializer):
    """Fills the tensor with 0."""

    def __call__(self, shape, dtype=None):
        return np.zeros(_normalize_shape(shape), dtype=_normalize_dtype(dtype))


@REGISTRY.register("Ones", "ones", "one")
class Ones(Initializer):
    """Fills the tensor with 1."""

    def __call__(self, shape, dtype=None):
        return np.ones(_normalize_shape(shape), dtype=_normalize_dtype(dtype))


@REGISTRY.register("Identity", "identity", "IdentityInitializer")
class Identity(Initializer):
    """``gain`` times the (possibly rectangular) identity matrix; 2-D only."""

    def __init__(self, gain=1.0):
        self.gain = normalize_real(gain, "gain")

    def __call__(self, shape, dtype=None):
        dims = _normalize_shape(shape)
        if len(dims) != 2:
            raise ValueError(
                "The Identity initializer can only build 2-D matrices. Received: "
                f"shape={shape!r} of rank {len(dims)}."
            )
        dt = _normalize_dtype(dtype)
        return (self.gain * np.eye(dims[0], dims[1])).astype(dt)

    def get_config(self):
        return {"gain": self.gain}


_NATIVE_WINDOWS = {"hann", "hamming", "boxcar"}


def _window_values(name, length, periodic):
    """Window samples; hann/hamming/boxcar natively, other names via SciPy."""
    if name in _NATIVE_WINDOWS:
        if name == "boxcar":
            return np.ones(length)
        if length == 1:
            return np.ones(1)
        period = length if periodic else length - 1
        phase = 2.0 * np.pi * np.arange(length) / period
        a0 = 0.5 if name == "hann" else 0.54
        return a0 - (1.0 - a0) * np.cos(phase)
    try:
        from scipy import signal
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValueError(
            f"Window {name!r} needs SciPy; without it only "
            f"{sorted(_NATIVE_WINDOWS)} are available."
        ) from None
    return np.asarray(signal.get_window(name, length, fftbins=periodic), dtype=np.float64)


@REGISTRY.register("STFT", "stft", "STFTInitializer")
class STFT(Initializer):
    """Kernel of a short-time Fourier transform as a convolution (Keras's STFT).

    For a kernel of shape ``(T, C, F)`` entry ``[t, c, f]`` is
    ``cos(-2*pi*t*f / (2*(F-1)))`` (``side="real"``) or its sine
    (``side="imag"``), times ``window[t]`` divided by the window's L2 norm
    (``scaling="density"``) or L1 norm (``scaling="spectrum"``).
    ``window`` is a name (hann, hamming, boxcar natively; any
    ``scipy.signal.get_window`` name when SciPy is installed), an array of
    length ``T``, or None.

    Parameters
    ----------
    side : {'real', 'imag'}, default 'real'
        The real (cosine) or imaginary (sine) part of the transform.
    window : str or None, default 'hann'
        A window name ('hann', 'hamming', 'boxcar' built in; others through SciPy).
    scaling : {'density', 'spectrum'} or None, default 'density'
    periodic : bool, default False
        A periodic rather than symmetric window.
    """

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ("real", "imag"):
            raise ValueError(f"Argument `side` must be 'real' or 'imag'. Received: side={side!r}")
        if isinstance(window, str):
            _window_values(window, 1, False)  # fails early for unknown names
        elif window is not None:
            values = np.asarray(window)
            if values.ndim != 1 or not np.issubdtype(values.dtype, np.number):
                raise ValueError(
                    "Argument `window` must be a window name, a 1-D array of numbers "
                    f"or None. Received: window={window!r}"
                )
            if isinstance(window, np.ndarray):
                window = window.tolist()
        if scaling not in (None, "density", "spectrum"):
            raise ValueError(
                "Argument `scaling` must be None, 'density' or 'spectrum'. "
                f"Received: scaling={scaling!r}"
            )
        if not isinstance(periodic, (bool, np.bool_)):
            raise ValueError(f"Argument `periodic` must be a bool. Received: periodic={periodic!r}")
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = bool(periodic)

    def __call__(self, shape, dtype=None):
        dims = _normalize_shape(shape)
        if len(dims) != 3:
            raise ValueError(
                "The STFT initializer builds kernels of shape (frame_length, "
                f"channels, fft_bins). Received: shape={shape!r}"
            )
        dt = _normalize_dtype(dtype, floating=True)
        frame_length, _, bins = dims
        time = np.arange(frame_length, dtype=np.float64).reshape(frame_length, 1, 1)
        freq = np.arange(bins, dtype=np.float64).reshape(1, 1, bins)
        with np.errstate(divide="ignore", invalid="ignore"):
            angle = -2.0 * np.pi * time * freq / ((bins - 1) * 2)
        kernel = np.cos(angle) if self.side == "real" else np.sin(angle)
        if self.window is not None:
            if isinstance(self.window, str):
                win = _window_values(self.window, frame_length, self.periodic)
            else:
                win = np.asarray(self.window, dtype=np.float64)
            if win.shape != (frame_length,):
                raise ValueError(
                    f"The window must have shape ({frame_length},) to match "
                    f"shape={shape!r}. Received a window of shape {win.shape}."
                )
            if self.scaling == "density":
                norm = np.sqrt(np.sum(win**2))
            elif self.scaling == "spectrum":
                norm = np.sum(np.abs(win))
            else:
                norm = 1.0
            kernel = kernel * win.reshape(frame_length, 1, 1) / norm
        return np.broadcast_to(kernel, dims).astype(dt)

    def get_config(self):
        return {
            "side": self.side,
            "window": self.window,
            "periodic": self.periodic,
            "scaling": self.scaling,
        }


# ---------------------------------------------------------------------------
# random initializers
# ---------------------------------------------------------------------------
@REGISTRY.register("RandomNormal", "random_normal", "normal")
class RandomNormal(RandomInitializer):
    """Normal draws with the given ``mean`` and ``stddev``.

    Parameters
    ----------
    mean, stddev : float, default 0.0 and 0.05
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = normalize_real(mean, "mean")
        self.stddev = normalize_real(stddev, "stddev", low=0.0)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _normalize_shape(shape)
        dt = _normalize_dtype(dtype, floating=True)
        z = self._generator().standard_normal(shape)
        return (self.mean + self.stddev * z).astype(dt)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


@REGISTRY.register("TruncatedNormal", "truncated_normal")
class TruncatedNormal(RandomInitializer):
    """Normal draws redrawn until within two ``stddev`` of ``mean``.

    Parameters
    ----------
    mean, stddev : float, default 0.0 and 0.05
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = normalize_real(mean, "mean")
        self.stddev = normalize_real(stddev, "stddev", low=0.0)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _normalize_shape(shape)
        dt = _normalize_dtype(dtype, floating=True)
        z = _truncated_standard_normal(self._generator(), shape)
        return (self.mean + self.stddev * z).astype(dt)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


@REGISTRY.register("RandomUniform", "random_uniform", "uniform")
class RandomUniform(RandomInitializer):
    """Uniform draws in ``[minval, maxval)``.

    Parameters
    ----------
    minval, maxval : float, default -0.05 and 0.05
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = normalize_real(minval, "minval")
        self.maxval = normalize_real(maxval, "maxval")
        if self.maxval < self.minval:
            raise ValueError(
                "Argument `maxval` must not be smaller than `minval`. Received: "
                f"minval={minval!r}, maxval={maxval!r}"
            )
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _normalize_shape(shape)
        dt = _normalize_dtype(dtype, floating=True)
        u = self._generator().random(shape)
        out = (self.minval + (self.maxval - self.minval) * u).astype(dt)
        # Rounding to a narrow dtype can land on maxval; keep the bound.
        return np.clip(out, dt.type(self.minval), dt.type(self.maxval))

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


@REGISTRY.register("VarianceScaling", "variance_scaling")
class VarianceScaling(RandomInitializer):
    """Draws whose variance is ``scale / n``, ``n`` set by ``mode`` from the fans.

    ``n`` is ``max(1, fan_in)``, ``max(1, fan_out)`` or
    ``max(1, (fan_in + fan_out) / 2)`` (see :func:`compute_fans`).

    * ``"truncated_normal"`` (``"normal"`` is accepted as its alias): a normal
      truncated at two standard deviations, with pre-truncation stddev
      ``sqrt(scale / n) / 0.87962566103423978`` so the result has variance
      ``scale / n``.
    * ``"untruncated_normal"``: a normal with stddev ``sqrt(scale / n)``.
    * ``"uniform"``: uniform in ``[-limit, limit]``, ``limit = sqrt(3 * scale / n)``.

    Parameters
    ----------
    scale : float, default 1.0
    mode : {'fan_in', 'fan_out', 'fan_avg'}, default 'fan_in'
    distribution : {'truncated_normal', 'untruncated_normal', 'uniform'}
        The distribution drawn from, default 'truncated_normal'.
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        self.scale = normalize_real(scale, "scale", low=0.0, low_open=True)
        if mode not in _MODES:
            raise ValueError(
                f"Argument `mode` must be one of {_MODES}. Received: mode={mode!r}"
            )
        if not isinstance(distribution, str):
            raise ValueError(
                f"Argument `distribution` must be one of {_DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        dist = distribution.lower()
        if dist == "normal":
            dist = "truncated_normal"
        if dist not in _DISTRIBUTIONS:
            raise ValueError(
                f"Argument `distribution` must be one of {_DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        in_axes = _normalize_axes(input_axes, "input_axes")
        out_axes = _normalize_axes(output_axes, "output_axes")
        if (in_axes is None) != (out_axes is None):
            raise ValueError(
                "`input_axes` and `output_axes` must be given together. Received: "
                f"input_axes={input_axes!r}, output_axes={output_axes!r}"
            )
        self.mode = mode
        self.distribution = dist
        self.input_axes = None if in_axes is None else list(in_axes)
        self.output_axes = None if out_axes is None else list(out_axes)
        super().__init__(seed=seed)

    def variance(self, shape):
        """The variance ``scale / n`` the draws have for ``shape``."""
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            n = max(1.0, fan_in)
        elif self.mode == "fan_out":
            n = max(1.0, fan_out)
        else:
            n = max(1.0, (fan_in + fan_out) / 2.0)
        return self.scale / n

    def __call__(self, shape, dtype=None):
        shape = _normalize_shape(shape)
        dt = _normalize_dtype(dtype, floating=True)
        variance = self.variance(shape)
        rng = self._generator()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV_FACTOR
            return (stddev * _truncated_standard_normal(rng, shape)).astype(dt)
        if self.distribution == "untruncated_normal":
            return (math.sqrt(variance) * rng.standard_normal(shape)).astype(dt)
        limit = math.sqrt(3.0 * variance)
        out = rng.uniform(-limit, limit, shape).astype(dt)
        return np.clip(out, dt.type(-limit), dt.type(limit))

    def _axes_config(self):
        return {"input_axes": self.input_axes, "output_axes": self.output_axes}

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **self._axes_config(),
        }


class _FixedVarianceScaling(VarianceScaling):
    """VarianceScaling with fixed scale/mode/distribution (Glorot, He, LeCun)."""

    _SCALE = 1.0
    _MODE = "fan_in"
    _DISTRIBUTION = "truncated_normal"

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(
            scale=self._SCALE,
            mode=self._MODE,
            distribution=self._DISTRIBUTION,
            seed=seed,
            input_axes=input_axes,
            output_axes=output_axes,
        )

    def get_config(self):
        return {"seed": self.seed, **self._axes_config()}


@REGISTRY.register("GlorotNormal", "glorot_normal")
class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``2 / (fan_in + fan_out)``."""

    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_avg", "truncated_normal"


@REGISTRY.register("GlorotUniform", "glorot_uniform")
class GlorotUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``."""

    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_avg", "uniform"


@REGISTRY.register("HeNormal", "he_normal")
class HeNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``2 / fan_in``."""

    _SCALE, _MODE, _DISTRIBUTION = 2.0, "fan_in", "truncated_normal"


@REGISTRY.register("HeUniform", "he_uniform")
class HeUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""

    _SCALE, _MODE, _DISTRIBUTION = 2.0, "fan_in", "uniform"


@REGISTRY.register("LecunNormal", "lecun_normal")
class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with variance ``1 / fan_in``."""

    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_in", "truncated_normal"


@REGISTRY.register("LecunUniform", "lecun_uniform")
class LecunUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``."""

    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_in", "uniform"


@REGISTRY.register("Orthogonal", "orthogonal", "OrthogonalInitializer")
class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``, reshaped to the kernel shape.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; the QR
    factorisation of a Gaussian matrix gives orthonormal columns (or rows, when
    there are fewer rows than columns), with signs fixed by ``diag(R)`` so the
    result is uniformly (Haar) distributed.  Needs rank >= 2.

    Parameters
    ----------
    gain : float, default 1.0
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = normalize_real(gain, "gain")
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        dims = _normalize_shape(shape)
        if len(dims) < 2:
            raise ValueError(
                "The Orthogonal initializer needs a shape of rank at least 2. "
                f"Received: shape={shape!r} of rank {len(dims)}."
            )
        dt = _normalize_dtype(dtype, floating=True)
        rows = math.prod(dims[:-1])
        cols = dims[-1]
        a = self._generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        signs = np.sign(np.diag(r))
        signs[signs == 0] = 1.0
        q = q * signs
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(dims).astype(dt)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# Keras also exposes every initializer under its snake_case name.
constant = Constant
zeros = Zeros
ones = Ones
identity = Identity
stft = STFT
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal


# ---------------------------------------------------------------------------
# get / serialize / deserialize
# ---------------------------------------------------------------------------
def serialize(initializer):
    """Keras config dict of a registered initializer instance (None -> None)."""
    return REGISTRY.serialize(initializer)


# Arguments that several initializers share, documented once and appended to
# each class's docstring (docstrings are None under python -OO).
_SEED_PARAMETER = """
    seed : int or None, default None
        None draws new values on every call; an int makes every call draw the
        same values (Keras 3's behaviour)."""
_AXES_PARAMETER = """
    input_axes, output_axes : int, sequence of ints or None, default None
        Axes whose sizes are multiplied into fan_in and fan_out (Keras's
        default: all but the last axis, and the last axis)."""
_FIXED = (GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal, LecunUniform)
for _cls in (RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling, Orthogonal) + _FIXED:
    if _cls.__doc__:
        if "Parameters\n    ----------" not in _cls.__doc__:
            _cls.__doc__ = _cls.__doc__.rstrip() + "\n\n    Parameters\n    ----------"
        _cls.__doc__ = (_cls.__doc__.rstrip() + _SEED_PARAMETER
                        + (_AXES_PARAMETER if _cls in _FIXED or _cls is VarianceScaling
                           else "") + "\n    ")


def deserialize(config, argument=None):
    """Initializer from a Keras config dict or a registered name.

    ``config`` is a Keras config dict or a registered name; ``argument`` is
    the layer argument named in error messages (e.g. "bias_initializer").
    """
    return REGISTRY.deserialize(config, argument)


def get(identifier, argument=None):
    """Resolve ``identifier`` to an initializer (None stays None).

    ``argument`` names the layer argument in error messages (for example
    ``"depthwise_initializer"``).
    """
    return REGISTRY.resolve(identifier, Initializer, deserialize, argument)


