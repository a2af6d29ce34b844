#!/usr/bin/env python
"""Benchmark sepconv's SeparableConv1D against PyTorch, ONNX Runtime, Keras 3, OpenVINO and LiteRT.

    python bench/bench.py                       # the 8 cases, float32+float64, 1 and 2 threads
    python bench/bench.py --quick               # smoke run: few rounds
    python bench/bench.py --cases kws_b1,quartz_b8 --dtypes float32 --threads 2
    python bench/bench.py --cases extra         # the extra shapes (--cases all: both lists)
    python bench/bench.py --busy 1              # with a busy-loop process competing for a core
    python bench/bench.py --json out.json --markdown

How it measures (see bench/README.md for more):

* One worker process per thread count (TensorFlow fixes its thread pools the
  first time it runs anything, so each thread count needs a fresh process).
  The worker sets TF's intra-op threads to n and inter-op threads to 1 before
  TF runs, ``torch.set_num_threads(n)``, ORT ``intra_op_num_threads=n``,
  OpenVINO ``INFERENCE_NUM_THREADS=n``, LiteRT ``num_threads=n`` and sepconv
  ``num_threads=n``.
* For each case and dtype: every implementation's output is checked against
  sepconv's (and sepconv's against a float64 NumPy reference): max abs
  difference / max|y| must be below 1e-4 (float32) or 1e-9 (float64);
  a mismatch is reported loudly.
* Then all implementations are timed interleaved, round-robin in a freshly
  shuffled order each round, until --seconds have passed (all implementations
  together); the median and p90 per call are reported.  By default a round gives each
  implementation a short turn (~10 ms of back-to-back calls, the first call and
  first 1 ms not kept) after waiting for the previous runtime's spinning
  threads to go to sleep: with one call per turn (--schedule call) every call
  runs with cold caches and a cold thread pool while another runtime's threads
  spin on the same two cores, which measured 2-4x slower for everyone.
  ``other load`` (work by other processes while a row was timed) flags
  disturbed rows on a shared machine.
* The NumPy 2048x2048 matmul rate (threadpoolctl-limited to n BLAS threads) is
  measured in the same worker at its start and its end, for the fractions.
  On a VM whose speed drifts from minute to minute that rate can be minutes
  away from a row, so the cases of ``--matmul-cases`` (default quartz_b8 and
  c512_b4, the issue's big cases) also time the same matmul as one more
  implementation in their own rounds: the table's "of matmul (rounds)"
  column divides by that rate, measured interleaved with the row itself.
* Keras with the JAX backend (if jax is installed) runs in its own worker per
  thread count (Keras picks its backend at import), timed interleaved with
  sepconv there.
* ``--busy N`` runs N busy-loop processes while the rows are timed (and only
  then: they are stopped between timings), to see the tail latency of every
  implementation when a core is taken.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import zlib
from statistics import median

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def _use_this_checkouts_bench():
    """Import ``sepconv_bench`` from the folder this script is in.

    ``pip install .`` installs bench/ as the package ``sepconv_bench`` too; a
    plain import would then run that copy's peers.py, which is stale as soon
    as bench/ is edited.  The script's own folder is the package it belongs to.
    """
    init = os.path.join(HERE, "__init__.py")
    if "sepconv_bench" in sys.modules or not os.path.exists(init):
        return
    spec = importlib.util.spec_from_file_location("sepconv_bench", init,
                                                  submodule_search_locations=[HERE])
    module = importlib.util.module_from_spec(spec)
    sys.modules["sepconv_bench"] = module
    spec.loader.exec_module(module)


_use_this_checkouts_bench()
from sepconv_bench.peers import (CASES, COMPANIONS, EXTRA_CASES, PEERS, Problem,  # noqa: E402
                                 Unavailable, case_from_spec, case_spec, make_sepconv,
                                 numpy_reference, openvino_core, random_cases)

CASE_BY_NAME = {c.name: c for c in CASES + EXTRA_CASES}
#: names that --cases expands to a list of cases
CASE_GROUPS = {"default": CASES, "extra": EXTRA_CASES, "all": CASES + EXTRA_CASES}
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}
MAIN_PEERS = ("torch", "onnxruntime", "keras-tf", "openvino", "litert")
JAX_PEERS = ("keras-jax",)
MATMUL_N = 2048
DEFAULT_MATMUL_CASES = "quartz_b8,c512_b4"
_STDERR_NOISE = ("absl::InitializeLog()", "oneDNN custom operations are on",
                 "Created TensorFlow Lite XNNPACK delegate", "tf_tfl_flatbuffer_helpers",
                 "flatbuffer_export", "Ignored output_format", "Ignored drop_control_dependency",
                 "Please consider providing the trackable_obj", "Please report this to the "
                 "TensorFlow team", "Full-integer quantization")


# =========================================================================== worker
def _first_line(exc):
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line}"[:200] if line else type(exc).__name__


def _loaded_openmp():
    """OpenMP / threading runtimes mapped into this process (for the record)."""
    found = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1] if "/" in line else ""
                base = os.path.basename(path)
                if any(key in base for key in ("libgomp", "libiomp", "libomp")):
                    found.add(path)
    except OSError:
        pass
    return sorted(found)


def _setup_runtimes(threads, peers, backend):
    """Import and configure the peers' runtimes before anything runs.

    Returns {peer: reason} for peers that cannot run at all.
    """
    missing = {}
    os.environ["KERAS_BACKEND"] = backend
    tf_users = [p for p in ("keras-tf", "litert") if p in peers]  # litert converts with TF
    if tf_users:
        try:
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            import keras  # noqa: F401
            if keras.backend.backend() != "tensorflow":
                for name in tf_users:
                    missing[name] = f"Keras backend is {keras.backend.backend()!r}"
        except Exception as exc:
            for name in tf_users:
                missing[name] = f"TensorFlow/Keras not importable ({_first_line(exc)})"
    if "litert" in peers and "litert" not in missing:
        try:
            importlib.import_module("ai_edge_litert.interpreter")
        except Exception as exc:
            missing["litert"] = f"ai_edge_litert not importable ({_first_line(exc)})"
    if "openvino" in peers:
        try:
            openvino_core(threads)  # Core created, CPU plugin set to n threads, f32
        except Exception as exc:
            missing["openvino"] = f"not usable ({_first_line(exc)})"
    if "keras-jax" in peers:
        try:
            if threads == 1:
                flags = os.environ.get("XLA_FLAGS", "")
                os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                                           "intra_op_parallelism_threads=1").strip()
            import jax
            jax.config.update("jax_enable_x64", True)
            import keras
            if keras.backend.backend() != "jax":
                missing["keras-jax"] = f"Keras backend is {keras.backend.backend()!r}"
        except Exception as exc:
            missing["keras-jax"] = f"not importable ({_first_line(exc)})"
    if "torch" in peers or "onnxruntime" in peers:
        try:
            import torch
            torch.set_num_threads(threads)
        except Exception as exc:
            for name in ("torch", "onnxruntime"):
                if name in peers:
                    missing[name] = f"torch not importable ({_first_line(exc)})"
    if "onnxruntime" in peers and "onnxruntime" not in missing:
        for module in ("onnxruntime", "onnx"):
            try:
                importlib.import_module(module)
            except Exception as exc:
                missing["onnxruntime"] = f"{module} not importable ({_first_line(exc)})"
                break
    return missing


def matmul_samples(dtype, threads, seconds, min_reps, n=MATMUL_N):
    """Seconds per n x n NumPy matmul, BLAS limited to `threads` threads."""
    from threadpoolctl import threadpool_limits

    matmul = matmul_call(dtype, n)
    times = []
    wait_quiet(0.5)
    with threadpool_limits(limits=threads, user_api="blas"):
        matmul()  # warm-up
        end = time.perf_counter() + seconds
        while len(times) < min_reps or (time.perf_counter() < end and len(times) < 1000):
            t0 = time.perf_counter()
            matmul()
            times.append(time.perf_counter() - t0)
    return times


def matmul_call(dtype, n):
    """One n x n NumPy matmul into a kept output (--matmul-n): the reference at
    a worker's start and end, and the call timed in the rounds of
    --matmul-cases.  Those rounds use the same size as the reference: a
    1024x1024 one ran ~5% slower (Zen 3, the two alternated: 71 against 76
    GFLOP/s at 1 thread, 98 against 103 at 2), which would flatter sepconv.
    """
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty_like(a)

    def call():
        np.matmul(a, b, out=c)
    return call


def _cpu_ticks():
    """(busy ticks of the whole machine, ticks used by this process), or None."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:9]]
        with open("/proc/self/stat") as fh:
            own = fh.read().rsplit(")", 1)[1].split()
        return sum(fields) - fields[3] - fields[4], int(own[11]) + int(own[12])
    except (OSError, ValueError, IndexError):
        return None


