"""sepconv.keras_io: reading Keras 3 files without Keras, and Keras layer conversion.

The files in tests/data/keras/ come from make_keras_files.py (real Keras 3).
Most tests need only h5py; the ones at the end need Keras and are skipped
without it.
"""

import json
import os
import shutil
import sys
import zipfile

import numpy as np
import pytest

import sepconv
from sepconv import keras_io

HERE = os.path.join(os.path.dirname(__file__), "data", "keras")
MODEL = os.path.join(HERE, "model.keras")
MODEL_WEIGHTS = os.path.join(HERE, "model.weights.h5")
SEQ = os.path.join(HERE, "sequential.keras")
SEQ_WEIGHTS = os.path.join(HERE, "sequential.weights.h5")

# (archive, weights file, layer name as given, leaf name in expected.npz)
LAYERS = [
    (MODEL, MODEL_WEIGHTS, "fn_sep_cf", "fn_sep_cf"),
    (MODEL, MODEL_WEIGHTS, "block_sep", "block_sep"),
    (MODEL, MODEL_WEIGHTS, "block/block_sep_nobias", "block_sep_nobias"),
    (SEQ, SEQ_WEIGHTS, "seq_sep_a", "seq_sep_a"),
    (SEQ, SEQ_WEIGHTS, "seq_sep_b", "seq_sep_b"),
]
IDS = [case[2] for case in LAYERS]


@pytest.fixture(scope="module")
def expected():
    with np.load(os.path.join(HERE, "expected.npz")) as data:
        return {key: data[key] for key in data.files}


def assert_close(actual, desired):
    desired = np.asarray(desired)
    assert actual.shape == desired.shape
    tol = 2e-5 * max(1.0, float(np.max(np.abs(desired))))
    np.testing.assert_allclose(actual, desired, rtol=0, atol=tol)


def stored_config(archive, name):
    """The layer's config straight from config.json (a walker of the test's own)."""
    with zipfile.ZipFile(archive) as handle:
        model = json.loads(handle.read("config.json"))
    stack = [model]
    while stack:
        item = stack.pop()
        for layer in item["config"].get("layers", []):
            if layer["config"].get("name") == name:
                return layer["config"]
            stack.append(layer)
    raise KeyError(name)


def check_layer(layer, leaf, expected):
    assert isinstance(layer, sepconv.SeparableConv1D)
    assert layer.built and layer.name == leaf
    assert_close(layer(expected[f"{leaf}.x"]), expected[f"{leaf}.y"])


# ----------------------------------------------------------- no Keras: h5py only
@pytest.fixture(scope="module")
def h5py():
    return pytest.importorskip("h5py")


@pytest.mark.parametrize("archive, weights, name, leaf", LAYERS, ids=IDS)
def test_load_from_archive(h5py, expected, archive, weights, name, leaf):
    layer = keras_io.load_keras(archive, name)
    check_layer(layer, leaf, expected)
    config = stored_config(archive, leaf)
    for key in ("filters", "padding", "data_format", "depth_multiplier", "use_bias"):
        assert layer.get_config()[key] == config[key]


@pytest.mark.parametrize("archive, weights, name, leaf", LAYERS, ids=IDS)
def test_load_from_weights_file_with_config_dict(h5py, expected, archive, weights, name,
                                                 leaf):
    config = dict(stored_config(archive, leaf), name="something_else")
    layer = keras_io.load_keras(weights, name, config=config)
    check_layer(layer, leaf, expected)


@pytest.mark.parametrize("archive, weights, name, leaf", LAYERS, ids=IDS)
def test_load_from_weights_file_with_layer_as_config(h5py, expected, archive, weights,
                                                     name, leaf):
    config = stored_config(archive, leaf)
    template = sepconv.SeparableConv1D.from_config(config)   # unbuilt, fresh weights
    layer = keras_io.load_keras(weights, name, config=template)
    check_layer(layer, leaf, expected)
    assert not template.built


def test_load_with_serialized_config_and_pathlib(h5py, expected, tmp_path):
    import pathlib

    wrapped = {"class_name": "SeparableConv1D", "config": stored_config(SEQ, "seq_sep_a")}
    layer = keras_io.load_keras(pathlib.Path(SEQ_WEIGHTS), "seq_sep_a", config=wrapped)
    check_layer(layer, "seq_sep_a", expected)


def test_sequential_chain(h5py, expected):
    x = expected["sequential.x"]
    for name in ("seq_sep_a", "seq_sep_b"):
        x = keras_io.load_keras(SEQ, name)(x)
    assert_close(x, expected["sequential.y"])


