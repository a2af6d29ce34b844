"""Tests for sepconv.optimizers (Keras 3's SGD and Adam on sepconv layers).

The expected trajectories are computed here from the textbook formulas, in
plain float64 NumPy, independently of the module; PyTorch's and Keras's own
optimizers are used as further references when they are installed.
"""

import gc
import math
import weakref

import numpy as np
import pytest

import sepconv
from sepconv import constraints, optimizers

STEPS = 3


def make_layer(**kwargs):
    layer = sepconv.SeparableConv1D(4, 3, depth_multiplier=2, **kwargs)
    layer.build((None, 10, 3))
    return layer


def random_grads(rng, layer, scale=1.0):
    return [scale * rng.normal(size=w.shape) for w in layer.trainable_weights]


# -- independent reference implementations (float64) ---------------------------------
def reference_sgd(weights, grads_per_step, lr, momentum=0.0, nesterov=False, project=None):
    w = [np.array(x, dtype=np.float64) for x in weights]
    velocity = [np.zeros_like(x) for x in w]
    trajectory = []
    for grads in grads_per_step:
        for i, g in enumerate(grads):
            if momentum == 0:
                w[i] = w[i] - lr * g
            else:
                velocity[i] = momentum * velocity[i] - lr * g
                if nesterov:
                    w[i] = w[i] + momentum * velocity[i] - lr * g
                else:
                    w[i] = w[i] + velocity[i]
        if project is not None:
            w = project(w)
        trajectory.append([x.copy() for x in w])
    return trajectory


def reference_adam(weights, grads_per_step, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                   amsgrad=False, project=None):
    w = [np.array(x, dtype=np.float64) for x in weights]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    v_hat = [np.zeros_like(x) for x in w]
    trajectory = []
    for t, grads in enumerate(grads_per_step, start=1):
        alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate(grads):
            m[i] = beta_1 * m[i] + (1 - beta_1) * g
            v[i] = beta_2 * v[i] + (1 - beta_2) * g * g
            v_hat[i] = np.maximum(v_hat[i], v[i])
            denom = np.sqrt(v_hat[i] if amsgrad else v[i]) + epsilon
            w[i] = w[i] - alpha * m[i] / denom
        if project is not None:
            w = project(w)
        trajectory.append([x.copy() for x in w])
    return trajectory


CASES = [
    ("sgd", lambda: optimizers.SGD(learning_rate=0.1),
     lambda w, g: reference_sgd(w, g, 0.1)),
    ("momentum", lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
     lambda w, g: reference_sgd(w, g, 0.05, momentum=0.9)),
    ("nesterov", lambda: optimizers.SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
     lambda w, g: reference_sgd(w, g, 0.05, momentum=0.8, nesterov=True)),
    ("adam", lambda: optimizers.Adam(learning_rate=0.01),
     lambda w, g: reference_adam(w, g, 0.01)),
    ("adam_params", lambda: optimizers.Adam(learning_rate=0.02, beta_1=0.5, beta_2=0.75,
                                            epsilon=1e-3),
     lambda w, g: reference_adam(w, g, 0.02, beta_1=0.5, beta_2=0.75, epsilon=1e-3)),
    ("amsgrad", lambda: optimizers.Adam(learning_rate=0.01, amsgrad=True),
     lambda w, g: reference_adam(w, g, 0.01, amsgrad=True)),
]  # fmt: skip
CASE_IDS = [c[0] for c in CASES]


def amsgrad_grads(rng, layer):
    """Gradients that shrink after step 1, so that v_hat and v differ."""
    return [random_grads(rng, layer, scale) for scale in (3.0, 0.2, 1.0)]


