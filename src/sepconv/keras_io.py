"""Read SeparableConv1D layers out of Keras files, and convert to and from Keras layers.

No Keras is needed to read files: a Keras 3 ``.keras`` archive is a zip of
``config.json`` (the model's config), ``metadata.json`` and
``model.weights.h5``; only ``h5py`` is needed for the weights (install it with
``pip install "sepconv[keras]"``).

Layout of Keras 3 weight files (``model.weights.h5`` inside an archive, and
``*.weights.h5`` from ``model.save_weights``)::

    layers/<key>/vars/0, 1, 2            a layer of the model (here: depthwise
                                         kernel, pointwise kernel, bias)
    layers/<key>/vars.attrs["name"]      the layer's name (recent Keras 3)
    layers/<model key>/layers/<key>/vars a layer of a nested model

The group ``<key>`` is not the layer's name: it is the snake-case class name,
made unique per model with a counter in the order of the model's layers
(``separable_conv1d``, ``separable_conv1d_1``, ...).  Layers are found by the
``name`` attribute where the file has it and by recomputing the key from the
model config otherwise.

Legacy HDF5 files (``model.save("x.h5")`` and Keras 2 weights files, with
``model_weights/<layer>/<layer>/depthwise_kernel``) are read too.

Layer names may be given as a path through nested models, ``"block/conv"``;
a plain name is enough where it is unique in the file.

Files are treated as hostile, as Keras 3's own safe loading does: only
regular files are opened (a FIFO or device path is refused, not waited on);
``config.json`` is bounded in size and nesting depth; zip members are
bounded in size and compression ratio before they are inflated; HDF5 soft and
external links, external raw storage and virtual datasets are refused (they
would read data from outside the file); every dataset's shape and dtype are
checked against the layer config before a byte of it is read, and the layer
is built from the weights, not from a shape in the config.  Malformed content
is a ``ValueError`` saying what is wrong; an unreadable file an ``OSError``.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
from contextlib import contextmanager
from typing import Any, List, Optional, Tuple

import numpy as np

from ._typing import PathLike
from .layer import KERAS_CLASS_NAMES, SeparableConv1D

__all__ = ["load_keras", "list_layers", "from_keras", "to_keras"]

_CLASS_NAMES = KERAS_CLASS_NAMES
_CONFIG_FILE = "config.json"
_WEIGHTS_FILE = "model.weights.h5"
_H5_HINT = 'pip install "sepconv[keras]"'
_LEGACY_VAR_ORDER = ("depthwise_kernel", "pointwise_kernel", "bias")

#: Limits on what a file may make sepconv read.
_MAX_CONFIG_BYTES = 16 * 2**20      # config.json, uncompressed
_MAX_CONFIG_DEPTH = 256             # nesting of its lists and dicts
_MAX_COMPRESSION_RATIO = 200        # inflated / stored size of a zip member
_FLOAT_KINDS = ("f",)


# --------------------------------------------------------------------- imports
def _import_h5py():
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(f"Reading Keras weight files needs h5py, which is not installed: "
                          f"{_H5_HINT}") from exc
    return h5py


# --------------------------------------------------------------- model config
def _snake_case(name):
    """Keras's file key for a class name: 'SeparableConv1D' -> 'separable_conv1d'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class _Entry:
    """One layer of a model config: its name path, class, config and file keys."""

    __slots__ = ("names", "class_name", "config", "keys")

    def __init__(self, names, class_name, config, keys):
        self.names = names          # ("block", "conv"): names from the top model down
        self.class_name = class_name
        self.config = config        # the layer's own config dict
        self.keys = keys            # ("functional", "separable_conv1d"): h5 group keys

    @property
    def path(self):
        return "/".join(self.names)

    @property
    def is_sepconv(self):
        return self.class_name in _CLASS_NAMES


def _layer_list(config):
    layers = config.get("layers") if isinstance(config, dict) else None
    return layers if isinstance(layers, list) else None


