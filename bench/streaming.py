#!/usr/bin/env python
"""Streaming cost: pushes of 1, 10 and 100 steps against one offline call.

    python bench/streaming.py [--steps 2000] [--rounds 15] [--markdown]

The kws shape (64 -> 64 channels, kernel 3, 'same', relu, float32, one
thread).  Each round times, in a shuffled order, one offline prepared call
over the whole sequence and the same sequence pushed in chunks of 1, 10 and
100 steps (plus the flush); the streamed output is checked bitwise against
the offline output first.  Also the latency of single 1-step pushes (median,
p90, p99).  Prints the CPU model line.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np

import sepconv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ladder import cpu_name  # noqa: E402  (a script beside this one)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.steps < 100 or args.rounds < 1:
        parser.error("--steps must be >= 100 and --rounds >= 1")

    layer = sepconv.SeparableConv1D(64, 3, padding="same", activation="relu",
                                    input_shape=(None, 64))
    x = np.random.default_rng(0).standard_normal((1, args.steps, 64)).astype(np.float32)
    offline = layer.prepare(x.shape, num_threads=1)
    reference = offline(x)
    out = np.empty_like(reference)
    chunked = {size: [np.ascontiguousarray(x[:, i:i + size]) for i in range(0, args.steps, size)]
               for size in (1, 10, 100)}
    streams = {size: layer.stream(num_threads=1) for size in chunked}

    def run(size):
        stream = streams[size]
        parts = [stream.push(chunk) for chunk in chunked[size]]
        parts.append(stream.flush())
        return parts

    for size in chunked:   # correctness first
        if np.concatenate(run(size), axis=1).tobytes() != reference.tobytes():
            raise SystemExit(f"chunks of {size}: streamed output differs from offline")

    jobs = {"offline": lambda: offline(x, out)}
    jobs.update({f"chunks of {size}": (lambda size=size: run(size)) for size in chunked})
    samples = {name: [] for name in jobs}
    order = list(jobs)
    for _ in range(args.rounds):
        random.shuffle(order)
        for name in order:
            start = time.perf_counter()
            jobs[name]()
            samples[name].append(time.perf_counter() - start)

    stream = layer.stream(num_threads=1)
    one = chunked[1][0]
    for _ in range(200):
        stream.push(one)
    pushes = []
    for _ in range(20000):
        start = time.perf_counter()
        stream.push(one)
        pushes.append(time.perf_counter() - start)
    pushes = np.array(pushes) * 1e6

    base = float(np.median(samples["offline"]))
    print(f"CPU: {cpu_name()}; sepconv {sepconv.__version__}, ISA "
          f"{sepconv.functional.isa_level()}; kws shape, {args.steps} steps, 1 thread")
    if args.markdown:
        print("\n| run | median µs | p90 µs | pushes | µs per push | / offline |")
        print("|---|---:|---:|---:|---:|---:|")
    for name, values in samples.items():
        median = float(np.median(values)) * 1e6
        p90 = float(np.percentile(values, 90)) * 1e6
        count = 1 if name == "offline" else len(chunked[int(name.split()[-1])]) + 1
        line = (f"{name}", f"{median:,.0f}", f"{p90:,.0f}", f"{count}",
                f"{median / count:.2f}", f"{median / (base * 1e6):.1f}")
        print(("| " + " | ".join(line) + " |") if args.markdown else
              f"{line[0]:<14} median {line[1]:>8} us  p90 {line[2]:>8} us  {line[3]:>5} "
              f"pushes  {line[4]:>6} us/push  {line[5]:>5}x offline")
    print(f"\n1-step push: median {np.median(pushes):.2f} us, p90 "
          f"{np.percentile(pushes, 90):.2f} us, p99 {np.percentile(pushes, 99):.2f} us "
          f"(20,000 pushes)")


if __name__ == "__main__":
    main()
