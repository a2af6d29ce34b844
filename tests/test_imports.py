"""The package's modules import one another one way only: no cycles.

Every import between sepconv's modules counts, at module level or inside a
function (a lazy import is still a dependency).
"""

import ast
import os

import sepconv

PACKAGE = os.path.dirname(sepconv.__file__)


def _modules():
    """Dotted module name (relative to the package) -> file, subpackages included."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                relative = os.path.relpath(os.path.join(folder, name), PACKAGE)[:-3]
                parts = relative.split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1] or ["__init__"]
                found[".".join(parts)] = os.path.join(folder, name)
    return found


def _edges():
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        is_package = path.endswith("__init__.py")
        base = module.split(".") if is_package and module != "__init__" else module.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                anchor = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = anchor + (node.module.split(".") if node.module else [])
                names = [prefix] if node.module else [prefix + [a.name] for a in node.names]
            elif (node.module or "").startswith("sepconv."):
                names = [node.module.split(".")[1:]]
            else:
                continue
            for parts in names:
                # the longest prefix that is a module of the package
                for end in range(len(parts), 0, -1):
                    if ".".join(parts[:end]) in modules:
                        targets.add(".".join(parts[:end]))
                        break
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
    assert "activations.functions" in graph["activations.gradients"]
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
