"""Per-machine blocking: the CPU's caches, and the store of measured choices (wisdom).

Two numbers of a forward plan change its speed and never its results: the
tile (output steps per work item; its depthwise scratch is tile x C*M values)
and kc (inputs summed per pass of the pointwise product over a tile).  Each
output is summed in one fixed order whatever they are (see the kernel's
design block), so any valid choice gives the same bits.

``sepconv.tiling`` chooses them by a rule.  ``sepconv.tune(layer, input_shape)``
(sepconv.autotune)
times a few candidates for one layer, input shape and thread count on this
machine, interleaved, and records the fastest, like FFTW's wisdom.  It keeps
the rule's choice unless a candidate is faster by more than ``min_gain``: on a
shared machine the timings move by several percent, and a choice that won by
less is as likely noise as speed.  Later plans of the same problem (in this
process, and in later ones on this machine) use the recorded choice.

The wisdom file is JSON (never pickle): ``$SEPCONV_WISDOM``, or
``$XDG_CACHE_HOME/sepconv/wisdom.json`` (default ``~/.cache/...``);
``SEPCONV_WISDOM=off`` (or empty) keeps wisdom in memory only.  Choices are
kept per machine: the CPU model, its cache sizes and sepconv's version,
so a home directory shared by different machines keeps each one's choices
apart.  The file is untrusted input: anything in it that is not a
well-formed entry is ignored with a warning, and every choice is checked
again (bounds, block multiples, scratch size) by ``sepconv.tiling`` before
a plan uses it.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import threading
import warnings
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from ._version import __version__

__all__ = ["cache_sizes", "machine_id", "wisdom_path", "wisdom", "forget",
           "problem_key", "lookup"]

_FORMAT = "sepconv-wisdom"
_VERSION = 1
#: Bounds on what the file may hold (larger files or more entries are refused).
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_ENTRIES = 4096
MAX_KEY_CHARS = 200
MAX_VALUE = 4096

_lock = threading.RLock()
_state: dict = {"loaded_from": None, "entries": {}}


def _after_fork_in_child():
    # A thread of the parent may have held the lock (saving, say) at fork();
    # in the child that thread does not exist, and the lock would never open.
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ------------------------------------------------------------------ the machine
def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def _parse_size(text):
    # sysfs writes cache sizes as "32K", "2048K", "32M".
    if not text:
        return None
    scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1].upper(), 1)
    digits = text[:-1] if text[-1].upper() in "KMG" else text
    return int(digits) * scale if digits.isdigit() else None


@lru_cache(maxsize=None)
def cache_sizes():
    """{"L1d": bytes, "L2": bytes, "L3": bytes, "source": where from}; None if unknown.

    Linux: cpu0's caches in sysfs (each core's own L1d and L2; L3 as the
    system reports it).  macOS: sysctl.  Elsewhere, or if none answers, None.
    """
    found: dict[str, Optional[int]] = {"L1d": None, "L2": None, "L3": None}
    base = "/sys/devices/system/cpu/cpu0/cache"
    source = None
    if os.path.isdir(base):
        for entry in sorted(os.listdir(base)):
            if not entry.startswith("index"):
                continue
            level = _read_text(os.path.join(base, entry, "level"))
            kind = _read_text(os.path.join(base, entry, "type"))
            size = _parse_size(_read_text(os.path.join(base, entry, "size")))
            if size is None or kind == "Instruction":
                continue
            name = {"1": "L1d", "2": "L2", "3": "L3"}.get(level or "")
            if name and (kind in ("Data", "Unified")):
                found[name] = size
                source = "sysfs"
    if source is None and platform.system() == "Darwin":
        import subprocess
        for name, key in (("L1d", "hw.l1dcachesize"), ("L2", "hw.l2cachesize"),
                          ("L3", "hw.l3cachesize")):
            try:
                text = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True,
                                      timeout=2).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            if text.isdigit() and int(text) > 0:
                found[name] = int(text)
                source = "sysctl"
    found_any: dict[str, Any] = dict(found)
    found_any["source"] = source
    return found_any


@lru_cache(maxsize=None)
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model"):
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_id():
    """The key this machine's wisdom is kept under: CPU model, caches, sepconv version."""
    caches = cache_sizes()
    sizes = ",".join(f"{name}={caches[name]}" for name in ("L1d", "L2", "L3"))
    return f"{_cpu_model()} | {platform.machine()} | {sizes} | sepconv {__version__}"


def problem_key(level, dtype, channels_first, batch, out_steps, width, filters, taps,
                stride, dilation, threads):
    """The wisdom key of one forward plan (everything its speed depends on)."""
    layout = "cf" if channels_first else "cl"
    return (f"{level} {np.dtype(dtype).name} {layout} b{batch} t{out_steps} w{width} "
            f"f{filters} k{taps} s{stride} d{dilation} n{threads}")


