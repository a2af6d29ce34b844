"""Gradients: finite differences, PyTorch autograd, determinism, the layer API."""

import numpy as np
import pytest

import sepconv
from reference import separable_conv1d_reference, separable_conv1d_reference_gradients
from sepconv import activations, tiling
from sepconv.backward import separable_conv1d_backward

pytestmark = pytest.mark.usefixtures("level")  # every test at every ISA level
ACTIVATIONS = sorted(set(activations.ELEMENTWISE) | {"softmax", "log_softmax", "glu",
                                                      "sparsemax"})
KINKED = {"relu", "relu6", "hard_sigmoid", "hard_silu", "hard_tanh", "hard_shrink",
          "soft_shrink", "leaky_relu", "threshold", "sparse_plus", "sparse_sigmoid",
          "sparsemax", "elu", "celu", "selu"}


def _random_config(rng, activation=None):
    taps = int(rng.integers(1, 5))
    dilation = int(rng.integers(1, 3))
    config = dict(batch=int(rng.integers(1, 3)), channels=int(rng.integers(1, 5)),
                  mult=int(rng.integers(1, 3)), filters=2 * int(rng.integers(1, 5)),
                  taps=taps, strides=int(rng.integers(1, 3)), dilation=dilation,
                  padding=str(rng.choice(["valid", "same"])),
                  data_format=str(rng.choice(["channels_last", "channels_first"])),
                  use_bias=bool(rng.random() < 0.7), activation=activation)
    config["steps"] = int(rng.integers((taps - 1) * dilation + 1, 14))
    return config


def _arrays(rng, config):
    shape = ((config["batch"], config["channels"], config["steps"])
             if config["data_format"] == "channels_first"
             else (config["batch"], config["steps"], config["channels"]))
    x = rng.standard_normal(shape)
    dw = rng.standard_normal((config["taps"], config["channels"], config["mult"]))
    pw = rng.standard_normal((1, config["channels"] * config["mult"], config["filters"]))
    b = rng.standard_normal(config["filters"]) if config["use_bias"] else None
    return x, dw, pw, b


def _loss(config, dy):
    fn = activations.get(config["activation"])

    def loss(x, dw, pw, b):
        y = separable_conv1d_reference(x, dw, pw, b, config["strides"], config["padding"],
                                       config["dilation"], config["data_format"], fn)
        return float(np.sum(dy * y))
    return loss


