"""Tests for sepconv.constraints: projections against independent formulas, configs."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sepconv import constraints as C

EPS = 1e-7

KERAS_NAMES = {
    "Constraint": C.Constraint,
    "constraint": C.Constraint,
    "MaxNorm": C.MaxNorm,
    "max_norm": C.MaxNorm,
    "MinMaxNorm": C.MinMaxNorm,
    "min_max_norm": C.MinMaxNorm,
    "NonNeg": C.NonNeg,
    "non_neg": C.NonNeg,
    "UnitNorm": C.UnitNorm,
    "unit_norm": C.UnitNorm,
}


def _same(a, b):
    return type(a) is type(b) and a.get_config() == b.get_config()


def slice_norms(w, axis):
    """L2 norm of every slice along ``axis`` (keepdims), computed by moving axes."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % w.ndim for a in axes)
    moved = np.moveaxis(w.astype(np.float64), axes, tuple(range(len(axes))))
    flat = moved.reshape(math.prod(moved.shape[: len(axes)]), -1)
    norms = np.sqrt((flat**2).sum(axis=0)).reshape(moved.shape[len(axes):])
    for a in sorted(axes):
        norms = np.expand_dims(norms, a)
    return norms


def ref_rescale(w, axis, target):
    """w scaled so each slice's norm becomes target(norm), with Keras's epsilon."""
    n = slice_norms(w, axis)
    return w.astype(np.float64) * (target(n) / (EPS + n))


KERNEL = np.random.default_rng(0).normal(size=(5, 4, 3))  # (k, in, out)


# ---------------------------------------------------------------------------
# MaxNorm
# ---------------------------------------------------------------------------
def test_max_norm_keeps_small_columns_and_shrinks_large_ones():
    w = np.array([[0.3, 3.0, 0.0], [0.4, 4.0, 0.0]])  # column norms 0.5, 5, 0
    out = C.MaxNorm(max_value=2.0, axis=0)(w)
    np.testing.assert_allclose(out[:, 0], w[:, 0], rtol=1e-6)  # unchanged (up to eps)
    np.testing.assert_allclose(np.linalg.norm(out[:, 1]), 2.0, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1] / np.linalg.norm(out[:, 1]), [0.6, 0.8])
    np.testing.assert_array_equal(out[:, 2], [0.0, 0.0])  # zero column stays zero


@pytest.mark.parametrize("axis", [0, 1, 2, -1, [0, 1], (1, 2)])
@pytest.mark.parametrize("max_value", [0.5, 2, 10.0])
def test_max_norm_formula(axis, max_value):
    out = C.MaxNorm(max_value=max_value, axis=axis)(KERNEL)
    expected = ref_rescale(KERNEL, axis, lambda n: np.minimum(n, max_value))
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert np.all(slice_norms(out, axis) <= max_value + 1e-9)


def test_max_norm_zero_max_value_zeroes_everything():
    np.testing.assert_array_equal(C.MaxNorm(0)(KERNEL), np.zeros_like(KERNEL))


# ---------------------------------------------------------------------------
# UnitNorm
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 2, -1, [0, 1]])
def test_unit_norm(axis):
    out = C.UnitNorm(axis=axis)(KERNEL)
    np.testing.assert_allclose(slice_norms(out, axis), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, ref_rescale(KERNEL, axis, lambda n: np.ones_like(n)), rtol=1e-12)


def test_unit_norm_of_zero_slice_is_zero():
    w = np.zeros((3, 2))
    w[:, 1] = [1.0, 2.0, 2.0]
    out = C.UnitNorm()(w)
    np.testing.assert_array_equal(out[:, 0], 0.0)
    np.testing.assert_allclose(out[:, 1], np.array([1.0, 2.0, 2.0]) / (3.0 + EPS))


# ---------------------------------------------------------------------------
# NonNeg
# ---------------------------------------------------------------------------
def test_non_neg():
    w = np.array([[-1.5, 0.0, 2.0], [3.0, -0.1, -0.0]])
    out = C.NonNeg()(w)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 2.0], [3.0, 0.0, 0.0]])
    assert np.all(out >= 0)
    ints = C.NonNeg()(np.array([-2, 5], dtype=np.int32))
    assert ints.dtype == np.int32 and list(ints) == [0, 5]


