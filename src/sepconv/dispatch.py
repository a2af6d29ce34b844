"""Pick the kernel build that matches the running CPU (NumPy's dispatch idea).

The same kernel source is compiled once per instruction-set level of the
target architecture (the table is ``sepconv._isa``).  At import the best
level whose features the CPU (and the operating system) supports is chosen,
in the table's order (on x86-64: avx512 > avx2 > baseline).  ``SEPCONV_ISA``
forces one level; a level the CPU lacks falls back to the best it has, with a
warning.  ``SEPCONV_THREADING=openmp`` makes the forward pass share its work
with an OpenMP loop instead of sepconv's own thread pool (the default where
POSIX threads exist).
"""

from __future__ import annotations

import importlib
import os
import warnings

from . import _fork, _isa

__all__ = ["LEVELS", "REQUIRED_FEATURES", "ARCHITECTURE", "cpu_features", "supported_levels",
           "available_levels", "describe", "load", "select_level"]

#: The architecture the table is read for (this machine's).
ARCHITECTURE = _isa.host_architecture()

_TABLE = {level.name: level for level in _isa.levels_for(ARCHITECTURE)}

#: Level names for this architecture, best first.
LEVELS = tuple(_TABLE)

#: CPU features (NumPy's names) each level's build is compiled for.
REQUIRED_FEATURES = {name: level.features for name, level in _TABLE.items()}


def describe(level):
    """The table's row for ``level`` on this machine (module, flags, MR, ...)."""
    return _TABLE[level]


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


def supported_levels(features=None, arch=None):
    """Levels the CPU can run, best first (the baseline is always there).

    ``features``: NumPy's feature dict (default: this CPU's); ``arch``: read
    the table for another architecture than this machine's.
    """
    features = cpu_features() if features is None else features
    levels = _TABLE.values() if arch is None else _isa.levels_for(arch)
    return tuple(level.name for level in levels
                 if all(features.get(name, False) for name in level.features))


def available_levels():
    """Levels that were built and that this CPU can run, best first."""
    found = []
    for level in supported_levels():
        try:
            importlib.import_module(_TABLE[level].module)
        except ImportError:
            continue
        found.append(level)
    return tuple(found)


def load(level):
    """The kernel module of one level (ImportError if it was not built)."""
    if level not in _TABLE:
        raise ValueError(f"Unknown instruction-set level {level!r}; expected one of {LEVELS}.")
    module = importlib.import_module(_TABLE[level].module)
    _fork.watch(module)
    threading = os.environ.get("SEPCONV_THREADING", "").strip().lower()
    if threading:
        module.threading_layer(threading)
    return module


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
