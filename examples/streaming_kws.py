"""Streaming keyword-spotting front end: two separable convolutions fed 10 ms at a time.

A synthetic 16 kHz signal becomes 40 log-energy features per 10 ms frame; a
two-layer model (SeparableConv1D 40 -> 64, kernel 5, 'same', relu; then
64 -> 64, kernel 3, dilation 2, 'same', relu) runs on it offline, and again
as two chained streams that get one frame per push.  The script prints the
per-push latency (median and p99) and checks that the streamed output equals
the offline output bit for bit.

    python examples/streaming_kws.py [--seconds 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import sepconv

SAMPLE_RATE = 16_000
FRAME = 160                 # 10 ms
FEATURES = 40


def synthetic_features(seconds, seed=0):
    """(1, frames, 40) float32 log band energies of a chirp-and-noise signal."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    signal = np.sin(2 * np.pi * (300 + 400 * t) * t) + 0.3 * rng.standard_normal(t.size)
    frames = signal[: t.size // FRAME * FRAME].reshape(-1, FRAME)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) ** 2
    bands = np.array_split(spectrum, FEATURES, axis=1)
    energies = np.stack([band.sum(axis=1) for band in bands], axis=1)
    return np.log(energies + 1e-6).astype(np.float32)[None]


def model():
    first = sepconv.SeparableConv1D(64, 5, padding="same", activation="relu",
                                    input_shape=(None, FEATURES), name="dsconv_1")
    second = sepconv.SeparableConv1D(64, 3, dilation_rate=2, padding="same",
                                     activation="relu", input_shape=(None, 64),
                                     name="dsconv_2")
    return first, second


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="signal length (s)")
    parser.add_argument("--threads", type=int, default=1, help="threads per push")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.threads < 1:
        parser.error("--seconds must be > 0 and --threads >= 1")

    features = synthetic_features(args.seconds)
    first, second = model()
    offline = second(first(features, num_threads=args.threads), num_threads=args.threads)

    streams = [first.stream(num_threads=args.threads), second.stream(num_threads=args.threads)]
    print(f"{features.shape[1]} frames of 10 ms; lookahead {streams[0].delay} + "
          f"{streams[1].delay} frames")
    outputs, latencies = [], []
    for index in range(features.shape[1]):
        frame = np.ascontiguousarray(features[:, index:index + 1])
        start = time.perf_counter()
        hidden = streams[0].push(frame)
        outputs.append(streams[1].push(hidden))
        latencies.append(time.perf_counter() - start)
    hidden = streams[0].flush()          # end of the utterance: the right padding
    outputs.append(streams[1].push(hidden))
    outputs.append(streams[1].flush())
    streamed = np.concatenate(outputs, axis=1)

    micros = np.array(latencies) * 1e6
    print(f"per 10 ms frame (both layers): median {np.median(micros):.1f} us, "
          f"p99 {np.percentile(micros, 99):.1f} us")
    same = streamed.shape == offline.shape and streamed.tobytes() == offline.tobytes()
    print(f"streamed output {streamed.shape} bitwise equal to offline: {same}")
    if not same:
        raise SystemExit("streamed and offline outputs differ")


if __name__ == "__main__":
    main()