@pytest.mark.parametrize("name, make, reference", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_float64_updates_match_formulas(name, make, reference, use_bias):
    rng = np.random.default_rng(1)
    layer = make_layer(dtype="float64", use_bias=use_bias)
    grads_per_step = amsgrad_grads(rng, layer)
    expected = reference(layer.get_weights(), grads_per_step)
    opt = make()
    for step, grads in enumerate(grads_per_step):
        opt.apply(layer, grads)
        assert opt.iterations == step + 1
        assert opt.get_state(layer)["iterations"] == step + 1
        assert len(layer.trainable_weights) == (3 if use_bias else 2)
        for got, want in zip(layer.get_weights(), expected[step]):
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name, make, reference", CASES, ids=CASE_IDS)
def test_float32_updates(name, make, reference):
    rng = np.random.default_rng(2)
    layer = make_layer()
    grads_per_step = [[g.astype(np.float32) for g in gs] for gs in amsgrad_grads(rng, layer)]
    expected = reference(layer.get_weights(), grads_per_step)
    opt = make()
    for step, grads in enumerate(grads_per_step):
        opt.apply(layer, grads)
        for got, want in zip(layer.get_weights(), expected[step]):
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    state = opt.get_state(layer)
    for key, arrays in state.items():
        if key != "iterations":
            assert all(a.dtype == np.float32 for a in arrays)


def test_amsgrad_differs_from_adam():
    rng = np.random.default_rng(3)
    grads_per_step = None
    results = []
    for amsgrad in (False, True):
        layer = make_layer(dtype="float64")
        if grads_per_step is None:
            grads_per_step = amsgrad_grads(rng, layer)
        opt = optimizers.Adam(0.01, amsgrad=amsgrad)
        for grads in grads_per_step:
            opt.apply(layer, grads)
        results.append(layer.get_weights()[0])
    assert not np.allclose(results[0], results[1])
    state = opt.get_state(layer)
    assert set(state) == {"iterations", "momentums", "velocities", "velocity_hats"}
    for v, v_hat in zip(state["velocities"], state["velocity_hats"]):
        assert np.all(v_hat >= v)


def test_slot_names():
    layer = make_layer()
    grads = [np.ones_like(w) for w in layer.trainable_weights]
    for opt, keys in [
        (optimizers.SGD(), {"iterations"}),
        (optimizers.SGD(momentum=0.5), {"iterations", "momentums"}),
        (optimizers.Adam(), {"iterations", "momentums", "velocities"}),
    ]:
        assert opt.get_state(layer) is None
        opt.apply(layer, grads)
        assert set(opt.get_state(layer)) == keys


# -- constraints -------------------------------------------------------------------------------
def constrained_layer(dtype="float64"):
    return make_layer(dtype=dtype, pointwise_constraint="non_neg",
                      depthwise_constraint=constraints.MaxNorm(0.5),
                      bias_constraint=constraints.MaxNorm(0.1, axis=0))


def check_constraints(layer):
    depthwise, pointwise, bias = layer.get_weights()
    assert np.all(pointwise >= 0)
    assert np.all(np.linalg.norm(depthwise, axis=0) <= 0.5 + 1e-6)
    assert np.linalg.norm(bias) <= 0.1 + 1e-6


@pytest.mark.parametrize("name, make, reference", CASES, ids=CASE_IDS)
def test_constraints_hold_after_each_step(name, make, reference):
    rng = np.random.default_rng(4)
    layer = constrained_layer()
    opt = make()
    for _ in range(STEPS):
        opt.apply(layer, random_grads(rng, layer, 5.0))
        check_constraints(layer)


@pytest.mark.parametrize("kind", ["sgd_momentum", "adam"])
def test_constraint_trajectory(kind):
    rng = np.random.default_rng(5)
    layer = constrained_layer()
    grads_per_step = [random_grads(rng, layer, 5.0) for _ in range(STEPS)]
    cs = (layer.depthwise_constraint, layer.pointwise_constraint, layer.bias_constraint)

    def project(ws):
        return [np.asarray(c(w), dtype=np.float64) for c, w in zip(cs, ws)]

    if kind == "adam":
        opt = optimizers.Adam(0.05)
        expected = reference_adam(layer.get_weights(), grads_per_step, 0.05, project=project)
    else:
        opt = optimizers.SGD(0.05, momentum=0.9)
        expected = reference_sgd(layer.get_weights(), grads_per_step, 0.05, momentum=0.9,
                                 project=project)
    for step, grads in enumerate(grads_per_step):
        opt.apply(layer, grads)
        check_constraints(layer)
        for got, want in zip(layer.get_weights(), expected[step]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_constraints_float32_layer():
    rng = np.random.default_rng(6)
    layer = constrained_layer("float32")
    opt = optimizers.Adam(0.1)
    for _ in range(STEPS):
        opt.apply(layer, [g.astype(np.float32) for g in random_grads(rng, layer, 5.0)])
        check_constraints(layer)
        assert all(w.dtype == np.float32 for w in layer.get_weights())


# -- API details ------------------------------------------------------------------------------
def test_apply_gradients_is_an_alias():
    rng = np.random.default_rng(7)
    a, b = make_layer(), make_layer()
    b.set_weights(a.get_weights())
    opt_a, opt_b = optimizers.Adam(0.01), optimizers.Adam(0.01)
    for _ in range(STEPS):
        grads = random_grads(rng, a)
        assert opt_a.apply(a, grads) is None
        assert opt_b.apply_gradients(b, grads) is None
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_layer_output_changes_and_weights_stay_read_only():
    rng = np.random.default_rng(8)
    layer = make_layer()
    x = rng.normal(size=(2, 10, 3)).astype(np.float32)
    before = layer(x)
    optimizers.SGD(0.5).apply(layer, random_grads(rng, layer))
    after = layer(x)
    assert not np.allclose(before, after)  # the packed cache was refreshed
    assert not layer.depthwise_kernel.flags.writeable


def test_state_is_per_layer():
    rng = np.random.default_rng(9)
    a, b = make_layer(dtype="float64"), make_layer(dtype="float64")
    grads_a = [random_grads(rng, a) for _ in range(STEPS)]
    grads_b = [random_grads(rng, b) for _ in range(2)]
    expected_a = reference_adam(a.get_weights(), grads_a, 0.01)
    expected_b = reference_adam(b.get_weights(), grads_b, 0.01)
    opt = optimizers.Adam(0.01)
    opt.apply(a, grads_a[0])
    opt.apply(b, grads_b[0])
    opt.apply(a, grads_a[1])
    opt.apply(b, grads_b[1])
    opt.apply(a, grads_a[2])
    assert opt.iterations == 5
    assert opt.get_state(a)["iterations"] == 3
    assert opt.get_state(b)["iterations"] == 2
    for got, want in zip(a.get_weights(), expected_a[-1]):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    for got, want in zip(b.get_weights(), expected_b[-1]):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_get_state_returns_copies_and_reset():
    layer = make_layer()
    opt = optimizers.SGD(0.1, momentum=0.9)
    grads = [np.ones_like(w) for w in layer.trainable_weights]
    opt.apply(layer, grads)
    state = opt.get_state(layer)
    state["momentums"][0][...] = 123.0
    assert not np.any(opt.get_state(layer)["momentums"][0] == 123.0)
    np.testing.assert_allclose(opt.get_state(layer)["momentums"][0], -0.1)
    opt.reset(layer)
    assert opt.get_state(layer) is None
    assert opt.iterations == 1
    opt.apply(layer, grads)
    assert opt.get_state(layer)["iterations"] == 1
    opt.reset()
    assert opt.get_state(layer) is None


def test_state_does_not_keep_layers_alive():
    opt = optimizers.Adam()
    layer = make_layer()
    opt.apply(layer, [np.ones_like(w) for w in layer.trainable_weights])
    ref = weakref.ref(layer)
    del layer
    gc.collect()
    assert ref() is None


def test_rebuilt_layer_needs_reset():
    opt = optimizers.Adam()
    layer = make_layer()
    opt.apply(layer, [np.ones_like(w) for w in layer.trainable_weights])
    # Give the layer 5 input channels instead of 3: the state no longer fits.
    layer.input_channels = None
    layer.set_weights([np.zeros((3, 5, 2), np.float32), np.zeros((1, 10, 4), np.float32),
                       np.zeros(4, np.float32)])
    grads = [np.ones_like(w) for w in layer.trainable_weights]
    with pytest.raises(ValueError, match="reset"):
        opt.apply(layer, grads)
    opt.reset(layer)
    opt.apply(layer, grads)
    assert opt.get_state(layer)["iterations"] == 1


def test_none_gradients_are_skipped():
    rng = np.random.default_rng(10)
    layer = make_layer(dtype="float64")
    before = layer.get_weights()
    grads = random_grads(rng, layer)
    opt = optimizers.Adam(0.01)
    opt.apply(layer, [grads[0], None, grads[2]])
    after = layer.get_weights()
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.allclose(after[0], before[0])
    np.testing.assert_array_equal(opt.get_state(layer)["momentums"][1], 0.0)
    # Later steps use the layer's step count t = 2 for the first update of weight 1.
    opt.apply(layer, [None, grads[1], None])
    alpha = 0.01 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    m, v = 0.1 * grads[1], 0.001 * grads[1] ** 2
    np.testing.assert_allclose(layer.get_weights()[1], before[1] - alpha * m / (np.sqrt(v) + 1e-7),
                               rtol=1e-13)
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply(layer, [None, None, None])


def test_non_trainable_layer_is_a_no_op():
    layer = make_layer(trainable=False)
    assert layer.trainable_weights == []
    before = layer.get_weights()
    opt = optimizers.SGD(0.1)
    opt.apply(layer, [])
    opt.apply_gradients(layer, ())
    assert opt.iterations == 0 and opt.get_state(layer) is None
    for got, want in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="not trainable"):
        opt.apply(layer, [np.ones_like(w) for w in layer.weights])


def test_integer_gradients_are_cast():
    layer = make_layer(dtype="float64")
    before = layer.get_weights()
    optimizers.SGD(0.5).apply(layer, [np.ones(w.shape, dtype=np.int32) for w in before])
    for got, want in zip(layer.get_weights(), before):
        np.testing.assert_allclose(got, want - 0.5)


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, 0.0, -0.1, float("nan"), float("inf"), "0.1", True, None])
def test_learning_rate_validation(value):
    for cls in (optimizers.SGD, optimizers.Adam):
        with pytest.raises(ValueError, match="learning_rate"):
            cls(learning_rate=value)
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = value
    assert opt.learning_rate == 0.01


