"""Per-machine blocking: any tile and kc give the same bits, sepconv.tune records a
choice that later plans use, and the wisdom file is untrusted input."""

import json
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import sepconv
from sepconv import functional, tiling, tuning
from sepconv.plan import ConvSpec

from reference import separable_conv1d_reference

pytestmark = pytest.mark.usefixtures("level")


@pytest.fixture
def wisdom_file(tmp_path, monkeypatch):
    """A fresh wisdom file for the test (and the in-memory store emptied)."""
    path = tmp_path / "wisdom.json"
    monkeypatch.setenv("SEPCONV_WISDOM", str(path))
    tuning._reset()
    yield path
    tuning._reset()


def _blockings(spec, shape, threads, kernels):
    batch, steps, channels = spec.split(shape)
    out_steps = spec.geometry(steps).out_steps
    width = channels * spec.depth_multiplier
    layout = tiling.forward_layout(spec.channels_first, spec.strides, width, out_steps)
    unit = tiling.step_unit(kernels, spec.dtype, layout)
    rule = tiling.forward_blocking(out_steps, batch, width, layout, threads, kernels,
                                   spec.dtype)
    # Smallest tile, odd kc values (not a vector multiple), kc of one input,
    # a tile longer than the sequence, and the largest accepted values.
    return rule, [(unit, 16), (3 * unit, 17), (unit, 1), (2 * unit, 5),
                  (tiling._MAX_CHOICE_TILE // unit * unit, tiling._MAX_CHOICE_KC),
                  (5 * unit, max(1, width - 1))]


CASES = [
    # channels, filters, kernel, stride, dilation, dm, padding, layout, steps, batch
    (300, 40, 3, 1, 1, 1, "same", "channels_last", 37, 2),
    (70, 33, 5, 2, 1, 2, "valid", "channels_last", 61, 3),
    (20, 50, 4, 1, 3, 1, "same", "channels_first", 70, 2),
    (260, 20, 3, 1, 1, 1, "valid", "channels_first", 45, 1),
    (9, 7, 2, 3, 1, 3, "same", "channels_last", 29, 2),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_every_blocking_gives_the_same_bits(case, dtype):
    channels, filters, taps, stride, dilation, dm, padding, layout, steps, batch = case
    rng = np.random.default_rng(channels)
    spec = ConvSpec.create(filters=filters, kernel_size=taps, strides=stride,
                           padding=padding, data_format=layout, dilation_rate=dilation,
                           depth_multiplier=dm, activation="relu", dtype=dtype)
    shape = (batch, channels, steps) if layout == "channels_first" else (batch, steps, channels)
    x = rng.standard_normal(shape).astype(dtype)
    dw = rng.standard_normal((taps, channels, dm)).astype(dtype)
    pw = rng.standard_normal((1, channels * dm, filters)).astype(dtype)
    bias = rng.standard_normal(filters).astype(dtype)
    kernels = functional.kernel_module()
    packed = functional.pack_weights(dw, pw, bias, layout == "channels_first", np.dtype(dtype),
                                     kernels)
    expected = separable_conv1d_reference(x, dw, pw, bias, stride, padding, dilation,
                                          layout, lambda y: np.maximum(y, 0.0))
    for threads in (1, 2):
        rule, others = _blockings(spec, shape, threads, kernels)
        plan = spec.plan(shape, threads, kernels, blocking=rule)
        first = plan.run(x, packed, np.empty(plan.output_shape, dtype))
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert np.abs(first - expected).max() <= tol * np.abs(expected).max()
        for blocking in others:
            plan = spec.plan(shape, threads, kernels, blocking=blocking)
            assert (plan.forward.tile, plan.forward.kc) != rule or blocking == rule
            out = plan.run(x, packed, np.full(plan.output_shape, np.nan, dtype))
            assert np.array_equal(out, first), (blocking, threads)


def test_invalid_choices_fall_back_to_the_rule():
    kernels = functional.kernel_module()
    dtype = np.dtype(np.float32)
    unit = tiling.step_unit(kernels, dtype, False)
    rule = tiling.forward_blocking(100, 2, 64, False, 1, kernels, dtype)
    for choice in [(unit + 1, 16), (0, 16), (-unit, 16), (unit, 0), (unit, -3),
                   (unit, tiling._MAX_CHOICE_KC + 1),
                   (tiling._MAX_CHOICE_TILE // unit * unit + unit, 16),
                   (True, 16), (float(unit), 16), (unit, 16.0), (str(unit), 16)]:
        assert tiling.forward_blocking(100, 2, 64, False, 1, kernels, dtype, choice) == rule
    # A tile whose depthwise scratch would pass 4 MiB is refused as well.
    wide = tiling._MAX_CHOICE_SCRATCH // (unit * 4) + 1
    assert tiling.forward_blocking(100, 2, wide, False, 1, kernels, dtype, (unit, 16)) == \
        tiling.forward_blocking(100, 2, wide, False, 1, kernels, dtype)
    # A valid tile longer than the sequence is cut to it.
    assert tiling.forward_blocking(10, 1, 8, False, 1, kernels, dtype, (8 * unit, 16)) == \
        (-(-10 // unit) * unit, 16)


def test_tune_records_a_choice_that_later_plans_use(wisdom_file):
    layer = sepconv.SeparableConv1D(24, 5, padding="same", activation="relu")
    shape = (2, 300, 40)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    before = layer(x, num_threads=1)
    report = sepconv.tune(layer, shape, num_threads=1, seconds=0.2, min_gain=0.0)
    fastest = min(report["candidates"], key=lambda c: c["median_us"])
    assert report["chosen"]["tile"] == fastest["tile"] or not report["changed"]
    assert len(report["candidates"]) >= 3
    assert report["saved_to"] == str(wisdom_file)
    chosen = (report["chosen"]["tile"], report["chosen"]["kc"])
    assert tuning.wisdom()[report["problem"]]["tile"] == chosen[0]
    prepared = layer.prepare(shape, num_threads=1)
    assert (prepared.bound.tile, prepared.bound.kc) == chosen
    assert np.array_equal(layer(x, num_threads=1), before)
    # Another process on this machine reads the file and plans the same.
    code = ("import sepconv; layer = sepconv.SeparableConv1D(24, 5, padding='same', "
            "activation='relu'); p = layer.prepare((2, 300, 40), num_threads=1); "
            "print(p.bound.tile, p.bound.kc)")
    env = dict(os.environ, SEPCONV_ISA=functional.isa_level())
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=True, timeout=120)
    assert tuple(int(v) for v in result.stdout.split()) == chosen


def test_tune_keeps_the_rule_without_a_clear_win(wisdom_file):
    layer = sepconv.SeparableConv1D(8, 3, padding="same")
    report = sepconv.tune(layer, (1, 64, 8), num_threads=1, seconds=0.05, min_gain=0.99)
    assert not report["changed"]
    assert report["chosen"]["tile"] == report["rule"]["tile"]
    assert report["chosen"]["kc"] == report["rule"]["kc"]
    assert report["problem"] in tuning.wisdom()


def test_tune_rejects_bad_arguments(wisdom_file):
    layer = sepconv.SeparableConv1D(8, 3)
    for seconds in (0, -1, "1", True, float("nan"), 601, None):
        with pytest.raises(ValueError, match="seconds"):
            sepconv.tune(layer, (1, 16, 8), seconds=seconds)
    for gain in (1, -0.1, "0", float("nan"), None):
        with pytest.raises(ValueError, match="min_gain"):
            sepconv.tune(layer, (1, 16, 8), min_gain=gain)
    with pytest.raises(ValueError, match="input_shape"):
        sepconv.tune(layer, (1, 16), seconds=0.05)
    with pytest.raises(TypeError, match="num_threads"):
        sepconv.tune(layer, (1, 16, 8), num_threads="2", seconds=0.05)
    assert tuning.wisdom() == {}
    assert not wisdom_file.exists()


def test_wisdom_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SEPCONV_WISDOM", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    tuning._reset()
    try:
        report = sepconv.tune(sepconv.SeparableConv1D(8, 3), (1, 32, 8), seconds=0.05)
        assert report["saved_to"] is None
        assert report["problem"] in tuning.wisdom()   # kept for this process
        assert not os.listdir(tmp_path)
    finally:
        tuning._reset()


def test_default_path_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("SEPCONV_WISDOM")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert tuning.wisdom_path() == os.path.join(str(tmp_path), "sepconv", "wisdom.json")


def _entry_key(layer, shape, threads=1):
    prepared = layer.prepare(shape, num_threads=threads)
    spec = layer._spec
    batch, steps, channels = spec.split(shape)
    return tuning.problem_key(functional.kernel_module().ISA, spec.dtype,
                              spec.channels_first, batch, spec.geometry(steps).out_steps,
                              channels * spec.depth_multiplier, spec.filters,
                              spec.kernel_size, spec.strides, spec.dilation_rate,
                              threads), prepared


def _write(path, machines):
    path.write_text(json.dumps({"format": "sepconv-wisdom", "version": 1,
                                "machines": machines}))


def test_a_good_entry_is_used_and_other_machines_are_ignored(wisdom_file):
    layer = sepconv.SeparableConv1D(16, 3, padding="same")
    shape = (1, 200, 16)
    key, prepared = _entry_key(layer, shape)
    unit = tiling.step_unit(functional.kernel_module(), np.dtype(np.float32), False)
    rule = (prepared.bound.tile, prepared.bound.kc)
    _write(wisdom_file, {"another CPU": {key: {"tile": unit, "kc": 8}}})
    tuning._reset()
    assert tuning.lookup(key) is None
    assert sepconv.SeparableConv1D(16, 3, padding="same").prepare(
        shape, num_threads=1).bound.tile == rule[0]
    _write(wisdom_file, {tuning.machine_id(): {key: {"tile": unit, "kc": 8}}})
    tuning._reset()
    bound = sepconv.SeparableConv1D(16, 3, padding="same").prepare(shape, num_threads=1).bound
    assert (bound.tile, bound.kc) == (unit, 8)


HOSTILE = {
    "not json": b"{not json",
    "binary": b"\xff\xfe\x00\x01" * 100,
    "a list": b"[]",
    "deep": b"[" * 100000 + b"]" * 100000,
    "wrong format": json.dumps({"format": "other", "version": 1, "machines": {}}).encode(),
    "future version": json.dumps({"format": "sepconv-wisdom", "version": 2,
                                  "machines": {}}).encode(),
    "machines not a dict": json.dumps({"format": "sepconv-wisdom", "version": 1,
                                       "machines": [1, 2]}).encode(),
    "too large": b" " * (tuning.MAX_FILE_BYTES + 1),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_ignored_with_a_warning(wisdom_file, name):
    wisdom_file.write_bytes(HOSTILE[name])
    layer = sepconv.SeparableConv1D(16, 3, padding="same")
    x = np.ones((1, 50, 16), np.float32)
    with pytest.warns(RuntimeWarning, match="wisdom file"):
        y = layer(x, num_threads=1)
    assert y.shape == (1, 50, 16) and np.isfinite(y).all()
    assert tuning.wisdom() == {}
    # tune() still works, and replaces the bad file with a good one.
    sepconv.tune(layer, (1, 50, 16), num_threads=1, seconds=0.05)
    data = json.loads(wisdom_file.read_text())
    assert list(data["machines"]) == [tuning.machine_id()]


def test_malformed_entries_are_dropped_and_bad_values_never_reach_a_kernel(wisdom_file):
    layer = sepconv.SeparableConv1D(16, 3, padding="same")
    shape = (1, 200, 16)
    key, prepared = _entry_key(layer, shape)
    rule = (prepared.bound.tile, prepared.bound.kc)
    unit = tiling.step_unit(functional.kernel_module(), np.dtype(np.float32), False)
    bad_values = [{"tile": -8, "kc": 16}, {"tile": 0, "kc": 16}, {"tile": 10 ** 30, "kc": 16},
                  {"tile": True, "kc": 16}, {"tile": float(unit), "kc": 16},
                  {"tile": str(unit), "kc": 16}, {"tile": unit}, {"kc": 16}, [unit, 16],
                  None, {"tile": unit, "kc": 10 ** 6}]
    for value in bad_values:
        _write(wisdom_file, {tuning.machine_id(): {key: value, "x" * 500: {"tile": unit,
                                                                          "kc": 16}}})
        tuning._reset()
        with pytest.warns(RuntimeWarning, match="malformed"):
            bound = sepconv.SeparableConv1D(16, 3, padding="same").prepare(
                shape, num_threads=1).bound
        assert (bound.tile, bound.kc) == rule, value
    # Well-formed in the file, but wrong for this plan (not a block
    # multiple, or more scratch than allowed): silently the rule.
    for value in [{"tile": unit + 1, "kc": 16}, {"tile": tuning.MAX_VALUE, "kc": 16}]:
        _write(wisdom_file, {tuning.machine_id(): {key: value}})
        tuning._reset()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            bound = sepconv.SeparableConv1D(16, 3, padding="same").prepare(
                shape, num_threads=1).bound
        assert (bound.tile, bound.kc) == rule, value


def test_an_unreadable_path_is_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("SEPCONV_WISDOM", str(tmp_path))   # a directory
    tuning._reset()
    try:
        with pytest.warns(RuntimeWarning, match="cannot be read"):
            assert tuning.lookup("anything") is None
    finally:
        tuning._reset()


def test_saving_merges_keeps_other_machines_and_survives_threads(wisdom_file):
    _write(wisdom_file, {"another CPU": {"k": {"tile": 8, "kc": 16, "gain": 0.1}}})
    tuning._reset()
    errors = []

    def record(start):
        try:
            for i in range(start, start + 25):
                tuning._record(f"problem {i}", 8, 16, 0.0, True)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(25 * n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    data = json.loads(wisdom_file.read_text())
    assert data["machines"]["another CPU"] == {"k": {"tile": 8, "kc": 16, "gain": 0.1}}
    assert len(data["machines"][tuning.machine_id()]) == 100
    assert not [name for name in os.listdir(wisdom_file.parent) if name.startswith(".wisdom-")]
    tuning._reset()
    assert len(tuning.wisdom()) == 100
    tuning.forget()
    assert tuning.wisdom() == {}
    data = json.loads(wisdom_file.read_text())
    assert list(data["machines"]) == ["another CPU"]


def test_cache_sizes_and_machine_id():
    caches = tuning.cache_sizes()
    for name in ("L1d", "L2", "L3"):
        assert caches[name] is None or (type(caches[name]) is int and caches[name] > 0)
    if sys.platform.startswith("linux") and os.path.isdir("/sys/devices/system/cpu/cpu0/cache"):
        assert caches["source"] == "sysfs" and caches["L1d"] >= 8 * 1024
    assert sepconv.__version__ in tuning.machine_id()
    info = sepconv.show_config(mode="dicts")["blocking"]
    assert info["max_kc"] == tiling._MAX_RULE_KC
    moved = info["channels_first_transposed"]
    # The numbers shown are the rule's own: a layer just inside each bound is
    # transposed, one just outside is not.
    rule = tiling.forward_layout
    assert rule(True, 2, moved["strided_min_width"], 10**4) == tiling.FIRST_TRANSPOSED
    assert rule(True, 2, moved["strided_min_width"] - 1, 10**4) == tiling.FIRST
    assert rule(True, 1, moved["min_width"], moved["max_out_steps"]) == tiling.FIRST_TRANSPOSED
    assert rule(True, 1, moved["min_width"], moved["max_out_steps"] + 1) == tiling.FIRST
    assert rule(True, 1, moved["min_width"] - 1, 1) == tiling.FIRST
    assert info["scratch_target"] == tiling._SCRATCH_TARGET


def test_info_shows_the_blocking(capsys):
    sepconv.show_config()
    text = capsys.readouterr().out
    assert "blocking rule" in text and "tuned" in text and "caches" in text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_holds_the_store_can_plan(wisdom_file):
    held, release = threading.Event(), threading.Event()

    def hold():
        with tuning._lock:
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(30)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
            pid = os.fork()
        if pid == 0:  # the child: plan (which reads the store) under a deadline
            import signal
            signal.alarm(20)
            try:
                layer = sepconv.SeparableConv1D(4, 3)
                ok = layer.prepare((1, 16, 4), num_threads=1).bound.tile > 0
                os._exit(0 if ok else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    finally:
        release.set()
        thread.join()
