"""Tests for sepconv.regularizers: penalties, analytic gradients, (de)serialisation."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sepconv import regularizers as R

KERAS_NAMES = {
    "Regularizer": R.Regularizer,
    "regularizer": R.Regularizer,
    "L1": R.L1,
    "l1": R.L1,
    "L2": R.L2,
    "l2": R.L2,
    "L1L2": R.L1L2,
    "l1l2": R.L1L2,
    "l1_l2": R.L1L2,
    "OrthogonalRegularizer": R.OrthogonalRegularizer,
    "orthogonal_regularizer": R.OrthogonalRegularizer,
}

CANONICAL = {
    R.Regularizer: "Regularizer",
    R.L1: "L1",
    R.L2: "L2",
    R.L1L2: "L1L2",
    R.OrthogonalRegularizer: "OrthogonalRegularizer",
}


def _same(a, b):
    return type(a) is type(b) and a.get_config() == b.get_config()


# ---------------------------------------------------------------------------
# independent reference formulas (plain loops, float64)
# ---------------------------------------------------------------------------
def ref_l1(w, l1):
    return l1 * sum(abs(float(v)) for v in np.ravel(w))


def ref_l2(w, l2):
    return l2 * sum(float(v) ** 2 for v in np.ravel(w))


def ref_orthogonal(w, factor, mode):
    m = np.asarray(w, dtype=np.float64)
    vectors = [m[i, :] for i in range(m.shape[0])] if mode == "rows" else [m[:, j] for j in range(m.shape[1])]
    unit = []
    for v in vectors:
        norm = math.sqrt(sum(x * x for x in v))
        unit.append(v * min(1.0 / norm if norm > 0 else math.inf, 1e7))
    n = len(unit)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                total += abs(float(np.dot(unit[i], unit[j])))
    pairs = n * (n - 1) / 2
    return factor * 0.5 * total / pairs


def central_differences(f, w, h=1e-6):
    w = np.array(w, dtype=np.float64)
    grad = np.zeros_like(w)
    flat, gflat = w.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(w)
        flat[i] = old - h
        down = f(w)
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def assert_gradient_matches(reg, w, rel=1e-6):
    analytic = reg.gradient(w)
    numeric = central_differences(reg, w)
    assert analytic.shape == w.shape and analytic.dtype == np.float64
    scale = max(np.abs(numeric).max(), 1e-12)
    err = np.abs(analytic - numeric).max() / scale
    assert err <= rel, err


def away_from_kinks(shape, seed):
    """Random float64 entries with |w| >= 0.1, so |.| is smooth under the FD step."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.1, 1.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return w


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_l1_l2_l1l2_values(shape):
    w = np.random.default_rng(0).normal(size=shape)
    assert R.L1(0.3)(w) == pytest.approx(ref_l1(w, 0.3), rel=1e-12)
    assert R.L2(0.7)(w) == pytest.approx(ref_l2(w, 0.7), rel=1e-12)
    both = R.L1L2(l1=0.2, l2=0.05)(w)
    assert both == pytest.approx(ref_l1(w, 0.2) + ref_l2(w, 0.05), rel=1e-12)
    assert isinstance(both, float)


def test_defaults_and_none_arguments():
    assert R.L1().l1 == 0.01 and R.L1(None).l1 == 0.01
    assert R.L2().l2 == 0.01 and R.L2(None).l2 == 0.01
    assert (R.L1L2().l1, R.L1L2().l2) == (0.0, 0.0)
    assert (R.L1L2(None, None).l1, R.L1L2(None, None).l2) == (0.0, 0.0)
    assert R.L1L2()(np.ones((3, 3))) == 0.0
    o = R.OrthogonalRegularizer()
    assert (o.factor, o.mode) == (0.01, "rows")
    assert R.Regularizer()(np.ones(3)) == 0.0
    assert np.array_equal(R.Regularizer().gradient(np.ones(3)), np.zeros(3))


def test_keras_docstring_example():
    # Keras docs: L2(2.) on ones((5, 5)) gives 50.
    assert R.L2(2.0)(np.ones((5, 5), np.float32)) == 50.0


def test_float32_inputs_are_accepted():
    w = np.random.default_rng(1).normal(size=(6, 7)).astype(np.float32)
    assert R.L1(0.1)(w) == pytest.approx(ref_l1(w, 0.1), rel=1e-5)
    g = R.L2(0.1).gradient(w)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 0.2 * w, rtol=1e-6)
    assert R.OrthogonalRegularizer(0.5)(w) == pytest.approx(ref_orthogonal(w, 0.5, "rows"), rel=1e-4)
    assert R.OrthogonalRegularizer(0.5).gradient(w).dtype == np.float32
    assert R.L1(1.0)([[1, -2], [3, 0]]) == 6.0  # lists / ints are fine too


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5), (2, 9)])
def test_orthogonal_regularizer_value(mode, shape):
    w = np.random.default_rng(2).normal(size=shape)
    reg = R.OrthogonalRegularizer(factor=0.7, mode=mode)
    assert reg(w) == pytest.approx(ref_orthogonal(w, 0.7, mode), rel=1e-10)