def _foreign_load(before, after, seconds):
    """CPUs' worth of work done by other processes between two _cpu_ticks()."""
    if before is None or after is None or seconds <= 0:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / hz / seconds)


# The busy loop of --busy.  PR_SET_PDEATHSIG kills it with its parent even when
# it is stopped (SIGSTOP between timings); the getppid() poll is a second guard.
_BUSY_CODE = r"""
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except Exception:
    pass
parent = int(sys.argv[2])
if os.getppid() != parent:
    sys.exit(0)
kind = sys.argv[1]
if kind == "numpy":
    import numpy as np
    a = np.random.default_rng(0).random(1 << 15)  # 256 KiB each: stays in L2
    b, c = a[::-1].copy(), np.empty_like(a)
print("ready", flush=True)
i = 0
while True:
    if kind == "numpy":
        np.multiply(a, b, out=c)
        np.add(c, a, out=c)
    else:
        for _ in range(20000):
            pass
    i += 1
    if i % 1000 == 0 and os.getppid() != parent:
        break
"""


class BusyLoops:
    """``--busy N``: N processes spinning on the CPU, released only while timing.

    They start stopped (SIGSTOP) once they are ready; ``running()`` lets them
    run (SIGCONT) for the duration of a ``with`` block.  They are pinned to
    nothing, so the scheduler shares the cores between them and the timed
    threads.  ``close()`` kills them; it runs at exit too (atexit), and the
    children die with this process in any case (PR_SET_PDEATHSIG).
    """

    def __init__(self, n, kind):
        import atexit
        import signal

        self.n, self.kind, self.procs = n, kind, []
        self._signal = signal
        atexit.register(self.close)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        try:
            for _ in range(n):
                proc = subprocess.Popen([sys.executable, "-c", _BUSY_CODE, kind,
                                         str(os.getpid())], stdout=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, env=env, text=True)
                self.procs.append(proc)
            for proc in self.procs:
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"busy loop {proc.pid} did not start")
                proc.send_signal(signal.SIGSTOP)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        for proc in self.procs:
            proc.send_signal(self._signal.SIGCONT)
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(self._signal.SIGSTOP)
        return False

    def running(self):
        return self

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()  # SIGKILL: works on a stopped process too
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            if proc.stdout:
                proc.stdout.close()
        self.procs = []


class _NoBusy:
    def running(self):
        return contextlib.nullcontext()

    def close(self):
        pass


