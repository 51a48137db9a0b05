"""kill -9 at random moments loses nothing: every resume reaches the straight run, exactly.

A checkpoint and its metrics rows are one unit (the rows travel inside ``model.npz`` and
``metrics.jsonl`` is rewritten from it), the folder is claimed by a lock the kernel drops
when the process dies, and the next start removes a killed writer's temporary files.  So
killing ``tinyvae train`` anywhere (mid-epoch, mid-write, between the checkpoint and the
metrics, while drawing the figures) and starting it again until it finishes must give the
parameters and metrics of a run never killed, and leave no temporary (``.tinyvae-tmp-*``) file behind.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from subprocess_cli import TINY, start, tinyvae

# every test here runs the real command (or the browser) end to end, a second or more each: the
# battery runs in CI and with --slow, so README's command stays within its stated time
pytestmark = pytest.mark.slow

# Six steps an epoch: most of an epoch is its checkpoint write, where a kill does harm.  Against
# the code before the checkpoint carried its rows, about half of such kills left a lost row or a
# .tmp file.
EPOCHS = 60
RUN = [*TINY, "--batch-size", "256", "--epochs", str(EPOCHS)]
KILLS = 14                      # SIGKILLs per test; each costs about 0.8 s
TIMING = ("seconds", "samples_per_s")   # the only fields of a row that measure the clock


def _checkpoint(run_dir):
    with np.load(os.path.join(run_dir, "model.npz")) as z:
        return {k: z[k] for k in z.files if k != "meta"}, json.loads(str(z["meta"]))


def _rows(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in f]


def _kill_and_restart_until_done(run_dir, rng, kills):
    """Start the run (``--out`` while it has no checkpoint, ``--resume`` after), SIGKILL it after a
    random delay ``kills`` times, then let it finish.  Returns the delays used."""
    delays = []
    while True:
        if os.path.exists(os.path.join(run_dir, "model.npz")):
            argv = ["train", "--resume", run_dir, "--epochs", str(EPOCHS)]
        else:
            argv = ["train", *RUN, "--out", run_dir]      # a kill before epoch 1 leaves a folder --out takes
        proc = start(*argv)
        if len(delays) == kills:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            return delays
        delays.append(rng.uniform(0.35, 1.2))            # start-up is ~0.4 s, then training, then figures
        time.sleep(delays[-1])
        proc.send_signal(signal.SIGKILL)
        proc.communicate()


def test_sigkill_at_random_moments_then_resume_gives_the_straight_runs_parameters_and_metrics(tmp_path):
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    assert tinyvae("train", *RUN, "--out", straight).code == 0
    seed = random.randrange(2 ** 32)
    delays = _kill_and_restart_until_done(killed, random.Random(seed), KILLS)
    why = f"random seed {seed}, kill delays {[round(d, 2) for d in delays]}"

    (arrays_a, meta_a), (arrays_b, meta_b) = _checkpoint(straight), _checkpoint(killed)
    assert arrays_a.keys() == arrays_b.keys(), why
    for name in arrays_a:                                # bit for bit: resume is exact
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=f"{name}; {why}")
    assert meta_a["epoch"] == meta_b["epoch"] == EPOCHS and meta_a["rng"] == meta_b["rng"], why
    assert _rows(straight) == _rows(killed), why         # every row, once, in order
    assert [r["epoch"] for r in _rows(killed)] == list(range(1, EPOCHS + 1)), why
    left = [n for n in os.listdir(killed) if n.startswith(".tinyvae-tmp-")]
    assert not left, f"temporary files survived: {left}; {why}"


def test_a_kill_between_the_checkpoint_and_its_metrics_row_loses_no_row(tmp_path):
    """The exact moment the issue found (checkpoint at N, metrics.jsonl at N - 1), made by hand:
    the next start rewrites the missing row from the checkpoint."""
    run_dir = str(tmp_path / "run")
    assert tinyvae("train", *RUN[:-1], "3", "--out", run_dir).code == 0
    full = _rows(run_dir)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        lines = f.readlines()
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.writelines(lines[:-1])                           # as if killed before the row was written
    dead = subprocess.Popen(["true"])
    dead.wait()                                              # a process id that no longer runs
    leftover = f".tinyvae-tmp-{dead.pid}-0123456789abcdef-model.npz"
    shutil.copy(os.path.join(run_dir, "model.npz"), os.path.join(run_dir, leftover))
    assert tinyvae("train", "--resume", run_dir, "--epochs", "4").code == 0
    assert _rows(run_dir)[:3] == full and [r["epoch"] for r in _rows(run_dir)] == [1, 2, 3, 4]
    assert not [n for n in os.listdir(run_dir) if n.startswith(".tinyvae-tmp-")]
