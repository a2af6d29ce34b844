"""Runtime ISA dispatch: the CPU check, SEPCONV_ISA, and what show_config reports."""

import os
import subprocess
import sys

import pytest

from sepconv import _isa, dispatch

PROBE = "import sepconv.functional as f; print(f.isa_level())"


def _level_in_subprocess(value):
    env = dict(os.environ, SEPCONV_ISA=value)
    result = subprocess.run([sys.executable, "-W", "default", "-c", PROBE], env=env,
                            capture_output=True, text=True, timeout=120)
    return result


@pytest.mark.parametrize("level", dispatch.available_levels())
def test_sepconv_isa_forces_each_available_level(level):
    result = _level_in_subprocess(level)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == level


def test_unknown_sepconv_isa_is_an_error():
    result = _level_in_subprocess("sse9")
    assert result.returncode != 0 and "SEPCONV_ISA" in result.stderr


def test_supported_levels_follow_the_features():
    assert dispatch.supported_levels({}) == ("baseline",)
    x86 = dict(arch="x86_64")
    assert dispatch.supported_levels({}, **x86) == ("baseline",)
    assert dispatch.supported_levels({"AVX2": True, "FMA3": True}, **x86) == ("avx2", "baseline")
    assert dispatch.supported_levels({"AVX2": True}, **x86) == ("baseline",)  # no FMA
    avx512 = next(level for level in _isa.levels_for("x86_64") if level.name == "avx512")
    everything = {name: True for name in avx512.features}
    assert dispatch.supported_levels(everything, **x86) == ("avx512", "avx2", "baseline")
    missing_vl = dict(everything, AVX512VL=False)
    assert dispatch.supported_levels(missing_vl, **x86) == ("avx2", "baseline")
    assert dispatch.supported_levels(everything, arch="aarch64") == ("baseline",)


def test_default_is_the_best_available_level():
    assert dispatch.select_level() == dispatch.available_levels()[0] or os.environ.get(
        "SEPCONV_ISA")
    assert "baseline" in dispatch.available_levels()