def test_orthogonal_regularizer_on_orthonormal_rows_is_zero():
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(8, 5)))
    rows_orthonormal = q.T  # (5, 8), orthonormal rows
    assert R.OrthogonalRegularizer(1.0, "rows")(rows_orthonormal) == pytest.approx(0.0, abs=1e-12)
    assert R.OrthogonalRegularizer(1.0, "columns")(q) == pytest.approx(0.0, abs=1e-12)
    # scaling rows does not matter: they are normalised first
    scaled = rows_orthonormal * np.array([[0.1], [2.0], [3.0], [0.5], [7.0]])
    assert R.OrthogonalRegularizer(1.0, "rows")(scaled) == pytest.approx(0.0, abs=1e-12)


def test_orthogonal_regularizer_parallel_rows_give_factor():
    # Identical rows: every |cos| is 1, so the mean is 1 and the penalty = factor.
    w = np.tile(np.array([[1.0, 2.0, -0.5]]), (4, 1))
    assert R.OrthogonalRegularizer(0.3)(w) == pytest.approx(0.3)


def test_orthogonal_regularizer_zero_and_tiny_rows_follow_keras_clamp():
    w = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [3e-8, 4e-8, 0.0]])
    # zero row -> zero vector; tiny row (norm 5e-8 < 1e-7) is scaled by 1e7, not 1/norm
    assert R.OrthogonalRegularizer(1.0)(w) == pytest.approx(ref_orthogonal(w, 1.0, "rows"), rel=1e-10)


def test_orthogonal_regularizer_single_vector_has_no_penalty():
    assert R.OrthogonalRegularizer(1.0)(np.ones((1, 4))) == 0.0
    assert R.OrthogonalRegularizer(1.0, "columns")(np.ones((4, 1))) == 0.0
    assert np.array_equal(R.OrthogonalRegularizer(1.0).gradient(np.ones((1, 4))), np.zeros((1, 4)))


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), ()])
def test_orthogonal_regularizer_needs_rank_two(shape):
    reg = R.OrthogonalRegularizer()
    with pytest.raises(ValueError, match="rank 2") as info:
        reg(np.ones(shape))
    assert str(shape) in str(info.value)
    with pytest.raises(ValueError, match="rank 2"):
        reg.gradient(np.ones(shape))


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4)])
def test_l1_l2_gradients_match_finite_differences(shape):
    w = away_from_kinks(shape, seed=4)
    for reg in (R.L1(0.3), R.L2(0.7), R.L1L2(0.2, 0.05), R.L1L2(0.0, 0.4), R.L1L2(0.4, 0.0)):
        assert_gradient_matches(reg, w)


def test_l1_gradient_is_sign_with_zero_at_zero():
    w = np.array([-2.0, 0.0, 3.0, -0.0])
    np.testing.assert_array_equal(R.L1(0.5).gradient(w), [-0.5, 0.0, 0.5, 0.0])
    np.testing.assert_array_equal(R.L1L2(0.5, 1.0).gradient(w), [-4.5, 0.0, 6.5, 0.0])


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 3), (2, 5)])
def test_orthogonal_gradient_matches_finite_differences(mode, shape):
    w = np.random.default_rng(5).normal(size=shape)
    assert_gradient_matches(R.OrthogonalRegularizer(0.9, mode), w)


def test_orthogonal_gradient_in_the_clamped_regime():
    # A row with norm below 1e-7 is scaled by 1e7: still differentiable there.
    rng = np.random.default_rng(6)
    w = rng.normal(size=(4, 5))
    w[2] *= 1e-9
    reg = R.OrthogonalRegularizer(1.0)
    analytic = reg.gradient(w)
    numeric = central_differences(reg, w, h=1e-12)
    row = 2  # the clamped row: penalty is linear in 1e7 * x there
    np.testing.assert_allclose(analytic[row], numeric[row], rtol=1e-4)
    others = [0, 1, 3]
    numeric_rest = central_differences(reg, w, h=1e-6)
    np.testing.assert_allclose(analytic[others], numeric_rest[others], rtol=1e-6, atol=1e-9)


@settings(max_examples=25, deadline=None, database=None)
@given(
    w=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=5),
        elements=st.floats(0.2, 3.0) | st.floats(-3.0, -0.2),
    ),
    mode=st.sampled_from(["rows", "columns"]),
)
def test_orthogonal_gradient_property(w, mode):
    reg = R.OrthogonalRegularizer(0.5, mode)
    v = w if mode == "rows" else w.T
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    gram = u @ u.T
    np.fill_diagonal(gram, 1.0)
    if np.abs(gram).min() < 1e-3:  # |.| has a kink at 0; skip near-orthogonal pairs
        return
    if np.any(np.abs(np.abs(gram[~np.eye(len(gram), dtype=bool)]) - 1.0) < 1e-6):
        return  # parallel vectors: the penalty is at a maximum and flat/kinked
    assert_gradient_matches(reg, w, rel=1e-5)
    assert reg(w) == pytest.approx(ref_orthogonal(w, 0.5, mode), rel=1e-10)


