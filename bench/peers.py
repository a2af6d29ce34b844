"""The implementations the benchmark compares, each behind the same small interface.

Every ``make_*`` function takes a :class:`Problem` (the case, the dtype, the
thread count and the NumPy inputs) and returns a :class:`Impl`:

* ``call()``   -- one forward pass, the thing that is timed;
* ``result()`` -- the last output as a NumPy array of shape (B, L_out, F),
  channels_last, so every peer can be compared with sepconv (not timed).

A peer that cannot run (not installed, unsupported dtype, export error, ...)
raises :class:`Unavailable` (or anything else) from its ``make_*`` function;
the driver turns that into "n/a" with the reason.

An implementation may also carry ``companions``: extra rows timed in the same
rounds from the same setup (``sepconv-prepared`` next to ``sepconv``,
``litert-invoke`` next to ``litert``); they are checked like the others but are
never the "best peer".

Layouts: for a channels_last case (the default) sepconv, Keras, LiteRT and
OpenVINO take the input (B, L, C) (OpenVINO's transposes are inside its compiled
model, so they are timed); PyTorch and ONNX Runtime get it in their native
(B, C, L) layout, converted once during setup, so the transposes are not part
of their timings.  For a channels_first case sepconv, PyTorch, ONNX Runtime and
OpenVINO all take (B, C, L); Keras and LiteRT still take (B, L, C), converted
once during setup (their notes say so).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np

from sepconv.conv_utils import conv_geometry, padding_amounts

__all__ = ["CASES", "EXTRA_CASES", "time_interleaved", "Case", "case_from_spec", "case_spec",
           "random_cases", "Problem", "Impl", "Unavailable",
           "geometry", "numpy_reference", "make_sepconv", "make_torch", "make_onnxruntime",
           "make_keras", "make_openvino", "make_litert", "openvino_core", "PEERS", "COMPANIONS"]


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
    data_format: str = "channels_last"  # sepconv's input layout; see the module docstring

    @property
    def channels_first(self):
        return self.data_format == "channels_first"

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
    """A ready-to-time implementation (and the companion rows timed with it)."""

    def __init__(self, name, call, result, note="", companions=()):
        self.name = name
        self.call = call
        self.result = result
        self.note = note
        self.companions = list(companions)


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
                                    data_format=c.data_format, dilation_rate=c.dilation,
                                    depth_multiplier=c.dm, activation="relu",
                                    dtype=p.dtype.name)
    layer.set_weights([p.dw, p.pw, p.b])
    if c.channels_first:
        x, shape = p.x_ncl(), (c.B, c.F, c.L_out)
    else:
        x, shape = p.x, (c.B, c.L_out, c.F)
    out = np.empty(shape, dtype=p.dtype)
    n = p.threads
    layout = "(B,C,L) in and out" if c.channels_first else "(B,L,C)"

    def as_nlc(y):
        return y.transpose(0, 2, 1).copy() if c.channels_first else y.copy()

    def call():
        return layer(x, out=out, num_threads=n)

    companions = []
    if hasattr(layer, "prepare"):  # the prepared call path (newer sepconv)
        prepared = layer.prepare(x.shape, num_threads=n)
        out_prepared = np.empty(shape, dtype=p.dtype)

        def call_prepared():
            return prepared(x, out=out_prepared)

        companions.append(Impl("sepconv-prepared", call_prepared,
                               lambda: as_nlc(out_prepared),
                               f"prepared = layer.prepare(x.shape, num_threads={n}); "
                               f"prepared(x, out=out), {layout}"))
    return Impl("sepconv", call, lambda: as_nlc(out),
                f"layer(x, out=out, num_threads={n}), {layout}", companions)


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


def _ncl_layout(p: Problem) -> str:
    """What the (B, C, L) peers' notes say about their input."""
    if p.case.channels_first:
        return "(B,C,L) in and out"
    return "(B,C,L) (input transposed once in setup, not timed)"


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
                f"eager F.conv1d x2, {_ncl_layout(p)}, no_grad, set_num_threads({p.threads})")


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
                f"torch.onnx.export opset 17, {_ncl_layout(p)}, IOBinding, "
                f"intra_op={p.threads}, inter_op=1, ORT_ENABLE_ALL")


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

    if c.channels_first:
        note += ", channels_last (B,L,C) input (transposed once in setup, not timed)"
    return Impl(f"keras-{'tf' if backend == 'tensorflow' else backend}", call, result, note)


