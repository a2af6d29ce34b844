"""Regenerate mixed.npz/.json: Keras 3 layers under mixed precision policies
(needs Keras 3 with the torch backend).

    KERAS_BACKEND=torch python tests/data/keras/make_mixed_golden.py

For each case: the layer config (its dtype is the policy), float32 weights, a
float32 input x and Keras's output y (float16, or bfloat16 stored as float32).
"""

import json
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [
    dict(policy="mixed_float16", filters=8, kernel_size=3, padding="same",
         activation="relu", batch=2, steps=40, channels=6),
    dict(policy="mixed_float16", filters=5, kernel_size=5, strides=2, dilation_rate=1,
         depth_multiplier=2, data_format="channels_first", activation="tanh", batch=3,
         steps=33, channels=4),
    dict(policy="mixed_bfloat16", filters=8, kernel_size=3, padding="same",
         activation="gelu", batch=2, steps=40, channels=6),
    dict(policy="mixed_bfloat16", filters=16, kernel_size=9, padding="valid",
         activation=None, batch=1, steps=64, channels=16),
]


def main():
    rng = np.random.default_rng(77)
    meta, arrays = [], {}
    for index, case in enumerate(CASES):
        case = dict(case)
        policy = case.pop("policy")
        batch, steps, channels = case.pop("batch"), case.pop("steps"), case.pop("channels")
        layer = keras.layers.SeparableConv1D(**case, dtype=policy)
        first = case.get("data_format") == "channels_first"
        shape = (batch, channels, steps) if first else (batch, steps, channels)
        layer.build(shape)
        layer.set_weights([rng.normal(0.0, 0.5, w.shape).astype("float32")
                           for w in layer.get_weights()])
        x = rng.standard_normal(shape).astype("float32")
        y = keras.ops.convert_to_numpy(keras.ops.cast(layer(x), "float32"))
        arrays[f"x_{index}"] = x
        arrays[f"y_{index}"] = y
        for i, w in enumerate(layer.get_weights()):
            arrays[f"w{i}_{index}"] = w
        meta.append({"config": layer.get_config(), "compute_dtype": layer.compute_dtype,
                     "weights": len(layer.weights)})
    np.savez_compressed(os.path.join(HERE, "mixed.npz"), **arrays)
    with open(os.path.join(HERE, "mixed.json"), "w") as handle:
        json.dump({"keras_version": keras.__version__, "backend": keras.backend.backend(),
                   "cases": meta}, handle, indent=1, default=str)
    print(f"wrote {len(meta)} cases with Keras {keras.__version__}")


if __name__ == "__main__":
    main()
