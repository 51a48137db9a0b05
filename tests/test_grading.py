"""Grading in isolation: what a student's process refuses, and a class graded by one command.

The student's code runs in a process of its own (tinyvae/course/sandbox.py).  The first tests
run code of our own there, through a copy whose ``elbo`` executes what it is given, and show
each thing the process refuses (and that the grader survives it).  The class tests build
folders of copies, right, wrong, unfinished and hostile, grade them with ``tinyvae exercises
grade``, and compare every mark with the copy's true one; the class folder and a file beside
it are hashed before and after, to show that nothing outside a student's process changed.
"""
import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tinyvae.app.cli import main
from tinyvae.course import catalogue as E
from tinyvae.course.checks import Fail
from tinyvae.course.gradebook import SCHEMA
from tinyvae.course.remote import Gone, Student, StudentError

from test_exercises import plant, solve

ALL = {ex.number for ex in E.CATALOGUE}
POINTS = {ex.number: ex.points for ex in E.CATALOGUE}


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """A student process whose ``objectives.elbo(code, None)`` runs ``code`` and returns its ``result``."""
    folder = tmp_path_factory.mktemp("runner") / "copy"
    E.make(folder)
    plant(folder, "objectives.py", "elbo", "namespace = {}\nexec(log_px_z, namespace)\nreturn namespace.get('result')")
    S = Student(folder, E.PACKAGE)
    S.begin(seconds=20, cpu_seconds=600)
    yield S
    S.close()


def run(S, code):
    """``code`` run in the student's process: its ``result``, or the Fail/StudentError/Gone it ends in."""
    if S.process is None:
        S.begin(seconds=20, cpu_seconds=600)
    S.seconds = 20
    try:
        return S.objectives.elbo(code, None)
    except (Fail, StudentError, Gone) as err:
        return err


def test_the_student_process_cannot_import_or_read_the_reference(runner):
    assert run(runner, "import tinyvae.layers as L; result = L.__file__").endswith("copy/tinyvae/layers.py")
    for code in (f"import importlib.util as u; s = u.spec_from_file_location('r', {str(E.PACKAGE / 'layers.py')!r})\n"
                 f"m = u.module_from_spec(s); s.loader.exec_module(m)",
                 f"result = open({str(E.PACKAGE / 'course' / 'checks.py')!r}).read()",
                 f"import sys; sys.path.insert(0, {str(E.PACKAGE.parent)!r}); [sys.modules.pop(k) for k in "
                 f"list(sys.modules) if k.startswith('tinyvae')]; import tinyvae.course.grade"):
        err = run(runner, code)
        assert isinstance(err, Fail) and "which the grader refuses" in str(err), (code, err)
        assert str(E.PACKAGE) in str(err) or "import" in str(err)


@pytest.mark.parametrize("code, refused", [
    ("import subprocess", "import subprocess"),
    ("import os; os.system('true')", "os.system"),
    ("import os; os.kill(os.getppid(), 9)", "os.kill"),
    ("import os; os.fork()", "os.fork"),
    ("import ctypes", "import ctypes"),
    ("import numpy._core._internal as i; i.ctypes.CDLL(None)", "ctypes.dlopen"),   # numpy's own, loaded before
    ("import socket", "import socket"),
    ("import resource; resource.setrlimit(resource.RLIMIT_AS, (-1, -1))", "resource.setrlimit"),
    ("open('/tmp/tinyvae-grading-probe.txt', 'w')", "write /tmp/tinyvae-grading-probe.txt"),
    ("import os; os.remove(os.path.expanduser('~/../x'))", "os.remove"),
    ("import shutil; shutil.rmtree('/tmp', ignore_errors=True)", "shutil.rmtree /tmp"),
])
def test_each_thing_the_student_process_refuses_fails_the_exercise_even_when_caught(runner, code, refused):
    caught = f"try:\n    {code}\nexcept BaseException:\n    pass\nresult = 1"
    err = run(runner, caught)
    assert isinstance(err, Fail) and f"tried to {refused}" in str(err), err
    assert not Path("/tmp/tinyvae-grading-probe.txt").exists()


