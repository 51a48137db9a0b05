"""Run the real ``tinyvae`` command in a subprocess, as a user would, for the fault tests.

``tinyvae(*argv)`` waits and returns a :class:`Result`; ``start(*argv)`` returns the Popen
so that a test can kill or interrupt it.  One BLAS thread and the Agg backend keep runs small
and free of a display; stdout is unbuffered so a test can wait for a line.
"""
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

#: a model small enough that a run of the embedded digits takes a fraction of a second
TINY = ["--hidden", "16", "--latent", "2"]

ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg",
           PYTHONUNBUFFERED="1")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self):
        return self.err.strip().splitlines()

    def fails_in_one_line(self, *mentions, code=None):
        """True when the command failed (with ``code`` if given) with one stderr line naming ``mentions``."""
        lines = self.error_lines
        return (self.code != 0 and (code is None or self.code == code) and len(lines) == 1
                and "Traceback" not in self.err and all(m in lines[0] for m in mentions))


def start(*argv, cwd=None, stdout=subprocess.PIPE, env=None, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "tinyvae", *map(str, argv)], cwd=cwd, env={**ENV, **(env or {})},
                            stdout=stdout, stderr=subprocess.PIPE, text=True, **kwargs)


def tinyvae(*argv, cwd=None, timeout=120, stdout=subprocess.PIPE, env=None):
    proc = start(*argv, cwd=cwd, stdout=stdout, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:              # a hung command fails its test and is not left behind
        proc.kill()
        proc.communicate()
        raise
    return Result(proc.returncode, out or "", err)


# --- a finished run to damage: shared by the fault tests -------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One two-epoch VAE run of the digits (Z = 2) per test module, trained by the real command."""
    run_dir = tmp_path_factory.mktemp("template") / "run"
    result = tinyvae("train", *TINY, "--epochs", "2", "--out", run_dir)
    assert result.code == 0, result.err
    return run_dir


@pytest.fixture
def run_dir(template, tmp_path):
    """A finished two-epoch VAE run of the digits (Z = 2), a fresh copy for each test."""
    return shutil.copytree(template, tmp_path / "run")


def file_bytes(path):
    """The whole content of the file at ``path``."""
    with open(path, "rb") as f:
        return f.read()
