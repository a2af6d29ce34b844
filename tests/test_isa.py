"""The ISA table, the tiling invariants it implies, and the debug build's traps.

The backward pass once used a tile that was not a multiple of MR on the
MR=6 levels: rows of scratch were never written and then read, and the
gradients were garbage past 60 steps.  These tests pin the rules that make
that class of bug impossible (every size a multiple of its block, by
construction, at every level of every architecture) and check the two nets
that catch it if a rule is broken anyway: NaN-poisoned scratch and tile
assertions in SEPCONV_DEBUG=1 builds.
"""

import math
import types

import numpy as np
import pytest

from sepconv import _isa, dispatch, functional, tiling
from sepconv.backward import separable_conv1d_backward


# ----------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------
def test_every_architecture_has_a_featureless_baseline_last():
    for arch in ("x86_64", "aarch64", "generic"):
        levels = _isa.levels_for(arch)
        assert levels[-1].name == "baseline" and levels[-1].features == ()
        assert levels[-1].module == "sepconv._sepconv"
        assert len({level.module for level in levels}) == len(levels)
        assert len({level.name for level in levels}) == len(levels)


@pytest.mark.parametrize("level", _isa.LEVELS, ids=lambda lv: f"{lv.arch}-{lv.name}")
def test_register_blocking_fits_the_rules(level):
    assert level.mr % level.dw_rows == 0
    assert level.vec_bytes in (16, 32, 64)
    # 2*MR accumulators + 2 B vectors + 1 broadcast within the register file.
    registers = 32 if level.name == "avx512" or level.arch == "aarch64" else 16
    assert 2 * level.mr + 3 <= registers
    # tail_pairs: 2*MR one-vector accumulators + 1 B vector + 1 broadcast.
    assert not level.tail_pairs or 2 * level.mr + 2 <= registers
    assert level.nr(4) == 2 * level.vec_bytes // 4 and level.nr(8) == level.nr(4) // 2
    macros = dict(level.macros())
    assert macros["SEPCONV_LEVEL"] == level.name
    assert int(macros["SEPCONV_MR"]) == level.mr
    assert int(macros["SEPCONV_MR2"]) == 2 * level.mr
    assert macros["SEPCONV_TAIL_PAIRS"] == ("1" if level.tail_pairs else "0")
    assert int(macros["SEPCONV_GEMM_UNROLL"]) == level.gemm_unroll in (1, 2, 4)


def test_x86_levels_gate_on_the_features_their_flags_enable():
    table = {level.name: level for level in _isa.levels_for("x86_64")}
    assert [*table] == ["avx512", "avx2", "baseline"]
    assert "-mfma" in table["avx2"].gcc_flags and "FMA3" in table["avx2"].features
    assert "/fp:contract" in table["avx2"].msvc_flags  # MSVC contracts to FMA only when told
    for flag, feature in (("-mavx512f", "AVX512F"), ("-mavx512bw", "AVX512BW"),
                          ("-mavx512vl", "AVX512VL"), ("-mavx512dq", "AVX512DQ"),
                          ("-mavx512cd", "AVX512CD")):
        assert flag in table["avx512"].gcc_flags and feature in table["avx512"].features


@pytest.mark.parametrize("word, arch", [
    ("x86_64", "x86_64"), ("AMD64", "x86_64"), ("linux-x86_64", "x86_64"),
    ("win-amd64", "x86_64"), ("macosx-10.9-x86_64", "x86_64"),
    ("aarch64", "aarch64"), ("arm64", "aarch64"), ("linux-aarch64", "aarch64"),
    ("macosx-11.0-arm64", "aarch64"), ("win-arm64", "aarch64"),
    ("macosx-10.9-universal2", "generic"), ("linux-i686", "generic"), ("win32", "generic"),
    ("linux-ppc64le", "generic"), ("linux-s390x", "generic"), ("linux-riscv64", "generic"),
])
def test_architecture_names(word, arch):
    assert _isa.architecture(word) == arch


@pytest.mark.parametrize("environ, sys_platform, tag, arch", [
    ({}, "linux", "linux-x86_64", "x86_64"),
    ({}, "linux", "linux-aarch64", "aarch64"),  # _PYTHON_HOST_PLATFORM shows up in the tag
    ({"SEPCONV_TARGET_ARCH": "aarch64"}, "linux", "linux-x86_64", "aarch64"),
    ({"ARCHFLAGS": "-arch arm64"}, "darwin", "macosx-11.0-x86_64", "aarch64"),
    ({"ARCHFLAGS": "-arch x86_64"}, "darwin", "macosx-11.0-arm64", "x86_64"),
    ({"ARCHFLAGS": "-arch x86_64 -arch arm64"}, "darwin", "macosx-11.0-arm64", "generic"),
    ({"ARCHFLAGS": "-arch arm64"}, "linux", "linux-x86_64", "x86_64"),  # macOS only
    ({"VSCMD_ARG_TGT_ARCH": "arm64"}, "win32", "win-amd64", "aarch64"),
    ({}, "win32", "win-amd64", "x86_64"),
])
def test_build_target_is_the_target_not_the_host(environ, sys_platform, tag, arch):
    assert _isa.build_target(environ, sys_platform, tag) == arch