# ---------------------------------------------------------------------------
# MinMaxNorm
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [1.0, 0.5, 0.0, 0.2])
@pytest.mark.parametrize("axis", [0, 2, [1, 2]])
def test_min_max_norm_formula(rate, axis):
    lo, hi = 1.0, 2.0
    w = KERNEL * np.array([0.05, 0.4, 3.0])  # some slices below, inside and above
    out = C.MinMaxNorm(min_value=lo, max_value=hi, rate=rate, axis=axis)(w)
    target = lambda n: rate * np.clip(n, lo, hi) + (1 - rate) * n  # noqa: E731
    np.testing.assert_allclose(out, ref_rescale(w, axis, target), rtol=1e-12)


def test_min_max_norm_strict_enforcement_puts_norms_in_range():
    w = np.array([[0.01, 3.0, 1.2], [0.0, 4.0, 0.0]])  # column norms 0.01, 5, 1.2
    out = C.MinMaxNorm(min_value=1.0, max_value=2.0)(w)
    norms = np.linalg.norm(out, axis=0)
    np.testing.assert_allclose(norms, [1.0, 2.0, 1.2], rtol=1e-5)


def test_min_max_norm_partial_rate_moves_part_of_the_way():
    w = np.array([[6.0], [8.0]])  # norm 10
    out = C.MinMaxNorm(min_value=0.0, max_value=2.0, rate=0.25)(w)
    np.testing.assert_allclose(np.linalg.norm(out), 0.25 * 2.0 + 0.75 * 10.0, rtol=1e-7)


def test_min_max_norm_defaults():
    c = C.MinMaxNorm()
    assert c.get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    out = c(KERNEL)
    assert np.all(slice_norms(out, 0) <= 1.0 + 1e-9)


# ---------------------------------------------------------------------------
# shapes, dtypes and properties
# ---------------------------------------------------------------------------
ALL = [C.MaxNorm(1.0), C.MinMaxNorm(0.5, 1.5, 0.7), C.NonNeg(), C.UnitNorm(), C.Constraint()]


@pytest.mark.parametrize("constraint", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_shape_and_dtype_preserved(constraint, dtype):
    w = KERNEL.astype(dtype)
    out = constraint(w)
    assert isinstance(out, np.ndarray)
    assert out.shape == w.shape and out.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(out))


def test_integer_inputs_become_float32():
    out = C.UnitNorm()(np.array([[3], [4]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.ravel(), [0.6, 0.8], rtol=1e-6)


def test_float32_matches_float64_formula():
    w32 = KERNEL.astype(np.float32)
    out = C.MaxNorm(1.0, axis=[0, 1])(w32)
    expected = ref_rescale(w32, [0, 1], lambda n: np.minimum(n, 1.0))
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_base_constraint_is_identity():
    np.testing.assert_array_equal(C.Constraint()(KERNEL), KERNEL)


@settings(max_examples=30, deadline=None, database=None)
@given(
    w=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
        elements=st.floats(-100, 100),
    ),
    max_value=st.floats(0.1, 10.0),
)
def test_projection_properties(w, max_value):
    axis = 0
    m = C.MaxNorm(max_value, axis)(w)
    assert np.all(slice_norms(m, axis) <= max_value * (1 + 1e-9))
    # idempotent up to the epsilon shrink: a second projection scales each
    # slice by norm / (norm + 1e-7), which is far from 1 only for tiny norms
    norms = slice_norms(m, axis)
    shrink = np.broadcast_to(norms / (norms + 1e-7), m.shape) if m.ndim else 1.0
    np.testing.assert_allclose(C.MaxNorm(max_value, axis)(m), m * shrink, rtol=1e-9,
                               atol=1e-12)
    u = C.UnitNorm(axis)(w)
    norms = slice_norms(u, axis)
    original = slice_norms(w, axis)
    big = original > 1e-3
    np.testing.assert_allclose(norms[big], 1.0, rtol=1e-3)
    assert np.all(C.NonNeg()(w) >= 0)


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "factory, name, value",
    [
        (lambda v: C.MaxNorm(max_value=v), "max_value", -1.0),
        (lambda v: C.MaxNorm(max_value=v), "max_value", "2"),
        (lambda v: C.MaxNorm(axis=v), "axis", 0.5),
        (lambda v: C.MaxNorm(axis=v), "axis", []),
        (lambda v: C.UnitNorm(axis=v), "axis", "rows"),
        (lambda v: C.MinMaxNorm(min_value=v), "min_value", -0.5),
        (lambda v: C.MinMaxNorm(min_value=v, max_value=1.0), "max_value", 3.0),
        (lambda v: C.MinMaxNorm(rate=v), "rate", 1.5),
        (lambda v: C.MinMaxNorm(rate=v), "rate", -0.1),
        (lambda v: C.MinMaxNorm(rate=v), "rate", float("nan")),
    ],
)
def test_argument_validation(factory, name, value):
    with pytest.raises(ValueError) as info:
        factory(value)
    assert name in str(info.value) and repr(value) in str(info.value)


