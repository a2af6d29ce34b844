"""The training example runs end to end and its test loss falls."""

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