def _walk_config(model, names=(), keys=()):
    """Every layer in a model config, depth first, nested models included."""
    config = model.get("config") if isinstance(model, dict) else None
    layers = _layer_list(config)
    if layers is None:
        return
    counters = {}
    for item in layers:
        if not isinstance(item, dict):
            continue
        class_name = str(item.get("class_name", ""))
        inner = item.get("config") if isinstance(item.get("config"), dict) else {}
        name = inner.get("name", item.get("name"))
        base = _snake_case(class_name)
        count = counters.get(base)
        counters[base] = 0 if count is None else count + 1
        key = base if count is None else f"{base}_{count + 1}"
        if not isinstance(name, str):
            name = key
        entry = _Entry(names + (name,), class_name, inner, keys + (key,))
        yield entry
        if _layer_list(inner) is not None:
            yield from _walk_config(item, entry.names, entry.keys)


def _match(entries, layer_name, describe):
    """The entries that ``layer_name`` (a name or a 'model/name' path) refers to."""
    if not isinstance(layer_name, str) or not layer_name:
        raise TypeError(f"Argument `layer_name` must be a non-empty string, received "
                        f"{layer_name!r}.")
    wanted = tuple(layer_name.strip("/").split("/"))
    found = [e for e in entries if describe(e) == wanted]
    if not found and len(wanted) == 1:
        found = [e for e in entries if describe(e)[-1] == wanted[0]]
    return found


# ------------------------------------------------------------------ file access
def _check_path(path):
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"Argument `path` must be a path, received "
                        f"{type(path).__name__}.") from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path!r}")
    mode = os.stat(path).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ValueError(f"{path!r} is not a regular file (a FIFO, device or socket); "
                         f"only regular files and unzipped archive folders are read.")
    return path


def _kind(path):
    """'dir' or 'zip' (Keras 3 model archive) or 'h5'."""
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, _CONFIG_FILE)):
            raise ValueError(f"{path!r} is a directory without {_CONFIG_FILE}: not an "
                             f"unzipped Keras model.")
        return "dir"
    if zipfile.is_zipfile(path):
        return "zip"
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head == b"\x89HDF\r\n\x1a\n":
        return "h5"
    if path.endswith(".json"):
        raise ValueError(f"{path!r}: sharded Keras weights (a .json index with .h5 shards) "
                         f"are not supported; save the weights unsharded.")
    raise ValueError(f"{path!r} is neither a Keras archive (.keras) nor an HDF5 weights "
                     f"file (.weights.h5 / .h5).")


def _too_large(path, size):
    return ValueError(f"{path!r}: {_CONFIG_FILE} is {size} bytes, more than the "
                      f"{_MAX_CONFIG_BYTES} a model config may have.")


def _read_archive_config(path, kind):
    if kind == "dir":
        name = os.path.join(path, _CONFIG_FILE)
        mode = os.stat(name).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"{name!r} is not a regular file.")
        with open(name, "rb") as handle:
            text = handle.read(_MAX_CONFIG_BYTES + 1)
    else:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(_CONFIG_FILE)
            except KeyError:
                raise ValueError(f"{path!r} is a zip file without {_CONFIG_FILE}: not a "
                                 f"Keras archive.") from None
            if info.file_size > _MAX_CONFIG_BYTES:
                raise _too_large(path, info.file_size)
            with archive.open(info) as member:
                text = member.read(_MAX_CONFIG_BYTES + 1)
    if len(text) > _MAX_CONFIG_BYTES:
        raise _too_large(path, len(text))
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path!r}: {_CONFIG_FILE} is not valid JSON ({exc}).") from None
    except RecursionError:
        raise ValueError(f"{path!r}: {_CONFIG_FILE} is nested too deeply.") from None
    _check_depth(path, config)
    if not isinstance(config, dict):
        raise ValueError(f"{path!r}: {_CONFIG_FILE} does not hold a model config.")
    return config