def _compare(y, ref, dtype):
    if y.shape != ref.shape:
        return float("inf"), f"shape {y.shape} != sepconv's {ref.shape}"
    scale = float(np.max(np.abs(ref))) or 1.0
    err = float(np.max(np.abs(y.astype(np.float64) - ref.astype(np.float64)))) / scale
    if not np.isfinite(err) or err > TOLERANCE[dtype]:
        return err, f"max|diff|/max|y| = {err:.3g} > {TOLERANCE[dtype]:g}"
    return err, None


class _Timer:
    """Per-function call times (ns) and the process CPU time spent in its spans
    (all threads of this process: a check that the thread settings hold)."""

    def __init__(self, n):
        self.samples = [[] for _ in range(n)]
        self.cpu_ns = [0] * n
        self.wall_ns = [0] * n

    def span(self, i, wall0, cpu0):
        self.wall_ns[i] += time.perf_counter_ns() - wall0
        self.cpu_ns[i] += time.process_time_ns() - cpu0

    def cores(self):
        return [c / w if w else None for c, w in zip(self.cpu_ns, self.wall_ns)]


def time_interleaved(calls, seconds, min_rounds, max_rounds, warm_rounds, seed):
    """Round-robin timing: each round calls each function once, shuffled order."""
    order = list(range(len(calls)))
    rng = random.Random(seed)
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    for _ in range(warm_rounds):
        for fn in calls:
            fn()
    timer = _Timer(len(calls))
    end = time.perf_counter() + seconds
    rounds = 0
    while rounds < min_rounds or (time.perf_counter() < end and rounds < max_rounds):
        rng.shuffle(order)
        for i in order:
            fn = calls[i]
            c0 = cpu()
            t0 = clock()
            fn()
            t1 = clock()
            timer.samples[i].append(t1 - t0)
            timer.span(i, t0, c0)
        rounds += 1
    return timer


def wait_quiet(max_s, window_s=0.01, threshold=0.15):
    """Sleep until this process's threads stop burning CPU (at most max_s).

    After a call, thread pools keep spinning for a while waiting for more work
    (libgomp ~3 ms, ONNX Runtime ~35 ms here); on a machine with as many cores
    as threads those spinners would steal a core from the next implementation.
    The window is longer than a scheduler tick (4 ms at HZ=250, 10 ms at
    HZ=100): Linux adds a thread's run time on another core to the process's
    CPU clock only at a tick or a context switch, so a 0.5 ms window read
    "quiet" while ONNX Runtime's thread spun on the other core, and the next
    runtime's 2-thread calls ran at half speed (c512_b4: 5.3 ms against 2.7 ms).
    """
    if max_s <= 0:
        return
    deadline = time.perf_counter() + max_s
    while time.perf_counter() < deadline:
        c0, w0 = time.process_time_ns(), time.perf_counter_ns()
        time.sleep(window_s)
        if (time.process_time_ns() - c0) < threshold * (time.perf_counter_ns() - w0):
            return


def time_bursts(calls, seconds, min_rounds, max_rounds, warm_rounds, seed, turn_s, settle_s,
                quiet_s):
    """Round-robin in turns: each round gives each function (shuffled order) one turn
    of back-to-back calls lasting ~turn_s, after waiting (at most quiet_s) for the
    previous runtime's spinning threads to go to sleep; the first call of a turn
    and those that start within settle_s of its start are not kept (this
    runtime's sleeping threads are still waking up)."""
    order = list(range(len(calls)))
    rng = random.Random(seed)
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    for fn in calls:
        for _ in range(warm_rounds):
            fn()
    turn_ns, settle_ns = int(turn_s * 1e9), int(settle_s * 1e9)
    timer = _Timer(len(calls))
    end = time.perf_counter() + seconds
    rounds = 0
    while rounds < min_rounds or (time.perf_counter() < end and rounds < max_rounds):
        rng.shuffle(order)
        for i in order:
            fn, kept = calls[i], timer.samples[i]
            wait_quiet(quiet_s)
            k = n_kept = 0
            c0 = cpu()
            start = clock()
            while True:
                t0 = clock()
                fn()
                t1 = clock()
                if k and t0 - start >= settle_ns:
                    kept.append(t1 - t0)
                    n_kept += 1
                k += 1
                if n_kept and t1 - start >= turn_ns:
                    break
            timer.span(i, start, c0)
        rounds += 1
    return timer


def time_blocked(calls, seconds, min_rounds, max_rounds, warm_rounds, seed):
    """Each function timed in its own block (for comparison with interleaving)."""
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    timer = _Timer(len(calls))
    for i, fn in enumerate(calls):
        for _ in range(warm_rounds):
            fn()
        out = timer.samples[i]
        end = time.perf_counter() + seconds / len(calls)
        c0 = cpu()
        start = clock()
        while len(out) < min_rounds or (time.perf_counter() < end and len(out) < max_rounds):
            t0 = clock()
            fn()
            out.append(clock() - t0)
        timer.span(i, start, c0)
    return timer


def _time(args, *timing):
    if args.schedule == "blocked":
        return time_blocked(*timing)
    if args.schedule == "call":
        return time_interleaved(*timing)
    return time_bursts(*timing, args.turn_ms / 1e3, args.settle_ms / 1e3, args.quiet_ms / 1e3)


def _stats(ns):
    arr = np.sort(np.asarray(ns, dtype=np.float64)) / 1e3
    return {"median_us": float(median(arr)), "min_us": float(arr[0]),
            "p10_us": float(np.percentile(arr, 10)), "p90_us": float(np.percentile(arr, 90)),
            "calls": int(arr.size)}


def _pool_counts():
    """sepconv's thread-pool counters: calls shared with workers, calls run alone
    because of a recent stall, stalls seen, workers moved off the caller's CPU,
    workers pulled onto a waiting caller's CPU (all sepconv rows of a case together)."""
    from sepconv import functional
    return functional.kernel_module().pool_counts()


