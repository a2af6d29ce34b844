"""Keras's mixed precision policies: float32 variables, a narrower compute dtype.

``mixed_float16`` and ``mixed_bfloat16`` keep the weights in float32 and
compute in float16 / bfloat16.  sepconv's kernels are float32 and float64,
so a mixed layer rounds what Keras would cast (the input and the weights) to
the compute dtype, runs the float32 kernel, and rounds the output: results
agree with Keras to the compute dtype's precision (Keras's own arithmetic in
float16 rounds every intermediate, sepconv's only the inputs and the
result).  NumPy has float16 but no bfloat16, so a ``mixed_bfloat16`` layer
returns float32 arrays whose values are bfloat16 numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MIXED_POLICIES", "round_to", "cast_output"]

#: policy name -> compute dtype name (the variables are float32).
MIXED_POLICIES = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


def _round_bfloat16(values):
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    bits = values.view(np.uint32)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))
               & np.uint32(0xFFFF0000))
    result = rounded.view(np.float32)
    return np.where(np.isnan(values), values, result)


def round_to(values, compute):
    """``values`` (float32) rounded to the ``compute`` dtype, kept as float32."""
    if compute == "float16":
        return np.asarray(values, dtype=np.float32).astype(np.float16).astype(np.float32)
    return _round_bfloat16(values)


def cast_output(values, compute):
    """The layer's output in the compute dtype: float16, or bfloat16 values in float32."""
    if compute == "float16":
        return values.astype(np.float16)
    return _round_bfloat16(values)
