"""``tinyvae exercises check [DIR]`` and ``tinyvae exercises grade CLASS_DIR --out OUT_DIR``.

``check`` grades one student copy, one line per exercise; ``grade`` grades every copy of a class
and writes the gradebook (:mod:`.gradebook`).  Both grade the same way:

* The student's code runs in a process of its own (:mod:`.sandbox`, driven by :mod:`.remote`),
  in which neither the reference package nor the grader can be imported.  The expected values
  are computed here, in the grader's process, by the installed package (the reference), and
  only numbers and arrays cross over.  One process serves a student's exercises in turn, each
  with its modules imported anew; when one dies, hangs or breaks the protocol, that exercise
  fails and the next starts a new process.
* Each exercise has ``time_limit`` seconds of the student's code (the time spent waiting for
  its answers) and the process ``memory_mb`` of memory beyond Python's and NumPy's own.
* The sizes and inputs come from a seed (:func:`.checks.draw`): ``check``'s is fixed
  (:data:`.checks.DEFAULT_SEED`), a teacher's ``grade`` takes its own, so a copy cannot know
  what it will be graded on.

Each exercise ends in one verdict: "pass", "fail", "not done", or "error" when the grader itself
could not grade it (the student's process did not start, or a check broke on an answer).

Exit codes (:data:`EXIT`): 0 graded (``check``: every exercise passed), 1 (``check`` only) some
exercise not passed, 2 a usage error, 3 could not grade (some exercise's verdict is "error"; the
gradebook is still written, with those exercises at 0 and the reason in the feedback).
"""
import os
import types
from pathlib import Path

from .. import LECTURE
from ..base.errors import UsageError, command, one_line
from .catalogue import CATALOGUE, PACKAGE, RegionError, package_regions
from .checks import DEFAULT_SEED, Fail, draw
from .remote import CouldNotStart, Gone, Student, StudentError

DEFAULT_TIME_LIMIT = 10.0
DEFAULT_MEMORY_MB = 1024
#: the exit codes of ``check`` and ``grade``
EXIT = {"graded": 0, "not passed": 1, "usage": 2, "could not grade": 3}
VERDICTS = ("pass", "fail", "not done", "error")


def reference():
    """The installed package's lecture modules, in this process: what the checks compare with."""
    import importlib

    try:
        package_regions(PACKAGE)
    except RegionError as err:
        raise UsageError(f"the tinyvae running this command has no solutions to grade against ({err}); "
                         f"run it without PYTHONPATH pointing at a student copy") from None
    return types.SimpleNamespace(**{m: importlib.import_module(f"tinyvae.{m}") for m in LECTURE})


def is_copy(folder):
    return Path(folder, "tinyvae", "__init__.py").is_file()


def grade_exercise(ex, S, R, K, seconds):
    """``(verdict, detail)`` of exercise ``ex`` on the student ``S`` (a :class:`.remote.Student`)."""
    try:
        S.begin(seconds, cpu_seconds=seconds * (len(CATALOGUE) + 2) + 60)
        verdict, detail = "pass", ex.check(S, R, K)
    except CouldNotStart as err:
        return "error", str(err)
    except Fail as fail:
        verdict, detail = "fail", str(fail)
    except StudentError as err:
        verdict, detail = _raised(ex, err)
    except Gone as err:
        verdict, detail = "fail", str(err)
    except Exception as err:                          # a check that broke on an answer: the grader's to fix
        verdict, detail = "error", f"the grader could not judge the answer ({type(err).__name__}: {one_line(err)})"
    if verdict == "fail":                             # every failure cites the exercise's derivation
        detail = f"{detail.rstrip()} (see {ex.where})"
    if S.printed:
        detail += f"; it printed {S.printed} line{'s' * (S.printed != 1)} (not shown)"
    if S.warned and verdict == "pass":
        detail += f"; numpy warned: {S.warned[0]}"
    return verdict, detail


def _raised(ex, err):
    where = f" ({err.where})" if err.where else ""
    if err.importing:
        return "fail", f"{err.importing} does not import: {err.kind}: {err.message}{where}"
    if err.kind == "NotImplementedError" and any(err.message == other.label for other in CATALOGUE):
        if err.message == ex.label:
            return "not done", f"raise NotImplementedError{where}"
        return "not done", f"waits for {err.message}{where}"
    return "fail", f"raised {err.kind}: {err.message}{where}"