def run_case(case, dtype, threads, peers, missing, args, busy=None):
    """Check and time one (case, dtype, threads); returns a JSON-able record.

    ``busy`` (a BusyLoops) runs while the implementations are timed.
    """
    busy = busy or _NoBusy()
    itemsize = np.dtype(dtype).itemsize
    rec = {"case": case.name, "dtype": dtype, "threads": threads,
           "shape": {k: getattr(case, k) for k in
                     ("B", "L", "C", "F", "K", "stride", "dilation", "dm", "padding",
                      "data_format")},
           "L_out": case.L_out, "flops": case.flops(), "bytes": case.bytes(itemsize),
           "impls": {}}
    problem = Problem.create(case, dtype, threads)
    try:
        sep = make_sepconv(problem)
        sep.call()
        ref = sep.result()
    except Exception as exc:
        rec["impls"]["sepconv"] = {"status": "error", "reason": _first_line(exc)}
        return rec
    err, bad = _compare(ref, numpy_reference(problem), dtype)
    rec["impls"]["sepconv"] = {"status": "mismatch" if bad else "ok", "rel_err_vs_numpy": err,
                               "reason": f"vs float64 NumPy reference: {bad}" if bad else None,
                               "note": sep.note}
    impls = [sep]

    def add_companions(impl):
        """The rows timed with ``impl`` (sepconv-prepared, litert-invoke), checked
        against sepconv's output like every peer."""
        for extra in impl.companions:
            try:
                extra.call()
                y = extra.result()
            except Exception as exc:
                rec["impls"][extra.name] = {"status": "n/a", "reason": _first_line(exc)}
                continue
            err, bad = _compare(y, ref, dtype)
            rec["impls"][extra.name] = {"status": "mismatch" if bad else "ok", "rel_err": err,
                                        "reason": bad, "note": extra.note}
            impls.append(extra)

    add_companions(sep)
    for name in peers:
        if name in missing:
            rec["impls"][name] = {"status": "n/a", "reason": missing[name]}
            continue
        try:
            impl = PEERS[name](problem)
            impl.call()
            y = impl.result()
        except Unavailable as exc:
            rec["impls"][name] = {"status": "n/a", "reason": str(exc)}
            continue
        except Exception as exc:
            rec["impls"][name] = {"status": "n/a", "reason": _first_line(exc)}
            continue
        err, bad = _compare(y, ref, dtype)
        rec["impls"][name] = {"status": "mismatch" if bad else "ok", "rel_err": err,
                              "reason": bad, "note": impl.note}
        impls.append(impl)
        add_companions(impl)
    for name, info in rec["impls"].items():
        if info["status"] == "mismatch":
            print(f"\n!!!!! MISMATCH: {name} on {case.name} {dtype} {threads} thread(s): "
                  f"{info['reason']} !!!!!\n", file=sys.stderr, flush=True)

    # The NumPy matmul of these cases is one more call in every round (not a
    # peer, not in rec["impls"]): BLAS gets the row's thread count while the
    # row is timed (the worker keeps it at 1 otherwise).
    extra_calls = []
    if args.matmul and case.name in args.matmul_case_names:
        extra_calls.append(matmul_call(dtype, args.matmul_n))
    calls = [impl.call for impl in impls] + extra_calls
    timing = (calls, args.seconds, args.min_rounds, args.max_rounds, args.warm_rounds,
              zlib.crc32(f"{case.name}/{dtype}/{threads}".encode()))
    ticks, t_start = _cpu_ticks(), time.perf_counter()
    pool_before = _pool_counts()
    while True:
        try:
            with busy.running(), _blas_limit(threads if extra_calls else None):
                timer = _time(args, *timing)
            break
        except Exception as exc:  # an implementation that worked once, then failed
            culprits = []
            for impl in impls:
                try:
                    impl.call()
                except Exception as exc2:
                    culprits.append((impl, exc2))
            culprits = culprits or [(impl, exc) for impl in impls]
            for impl, error in culprits:
                rec["impls"][impl.name].update(status="n/a",
                                               reason=f"failed while timed: {_first_line(error)}")
                impls.remove(impl)
            if not impls or impls[0] is not sep:
                return rec
            timing = ([impl.call for impl in impls] + extra_calls,) + timing[1:]
    rec["foreign_load"] = _foreign_load(ticks, _cpu_ticks(), time.perf_counter() - t_start)
    rec["sepconv_pool"] = dict(zip(("shared", "alone", "stalls", "moves", "pulls"),
                                   (b - a for a, b in zip(pool_before, _pool_counts()))))
    for impl, ns, cores in zip(impls, timer.samples, timer.cores()):
        rec["impls"][impl.name].update(_stats(ns), cpu_cores_used=cores)
    if extra_calls:
        stats = _stats(timer.samples[-1])
        rec["matmul_in_rounds"] = dict(stats, n=args.matmul_n, gflops=2 * args.matmul_n ** 3
                                       / (stats["median_us"] * 1e3))
    return rec


