"""The command line: demo, info and bench (sepconv alone)."""

import json
import os
import subprocess
import sys

import pytest

import sepconv
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


def test_version(capsys):
    import sepconv
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sepconv {sepconv.__version__}"


@pytest.mark.parametrize("argv, message", [
    (["--peers", "bogus"], "unknown peer(s) bogus"),
    (["--threads", "0"], "--threads"),
    (["--threads", "two"], "--threads"),
    (["--seconds", "0"], "--seconds"),
    (["--cases", "nope"], "unknown case"),
])
def test_bench_argument_errors_are_one_line_and_immediate(argv, message, capsys):
    import time
    start = time.perf_counter()
    assert main(["bench", "--quiet"] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert time.perf_counter() - start < 5  # refused before any timing


def test_bench_plot_without_matplotlib_fails_first(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["bench", "--quiet", "--plot", str(tmp_path / "x.png")]) == 2
    assert "matplotlib" in capsys.readouterr().err


def test_show_config_dicts_and_dir():
    import sepconv
    info = sepconv.show_config(mode="dicts")
    assert info["version"] == sepconv.__version__ and "isa" in info and "kernel" in info
    with pytest.raises(ValueError, match="mode"):
        sepconv.show_config(mode="json")
    assert dir(sepconv) == sorted(sepconv.__all__)
    assert "functional" not in dir(sepconv) and "SeparableConv1D" in dir(sepconv)


def test_bench_ab_compares_two_builds_and_checks_their_bits(tmp_path):
    """bench/ab.py loads another build's kernels beside this one's (here: this build
    again, from its own folder) and reports both medians; equal bits are required."""
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "bench", "ab.py")
    folder = os.path.dirname(sepconv.__file__)
    result = subprocess.run([sys.executable, script, "--other", folder, "--cases",
                             "tiny_b1,c40_b1", "--shape", "2,40,7,5,9,1,3,2,valid",
                             "--seconds", "0.1"], capture_output=True,
                            text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["tiny_b1", "c40_b1", "shape1"]
    for line in lines:
        assert "new/old" in line and "DIFFER" not in line
        assert float(line.rsplit("new/old", 1)[1]) > 0
    bad = subprocess.run([sys.executable, script, "--other", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "no _sepconv" in bad.stderr
    for argv, message in [(["--cases", "nope"], "unknown case(s) ['nope']"),
                          (["--shape", "2,40,7,5,9,2,3,2,valid"], "stride=2, dilation=3")]:
        bad = subprocess.run([sys.executable, script, "--other", folder, *argv],
                             capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr


def test_bench_times_a_matmul_in_the_rounds_of_its_matmul_cases(tmp_path):
    """bench/bench.py --matmul-cases: those rows time a NumPy matmul interleaved
    with their own calls and report sepconv's rate against it; other rows do not,
    and an unknown case name is refused before anything runs."""
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "bench", "bench.py")
    path = tmp_path / "b.json"
    result = subprocess.run([sys.executable, script, "--cases", "tiny_b1,kws_b1", "--dtypes",
                             "float32", "--threads", "1", "--peers", "", "--quick",
                             "--matmul-cases", "kws_b1", "--matmul-n", "96", "--json",
                             str(path)],
                            capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    rows = {r["case"]: r for r in json.loads(path.read_text())["results"]}
    assert "matmul_in_rounds" not in rows["tiny_b1"]
    mm = rows["kws_b1"]["matmul_in_rounds"]
    assert mm["n"] == 96 and mm["calls"] >= 3
    assert mm["gflops"] == pytest.approx(2 * 96 ** 3 / (mm["median_us"] * 1e3))
    assert "of matmul (rounds)" in result.stdout and "NumPy 96x96 matmul" in result.stdout
    kws = next(line for line in result.stdout.splitlines() if line.startswith("kws_b1"))
    assert f"of {mm['gflops']:.1f}" in kws
    none = subprocess.run([sys.executable, script, "--cases", "kws_b1", "--dtypes", "float32",
                           "--threads", "1", "--peers", "", "--quick", "--matmul-cases", "",
                           "--matmul-n", "96", "--json", str(path)],
                          capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert none.returncode == 0, none.stderr
    assert all("matmul_in_rounds" not in r for r in json.loads(path.read_text())["results"])
    header = next(line for line in none.stdout.splitlines() if line.startswith("case"))
    assert "of matmul (rounds)" not in header and "of matmul" in header
    bad = subprocess.run([sys.executable, script, "--matmul-cases", "nope"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown --matmul-cases ['nope']" in bad.stderr
    bad = subprocess.run([sys.executable, script, "--matmul-n", "8"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--matmul-n must be in [16, 16384], received 8" in bad.stderr


def test_bench_runs_shapes_of_your_own_and_random_ones(tmp_path):
    """bench/bench.py --shape and --random-shapes: the shapes run (sepconv checked
    against the float64 reference) alone when --cases is not given, carry their
    spec into the JSON and the report, the same seed draws the same shapes and a
    bad spec is refused, naming the field and the value, before anything runs."""
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "bench", "bench.py")
    common = ["--dtypes", "float32", "--threads", "1", "--peers", "", "--quick", "--no-matmul"]

    def run(*argv, name="b.json"):
        path = tmp_path / name
        result = subprocess.run([sys.executable, script, *argv, *common, "--json", str(path)],
                                capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
        assert result.returncode == 0, result.stderr
        return result.stdout, json.loads(path.read_text())["results"]

    out, rows = run("--shape", "odd=2,50,19,7,4,2,1,3,valid,channels_first",
                    "--shape", "1,40,5,6,3,1,2,1,same", "--random-shapes", "2", "--seed", "7")
    assert [r["case"] for r in rows] == ["odd", "shape2", "rand7_0", "rand7_1"]
    assert rows[0]["shape"] == dict(B=2, L=50, C=19, F=7, K=4, stride=2, dilation=1, dm=3,
                                    padding="valid", data_format="channels_first")
    assert rows[0]["L_out"] == (50 - 4) // 2 + 1
    assert rows[1]["shape"]["dilation"] == 2 and rows[1]["L_out"] == 40
    assert all(r["impls"]["sepconv"]["status"] == "ok" for r in rows)
    assert "odd: 2,50,19,7,4,2,1,3,valid,channels_first" in out
    assert "sepconv ahead of the best peer" not in out   # no peers, no ratios
    _, again = run("--random-shapes", "2", "--seed", "7", name="again.json")
    assert [r["shape"] for r in again] == [r["shape"] for r in rows[2:]]
    _, other = run("--random-shapes", "2", "--seed", "8", name="other.json")
    assert [r["shape"] for r in other] != [r["shape"] for r in again]
    for argv, message in [
            (["--shape", "1,40,5,6,3,1,1,1"], "9 or 10 fields"),
            (["--shape", "1,40,5,6,x,1,1,1,same"], "K must be an integer, received 'x'"),
            (["--shape", "1,40,0,6,3,1,1,1,same"], "C must be in [1, 8192], received 0"),
            (["--shape", "1,40,5,6,3,2,2,1,same"], "stride=2, dilation=2"),
            (["--shape", "1,4,5,6,3,1,2,1,valid"], "L=4 is shorter than the dilated kernel"),
            (["--shape", "1,40,5,6,3,1,1,1,causal"], "received 'causal'"),
            (["--shape", "1,40,5,6,3,1,1,1,same,nhwc"], "received 'nhwc'"),
            (["--shape", "kws_b1=1,40,5,6,3,1,1,1,same"], "'kws_b1' is taken"),
            (["--random-shapes", "-1"], "received -1")]:
        bad = subprocess.run([sys.executable, script, *argv], capture_output=True, text=True,
                             timeout=300)
        assert bad.returncode == 2 and message in bad.stderr, (argv, bad.stderr)