@pytest.mark.parametrize(
    "cls, kwargs, argument",
    [
        (optimizers.SGD, {"momentum": -0.1}, "momentum"),
        (optimizers.SGD, {"momentum": 1.5}, "momentum"),
        (optimizers.SGD, {"momentum": float("nan")}, "momentum"),
        (optimizers.SGD, {"momentum": "0.9"}, "momentum"),
        (optimizers.SGD, {"nesterov": "yes"}, "nesterov"),
        (optimizers.SGD, {"nesterov": 1}, "nesterov"),
        (optimizers.Adam, {"beta_1": 1.0}, "beta_1"),
        (optimizers.Adam, {"beta_1": -0.1}, "beta_1"),
        (optimizers.Adam, {"beta_2": 1.0}, "beta_2"),
        (optimizers.Adam, {"beta_2": float("inf")}, "beta_2"),
        (optimizers.Adam, {"epsilon": 0.0}, "epsilon"),
        (optimizers.Adam, {"epsilon": -1e-7}, "epsilon"),
        (optimizers.Adam, {"amsgrad": "no"}, "amsgrad"),
        (optimizers.Adam, {"name": 3}, "name"),
    ],
)
def test_constructor_validation(cls, kwargs, argument):
    with pytest.raises(ValueError, match=argument) as info:
        cls(**kwargs)
    value = next(iter(kwargs.values()))
    assert repr(value) in str(info.value) or str(value) in str(info.value)