def test_no_c_extension_can_be_loaded_once_the_students_code_runs(runner):
    # _posixsubprocess forks without an audit event: loaded by its path, it would escape the hook
    import importlib.util

    path = importlib.util.find_spec("_posixsubprocess").origin
    err = run(runner, f"import importlib.util as u\ns = u.spec_from_file_location('_posixsubprocess', {path!r})\n"
                      f"result = u.module_from_spec(s)")
    assert isinstance(err, StudentError) and err.kind == "AttributeError" and "create_dynamic" in err.message, err
    assert run(runner, "import math, numpy.linalg; result = math.sqrt(4.0)") == 2.0   # those loaded before still work


def test_writing_in_the_scratch_folder_is_allowed_and_it_is_removed_after(runner):
    folder = run(runner, "import os\nopen('notes.txt', 'w').write('x')\nresult = os.getcwd()")
    assert Path(folder, "notes.txt").is_file() and folder == runner.scratch
    runner.close()
    assert not Path(folder).exists()


@pytest.mark.slow
def test_a_crash_a_hang_and_a_memory_bomb_cost_one_answer_and_the_next_runs_in_a_new_process(runner):
    assert isinstance(run(runner, "import numpy as np; a = np.ones((1 << 20, 1 << 16))"), StudentError)
    assert run(runner, "result = 2") == 2                      # MemoryError is an answer: the process lives
    pid = runner.process.pid
    gone = run(runner, "import os; os._exit(0)")
    assert isinstance(gone, Gone) and "exit code 0" in str(gone) and runner.process is None
    runner.begin(seconds=0.5, cpu_seconds=600)
    assert runner.process.pid != pid
    try:
        runner.objectives.elbo("while True:\n    pass", None)
    except Gone as err:
        assert "did not finish within 0.5 s" in str(err)
    else:
        raise AssertionError("no time limit")
    assert run(runner, "result = 3") == 3


def test_prints_and_the_protocols_own_pipe(runner):
    assert run(runner, "print('hello')\nimport sys; sys.stderr.write('a\\nb\\n')\nresult = 4") == 4
    assert runner.printed == 3


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 4294967295])
def test_the_reference_passes_at_a_teachers_seed_whatever_sizes_it_draws(seed):
    from tinyvae.course.checks import draw
    from tinyvae.course.grade import grade_copy

    assert len(set(draw(seed)[1:])) == 4 and min(draw(seed)[1:]) >= 3
    assert {verdict for _, verdict, _ in grade_copy(None, seed=seed)} == {"pass"}


# --- a class -------------------------------------------------------------------------------------------
def tree_hash(*roots):
    """One hash of every file under ``roots`` (its path, mode and bytes) and every folder's name."""
    h = hashlib.sha256()
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            h.update(str(path).encode())
            if path.is_file():
                h.update(oct(path.stat().st_mode).encode() + path.read_bytes())
    return h.hexdigest()


def solution_lines(function):
    """The reference's own solution of ``function`` (a qualified name), as :func:`plant` takes it."""
    for regions in E.package_regions().values():
        for r in regions:
            if r.function == function:
                lines = (E.PACKAGE / r.file).read_text().splitlines()[r.begin:r.end - 1]
                return "\n".join(line[len(r.indent):] for line in lines)
    raise KeyError(function)


