"""Two builds of sepconv's kernels timed against each other in one process.

On a shared machine two runs a minute apart can differ by 10-20%, more than
most kernel changes gain, so comparing a build with the one before it by
running each in turn says little.  This loads the kernel module of another
build (``--other``: the ``sepconv`` folder of another install or checkout,
holding its ``_sepconv*.so`` files) next to this one, binds both to the same
plan (same tile, threads and packed weights), checks that they give the same
bits, and times them interleaved: shuffled turns of a few calls each, medians
over several seconds.

    python bench/ab.py --other /path/to/old/site-packages/sepconv \\
        --cases quartz_b8,dil4_b8 --level avx2 --align 16

Prints one line per case: both medians and new / old (below 1: this build
is faster).  A channels_first plan this build transposes (tiling.FIRST_TRANSPOSED)
is bound in an older build as a plain channels_first one, with that layout's
tile.  The other build's BoundForward may predate the kc argument; it
is then bound without it (its own KC).
"""

from __future__ import annotations

import argparse
import glob
import importlib
import os
import random
import shutil
import sys
import tempfile
import time

import numpy as np

import sepconv
from sepconv import functional, tiling

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import CASES, EXTRA_CASES, case_from_spec  # noqa: E402  (a script beside this one)


def load_other(folder, level):
    """The other build's kernel module of ``level``, under a package name of its own."""
    suffix = "" if level == "baseline" else "_" + level
    files = glob.glob(os.path.join(folder, f"_sepconv{suffix}.*.so")) + \
        glob.glob(os.path.join(folder, f"_sepconv{suffix}.*.pyd"))
    if not files:
        raise SystemExit(f"ab.py: no _sepconv{suffix} module in {folder}")
    package = tempfile.mkdtemp(prefix="sepconv-ab-")
    os.makedirs(os.path.join(package, "sepconv_ab_other"))
    open(os.path.join(package, "sepconv_ab_other", "__init__.py"), "w").close()
    shutil.copy(files[0], os.path.join(package, "sepconv_ab_other"))
    sys.path.insert(0, package)
    return importlib.import_module(f"sepconv_ab_other._sepconv{suffix}")


def aligned(shape, dtype, offset):
    """An array of ``shape`` whose data starts ``offset`` bytes after a 64-byte line."""
    count = int(np.prod(shape))
    raw = np.empty(count * np.dtype(dtype).itemsize + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    return raw[start:start + count * np.dtype(dtype).itemsize].view(dtype).reshape(shape)


def compare(case, other, level, threads, offset, channels_first, seconds, dtype, out_offset=0):
    channels_first = channels_first or case.channels_first
    layout = "channels_first" if channels_first else "channels_last"
    layer = sepconv.SeparableConv1D(case.F, case.K, strides=case.stride,
                                    dilation_rate=case.dilation,
                                    depth_multiplier=case.dm, padding=case.padding,
                                    activation="relu", data_format=layout, dtype=dtype)
    shape = (case.B, case.C, case.L) if channels_first else (case.B, case.L, case.C)
    x = aligned(shape, dtype, offset)
    x[...] = np.random.default_rng(0).uniform(-1, 1, shape)
    kernels = functional.kernel_module(level)
    layer.build(shape)
    spec = layer._spec
    plan = spec.plan(shape, threads, kernels)
    packed = layer._weights.packed(kernels)
    bound = plan.forward
    layout, tile = bound.layout, bound.tile
    if layout == tiling.FIRST_TRANSPOSED and not hasattr(other.BoundForward, "layout"):
        # A build from before the transposed layout: its own channels_first
        # tiles (a multiple of NR), the rule's length.
        layout = tiling.FIRST
        tile = tiling.forward_blocking(bound.output_shape[2], case.B, case.C * case.dm,
                                       layout, threads, kernels, np.dtype(dtype))[0]
    args = ("float32" if np.dtype(dtype) == np.float32 else "float64", bound.input_shape,
            bound.output_shape, layout, spec.kernel_size, spec.depth_multiplier,
            spec.filters, spec.use_bias, spec.fused_code or 0, spec.strides, spec.dilation_rate,
            plan.pad_left, tile)
    try:
        theirs = other.BoundForward(*args, bound.kc, bound.threads, packed.size)
    except TypeError:   # a build from before kc was a plan parameter
        theirs = other.BoundForward(*args, bound.threads, packed.size)
    # The bits are compared in two buffers; the timed calls then share one
    # output buffer: with one each, where the two buffers lie against x
    # (4 KiB aliasing) made the same build look up to 27% apart from itself.
    first = np.full(bound.output_shape, np.nan, dtype)
    second = np.full(bound.output_shape, np.nan, dtype)
    theirs.run(x, packed, first)
    bound.run(x, packed, second)
    same = np.array_equal(first, second, equal_nan=True)
    out = aligned(bound.output_shape, dtype, out_offset)
    calls = {"old": lambda: theirs.run(x, packed, out),
             "new": lambda: bound.run(x, packed, out)}
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    order = list(calls)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        random.shuffle(order)
        for name in order:
            for _ in range(3):
                start = time.perf_counter()
                calls[name]()
                times[name].append(time.perf_counter() - start)
    old, new = (float(np.median(times[n])) * 1e6 for n in ("old", "new"))
    return old, new, same, bound.tile


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", required=True, help="the other build's sepconv folder")
    ap.add_argument("--cases", default="quartz_b8,dil4_b8,audio_b1,kws_b1",
                    help="case names ('' for none)")
    ap.add_argument("--shape", action="append", default=[], metavar="B,L,C,F,K,s,d,dm,pad",
                    help="a shape of your own (bench.py's --shape spec; repeatable)")
    ap.add_argument("--level", default=functional.isa_level())
    ap.add_argument("--threads", type=int, default=1,
                    help="1 (default); more is refused: the two builds' thread pools in one "
                         "process take each other's cores (measured: the old build fell "
                         "back to one thread)")
    ap.add_argument("--align", type=int, default=0, help="input offset from a 64-byte line")
    ap.add_argument("--out-align", type=int, default=0,
                    help="output offset from a 64-byte line (NumPy's own arrays: 16)")
    ap.add_argument("--channels-first", action="store_true")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--seconds", type=float, default=4.0, help="per case")
    args = ap.parse_args(argv)
    if args.threads != 1:
        ap.error("--threads must be 1: two builds' thread pools in one process disturb "
                 "each other; compare multi-threaded calls with bench/bench.py")
    known = {case.name: case for case in CASES + EXTRA_CASES}
    unknown = [name for name in args.cases.split(",") if name and name not in known]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; known: {', '.join(known)}")
    cases = [known[name] for name in args.cases.split(",") if name]
    for i, spec in enumerate(args.shape, 1):
        try:
            cases.append(case_from_spec(spec, f"shape{i}"))
        except ValueError as exc:
            ap.error(f"--shape: {exc}")
    other = load_other(args.other, args.level)
    for case in cases:
        name = case.name
        old, new, same, tile = compare(case, other, args.level, args.threads, args.align,
                                       args.channels_first, args.seconds, args.dtype,
                                       args.out_align)
        print(f"{name:<13} {args.level} {args.threads}t x at {args.align} mod 64, "
              f"out at {args.out_align}, tile {tile}: "
              f"old {old:,.1f} us, new {new:,.1f} us, new/old {new / old:.3f}"
              f"{'' if same else '  OUTPUTS DIFFER'}", flush=True)
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