# ---------------------------------------------------------------------- OpenVINO
#: CPU plugin settings of every compiled model.  INFERENCE_PRECISION_HINT is
#: pinned: on a CPU with AVX-512 BF16 (or AMX) the plugin's default is bf16,
#: which would run these float32 models at ~3e-3 relative error.  CPU pinning
#: (on by default on Linux) is turned off: without it the small cases ran
#: ~1.5 µs faster per call (tiny_b1 9.6 vs 11.2 µs, kws_b1 19.7 vs 21.3 µs at
#: 1 thread), large ones the same within noise; with a --busy loop its pinned
#: threads could not leave the busy core; and no other implementation pins.
OPENVINO_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
                   "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False}
_OPENVINO = {}


def openvino_core(threads):
    """The process's ``openvino.Core``, its CPU plugin set to ``threads`` threads.

    Called by the benchmark before anything runs (as for the other runtimes),
    and again by make_openvino, which also passes the settings at compile time.
    """
    import openvino as ov

    core = _OPENVINO.get("core")
    if core is None:
        core = _OPENVINO["core"] = ov.Core()
    if _OPENVINO.get("threads") != threads:
        core.set_property("CPU", dict(OPENVINO_CONFIG, INFERENCE_NUM_THREADS=threads))
        _OPENVINO["threads"] = threads
    return core


def _openvino_model(p: Problem, element_type, channels_last):
    """The separable conv as an OpenVINO graph built from opset ops.

    Depthwise = GroupConvolution with C groups (weights (C, dm, 1, K)) and
    explicit pads_begin/pads_end, so Keras's asymmetric 'same' padding (the
    odd extra step on the right) is exact; pointwise = 1x1 Convolution; then
    Add(bias) and Relu.  With ``channels_last`` the model takes (B, L, C) and
    returns (B, L_out, F): the two Transposes are inside the compiled model
    (the CPU plugin works in a channels-last layout internally, and this
    measured faster than feeding it (B, C, L): 21 vs 25 µs on kws_b1 and
    345 vs 380 µs on audio_b1 at 1 thread).
    """
    import openvino as ov
    import openvino.opset13 as ops

    c = p.case
    _, pad_l, pad_r = c.geometry
    perm = np.array([0, 2, 1], dtype=np.int64)
    shape = [c.B, c.L, c.C] if channels_last else [c.B, c.C, c.L]
    x = ops.parameter(shape, element_type, name="x")
    h = ops.transpose(x, ops.constant(perm)) if channels_last else x
    # dw[k, c, m] -> w1[c, m, 0, k];  pw[0, j, f] -> w2[f, j, 0]
    w1 = np.ascontiguousarray(p.dw.transpose(1, 2, 0).reshape(c.C, c.dm, 1, c.K))
    w2 = np.ascontiguousarray(p.pw[0].T[:, :, None])
    h = ops.group_convolution(h, ops.constant(w1), [c.stride], [pad_l], [pad_r], [c.dilation])
    h = ops.convolution(h, ops.constant(w2), [1], [0], [0], [1])
    h = ops.relu(ops.add(h, ops.constant(np.ascontiguousarray(p.b.reshape(1, c.F, 1)))))
    if channels_last:
        h = ops.transpose(h, ops.constant(perm))
    return ov.Model([h], [x], "separable_conv1d")


def _openvino_precisions(compiled, layer_type):
    """runtimePrecision of the executed nodes of one type (e.g. 'Convolution')."""
    found = set()
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        if info["layerType"].astype(str) == layer_type:
            found.add(info["runtimePrecision"].astype(str))
    return found


