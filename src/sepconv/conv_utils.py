"""Argument normalisation and the output-length rule, in one place.

Every part of sepconv that needs the output length or the left padding (the
layer, the functional form, the tests' reference) calls :func:`conv_geometry`,
so the rule is written once.
"""

from __future__ import annotations

import math
import numbers
import operator

__all__ = ["normalize_int", "normalize_real", "normalize_tuple", "normalize_padding",
           "normalize_data_format", "conv_geometry", "padding_amounts", "Geometry",
           "MAX_ARGUMENT", "MAX_SPAN"]

#: Largest value of an integer argument (filters, kernel_size, strides,
#: dilation_rate, depth_multiplier, num_threads): C int range.  With element
#: counts bounded by sepconv.arrays.MAX_ELEMENTS (2**59 on 64-bit) and the
#: dilated kernel by MAX_SPAN, every offset a kernel computes, such as
#: (out_steps + tile) * stride + span + pad_left, stays below 2**61.
MAX_ARGUMENT = 2**31 - 1

#: Largest dilated kernel, (kernel_size - 1) * dilation_rate + 1 steps.
MAX_SPAN = 2**40


def normalize_int(value, name, minimum=1, maximum=MAX_ARGUMENT):
    """An integer argument in [minimum, maximum]; bools and floats are rejected."""
    if type(value) is int and minimum <= value and (maximum is None or value <= maximum):
        return value  # the common case, without the ABC checks below
    if isinstance(value, (bool,)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument `{name}` must be an integer, received {name}={value!r} "
                        f"of type {type(value).__name__}.")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"Argument `{name}` must be >= {minimum}, received {name}={value!r}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"Argument `{name}` must be <= {maximum}, received {name}={value!r}.")
    return value


def normalize_real(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real number as a Python float within the given bounds.

    Bools, non-numbers, NaN and infinities are rejected; ``low``/``high`` are
    inclusive unless ``low_open``/``high_open``.  The ValueError names the
    argument and the value received.
    """
    if (isinstance(value, bool) or type(value).__name__ == "bool_"
            or not isinstance(value, numbers.Real) or not math.isfinite(float(value))):
        raise ValueError(f"Argument `{name}` must be a finite real number. "
                         f"Received: {name}={value!r}")
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        interval = (f"{'(' if low_open or low is None else '['}"
                    f"{'-inf' if low is None else low}, {'inf' if high is None else high}"
                    f"{')' if high_open or high is None else ']'}")
        raise ValueError(f"Argument `{name}` must be in {interval}. "
                         f"Received: {name}={value!r}")
    return number


def normalize_tuple(value, name):
    """Keras's int-or-1-tuple arguments (kernel_size, strides, dilation_rate) -> int > 0."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"Argument `{name}` must be an int or a tuple/list of 1 int, "
                             f"received {name}={value!r}.")
        item = value[0]
    else:
        item = value
    try:
        item = normalize_int(item, name, maximum=None)
    except TypeError:
        raise TypeError(f"Argument `{name}` must be an int or a tuple/list of 1 int, "
                        f"received {name}={value!r}.") from None
    except ValueError:
        raise ValueError(f"Argument `{name}` must be > 0, received {name}={value!r}.") from None
    if item > MAX_ARGUMENT:
        raise ValueError(f"Argument `{name}` must be <= {MAX_ARGUMENT}, received "
                         f"{name}={value!r}.")
    return item


def normalize_padding(value):
    """'valid' or 'same', case-insensitive."""
    if not isinstance(value, str):
        raise ValueError(f"Argument `padding` must be 'valid' or 'same' (a string), "
                         f"received padding={value!r} of type {type(value).__name__}.")
    lowered = value.lower()
    if lowered not in ("valid", "same"):
        raise ValueError(f"Argument `padding` must be 'valid' or 'same' (case-insensitive), "
                         f"received padding={value!r}.")
    return lowered


def normalize_data_format(value):
    """'channels_last' or 'channels_first'; None reads sepconv.config."""
    if value is None:
        from . import config
        return config.image_data_format()
    if not isinstance(value, str) or value.lower() not in ("channels_last", "channels_first"):
        raise ValueError(f"Argument `data_format` must be 'channels_last' or "
                         f"'channels_first', received data_format={value!r}.")
    return value.lower()


class Geometry(tuple):
    """(out_steps, pad_left) of a 1-D convolution."""

    __slots__ = ()

    def __new__(cls, out_steps, pad_left):
        return tuple.__new__(cls, (out_steps, pad_left))

    out_steps = property(operator.itemgetter(0))
    pad_left = property(operator.itemgetter(1))


def conv_geometry(steps, kernel_size, strides, dilation_rate, padding):
    """Output length and left padding, Keras's rule.

    'same':  out = ceil(steps / strides); the total padding
             max((out - 1) * strides + (kernel_size - 1) * dilation_rate + 1 - steps, 0)
             is split with the smaller half on the left.
    'valid': out = floor((steps - (kernel_size - 1) * dilation_rate - 1) / strides) + 1,
             and a ValueError when the steps are shorter than the dilated kernel.
    """
    span = (kernel_size - 1) * dilation_rate + 1
    if padding == "same":
        out_steps = -(-steps // strides)
        total = max((out_steps - 1) * strides + span - steps, 0)
        return Geometry(out_steps, total // 2)
    if steps < span:
        raise ValueError(
            f"Computed output size would be zero or negative: received steps={steps} "
            f"with kernel_size={kernel_size}, dilation_rate={dilation_rate} (a dilated "
            f"kernel of {span} steps), strides={strides} and padding='valid'.")
    return Geometry((steps - span) // strides + 1, 0)


def padding_amounts(steps, kernel_size, strides, dilation_rate, padding):
    """(pad_left, pad_right): the zeros Keras's rule adds on each side.

    Derived from :func:`conv_geometry`: the right side is whatever the last
    window needs past the input once the left padding is placed.
    """
    out_steps, pad_left = conv_geometry(steps, kernel_size, strides, dilation_rate, padding)
    needed = (out_steps - 1) * strides + (kernel_size - 1) * dilation_rate + 1
    return pad_left, max(needed - steps - pad_left, 0)
