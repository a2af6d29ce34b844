"""Type aliases for the public API's annotations."""

from __future__ import annotations

import os
from typing import Sequence, Union

import numpy as np

#: Anything NumPy converts to an array.
ArrayLike = Union[np.ndarray, Sequence, float, int]
#: Keras's int-or-1-tuple arguments.
IntOrTuple = Union[int, Sequence[int]]
#: A file system path.
PathLike = Union[str, "os.PathLike[str]"]
