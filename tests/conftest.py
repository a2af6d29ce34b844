import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="session")
def golden():
    """The Keras golden set: (cases from the JSON, arrays from the NPZ)."""
    with open(os.path.join(DATA, "separable_conv1d_keras.json")) as handle:
        meta = json.load(handle)
    arrays = np.load(os.path.join(DATA, "separable_conv1d_keras.npz"))
    return meta["cases"], arrays


def available_levels():
    from sepconv import dispatch

    return list(dispatch.available_levels())
