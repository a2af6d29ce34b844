"""Command line: ``python -m sepconv {demo,info}`` (also the ``sepconv`` script)."""

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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sepconv", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the corrected Keras documentation example")
    commands.add_parser("info", help="show how sepconv was built (show_config)")
    args = parser.parse_args(argv)
    handlers = {"demo": _demo, "info": _info}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
