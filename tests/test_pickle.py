"""Layers and optimizers pickle, deepcopy and cross process boundaries.

The kernel entry points and packed weights are this process's and are not
pickled: the copy plans and packs again, and computes the same bits.
"""

import copy
import multiprocessing
import pickle

import numpy as np
import pytest

import sepconv
from sepconv import optimizers


def _layer(rng, **kwargs):
    layer = sepconv.SeparableConv1D(6, 3, padding="same", depth_multiplier=2,
                                    activation="gelu", depthwise_regularizer="l2",
                                    bias_constraint=sepconv.constraints.NonNeg(), **kwargs)
    x = rng.standard_normal((2, 50, 4)).astype(np.float32)
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in layer.weights])
    return layer, x


def _call(args):
    layer, x = args
    return layer(x, num_threads=1)


@pytest.mark.parametrize("copier", ["deepcopy", "copy"] + [
    f"pickle{protocol}" for protocol in range(pickle.HIGHEST_PROTOCOL + 1)])
def test_layer_round_trip_is_bitwise_equal(copier):
    # Every pickle protocol: 0 and 1 rebuild a subclass of an extension
    # type (the layer's call is LayerCall's) from the base unless told not to.
    rng = np.random.default_rng(0)
    layer, x = _layer(rng)
    expected = layer(x, num_threads=1)
    if copier.startswith("pickle"):
        clone = pickle.loads(pickle.dumps(layer, protocol=int(copier[len("pickle"):])))
    elif copier == "deepcopy":
        clone = copy.deepcopy(layer)
    else:   # shallow: __getstate__ gives the copy plans and prepared calls of its own
        clone = copy.copy(layer)
    assert clone is not layer and clone.get_config() == layer.get_config()
    assert np.array_equal(clone(x, num_threads=1), expected)
    assert all(not w.flags.writeable for w in clone.weights)
    assert clone.losses == layer.losses
    clone.set_weights([w * 2 for w in clone.get_weights()])  # independent copies
    assert np.array_equal(layer(x, num_threads=1), expected)


def test_unbuilt_layer_pickles():
    layer = sepconv.SeparableConv1D(3, 2)
    clone = pickle.loads(pickle.dumps(layer))
    assert not clone.built and clone.get_config() == layer.get_config()


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_layer_crosses_process_boundaries(method):
    rng = np.random.default_rng(1)
    layer, x = _layer(rng)
    expected = layer(x, num_threads=1)
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map(_call, [(layer, x)] * 3, chunksize=1)
    for y in results:
        assert np.array_equal(y, expected)


def test_joblib_round_trip(tmp_path):
    joblib = pytest.importorskip("joblib")
    rng = np.random.default_rng(2)
    layer, x = _layer(rng)
    path = tmp_path / "layer.joblib"
    joblib.dump(layer, path)
    assert np.array_equal(joblib.load(path)(x, num_threads=1), layer(x, num_threads=1))


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_optimizer_with_its_layer_keeps_its_state(name):
    rng = np.random.default_rng(3)
    layer, x = _layer(rng)
    optimizer = (optimizers.SGD(0.01, momentum=0.9) if name == "SGD"
                 else optimizers.Adam(0.01, amsgrad=True))
    grads = [rng.standard_normal(w.shape).astype(np.float32) for w in layer.trainable_weights]
    optimizer.apply(layer, grads)
    layer_copy, optimizer_copy = pickle.loads(pickle.dumps((layer, optimizer)))
    assert optimizer_copy.get_config() == optimizer.get_config()
    state, state_copy = optimizer.get_state(layer), optimizer_copy.get_state(layer_copy)
    assert state_copy["iterations"] == state["iterations"] == 1
    for key in state:
        if key != "iterations":
            for a, b in zip(state[key], state_copy[key]):
                assert np.array_equal(a, b)
    optimizer.apply(layer, grads)
    optimizer_copy.apply(layer_copy, grads)
    for a, b in zip(layer.weights, layer_copy.weights):
        assert np.array_equal(a, b)
    deep_layer, deep_optimizer = copy.deepcopy((layer, optimizer))
    assert deep_optimizer.get_state(deep_layer)["iterations"] == 2


def test_fresh_optimizer_pickles():
    adam = optimizers.Adam(0.003, beta_1=0.8)
    clone = pickle.loads(pickle.dumps(adam))
    assert clone.get_config() == adam.get_config() and clone.iterations == 0