def test_archive_config_override_float64(h5py, expected):
    config = dict(stored_config(SEQ, "seq_sep_b"), dtype="float64", name="ignored")
    layer = keras_io.load_keras(SEQ, "seq_sep_b", config=config)
    assert layer.dtype == "float64" and layer.name == "seq_sep_b"
    y = layer(expected["seq_sep_b.x"].astype(np.float64))
    assert y.dtype == np.float64
    assert_close(y, expected["seq_sep_b.y"])


def test_weights_match_file(h5py):
    layer = keras_io.load_keras(MODEL, "block/block_sep_nobias")
    with h5py.File(MODEL_WEIGHTS, "r") as handle:
        group = handle["layers/sequential/layers/separable_conv1d_1/vars"]
        assert group.attrs["name"] == "block_sep_nobias"
        stored = [group[k][()] for k in sorted(group, key=int)]
    assert len(stored) == 2 and layer.bias is None
    for mine, theirs in zip(layer.get_weights(), stored):
        np.testing.assert_array_equal(mine, theirs)


def test_list_layers():
    layers = keras_io.list_layers(MODEL)
    assert ("fn_sep_cf", "SeparableConv1D") in layers
    assert ("fn_dense", "Dense") in layers
    assert ("block", "Sequential") in layers
    assert [n for n, c in layers if c == "SeparableConv1D"] == [
        "fn_sep_cf", "block/block_sep", "block/block_sep_nobias"]
    assert [n for n, c in keras_io.list_layers(SEQ) if c == "SeparableConv1D"] == [
        "seq_sep_a", "seq_sep_b"]


def test_list_layers_weights_file(h5py):
    with pytest.raises(ValueError, match="weights only"):
        keras_io.list_layers(MODEL_WEIGHTS)


def test_unzipped_archive_directory(h5py, expected, tmp_path):
    with zipfile.ZipFile(MODEL) as handle:
        handle.extractall(tmp_path / "model")
    layer = keras_io.load_keras(tmp_path / "model", "fn_sep_cf")
    check_layer(layer, "fn_sep_cf", expected)
    assert ("fn_sep_cf", "SeparableConv1D") in keras_io.list_layers(tmp_path / "model")


