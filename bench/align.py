"""How much sepconv's speed depends on where the input and output arrays lie.

NumPy puts a large array 16 bytes past a page (its allocation header), so
the 64-byte vectors of AVX-512 cross a cache line on every other access
unless the library copes.  This times one prepared call (the layer's
``prepare``) with its input ``x`` and its ``out=`` buffer placed at chosen
byte offsets past a 64-byte line, interleaved in one process, and reports
each placement against both arrays on a line:

    python bench/align.py --cases all --dtypes float32,float64 --threads 1,2

Placements: x at each offset with out on a line, out at each offset with x on
a line, both at 16 (NumPy's own placement of big arrays), and ``alloc`` (no
``out=``: the output sepconv allocates itself, with x on a line).  Where a
buffer lies against a 4 KiB page also moves the time (4 KiB aliasing between
the loads of x and the stores of out), so every placement is timed in
``--copies`` pairs of buffers at the same page positions, and the samples of
all copies are pooled: the placements differ only in their line offsets.

Each output is checked first: bitwise equal across placements, and within
the bench's tolerance of a float64 NumPy reference.  Prints one line per
case (median and p90 of each placement over the aligned one's);
``--markdown`` prints a table, ``--json`` writes every sample's summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import numpy as np

import sepconv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ladder import cpu_name  # noqa: E402  (scripts beside this one)
from peers import CASES, EXTRA_CASES, Problem, numpy_reference  # noqa: E402

TOLERANCE = {"float32": 1e-4, "float64": 1e-9}
#: where the copies of a placement start in their page (multiples of 64)
PAGE_POSITIONS = (0, 1344, 2752, 3520)


def placed(shape, dtype, line_offset, page_position):
    """An array of ``shape`` starting ``page_position + line_offset`` bytes past a page."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + 2 * 4096, np.uint8)
    start = (-raw.ctypes.data) % 4096 + page_position + line_offset
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def placements(offsets):
    """(label, x offset, out offset or None for no out=) in report order."""
    out = [("aligned", 0, 0)]
    out += [(f"x{o}", o, 0) for o in offsets if o]
    out += [(f"out{o}", 0, o) for o in offsets if o]
    out += [("both16", 16, 16), ("alloc", 0, None)]
    return out


def measure(case, dtype, threads, offsets, copies, seconds):
    problem = Problem.create(case, dtype, threads)
    layer = sepconv.SeparableConv1D(case.F, case.K, strides=case.stride, padding=case.padding,
                                    data_format=case.data_format,
                                    dilation_rate=case.dilation, depth_multiplier=case.dm,
                                    activation="relu", dtype=np.dtype(dtype).name)
    layer.set_weights([problem.dw, problem.pw, problem.b])
    source = problem.x_ncl() if case.channels_first else problem.x
    run = layer.prepare(source.shape, num_threads=threads)
    expected = run(source)
    reference = numpy_reference(problem)
    check = expected.transpose(0, 2, 1) if case.channels_first else expected
    error = float(np.max(np.abs(check - reference)) / max(1.0, np.max(np.abs(reference))))
    if error > TOLERANCE[np.dtype(dtype).name]:
        raise SystemExit(f"align.py: {case.name} {dtype}: error {error:.2e} against the "
                         "float64 reference")
    calls = {}
    for label, x_off, out_off in placements(offsets):
        for position in PAGE_POSITIONS[:copies]:
            x = placed(source.shape, dtype, x_off, position)
            x[...] = source
            if out_off is None:
                def call(x=x):
                    return run(x)
                result = call()
            else:
                out = placed(expected.shape, dtype, out_off, (position + 2048) % 4096)
                out[...] = np.nan

                def call(x=x, out=out):
                    return run(x, out=out)
                result = call()
            if not np.array_equal(result, expected):
                raise SystemExit(f"align.py: {case.name} {dtype}: {label} gave other bits")
            calls[(label, position)] = call
    times = {label: [] for label, _, _ in placements(offsets)}
    order = list(calls)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        random.shuffle(order)
        for key in order:
            call = calls[key]
            call()   # not kept: the first call after another buffer pair
            for _ in range(3):
                start = time.perf_counter()
                call()
                times[key[0]].append(time.perf_counter() - start)
    stats = {}
    for label, samples in times.items():
        samples = np.asarray(samples) * 1e6
        stats[label] = {"median": float(np.median(samples)),
                        "p90": float(np.percentile(samples, 90)), "n": int(samples.size)}
    return stats


def main(argv=None):
    known = {case.name: case for case in CASES + EXTRA_CASES}
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="all",
                    help="comma-separated case names, or 'all' (default)")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--threads", default="1", help="comma-separated thread counts")
    ap.add_argument("--offsets", default="0,16,48",
                    help="byte offsets past a 64-byte line (multiples of 8)")
    ap.add_argument("--copies", type=int, default=2, choices=range(1, len(PAGE_POSITIONS) + 1),
                    help="buffer pairs per placement, at different page positions")
    ap.add_argument("--seconds", type=float, default=3.0, help="per case, dtype and threads")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    names = list(known) if args.cases == "all" else args.cases.split(",")
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; known: {sorted(known)}")
    offsets = [int(v) for v in args.offsets.split(",")]
    if any(o < 0 or o >= 64 or o % 8 for o in offsets):
        ap.error(f"--offsets must be multiples of 8 in [0, 64), got {args.offsets!r}")
    labels = [label for label, _, _ in placements(offsets)][1:]
    rows = []
    print(f"# {cpu_name()}, sepconv {sepconv.__version__}, level "
          f"{sepconv.functional.isa_level()}", flush=True)
    for name in names:
        for dtype in args.dtypes.split(","):
            for threads in (int(t) for t in args.threads.split(",")):
                stats = measure(known[name], np.dtype(dtype).type, threads, offsets,
                                args.copies, args.seconds)
                base = stats["aligned"]
                ratios = {label: (stats[label]["median"] / base["median"],
                                  stats[label]["p90"] / base["p90"]) for label in labels}
                rows.append({"case": name, "dtype": dtype, "threads": threads,
                             "stats": stats, "ratios": ratios})
                print(f"{name:<13} {dtype} {threads}t aligned {base['median']:,.1f} us "
                      f"(p90 {base['p90']:,.1f}): "
                      + " ".join(f"{label} {m:.3f}/{p:.3f}"
                                 for label, (m, p) in ratios.items()), flush=True)
    if args.markdown:
        print()
        print("| case | dtype | threads | aligned µs (median / p90) | "
              + " | ".join(labels) + " |")
        print("|---|---|---:|---:|" + "---:|" * len(labels))
        for row in rows:
            base = row["stats"]["aligned"]
            print(f"| {row['case']} | {row['dtype']} | {row['threads']} | "
                  f"{base['median']:,.1f} / {base['p90']:,.1f} | "
                  + " | ".join(f"{m:.2f} / {p:.2f}" for m, p in row["ratios"].values())
                  + " |")
        worst = max(max(m for m, _ in row["ratios"].values()) for row in rows)
        print(f"\nWorst median ratio: {worst:.3f}. Each cell: median / p90 of the "
              "placement over the aligned one's.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cpu": cpu_name(), "version": sepconv.__version__,
                       "level": sepconv.functional.isa_level(), "copies": args.copies,
                       "seconds": args.seconds, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
