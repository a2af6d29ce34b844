"""The examples run end to end: the training loss falls, the stream equals offline."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_train_denoiser_loss_falls(capsys, level):
    """At every ISA level (the backward pass once gave wrong gradients at MR=6)."""
    path = os.path.join(ROOT, "examples", "train_denoiser.py")
    spec = importlib.util.spec_from_file_location("train_denoiser", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    status = module.main(["--steps", "50", "--batch", "16", "--length", "128"])
    printed = capsys.readouterr().out
    losses = [float(line.split("test loss")[1]) for line in printed.splitlines()
              if line.startswith("step")]
    assert status == 0
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0]


def test_streaming_example_matches_offline(capsys, level):
    """The streaming example's two chained streams give the offline output, bit for bit."""
    path = os.path.join(ROOT, "examples", "streaming_kws.py")
    spec = importlib.util.spec_from_file_location("streaming_kws", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--seconds", "1.5"])
    printed = capsys.readouterr().out
    assert "150 frames of 10 ms" in printed
    assert "bitwise equal to offline: True" in printed
    assert "median" in printed and "p99" in printed
