"""``tinyvae exercises check [DIR]``: grade a student copy, one line per exercise.

The student's package is imported under a name of its own (``_tinyvae_student_K``), beside the
installed ``tinyvae`` (the reference), so both run in this one process.  Each module of the
copy then sees the *reference's* versions of what it imports from the rest of the package, so
an exercise is graded on its own lines only: a VAE's backward is checked on the reference's
layers, and a slip in the Linear layer never fails it.  (``PYTHONPATH=DIR`` runs the copy as
``tinyvae`` itself, for the lessons; that is another thing.)

Each check runs under a time limit, with its prints and warnings caught: a check that raises,
hangs, returns the wrong shape or prints ends in a one-line verdict, and the grader goes on.
The limit is a ``SIGALRM`` timer that raises inside the student's code (POSIX, main thread);
where there is none (Windows), the checks run without a limit and the grader says so.  A
signal is handled between Python bytecodes, so an endless Python loop is stopped, while one
long NumPy call finishes before it is.
"""
import contextlib
import importlib
import importlib.util
import io
import itertools
import signal
import sys
import traceback
import types
import warnings
from pathlib import Path

from .. import LECTURE
from ..base.errors import UsageError, one_line
from .catalogue import CATALOGUE, PACKAGE, RegionError, is_not_done, package_regions
from .checks import Fail

_names = itertools.count()


class TimeLimit(BaseException):
    """Raised into a check that runs past its time (a BaseException: ``except Exception`` in the
    student's code does not swallow it)."""


@contextlib.contextmanager
def time_limit(seconds):
    """Run the block under a SIGALRM timer of ``seconds``; yields False where there is none."""
    def expire(signum, frame):
        raise TimeLimit

    try:
        previous = signal.signal(signal.SIGALRM, expire)
    except (AttributeError, ValueError):          # no SIGALRM (Windows), or not the main thread
        yield False
        return
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)   # again every 0.5 s, should the code catch it
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Copy:
    """The modules of a student's package folder, imported on first use under a fresh name; or,
    with ``folder=None``, the installed package itself (the reference grading itself)."""

    def __init__(self, folder=None):
        self.root = PACKAGE if folder is None else Path(folder, "tinyvae").resolve()
        self.name = "tinyvae" if folder is None else f"_tinyvae_student_{next(_names)}"
        if folder is not None:
            spec = importlib.util.spec_from_file_location(self.name, self.root / "__init__.py",
                                                          submodule_search_locations=[str(self.root)])
            package = importlib.util.module_from_spec(spec)
            sys.modules[self.name] = package
            try:
                spec.loader.exec_module(package)
            except Exception as err:
                self.close()
                raise UsageError(f"{self.root / '__init__.py'} does not import ({type(err).__name__}: "
                                 f"{one_line(err)}); it is no exercise: restore it from a fresh copy") from None

    def __getattr__(self, module):
        if module not in LECTURE:
            raise AttributeError(module)
        try:
            loaded = importlib.import_module(f"{self.name}.{module}")
        except SyntaxError as err:
            raise Fail(f"{module}.py does not import: SyntaxError at line {err.lineno}: {err.msg}") from None
        except Exception as err:
            raise Fail(f"{module}.py does not import: {type(err).__name__}: {one_line(err)}"
                       f"{at(err, self.root)}") from None
        if self.name != "tinyvae":
            _use_the_reference(loaded, self.name)
        setattr(self, module, loaded)
        return loaded

    def close(self):
        if self.name != "tinyvae":
            for key in [k for k in sys.modules if k == self.name or k.startswith(self.name + ".")]:
                del sys.modules[key]


def _use_the_reference(module, name):
    """Point each name ``module`` imported from elsewhere in the student's package at the reference's."""
    for key, value in list(vars(module).items()):
        source = getattr(value, "__name__", "") if isinstance(value, types.ModuleType) else \
            getattr(value, "__module__", "") or ""
        if source.startswith(name + ".") and source != module.__name__:
            reference = importlib.import_module("tinyvae" + source[len(name):])
            target = reference if isinstance(value, types.ModuleType) else getattr(reference, value.__name__)
            setattr(module, key, target)


def at(err, root):
    """`` (layers.py line 71)``: the last line of the student's package in ``err``'s traceback."""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        path = Path(frame.filename)
        if root in path.parents:
            return f" ({path.relative_to(root).as_posix()} line {frame.lineno})"
    return ""


def grade(ex, S, R, seconds):
    """``(verdict, detail)`` of exercise ``ex`` on the copy ``S``: "pass", "fail" or "not done"."""
    caught = io.StringIO()
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stdout(caught), contextlib.redirect_stderr(caught), time_limit(seconds):
                verdict, detail = "pass", ex.check(S, R)
        except KeyboardInterrupt:
            raise
        except TimeLimit as err:
            verdict = "fail"
            detail = f"did not finish within {seconds:g} s (an endless loop?); stopped{at(err, S.root)}"
        except Fail as fail:
            verdict, detail = "fail", str(fail)
        except BaseException as err:                  # the student's code raised (SystemExit included)
            verdict, detail = _raised(ex, err, S.root)
    if verdict == "fail":                             # every failure cites the exercise's derivation
        detail = f"{detail.rstrip()} (see {ex.where})"
    printed = caught.getvalue().splitlines()
    if printed:
        detail += f"; it printed {len(printed)} line{'s' * (len(printed) != 1)} (not shown)"
    if warned and verdict == "pass":
        detail += f"; numpy warned: {one_line(warned[0].message)}"
    return verdict, detail


def _raised(ex, err, root):
    if is_not_done(err):
        if str(err) == ex.label:
            return "not done", f"raise NotImplementedError{at(err, root)}"
        return "not done", f"waits for {err}{at(err, root)}"
    return "fail", f"raised {type(err).__name__}: {one_line(err)}{at(err, root)}"


def check(folder=None, time_limit=10.0, out=print):
    """Grade the student copy in ``folder`` (the installed package when None); print one line per
    exercise and a total; return the number of exercises not passed."""
    if time_limit <= 0:
        raise UsageError(f"--time-limit must be > 0 seconds, not {time_limit:g}")
    try:
        package_regions(PACKAGE)
    except RegionError as err:
        raise UsageError(f"the tinyvae running this command has no solutions to grade against ({err}); "
                         f"run it without PYTHONPATH pointing at a student copy") from None
    if folder is not None and not Path(folder, "tinyvae", "__init__.py").is_file():
        raise UsageError(f"{folder} holds no tinyvae/ package; make a student copy with "
                         f"'tinyvae exercises make {folder}'")
    if not hasattr(signal, "setitimer"):
        print("tinyvae: note: no SIGALRM timer on this system, so the checks run without a time limit "
              "(Ctrl-C stops a check that hangs)", file=sys.stderr)
    R = types.SimpleNamespace(**{m: importlib.import_module(f"tinyvae.{m}") for m in LECTURE})
    S = Copy(folder)
    counts = {"pass": 0, "fail": 0, "not done": 0}
    try:
        for ex in CATALOGUE:
            verdict, detail = grade(ex, S, R, time_limit)
            counts[verdict] += 1
            out(f"{ex.label} ({ex.file}): {verdict}  {detail}")
    finally:
        S.close()
    out(f"{len(CATALOGUE)} exercises: {counts['pass']} pass, {counts['fail']} fail, {counts['not done']} not done")
    return counts["fail"] + counts["not done"]