def make_openvino(p: Problem) -> Impl:
    """OpenVINO's CPU plugin on a graph equal to the other peers' (see _openvino_model).

    Timed: ``InferRequest.infer(share_outputs=True)`` with the input and output
    tensors set once, both sharing NumPy buffers (no copies in or out).
    """
    import openvino as ov

    c = p.case
    core = openvino_core(p.threads)
    config = dict(OPENVINO_CONFIG, INFERENCE_NUM_THREADS=p.threads)
    channels_last = not c.channels_first
    if p.dtype.name == "float64":
        # The CPU plugin has no f64 kernels: an f64 model gets Converts around
        # f32 convolutions (INFERENCE_PRECISION_HINT=f64 is rejected), which
        # cannot meet the float64 tolerance.  Check, in case a release adds them.
        compiled = core.compile_model(_openvino_model(p, ov.Type.f64, channels_last), "CPU",
                                      config)
        precisions = _openvino_precisions(compiled, "Convolution")
        if precisions != {"f64"}:
            raise Unavailable(f"OpenVINO's CPU plugin runs a float64 model's convolutions in "
                              f"{'/'.join(sorted(precisions)) or '?'} (no f64 kernels)")
    else:
        compiled = core.compile_model(_openvino_model(p, ov.Type.f32, channels_last), "CPU",
                                      config)
        precisions = _openvino_precisions(compiled, "Convolution")
        if precisions != {"f32"}:
            raise Unavailable(f"convolutions compiled in {'/'.join(sorted(precisions))}, "
                              f"not f32, despite INFERENCE_PRECISION_HINT=f32")
    threads = compiled.get_property("INFERENCE_NUM_THREADS")
    streams = compiled.get_property("NUM_STREAMS")
    request = compiled.create_infer_request()
    x = p.x if channels_last else p.x_ncl()
    out = np.empty(tuple(compiled.output(0).shape), dtype=p.dtype)
    request.set_input_tensor(ov.Tensor(x, shared_memory=True))
    request.set_output_tensor(ov.Tensor(out, shared_memory=True))
    infer = request.infer

    def call():
        infer(share_outputs=True)
        return out

    def result():
        return out.copy() if channels_last else out.transpose(0, 2, 1).copy()

    layout = ("(B,L,C) in, (B,L_out,F) out, both Transposes inside the timed model"
              if channels_last else "(B,C,L) in and out")
    return Impl("openvino", call, result,
                f"opset GroupConvolution+Convolution 1x1+Add+Relu, {layout}; CPU, "
                f"INFERENCE_PRECISION_HINT=f32 (convolutions ran f32), LATENCY, "
                f"INFERENCE_NUM_THREADS={threads}, NUM_STREAMS={streams}, CPU pinning "
                f"{'on' if compiled.get_property('ENABLE_CPU_PINNING') else 'off'}; "
                f"timed infer(share_outputs=True), input/output tensors set once on "
                f"NumPy buffers")


# ------------------------------------------------------------ LiteRT (TFLite)
def _tflite_model(p: Problem) -> bytes:
    """A Keras 3 model with one SeparableConv1D (channels_last, fixed batch),
    converted to a TFLite flatbuffer.

    ``TFLiteConverter.from_keras_model`` works with Keras 3 here (it exports
    the model and freezes its variables; it prints the export summary, which
    is silenced).  A plain ``from_concrete_functions`` of a tf.function would
    keep the layer's resource variables (VAR_HANDLE/READ_VARIABLE ops that
    fail at invoke), hence the frozen-graph fallback for a Keras where
    from_keras_model fails.
    """
    import contextlib

    import keras
    import tensorflow as tf

    c = p.case
    layer = keras.layers.SeparableConv1D(
        c.F, c.K, strides=c.stride, padding=c.padding, data_format="channels_last",
        dilation_rate=c.dilation, depth_multiplier=c.dm, activation="relu",
        dtype=p.dtype.name)
    inputs = keras.Input(shape=(c.L, c.C), batch_size=c.B, dtype=p.dtype.name)
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([p.dw, p.pw, p.b])
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return tf.lite.TFLiteConverter.from_keras_model(model).convert()
        except Exception:
            from tensorflow.python.framework.convert_to_constants import (
                convert_variables_to_constants_v2)
            fn = tf.function(lambda t: model(t),
                             input_signature=[tf.TensorSpec(p.x.shape, p.x.dtype)])
            frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
            return tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()


