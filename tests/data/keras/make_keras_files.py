"""Regenerate the Keras test files in this folder (needs Keras 3 and a backend).

    python tests/data/keras/make_keras_files.py

Writes:
  model.keras, model.weights.h5          a Functional model (channels_first layer,
                                         Dense, Permute, a nested Sequential)
  sequential.keras, sequential.weights.h5  a Sequential model of two layers
  expected.npz   for each SeparableConv1D layer NAME (names are unique across
                 both models): NAME.x, an input, and NAME.y, the Keras layer's
                 output for it; also sequential.x / sequential.y, the whole
                 Sequential model's input and output; keras_version, backend.
"""

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234


def randomize(model, rng):
    """Seeded random weights (bias included, so a wrong bias shows up)."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            randomize(layer, rng)
            continue
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0.0, 0.5, w.shape).astype(w.dtype)
                               for w in weights])


def sepconv_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from sepconv_layers(layer)
        elif isinstance(layer, keras.layers.SeparableConv1D):
            yield layer


def main():
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)

    # Functional, with a channels_first layer and a nested Sequential block.
    inputs = keras.Input((5, 19), name="signal")
    x = keras.layers.SeparableConv1D(
        4, 3, depth_multiplier=3, data_format="channels_first", activation="tanh",
        name="fn_sep_cf")(inputs)                                  # (4, 17)
    x = keras.layers.Permute((2, 1), name="fn_permute")(x)          # (17, 4)
    x = keras.layers.Dense(6, name="fn_dense")(x)                   # (17, 6)
    block = keras.Sequential([
        keras.Input((17, 6)),
        keras.layers.SeparableConv1D(3, 5, padding="same", dilation_rate=2,
                                     activation="swish", name="block_sep"),
        keras.layers.SeparableConv1D(2, 2, strides=2, padding="same", use_bias=False,
                                     name="block_sep_nobias"),
    ], name="block")
    outputs = block(x)
    functional = keras.Model(inputs, outputs, name="functional_model")

    # Sequential, top level.
    sequential = keras.Sequential([
        keras.Input((24, 4)),
        keras.layers.SeparableConv1D(6, 3, depth_multiplier=2, strides=2, padding="same",
                                     activation="relu", name="seq_sep_a"),
        keras.layers.SeparableConv1D(5, 4, dilation_rate=2, activation="gelu",
                                     use_bias=False, name="seq_sep_b"),
    ], name="sequential_model")

    expected = {"keras_version": np.array(keras.__version__),
                "backend": np.array(keras.backend.backend())}
    for stem, model in (("model", functional), ("sequential", sequential)):
        randomize(model, rng)
        model.save(os.path.join(HERE, f"{stem}.keras"))
        model.save_weights(os.path.join(HERE, f"{stem}.weights.h5"))
        for layer in sepconv_layers(model):
            shape = tuple(layer.input.shape)
            steps_axis = 2 if layer.data_format == "channels_first" else 1
            x = rng.normal(0.0, 1.0, (3,) + shape[1:]).astype("float32")
            if shape[steps_axis] is None:
                raise AssertionError(layer.name)
            y = keras.ops.convert_to_numpy(layer(x))
            expected[f"{layer.name}.x"] = x
            expected[f"{layer.name}.y"] = y.astype("float32")
    x = rng.normal(0.0, 1.0, (3, 24, 4)).astype("float32")
    expected["sequential.x"] = x
    expected["sequential.y"] = keras.ops.convert_to_numpy(sequential(x)).astype("float32")
    np.savez_compressed(os.path.join(HERE, "expected.npz"), **expected)
    for name in sorted(os.listdir(HERE)):
        print(f"{os.path.getsize(os.path.join(HERE, name)):8d}  {name}")


if __name__ == "__main__":
    main()