def build_class(root, sentinel, names=None):
    """The class folder: ``{student: the exercises their copy truly passes}``; ``names`` picks some."""
    fresh = root.parent / "fresh"
    if not fresh.exists():
        E.make(fresh)
    other = root / "alice"                            # a folder the hostile copies try to delete
    wrong_ones = {   # student: (file, function, code, the exercise it fails)
        "kate": ("losses.py", "mse", "diff = x_hat - x\nloss = float(np.sum(diff * diff) / N)\ndx_hat = 2 * diff", 5),
        "liam": ("layers.py", "Linear.backward", "self.grads['W'] += dout.T @ self.x\nself.grads['b'] += "
                 "dout.sum(axis=0)\nreturn dout @ self.params['W'].T if need_dx else None", 2),
        "mia": ("losses.py", "kl_normal_std_normal", "var = np.exp(logvar)\nkl = np.sum(mu * mu + var - 1 - logvar) "
                "/ N\ndmu = 2 * mu / N\ndlogvar = (var - 1) / N", 10),
        "noah": ("reparam.py", "reparameterize", "std = np.exp(logvar)\nz = mu + std * eps", 12),
        "olivia": ("layers.py", "ReLU.backward", "return dout * (self.out >= 0)", 3),
        "pete": ("layers.py", "Sigmoid.backward", "return dout * self.out * self.out", 4),
        "quinn": ("optim.py", "Adam.step", "self.v = b1 * self.v + (1 - b1) * g\nself.m = b2 * self.m + (1 - b2) * "
                  "g * g\nm_hat = self.v / (1 - b1 ** t)\nv_hat = self.m / (1 - b2 ** t)\n"
                  "theta -= lr * m_hat / (np.sqrt(v_hat) + eps)", 6),
        "rose": ("reparam.py", "reparameterize_backward", "dmu = dz\ndlogvar = dz * 0.5 * std", 13),
        "sam": ("losses.py", "bernoulli_nll", "s = 1 / (1 + np.exp(-logits))\nloss = -np.sum(x * np.log(s) + (1 - x) "
                "* np.log(1 - s)) / N\ndlogits = (s - x) / N", 8),
        "tina": ("losses.py", "kl_normal_std_normal", "var = np.exp(logvar)\nsq = np.square(mu, out=mu)\nkl = 0.5 * "
                 "float(np.sum(sq + var - 1 - logvar)) / N\ndmu = mu / N\ndlogvar = 0.5 * (var - 1) / N", 10),
        "uma": ("layers.py", "Linear.backward", "self.grads['W'] += self.x.T @ dout\nself.grads['b'] += "
                "dout.mean(axis=0)\nreturn dout @ self.params['W'].T if need_dx else None", 2),
    }
    hostile = {      # student: (file, function or None for the file's top, code, the exercises it touches)
        "x_stub_import": ("layers.py", "Linear.backward", "import tinyvae.layers as _R\n"
                          "return _R.Linear.backward(self, dout, need_dx)", {2}),
        "x_stub_path": ("layers.py", "Linear.forward", "import importlib.util as u\n"
                        f"s = u.spec_from_file_location('_R', {str(E.PACKAGE / 'layers.py')!r})\n_R = "
                        "u.module_from_spec(s)\ns.loader.exec_module(_R)\nreturn _R.Linear.forward(self, x)", {1}),
        "x_grader": ("__init__.py", None, "try:\n    import tinyvae.course.grade as _g\n    _g.grade_exercise = lambda "
                     "*a, **k: ('pass', 'all good')\nexcept BaseException:\n    pass\n", ALL),
        "x_exit": ("layers.py", None, "import os\nos._exit(0)\n", {1, 2, 3, 4, 14}),
        "x_hang": ("layers.py", "Linear.forward", "while True:\n    pass", {1}),
        "x_memory": ("losses.py", "mse", "blocks = []\nwhile True:\n    blocks.append(np.empty(1 << 24))", {5}),
        "x_syntax": ("layers.py", "Sigmoid.forward", "self.out = sigmoid(x", {1, 2, 3, 4, 14}),
        "x_delete": ("noise.py", "masking", f"import os, shutil\ntry:\n    os.remove({str(sentinel)!r})\n"
                     f"    shutil.rmtree({str(other)!r})\nexcept OSError:\n    pass\n" + solution_lines("masking"), {7}),
        "x_system": ("objectives.py", "elbo", f"import os\nos.system('rm -rf {other}')\n" + solution_lines("elbo"),
                     {11}),
        "x_kill": ("objectives.py", "KLTarget.after_step", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                   + solution_lines("KLTarget.after_step"), {15}),
        "x_numpy": ("__init__.py", None, "import numpy\nnumpy.allclose = lambda *a, **k: True\n"
                    "numpy.array_equal = lambda *a, **k: True\n", {5}),   # and mse wrong, as kate's
    }
    truth = {}
    plan = {"alice": "right", "bob": "right", "carol": "right", "frank": "unfinished", "grace": "unfinished", "henry": "layers", "ivy": "losses", "jack": "all but 14",
            **{n: "wrong" for n in wrong_ones}, **{n: "hostile" for n in hostile}}
    for name, kind in plan.items():
        if names is not None and name not in names:
            continue
        folder = root / name
        shutil.copytree(fresh, folder)
        if kind == "unfinished":
            truth[name] = set()
            continue
        skip = {"layers": {p for ex in E.CATALOGUE if ex.file != "layers.py" for p in ex.parts},
                "losses": {p for ex in E.CATALOGUE if ex.file not in ("losses.py", "reparam.py") for p in ex.parts},
                "all but 14": {"VAE.backward"}}.get(kind, set())
        solve(folder, skip=skip)
        truth[name] = {ex.number for ex in E.CATALOGUE if not set(ex.parts) & skip}
        if kind == "wrong" or name == "x_numpy":
            file, function, code, number = wrong_ones["kate" if name == "x_numpy" else name]
            restore_raise(folder, file, function)
            plant(folder, file, function, code)
            truth[name] -= {number}
        if kind == "hostile":
            file, function, code, touched = hostile[name]
            path = folder / "tinyvae" / file
            if function is None:
                text = path.read_text()
                path.write_text(code + text if file != "__init__.py" else text + code)
            else:
                restore_raise(folder, file, function)
                plant(folder, file, function, code)
            truth[name] -= touched
    return truth