def test_dispatch_reads_the_table_for_this_machine():
    levels = _isa.levels_for(_isa.host_architecture())
    assert dispatch.LEVELS == tuple(level.name for level in levels)
    for name in dispatch.available_levels():
        row = dispatch.describe(name)
        kernels = dispatch.load(name)
        assert kernels.__name__ == row.module
        assert (kernels.ISA, kernels.MR, kernels.DW_ROWS, kernels.DW_TAPS, kernels.VEC_BYTES,
                kernels.GEMM_QUARTERS, kernels.ROWS_OUTER, kernels.TAIL_PAIRS,
                kernels.GEMM_UNROLL) == (
                    row.name, row.mr, row.dw_rows, row.dw_taps, row.vec_bytes,
                    row.gemm_quarters, row.rows_outer, row.tail_pairs, row.gemm_unroll)
        assert kernels.NR == {"float32": row.nr(4), "float64": row.nr(8)}


def test_info_names_the_register_blocking():
    import io

    from sepconv.info import config_info, show_config

    info = config_info()
    row = dispatch.describe(info["isa"]["selected"])
    assert info["kernel"]["MR"] == row.mr and info["kernel"]["DW_ROWS"] == row.dw_rows
    assert info["kernel"]["DW_TAPS"] == row.dw_taps
    text = io.StringIO()
    show_config(file=text)   # the selected level's line
    assert (f"{row.dw_taps} taps' weights held" in text.getvalue()) == (row.dw_taps > 0)
    assert info["kernel"]["GEMM_QUARTERS"] == row.gemm_quarters
    assert ("panel in quarters" in text.getvalue()) == row.gemm_quarters
    assert info["kernel"]["ROWS_OUTER"] == row.rows_outer
    assert ("row block by row block" in text.getvalue()) == row.rows_outer
    assert info["kernel"]["TAIL_PAIRS"] == row.tail_pairs
    assert info["kernel"]["GEMM_UNROLL"] == row.gemm_unroll
    assert (f"unrolled x{row.gemm_unroll}" in text.getvalue()) == (row.gemm_unroll > 1)
    assert (f"one-vector one {2 * row.mr} rows a call" in text.getvalue()) == row.tail_pairs
    assert info["isa"]["description"] == row.description
    assert info["isa"]["architecture"] == dispatch.ARCHITECTURE


# ----------------------------------------------------------------------------
# Tiling: every size a multiple of its block, for every level's constants
# ----------------------------------------------------------------------------
def _fake_kernels(level):
    return types.SimpleNamespace(MR=level.mr, DW_ROWS=level.dw_rows,
                                 NR={"float32": level.nr(4), "float64": level.nr(8)})


