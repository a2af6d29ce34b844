"""The thread pool's C code on its own, under ThreadSanitizer where available.

``tests/c/pool_stress.c`` runs thousands of jobs from three caller threads
at once, with random item and thread counts and participants that sleep
mid-job as a descheduled thread would; every item must be computed exactly
once before its caller returns.  Built with ``-fsanitize=thread`` and
``-fsanitize=address`` where the compiler and the platform can build and run
such programs (a data race or a bad access is then a failure too; under
qemu-user's emulation they cannot run), and always without them.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELS = os.path.join(os.path.dirname(HERE), "src", "kernels")
SOURCE = os.path.join(HERE, "c", "pool_stress.c")


def _compiler():
    for name in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name.split()[0]):
            return name.split()
    return None


def _environment():
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1", ASAN_OPTIONS="detect_leaks=0")
    env.pop("LD_PRELOAD", None)
    return env


def _sanitizer_runs(tmp_path, flags):
    """True if a trivial program built with ``flags`` runs: a sanitizer's runtime
    needs address-space tricks that, for one, qemu-user's emulation lacks."""
    source, binary = tmp_path / "probe.c", str(tmp_path / "probe")
    source.write_text("int main(void) { return 0; }\n")
    build = subprocess.run(_compiler() + flags + [str(source), "-o", binary],
                           capture_output=True, text=True)
    if build.returncode != 0:
        return False
    try:
        return subprocess.run([binary], capture_output=True, timeout=60,
                              env=_environment()).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.mark.skipif(_compiler() is None or not os.path.exists(SOURCE),
                    reason="needs a C compiler and the source tree")
@pytest.mark.parametrize("sanitize", ["thread", "address", None])
def test_pool_computes_every_item_exactly_once(tmp_path, sanitize):
    binary = str(tmp_path / "pool_stress")
    flags = ["-O1", "-g", f"-fsanitize={sanitize}"] if sanitize else ["-O2"]
    if sanitize and not _sanitizer_runs(tmp_path, flags):
        pytest.skip(f"-fsanitize={sanitize} programs cannot be built or run here")
    build = subprocess.run(_compiler() + flags + ["-I", KERNELS, SOURCE, "-o", binary,
                                                  "-lpthread"],
                           capture_output=True, text=True)
    if build.returncode != 0:
        raise AssertionError(build.stderr)
    result = subprocess.run([binary], capture_output=True, text=True, timeout=300,
                            env=_environment())
    assert result.returncode == 0 and result.stdout.startswith("ok"), (
        result.stdout + result.stderr)


@pytest.mark.skipif(_compiler() is None or not os.path.exists(SOURCE),
                    reason="needs a C compiler and the source tree")
def test_backoff_rule_move_off_and_pull_onto_the_callers_cpu(tmp_path):
    binary = str(tmp_path / "pool_rules")
    build = subprocess.run(_compiler() + ["-O2", "-I", KERNELS,
                                          os.path.join(HERE, "c", "pool_rules.c"),
                                          "-o", binary, "-lpthread"],
                           capture_output=True, text=True)
    if build.returncode != 0:
        raise AssertionError(build.stderr)
    result = subprocess.run([binary], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("ok"), (
        result.stdout + result.stderr)
    if len(os.sched_getaffinity(0)) >= 2 and sys.platform.startswith("linux"):
        assert "skip" not in result.stdout, result.stdout
