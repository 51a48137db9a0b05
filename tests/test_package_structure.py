"""The package's shape: the subject at the top, imports that point only down, no circles, no
home-made concurrency or foreign-function hooks, no module longer than a reader takes in.

The layers, from the bottom up (``tinyvae.LAYERS``)::

    base     tinyvae/base/*.py     plumbing: errors, choices, atomic; imports nothing of tinyvae
    lecture  tinyvae/*.py          the lecture's subject: layers, losses, models, objectives, ...
    data     tinyvae/data/*.py     the data sets; may use the lecture
    studies  tinyvae/studies/*.py  measurements and figures beyond the equations
    course   tinyvae/course/*.py   the exercise catalogue, checks and grader
    app      tinyvae/app/*.py      the command line, run folders, the page

A module may import its own layer and the layers below it, never one above.  Development
tools (``tools/``) are outside the package, and nothing in it imports them.

The imports are read from the source with ``ast``, every ``import`` statement wherever it
stands (inside functions too), so an upward import or a circle hidden in a function body is
found as well.  Each checker is also run on a planted violation, so it is shown to be able to fail.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tinyvae"
import tinyvae

LAYERS = {name: rank for rank, name in enumerate(tinyvae.LAYERS)}
SUBPACKAGES = set(tinyvae.LAYERS) - {"lecture"}
FORBIDDEN = {"mmap", "ctypes", "subprocess", "multiprocessing", "threading", "concurrent"}
#: the one exemption: the grader runs each student's code in a process of its own (the issue's
#: isolation), so it starts that process (subprocess) and grades a class's students at once in
#: worker processes (concurrent.futures); nothing else of the package may
EXEMPT = {"tinyvae.course.remote": {"subprocess"}, "tinyvae.course.grade": {"concurrent"}}
MAX_LINES = 450
#: the leaves of the core: they import nothing of tinyvae, so anything may use them
LEAVES = {"tinyvae.base.errors", "tinyvae.base.choices", "tinyvae.base.atomic"}
#: the core modules that teach, and so are named by the lecture
TEACHING = {"layers", "losses", "reparam", "noise", "models", "objectives", "optim", "gradcheck"}


def module_name(path, package=PACKAGE):
    """The dotted name of a module file: tinyvae/app/cli.py -> tinyvae.app.cli."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(package=PACKAGE):
    """Every module of the package: ``{dotted name: path}``."""
    return {module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def layer_of(name):
    """The layer a module lives in: its subpackage, or "lecture" for the top level (but for
    ``python -m tinyvae``'s ``__main__``, which is the command line's door)."""
    parts = name.split(".")
    if len(parts) > 1 and parts[1] == "__main__":
        return "app"
    return parts[1] if len(parts) > 1 and parts[1] in SUBPACKAGES else "lecture"


def imported_names(path, name):
    """Every module an ``import`` in ``path`` (module ``name``) names, as absolute dotted names."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)   # from . import data
    return found


def package_graph(package=PACKAGE):
    """``{module: the tinyvae modules it imports}`` (a package's own __init__ counts as itself)."""
    mods = modules(package)
    root = package.name
    graph = {}
    for name, path in mods.items():
        graph[name] = {n for n in imported_names(path, name) if n in mods and n != name and n != root}
    return graph


def upward_imports(graph):
    """Every import that points up a layer: ``[(importer, imported)]``."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if LAYERS[layer_of(b)] > LAYERS[layer_of(a)])


def find_circle(graph):
    """One circle of imports as a list of module names, or None."""
    state = {}                                            # absent: new, 1: on the path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
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


GRAPH = package_graph()


def test_imports_point_only_down_app_course_studies_data_lecture_base():
    assert upward_imports(GRAPH) == []


def test_the_direction_check_catches_a_planted_upward_import(tmp_path):
    # a copy of the package's shape with one lecture module reaching up into the data
    pkg = tmp_path / "tinyvae"
    for sub in ("", "base", "data", "studies", "course", "app"):
        (pkg / sub).mkdir(parents=True, exist_ok=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "models.py").write_text("import numpy\n")
    (pkg / "app" / "runs.py").write_text("from ..models import make_model\n")       # down: allowed
    (pkg / "data" / "idx.py").write_text("def read():\n    from ..app import runs\n")  # up, in a function
    (pkg / "evaluate.py").write_text("from .data import idx\n")                     # lecture -> data: up
    (pkg / "studies" / "holes.py").write_text("from ..models import make_model\n")   # down: allowed
    (pkg / "base" / "errors.py").write_text("from ..studies import holes\n")         # base -> studies: up
    (pkg / "course" / "grade.py").write_text("from ..app import cli\n")              # course -> app: up
    graph = package_graph(pkg)
    assert upward_imports(graph) == [("tinyvae.base.errors", "tinyvae.studies"),
                                     ("tinyvae.base.errors", "tinyvae.studies.holes"),
                                     ("tinyvae.course.grade", "tinyvae.app"), ("tinyvae.data.idx", "tinyvae.app"),
                                     ("tinyvae.data.idx", "tinyvae.app.runs"),
                                     ("tinyvae.evaluate", "tinyvae.data"), ("tinyvae.evaluate", "tinyvae.data.idx")]


def test_no_tinyvae_module_imports_one_that_imports_it_back():
    circle = find_circle(GRAPH)
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_circle_finder_finds_a_circle_through_a_function_body(tmp_path):
    pkg = tmp_path / "tinyvae"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n    return a\n")
    assert find_circle(package_graph(pkg)) == ["tinyvae.a", "tinyvae.b", "tinyvae.a"]


def test_the_base_imports_nothing_of_tinyvae():
    base = [name for name in GRAPH if layer_of(name) == "base"]
    assert len(base) >= 3
    assert {name: GRAPH[name] for name in base} == {name: set() for name in base}


def test_ls_tinyvae_shows_the_lecture_and_one_folder_per_product():
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert top == set(tinyvae.LECTURE)
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == SUBPACKAGES
    # each module of the lecture and each product is named in the package's docstring
    for name in tinyvae.LECTURE + tuple(SUBPACKAGES):
        assert f"\n    {name} " in tinyvae.__doc__, name
    # development tools live outside the package, and nothing in it imports them
    assert not (PACKAGE / "gallery.py").exists() and not (PACKAGE / "browser.py").exists()
    imports = {n for path in PACKAGE.rglob("*.py") for n in imported_names(path, module_name(path))}
    assert not {n for n in imports if n.split(".")[0] in ("tools", "playwright")}


def test_reading_an_idx_file_loads_no_model_code():
    # `import tinyvae` must not pull in the models, so the data layer stands on its own
    probe = ("import sys, tinyvae.data.idx, tinyvae.data.digits; "
             "print(sorted(m for m in sys.modules if m.startswith('tinyvae.') and m.split('.')[1] "
             "in ('models', 'layers', 'app', 'train', 'studies', 'course')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def forbidden_imports(path, name):
    """The forbidden modules ``path`` imports, less what :data:`EXEMPT` allows it."""
    return ({n.split(".")[0] for n in imported_names(path, name)} & FORBIDDEN) - EXEMPT.get(name, set())


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_uses_mmap_ctypes_threads_or_processes(name):
    used = forbidden_imports(modules()[name], name)
    assert not used, f"{name} imports {sorted(used)}"


def test_the_graders_exemption_is_used_and_exempts_nothing_else(tmp_path):
    # each exempt module imports what it is exempt for (a stale exemption fails), and the checker still
    # finds a planted import: in another module, and of another forbidden module in an exempt one
    for name, allowed in EXEMPT.items():
        assert {n.split(".")[0] for n in imported_names(modules()[name], name)} >= allowed
    (tmp_path / "cli.py").write_text("import subprocess\n")
    (tmp_path / "remote.py").write_text("import subprocess\nfrom concurrent import futures\n")
    assert forbidden_imports(tmp_path / "cli.py", "tinyvae.app.cli") == {"subprocess"}
    assert forbidden_imports(tmp_path / "remote.py", "tinyvae.course.remote") == {"concurrent"}


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_longer_than_about_450_lines(name):
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by job"