def test_compressed_archive(h5py, expected, tmp_path):
    target = tmp_path / "deflated.keras"
    with zipfile.ZipFile(MODEL) as src, zipfile.ZipFile(target, "w",
                                                        zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    check_layer(keras_io.load_keras(target, "block_sep"), "block_sep", expected)


def test_file_without_name_attributes(h5py, expected, tmp_path):
    """Older Keras 3 files have no `name` on the vars groups: keys from the config."""
    target = tmp_path / "noname.keras"
    weights = tmp_path / "noname.weights.h5"
    shutil.copy(MODEL_WEIGHTS, weights)
    def drop_name(name, obj):
        if name.endswith("vars") and "name" in obj.attrs:
            del obj.attrs["name"]

    with h5py.File(weights, "a") as handle:
        handle.visititems(drop_name)
        assert not any("name" in handle[p].attrs for p in
                       ("vars", "layers/sequential/vars",
                        "layers/sequential/layers/separable_conv1d_1/vars"))
    with zipfile.ZipFile(MODEL) as src, zipfile.ZipFile(target, "w") as dst:
        for name in ("config.json", "metadata.json"):
            dst.writestr(name, src.read(name))
        dst.write(weights, "model.weights.h5")
    for _, _, name, leaf in LAYERS[:3]:
        check_layer(keras_io.load_keras(target, name), leaf, expected)
    # A weights-only file without names: the layer goes by the file's own key.
    config = stored_config(MODEL, "block_sep_nobias")
    layer = keras_io.load_keras(weights, "sequential/separable_conv1d_1", config=config)
    assert layer.name == "separable_conv1d_1"
    assert_close(layer(expected["block_sep_nobias.x"]), expected["block_sep_nobias.y"])


def test_legacy_weights_file(h5py, expected, tmp_path):
    """A Keras 2 style .h5 weights file: groups by layer name, weight_names attrs."""
    source = keras_io.load_keras(SEQ, "seq_sep_a")
    target = tmp_path / "legacy.h5"
    with h5py.File(target, "w") as handle:
        handle.attrs["layer_names"] = [b"seq_sep_a", b"other"]
        group = handle.create_group("seq_sep_a")
        names = ["depthwise_kernel:0", "pointwise_kernel:0", "bias:0"]
        group.attrs["weight_names"] = [f"seq_sep_a/{n}".encode() for n in names]
        for n, w in zip(reversed(names), reversed(source.get_weights())):
            group[f"seq_sep_a/{n}"] = w
        handle.create_group("other").attrs["weight_names"] = np.array([], dtype="S1")
    layer = keras_io.load_keras(target, "seq_sep_a", config=source)
    check_layer(layer, "seq_sep_a", expected)
    with pytest.raises(ValueError, match="no layer named"):
        keras_io.load_keras(target, "nope", config=source)


# ----------------------------------------------------------------- error cases
def test_unknown_layer_name(h5py):
    with pytest.raises(ValueError, match="no layer named 'nope'") as info:
        keras_io.load_keras(MODEL, "nope")
    assert "fn_sep_cf" in str(info.value) and "block/block_sep" in str(info.value)
    with pytest.raises(ValueError, match="seq_sep_a"):
        keras_io.load_keras(SEQ, "nope")


@pytest.mark.parametrize("name, class_name", [("fn_dense", "Dense"),
                                              ("fn_permute", "Permute"),
                                              ("block", "Sequential"),
                                              ("signal", "InputLayer")])
def test_wrong_layer_class(h5py, name, class_name):
    with pytest.raises(ValueError, match=f"is a {class_name}, not a SeparableConv1D"):
        keras_io.load_keras(MODEL, name)


def test_weights_file_needs_config(h5py):
    with pytest.raises(ValueError, match="config="):
        keras_io.load_keras(MODEL_WEIGHTS, "fn_sep_cf")


def test_weights_file_errors(h5py):
    config = stored_config(MODEL, "fn_sep_cf")
    with pytest.raises(ValueError, match="no layer named 'nope'.*fn_sep_cf"):
        keras_io.load_keras(MODEL_WEIGHTS, "nope", config=config)
    with pytest.raises(ValueError, match="not those of a SeparableConv1D"):
        keras_io.load_keras(MODEL_WEIGHTS, "fn_dense", config=config)
    # A config that does not fit the stored weights.
    with pytest.raises(ValueError, match="do not fit"):
        keras_io.load_keras(MODEL_WEIGHTS, "block_sep", config=config)
    with pytest.raises(ValueError, match="not of a SeparableConv1D"):
        keras_io.load_keras(MODEL_WEIGHTS, "fn_sep_cf",
                            config={"class_name": "Dense", "config": {}})
    with pytest.raises(TypeError, match="config"):
        keras_io.load_keras(MODEL_WEIGHTS, "fn_sep_cf", config=[1, 2])


def test_missing_and_bad_files(h5py, tmp_path):
    with pytest.raises(FileNotFoundError):
        keras_io.load_keras(tmp_path / "missing.keras", "x")
    with pytest.raises(FileNotFoundError):
        keras_io.list_layers(tmp_path / "missing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a keras file")
    with pytest.raises(ValueError, match="neither"):
        keras_io.load_keras(bad, "x")
    empty_zip = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty_zip, "w") as handle:
        handle.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="config.json"):
        keras_io.load_keras(empty_zip, "x")
    no_weights = tmp_path / "noweights.keras"
    with zipfile.ZipFile(MODEL) as src, zipfile.ZipFile(no_weights, "w") as dst:
        dst.writestr("config.json", src.read("config.json"))
    with pytest.raises(ValueError, match="model.weights.h5"):
        keras_io.load_keras(no_weights, "fn_sep_cf")
    with pytest.raises(TypeError):
        keras_io.load_keras(MODEL, None)


def test_without_h5py(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "sepconv\[keras\]"'):
        keras_io.load_keras(MODEL, "fn_sep_cf")
    # Listing layers reads only the JSON config.
    assert ("fn_sep_cf", "SeparableConv1D") in keras_io.list_layers(MODEL)


def test_to_keras_without_keras(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)
    layer = sepconv.SeparableConv1D(2, 3)
    with pytest.raises(ImportError, match="pip install keras"):
        keras_io.to_keras(layer)
    with pytest.raises(TypeError):
        keras_io.to_keras(object())
    with pytest.raises(TypeError):
        keras_io.from_keras(layer)


# ------------------------------------------------------------- with real Keras
@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("h5py")
    return pytest.importorskip("keras")


def _randomize(layer, rng):
    weights = layer.get_weights()
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in weights])