def grade_copy(folder=None, seed=DEFAULT_SEED, time_limit=DEFAULT_TIME_LIMIT, memory_mb=DEFAULT_MEMORY_MB,
               R=None):
    """``[(exercise, verdict, detail)]`` of the student copy in ``folder`` (the folder holding its
    ``tinyvae/``; None: the installed package grades itself, with nothing refused it)."""
    R = R or reference()
    K = draw(seed)
    S = Student(PACKAGE.parent if folder is None else folder, None if folder is None else PACKAGE, memory_mb)
    try:
        return [(ex, *grade_exercise(ex, S, R, K, time_limit)) for ex in CATALOGUE]
    finally:
        S.close()


def summary(rows):
    counts = {v: sum(verdict == v for _, verdict, _ in rows) for v in VERDICTS}
    line = f"{len(rows)} exercises: {counts['pass']} pass, {counts['fail']} fail, {counts['not done']} not done"
    return line + (f", {counts['error']} could not be graded" if counts["error"] else "")


def _limits(time_limit, memory_mb, jobs=None):
    if not 0 < time_limit <= 3600:
        raise UsageError(f"--time-limit must be a number of seconds > 0 and at most 3600, not {time_limit:g}")
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    if not memory_mb >= 64:
        raise UsageError(f"--memory-limit must be at least 64 MB, not {memory_mb}")
    if not hasattr(os, "killpg"):
        raise UsageError("grading needs a POSIX system (Linux or macOS): each student's code runs in a "
                         "process group of its own, limited with setrlimit")


def check(folder=None, time_limit=DEFAULT_TIME_LIMIT, seed=DEFAULT_SEED, memory_mb=DEFAULT_MEMORY_MB, out=print):
    """Grade the student copy in ``folder`` (the installed package when None); print one line per
    exercise and a summary; return the exit code (:data:`EXIT`)."""
    _limits(time_limit, memory_mb)
    R = reference()
    if folder is not None and not is_copy(folder):
        raise UsageError(f"{folder} holds no tinyvae/ package; make a student copy with "
                         f"{command('tinyvae', 'exercises', 'make', folder)}")
    rows = grade_copy(folder, seed, time_limit, memory_mb, R)
    for ex, verdict, detail in rows:
        out(f"{ex.label} ({ex.file}): {verdict}  {detail}")
    out(summary(rows))
    if any(verdict == "error" for _, verdict, _ in rows):
        return EXIT["could not grade"]
    return EXIT["graded"] if all(verdict == "pass" for _, verdict, _ in rows) else EXIT["not passed"]


def _grade_student(args):
    name, folder, seed, time_limit, memory_mb = args
    if not is_copy(folder):
        return name, None
    return name, [(ex.number, verdict, detail) for ex, verdict, detail in
                  grade_copy(folder, seed, time_limit, memory_mb)]


def grade_class(class_dir, out_dir, seed, time_limit=DEFAULT_TIME_LIMIT, memory_mb=DEFAULT_MEMORY_MB, jobs=None,
                progress=None):
    """Grade every student folder of ``class_dir`` and write the gradebook to ``out_dir``
    (:mod:`.gradebook`); return the exit code.  ``jobs`` students are graded at once (default:
    the cores, at most), each in a worker process of the grader's (``concurrent.futures``)."""
    from concurrent.futures import ProcessPoolExecutor

    from . import gradebook

    _limits(time_limit, memory_mb, jobs)
    reference()
    students = gradebook.students(class_dir)
    gradebook.check_out_dir(out_dir, class_dir)
    jobs = max(1, min(jobs or os.cpu_count() or 1, os.cpu_count() or 1, len(students)))
    work = [(name, str(folder), seed, time_limit, memory_mb) for name, folder in students]
    graded = {}
    if jobs == 1:
        results = map(_grade_student, work)
    else:
        pool = ProcessPoolExecutor(jobs)
        results = pool.map(_grade_student, work)
    try:
        for name, rows in results:
            graded[name] = rows
            if progress:
                progress(name, rows)
    finally:
        if jobs > 1:
            pool.shutdown(cancel_futures=True)
    gradebook.write(out_dir, graded, seed=seed, time_limit=time_limit, memory_mb=memory_mb)
    errors = any(rows is not None and any(v == "error" for _, v, _ in rows) for rows in graded.values())
    return EXIT["could not grade"] if errors else EXIT["graded"]
