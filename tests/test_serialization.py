"""Every Keras family (activations, initializers, regularizers, constraints,
optimizers) names its members through one ``Registry`` and reads and writes
Keras's ``{"module", "class_name", "config", "registered_name"}`` shape."""

import numpy as np
import pytest

from sepconv import activations, constraints, initializers, optimizers, regularizers
from sepconv._registry import Registry
from sepconv.activations import _table

FAMILIES = [
    (initializers, initializers.REGISTRY, "keras.initializers", "GlorotUniform",
     {"seed": 3}),
    (regularizers, regularizers.REGISTRY, "keras.regularizers", "L2", {"l2": 0.5}),
    (constraints, constraints.REGISTRY, "keras.constraints", "MaxNorm",
     {"max_value": 2.0, "axis": 0}),
    (optimizers, optimizers.REGISTRY, "keras.optimizers", "Adam",
     {"learning_rate": 0.01}),
]


@pytest.mark.parametrize("module, registry, keras_module, class_name, config", FAMILIES,
                         ids=[f[3] for f in FAMILIES])
def test_each_family_round_trips_keras_configs(module, registry, keras_module, class_name,
                                               config):
    assert isinstance(registry, Registry) and registry.module == keras_module
    keras_dict = {"module": keras_module, "class_name": class_name, "config": config,
                  "registered_name": None}
    obj = module.get(keras_dict)
    assert type(obj).__name__ == class_name
    written = module.serialize(obj)
    assert set(written) == {"module", "class_name", "config", "registered_name"}
    assert written["module"] == keras_module and written["class_name"] == class_name
    for key, value in config.items():
        assert written["config"][key] == value
    assert module.serialize(module.deserialize(written)) == written
    with pytest.raises(ValueError, match="Unknown"):
        module.get("no_such_member")


def test_activations_use_the_same_registry():
    assert isinstance(_table.REGISTRY, Registry)
    assert _table.REGISTRY.module == "keras.activations"
    assert activations.serialize(activations.get("swish")) == "silu"
    function_config = {"module": "keras.activations", "class_name": "function",
                       "config": "gelu", "registered_name": "gelu"}
    assert activations.get(function_config) is activations.gelu
    np.testing.assert_array_equal(activations.get("relu")(np.array([-1.0, 2.0])), [0.0, 2.0])
    with pytest.raises(ValueError, match="Unknown activation"):
        activations.get("no_such_member")
