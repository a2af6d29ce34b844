"""Keras files as a hostile party would make them.

Each test takes a real Keras 3 file from tests/data/keras and changes one
thing the way an attacker would: weights stored outside the file, links to
other files, virtual datasets, shapes that promise gigabytes, zip bombs, a
FIFO for a path, configs nested beyond reason, malformed structure.  Loading
must refuse with a ValueError (OSError for an unreadable file) that says
what is wrong, read nothing from outside the file, and neither allocate nor
inflate beyond its bounds.  The last test fuzzes the bytes of real files.
"""

import json
import os
import resource
import shutil
import threading
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sepconv

h5py = pytest.importorskip("h5py")

HERE = os.path.join(os.path.dirname(__file__), "data", "keras")
SEQ = os.path.join(HERE, "sequential.keras")
SEQ_WEIGHTS = os.path.join(HERE, "sequential.weights.h5")
VARS = "layers/separable_conv1d/vars"
FUZZ_EXAMPLES = int(os.environ.get("SEPCONV_FUZZ_EXAMPLES", "300")) // 3


def _seq_config():
    with zipfile.ZipFile(SEQ) as archive:
        config = json.loads(archive.read("config.json"))
    layer = next(item for item in config["config"]["layers"]
                 if item["class_name"] == "SeparableConv1D")
    return layer["config"]


def _weights_copy(tmp_path, name="w.weights.h5"):
    path = tmp_path / name
    shutil.copy(SEQ_WEIGHTS, path)
    return str(path)


def _load_weights(path):
    return sepconv.load_keras(path, "separable_conv1d", config=_seq_config())


def _archive_with(tmp_path, members, compression=zipfile.ZIP_DEFLATED, name="x.keras"):
    """A copy of the sequential archive with ``members`` (name -> bytes) replaced."""
    path = tmp_path / name
    with zipfile.ZipFile(SEQ) as source, zipfile.ZipFile(path, "w", compression) as target:
        for info in source.infolist():
            data = members.get(info.filename, source.read(info.filename))
            target.writestr(info.filename, data)
    return str(path)


def test_the_untouched_file_loads():
    layer = _load_weights(SEQ_WEIGHTS)
    assert layer.built and layer.weights[0].shape == (3, 4, 2)


# ------------------------------------------------------------------ HDF5 tricks
def test_external_raw_storage_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.full(24, 7.0, dtype=np.float32).tobytes())
    path = _weights_copy(tmp_path)
    with h5py.File(path, "r+") as handle:
        del handle[VARS + "/0"]
        handle.create_dataset(VARS + "/0", shape=(3, 4, 2), dtype="<f4",
                              external=[(str(secret), 0, 96)])
    with pytest.raises(ValueError, match="external"):
        _load_weights(path)


@pytest.mark.parametrize("kind", ["external", "soft"])
def test_links_are_refused(tmp_path, kind):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["data"] = np.full((3, 4, 2), 7.0, dtype=np.float32)
    path = _weights_copy(tmp_path)
    with h5py.File(path, "r+") as handle:
        if kind == "external":
            del handle[VARS + "/0"]
            handle[VARS + "/0"] = h5py.ExternalLink(str(other), "/data")
        else:
            handle["elsewhere"] = handle[VARS + "/0"][()]
            del handle[VARS + "/0"]
            handle[VARS + "/0"] = h5py.SoftLink("/elsewhere")
    with pytest.raises(ValueError, match="link"):
        _load_weights(path)


def test_an_external_link_for_a_whole_group_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    shutil.copy(SEQ_WEIGHTS, other)
    path = str(tmp_path / "w.weights.h5")
    with h5py.File(path, "w") as handle:
        handle["layers"] = h5py.ExternalLink(str(other), "/layers")
    with pytest.raises(ValueError, match="link"):
        _load_weights(path)


def test_virtual_datasets_are_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["data"] = np.full((3, 4, 2), 7.0, dtype=np.float32)
    path = _weights_copy(tmp_path)
    layout = h5py.VirtualLayout(shape=(3, 4, 2), dtype="<f4")
    layout[...] = h5py.VirtualSource(str(other), "data", shape=(3, 4, 2))
    with h5py.File(path, "r+") as handle:
        del handle[VARS + "/0"]
        handle.create_virtual_dataset(VARS + "/0", layout)
    with pytest.raises(ValueError, match="virtual"):
        _load_weights(path)


def _max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_shape_promising_gigabytes_is_refused_before_reading(tmp_path):
    """A chunked, compressed dataset of 16 GiB of zeros fits in a few KB of file."""
    path = _weights_copy(tmp_path)
    with h5py.File(path, "r+") as handle:
        del handle[VARS + "/0"]
        handle.create_dataset(VARS + "/0", shape=(3, 2**20, 2**11), dtype="<f4",
                              chunks=(1, 1024, 1024), compression="gzip")
    assert os.path.getsize(path) < 2**20
    before = _max_rss_mib()
    with pytest.raises(ValueError, match="do not fit"):
        _load_weights(path)
    assert _max_rss_mib() - before < 200