KERAS_WARNINGS = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@KERAS_WARNINGS
def test_fresh_keras_files(keras, tmp_path):
    rng = np.random.default_rng(7)
    inner_in = keras.Input((10, 6))
    inner_out = keras.layers.SeparableConv1D(4, 3, padding="same", depth_multiplier=2,
                                             activation="elu", name="conv")(inner_in)
    inner = keras.Model(inner_in, inner_out, name="inner")        # nested Functional
    inputs = keras.Input((6, 10))
    a = keras.layers.SeparableConv1D(6, 1, data_format="channels_first", name="a")(inputs)
    b = keras.layers.Permute((2, 1))(a)
    c = keras.layers.SeparableConv1D(6, 3, padding="same", activation="sigmoid",
                                     name="conv2")(b)
    d = inner(keras.layers.Add()([b, c]))
    e = keras.layers.SeparableConv1D(3, 2, strides=2, use_bias=False, name="e")(d)
    model = keras.Model(inputs, e)
    for layer in (model.get_layer("a"), model.get_layer("conv2"), model.get_layer("e"),
                  inner.get_layer("conv")):
        _randomize(layer, rng)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    model.save(tmp_path / "legacy.h5")

    keras_layers = {"a": model.get_layer("a"), "conv2": model.get_layer("conv2"),
                    "inner/conv": inner.get_layer("conv"), "e": model.get_layer("e")}
    names = [n for n, c in keras_io.list_layers(tmp_path / "m.keras")
             if c == "SeparableConv1D"]
    assert sorted(names) == sorted(keras_layers)
    for name, klayer in keras_layers.items():
        shape = (2,) + tuple(klayer.input.shape[1:])
        x = rng.normal(size=shape).astype("float32")
        want = keras.ops.convert_to_numpy(klayer(x))
        loaded = [keras_io.load_keras(tmp_path / "m.keras", name),
                  keras_io.load_keras(tmp_path / "legacy.h5", name)]
        loaded.append(keras_io.load_keras(tmp_path / "m.weights.h5", name,
                                          config=klayer.get_config()))
        for layer in loaded:
            assert layer.name == klayer.name
            assert_close(layer(x), want)


@KERAS_WARNINGS
def test_duplicate_names_in_nested_models(keras, tmp_path):
    rng = np.random.default_rng(3)
    inner = keras.Sequential([keras.Input((8, 2)),
                              keras.layers.SeparableConv1D(2, 3, padding="same",
                                                           name="sep")], name="inner")
    inputs = keras.Input((8, 2))
    outputs = keras.layers.SeparableConv1D(2, 3, padding="same", name="sep")(inner(inputs))
    model = keras.Model(inputs, outputs)
    _randomize(inner.layers[0], rng)
    _randomize(model.get_layer("sep"), rng)
    model.save(tmp_path / "dup.keras")
    model.save_weights(tmp_path / "dup.weights.h5")
    x = rng.normal(size=(2, 8, 2)).astype("float32")
    outer_layer = model.get_layer("sep")
    # An exact path wins; a bare name that only nested layers share is ambiguous.
    for path, klayer in (("sep", outer_layer), ("inner/sep", inner.layers[0])):
        want = keras.ops.convert_to_numpy(klayer(x))
        assert_close(keras_io.load_keras(tmp_path / "dup.keras", path)(x), want)
        assert_close(keras_io.load_keras(tmp_path / "dup.weights.h5", path,
                                         config=klayer.get_config())(x), want)


@KERAS_WARNINGS
def test_from_keras_and_to_keras():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(11)
    klayer = keras.layers.SeparableConv1D(
        5, 3, strides=2, padding="same", depth_multiplier=2, activation="gelu",
        dilation_rate=1, depthwise_regularizer="l2", pointwise_constraint="non_neg",
        name="k")
    klayer.build((None, None, 4))
    _randomize(klayer, rng)
    x = rng.normal(size=(3, 11, 4)).astype("float32")
    want = keras.ops.convert_to_numpy(klayer(x))

    layer = keras_io.from_keras(klayer)
    assert layer.name == "k" and layer.built
    assert_close(layer(x), want)

    back = keras_io.to_keras(layer)
    assert isinstance(back, keras.layers.SeparableConv1D) and back.built
    assert_close(keras.ops.convert_to_numpy(back(x)), want)
    for key in ("filters", "kernel_size", "strides", "padding", "depth_multiplier",
                "activation", "use_bias", "depthwise_regularizer", "pointwise_constraint"):
        assert back.get_config()[key] == klayer.get_config()[key], key

    # sepconv -> Keras -> sepconv, channels_first, no bias, float64.
    mine = sepconv.SeparableConv1D(3, 2, data_format="channels_first", use_bias=False,
                                   activation="relu", dtype="float64", name="m")
    mine.build((None, 4, None))
    xk = rng.normal(size=(2, 4, 9))
    klayer2 = keras_io.to_keras(mine)
    assert klayer2.dtype == "float64"
    assert_close(keras.ops.convert_to_numpy(klayer2(xk)), mine(xk))
    again = keras_io.from_keras(klayer2)
    for a, b in zip(again.get_weights(), mine.get_weights()):
        np.testing.assert_array_equal(a, b)

    # Unbuilt layers convert both ways, config only.
    unbuilt = keras_io.to_keras(sepconv.SeparableConv1D(2, 3, name="u"))
    assert not unbuilt.built and unbuilt.name == "u"
    assert not keras_io.from_keras(unbuilt).built

    with pytest.raises(TypeError, match="SeparableConv1D"):
        keras_io.from_keras(keras.layers.Dense(2))
