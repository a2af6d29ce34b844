"""Regenerate regularizers.npz/.json: Keras 3's losses and gradients with
regularizers (needs Keras 3 with the torch backend and PyTorch).

    KERAS_BACKEND=torch python tests/data/keras/make_regularizer_golden.py

For each case: the layer config, weights, an input x, an upstream gradient
dy, Keras's output y, ``layer.losses`` after the call, and the gradients of
``sum(dy * y) + sum(layer.losses)`` with respect to x and to each trainable
weight (torch autograd through Keras's own layer).
"""

import json
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [
    dict(filters=5, kernel_size=3, padding="same", activation="relu",
         activity_regularizer=keras.regularizers.L2(0.05), batch=8, steps=12, channels=4),
    dict(filters=6, kernel_size=3, strides=2, padding="valid", depth_multiplier=2,
         data_format="channels_first", activation="tanh",
         activity_regularizer=keras.regularizers.L1(0.01),
         depthwise_regularizer=keras.regularizers.L1(0.02),
         pointwise_regularizer=keras.regularizers.L2(0.03),
         bias_regularizer=keras.regularizers.L1L2(0.1, 0.2), batch=3, steps=15, channels=3),
    dict(filters=4, kernel_size=2, padding="same", activation="sigmoid",
         activity_regularizer=keras.regularizers.L1L2(0.01, 0.02),
         pointwise_regularizer=keras.regularizers.L2(0.5), trainable=False,
         batch=5, steps=9, channels=2),
    dict(filters=3, kernel_size=5, dilation_rate=2, padding="same",
         activity_regularizer=keras.regularizers.L2(0.1),
         depthwise_regularizer=keras.regularizers.L2(0.01), batch=1, steps=20, channels=3),
]


def main():
    rng = np.random.default_rng(2024)
    meta, arrays = [], {}
    for index, case in enumerate(CASES):
        case = dict(case)
        batch, steps, channels = case.pop("batch"), case.pop("steps"), case.pop("channels")
        trainable = case.pop("trainable", True)
        layer = keras.layers.SeparableConv1D(**case, dtype="float64")
        first = case.get("data_format") == "channels_first"
        shape = (batch, channels, steps) if first else (batch, steps, channels)
        layer.build(shape)
        layer.set_weights([rng.normal(0.0, 0.5, w.shape) for w in layer.get_weights()])
        layer.trainable = trainable
        x = torch.tensor(rng.standard_normal(shape), requires_grad=True)
        y = layer(x)
        dy = rng.standard_normal(tuple(y.shape))
        losses = [float(v) for v in layer.losses]
        total = (y * torch.tensor(dy)).sum() + sum(layer.losses)
        total.backward()
        arrays[f"x_{index}"] = x.detach().numpy()
        arrays[f"dy_{index}"] = dy
        arrays[f"y_{index}"] = y.detach().numpy()
        arrays[f"dx_{index}"] = x.grad.numpy()
        for i, w in enumerate(layer.weights):
            arrays[f"w{i}_{index}"] = np.array(w.numpy())
        grads = [w.value.grad for w in layer.trainable_weights]
        for i, g in enumerate(grads):
            arrays[f"g{i}_{index}"] = g.numpy()
        meta.append({"config": layer.get_config(), "losses": losses,
                     "weights": len(layer.weights), "grads": len(grads)})
    np.savez_compressed(os.path.join(HERE, "regularizers.npz"), **arrays)
    with open(os.path.join(HERE, "regularizers.json"), "w") as handle:
        json.dump({"keras_version": keras.__version__, "backend": keras.backend.backend(),
                   "cases": meta}, handle, indent=1, default=str)
    print(f"wrote {len(meta)} cases with Keras {keras.__version__}")


if __name__ == "__main__":
    main()