def _check_depth(path, value):
    """ValueError if lists and dicts nest deeper than _MAX_CONFIG_DEPTH (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_CONFIG_DEPTH:
            raise ValueError(f"{path!r}: {_CONFIG_FILE} is nested more than "
                             f"{_MAX_CONFIG_DEPTH} levels deep.")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


class _ZipMember(io.RawIOBase):
    """A read-only, seekable window on a stored (uncompressed) zip member."""

    def __init__(self, handle, start, size):
        super().__init__()
        self._handle, self._start, self._size, self._pos = handle, start, size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer):
        count = max(0, min(len(buffer), self._size - self._pos))
        if count == 0:
            return 0
        self._handle.seek(self._start + self._pos)
        data = self._handle.read(count)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)


@contextmanager
def _open_weights(h5py, path, kind):
    """The h5py.File with the weights of a model archive or weights file."""
    if kind == "h5":
        with _h5_file(h5py, path, path) as handle:
            yield handle
        return
    if kind == "dir":
        weights = os.path.join(path, _WEIGHTS_FILE)
        if not os.path.isfile(weights):
            raise ValueError(f"{path!r} has no {_WEIGHTS_FILE}.")
        with _h5_file(h5py, weights, weights) as handle:
            yield handle
        return
    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo(_WEIGHTS_FILE)
        except KeyError:
            others = sorted(archive.namelist())
            raise ValueError(f"{path!r} holds no {_WEIGHTS_FILE} (it holds {others}); "
                             f"only Keras 3 archives with HDF5 weights are supported.") from None
        if info.compress_type != zipfile.ZIP_STORED:
            from .arrays import check_allocation
            if info.file_size > _MAX_COMPRESSION_RATIO * max(info.compress_size, 1) + 2**20:
                raise ValueError(f"{path!r}: {_WEIGHTS_FILE} would inflate from "
                                 f"{info.compress_size} to {info.file_size} bytes, more "
                                 f"than {_MAX_COMPRESSION_RATIO} times: refused.")
            check_allocation(info.file_size, f"{path!r}: inflating {_WEIGHTS_FILE}")
        with open(path, "rb") as raw:
            if info.compress_type == zipfile.ZIP_STORED:
                # Read the member in place: the data follows its local header.
                raw.seek(info.header_offset)
                header = raw.read(30)
                if header[:4] != b"PK\x03\x04":
                    raise ValueError(f"{path!r}: corrupt zip member {_WEIGHTS_FILE}.")
                name_len, extra_len = struct.unpack("<HH", header[26:30])
                start = info.header_offset + 30 + name_len + extra_len
                source = io.BufferedReader(_ZipMember(raw, start, info.file_size),
                                           buffer_size=1 << 16)
                with _h5_file(h5py, source, path) as handle:
                    yield handle
                return
            with tempfile.TemporaryFile() as spool:
                with archive.open(info) as member:
                    shutil.copyfileobj(member, spool, 1 << 20)
                spool.seek(0)
                with _h5_file(h5py, spool, path) as handle:
                    yield handle


@contextmanager
def _h5_file(h5py, source, path):
    """h5py.File(source), with 'not an HDF5 file' a ValueError (the file is readable)."""
    try:
        handle = h5py.File(source, "r")
    except OSError as exc:
        # PermissionError, FileNotFoundError, ...: the file cannot be read, which
        # stays an OSError (the same rule as _malformed_is_value_error).  A plain
        # OSError from HDF5 means the content is not HDF5.
        if type(exc) is not OSError or (isinstance(source, str)
                                        and not os.access(source, os.R_OK)):
            raise
        raise ValueError(f"{path!r} is not a valid HDF5 file ({exc}).") from None
    with handle:
        yield handle


def _member(h5py, group, name, where):
    """``group[name]`` through hard links only; None when absent.

    Soft and external links are refused: an external link reads another file,
    and neither occurs in files Keras writes.
    """
    link = group.get(name, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise ValueError(f"{where}: the file links {name!r} elsewhere "
                         f"({type(link).__name__}); links are refused.")
    return group.get(name)


def _member_path(h5py, group, path, where):
    """``group[path]`` for a '/'-separated path, every step through hard links."""
    node = group
    for part in path.strip("/").split("/"):
        if not isinstance(node, h5py.Group):
            return None
        node = _member(h5py, node, part, where)
        if node is None:
            return None
    return node


def _checked_dataset(h5py, dataset, where):
    """The dataset, after refusing storage outside the file and non-float dtypes."""
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"{where}: expected a weight array, found {type(dataset).__name__}.")
    if dataset.external:
        raise ValueError(f"{where}: dataset {dataset.name!r} keeps its data in external "
                         f"files; refused.")
    if dataset.is_virtual:
        raise ValueError(f"{where}: dataset {dataset.name!r} is a virtual dataset (data "
                         f"from other datasets or files); refused.")
    if str(dataset.attrs.get("dtype", "")) == "bfloat16":
        raise ValueError(f"{where}: bfloat16 weights are not supported.")
    if dataset.dtype.kind not in _FLOAT_KINDS:
        raise ValueError(f"{where}: dataset {dataset.name!r} holds {dataset.dtype}, not "
                         f"floating-point weights.")
    return dataset


# ------------------------------------------------------------- Keras 3 weights
class _Group:
    """A layer's weights group in a Keras 3 weights file."""

    __slots__ = ("keys", "names", "vars")

    def __init__(self, keys, names, group):
        self.keys = keys            # ("sequential", "separable_conv1d")
        self.names = names          # ("block", "conv") where the file names them, else keys
        self.vars = group

    @property
    def path(self):
        return "/".join(self.names)

    @property
    def h5_path(self):
        return "/".join(k for key in self.keys for k in ("layers", key)) + "/vars"


