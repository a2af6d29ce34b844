"""sepconv: Keras 3's SeparableConv1D as a Cython extension with OpenMP and SIMD kernels.

>>> import numpy as np, sepconv
>>> layer = sepconv.SeparableConv1D(3, 4, 3, "same", activation="relu")
>>> layer(np.random.rand(4, 10, 12)).shape
(4, 4, 3)
"""

from . import activations, config, constraints, initializers, optimizers, regularizers
from ._version import __version__
from .backward import separable_conv1d_backward
from .functional import separable_conv1d
from .keras_io import list_layers, load_keras
from .info import show_config
from .layer import SeparableConv1D
from .streaming import Stream, separable_conv1d_stream
from .autotune import tune

__all__ = ["SeparableConv1D", "separable_conv1d", "separable_conv1d_backward",
           "separable_conv1d_stream", "Stream", "tune",
           "load_keras", "list_layers", "show_config", "activations",
           "config", "constraints", "initializers", "optimizers", "regularizers",
           "__version__"]


def __dir__():
    """The public API only (internal modules stay importable, but unlisted)."""
    return sorted(__all__)