@contextlib.contextmanager
def _blas_limit(threads):
    """NumPy's BLAS on ``threads`` threads (None: as it is) while a row is timed."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def worker(args):
    threads = args.threads[0]
    peers = [p for p in args.peer_list if p in PEERS]
    # sepconv first: its OpenMP runtime (the system's libgomp) is then the one
    # that PyTorch shares too (one libgomp.so.1 per process), as when it runs alone.
    import sepconv  # noqa: F401
    missing = _setup_runtimes(threads, peers, args.keras_backend)
    busy = BusyLoops(args.busy, args.busy_kind) if args.busy else _NoBusy()
    try:
        return _worker_cases(args, threads, peers, missing, busy)
    finally:
        busy.close()


def _worker_cases(args, threads, peers, missing, busy):
    """The worker's matmul reference and cases (``worker`` owns the busy loops)."""
    out = {"threads": threads, "peers": peers, "missing": missing, "results": [],
           "matmul": {}, "runtime": {"busy_loops": args.busy, "busy_kind": args.busy_kind}}

    def dump():
        with open(args.worker_out, "w") as fh:
            json.dump(out, fh)

    mm_seconds = 0.0 if args.quick else max(0.3, args.seconds)
    mm_reps = 1 if args.quick else 3
    if args.matmul:
        for dtype in args.dtype_list:
            out["matmul"][dtype] = matmul_samples(dtype, threads, mm_seconds / 2, mm_reps,
                                                      args.matmul_n)
    from threadpoolctl import threadpool_limits

    # NumPy's BLAS (the reference check) on one thread: OpenBLAS's idle workers
    # would otherwise spin on a core for a while after each matmul.
    blas_limit = threadpool_limits(limits=1, user_api="blas")
    wait_quiet(0.5)
    for dtype in args.dtype_list:
        for case in args.case_list:
            t0 = time.perf_counter()
            rec = run_case(case, dtype, threads, peers, missing, args, busy)
            out["results"].append(rec)
            dump()
            cells = ", ".join(
                f"{k} {v['median_us']:.1f} [{v['cpu_cores_used'] or 0:.1f}]"
                if "median_us" in v else f"{k} {v['status']}"
                for k, v in rec["impls"].items())
            load = rec.get("foreign_load")
            pool = rec.get("sepconv_pool")
            print(f"  [{threads} thr {dtype}] {case.name:<11} {cells} µs [CPUs busy] "
                  f"({time.perf_counter() - t0:.1f} s"
                  f"{f', other load {load:.2f} CPUs' if load is not None else ''}"
                  f"{', pool shared/alone/stalls/moves/pulls ' + '/'.join(map(str, pool.values())) if pool else ''})",
                  file=sys.stderr, flush=True)
    blas_limit.restore_original_limits()
    if args.matmul:
        for dtype in args.dtype_list:
            out["matmul"][dtype] += matmul_samples(dtype, threads, mm_seconds / 2, mm_reps,
                                                      args.matmul_n)
    out["runtime"]["openmp_libs"] = _loaded_openmp()
    try:
        import torch
        out["runtime"]["torch_threads"] = torch.get_num_threads()
    except Exception:
        pass
    dump()
    return 0


# =========================================================================== driver
def cpu_line():
    info = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if ":" in line:
                    key, _, value = line.partition(":")
                    info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    model = info.get("model name") or platform.processor() or "unknown CPU"
    flags = set(info.get("flags", "").split())
    wanted = ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile"]
    ncpu = os.cpu_count()
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    fam = (f"family {info.get('cpu family', '?')} model {info.get('model', '?')} "
           f"stepping {info.get('stepping', '?')}")
    return (f"{model} ({fam}), {ncpu} usable CPU(s), "
            f"flags: {' '.join(f for f in wanted if f in flags) or '-'}")


def versions():
    out = {"python": platform.python_version()}
    for dist in ("sepconv", "numpy", "threadpoolctl", "torch", "onnxruntime", "onnx",
                 "tensorflow-cpu", "tensorflow", "keras", "jax", "jaxlib", "openvino",
                 "ai-edge-litert"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})"
                for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            out["numpy BLAS"] = ", ".join(blas)
    except Exception:
        pass
    try:
        import sepconv
        info = sepconv.info.config_info()
        out["sepconv ISA"] = info["isa"]["selected"]
        out["sepconv OpenMP"] = "on" if info["openmp"] else "off"
    except Exception as exc:
        out["sepconv"] = f"not importable: {_first_line(exc)}"
    return out


def run_worker(args, threads, peers, backend, matmul):
    fd, path = tempfile.mkstemp(prefix="sepconv_bench_", suffix=".json")
    os.close(fd)
    cmd = [sys.executable, os.path.abspath(__file__), "--_worker", "--_worker-out", path,
           "--_keras-backend", backend, "--threads", str(threads),
           "--cases", ",".join(c.name for c in args.case_list),
           *[arg for c in args.custom_cases for arg in ("--shape", f"{c.name}={case_spec(c)}")],
           "--dtypes", ",".join(args.dtype_list), "--peers", ",".join(peers),
           "--seconds", repr(args.seconds), "--min-rounds", str(args.min_rounds),
           "--max-rounds", str(args.max_rounds), "--warm-rounds", str(args.warm_rounds)]
    if args.quick:
        cmd.append("--quick")
    cmd += ["--schedule", args.schedule, "--turn-ms", repr(args.turn_ms),
            "--settle-ms", repr(args.settle_ms), "--quiet-ms", repr(args.quiet_ms),
            "--busy", str(args.busy), "--busy-kind", args.busy_kind,
            "--matmul-cases", args.matmul_cases, "--matmul-n", str(args.matmul_n)]
    if not matmul:
        cmd.append("--no-matmul")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONWARNINGS="ignore")
    print(f"# worker: {threads} thread(s), peers {','.join(peers) or '-'}"
          f"{' (Keras backend ' + backend + ')' if any(p.startswith('keras') or p == 'litert' for p in peers) else ''}",
          file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, bufsize=1)
    for line in proc.stderr:  # pass progress through, drop TensorFlow's start-up chatter
        if not any(noise in line for noise in _STDERR_NOISE):
            sys.stderr.write(line)
            sys.stderr.flush()
    proc.wait()
    data = None
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        pass
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        print(f"!!! worker ({threads} threads, {backend}) exited with {proc.returncode}; "
              f"{'partial results kept' if data else 'no results'}", file=sys.stderr)
    return data