def restore_raise(folder, file, function):
    """Put the statement's ``raise`` back into a solved ``function`` of the copy, for :func:`plant`."""
    fresh = (E.PACKAGE / file).read_text()
    regions = [r for rs in E.package_regions().values() for r in rs if r.file == file and r.function == function]
    ex = next(ex for ex in E.CATALOGUE if function in ex.parts)
    path = Path(folder, "tinyvae", file)
    text = path.read_text()
    solution = solution_lines(function)
    body = "\n".join(regions[0].indent + line if line else line for line in solution.splitlines())
    assert body in text, function
    path.write_text(text.replace(body, regions[0].indent + E.not_done(ex), 1))
    del fresh


def grade_and_compare(tmp_path, names=None, jobs=None):
    root = tmp_path / "class"
    root.mkdir()
    sentinel = tmp_path / "teacher-notes.txt"
    sentinel.write_text("not the students'")
    truth = build_class(root, sentinel, names)
    before = tree_hash(root, sentinel)
    out = tmp_path / "grades"
    argv = ["exercises", "grade", str(root), "--out", str(out), "--seed", "20261207", "--time-limit", "5"]
    code = main(argv + (["--jobs", str(jobs)] if jobs else []))
    assert code == 0
    assert tree_hash(root, sentinel) == before         # nothing of the class, nor beside it, changed
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == SCHEMA and results["seed"] == 20261207
    rows = list(csv.reader((out / "grades.csv").open()))
    assert rows[0] == ["student"] + [ex.label for ex in E.CATALOGUE] + ["total"]
    marks = {}
    for s in results["students"]:
        passed = {t["number"] for t in s["tests"] if t["verdict"] == "pass"}
        assert passed == truth[s["student"]], (s["student"], [(t["number"], t["verdict"], t["output"])
                                                               for t in s["tests"] if t["number"] in
                                                               passed ^ truth[s["student"]]])
        assert s["score"] == sum(POINTS[n] for n in passed)
        marks[s["student"]] = s["score"]
        feedback = (out / "feedback" / f"{s['student']}.txt").read_text()
        assert f"points: {s['score']} of {results['max_score']}" in feedback
    assert {r[0]: int(r[-1]) for r in rows[1:]} == marks and set(marks) == set(truth)
    return results, out


@pytest.mark.slow
def test_a_small_class_is_graded_by_one_command_hostile_copies_losing_only_what_they_touched(tmp_path):
    grade_and_compare(tmp_path, names={"alice", "frank", "kate", "x_stub_path", "x_exit", "x_delete"})


@pytest.mark.slow
def test_a_class_of_30_right_wrong_unfinished_and_hostile_copies_gets_its_true_marks(tmp_path):
    results, out = grade_and_compare(tmp_path)
    assert len(results["students"]) == 30
    print((out / "grades.csv").read_text())


@pytest.mark.slow
def test_the_gradebook_is_never_written_over_a_folder_it_did_not_write(tmp_path, capsys):
    root = tmp_path / "class"
    E.make(root / "alice")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep")
    assert main(["exercises", "grade", str(root), "--out", str(out), "--seed", "1"]) == 2
    assert "did not write" in capsys.readouterr().err and os.listdir(out) == ["thesis.tex"]
    assert main(["exercises", "grade", str(root), "--out", str(root / "grades"), "--seed", "1"]) == 2
    assert main(["exercises", "grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g"), "--seed", "1"]) == 2
    with pytest.raises(SystemExit) as exit:                                               # the seed is the teacher's
        main(["exercises", "grade", str(root), "--out", str(tmp_path / "g")])
    assert exit.value.code == 2 and "--seed" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
