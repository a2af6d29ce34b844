"""``sepconv.tune``: time blocking candidates for one problem, record the fastest.

See sepconv.tuning for what is tuned, why results never change, and where
the choices are kept.
"""

from __future__ import annotations

import random
import time

import numpy as np

from . import functional, tiling, tuning

__all__ = ["tune"]


def _time(calls, seconds, seed=0):
    """Per-call times of each call, interleaved: shuffled turns of ~2 ms each."""
    samples: list[list[float]] = [[] for _ in calls]
    per_call = []
    for call in calls:
        call()
        start = time.perf_counter()
        call()
        per_call.append(max(time.perf_counter() - start, 1e-7))
    rng = random.Random(seed)
    order = list(range(len(calls)))
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < 5 or (time.perf_counter() < deadline and rounds < 10000):
        rng.shuffle(order)
        for i in order:
            call = calls[i]
            for _ in range(max(1, min(200, int(2e-3 / per_call[i])))):
                start = time.perf_counter()
                call()
                samples[i].append(time.perf_counter() - start)
        rounds += 1
    return samples


def tune(layer, input_shape, num_threads=None, *, seconds=1.0, min_gain=0.03, save=True):
    """Time blocking candidates for ``layer`` on ``input_shape`` here; keep the fastest.

    Each candidate is a (tile, kc) pair that ``sepconv.tiling`` builds by its
    rule from a different cache target; all of them are timed interleaved
    for about ``seconds``.  The fastest is recorded when its median beats the
    rule's choice by more than ``min_gain`` (a fraction); otherwise the rule's
    choice is recorded, so the problem counts as tuned.  The record goes to
    the wisdom file when ``save`` (see the module docstring) and is used by
    every later plan of this problem; the layer's own cached plans are
    dropped so its next call uses it.  The outputs are the same bits with
    any choice.

    Returns a dict: the problem key, the rule's and the chosen blocking, every
    candidate's median and p90 (µs), whether the choice changed, and the
    path written (None without a file).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not 0 < seconds <= 600:
        raise ValueError(f"Argument `seconds` must be a number in (0, 600], received "
                         f"seconds={seconds!r}.")
    if isinstance(min_gain, bool) or not isinstance(min_gain, (int, float)) \
            or not 0 <= min_gain < 1:
        raise ValueError(f"Argument `min_gain` must be a number in [0, 1), received "
                         f"min_gain={min_gain!r}.")
    prepared = layer.prepare(input_shape, num_threads=num_threads)  # validates, builds
    shape = tuple(prepared.bound.input_shape)
    kernels = functional.kernel_module()
    threads = prepared.bound.threads
    spec = layer._spec
    packed = layer._weights.packed(kernels)
    batch, steps, channels = spec.split(shape)
    out_steps = spec.geometry(steps).out_steps
    width = channels * spec.depth_multiplier
    layout = prepared.bound.layout
    rule = tiling.forward_blocking(out_steps, batch, width, layout, threads, kernels,
                                   spec.dtype)
    candidates = [rule]
    for target in tiling.TUNE_TARGETS:
        tile = tiling.forward_tile(out_steps, batch, width, layout, threads,
                                   kernels, spec.dtype, target=target)
        for kc in tiling.tune_kcs(width, kernels):
            if (tile, kc) not in candidates:
                candidates.append((tile, kc))
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, shape).astype(spec.dtype)
    calls, outs = [], []
    for blocking in candidates:
        plan = spec.plan(shape, threads, kernels, blocking=blocking)
        out = np.empty(plan.output_shape, spec.dtype)
        outs.append(out)
        calls.append(lambda run=plan.forward.run, out=out: run(x, packed, out))
    samples = _time(calls, float(seconds))
    for out in outs[1:]:   # the same bits with any blocking, or something is broken
        if not np.array_equal(out, outs[0], equal_nan=True):
            raise RuntimeError("sepconv: two blockings gave different outputs; please "
                               "report this")
    medians = [float(np.median(s)) for s in samples]
    best = int(np.argmin(medians))
    gain = 1.0 - medians[best] / medians[0]
    chosen = candidates[best] if gain > min_gain else rule
    key = tuning.problem_key(kernels.ISA, spec.dtype, spec.channels_first, batch,
                      out_steps, width, spec.filters, spec.kernel_size, spec.strides,
                      spec.dilation_rate, threads)
    path = tuning._record(key, chosen[0], chosen[1], gain if chosen != rule else 0.0, save)
    layer._forget_plans()
    return {
        "problem": key,
        "rule": {"tile": rule[0], "kc": rule[1], "median_us": medians[0] * 1e6},
        "chosen": {"tile": chosen[0], "kc": chosen[1],
                   "median_us": medians[candidates.index(chosen)] * 1e6},
        "changed": chosen != rule,
        "candidates": [{"tile": c[0], "kc": c[1], "median_us": m * 1e6,
                        "p90_us": float(np.percentile(s, 90)) * 1e6}
                       for c, m, s in zip(candidates, medians, samples)],
        "saved_to": path,
    }
