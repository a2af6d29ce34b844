"""Command line: ``python -m sepconv {demo,info,bench}`` (also the ``sepconv`` script)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

__all__ = ["main"]


def _demo(_args):
    from .layer import SeparableConv1D

    print("The Keras documentation's example, corrected (padding='same'):")
    print("  layer = SeparableConv1D(3, 4, 3, 'same', activation='relu')")
    print("  x = np.random.rand(4, 10, 12)")
    x = np.random.default_rng(0).random((4, 10, 12))
    layer = SeparableConv1D(3, 4, 3, "same", activation="relu")
    y = layer(x)
    print(f"  layer(x).shape = {y.shape}")
    print("As printed on the page, SeparableConv1D(3, 4, 3, 2, activation='relu') "
          "passes padding=2:")
    try:
        SeparableConv1D(3, 4, 3, 2, activation="relu")
    except ValueError as exc:
        print(f"  ValueError: {exc}")
    return 0


def _info(_args):
    from .info import show_config

    show_config()
    return 0


def _bench(args):
    try:
        from sepconv_bench import report
    except ImportError as exc:
        print(f"sepconv bench: the benchmark package (sepconv_bench) is not installed "
              f"({exc}); install sepconv from its source tree.", file=sys.stderr)
        return 2
    return report.run(args)


def main(argv=None):
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="sepconv", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sepconv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the corrected Keras documentation example")
    commands.add_parser("info", help="show how sepconv was built (show_config)")
    bench = commands.add_parser("bench", help="time the benchmark cases")
    bench.add_argument("--cases", help="comma-separated case names (default: all)")
    bench.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    bench.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    bench.add_argument("--peers", default="none",
                       help="'none' (default), 'installed' (torch, onnxruntime) or a list "
                            "such as torch,onnxruntime")
    bench.add_argument("--seconds", type=float, default=0.3, help="timing budget per case")
    bench.add_argument("--json", help="write the numbers to this file")
    bench.add_argument("--plot", help="write a GFLOP/s bar chart (PNG; needs matplotlib)")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    handlers = {"demo": _demo, "info": _info, "bench": _bench}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
