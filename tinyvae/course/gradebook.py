"""The gradebook ``tinyvae exercises grade CLASS_DIR --out OUT_DIR`` writes.

CLASS_DIR holds one folder per student, each a copy that ``tinyvae exercises make`` wrote (its
``tinyvae/`` package); the folder's name is the student's.  OUT_DIR gets

``grades.csv``
    a header row ``student``, one column per exercise (its label, "exercise 1: Linear
    forward"), ``total``; then one row per student, with the points as numbers (an exercise's
    points from its record in :mod:`.catalogue` when it passes, else 0).

``results.json``
    the same, with the feedback, in a schema close to Gradescope's ``results.json`` (which
    otter-grader also writes): one object per student with ``score``, ``max_score``, ``output``
    and ``tests``, each test with ``name``, ``number``, ``score``, ``max_score``, ``status``
    ("passed" or "failed") and ``output`` (the one-line feedback), plus our ``verdict`` ("pass",
    "fail", "not done", or "error": the grader could not grade it).  At the top: ``schema``
    (:data:`SCHEMA`), the grading's ``seed``, ``time_limit``, ``memory_mb``, ``max_score``, and
    ``exercises`` (``number``, ``name``, ``file``, ``max_score``).

``feedback/<student>.txt``
    what ``tinyvae exercises check`` would print for the copy, and the points.

Every file is written whole or not at all, all together (:func:`tinyvae.base.atomic.atomic_write_all`).
OUT_DIR must be new, empty, or a gradebook this command wrote (its ``results.json`` names
:data:`SCHEMA`): it is never written over a folder of anything else.
"""
import csv
import io
import json
import os
from pathlib import Path

from ..base.atomic import atomic_write_all
from ..base.errors import UsageError
from .catalogue import CATALOGUE

SCHEMA = "tinyvae-gradebook/1"


def students(class_dir):
    """``[(name, folder)]`` of the student folders of ``class_dir``, by name (hidden ones left out)."""
    if not Path(class_dir).is_dir():
        raise UsageError(f"{class_dir} is no folder; name the folder that holds one folder per student")
    found = sorted((p.name, p) for p in Path(class_dir).iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not any(Path(folder, "tinyvae", "__init__.py").is_file() for _, folder in found):
        raise UsageError(f"no folder in {class_dir} holds a student copy (a tinyvae/ package that "
                         f"'tinyvae exercises make' wrote); name the folder that holds one folder per student")
    return found


def check_out_dir(out_dir, class_dir):
    """Refuse an OUT_DIR that is a student's folder, or holds anything but a gradebook of ours."""
    out, cls = Path(out_dir).resolve(), Path(class_dir).resolve()
    if out == cls or cls in out.parents:
        raise UsageError(f"{out_dir} is inside the class folder {class_dir}; write the gradebook elsewhere")
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out_dir} is a file; name a folder for the gradebook")
        if any(out.iterdir()) and _previous(out) is None:
            raise UsageError(f"{out_dir} holds files this command did not write; name a new or empty folder "
                             f"(it writes over a gradebook of its own only)")


def _previous(out):
    try:
        results = json.loads(Path(out, "results.json").read_text(encoding="utf-8"))
        return results if results.get("schema") == SCHEMA else None
    except (OSError, ValueError, AttributeError):
        return None


def results(graded, seed, time_limit, memory_mb):
    """The ``results.json`` document of ``{student: [(number, verdict, detail)] or None}``."""
    by_number = {ex.number: ex for ex in CATALOGUE}
    doc = {"schema": SCHEMA, "seed": seed, "time_limit": time_limit, "memory_mb": memory_mb,
           "max_score": sum(ex.points for ex in CATALOGUE),
           "exercises": [{"number": ex.number, "name": ex.label, "file": ex.file, "max_score": ex.points}
                         for ex in CATALOGUE],
           "students": []}
    for name, rows in sorted(graded.items()):
        if rows is None:                              # a folder without a copy: nothing to grade, 0 points
            rows = [(ex.number, "fail", "no tinyvae/ package in the student's folder") for ex in CATALOGUE]
        tests = [{"name": by_number[n].label, "number": n, "file": by_number[n].file,
                  "score": by_number[n].points if verdict == "pass" else 0, "max_score": by_number[n].points,
                  "status": "passed" if verdict == "pass" else "failed", "verdict": verdict, "output": detail}
                 for n, verdict, detail in rows]
        counts = {v: sum(t["verdict"] == v for t in tests) for v in ("pass", "fail", "not done", "error")}
        output = (f"{len(tests)} exercises: {counts['pass']} pass, {counts['fail']} fail, {counts['not done']} not done"
                  + (f", {counts['error']} could not be graded" if counts["error"] else ""))
        doc["students"].append({"student": name, "score": sum(t["score"] for t in tests),
                                "max_score": doc["max_score"], "output": output, "tests": tests})
    return doc


def grades_csv(doc):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["student"] + [ex["name"] for ex in doc["exercises"]] + ["total"])
    for s in doc["students"]:
        writer.writerow([s["student"]] + [t["score"] for t in s["tests"]] + [s["score"]])
    return text.getvalue()


def feedback(doc, s):
    lines = [f"tinyvae exercises: {s['student']} (graded with seed {doc['seed']})", ""]
    lines += [f"{t['name']} ({t['file']}): {t['verdict']}  {t['output']}" for t in s["tests"]]
    lines += [s["output"], f"points: {s['score']} of {s['max_score']}"]
    return "\n".join(lines) + "\n"


def write(out_dir, graded, seed, time_limit, memory_mb):
    """Write grades.csv, results.json and feedback/ to ``out_dir``, all at once."""
    doc = results(graded, seed, time_limit, memory_mb)
    out = Path(out_dir)
    stale = {s["student"] for s in (_previous(out) or {}).get("students", [])} - set(graded)
    os.makedirs(out / "feedback", exist_ok=True)

    def text(value):
        return lambda f: f.write(value.encode("utf-8"))

    writes = [(out / "feedback" / f"{s['student']}.txt", text(feedback(doc, s))) for s in doc["students"]]
    writes += [(out / "grades.csv", text(grades_csv(doc))),
               (out / "results.json", text(json.dumps(doc, indent=2) + "\n"))]   # last: it marks the folder ours
    atomic_write_all(writes)
    for name in stale:                                # a student of the last round who is gone
        Path(out, "feedback", f"{name}.txt").unlink(missing_ok=True)
    return doc
