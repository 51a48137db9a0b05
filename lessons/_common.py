"""What every lesson shares: its command line, its output folder, numbered steps, key numbers.

A lesson is a ``# %%`` script that also runs as a notebook (jupytext reads it as one).  As a
script it takes flags; in a notebook (a Jupyter kernel, whose own argv is not the lesson's) the
flags take their defaults, and ``TINYVAE_QUICK=1`` in the environment selects the quick mode,
in either (``TINYVAE_OUT=DIR``: the figures go to ``DIR/<lesson>/``).

On a student's copy of tinyvae (``tinyvae exercises make``, run with ``PYTHONPATH=DIR``), a
lesson first checks the gradients it is about to use, as ``tinyvae gradcheck`` does, and
stops in one line on an exercise that is not done or a gradient that is wrong, before it
trains anything.

A lesson runs with one BLAS thread (``--threads`` changes it), set through threadpoolctl.
The lessons multiply small matrices, where one thread is as fast as two, and a lesson then
stays fast on a machine that is busy with other work (a second BLAS thread that has to wait
for a core can make a step 10-50 times slower).
"""
import argparse
import os
import sys
import time

from threadpoolctl import threadpool_limits

LESSONS = os.path.dirname(os.path.abspath(__file__))


class Lesson:
    """A lesson's settings and output: ``lesson = Lesson("02_latent_holes", __doc__)``.

    Parses ``[--quick] [--out DIR] [--seed S]``; ``--out`` defaults to
    ``lessons/out/<name>/`` (git-ignored).
    """

    def __init__(self, name, doc, argv=None):
        first = (doc or "").strip().splitlines()[0] if doc else name
        parser = argparse.ArgumentParser(prog=f"python lessons/{name}.py", description=first)
        parser.add_argument("--quick", action="store_true",
                            help="a few seconds: fewer epochs and samples (what the tests run)")
        parser.add_argument("--out", metavar="DIR", default=os.path.join(os.environ.get("TINYVAE_OUT") or
                                                                         os.path.join(LESSONS, "out"), name),
                            help=f"where the figures go (default lessons/out/{name}/, or $TINYVAE_OUT/{name}/)")
        parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
        parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
        if argv is None and in_notebook():
            argv = []                                       # the kernel's argv (-f file.json) is not ours
        args = parser.parse_args(argv)
        threadpool_limits(limits=args.threads, user_api="blas")    # for the rest of the lesson
        quick = args.quick or os.environ.get("TINYVAE_QUICK", "") not in ("", "0")
        self.name, self.quick, self.out, self.seed = name, quick, args.out, args.seed
        check_a_student_copy(self.seed)
        os.makedirs(self.out, exist_ok=True)
        self.numbers = {}
        self.figures = []
        self._t0 = time.perf_counter()
        self._step = 0
        print(f"{name}{' (--quick)' if self.quick else ''}: figures go to {self.out}")

    def pick(self, full, quick):
        """``quick`` under --quick, else ``full``."""
        return quick if self.quick else full

    def step(self, title):
        """Print the heading of the next numbered step."""
        self._step += 1
        print(f"\n--- {self._step}. {title} ---")

    def save(self, fig, filename):
        """Write a figure into the output folder and say where it went."""
        from tinyvae.studies.plots import save_figure

        path = save_figure(fig, os.path.join(self.out, filename))
        self.figures.append(path)
        shown = os.path.relpath(path)
        print(f"    saved {path if shown.startswith('..') else shown}")
        return path

    def key(self, **numbers):
        """Record the lesson's key numbers (printed at the end and written to summary.json)."""
        self.numbers.update({k: (float(v) if isinstance(v, (int, float)) or hasattr(v, "dtype") else v)
                             for k, v in numbers.items()})

    def done(self):
        """Print the key numbers in one parseable line and write them to ``summary.json``."""
        from tinyvae.base.atomic import save_json

        seconds = time.perf_counter() - self._t0
        self.numbers["seconds"] = round(seconds, 2)
        save_json(os.path.join(self.out, "summary.json"),
                  {"lesson": self.name, "quick": self.quick, "numbers": self.numbers,
                   "figures": [os.path.basename(p) for p in self.figures]})
        line = "  ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in self.numbers.items())
        print(f"\nkey numbers: {line}")
        print(f"done in {seconds:.1f} s; figures in {self.out}")
        return self.numbers


