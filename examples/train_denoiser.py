"""Train a two-layer separable-convolution denoiser on synthetic signals.

    python examples/train_denoiser.py [--steps 300]

The data are made here: sums of three sines with random frequencies and
phases, plus white noise.  The model is SeparableConv1D(16, 9, relu) then
SeparableConv1D(1, 9); the loss is the mean squared error against the clean
signal.  Gradients come from sepconv's own backward kernels
(``layer.backward``), updates from ``sepconv.optimizers.Adam``; the first
layer carries a max-norm constraint that the optimizer re-applies after
every step.  The loss printed every 25 steps should fall well below the
noise power it starts near.
"""

import argparse

import numpy as np

import sepconv


def make_batch(rng, batch, steps, noise):
    t = np.arange(steps) / steps
    freqs = rng.uniform(1, 12, size=(batch, 3, 1))
    phases = rng.uniform(0, 2 * np.pi, size=(batch, 3, 1))
    amps = rng.uniform(0.3, 1.0, size=(batch, 3, 1))
    clean = (amps * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1)[:, :, None]
    noisy = clean + noise * rng.standard_normal(clean.shape)
    return noisy.astype(np.float32), clean.astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    hidden = sepconv.SeparableConv1D(16, 9, padding="same", depth_multiplier=4,
                                     activation="relu", depthwise_constraint="max_norm",
                                     depthwise_initializer=sepconv.initializers.GlorotUniform(seed=1),
                                     pointwise_initializer=sepconv.initializers.GlorotUniform(seed=2))
    output = sepconv.SeparableConv1D(1, 9, padding="same",
                                     depthwise_initializer=sepconv.initializers.GlorotUniform(seed=3),
                                     pointwise_initializer=sepconv.initializers.GlorotUniform(seed=4))
    optimizer = sepconv.optimizers.Adam(learning_rate=3e-3)
    test_noisy, test_clean = make_batch(np.random.default_rng(12345), 64, args.length, args.noise)
    print(f"noise power (MSE of doing nothing): {np.mean((test_noisy - test_clean) ** 2):.4f}")
    first = last = None
    for step in range(args.steps + 1):
        noisy, clean = make_batch(rng, args.batch, args.length, args.noise)
        hidden_out = hidden(noisy, training=True)
        prediction = output(hidden_out, training=True)
        error = prediction - clean
        loss = float(np.mean(error ** 2))
        d_prediction = 2.0 * error / error.size
        d_hidden, output_grads = output.backward(d_prediction)
        _, hidden_grads = hidden.backward(d_hidden)
        optimizer.apply(output, output_grads)
        optimizer.apply(hidden, hidden_grads)
        if step % 25 == 0:
            test_loss = float(np.mean((output(hidden(test_noisy)) - test_clean) ** 2))
            first = test_loss if first is None else first
            last = test_loss
            print(f"step {step:4d}  train loss {loss:.4f}  test loss {test_loss:.4f}")
    norms = np.sqrt((hidden.depthwise_kernel ** 2).sum(axis=0))
    print(f"test loss fell from {first:.4f} to {last:.4f}; "
          f"max depthwise column norm {norms.max():.3f} (max_norm constraint: 2)")
    return 0 if last < first else 1


if __name__ == "__main__":
    raise SystemExit(main())
