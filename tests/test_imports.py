"""The package's modules import one another one way only: no cycles.

Every import between sepconv's modules counts, at module level or inside a
function (a lazy import is still a dependency).
"""

import ast
import os

import sepconv

PACKAGE = os.path.dirname(sepconv.__file__)


def _edges():
    graph = {}
    for name in os.listdir(PACKAGE):
        if not name.endswith(".py"):
            continue
        module = name[:-3]
        tree = ast.parse(open(os.path.join(PACKAGE, name)).read())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    targets.add(node.module.split(".")[0])
                else:
                    targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sepconv."):
                targets.add(node.module.split(".")[1])
        graph[module] = targets - {module}
    return graph


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target, path + [target])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def test_no_import_cycles():
    graph = _edges()
    assert "layer" in graph and "keras_io" in graph["__init__"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_library_does_not_import_the_benchmark():
    """sepconv_bench (bench/) depends on sepconv, never the reverse; only the CLI's
    bench command imports it, optionally."""
    for name in os.listdir(PACKAGE):
        if name.endswith(".py") and name != "cli.py":
            assert "sepconv_bench" not in open(os.path.join(PACKAGE, name)).read(), name
    import sepconv_bench.peers as peers
    assert peers.geometry(10, 3, 3, 1, "same") == (4, 1, 1)
    assert peers.geometry(10, 3, 1, 2, "valid") == (6, 0, 0)