def fmt_us(v):
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_num(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def render_table(title, header, rows, markdown):
    lines = []
    if markdown:
        lines.append(f"### {title}\n")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                  for i, h in enumerate(header)]
        lines.append(title)
        lines.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                               for i, (h, w) in enumerate(zip(header, widths))))
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                            for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    return "\n".join(lines)


def _columns(results, peers):
    """The table's implementation columns: sepconv, its prepared row if any, and
    each peer followed by its companion rows (if any result has them)."""
    present = {name for r in results for name in r["impls"]}
    cols = []
    for name in ["sepconv"] + list(peers):
        cols.append(name)
        cols += [extra for extra in COMPANIONS.get(name, ()) if extra in present]
    return cols


def report(meta, results, matmul, peers, args):
    """Print the tables; returns True if any output mismatched.

    Each implementation cell is "median / p90" µs per call.  "best peer /
    sepconv" compares the peers (not their companion rows such as
    litert-invoke) with the plain ``sepconv`` row (not sepconv-prepared).
    """
    md = args.markdown
    out = []
    if md:
        out.append("## sepconv benchmark\n")
        out.append(f"- CPU: {meta['cpu']}")
        out.append("- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
        out.append(f"- command: `{meta['command']}`")
        out.append(f"- timing: {meta['timing']}\n")
    else:
        out.append(f"CPU: {meta['cpu']}")
        out.append("versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
        out.append(f"timing: {meta['timing']}")
    notes = {}
    mismatches = []
    for dtype in args.dtype_list:
        for threads in args.threads:
            recs = [r for r in results if r["dtype"] == dtype and r["threads"] == threads]
            if not recs:
                continue
            mm = matmul.get(str(threads), {}).get(dtype)
            mm_txt = f"{mm:.1f} GFLOP/s" if mm else "n/a"
            busy_txt = (f", {meta['busy']} busy-loop process{'es' if meta['busy'] > 1 else ''} "
                        f"running" if meta.get("busy") else "")
            title = (f"{dtype}, {threads} thread{'s' if threads > 1 else ''}{busy_txt} "
                     f"(NumPy {args.matmul_n}x{args.matmul_n} matmul: {mm_txt}); times are "
                     f"median / p90 µs per call")
            columns = _columns(recs, peers)
            in_rounds = any("matmul_in_rounds" in r for r in recs)
            header = (["case", "MFLOP", "KB"] + columns
                      + ["sepconv GFLOP/s", "of matmul"]
                      + (["of matmul (rounds)"] if in_rounds else [])
                      + ["best peer / sepconv", "other load"])
            rows = []
            ratios = []   # (best peer / sepconv, case) of the rows with both
            for r in recs:
                impls = r["impls"]
                sep = impls.get("sepconv", {})
                sep_us = sep.get("median_us")

                def cell(name):
                    info = impls.get(name)
                    if info is None:
                        return "-"
                    if info["status"] in ("n/a", "error") or "median_us" not in info:
                        key = (name, info.get("reason"))
                        notes.setdefault(key, []).append(f"{r['case']}/{dtype}/{threads}t")
                        return "n/a"
                    text = f"{fmt_us(info['median_us'])} / {fmt_us(info.get('p90_us'))}"
                    if info["status"] == "mismatch":
                        mismatches.append(f"{name} {r['case']} {dtype} {threads}t: "
                                          f"{info['reason']}")
                        text += " (!)"
                    return text

                cells = [cell(n) for n in columns]
                gflops = r["flops"] / (sep_us * 1e3) if sep_us else None
                best = None
                for name in peers:
                    info = impls.get(name, {})
                    if info.get("status") == "ok" and info.get("median_us"):
                        if best is None or info["median_us"] < best[1]:
                            best = (name, info["median_us"])
                ratio = (f"{best[1] / sep_us:.2f} ({best[0]})" if best and sep_us else "n/a")
                if best and sep_us:
                    ratios.append((best[1] / sep_us, f"{r['case']} vs {best[0]}"))
                load = r.get("foreign_load")
                rounds_mm = (r.get("matmul_in_rounds") or {}).get("gflops")
                rows.append([r["case"], fmt_num(r["flops"] / 1e6), fmt_num(r["bytes"] / 1e3)]
                            + cells
                            + [f"{gflops:.1f}" if gflops else "n/a",
                               f"{gflops / mm:.2f}" if gflops and mm else "n/a"]
                            + ([f"{gflops / rounds_mm:.2f} of {rounds_mm:.1f}"
                                if gflops and rounds_mm else "-"] if in_rounds else [])
                            + [ratio, f"{load:.2f}" if load is not None else "?"])
            out.append("")
            out.append(render_table(title, header, rows, md))
            if ratios:
                worst = min(ratios)
                out.append(f"{'' if not md else chr(10)}sepconv ahead of the best peer in "
                           f"{sum(q > 1 for q, _ in ratios)} of {len(ratios)} rows; "
                           f"closest: {worst[0]:.2f} ({worst[1]})")
    if notes:
        out.append("")
        out.append("n/a reasons:" if not md else "**n/a reasons:**\n")
        for (name, reason), where in notes.items():
            shown = ", ".join(where[:4]) + (f", ... ({len(where)} in all)" if len(where) > 4 else "")
            out.append(f"{'- ' if md else '  '}{name}: {reason}  [{shown}]")
    if mismatches:
        out.append("")
        out.append("**!!! OUTPUT MISMATCHES (timed anyway, marked (!)) !!!**\n" if md
                   else "!!! OUTPUT MISMATCHES (timed anyway, marked (!)) !!!")
        out += [f"{'- ' if md else '  '}{m}" for m in mismatches]
    if args.custom_cases:
        out.append("")
        out.append("Shapes of --shape / --random-shapes (B,L,C,F,K,stride,dilation,dm,"
                   "padding,data_format):")
        out += [f"{'- ' if md else '  '}{c.name}: {case_spec(c)}" for c in args.custom_cases]
    out.append("")
    out.append("Cells are median / p90 µs per call; best peer / sepconv (medians) > 1 "
               "means sepconv is faster (peers only: not litert-invoke; the plain sepconv "
               "row, not sepconv-prepared); "
               "'of matmul' = sepconv GFLOP/s / NumPy matmul GFLOP/s (same dtype, threads); "
               f"'of matmul (rounds)' = the same against a {args.matmul_n}x{args.matmul_n} "
               "NumPy matmul timed in the row's own interleaved rounds (its GFLOP/s after "
               "'of'; --matmul-cases); "
               "FLOPs = 2*B*L_out*C*dm*(K+F); KB = input + weights + output; "
               "'other load' = CPUs' worth of work by other processes while the row was "
               "timed (rows with a high value are disturbed"
               + (f"; here it includes the {meta['busy']} --busy loop(s)" if meta.get("busy")
                  else "") + ").")
    print("\n".join(out))
    return bool(mismatches)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=None,
                    help="comma-separated case names or groups: 'default' (the 8 cases: "
                         + ", ".join(c.name for c in CASES) + "), 'extra' ("
                         + ", ".join(c.name for c in EXTRA_CASES) + ") or 'all' "
                         "(default: default, or none when --shape or --random-shapes is given)")
    ap.add_argument("--shape", action="append", default=[], metavar="[NAME=]SPEC",
                    help="a shape of your own, SPEC = B,L,C,F,K,stride,dilation,dm,padding"
                         "[,data_format], e.g. 2,300,24,48,15,1,1,1,same,channels_first "
                         "(repeatable; named shape1, shape2, ... unless NAME= is given); "
                         "benchmarked after --cases")
    ap.add_argument("--random-shapes", type=int, default=0, metavar="N",
                    help="N shapes drawn at random (channel counts 3-320, 1-33 taps, "
                         "strides, dilations, depth multipliers, both paddings and layouts; "
                         "see peers.random_cases), benchmarked after --cases and --shape")
    ap.add_argument("--seed", type=int, default=0, help="seed of --random-shapes (default 0)")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--peers", default=",".join(MAIN_PEERS + JAX_PEERS),
                    help="comma-separated peers (default: all): "
                         + ", ".join(MAIN_PEERS + JAX_PEERS))
    ap.add_argument("--seconds", type=float, default=None,
                    help="timing budget per case/dtype/threads, all implementations "
                         "together (default 0.5, 0.05 with --quick)")
    ap.add_argument("--quick", action="store_true", help="fast smoke run (few rounds)")
    ap.add_argument("--json", metavar="PATH", help="write all numbers to PATH")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    ap.add_argument("--schedule", choices=("burst", "call", "blocked"), default="burst",
                    help="burst (default): round-robin turns of back-to-back calls, "
                         "~--turn-ms each, the first call and the first --settle-ms of a "
                         "turn not kept; call: round-robin one call per implementation per "
                         "round; blocked: each implementation timed in one block")
    ap.add_argument("--turn-ms", type=float, default=None,
                    help="length of a turn with --schedule burst (default 10, 4 with --quick)")
    ap.add_argument("--settle-ms", type=float, default=None,
                    help="start of a turn not kept with --schedule burst (default 1)")
    ap.add_argument("--quiet-ms", type=float, default=100.0,
                    help="with --schedule burst, wait at most this long before each turn "
                         "for the previous runtime's spinning threads to sleep (default 100; "
                         "0: don't wait)")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="run N busy-loop processes (not pinned) while timing, to measure "
                         "tail latency with cores taken (default 0)")
    ap.add_argument("--busy-kind", choices=("numpy", "python"), default="numpy",
                    help="the busy loop: numpy (default; elementwise NumPy on L2-sized "
                         "arrays) or python (a pure-Python loop)")
    ap.add_argument("--no-matmul", dest="matmul", action="store_false",
                    help="skip the NumPy matmul reference rate")
    ap.add_argument("--matmul-cases", default=DEFAULT_MATMUL_CASES,
                    help="comma-separated cases whose rounds also time a "
                         "--matmul-n NumPy matmul, for a matmul "
                         f"rate measured side by side with the row (default "
                         f"{DEFAULT_MATMUL_CASES}; '' for none)")
    ap.add_argument("--matmul-n", type=int, default=MATMUL_N,
                    help=f"size of the NumPy matmul reference (default {MATMUL_N}: n x n "
                         "times n x n)")
    ap.add_argument("--min-rounds", type=int, default=None)
    ap.add_argument("--max-rounds", type=int, default=None)
    ap.add_argument("--warm-rounds", type=int, default=None)
    ap.add_argument("--_worker", dest="worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_worker-out", dest="worker_out", help=argparse.SUPPRESS)
    ap.add_argument("--_keras-backend", dest="keras_backend", default="tensorflow",
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    def split(text):
        return [t.strip() for t in text.split(",") if t.strip()]

    by_name = dict(CASE_BY_NAME)
    custom = []
    for i, text in enumerate(args.shape, 1):
        name, _, spec = text.rpartition("=")
        name = name.strip() or f"shape{i}"
        if name in by_name or name in CASE_GROUPS:
            ap.error(f"--shape name {name!r} is taken by a built-in case or group")
        try:
            custom.append(case_from_spec(spec, name))
        except ValueError as exc:
            ap.error(f"--shape: {exc}")
        by_name[name] = custom[-1]
    if args.random_shapes < 0:
        ap.error(f"--random-shapes must be >= 0, received {args.random_shapes}")
    for case in random_cases(args.random_shapes, args.seed):
        custom.append(case)
        by_name[case.name] = case
    if args.cases is None:
        args.cases = "" if custom else "default"
    names = split(args.cases)
    unknown = [c for c in names if c not in by_name and c not in CASE_GROUPS]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; known: {', '.join(by_name)} "
                 f"and the groups {', '.join(CASE_GROUPS)}")
    args.custom_cases = custom
    args.case_list = []
    for name in names:
        for case in CASE_GROUPS.get(name, [by_name.get(name)]):
            if case not in args.case_list:
                args.case_list.append(case)
    if not args.worker:   # a worker is told every case by name
        args.case_list += [c for c in custom if c not in args.case_list]
    if not 16 <= args.matmul_n <= 16384:
        ap.error(f"--matmul-n must be in [16, 16384], received {args.matmul_n}")
    args.matmul_case_names = split(args.matmul_cases)
    unknown = [c for c in args.matmul_case_names if c not in by_name]
    if unknown:
        ap.error(f"unknown --matmul-cases {unknown}; known: {', '.join(by_name)}")
    if args.busy < 0:
        ap.error("--busy must be >= 0")
    args.dtype_list = split(args.dtypes)
    bad = [d for d in args.dtype_list if d not in TOLERANCE]
    if bad:
        ap.error(f"unsupported dtype(s) {bad}; use float32 and/or float64")
    try:
        args.threads = [int(t) for t in split(args.threads)]
    except ValueError:
        ap.error("--threads takes comma-separated integers")
    if not args.threads or min(args.threads) < 1:
        ap.error("--threads must be >= 1")
    args.peer_list = split(args.peers)
    bad = [p for p in args.peer_list if p not in PEERS]
    if bad:
        ap.error(f"unknown peer(s) {bad}; known: {', '.join(PEERS)}")
    if args.seconds is None:
        args.seconds = 0.05 if args.quick else 0.5
    if args.min_rounds is None:
        args.min_rounds = 3 if args.quick else 5
    if args.max_rounds is None:
        args.max_rounds = 30 if args.quick else 1_000_000
    if args.turn_ms is None:
        args.turn_ms = 4.0 if args.quick else 10.0
    if args.settle_ms is None:
        args.settle_ms = 1.0
    if args.warm_rounds is None:
        args.warm_rounds = 1 if args.quick else 3
    return args


