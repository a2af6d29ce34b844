"""``show_config()``: how this sepconv was built and what it runs on."""

from __future__ import annotations

import platform
import sys
from typing import Optional, TextIO

import numpy as np

from . import dispatch, functional
from ._version import __version__

__all__ = ["show_config", "config_info"]


def _build_info():
    try:
        from ._build_info import BUILD_INFO
    except ImportError:
        return {}
    return dict(BUILD_INFO)


def config_info():
    """The facts show_config prints, as a dict."""
    kernels = functional.kernel_module()
    build = _build_info()
    level = functional.isa_level()
    features = dispatch.cpu_features()
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "isa": {
            "selected": level,
            "description": dispatch.describe(level).description,
            "architecture": dispatch.ARCHITECTURE,
            "available": list(dispatch.available_levels()),
            "cpu_supports": list(dispatch.supported_levels(features)),
        },
        "kernel": {"MR": kernels.MR, "NR": dict(kernels.NR), "KC": kernels.KC,
                   "DW_ROWS": kernels.DW_ROWS, "vector_bytes": kernels.VEC_BYTES},
        "openmp": bool(kernels.OPENMP),
        "threads": int(kernels.max_threads()),
        "threading": kernels.threading_layer(),
        "build": build,
    }


def show_config(mode: str = "stdout", file: Optional[TextIO] = None) -> Optional[dict]:
    """The version, ISA levels, register blocking, OpenMP, threads, compiler and flags.

    ``mode="stdout"`` (default) prints them (to ``file`` if given) and returns
    None; ``mode="dicts"`` prints nothing and returns them as a dict, as
    NumPy's ``show_config`` does.
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"Argument `mode` must be 'stdout' or 'dicts', received mode={mode!r}.")
    info = config_info()
    if mode == "dicts":
        return info
    out = file or sys.stdout
    print(f"sepconv {info['version']} (Python {info['python']}, NumPy {info['numpy']}, "
          f"{info['machine']})", file=out)
    isa = info["isa"]
    print(f"  ISA level     : {isa['selected']}, {isa['description']} (built and supported: "
          f"{', '.join(isa['available'])}; CPU supports: {', '.join(isa['cpu_supports'])})",
          file=out)
    kernel = info["kernel"]
    print(f"  micro-kernel  : MR={kernel['MR']}, NR={kernel['NR']}, KC={kernel['KC']} "
          f"({kernel['vector_bytes'] * 8}-bit vectors); depthwise block "
          f"{kernel['DW_ROWS']} steps", file=out)
    print(f"  OpenMP        : {'on' if info['openmp'] else 'off'}, "
          f"{info['threads']} thread(s) by default", file=out)
    print(f"  threading     : {info['threading']} ("
          f"{'sepconv pool: the caller never waits for a worker that has not started' if info['threading'] == 'pool' else 'OpenMP loop'}"
          f"; SEPCONV_THREADING=pool|openmp)", file=out)
    build = info["build"]
    if build:
        print(f"  compiler      : {build.get('compiler', '?')}", file=out)
        for level, flags in build.get("levels", {}).items():
            print(f"  flags {level:<8}: {flags}", file=out)
        for level, flags in build.get("skipped", {}).items():
            print(f"  skipped {level:<6}: the compiler cannot build {flags}", file=out)
        if build.get("debug"):
            print(f"  debug build   : sanitizers {'on' if build.get('sanitizers') else 'off'}",
                  file=out)
