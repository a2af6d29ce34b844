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

The package is split by job: ``functions`` (the activations), ``_erf`` (the
erf fits), ``serialization`` (the name table, ``get``/``serialize``/
``deserialize``, through the same ``Registry`` as every Keras family) and
``gradients``.  It keeps Keras's name table: ``get`` turns an identifier (None,
name, config dict or callable) into a function, ``serialize`` turns a built-in
back into its name, and ``deserialize`` reads either form.  ``ELEMENTWISE``
names the activations that act on each element independently, which the
kernel may fuse into its output loop.

``gradient(activation, x, dy)`` is the backward pass: the vector-Jacobian
product dL/dx of any built-in activation (default parameters, or those of a
``functools.partial``), computed in float64 and rounded to x's dtype, with
PyTorch's values at the kinks (relu'(0) = 0 and so on; see ``gradient``).
"""

from __future__ import annotations

from .functions import (ELEMENTWISE, celu, elu, exponential, gelu, glu, hard_shrink,
                        hard_sigmoid, hard_silu, hard_swish, hard_tanh, leaky_relu, linear,
                        log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
                        soft_shrink, softmax, softplus, softsign, sparse_plus, sparse_sigmoid,
                        sparsemax, squareplus, swish, tanh, tanh_shrink, threshold)
from .gradients import gradient
from .serialization import deserialize, get, name_of, serialize

__all__ = [
    "ELEMENTWISE",
    "celu",
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "glu",
    "gradient",
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