def _timing_text(args):
    if args.schedule == "burst":
        how = (f"interleaved round-robin in turns (shuffled order per round; before a "
               f"turn, up to {args.quiet_ms:g} ms for the previous runtime's spinning "
               f"threads to sleep; each turn ~{args.turn_ms:g} ms of back-to-back calls, "
               f"its first call and first {args.settle_ms:g} ms not kept)")
    elif args.schedule == "call":
        how = "interleaved round-robin, one call each per round (shuffled order per round)"
    else:
        how = "blocked (each implementation in its own block)"
    busy = (f"; {args.busy} busy-loop process(es) ({args.busy_kind}, not pinned) run while "
            f"timing" if args.busy else "")
    return (f"{how}; ~{args.seconds:g} s per case/dtype/threads for all implementations, "
            f">= {args.min_rounds} rounds after {args.warm_rounds} warm-up call(s) each; "
            f"median and p90 per call{busy}")


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)

    main_peers = [p for p in MAIN_PEERS if p in args.peer_list]
    jax_peers = [p for p in JAX_PEERS if p in args.peer_list]
    shown_peers = list(main_peers)
    jax_reason = None
    if jax_peers and importlib.util.find_spec("jax") is None:
        jax_reason = "jax not installed"
        jax_peers = []
    meta = {"cpu": cpu_line(), "versions": versions(), "command": " ".join(sys.argv),
            "timing": _timing_text(args), "busy": args.busy, "busy_kind": args.busy_kind,
            "tolerance": TOLERANCE}
    print(f"CPU: {meta['cpu']}", file=sys.stderr)
    print("versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
          file=sys.stderr, flush=True)

    results, matmul, workers = [], {}, []
    for threads in args.threads:
        data = run_worker(args, threads, main_peers, "tensorflow", args.matmul)
        if data is None:
            continue
        workers.append({k: data.get(k) for k in ("threads", "peers", "missing", "runtime")})
        samples = data.get("matmul", {})
        matmul[str(threads)] = {d: 2 * args.matmul_n ** 3 / median(s) / 1e9
                                for d, s in samples.items() if s}
        results += data.get("results", [])
        if jax_peers:
            jdata = run_worker(args, threads, jax_peers, "jax", False)
            if jdata:
                workers.append({k: jdata.get(k) for k in ("threads", "peers", "missing",
                                                          "runtime")})
                by_key = {(r["case"], r["dtype"]): r for r in results
                          if r["threads"] == threads}
                for r in jdata.get("results", []):
                    target = by_key.get((r["case"], r["dtype"]))
                    if target is None:
                        continue
                    for name, info in r["impls"].items():
                        key = f"{name}@jax-worker" if name.startswith("sepconv") else name
                        target["impls"][key] = info
    if jax_peers:
        shown_peers += jax_peers
    elif "keras-jax" in args.peer_list:
        shown_peers.append("keras-jax")
        for r in results:
            r["impls"]["keras-jax"] = {"status": "n/a", "reason": jax_reason}

    meta["workers"] = workers
    if workers:
        libs = sorted({lib for w in workers for lib in (w.get("runtime") or {}).get(
            "openmp_libs", [])})
        meta["openmp_libs_in_workers"] = libs
    mismatch = report(meta, results, matmul, shown_peers, args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "matmul_gflops": matmul, "results": results}, fh,
                      indent=1)
        print(f"\n(wrote {args.json})", file=sys.stderr)
    return 2 if mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