def _attr_name(group):
    value = group.attrs.get("name") if group is not None else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _walk_groups(h5py, group, keys=(), names=()):
    """Every layer group under ``group['layers']``, depth first."""
    layers = _member(h5py, group, "layers", "the weights file")
    if not isinstance(layers, h5py.Group):
        return
    for key in layers:
        child = _member(h5py, layers, key, "the weights file")
        if not isinstance(child, h5py.Group):
            continue
        variables = _member(h5py, child, "vars", "the weights file")
        variables = variables if isinstance(variables, h5py.Group) else None
        name = _attr_name(variables) or key
        entry = _Group(keys + (key,), names + (name,), variables)
        yield entry
        yield from _walk_groups(h5py, child, entry.keys, entry.names)


def _read_vars(h5py, group, where):
    """The datasets vars/0, vars/1, ... of a layer group, in order, checked, unread."""
    if group is None:
        raise ValueError(f"{where}: the file holds no weights for this layer.")
    items = [(k, _member(h5py, group, k, where)) for k in group]
    items = [(k, d) for k, d in items if isinstance(d, h5py.Dataset)]
    if not all(k.isdigit() and len(k) < 6 for k, _ in items):
        raise ValueError(f"{where}: unexpected weight entries {sorted(k for k, _ in items)}.")
    return [_checked_dataset(h5py, d, where) for _, d in sorted(items, key=lambda kv: int(kv[0]))]


def _looks_like_sepconv(h5py, group):
    if group is None:
        return False
    shapes = [getattr(_member(h5py, group, str(i), "the weights file"), "shape", None)
              for i in range(min(len(group), 4))]
    if len(shapes) not in (2, 3) or None in shapes:
        return False
    ok = len(shapes[0]) == 3 and len(shapes[1]) == 3 and shapes[1][0] == 1
    return ok and (len(shapes) == 2 or len(shapes[2]) == 1)


def _find_group(entry, groups):
    """The weights group of a config entry: by stored name, else by recomputed key."""
    by_key = {g.keys: g for g in groups}
    group = by_key.get(entry.keys)
    named = group is not None and _attr_name(group.vars) is not None
    if group is not None and (not named or group.names[-1] == entry.names[-1]):
        return group
    # The keys did not match (a model whose layers the file orders differently):
    # fall back on the stored names, nearest to the expected parent first.
    found = [g for g in groups if g.names == entry.names]
    if not found:
        found = [g for g in groups
                 if g.names[-1] == entry.names[-1] and g.keys[:-1] == entry.keys[:-1]]
    if len(found) == 1:
        return found[0]
    return None