def make_litert(p: Problem) -> Impl:
    """LiteRT (ai-edge-litert's TFLite interpreter, XNNPACK delegate) on the
    converted Keras layer.

    Timed (``litert``): ``set_tensor`` + ``invoke()`` + ``get_tensor``, i.e. the
    input copied in and the output copied out, as an application does.  The
    companion row ``litert-invoke`` times ``invoke()`` alone on the same
    interpreter (its input already in place, output left in the arena).
    """
    c = p.case
    if p.dtype.name == "float64":
        raise Unavailable("TFLite has no float64 CONV_2D/DEPTHWISE_CONV_2D kernels (the "
                          "converter rejects f64 convolutions without TF Select)")
    import keras

    if keras.backend.backend() != "tensorflow":
        raise Unavailable(f"needs Keras with the TensorFlow backend for the conversion, "
                          f"not {keras.backend.backend()!r}")
    from ai_edge_litert.interpreter import Interpreter

    blob = _tflite_model(p)
    interpreter = Interpreter(model_content=blob, num_threads=p.threads)
    interpreter.allocate_tensors()
    (inp,), (outp,) = interpreter.get_input_details(), interpreter.get_output_details()
    if tuple(inp["shape"]) != p.x.shape:
        raise Unavailable(f"converted model's input is {tuple(inp['shape'])}, not {p.x.shape}")
    in_index, out_index = inp["index"], outp["index"]
    # The default delegate (XNNPACK) replaces the nodes it takes by one DELEGATE
    # node; one that reads the model's input and writes its output took them all.
    delegates = [op for op in interpreter._get_ops_details() if op["op_name"] == "DELEGATE"]
    if any(in_index in op["inputs"] and out_index in op["outputs"] for op in delegates):
        xnnpack = "XNNPACK delegate (whole graph)"
    elif delegates:
        xnnpack = "XNNPACK delegate (part of the graph)"
    else:
        xnnpack = "NO XNNPACK delegate (builtin kernels)"
    x = p.x
    set_tensor, invoke, get_tensor = (interpreter.set_tensor, interpreter.invoke,
                                      interpreter.get_tensor)
    state = {}

    def call():
        set_tensor(in_index, x)
        invoke()
        y = state["y"] = get_tensor(out_index)
        return y

    def call_invoke():
        invoke()

    def result():
        return state["y"].copy()

    def result_invoke():
        return get_tensor(out_index)

    setting = (f"from_keras_model -> Interpreter(num_threads={p.threads}), "
               f"{xnnpack}, "
               f"(B,L,C)" + (" input (transposed once in setup, not timed)"
                             if c.channels_first else ""))
    companion = Impl("litert-invoke", call_invoke, result_invoke,
                     f"invoke() alone (input set beforehand, output not read); {setting}")
    return Impl("litert", call, result, f"set_tensor+invoke()+get_tensor; {setting}",
                [companion])


#: peer name -> factory (sepconv is not a peer: it is the reference).
PEERS = {"torch": make_torch, "onnxruntime": make_onnxruntime, "keras-tf": make_keras,
         "keras-jax": make_keras, "openvino": make_openvino, "litert": make_litert}

#: implementation -> the companion rows its factory adds (not "best peer" candidates).
COMPANIONS = {"sepconv": ("sepconv-prepared",), "litert": ("litert-invoke",)}


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

# More shapes, by name or as the group ``extra``: channel counts that are not
# multiples of 32 (no full SIMD tile), one long sequence, a large stride with an
# even kernel, 512 channels, an even kernel with 'same' padding (asymmetric:
# Keras puts the extra step on the right) and one channels_first case.
EXTRA_CASES = [
    #     name          B      L    C    F   K  s  d  dm padding
    Case("c40_b1",      1,   500,  40,  72,  5, 1, 1, 1, "same"),
    Case("c100_b4",     4,   300, 100, 120,  7, 1, 1, 1, "same"),
    Case("long_b1",     1, 16000,  64,  64,  9, 1, 1, 1, "same"),
    Case("s4k8_b8",     8,  4096,  64, 128,  8, 4, 1, 1, "valid"),
    Case("c512_b4",     4,   256, 512, 512,  3, 1, 1, 1, "same"),
    Case("k8same_b2",   2,   301,  48,  40,  8, 2, 1, 2, "same"),
    Case("quartz_b8_cf", 8,  800, 256, 256, 33, 1, 1, 1, "same", "channels_first"),
]

