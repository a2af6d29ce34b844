"""``show_config()``: how this sepconv was built and what it runs on."""

from __future__ import annotations

import platform
import sys
from typing import Optional, TextIO

import numpy as np

from . import dispatch, functional, tiling, tuning
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
                   "DW_ROWS": kernels.DW_ROWS, "DW_TAPS": kernels.DW_TAPS,
                   "GEMM_QUARTERS": kernels.GEMM_QUARTERS,
                   "ROWS_OUTER": kernels.ROWS_OUTER,
                   "TAIL_PAIRS": kernels.TAIL_PAIRS,
                   "GEMM_UNROLL": kernels.GEMM_UNROLL,
                   "vector_bytes": kernels.VEC_BYTES},
        "openmp": bool(kernels.OPENMP),
        "threads": int(kernels.max_threads()),
        "threading": kernels.threading_layer(),
        "blocking": {
            "caches": tuning.cache_sizes(),
            "scratch_target": tiling._SCRATCH_TARGET,
            "max_tile": tiling._MAX_FORWARD_TILE,
            "max_kc": tiling._MAX_RULE_KC,
            "channels_first_transposed": {"strided_min_width": tiling._TRANSPOSE_STRIDED_WIDTH,
                                          "min_width": tiling._TRANSPOSE_WIDTH,
                                          "max_out_steps": tiling._TRANSPOSE_STEPS},
            "wisdom_file": tuning.wisdom_path(),
            "tuned_problems": len(tuning.wisdom()),
            "machine": tuning.machine_id(),
        },
        "build": build,
    }


def _kib(size):
    return f"{size // (1024 * 1024)} MiB" if size >= 1024 * 1024 else f"{size // 1024} KiB"


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
          f"({kernel['vector_bytes'] * 8}-bit vectors"
          + (f", k loop unrolled x{kernel['GEMM_UNROLL']}" if kernel["GEMM_UNROLL"] > 1 else "")
          + "); depthwise block "
          f"{kernel['DW_ROWS']} steps"
          + (f", {kernel['DW_TAPS']} taps' weights held at stride 1 from "
             f"{kernel['DW_TAPS'] + 3} taps" if kernel["DW_TAPS"] else "")
          + ("; last filter panel in quarters of NR" if kernel["GEMM_QUARTERS"]
             else "; last filter panel in halves of NR")
          + (f" (a one-vector one {2 * kernel['MR']} rows a call)"
             if kernel["TAIL_PAIRS"] else "")
          + ("; output rows off a line stored row block by row block"
             if kernel["ROWS_OUTER"] else ""), file=out)
    print(f"  OpenMP        : {'on' if info['openmp'] else 'off'}, "
          f"{info['threads']} thread(s) by default", file=out)
    print(f"  threading     : {info['threading']} ("
          f"{'sepconv pool: the caller never waits for a worker that has not started' if info['threading'] == 'pool' else 'OpenMP loop'}"
          f"; SEPCONV_THREADING=pool|openmp)", file=out)
    blocking = info["blocking"]
    caches = blocking["caches"]
    known = [f"{name} {_kib(caches[name])}" for name in ("L1d", "L2", "L3") if caches[name]]
    print(f"  caches        : {', '.join(known) if known else 'unknown'}"
          f"{' (' + caches['source'] + ')' if caches['source'] else ''}", file=out)
    print(f"  blocking rule : tiles of ~{_kib(blocking['scratch_target'])} depthwise scratch "
          f"(at most {blocking['max_tile']} steps), balanced so no tile is a short stub, "
          f"kc = all inputs in one pass up to {blocking['max_kc']}; the same on every "
          f"CPU: on Zen 4 no other target won by more than the noise", file=out)
    moved = blocking["channels_first_transposed"]
    print(f"  channels_first: through the channels_last loops, transposed tile by tile, when "
          f"strided with >= {moved['strided_min_width']} depthwise channels or at most "
          f"{moved['max_out_steps']} output steps with >= {moved['min_width']} "
          f"(sepconv.tiling.forward_layout)", file=out)
    wisdom_file = blocking["wisdom_file"] or "in memory only (SEPCONV_WISDOM=off)"
    print(f"  tuned         : {blocking['tuned_problems']} problem(s) on this machine by "
          f"sepconv.tune(), used instead of the rule; wisdom {wisdom_file}", file=out)
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