# --------------------------------------------------------------- legacy HDF5
def _legacy_root(h5py, handle):
    """The group with ``layer_names`` of a legacy (Keras 2 style) HDF5 file, or None."""
    if "layer_names" in handle.attrs:
        return handle
    weights = _member(h5py, handle, "model_weights", "the weights file")
    if isinstance(weights, h5py.Group) and "layer_names" in weights.attrs:
        return weights
    return None


def _legacy_config(handle):
    text = handle.attrs.get("model_config")
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)


def _decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _legacy_weights(h5py, root, names, where):
    """A layer's datasets from a legacy file: group ``names[0]``, weights ``.../leaf/var``."""
    group = _member(h5py, root, names[0], where)
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{where}: the file holds no weights for this layer.")
    leaf = names[-1]
    found = {}
    for weight_name in (_decode(w) for w in group.attrs.get("weight_names", [])):
        parts = weight_name.split("/")
        variable = parts[-1].split(":")[0]
        if len(parts) >= 2 and parts[-2] == leaf and variable in _LEGACY_VAR_ORDER:
            dataset = _member_path(h5py, group, weight_name, where)
            if dataset is None:
                raise ValueError(f"{where}: weight {weight_name!r} is listed but missing.")
            found[variable] = _checked_dataset(h5py, dataset, where)
    return [found[v] for v in _LEGACY_VAR_ORDER if v in found]


# ------------------------------------------------------------------ public API
def _malformed_is_value_error(function):
    """Errors that malformed content can raise deep in zipfile, h5py or the
    walkers become one ValueError that names the file."""
    @functools.wraps(function)
    def wrapper(path, *args, **kwargs):
        try:
            return function(path, *args, **kwargs)
        except (KeyError, IndexError, AttributeError, struct.error, zipfile.BadZipFile,
                EOFError, UnicodeDecodeError, RecursionError, RuntimeError,
                OverflowError) as exc:
            raise ValueError(f"{path!r}: malformed Keras file ({type(exc).__name__}: "
                             f"{exc}).") from None
        except OSError as exc:
            if type(exc) is not OSError:  # FileNotFoundError, PermissionError, ...: the file
                raise
            # A plain OSError from h5py once the file is open: the content is bad.
            raise ValueError(f"{path!r}: malformed HDF5 content ({exc}).") from None
    return wrapper


@_malformed_is_value_error
def list_layers(path: PathLike) -> List[Tuple[str, str]]:
    """``[(name, class_name), ...]`` for every layer in a Keras model archive.

    ``path`` is a ``.keras`` archive (or an unzipped one, or a legacy ``.h5``
    model).  Layers of nested models are listed after their model, named by
    their path, ``"model/layer"``, which :func:`load_keras` accepts.  Needs no
    Keras (and no h5py for a ``.keras`` archive).
    """
    path = _check_path(path)
    config = _model_config(path, _kind(path))
    if config is None:
        raise ValueError(f"{path!r} holds weights only and no model config, so it has no "
                         f"layer classes to list.")
    return [(e.path, e.class_name) for e in _walk_config(config)]


def _model_config(path, kind):
    if kind in ("dir", "zip"):
        return _read_archive_config(path, kind)
    h5py = _import_h5py()
    with _h5_file(h5py, path, path) as handle:
        return _legacy_config(handle)


def _config_from(config):
    """A layer config dict from ``config=``: a dict, a serialized layer or a layer."""
    if hasattr(config, "get_config") and not isinstance(config, dict):
        config = config.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"Argument `config` must be a layer config dict or a "
                        f"SeparableConv1D layer, received {type(config).__name__}.")
    if "class_name" in config and isinstance(config.get("config"), dict):
        if config["class_name"] not in _CLASS_NAMES:
            raise ValueError(f"Argument `config` is the config of a {config['class_name']}, "
                             f"not of a SeparableConv1D.")
        config = config["config"]
    return dict(config)


