"""``sepconv.config``: image_data_format from keras.json and its setter."""

import json

import numpy as np
import pytest

import sepconv
from sepconv import config


@pytest.fixture(autouse=True)
def fresh_config(tmp_path, monkeypatch):
    """Every test starts with no override and an empty KERAS_HOME, and cleans up."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    config.set_image_data_format(None)
    yield home
    config.set_image_data_format(None)


def _write(home, settings):
    path = home / "keras.json"
    path.write_text(settings if isinstance(settings, str) else json.dumps(settings))
    return path


def test_absent_file_is_channels_last(fresh_config):
    assert not (fresh_config / "keras.json").exists()
    assert config.image_data_format() == "channels_last"


def test_keras_json_channels_first(fresh_config):
    path = _write(fresh_config, {"floatx": "float32", "epsilon": 1e-07, "backend": "jax",
                                 "image_data_format": "channels_first"})
    assert config.keras_config_path() == str(path)
    assert config.image_data_format() == "channels_first"


def test_keras_json_channels_last(fresh_config):
    _write(fresh_config, {"image_data_format": "channels_last"})
    assert config.image_data_format() == "channels_last"


@pytest.mark.parametrize("content", ['{"backend": "jax"}', "not json {", "[1, 2]",
                                     '{"image_data_format": "NCW"}'])
def test_keras_json_without_usable_key(fresh_config, content):
    _write(fresh_config, content)
    assert config.image_data_format() == "channels_last"


def test_home_dot_keras_when_keras_home_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".keras").mkdir()
    _write(tmp_path / ".keras", {"image_data_format": "channels_first"})
    config.set_image_data_format(None)
    assert config.image_data_format() == "channels_first"


def test_reset_rereads_keras_json(fresh_config):
    assert config.image_data_format() == "channels_last"
    _write(fresh_config, {"image_data_format": "channels_first"})
    config.set_image_data_format(None)
    assert config.image_data_format() == "channels_first"
    (fresh_config / "keras.json").unlink()
    config.set_image_data_format(None)
    assert config.image_data_format() == "channels_last"


def test_setter_overrides_keras_json(fresh_config):
    _write(fresh_config, {"image_data_format": "channels_first"})
    config.set_image_data_format("channels_last")
    assert config.image_data_format() == "channels_last"
    config.set_image_data_format("Channels_First")
    assert config.image_data_format() == "channels_first"
    config.set_image_data_format(None)
    assert config.image_data_format() == "channels_first"


@pytest.mark.parametrize("value,shown", [("NCW", "'NCW'"), ("channels", "'channels'"),
                                         (1, "1"), ("", "''")])
def test_setter_validation(value, shown):
    config.set_image_data_format("channels_first")
    with pytest.raises(ValueError) as info:
        config.set_image_data_format(value)
    message = str(info.value)
    assert "data_format" in message and shown in message, message
    assert config.image_data_format() == "channels_first"  # unchanged


def test_layer_with_data_format_none_reads_keras_json(fresh_config):
    _write(fresh_config, {"image_data_format": "channels_first"})
    layer = sepconv.SeparableConv1D(4, 3, depth_multiplier=2)
    assert layer.data_format == "channels_first"
    assert layer.get_config()["data_format"] == "channels_first"
    x = np.random.default_rng(0).uniform(-1, 1, (2, 5, 12)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 4, 10)
    assert [w.shape for w in layer.weights] == [(3, 5, 2), (1, 10, 4), (4,)]
    z = sepconv.separable_conv1d(x, *layer.get_weights())
    assert np.array_equal(y, z)


def test_layer_with_data_format_none_uses_setter():
    config.set_image_data_format("channels_first")
    layer = sepconv.SeparableConv1D(4, 3)
    assert layer.data_format == "channels_first"
    # The format is fixed at construction, as in Keras.
    config.set_image_data_format("channels_last")
    assert layer.data_format == "channels_first"
    assert sepconv.SeparableConv1D(4, 3).data_format == "channels_last"


def test_layer_default_channels_last_without_file():
    layer = sepconv.SeparableConv1D(4, 3)
    assert layer.data_format == "channels_last"
    assert layer(np.zeros((2, 12, 5), np.float32)).shape == (2, 10, 4)


def test_explicit_data_format_ignores_config(fresh_config):
    _write(fresh_config, {"image_data_format": "channels_first"})
    layer = sepconv.SeparableConv1D(4, 3, data_format="channels_last")
    assert layer.data_format == "channels_last"