def test_axis_out_of_range_at_call():
    with pytest.raises(ValueError):
        C.UnitNorm(axis=5)(KERNEL)


# ---------------------------------------------------------------------------
# get / serialize / deserialize
# ---------------------------------------------------------------------------
def test_registry_names():
    assert set(C.REGISTRY.names()) == set(KERAS_NAMES)


@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_get_every_name(name):
    obj = C.get(name)
    assert type(obj) is KERAS_NAMES[name]
    assert type(C.deserialize(name)) is KERAS_NAMES[name]
    config = C.serialize(obj)
    assert config == {
        "module": "keras.constraints",
        "class_name": KERAS_NAMES[name].__name__,
        "config": obj.get_config(),
        "registered_name": None,
    }
    assert json.loads(json.dumps(config)) == config
    assert _same(C.deserialize(config), obj)
    assert _same(C.get(config), obj)


@pytest.mark.parametrize(
    "constraint",
    [C.MaxNorm(3.5, axis=[0, 1]), C.MaxNorm(1, axis=-1), C.MinMaxNorm(0.2, 0.9, 0.5, 1), C.UnitNorm(2), C.NonNeg()],
    ids=repr,
)
def test_round_trip(constraint):
    again = C.deserialize(json.loads(json.dumps(C.serialize(constraint))))
    assert _same(again, constraint)
    assert _same(type(constraint).from_config(constraint.get_config()), constraint)
    np.testing.assert_array_equal(again(KERNEL), constraint(KERNEL))


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"module": "keras.constraints", "class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0}, "registered_name": None}, C.MaxNorm()),
        ({"module": "keras.constraints", "class_name": "NonNeg", "config": {}, "registered_name": None}, C.NonNeg()),
        ({"module": "keras.constraints", "class_name": "UnitNorm", "config": {"axis": [0, 1]}, "registered_name": None}, C.UnitNorm([0, 1])),
        (
            {
                "module": "keras.constraints",
                "class_name": "MinMaxNorm",
                "config": {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0},
                "registered_name": None,
            },
            C.MinMaxNorm(),
        ),
        ({"class_name": "MaxNorm", "config": {"max_value": 4.0, "axis": 1}}, C.MaxNorm(4.0, 1)),
    ],
)
def test_keras_dicts(config, expected):
    assert _same(C.get(config), expected)


def test_unknown_config_keys():
    assert _same(C.get({"class_name": "UnitNorm", "config": {"axis": 1, "extra": None}}), C.UnitNorm(1))
    with pytest.raises(ValueError, match="extra"):
        C.get({"class_name": "UnitNorm", "config": {"axis": 1, "extra": 2}})


def test_get_passthrough():
    assert C.get(None) is None and C.serialize(None) is None
    inst = C.MaxNorm(3.0)
    assert C.get(inst) is inst
    assert type(C.get(C.NonNeg)) is C.NonNeg

    def clip(w):
        return np.clip(w, -1, 1)

    assert C.get(clip) is clip


@pytest.mark.parametrize("bad", [2, 0.5, [0], ("max_norm",), object()])
def test_get_rejects_other_values(bad):
    with pytest.raises((ValueError, TypeError)) as info:
        C.get(bad)
    assert "constraint" in str(info.value) and repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", ["maxnorm", "Max_Norm", "nonneg", ""])
def test_get_rejects_unknown_names(bad):
    with pytest.raises(ValueError) as info:
        C.get(bad, argument="bias_constraint")
    message = str(info.value)
    assert "constraint" in message and repr(bad) in message and "bias_constraint" in message


def test_wrong_module_is_rejected():
    with pytest.raises(ValueError, match="keras.initializers"):
        C.get({"module": "keras.initializers", "class_name": "MaxNorm", "config": {}})
