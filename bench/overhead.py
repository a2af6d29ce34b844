"""Per-call cost of the layer and the functional form on the small cases.

Small calls are dominated by Python-side work (argument checks, plan and
weight lookups), so this is the benchmark for changes to the call path.
Compare two builds by running this script alternately from their
environments, several times, and comparing medians side by side:

    for i in 1 2 3; do old/bin/python bench/overhead.py; new/bin/python bench/overhead.py; done

Prints one JSON line: case/path -> median µs per call (30 samples of 500
calls, one thread, after a warm-up).  The input and output buffers are
allocated 64-byte aligned, since an unaligned buffer costs up to 30% on some
CPUs and would otherwise decide the comparison by allocation luck.
"""

import json
import time

import numpy as np

import sepconv

CASES = {"tiny_b1": (1, 16, 8, 8, 3), "kws_b1": (1, 128, 64, 64, 3)}


def aligned(shape, dtype=np.float32):
    """An uninitialised C-contiguous array whose data starts on a 64-byte boundary."""
    count = int(np.prod(shape))
    raw = np.empty(count + 64 // np.dtype(dtype).itemsize, dtype=dtype)
    offset = (-raw.ctypes.data % 64) // np.dtype(dtype).itemsize
    return raw[offset:offset + count].reshape(shape)


def median_us(call, samples=30, calls=500):
    for _ in range(200):
        call()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return float(np.median(times))


def main():
    rng = np.random.default_rng(0)
    results = {}
    for name, (batch, steps, channels, filters, taps) in CASES.items():
        layer = sepconv.SeparableConv1D(filters, taps, padding="same", activation="relu")
        x = aligned((batch, steps, channels))
        x[...] = rng.standard_normal(x.shape)
        out = aligned((batch, steps, filters))
        layer(x)
        dw, pw, b = layer.weights
        results[f"{name}/layer"] = median_us(lambda: layer(x, out=out, num_threads=1))
        results[f"{name}/functional"] = median_us(
            lambda: sepconv.separable_conv1d(x, dw, pw, b, padding="same", activation="relu",
                                             out=out, num_threads=1))
    print(json.dumps({key: round(value, 2) for key, value in results.items()}))


if __name__ == "__main__":
    main()