def test_gradient_validation():
    layer = make_layer()
    opt = optimizers.Adam()
    good = [np.ones_like(w) for w in layer.trainable_weights]
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"must hold 3 gradients.*Received: 2"):
        opt.apply(layer, good[:2])
    with pytest.raises(ValueError, match=r"must hold 3 gradients.*Received: 4"):
        opt.apply(layer, good + [good[0]])
    with pytest.raises(ValueError, match=r"grads\[1\].*pointwise_kernel.*\(1, 6, 4\).*\(1, 6, 5\)"):
        opt.apply(layer, [good[0], np.ones((1, 6, 5)), good[2]])
    with pytest.raises(ValueError, match=r"grads\[2\].*finite"):
        opt.apply(layer, [good[0], good[1], np.array([1.0, np.nan, 0.0, 0.0])])
    with pytest.raises(ValueError, match=r"grads\[0\].*finite"):
        opt.apply(layer, [np.full_like(good[0], np.inf), good[1], good[2]])
    with pytest.raises(ValueError, match=r"grads\[0\].*real numbers"):
        opt.apply(layer, [np.full(good[0].shape, "a"), good[1], good[2]])
    with pytest.raises(ValueError, match=r"grads\[0\].*real numbers"):
        opt.apply(layer, [np.ones(good[0].shape, dtype=bool), good[1], good[2]])
    with pytest.raises(ValueError, match="grads"):
        opt.apply(layer, np.ones(3))
    with pytest.raises(ValueError, match="grads"):
        opt.apply(layer, good[0])
    with pytest.raises(ValueError, match="grads"):
        opt.apply(layer, {"a": 1})
    # Nothing changed: validation happens before any write.
    assert opt.iterations == 0 and opt.get_state(layer) is None
    for got, want in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_layer_validation():
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match="layer"):
        opt.apply(object(), [])
    with pytest.raises(ValueError, match="layer"):
        opt.apply([np.ones(3)], [np.ones(3)])
    unbuilt = sepconv.SeparableConv1D(4, 3)
    with pytest.raises(ValueError, match="built"):
        opt.apply(unbuilt, [])