def _numeric_gradient(loss, arrays, index, eps=1e-6):
    target = arrays[index]
    grad = np.zeros_like(target)
    for i in np.ndindex(target.shape):
        old = target[i]
        target[i] = old + eps
        up = loss(*arrays)
        target[i] = old - eps
        down = loss(*arrays)
        target[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def _check_gradients(config, rng, level=None, threads=None, tol=1e-6):
    x, dw, pw, b = _arrays(rng, config)
    fn = activations.get(config["activation"])
    y = separable_conv1d_reference(x, dw, pw, b, config["strides"], config["padding"],
                                   config["dilation"], config["data_format"], fn)
    dy = rng.standard_normal(y.shape)
    grads = separable_conv1d_backward(dy, x, dw, pw, b, config["strides"], config["padding"],
                                      config["dilation"], config["data_format"],
                                      config["activation"], num_threads=threads, isa=level)
    loss = _loss(config, dy)
    arrays = [x, dw, pw, b]
    for index, analytic in enumerate(grads):
        if arrays[index] is None:
            assert analytic is None
            continue
        numeric = _numeric_gradient(loss, arrays, index)
        assert analytic.shape == arrays[index].shape
        error = np.max(np.abs(analytic - numeric)) / max(1.0, np.max(np.abs(numeric)))
        assert error <= tol, (index, config, error)


@pytest.mark.parametrize("seed", range(24))
def test_finite_differences_random_configurations(seed, level):
    rng = np.random.default_rng(seed)
    config = _random_config(rng)
    _check_gradients(config, rng, level=level, threads=1 + seed % 3)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_finite_differences_through_every_activation(activation):
    rng = np.random.default_rng(abs(hash(activation)) % 2**32)
    config = _random_config(rng, activation)
    if activation == "glu" and config["data_format"] == "channels_first":
        config["data_format"] = "channels_last"  # glu halves the (even) filter axis
    # Kinks: the scalar loss is smooth only away from them, so perturbations
    # must not cross one; the random data make that overwhelmingly likely
    # and a smaller step makes it certain enough.
    _check_gradients(config, rng, tol=1e-5 if activation in KINKED else 1e-6)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_backward_is_bitwise_identical_for_any_thread_count(level, data_format):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 40, 12) if data_format == "channels_last" else (6, 12, 40))
    x = x.astype(np.float32)
    dw = rng.standard_normal((5, 12, 2)).astype(np.float32)
    pw = rng.standard_normal((1, 24, 20)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    y = sepconv.separable_conv1d(x, dw, pw, b, 2, "same", 2, data_format, "tanh")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    results = [separable_conv1d_backward(dy, x, dw, pw, b, 2, "same", 2, data_format, "tanh",
                                         num_threads=n, isa=level) for n in (1, 2, 3, 8)]
    for other in results[1:]:
        for a, c in zip(results[0], other):
            assert np.array_equal(a, c)


def _long_config(rng):
    """A random layer on a sequence of up to 300 steps: several backward
    tiles at every MR, with any remainder."""
    taps, strides, dilation = (int(v) for v in rng.integers(1, 5, size=3))
    config = dict(batch=int(rng.integers(1, 4)), channels=int(rng.integers(1, 10)),
                  mult=int(rng.integers(1, 4)), filters=int(rng.integers(1, 41)), taps=taps,
                  strides=strides, dilation=dilation,
                  padding=str(rng.choice(["valid", "same"])),
                  data_format=str(rng.choice(["channels_last", "channels_first"])),
                  use_bias=bool(rng.random() < 0.8), activation=None)
    config["steps"] = int(rng.integers((taps - 1) * dilation + 1, 301))
    return config


@pytest.mark.parametrize("seed", range(30))
def test_long_sequences_match_the_float64_reference(seed, level):
    """dx, d_depthwise, d_pointwise, d_bias to 1e-9 (float64) across tile boundaries."""
    rng = np.random.default_rng(1000 + seed)
    config = _long_config(rng)
    x, dw, pw, b = _arrays(rng, config)
    y = separable_conv1d_reference(x, dw, pw, b, config["strides"], config["padding"],
                                   config["dilation"], config["data_format"])
    dy = rng.standard_normal(y.shape)
    expected = separable_conv1d_reference_gradients(
        dy, x, dw, pw, b is not None, config["strides"], config["padding"],
        config["dilation"], config["data_format"])
    args = (config["strides"], config["padding"], config["dilation"], config["data_format"])
    for dtype, tol in ((np.float64, 1e-9), (np.float32, 2e-4)):
        cast = [None if a is None else a.astype(dtype) for a in (dy, x, dw, pw, b)]
        got = separable_conv1d_backward(*cast, *args, num_threads=1 + seed % 2, isa=level)
        for name, g, want in zip(("dx", "d_depthwise", "d_pointwise", "d_bias"), got, expected):
            if want is None:
                assert g is None
                continue
            assert g.shape == want.shape and g.dtype == dtype
            scale = max(1e-300, float(np.max(np.abs(want))))
            error = float(np.max(np.abs(g - want))) / scale
            assert error <= tol, (name, dtype.__name__, config, error)


def test_gradient_sequences_cross_backward_tiles_at_every_level(level):
    """The long-sequence configs above really span several tiles here."""
    from sepconv import functional

    kernels = functional.kernel_module(level)
    tile = tiling.backward_tile(10**6, kernels)
    assert tile % kernels.MR == 0 and tile % kernels.DW_ROWS == 0
    lengths = [_long_config(np.random.default_rng(1000 + seed))["steps"] for seed in range(30)]
    assert sum(length > 2 * tile for length in lengths) >= 10


def test_float32_gradients_close_to_float64():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 50, 8))
    dw = rng.standard_normal((3, 8, 2))
    pw = rng.standard_normal((1, 16, 12))
    b = rng.standard_normal(12)
    dy = rng.standard_normal((2, 50, 12))
    g64 = separable_conv1d_backward(dy, x, dw, pw, b, padding="same", activation="silu")
    g32 = separable_conv1d_backward(*(a.astype(np.float32) for a in (dy, x, dw, pw, b)),
                                    padding="same", activation="silu")
    for a, c in zip(g64, g32):
        assert c.dtype == np.float32
        assert np.max(np.abs(a - c)) <= 1e-4 * max(1.0, np.max(np.abs(a)))


