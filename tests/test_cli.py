"""The command line: demo, info and bench (sepconv alone)."""

import json
import subprocess
import sys

import pytest

from sepconv.cli import main


def test_demo_prints_the_corrected_shape(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "(4, 4, 3)" in out
    assert "padding=2" in out and "ValueError" in out


def test_info_names_the_isa_and_openmp(capsys):
    from sepconv import dispatch
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"ISA level     : {dispatch.select_level()}" in out
    assert "OpenMP" in out and "flags" in out


def test_bench_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--cases", "tiny_b1,kws_b1", "--threads", "1", "--seconds", "0.05",
                 "--quiet", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "tiny_b1" in out and "kws_b1" in out
    rows = json.loads(path.read_text())["rows"]
    assert [r["case"] for r in rows] == ["tiny_b1", "kws_b1"]
    assert all(r["us"]["sepconv"] > 0 for r in rows)


def test_bench_rejects_unknown_case(capsys):
    assert main(["bench", "--cases", "nope", "--quiet"]) == 2
    assert "unknown case" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "sepconv", "demo"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "(4, 4, 3)" in result.stdout


def test_unknown_command_exits_nonzero():
    with pytest.raises(SystemExit):
        main(["frobnicate"])