def test_failed_write_leaves_layer_and_state_unchanged():
    class Exploding:
        def __call__(self, w):
            raise RuntimeError("boom")

    layer = make_layer()
    layer.pointwise_constraint = Exploding()
    before = layer.get_weights()
    opt = optimizers.SGD(0.1, momentum=0.9)
    with pytest.raises(RuntimeError, match="boom"):
        opt.apply(layer, [np.ones_like(w) for w in layer.trainable_weights])
    for got, want in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    assert opt.iterations == 0 and opt.get_state(layer) is None


# -- config ----------------------------------------------------------------------------------
KERAS_BASE_KEYS = ["name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm",
                   "clipvalue", "use_ema", "ema_momentum", "ema_overwrite_frequency",
                   "loss_scale_factor", "gradient_accumulation_steps"]


def test_get_config_and_round_trip():
    sgd = optimizers.SGD(learning_rate=0.5, momentum=0.25, nesterov=True, name="my_sgd")
    config = sgd.get_config()
    assert list(config) == KERAS_BASE_KEYS + ["momentum", "nesterov"]
    assert config["name"] == "my_sgd" and config["learning_rate"] == 0.5
    assert config["momentum"] == 0.25 and config["nesterov"] is True
    assert optimizers.SGD.from_config(config).get_config() == config
    adam = optimizers.Adam(learning_rate=0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-6,
                           amsgrad=True)
    config = adam.get_config()
    assert list(config) == KERAS_BASE_KEYS + ["beta_1", "beta_2", "epsilon", "amsgrad"]
    assert config["name"] == "adam"
    assert optimizers.Adam.from_config(config).get_config() == config
    assert optimizers.SGD().get_config()["name"] == "sgd"
    assert optimizers.deserialize(optimizers.serialize(adam)).get_config() == config
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    assert isinstance(optimizers.get("SGD"), optimizers.SGD)
    assert optimizers.get(adam) is adam
    assert "Adam(" in repr(adam)