def test_against_pytorch_autograd():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(12)
    for strides, dilation, padding, mult in ((1, 1, "same", 1), (2, 1, "valid", 2),
                                             (1, 3, "same", 3), (2, 2, "same", 1)):
        batch, steps, channels, filters, taps = 3, 37, 5, 7, 4
        x = rng.standard_normal((batch, steps, channels))
        dw = rng.standard_normal((taps, channels, mult))
        pw = rng.standard_normal((1, channels * mult, filters))
        b = rng.standard_normal(filters)
        from sepconv.conv_utils import conv_geometry
        out_steps, pad_left = conv_geometry(steps, taps, strides, dilation, padding)
        total = max((out_steps - 1) * strides + (taps - 1) * dilation + 1 - steps, 0)
        tx = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)
        tdw = torch.tensor(dw.transpose(1, 2, 0).reshape(channels * mult, 1, taps),
                           requires_grad=True)
        tpw = torch.tensor(pw[0].T[:, :, None].copy(), requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        padded = F.pad(tx, (pad_left, total - pad_left)) if padding == "same" else tx
        depthwise = F.conv1d(padded, tdw, stride=strides, dilation=dilation, groups=channels)
        y = torch.nn.functional.gelu(F.conv1d(depthwise, tpw, tb))
        dy = rng.standard_normal(tuple(y.shape))
        (y * torch.tensor(dy)).sum().backward()
        dx, ddw, dpw, db = separable_conv1d_backward(
            dy.transpose(0, 2, 1), x, dw, pw, b, strides, padding, dilation,
            "channels_last", "gelu")
        assert np.allclose(dx, tx.grad.numpy().transpose(0, 2, 1), rtol=1e-9, atol=1e-9)
        assert np.allclose(ddw, tdw.grad.numpy().reshape(channels, mult, taps)
                           .transpose(2, 0, 1), rtol=1e-9, atol=1e-9)
        assert np.allclose(dpw[0], tpw.grad.numpy()[:, :, 0].T, rtol=1e-9, atol=1e-9)
        assert np.allclose(db, tb.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_layer_backward_matches_functional_and_adds_regularization():
    rng = np.random.default_rng(13)
    layer = sepconv.SeparableConv1D(6, 3, padding="same", depth_multiplier=2,
                                    activation="tanh", dtype="float64",
                                    depthwise_regularizer="l2",
                                    pointwise_regularizer=sepconv.regularizers.L1(0.05),
                                    bias_regularizer=sepconv.regularizers.L2(0.3),
                                    activity_regularizer=sepconv.regularizers.L2(0.01))
    x = rng.standard_normal((2, 11, 4))
    layer.build(x.shape)
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.weights])
    y = layer(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx, grads = layer.backward(dy, include_regularization=False)
    expected = separable_conv1d_backward(dy, x, *layer.weights, padding="same",
                                         activation="tanh")
    assert np.array_equal(dx, expected[0])
    for got, want in zip(grads, expected[1:]):
        assert np.array_equal(got, want)
    assert [g.shape for g in grads] == [w.shape for w in layer.trainable_weights]

    # With regularization: the whole loss sum(dy*y) + sum(layer.losses) by finite differences.
    dx_reg, grads_reg = layer.backward(dy)
    weights = layer.get_weights()

    def total_loss(x_, ws):
        probe = sepconv.SeparableConv1D.from_config(layer.get_config())
        probe.set_weights(ws)
        out = probe(x_)
        return float(np.sum(dy * out) + sum(probe.losses))

    eps = 1e-6
    for index in range(3):
        numeric = np.zeros_like(weights[index])
        for i in np.ndindex(weights[index].shape):
            ws = [w.copy() for w in weights]
            ws[index][i] += eps
            up = total_loss(x, ws)
            ws[index][i] -= 2 * eps
            numeric[i] = (up - total_loss(x, ws)) / (2 * eps)
        assert np.allclose(grads_reg[index], numeric, rtol=1e-5, atol=1e-6), index
    numeric_dx = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp = x.copy()
        xp[i] += eps
        up = total_loss(xp, weights)
        xp[i] -= 2 * eps
        numeric_dx[i] = (up - total_loss(xp, weights)) / (2 * eps)
    assert np.allclose(dx_reg, numeric_dx, rtol=1e-5, atol=1e-6)


def test_layer_backward_errors():
    layer = sepconv.SeparableConv1D(3, 2)
    x = np.ones((1, 5, 2), dtype=np.float32)
    layer(x)
    with pytest.raises(ValueError, match="training=True"):
        layer.backward(np.ones((1, 4, 3)))
    y = layer(x, training=True)
    with pytest.raises(ValueError, match=r"\(1, 4, 3\)"):
        layer.backward(np.ones((1, 5, 3)))
    dx, grads = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape and len(grads) == 3
