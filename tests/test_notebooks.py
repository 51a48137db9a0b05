"""Every lesson runs as a notebook: read through jupytext, executed cell by cell in a real Jupyter
kernel (nbclient), from the lessons' folder, in its quick mode (``TINYVAE_QUICK=1``), with no
error cell.  The lessons are ``# %%`` scripts; the notebook is made from the script each time
(``jupytext --to notebook lessons/NN_topic.py``), so the two can never differ.

Each notebook starts a kernel and runs a whole lesson, so these are marked slow: ``bash .ci/run``
runs them; ``python -m pytest -q -m slow --slow tests/test_notebooks.py`` runs them here.
"""
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.stem for p in (ROOT / "lessons").glob("[0-9][0-9]_*.py"))

jupytext = pytest.importorskip("jupytext", reason="the notebook tests need jupytext: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need nbclient: pip install -e '.[dev]'")


def run_as_notebook(name, out, env=None):
    """Execute lessons/<name>.py as a notebook in a fresh kernel; return the executed notebook."""
    notebook = jupytext.read(ROOT / "lessons" / f"{name}.py")
    saved = dict(os.environ)
    os.environ.update({"TINYVAE_QUICK": "1", "TINYVAE_OUT": str(out), "MPLBACKEND": "Agg", **(env or {})})
    try:                                      # the kernel inherits this process's environment
        client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(ROOT / "lessons")}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


def test_a_lesson_is_read_as_a_notebook_of_several_code_cells():
    notebook = jupytext.read(ROOT / "lessons" / "04_kl_divergence.py")
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert len(code) >= 4 and any("lesson.step" in c.source for c in code)


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSONS)
def test_every_lesson_runs_as_a_notebook_in_a_kernel_with_no_error_cell(name, tmp_path):
    notebook = run_as_notebook(name, tmp_path)          # nbclient raises CellExecutionError on an error cell
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    with open(tmp_path / name / "summary.json") as f:
        summary = json.load(f)
    assert summary["quick"] is True and summary["figures"]          # TINYVAE_QUICK chose the quick mode
    assert all((tmp_path / name / figure).is_file() for figure in summary["figures"])