def test_from_keras_config():
    # What keras.optimizers.SGD(0.5, momentum=0.9).get_config() returns.
    keras_config = {
        "name": "SGD", "learning_rate": 0.5, "weight_decay": None, "clipnorm": None,
        "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
        "ema_overwrite_frequency": None, "loss_scale_factor": None,
        "gradient_accumulation_steps": None, "momentum": 0.9, "nesterov": False,
    }  # fmt: skip
    sgd = optimizers.SGD.from_config(keras_config)
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.5, 0.9, False)
    with pytest.raises(ValueError, match="clipnorm=1.0"):
        optimizers.SGD.from_config(dict(keras_config, clipnorm=1.0))
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD.from_config(dict(keras_config, learning_rate={"class_name": "X"}))
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.SGD.from_config(dict(keras_config, beta_1=0.9))
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.get("rmsprop")


# -- other implementations -------------------------------------------------------------------
def test_matches_torch_optim():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    configs = [
        (lambda: optimizers.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
        (lambda: optimizers.SGD(0.05, momentum=0.9),
         lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        (lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
         lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
        # PyTorch adds epsilon to sqrt(v_hat) after bias correction and Keras
        # before it, so the two agree only up to epsilon's size: use a tiny one.
        (lambda: optimizers.Adam(0.01, epsilon=1e-16),
         lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-16)),
        (lambda: optimizers.Adam(0.01, epsilon=1e-16, amsgrad=True),
         lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-16, amsgrad=True)),
    ]  # fmt: skip
    for make_ours, make_torch in configs:
        layer = make_layer(dtype="float64")
        params = [torch.tensor(w, requires_grad=True) for w in layer.get_weights()]
        ours, theirs = make_ours(), make_torch(params)
        for grads in amsgrad_grads(rng, layer) + [random_grads(rng, layer)]:
            ours.apply(layer, grads)
            for p, g in zip(params, grads):
                p.grad = torch.tensor(g)
            theirs.step()
            for got, p in zip(layer.get_weights(), params):
                np.testing.assert_allclose(got, p.detach().numpy(), rtol=1e-9, atol=1e-11)
    # Default epsilon: the trajectories still agree loosely.
    layer = make_layer(dtype="float64")
    params = [torch.tensor(w, requires_grad=True) for w in layer.get_weights()]
    ours, theirs = optimizers.Adam(0.01), torch.optim.Adam(params, lr=0.01, eps=1e-7)
    for _ in range(STEPS):
        grads = random_grads(rng, layer)
        ours.apply(layer, grads)
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        theirs.step()
    # Each step moves a weight by at most ~lr; the epsilon placement changes a
    # step by a small fraction of that for the gradients used here.
    for got, p in zip(layer.get_weights(), params):
        np.testing.assert_allclose(got, p.detach().numpy(), rtol=0, atol=STEPS * 0.01 * 1e-3)


def test_matches_keras_float32():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(12)
    # Same float32 operations in the same order: bit for bit on TensorFlow,
    # whose elementwise float32 kernels are correctly rounded here; other
    # backends may round pow() differently.
    exact = keras.backend.backend() == "tensorflow"
    configs = [
        (optimizers.SGD(0.1), keras.optimizers.SGD(0.1)),
        (optimizers.SGD(0.1, momentum=0.9), keras.optimizers.SGD(0.1, momentum=0.9)),
        (optimizers.SGD(0.1, momentum=0.9, nesterov=True),
         keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True)),
        (optimizers.Adam(0.01), keras.optimizers.Adam(0.01)),
        (optimizers.Adam(0.01, amsgrad=True), keras.optimizers.Adam(0.01, amsgrad=True)),
    ]  # fmt: skip
    for ours, theirs in configs:
        layer = make_layer()
        variables = [keras.Variable(w) for w in layer.get_weights()]
        for grads in amsgrad_grads(rng, layer):
            grads = [g.astype(np.float32) for g in grads]
            ours.apply(layer, grads)
            theirs.apply([keras.ops.convert_to_tensor(g) for g in grads], variables)
            for got, var in zip(layer.get_weights(), variables):
                want = np.asarray(var.numpy())
                if exact:
                    np.testing.assert_array_equal(got, want)
                else:
                    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