def test_non_float_weights_are_refused(tmp_path):
    path = _weights_copy(tmp_path)
    with h5py.File(path, "r+") as handle:
        del handle[VARS + "/0"]
        handle[VARS + "/0"] = np.zeros((3, 4, 2), dtype="S4")
    with pytest.raises(ValueError, match="floating"):
        _load_weights(path)


def test_config_input_shape_is_checked_not_allocated(tmp_path):
    """A config promising 2**30 input channels once built a layer of that size first."""
    config = dict(_seq_config(), batch_input_shape=[None, 10, 2**30])
    with pytest.raises(ValueError, match="input channels"):
        sepconv.load_keras(SEQ_WEIGHTS, "separable_conv1d", config=config)


# ------------------------------------------------------------------ zip tricks
def test_an_oversized_config_is_refused_without_inflating(tmp_path):
    bomb = b"{" + b" " * (64 * 2**20) + b"}"  # 64 MiB that deflate to about 64 KiB
    path = _archive_with(tmp_path, {"config.json": bomb})
    assert os.path.getsize(path) < 2**20
    with pytest.raises(ValueError, match="config.json is .* bytes"):
        sepconv.list_layers(path)
    with pytest.raises(ValueError, match="config.json is .* bytes"):
        sepconv.load_keras(path, "seq_sep_a")


def test_a_weights_member_inflating_too_far_is_refused(tmp_path):
    with zipfile.ZipFile(SEQ) as source:
        weights = source.read("model.weights.h5")
    bomb = weights + bytes(256 * 2**20)  # trailing zeros: a 256 MiB member of ~300 KB
    path = _archive_with(tmp_path, {"model.weights.h5": bomb})
    with pytest.raises(ValueError, match="inflate"):
        sepconv.load_keras(path, "seq_sep_a")


@pytest.mark.parametrize("text", [
    "[" * 100000 + "]" * 100000,
    '{"a": ' * 300 + "1" + "}" * 300,
])
def test_configs_nested_too_deeply_are_refused(tmp_path, text):
    path = _archive_with(tmp_path, {"config.json": text.encode()})
    with pytest.raises(ValueError, match="nested"):
        sepconv.list_layers(path)


@pytest.mark.parametrize("config", [
    {"config": {"layers": [{"class_name": "SeparableConv1D", "config": 5}]}},
    {"config": {"layers": [{"class_name": "SeparableConv1D"}]}},
    {"config": {"layers": "x"}},
    [1, 2],
    {"config": {"layers": [{"class_name": "SeparableConv1D",
                            "config": {"name": "seq_sep_a", "filters": "many"}}]}},
])
def test_malformed_configs_are_value_errors(tmp_path, config):
    path = _archive_with(tmp_path, {"config.json": json.dumps(config).encode()})
    with pytest.raises((ValueError, TypeError)):
        sepconv.load_keras(path, "seq_sep_a")


def test_not_an_archive_or_hdf5(tmp_path):
    path = tmp_path / "x.weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(4000))
    with pytest.raises(ValueError, match="HDF5"):
        _load_weights(str(path))
    truncated = tmp_path / "t.weights.h5"
    truncated.write_bytes(open(SEQ_WEIGHTS, "rb").read()[:3000])
    with pytest.raises(ValueError):
        _load_weights(str(truncated))


# ------------------------------------------------------------------ paths
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)
    outcome = {}

    def attempt():
        try:
            sepconv.list_layers(str(fifo))
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcome["error"] = exc

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=20)
    if thread.is_alive():  # unblock the reader so the test process can finish
        with open(fifo, "wb"):
            pass
        pytest.fail("list_layers blocked on a FIFO")
    assert isinstance(outcome.get("error"), ValueError)
    assert "regular file" in str(outcome["error"])


def test_an_unreadable_file_stays_an_os_error(tmp_path, monkeypatch):
    """Unreadable is the file's problem, not its content's: the OSError subclass
    propagates unchanged (CI runs as root, which reads any file, so the
    permission error is injected where h5py opens the file)."""
    path = _weights_copy(tmp_path)
    real_file = h5py.File

    def refuse(name, *args, **kwargs):
        if str(name) == path:
            raise PermissionError(13, "Permission denied", path)
        return real_file(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", refuse)
    with pytest.raises(PermissionError):
        _load_weights(path)
    monkeypatch.setattr(h5py, "File", real_file)
    assert _load_weights(path).built


# ------------------------------------------------------------------ fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), archive=st.booleans())
def test_fuzzed_files_load_or_raise_value_error(tmp_path_factory, data, archive):
    """Random byte changes to a real file: a layer or a ValueError, nothing else."""
    source = SEQ if archive else SEQ_WEIGHTS
    blob = bytearray(open(source, "rb").read())
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[:data.draw(st.integers(0, len(blob)))]
    path = tmp_path_factory.mktemp("fuzz") / ("f.keras" if archive else "f.weights.h5")
    path.write_bytes(bytes(blob))
    try:
        if archive:
            layer = sepconv.load_keras(str(path), "seq_sep_a")
        else:
            layer = _load_weights(str(path))
    except ValueError:
        return
    assert layer.built
    assert all(np.asarray(w).dtype == np.float32 for w in layer.weights)
