"""The package's shape: no module imports one that imports it back, no home-made concurrency or
foreign-function hooks, and no module longer than a reader takes in (about 450 lines).

The imports are read from the source with ``ast``, every ``import`` statement wherever it
stands (inside functions too), so a circle hidden in a function body is found as well.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinyvae"
MODULES = {p.stem: p for p in sorted(PACKAGE.glob("*.py")) if p.stem not in ("__init__", "__main__")}
FORBIDDEN = {"mmap", "ctypes", "subprocess", "multiprocessing"}
MAX_LINES = 450


def imported_names(path):
    """Every module an ``import`` in ``path`` names, as absolute dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "tinyvae" if node.level else (node.module or "")
            if node.level and node.module:
                base = f"tinyvae.{node.module}"
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)   # from . import data
    return names


def package_imports(path):
    """The tinyvae modules ``path`` imports (the package's __init__ left out)."""
    return {name.split(".")[1] for name in imported_names(path)
            if name.startswith("tinyvae.") and name.split(".")[1] in MODULES}


def find_circle(graph):
    """One circle of imports as a list of module names, or None."""
    state = {}                                            # absent: new, 1: on the path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_no_tinyvae_module_imports_one_that_imports_it_back():
    graph = {name: package_imports(path) - {name} for name, path in MODULES.items()}
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_circle_finder_finds_a_circle_through_a_function_body(tmp_path):
    # the check above must be able to fail: two modules, one importing the other inside a function
    (tmp_path / "a.py").write_text("from .b import f\n")
    (tmp_path / "b.py").write_text("def f():\n    from . import a\n    return a\n")
    graph = {"a": {"b"}, "b": {n.split(".")[1] for n in imported_names(tmp_path / "b.py") if "." in n}}
    assert graph["b"] == {"a"}
    assert find_circle(graph) == ["a", "b", "a"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_uses_mmap_ctypes_subprocess_or_multiprocessing(name):
    used = {n.split(".")[0] for n in imported_names(MODULES[name])} & FORBIDDEN
    assert not used, f"tinyvae/{name}.py imports {sorted(used)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_longer_than_about_450_lines(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"tinyvae/{name}.py has {lines} lines; split it by job"