# ----------------------------------------------------------------- the store
def wisdom_path():
    """The wisdom file's path, or None when wisdom stays in memory ($SEPCONV_WISDOM)."""
    value = os.environ.get("SEPCONV_WISDOM")
    if value is not None:
        if value.strip().lower() in ("", "off", "0", "none", "no"):
            return None
        return os.path.abspath(os.path.expanduser(value))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "sepconv", "wisdom.json")


def _valid_entry(key, value):
    if not (isinstance(key, str) and 0 < len(key) <= MAX_KEY_CHARS and isinstance(value, dict)):
        return None
    tile, kc = value.get("tile"), value.get("kc")
    for number in (tile, kc):
        if type(number) is not int or not 1 <= number <= MAX_VALUE:
            return None
    gain = value.get("gain", 0.0)
    if type(gain) not in (int, float) or not np.isfinite(gain) or not -1.0 <= gain <= 1.0:
        gain = 0.0
    return {"tile": tile, "kc": kc, "gain": float(gain)}


def _read_file(path):
    """(machines dict, problem) from the file at path; ({}, None) if there is none."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"cannot be read ({exc.__class__.__name__})"
    if len(raw) > MAX_FILE_BYTES:
        return {}, f"is larger than {MAX_FILE_BYTES} bytes"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}, "is not JSON"
    if not (isinstance(data, dict) and data.get("format") == _FORMAT
            and data.get("version") == _VERSION and isinstance(data.get("machines"), dict)):
        return {}, f"is not a version-{_VERSION} {_FORMAT} file"
    machines, dropped = {}, 0
    for machine, entries in data["machines"].items():
        if not (isinstance(machine, str) and len(machine) <= 1000 and isinstance(entries, dict)):
            dropped += 1
            continue
        kept = {}
        for key, value in entries.items():
            entry = _valid_entry(key, value)
            if entry is None or len(kept) >= MAX_ENTRIES:
                dropped += 1
            else:
                kept[key] = entry
        machines[machine] = kept
    return machines, (f"has {dropped} malformed entries (ignored)" if dropped else None)


def _load():
    # Called with _lock held: this machine's entries from the file, once per path.
    path = wisdom_path()
    if _state["loaded_from"] == (path,):
        return
    entries = {}
    if path is not None:
        machines, problem = _read_file(path)
        if problem:
            warnings.warn(f"sepconv: the wisdom file {path} {problem}; tuned choices in it "
                          f"are not used", RuntimeWarning, stacklevel=4)
        entries = machines.get(machine_id(), {})
    _state["entries"] = dict(entries)
    _state["loaded_from"] = (path,)


def lookup(key):
    """The recorded (tile, kc) of a problem key, or None."""
    with _lock:
        _load()
        entry = _state["entries"].get(key)
    return None if entry is None else (entry["tile"], entry["kc"])


def wisdom():
    """This machine's recorded choices: {problem key: {"tile", "kc", "gain"}} (a copy)."""
    with _lock:
        _load()
        return {key: dict(value) for key, value in _state["entries"].items()}


def forget(save=True):
    """Drop this machine's recorded choices (and from the file, if ``save``)."""
    with _lock:
        _load()
        _state["entries"] = {}
        if save:
            _save({})


def _record(key, tile, kc, gain, save):
    with _lock:
        _load()
        entry = _valid_entry(key, {"tile": tile, "kc": kc, "gain": gain})
        if entry is None:
            raise ValueError(f"sepconv: not a valid wisdom entry: {key!r} tile={tile} kc={kc}")
        _state["entries"][key] = entry
        return _save({key: entry}) if save else None


def _save(new_entries):
    # Merge this process's new entries into the file as it is now, and
    # replace it atomically (a reader never sees half a file).  Returns the
    # path written, or None when wisdom is in memory only.
    path = wisdom_path()
    if path is None:
        return None
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    lock = None
    try:
        import fcntl
        lock = open(path + ".lock", "a")
        fcntl.flock(lock, fcntl.LOCK_EX)   # writers in other processes take turns
    except (ImportError, OSError):
        lock = None
    try:
        machines, _ = _read_file(path)
        mine = machines.setdefault(machine_id(), {})
        if new_entries:
            mine.update(new_entries)
        else:  # forget()
            machines.pop(machine_id(), None)
        if len(mine) > MAX_ENTRIES:
            for key in list(mine)[:len(mine) - MAX_ENTRIES]:
                del mine[key]
        text = json.dumps({"format": _FORMAT, "version": _VERSION, "machines": machines},
                          indent=1, sort_keys=True)
        handle, temp = tempfile.mkstemp(prefix=".wisdom-", dir=directory)
        try:
            with os.fdopen(handle, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    finally:
        if lock is not None:
            lock.close()
    return path


def _reset():
    """Forget what was loaded (the next lookup reads the file again); for tests."""
    with _lock:
        _state["loaded_from"] = None
        _state["entries"] = {}
