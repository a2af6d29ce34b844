"""The implementations the benchmark compares, each behind the same small interface.

Every ``make_*`` function takes a :class:`Problem` (the case, the dtype, the
thread count and the NumPy inputs) and returns a :class:`Impl`:

* ``call()``   -- one forward pass, the thing that is timed;
* ``result()`` -- the last output as a NumPy array of shape (B, L_out, F),
  channels_last, so every peer can be compared with sepconv (not timed).

A peer that cannot run (not installed, unsupported dtype, export error, ...)
raises :class:`Unavailable` (or anything else) from its ``make_*`` function;
the driver turns that into "n/a" with the reason.

Layouts: sepconv and Keras take the input (B, L, C) channels_last; PyTorch and
ONNX Runtime get it in their native (B, C, L) layout, converted once during
setup, so the transposes are not part of their timings.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np

from sepconv.conv_utils import conv_geometry, padding_amounts

__all__ = ["CASES", "time_interleaved", "Case", "Problem", "Impl", "Unavailable", "geometry", "numpy_reference",
           "make_sepconv", "make_torch", "make_onnxruntime", "make_keras", "PEERS"]


class Unavailable(Exception):
    """A peer that cannot run this problem; the message says why."""


@dataclass(frozen=True)
class Case:
    name: str
    B: int
    L: int
    C: int
    F: int
    K: int
    stride: int
    dilation: int
    dm: int
    padding: str

    @property
    def geometry(self):
        return geometry(self.L, self.K, self.stride, self.dilation, self.padding)

    @property
    def L_out(self):
        return self.geometry[0]

    def flops(self):
        """2*B*L_out*C*dm*(K+F): depthwise MACs plus pointwise MACs, times two."""
        return 2 * self.B * self.L_out * self.C * self.dm * (self.K + self.F)

    def bytes(self, itemsize):
        """Input + weights (depthwise, pointwise, bias) + output, in the dtype."""
        n = (self.B * self.L * self.C + self.K * self.C * self.dm
             + self.C * self.dm * self.F + self.F + self.B * self.L_out * self.F)
        return n * itemsize


def geometry(L, K, stride, dilation, padding):
    """(L_out, pad_left, pad_right) by Keras's rule (sepconv.conv_utils owns it)."""
    out, _ = conv_geometry(L, K, stride, dilation, padding)
    return (out,) + padding_amounts(L, K, stride, dilation, padding)


@dataclass
class Problem:
    case: Case
    dtype: np.dtype
    threads: int
    x: np.ndarray        # (B, L, C)
    dw: np.ndarray       # (K, C, dm)
    pw: np.ndarray       # (1, C*dm, F)
    b: np.ndarray        # (F,)
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, case, dtype, threads, seed=0):
        rng = np.random.default_rng(seed)
        dtype = np.dtype(dtype)
        c = case
        x = rng.uniform(-1.0, 1.0, (c.B, c.L, c.C))
        dw = rng.standard_normal((c.K, c.C, c.dm)) / np.sqrt(c.K)
        pw = rng.standard_normal((1, c.C * c.dm, c.F)) / np.sqrt(c.C * c.dm)
        b = rng.uniform(-0.1, 0.1, c.F)
        return cls(case, dtype, threads, *(np.ascontiguousarray(a, dtype=dtype)
                                          for a in (x, dw, pw, b)))

    def x_ncl(self):
        """The input in (B, C, L) layout (computed once)."""
        if "x_ncl" not in self._cache:
            self._cache["x_ncl"] = np.ascontiguousarray(self.x.transpose(0, 2, 1))
        return self._cache["x_ncl"]


class Impl:
    """A ready-to-time implementation."""

    def __init__(self, name, call, result, note=""):
        self.name = name
        self.call = call
        self.result = result
        self.note = note


