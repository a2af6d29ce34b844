"""Global settings, as in ``keras.config``.

``image_data_format`` is read once from ``keras.json`` in ``$KERAS_HOME``
(or ``~/.keras``) the first time it is needed; "channels_last" when the file
or the key is absent.  :func:`set_image_data_format` overrides it for the
process, as Keras's setter does.
"""

from __future__ import annotations

import json
import os

__all__ = ["image_data_format", "set_image_data_format", "keras_config_path"]

_VALID = ("channels_last", "channels_first")
_state = {"image_data_format": None}


def keras_config_path():
    """Path of the keras.json that Keras itself would read."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "keras.json")


def _read_keras_json():
    try:
        with open(keras_config_path()) as handle:
            settings = json.load(handle)
    except (OSError, ValueError):
        return "channels_last"
    value = settings.get("image_data_format", "channels_last") if isinstance(settings, dict) else None
    return value if value in _VALID else "channels_last"


def image_data_format():
    """The default data format: 'channels_last' or 'channels_first'."""
    if _state["image_data_format"] is None:
        _state["image_data_format"] = _read_keras_json()
    return _state["image_data_format"]


def set_image_data_format(data_format):
    """Set the default data format for layers built with ``data_format=None``.

    Passing None forgets the setting, so keras.json is read again next time.
    """
    if data_format is None:
        _state["image_data_format"] = None
        return
    if not isinstance(data_format, str) or data_format.lower() not in _VALID:
        raise ValueError(f"Argument `data_format` must be one of {_VALID}, "
                         f"received data_format={data_format!r}.")
    _state["image_data_format"] = data_format.lower()