#: The fields of a --shape spec, in order (data_format optional).
SPEC_FIELDS = ("B", "L", "C", "F", "K", "stride", "dilation", "dm", "padding", "data_format")
#: Bounds on a --shape spec's integers: a benchmark shape, not a stress test.
SPEC_BOUNDS = {"B": 4096, "L": 1 << 20, "C": 8192, "F": 8192, "K": 1024, "stride": 1024,
               "dilation": 1024, "dm": 64}


def case_from_spec(spec, name):
    """A Case from ``B,L,C,F,K,stride,dilation,dm,padding[,data_format]``.

    Raises ValueError naming the field and the value received when the
    spec is not a shape Keras's SeparableConv1D accepts.
    """
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) not in (9, 10):
        raise ValueError(f"a shape is B,L,C,F,K,stride,dilation,dm,padding[,data_format] "
                         f"(9 or 10 fields); received {spec!r} ({len(parts)} fields)")
    values = {}
    for field_name, text in zip(SPEC_FIELDS[:8], parts[:8]):
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"shape {spec!r}: {field_name} must be an integer, "
                             f"received {text!r}") from None
        if not 1 <= value <= SPEC_BOUNDS[field_name]:
            raise ValueError(f"shape {spec!r}: {field_name} must be in "
                             f"[1, {SPEC_BOUNDS[field_name]}], received {value}")
        values[field_name] = value
    padding = parts[8].lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"shape {spec!r}: padding must be 'valid' or 'same', "
                         f"received {parts[8]!r}")
    data_format = parts[9].lower() if len(parts) == 10 else "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"shape {spec!r}: data_format must be 'channels_last' or "
                         f"'channels_first', received {parts[9]!r}")
    if values["stride"] > 1 and values["dilation"] > 1:
        raise ValueError(f"shape {spec!r}: Keras refuses stride > 1 with dilation > 1, "
                         f"received stride={values['stride']}, dilation={values['dilation']}")
    span = (values["K"] - 1) * values["dilation"] + 1
    if padding == "valid" and values["L"] < span:
        raise ValueError(f"shape {spec!r}: L={values['L']} is shorter than the dilated "
                         f"kernel ({span} steps) with padding 'valid'")
    return Case(name, padding=padding, data_format=data_format, **values)


def case_spec(case):
    """The --shape spec of a Case (case_from_spec's inverse)."""
    return ",".join(str(getattr(case, f)) for f in SPEC_FIELDS)


def random_cases(count, seed, max_macs=5e7):
    """``count`` shapes drawn at random (reproducible from ``seed``).

    Channel counts are any integer in [3, 320] (multiples of the vector width
    no likelier than others), kernels 1-33 taps (odd ones twice as likely),
    one shape in four strided (2-4) and one in four of the others dilated
    (2-8), a depth multiplier of 2-4 one time in four, 'same' or 'valid',
    one in four channels_first; batch 1-8 and a sequence length drawn
    log-uniformly from 16-4096, the length then cut until a call is at most
    ``max_macs`` multiply-adds (so a sweep stays minutes long).
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        C, F = (int(v) for v in rng.integers(3, 321, 2))
        K = int(rng.choice(np.r_[np.arange(1, 34, 2), np.arange(1, 34, 2), np.arange(2, 33, 2)]))
        stride = int(rng.integers(2, 5)) if rng.random() < 0.25 else 1
        dilation = int(rng.integers(2, 9)) if stride == 1 and rng.random() < 0.25 else 1
        dm = int(rng.integers(2, 5)) if rng.random() < 0.25 else 1
        padding = str(rng.choice(["same", "valid"]))
        data_format = "channels_first" if rng.random() < 0.25 else "channels_last"
        B = int(rng.integers(1, 9))
        L = int(np.exp(rng.uniform(np.log(16), np.log(4096))))
        L = max(L, (K - 1) * dilation + 1)
        while B * L * C * dm * (K + F) / stride > max_macs and L > (K - 1) * dilation + 1:
            L = max(L // 2, (K - 1) * dilation + 1)
        while B > 1 and B * L * C * dm * (K + F) / stride > max_macs:
            B -= 1
        cases.append(Case(f"rand{seed}_{i}", B, L, C, F, K, stride, dilation, dm, padding,
                          data_format))
    return cases


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