def test_gradient_descent_on_orthogonal_penalty_reduces_it():
    rng = np.random.default_rng(7)
    w = rng.normal(size=(4, 6))
    reg = R.OrthogonalRegularizer(1.0)
    start = reg(w)
    for _ in range(200):
        w = w - 0.5 * reg.gradient(w)
    assert reg(w) < 0.2 * start


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "factory, name, value",
    [
        (lambda v: R.L1(v), "l1", -0.1),
        (lambda v: R.L1(v), "l1", float("inf")),
        (lambda v: R.L2(v), "l2", float("nan")),
        (lambda v: R.L2(v), "l2", "0.1"),
        (lambda v: R.L1L2(l1=v), "l1", -1),
        (lambda v: R.L1L2(l2=v), "l2", [0.1]),
        (lambda v: R.OrthogonalRegularizer(factor=v), "factor", -0.5),
        (lambda v: R.OrthogonalRegularizer(mode=v), "mode", "diagonal"),
    ],
)
def test_argument_validation(factory, name, value):
    with pytest.raises(ValueError) as info:
        factory(value)
    assert name in str(info.value) and repr(value) in str(info.value)


# ---------------------------------------------------------------------------
# get / serialize / deserialize
# ---------------------------------------------------------------------------
def test_registry_names():
    assert set(R.REGISTRY.names()) == set(KERAS_NAMES)


@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_get_every_name(name):
    obj = R.get(name)
    assert type(obj) is KERAS_NAMES[name]
    assert type(R.deserialize(name)) is KERAS_NAMES[name]
    config = R.serialize(obj)
    assert config == {
        "module": "keras.regularizers",
        "class_name": CANONICAL[type(obj)],
        "config": obj.get_config(),
        "registered_name": None,
    }
    assert json.loads(json.dumps(config)) == config
    assert _same(R.deserialize(config), obj)
    assert _same(R.get(config), obj)


def test_l1_l2_string_uses_the_documented_defaults():
    obj = R.get("l1_l2")
    assert (obj.l1, obj.l2) == (0.01, 0.01)
    assert R.get("L1L2").get_config() == {"l1": 0.0, "l2": 0.0}
    # dict form with that name fills in missing factors the same way
    obj = R.get({"module": "keras.regularizers", "class_name": "l1_l2", "config": {"l2": 0.5}})
    assert (obj.l1, obj.l2) == (0.01, 0.5)
    assert R.serialize(obj)["class_name"] == "L1L2"


@pytest.mark.parametrize(
    "reg",
    [R.L1(0.25), R.L2(1.5), R.L1L2(0.1, 0.2), R.OrthogonalRegularizer(0.3, "columns")],
    ids=repr,
)
def test_round_trip(reg):
    again = R.deserialize(json.loads(json.dumps(R.serialize(reg))))
    assert _same(again, reg)
    assert _same(type(reg).from_config(reg.get_config()), reg)
    w = np.random.default_rng(8).normal(size=(3, 4))
    assert again(w) == reg(w)


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.01}, "registered_name": None}, R.L1(0.01)),
        ({"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.001}, "registered_name": None}, R.L2(0.001)),
        (
            {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}, "registered_name": None},
            R.L1L2(0.0, 0.01),
        ),
        (
            {
                "module": "keras.regularizers",
                "class_name": "OrthogonalRegularizer",
                "config": {"factor": 0.01, "mode": "rows"},
                "registered_name": None,
            },
            R.OrthogonalRegularizer(),
        ),
        ({"class_name": "L2", "config": {"l2": 0.5}}, R.L2(0.5)),
    ],
)
def test_keras_dicts(config, expected):
    assert _same(R.get(config), expected)


def test_unknown_config_keys():
    assert _same(R.get({"class_name": "L1", "config": {"l1": 0.2, "extra": None}}), R.L1(0.2))
    with pytest.raises(ValueError, match="extra"):
        R.get({"class_name": "L1", "config": {"l1": 0.2, "extra": 1}})


def test_get_passthrough():
    assert R.get(None) is None and R.serialize(None) is None
    inst = R.L2(0.3)
    assert R.get(inst) is inst
    assert type(R.get(R.OrthogonalRegularizer)) is R.OrthogonalRegularizer

    def custom(w):
        return 0.1 * float(np.sum(w))

    assert R.get(custom) is custom


@pytest.mark.parametrize("bad", [0.01, 1, [0.1], {"l1": 0.1}, object()])
def test_get_rejects_other_values(bad):
    with pytest.raises((ValueError, TypeError)) as info:
        R.get(bad)
    assert "regularizer" in str(info.value) and repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", ["l3", "L1_L2", "orthogonal", ""])
def test_get_rejects_unknown_names(bad):
    with pytest.raises(ValueError) as info:
        R.get(bad, argument="pointwise_regularizer")
    message = str(info.value)
    assert "regularizer" in message and repr(bad) in message and "pointwise_regularizer" in message


def test_wrong_module_is_rejected():
    with pytest.raises(ValueError, match="keras.constraints"):
        R.get({"module": "keras.constraints", "class_name": "L1", "config": {}})