def _build(config, datasets, where):
    """The layer of ``config`` with the weights in ``datasets``.

    The layer is made unbuilt (a shape stored in the config is checked, not
    used to allocate), each dataset's shape is checked against what the
    config implies, and only then are the datasets read.
    """
    config = dict(config)
    stored_shape = config.pop("batch_input_shape", None) or config.pop("input_shape", None)
    config.pop("batch_shape", None)
    try:
        layer = SeparableConv1D.from_config(config)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: cannot make a sepconv layer from its config: "
                        f"{exc}") from exc
    shapes = [tuple(d.shape) for d in datasets]
    channels = shapes[0][1] if shapes and len(shapes[0]) == 3 else None
    expected = layer._spec.weight_shapes(channels) if channels else None
    if expected is None or shapes != expected:
        raise ValueError(f"{where}: the stored weights (shapes {shapes}) do not fit the "
                         f"layer config (expected {expected or 'a 3-D depthwise kernel'}).")
    if isinstance(stored_shape, (list, tuple)) and len(stored_shape) in (2, 3):
        axis = 1 if layer.data_format == "channels_first" and len(stored_shape) == 3 else -1
        if stored_shape[axis] not in (None, channels):
            raise ValueError(f"{where}: the config's input shape {stored_shape} does not "
                             f"match the weights' {channels} input channels.")
    from .arrays import check_allocation
    check_allocation(sum(int(np.prod(s)) for s in shapes) * 8, f"{where}: the weights")
    layer.set_weights([np.asarray(d[()]) for d in datasets])
    return layer


@_malformed_is_value_error
def load_keras(path: PathLike, layer_name: str, *,
               config: Optional[Any] = None) -> SeparableConv1D:
    """A built :class:`sepconv.SeparableConv1D` with a Keras layer's config and weights.

    ``path`` is a Keras 3 model archive (``.keras``), or a weights file
    (``.weights.h5`` from ``model.save_weights``, or a legacy ``.h5``).
    ``layer_name`` names a SeparableConv1D layer of the model; layers of
    nested models may be named by their path, ``"inner_model/layer"``.

    A weights file holds no layer configs: then ``config`` must be given, a
    layer config dict (Keras's or sepconv's ``get_config()``) or a layer
    whose config to use; the new layer takes the name ``layer_name``.  With a
    model archive, ``config`` (optional) replaces the stored config, e.g. to
    load the weights into a float64 layer.

    Needs h5py (``pip install "sepconv[keras]"``), not Keras.
    """
    path = _check_path(path)
    kind = _kind(path)
    h5py = _import_h5py()
    model_config = _read_archive_config(path, kind) if kind != "h5" else None
    with _open_weights(h5py, path, kind) as handle:
        legacy = _legacy_root(h5py, handle) if kind == "h5" else None
        if kind == "h5" and legacy is not None:
            model_config = _legacy_config(handle)
        if model_config is not None:
            entry = _select_entry(path, model_config, layer_name)
            where = f"{path!r}, layer {entry.path!r}"
            if legacy is not None:
                weights = _legacy_weights(h5py, legacy, entry.names, where)
            else:
                groups = list(_walk_groups(h5py, handle))
                group = _find_group(entry, groups)
                if group is None:
                    raise ValueError(f"{where}: no weights for this layer in the file "
                                     f"(looked for {_Group(entry.keys, (), None).h5_path!r}).")
                weights = _read_vars(h5py, group.vars, where)
            layer_config = entry.config if config is None else _config_from(config)
            if config is not None:
                layer_config["name"] = entry.names[-1]
            return _build(layer_config, weights, where)
        if config is None:
            raise ValueError(f"{path!r} is a weights-only file with no layer config: pass "
                             f"the layer's config, load_keras(path, {layer_name!r}, "
                             f"config=...) (a config dict or a SeparableConv1D layer).")
        layer_config = _config_from(config)
        if legacy is not None:
            names = _select_legacy(path, h5py, legacy, layer_name)
            where = f"{path!r}, layer {'/'.join(names)!r}"
            weights = _legacy_weights(h5py, legacy, names, where)
        else:
            group = _select_group(path, h5py, handle, layer_name)
            where = f"{path!r}, layer {group.path!r}"
            weights = _read_vars(h5py, group.vars, where)
            names = group.names
        layer_config["name"] = names[-1]
        return _build(layer_config, weights, where)


