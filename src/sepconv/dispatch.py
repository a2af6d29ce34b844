"""Pick the kernel build that matches the running CPU (NumPy's dispatch idea).

The same kernel source is compiled once per instruction-set level.  At import
the best level whose features the CPU (and the operating system) supports is
chosen, in the order avx512 > avx2 > baseline.  ``SEPCONV_ISA`` forces one
level; a level the CPU lacks falls back to the best it has, with a warning.
"""

from __future__ import annotations

import importlib
import os
import warnings

__all__ = ["LEVELS", "REQUIRED_FEATURES", "cpu_features", "supported_levels",
           "available_levels", "load", "select_level"]

#: Levels from best to worst.
LEVELS = ("avx512", "avx2", "baseline")

#: CPU features (NumPy's names) a level's build is compiled for.
REQUIRED_FEATURES = {
    "avx512": ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL", "AVX2", "FMA3"),
    "avx2": ("AVX2", "FMA3"),
    "baseline": (),
}

_MODULES = {"baseline": "sepconv._sepconv", "avx2": "sepconv._sepconv_avx2",
            "avx512": "sepconv._sepconv_avx512"}


def cpu_features():
    """Dict of CPU feature name -> bool, as NumPy detected them at run time.

    NumPy checks both the CPU and the operating system's support for the
    wider registers, which is exactly what a build for that level needs.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:
            return {}
    return dict(__cpu_features__)


def supported_levels(features=None):
    """Levels the CPU can run, best first (the baseline is always there)."""
    features = cpu_features() if features is None else features
    return tuple(level for level in LEVELS
                 if all(features.get(name, False) for name in REQUIRED_FEATURES[level]))


def available_levels():
    """Levels that were built and that this CPU can run, best first."""
    found = []
    for level in supported_levels():
        try:
            importlib.import_module(_MODULES[level])
        except ImportError:
            continue
        found.append(level)
    return tuple(found)


def load(level):
    """The kernel module of one level (ImportError if it was not built)."""
    if level not in _MODULES:
        raise ValueError(f"Unknown instruction-set level {level!r}; expected one of {LEVELS}.")
    return importlib.import_module(_MODULES[level])


def select_level(requested=None):
    """The level to use: ``requested`` (or $SEPCONV_ISA) if possible, else the best."""
    if requested is None:
        requested = os.environ.get("SEPCONV_ISA", "").strip().lower() or None
    available = available_levels()
    if not available:
        raise ImportError("sepconv: no kernel extension could be imported; was the "
                          "package built? (pip install .)")
    if requested is None:
        return available[0]
    if requested not in LEVELS:
        raise ValueError(f"SEPCONV_ISA must be one of {LEVELS}, received {requested!r}.")
    if requested not in available:
        warnings.warn(f"sepconv: SEPCONV_ISA={requested!r} is not available on this CPU "
                      f"or build; using {available[0]!r}.", RuntimeWarning, stacklevel=2)
        return available[0]
    return requested