# --------------------------------------------------------------------- reference
def numpy_reference(p: Problem) -> np.ndarray:
    """Straightforward float64 NumPy version (checks sepconv itself; not timed)."""
    c = p.case
    L_out, pad_l, pad_r = c.geometry
    x = np.pad(p.x.astype(np.float64), ((0, 0), (pad_l, pad_r), (0, 0)))
    dw = p.dw.astype(np.float64)
    depth = np.zeros((c.B, L_out, c.C, c.dm))
    last = (L_out - 1) * c.stride
    for k in range(c.K):
        start = k * c.dilation
        window = x[:, start:start + last + 1:c.stride, :]          # (B, L_out, C)
        depth += window[:, :, :, None] * dw[k][None, None, :, :]
    y = depth.reshape(c.B, L_out, c.C * c.dm) @ p.pw[0].astype(np.float64)
    y += p.b.astype(np.float64)
    return np.maximum(y, 0.0)


# ----------------------------------------------------------------------- sepconv
def make_sepconv(p: Problem) -> Impl:
    import sepconv

    c = p.case
    layer = sepconv.SeparableConv1D(c.F, c.K, strides=c.stride, padding=c.padding,
                                    data_format="channels_last", dilation_rate=c.dilation,
                                    depth_multiplier=c.dm, activation="relu",
                                    dtype=p.dtype.name)
    layer.set_weights([p.dw, p.pw, p.b])
    out = np.empty((c.B, c.L_out, c.F), dtype=p.dtype)
    x, n = p.x, p.threads

    def call():
        return layer(x, out=out, num_threads=n)

    return Impl("sepconv", call, lambda: out.copy(), "SeparableConv1D layer, out=")


# ----------------------------------------------------------------------- PyTorch
def _torch_module(p: Problem):
    """An nn.Module doing the two conv1d calls + bias + relu in (B, C, L) layout."""
    import torch
    import torch.nn.functional as F

    c = p.case
    tdtype = {"float32": torch.float32, "float64": torch.float64}[p.dtype.name]
    L_out, pad_l, pad_r = c.geometry
    # dw[k, c, m] -> w1[c*dm + m, 0, k];  pw[0, j, f] -> w2[f, j, 0]
    w1 = np.ascontiguousarray(p.dw.transpose(1, 2, 0).reshape(c.C * c.dm, 1, c.K))
    w2 = np.ascontiguousarray(p.pw[0].T[:, :, None])
    symmetric = pad_l == pad_r

    class SepConv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = torch.nn.Parameter(torch.from_numpy(w1).to(tdtype), requires_grad=False)
            self.w2 = torch.nn.Parameter(torch.from_numpy(w2).to(tdtype), requires_grad=False)
            self.b = torch.nn.Parameter(torch.from_numpy(p.b.copy()).to(tdtype),
                                        requires_grad=False)

        def forward(self, x):
            if symmetric:
                h = F.conv1d(x, self.w1, None, c.stride, pad_l, c.dilation, c.C)
            else:  # Keras puts the odd extra step on the right
                h = F.conv1d(F.pad(x, (pad_l, pad_r)), self.w1, None, c.stride, 0,
                             c.dilation, c.C)
            return torch.relu(F.conv1d(h, self.w2, self.b))

    return SepConv().eval()


def make_torch(p: Problem) -> Impl:
    import torch

    torch.set_num_threads(p.threads)
    module = _torch_module(p)
    x = torch.from_numpy(p.x_ncl())
    state = {}
    forward = module.forward

    def call():
        with torch.no_grad():
            y = forward(x)
        state["y"] = y
        return y

    def result():
        return state["y"].numpy().transpose(0, 2, 1).copy()

    return Impl("torch", call, result,
                f"eager F.conv1d x2, (B,C,L), no_grad, set_num_threads({p.threads})")


