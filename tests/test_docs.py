"""The public API documents itself: every constructor and function argument is
in its docstring, and the examples there run."""

import doctest
import inspect

import pytest

import sepconv

PUBLIC_FUNCTIONS = [sepconv.separable_conv1d, sepconv.separable_conv1d_backward,
                    sepconv.separable_conv1d_stream, sepconv.SeparableConv1D.prepare,
                    sepconv.SeparableConv1D.stream, sepconv.load_keras, sepconv.list_layers,
                    sepconv.show_config]


def test_every_layer_argument_is_documented():
    doc = inspect.getdoc(sepconv.SeparableConv1D)
    for name in inspect.signature(sepconv.SeparableConv1D.__init__).parameters:
        if name not in ("self", "kwargs"):
            assert name in doc, name


@pytest.mark.parametrize("function", PUBLIC_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_function_argument_is_documented(function):
    doc = inspect.getdoc(function)
    for name in inspect.signature(function).parameters:
        if name != "self":
            assert name in doc, (function.__name__, name)


@pytest.mark.parametrize("target", [sepconv, sepconv.SeparableConv1D,
                                    sepconv.SeparableConv1D.prepare,
                                    sepconv.SeparableConv1D.stream],
                         ids=["package", "SeparableConv1D", "prepare", "stream"])
def test_docstring_examples_run(target):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(target, globs={})
    assert tests and any(t.examples for t in tests)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0


def test_the_package_ships_type_information():
    import os
    assert os.path.exists(os.path.join(os.path.dirname(sepconv.__file__), "py.typed"))
    hints = inspect.signature(sepconv.separable_conv1d).return_annotation
    assert hints is not inspect.Signature.empty


def _public_callables():
    from sepconv import activations, constraints, initializers, optimizers, regularizers
    for module in (activations, constraints, initializers, optimizers, regularizers):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj):
                yield f"{module.__name__}.{name}", obj


@pytest.mark.parametrize("name, obj", list(_public_callables()), ids=lambda v: str(v))
def test_every_family_argument_is_documented(name, obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        pytest.skip(f"{name} has no inspectable signature")
    doc = inspect.getdoc(obj) or ""
    for parameter in parameters:
        if parameter not in ("self", "args", "kwargs"):
            assert parameter in doc, (name, parameter)


@pytest.mark.parametrize("name", ["README.md", "bench/RESULTS.md", "CHANGELOG.md"])
def test_the_pages_headings_go_down_one_level_at_a_time(name):
    # The documentation site builds these files with warnings as errors, and
    # MyST warns when a heading skips a level (## then ####).  Fenced code is
    # not a heading.
    import pathlib
    path = pathlib.Path(__file__).resolve().parent.parent / name
    if not path.exists():
        pytest.skip(f"{name} is not beside the tests (installed package)")
    level, fenced, skips = 0, False, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        depth = len(line) - len(line.lstrip("#"))
        if depth > level + 1 and level:
            skips.append(f"{name}:{number}: level {level} to {depth}")
        level = depth
    assert not skips