def _select_entry(path, model_config, layer_name):
    entries = list(_walk_config(model_config))
    found = _match(entries, layer_name, lambda e: e.names)
    sepconvs = [e.path for e in entries if e.is_sepconv]
    if not found:
        raise ValueError(f"{path!r} has no layer named {layer_name!r}; its SeparableConv1D "
                         f"layers are: {sepconvs or 'none'}.")
    if len(found) > 1:
        raise ValueError(f"{path!r}: the name {layer_name!r} is ambiguous, it names "
                         f"{[e.path for e in found]}; give the path.")
    entry = found[0]
    if not entry.is_sepconv:
        raise ValueError(f"{path!r}: layer {entry.path!r} is a {entry.class_name}, not a "
                         f"SeparableConv1D; the SeparableConv1D layers are: "
                         f"{sepconvs or 'none'}.")
    return entry


def _select_group(path, h5py, handle, layer_name):
    groups = list(_walk_groups(h5py, handle))
    found = _match(groups, layer_name, lambda g: g.names)
    if not found:  # the file's own keys: "separable_conv1d_1", "layers/x/layers/y"
        wanted = tuple(k for k in layer_name.strip("/").split("/") if k not in ("layers",
                                                                               "vars"))
        found = [g for g in groups if g.keys == wanted]
    candidates = [g.path for g in groups if _looks_like_sepconv(h5py, g.vars)]
    if not found:
        raise ValueError(f"{path!r} has no layer named {layer_name!r}; the layers with "
                         f"SeparableConv1D-shaped weights are: {candidates or 'none'}.")
    if len(found) > 1:
        raise ValueError(f"{path!r}: the name {layer_name!r} is ambiguous, it names "
                         f"{[g.path for g in found]}; give the path.")
    if not _looks_like_sepconv(h5py, found[0].vars):
        raise ValueError(f"{path!r}: the weights of layer {found[0].path!r} are not those "
                         f"of a SeparableConv1D; layers with SeparableConv1D-shaped "
                         f"weights: {candidates or 'none'}.")
    return found[0]


def _select_legacy(path, h5py, root, layer_name):
    layer_names = [_decode(n) for n in root.attrs.get("layer_names", [])]
    wanted = tuple(layer_name.strip("/").split("/"))
    if wanted[0] in layer_names:
        return wanted
    owners = []
    for top in layer_names:
        group = root.get(top)
        for weight_name in (_decode(w) for w in getattr(group, "attrs", {}).get(
                "weight_names", [])):
            parts = weight_name.split("/")
            if len(parts) >= 2 and parts[-2] == wanted[-1] and (top,
                                                               wanted[-1]) not in owners:
                owners.append((top, wanted[-1]))
    if len(owners) == 1:
        return owners[0]
    if not owners:
        raise ValueError(f"{path!r} has no layer named {layer_name!r}; its layers are: "
                         f"{layer_names}.")
    raise ValueError(f"{path!r}: the name {layer_name!r} is ambiguous, it names "
                     f"{['/'.join(o) for o in owners]}; give the path.")


# ------------------------------------------------------------ Keras layer objects
def from_keras(keras_layer):
    """A :class:`sepconv.SeparableConv1D` with a Keras layer's config and weights.

    The same as ``SeparableConv1D.from_keras(keras_layer)``.
    """
    return SeparableConv1D.from_keras(keras_layer)


def to_keras(layer):
    """A ``keras.layers.SeparableConv1D`` with this layer's config (and weights, if built).

    The same as ``layer.to_keras()``; needs Keras 3.
    """
    if not isinstance(layer, SeparableConv1D):
        raise TypeError(f"to_keras() needs a sepconv.SeparableConv1D, received "
                        f"{type(layer).__name__}.")
    return layer.to_keras()