# ------------------------------------------------------------------ ONNX Runtime
def make_onnxruntime(p: Problem) -> Impl:
    import onnxruntime as ort
    import torch

    c = p.case
    module = _torch_module(p)
    x_ncl = p.x_ncl()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = dict(input_names=["x"], output_names=["y"], opset_version=17,
                      do_constant_folding=True)
        try:  # the TorchScript exporter: no onnxscript needed, static shapes
            torch.onnx.export(module, (torch.from_numpy(x_ncl),), buf, dynamo=False,
                              **kwargs)
        except TypeError:  # an older torch without the dynamo argument
            torch.onnx.export(module, (torch.from_numpy(x_ncl),), buf, **kwargs)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = p.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(buf.getvalue(), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # e.g. no float64 Conv kernel on the CPU provider
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Unavailable(f"InferenceSession: {first[:160]}") from None
    out = np.empty((c.B, c.F, c.L_out), dtype=p.dtype)
    binding = sess.io_binding()
    binding.bind_cpu_input("x", x_ncl)
    binding.bind_output("y", "cpu", 0, p.dtype, out.shape, out.ctypes.data)
    run = sess.run_with_iobinding

    def call():
        run(binding)
        return out

    return Impl("onnxruntime", call, lambda: out.transpose(0, 2, 1).copy(),
                f"torch.onnx.export opset 17, IOBinding, intra_op={p.threads}, inter_op=1, "
                f"ORT_ENABLE_ALL")


# ------------------------------------------------------------------------- Keras
def make_keras(p: Problem) -> Impl:
    """Keras 3 SeparableConv1D on the backend this process imported Keras with."""
    import keras

    backend = keras.backend.backend()
    c = p.case
    layer = keras.layers.SeparableConv1D(
        c.F, c.K, strides=c.stride, padding=c.padding, data_format="channels_last",
        dilation_rate=c.dilation, depth_multiplier=c.dm, activation="relu",
        dtype=p.dtype.name)
    layer.build((c.B, c.L, c.C))
    layer.set_weights([p.dw, p.pw, p.b])
    state = {}
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(p.x)
        fn = tf.function(lambda t: layer(t), jit_compile=False,
                         input_signature=[tf.TensorSpec(p.x.shape, x.dtype)])
        fn.get_concrete_function()  # trace now, outside the timings

        def call():
            y = fn(x)
            state["y"] = y
            return y

        note = "tf.function(jit_compile=False)"
    elif backend == "jax":
        import jax

        x = jax.device_put(p.x)
        fn = jax.jit(lambda t: layer(t))

        def call():
            y = fn(x).block_until_ready()
            state["y"] = y
            return y

        note = "jax.jit"
    else:
        raise Unavailable(f"Keras backend {backend!r} not benchmarked")

    def result():
        return np.asarray(state["y"]).copy()

    return Impl(f"keras-{'tf' if backend == 'tensorflow' else backend}", call, result, note)


#: peer name -> factory (sepconv is not a peer: it is the reference).
PEERS = {"torch": make_torch, "onnxruntime": make_onnxruntime, "keras-tf": make_keras,
         "keras-jax": make_keras}


# The benchmark cases of issue 2.
CASES = [
    #     name          B     L    C    F   K  s  d  dm padding
    Case("tiny_b1",     1,   16,   8,   8,  3, 1, 1, 1, "same"),
    Case("kws_b1",      1,  128,  64,  64,  3, 1, 1, 1, "same"),
    Case("audio_b1",    1, 1000, 128, 128,  9, 1, 1, 1, "same"),
    Case("quartz_b1",   1,  800, 256, 256, 33, 1, 1, 1, "same"),
    Case("thru_b32",   32, 1024, 128, 128,  5, 1, 1, 1, "same"),
    Case("quartz_b8",   8,  800, 256, 256, 33, 1, 1, 1, "same"),
    Case("dm4_s2_b16", 16,  512,  32,  64,  7, 2, 1, 4, "valid"),
    Case("dil4_b8",     8, 2048,  64,  64,  3, 1, 4, 1, "same"),
]


def time_interleaved(impls, seconds):
    """Median seconds per call of each implementation, timed round-robin.

    Each round gives every implementation one burst of back-to-back calls
    (about 2 ms), in a shuffled order; the first call of a burst is dropped
    (it pays for waking thread pools).
    """
    import random
    import time
    from statistics import median

    samples = {name: [] for name in impls}
    for call in impls.values():
        call()
    per_call = {}
    for name, call in impls.items():
        start = time.perf_counter()
        call()
        per_call[name] = max(time.perf_counter() - start, 1e-7)
    deadline = time.perf_counter() + seconds
    rounds = 0
    order = list(impls)
    while rounds < 5 or (time.perf_counter() < deadline and rounds < 200):
        random.shuffle(order)
        for name in order:
            call = impls[name]
            count = max(1, min(1000, int(2e-3 / per_call[name])))
            call()
            start = time.perf_counter()
            for _ in range(count):
                call()
            samples[name].append((time.perf_counter() - start) / count)
        rounds += 1
    return {name: median(values) for name, values in samples.items()}