def in_notebook():
    """Whether this runs in a Jupyter kernel (a notebook) rather than as ``python lessons/NN.py``."""
    return "ipykernel" in sys.modules


def check_a_student_copy(seed=0):
    """On a student's copy of tinyvae (``tinyvae exercises make`` marks it), check every
    hand-derived gradient first and stop in one line if one is wrong or not written yet.  On the
    package itself, do nothing."""
    from tinyvae.course import catalogue

    # (a copy made by an older tinyvae has no mark, and is run as it is)
    if not getattr(catalogue, "is_student_copy", lambda root: False)(catalogue.PACKAGE):
        return                                              # the reference itself
    PACKAGE, is_not_done = catalogue.PACKAGE, catalogue.is_not_done
    from tinyvae import gradcheck

    try:
        rows = gradcheck.run_all(seed=seed)
    except NotImplementedError as err:
        if not is_not_done(err):
            raise
        stop(f"{err} is not done yet, and this lesson needs it; 'tinyvae exercises check "
             f"{os.path.dirname(PACKAGE)}' says where it is")
    wrong = [name for name, err in rows if not err <= gradcheck.TOLERANCE]
    if wrong:
        stop(f"the gradient of {wrong[0]} disagrees with central differences"
             + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else "")
             + f", so training would go wrong; 'tinyvae exercises check {os.path.dirname(PACKAGE)}' names the exercise")
    print(f"your copy of tinyvae ({PACKAGE}): every gradient agrees with central differences")


def stop(message):
    """End the lesson in one line (a script exits 1; a notebook raises, showing the line)."""
    if in_notebook():
        raise SystemExit(f"lesson stopped: {message}")
    print(f"lesson stopped: {message}", file=sys.stderr)
    sys.exit(1)


def _one_line_for_unfinished_exercises(kind, err, tb, previous=sys.excepthook):
    """sys.excepthook: an exercise of a student's copy that is not done ends the lesson in one line."""
    try:
        from tinyvae.course.catalogue import is_not_done
        unfinished = is_not_done(err)
    except Exception:                                       # a copy too broken to ask: the traceback
        unfinished = False
    if unfinished:
        print(f"lesson stopped: {err} is not done yet; 'tinyvae exercises check DIR' grades your copy",
              file=sys.stderr)
        return
    previous(kind, err, tb)


sys.excepthook = _one_line_for_unfinished_exercises


def table(header, rows, formats=None):
    """Print a plain text table: ``header`` a list of names, ``rows`` lists of values."""
    formats = formats or ["{}"] * len(header)
    cells = [[f.format(v) for f, v in zip(formats, row)] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print("    " + "  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for r in cells:
        print("    " + "  ".join(c.rjust(w) for c, w in zip(r, widths)))



def plain_log_ticks(ax, which="y", steps=(1, 2, 5)):
    """Label a log axis of ``ax`` at 1, 2 and 5 times each power of ten inside its limits, in
    plain numbers.  Call it after plotting.  (Matplotlib labels only the powers of ten, which
    leaves an axis spanning one or two decades with two labels.)"""
    import numpy as np
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
    axis = ax.yaxis if which == "y" else ax.xaxis
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    axis.set_major_locator(FixedLocator([m * 10.0 ** e for e in decades for m in steps if lo <= m * 10.0 ** e <= hi]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def wrap(text, width=96):
    """Lines of at most ``width`` characters, for a paragraph the lesson prints."""
    import textwrap

    return textwrap.wrap(text, width)
