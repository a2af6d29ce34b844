"""A process that used OpenMP threads, then forked, still works in the child.

GNU libgomp's thread pool does not survive fork(): the child's next parallel
region used to hang.  Each scenario runs in a fresh interpreter under a
timeout, so a regression fails the test instead of hanging CI.
"""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

PRELUDE = textwrap.dedent("""
    import os, sys
    import numpy as np
    import sepconv
    from sepconv import _fork

    rng = np.random.default_rng(0)
    layer = sepconv.SeparableConv1D(32, 5, padding="same", activation="tanh")
    x = rng.standard_normal((8, 600, 32)).astype(np.float32)
    expected = layer(x, num_threads=2)            # starts libgomp's thread pool
    assert _fork.threads_used
    dy = np.ones_like(expected)
    layer(x, training=True, num_threads=2)
    dx_expected, grads_expected = layer.backward(dy, num_threads=2)
    prepared = layer.prepare(x.shape, num_threads=2)   # threads fixed in the parent
    assert prepared.num_threads == 2

    def work(_=None):
        y = layer(x, num_threads=2)
        layer(x, training=True, num_threads=2)
        dx, grads = layer.backward(dy, num_threads=2)
        f = sepconv.separable_conv1d(x, *layer.weights, padding="same", activation="tanh",
                                     num_threads=2)
        p = prepared(x)
        ok = (np.array_equal(y, expected) and np.array_equal(f, expected)
              and np.array_equal(p, expected)
              and np.array_equal(dx, dx_expected)
              and all(np.array_equal(a, b) for a, b in zip(grads, grads_expected)))
        return bool(ok)
""")

SCENARIOS = {
    "os.fork": """
        pid = os.fork()
        if pid == 0:
            os._exit(0 if work() and _fork.serial_only else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert work()  # the parent keeps its threads
    """,
    "multiprocessing fork pool": """
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(2) as pool:
            assert all(pool.map(work, range(4)))
    """,
    "ProcessPoolExecutor (fork)": """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
            assert all(ex.map(work, range(4)))
    """,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_child_after_fork_computes_the_same_results(name):
    code = PRELUDE + textwrap.dedent(SCENARIOS[name]) + "\nprint('ok')\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr


def test_child_forked_before_any_threads_keeps_them():
    code = textwrap.dedent("""
        import os
        import numpy as np
        import sepconv
        from sepconv import _fork
        pid = os.fork()
        if pid == 0:
            os._exit(0 if not _fork.serial_only else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "0", result.stderr
