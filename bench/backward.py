#!/usr/bin/env python
"""Forward + backward: sepconv against PyTorch autograd on the benchmark cases.

    python bench/backward.py [--threads 2] [--seconds 1.0] [--markdown]

sepconv: ``layer(x, training=True)`` then ``layer.backward(dy)`` (all four
gradients).  PyTorch: the same two conv1d calls in its native (B, C, L)
layout with bias and relu, then ``y.backward(dy)`` with ``requires_grad`` on
the input and the weights.  Both are checked against each other first, then
timed interleaved (bursts of back-to-back calls, shuffled order, median).
"""

from __future__ import annotations

import argparse
import numpy as np

from sepconv_bench.peers import CASES, Problem, time_interleaved


def sepconv_step(problem):
    import sepconv

    c = problem.case
    layer = sepconv.SeparableConv1D(c.F, c.K, strides=c.stride, padding=c.padding,
                                    dilation_rate=c.dilation, depth_multiplier=c.dm,
                                    activation="relu", dtype=problem.dtype.name)
    layer.set_weights([problem.dw, problem.pw, problem.b])
    dy = np.random.default_rng(1).standard_normal(
        (c.B, c.L_out, c.F)).astype(problem.dtype)
    threads = problem.threads

    def step():
        layer(problem.x, training=True, num_threads=threads)
        return layer.backward(dy, num_threads=threads)

    return step, dy


def torch_step(problem, dy):
    import torch
    import torch.nn.functional as F

    c = problem.case
    _, pad_left, pad_right = c.geometry
    x = torch.tensor(problem.x_ncl(), requires_grad=True)
    w_depth = torch.tensor(problem.dw.transpose(1, 2, 0).reshape(c.C * c.dm, 1, c.K).copy(),
                           requires_grad=True)
    w_point = torch.tensor(problem.pw[0].T[:, :, None].copy(), requires_grad=True)
    bias = torch.tensor(problem.b, requires_grad=True)
    dy_t = torch.tensor(np.ascontiguousarray(dy.transpose(0, 2, 1)))

    def step():
        for tensor in (x, w_depth, w_point, bias):
            tensor.grad = None
        padded = F.pad(x, (pad_left, pad_right)) if pad_left or pad_right else x
        depth = F.conv1d(padded, w_depth, stride=c.stride, dilation=c.dilation, groups=c.C)
        y = torch.relu(F.conv1d(depth, w_point, bias))
        y.backward(dy_t)
        return x.grad, w_depth.grad, w_point.grad, bias.grad

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    rows = []
    for case in CASES:
        # Correctness in float64 first: in float32 the two libraries round the
        # pre-activation differently, and relu's mask then flips where z ~ 0.
        check = Problem.create(case, "float64", args.threads)
        mine, dy = sepconv_step(check)
        theirs = torch_step(check, dy)
        dx, grads = mine()
        tdx, tdw, tpw, tb = theirs()
        c = case
        pairs = [
            (dx, tdx.numpy().transpose(0, 2, 1)),
            (grads[0], tdw.numpy().reshape(c.C, c.dm, c.K).transpose(2, 0, 1)),
            (grads[1][0], tpw.numpy()[:, :, 0].T),
            (grads[2], tb.numpy()),
        ]
        for ours, ref in pairs:
            scale = max(1.0, float(np.abs(ref).max()))
            if float(np.abs(ours - ref).max()) > 1e-9 * scale:
                raise SystemExit(f"{case.name}: gradients differ from PyTorch")
        problem = Problem.create(case, "float32", args.threads)
        mine, dy = sepconv_step(problem)
        theirs = torch_step(problem, dy)
        medians = time_interleaved({"sepconv": mine, "torch": theirs}, args.seconds)
        rows.append((case.name, medians["sepconv"] * 1e6, medians["torch"] * 1e6))
        print(f"{case.name:12s} sepconv {rows[-1][1]:10.1f} us  torch {rows[-1][2]:10.1f} us  "
              f"torch/sepconv {rows[-1][2] / rows[-1][1]:5.2f}", flush=True)
    if args.markdown:
        print()
        print("| case | sepconv fwd+bwd µs | PyTorch fwd+autograd µs | PyTorch / sepconv |")
        print("|---|---:|---:|---:|")
        for name, ours, theirs in rows:
            print(f"| {name} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.2f} |")


if __name__ == "__main__":
    main()