def _check_balanced(tile, out_steps, unit):
    """The tiles of a sequence are near one length: one block shorter would
    need another tile (so the last tile is never a stub of a longer one)."""
    count = -(-out_steps // tile)
    assert tile == unit or -(-out_steps // (tile - unit)) > count, (tile, out_steps, unit)


@pytest.mark.parametrize("row", _isa.LEVELS, ids=lambda lv: f"{lv.arch}-{lv.name}")
def test_every_tile_is_a_multiple_of_its_block(row):
    kernels = _fake_kernels(row)
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        nr = kernels.NR[dtype.name]
        for out_steps in list(range(0, 130)) + [255, 256, 257, 599, 600, 10**6]:
            tile = tiling.backward_tile(out_steps, kernels)
            assert tile % row.mr == 0 and tile % row.dw_rows == 0 and 0 < tile <= 64
            for width in (1, 7, 64, 1000, 10**5):
                for threads in (1, 2, 16):
                    for batch in (1, 3):
                        last = tiling.forward_tile(out_steps, batch, width, False, threads,
                                                   kernels, dtype)
                        assert last % row.mr == 0 and last % row.dw_rows == 0, last
                        _check_balanced(last, out_steps, math.lcm(row.mr, row.dw_rows))
                        first = tiling.forward_tile(out_steps, batch, width, tiling.FIRST,
                                                    threads, kernels, dtype)
                        assert first % nr == 0, first
                        _check_balanced(first, out_steps, nr)
                        moved = tiling.forward_tile(out_steps, batch, width,
                                                    tiling.FIRST_TRANSPOSED, threads,
                                                    kernels, dtype)
                        assert moved % row.mr == 0 and moved % row.dw_rows == 0, moved
        for width in range(1, 80):
            for filters in (1, 5, 33):
                width_pad, filters_pad = tiling.backward_padding(width, filters, kernels, dtype)
                assert width_pad >= width and width_pad % row.mr == 0 and width_pad % nr == 0
                assert filters_pad >= filters and filters_pad % nr == 0


def test_the_rules_kc_sums_in_the_fewest_passes_of_near_equal_length():
    """forward_kc: one pass up to 1024 inputs, else the fewest passes of at
    most 1024, no two more than one input apart; tune() tries it first."""
    cap = tiling._MAX_RULE_KC
    for width in list(range(1, 70)) + [255, 256, 257, 512, 1000, 1023, 1024, 1025, 2048,
                                       2049, 3000, 10 ** 6]:
        kc = tiling.forward_kc(width)
        passes = -(-width // kc)
        assert 0 < kc <= cap, (width, kc)
        assert passes == max(1, -(-width // cap)), (width, kc)
        last = width - (passes - 1) * kc
        assert 0 < last <= kc and kc - last < passes, (width, kc)
    kernels = _fake_kernels(_isa.LEVELS[0])
    kernels.KC = 256
    assert tiling.tune_kcs(512, kernels) == [512, 256, 128]
    assert tiling.tune_kcs(200, kernels) == [200, 128]
    assert tiling.tune_kcs(100, kernels) == [100]


# ----------------------------------------------------------------------------
# The debug build's nets (CI runs this file against SEPCONV_DEBUG=1)
# ----------------------------------------------------------------------------
def test_debug_flag_matches_the_build():
    from sepconv.info import config_info

    build = config_info()["build"]
    for name in dispatch.available_levels():
        assert dispatch.load(name).DEBUG == bool(build.get("debug", False))


def test_debug_scratch_is_poisoned_with_nan(level):
    kernels = functional.kernel_module(level)
    if not kernels.DEBUG:
        pytest.skip("release build: scratch is not poisoned (CI checks the debug build)")
    values = kernels.scratch_probe(1000)
    assert len(values) == 1000 and all(np.isnan(values))
    assert np.isnan(np.frombuffer(np.array(values[:2]).tobytes(), dtype=np.float32)).all()


def test_debug_build_refuses_a_tile_that_is_not_a_multiple_of_mr(level):
    """The old bug, replayed against the kernel directly: a 64-step tile at MR=6."""
    kernels = functional.kernel_module(level)
    if not kernels.DEBUG:
        pytest.skip("release build: the kernel trusts its tile (CI checks the debug build)")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 80, 4))
    dz = rng.standard_normal((1, 78, 5))
    dw = rng.standard_normal((3, 4))
    width_pad, filters_pad = tiling.backward_padding(4, 5, kernels, np.dtype(np.float64))
    pwt = np.zeros((5, width_pad))
    buffers = (np.zeros((1, 80, 4)), np.zeros((1, 3, 4)), np.zeros((1, width_pad, filters_pad)),
               np.zeros((1, 5)))
    bad_tile = kernels.MR * 5 + 1  # at most 61: one tile covers the 78 steps partly
    with pytest.raises(AssertionError, match="tile"):
        kernels.backward(x, dz, dw, pwt, *buffers, 1, 1, 1, 0, bad_tile, 1)
    packed = functional.pack_weights(rng.standard_normal((3, 4, 1)),
                                     rng.standard_normal((1, 4, 5)), None, False,
                                     np.dtype(np.float64), kernels)
    y = np.empty((1, 78, 5))
    with pytest.raises(AssertionError, match="tile"):
        kernels.forward_float64(x, packed, y, False, 3, 1, 5, False, 0, 1, 1, 0, bad_tile, 1)


def test_gradients_past_one_tile_are_finite_and_match_across_levels():
    """The symptom users saw: NaN or garbage gradients at the MR=6 levels."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 257, 6))
    dw = rng.standard_normal((3, 6, 2))
    pw = rng.standard_normal((1, 12, 9))
    dy = rng.standard_normal((2, 255, 9))
    results = {name: separable_conv1d_backward(dy, x, dw, pw, None, isa=name)
               for name in dispatch.available_levels()}
    reference = results["baseline"]
    for name, grads in results.items():
        for got, want in zip(grads[:3], reference[:3]):
            assert np.isfinite(got).all(), name
            assert np.allclose(got, want, rtol=1e-10, atol=1e-10), name
