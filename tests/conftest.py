import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

# Tuned choices never change results, but tests that look at a plan's tile
# expect the rule's: no developer's wisdom file is read, none is written
# (tests/test_tuning.py points SEPCONV_WISDOM at its own files).
os.environ["SEPCONV_WISDOM"] = "off"

from sepconv import dispatch, functional  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "data")

#: Every instruction-set level this build has and this CPU runs, best first.
LEVELS = list(dispatch.available_levels())


@pytest.fixture(scope="session")
def golden():
    """The Keras golden set: (cases from the JSON, arrays from the NPZ)."""
    with open(os.path.join(DATA, "separable_conv1d_keras.json")) as handle:
        meta = json.load(handle)
    arrays = np.load(os.path.join(DATA, "separable_conv1d_keras.npz"))
    return meta["cases"], arrays


@pytest.fixture(params=LEVELS)
def level(request, monkeypatch):
    """Run the test at each ISA level in turn.

    The level becomes the process's default for the test's duration, so the
    layer, the functional form and the backward pass all use that level's
    kernels (the levels are separate extension modules, importable side by
    side); the test also gets its name for an explicit ``isa=``.  Kernel test
    modules apply it to every test with
    ``pytestmark = pytest.mark.usefixtures("level")``.
    """
    functional.kernel_module(request.param)
    monkeypatch.setattr(functional, "_LEVEL", request.param)
    return request.param
