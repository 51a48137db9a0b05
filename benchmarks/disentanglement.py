"""disentanglement.py: does the beta-VAE separate the shapes' factors, and which form of it does?

One recipe (``RECIPE``) fixes the architecture, the optimiser, the number of steps and the
latent size; only the data set (``--data``: ``shapes``, y on half x's range, or
``shapes-equal``, x and y on one range as in dSprites) and the objective change
(``OBJECTIVES``):

* ``vae``:       beta = 1, the plain VAE;
* ``beta4``:     the loss form with a fixed beta = 4;
* ``kl-target``: the constrained form, KL < delta, with beta a Lagrange multiplier found by
  dual ascent (``tinyvae.objectives.KLTarget``);
* ``capacity``:  the constrained form with its budget raised slowly, gamma |KL - C(t)|
  (Burgess et al. 2018; ``tinyvae.objectives.Capacity``);
* ``tcvae``:     beta-TCVAE, recon + KL + (w - 1) TC with w = 6 (Chen et al. 2018's dSprites
  setting, fixed before any run; ``tinyvae.objectives.TCVAE``).

Each (data, objective, seed) is trained by the real command line, ``python -m tinyvae train``,
into its own run folder, and scored by ``python -m tinyvae eval``: MIG from the posterior
means of every image, the FactorVAE score at 10,000 / 5,000 votes (disentanglement_lib's
rule, and with the dead latents dropped), the KL's three terms, test reconstruction and KL
(eval.json).  The script prints one line per model::

    data=<name> objective=<name> seed=<s> mig <m> factorvae <f> recon <r> kl <k>

then per data set the mean and sd of each objective over its seeds, and each objective's
mean MIG over the VAE's with the ratio's standard error (delta method).

**Resumable, and honest about how.**  Each model has a folder ``OUT/<data>/<objective>-seed<s>/``:
the run folder ``run/`` that ``tinyvae train`` writes, and ``result.json``, written whole (atomically)
the moment the model is scored.  Every result records its recipe (the exact ``tinyvae train`` and
``tinyvae eval`` flags), and ``results.json`` records the study's; a rerun with the same ``--out``
reuses only results made by the same recipe, redoes a result file that is damaged, and resumes
(``tinyvae train --resume``) a model whose training was cut short.  A folder that holds a study of
another recipe (a ``--tiny`` one, say) is refused before any work starts.

**Safe to stop, safe to share.**  Every bad flag, path or cluster address ends in one line and a
non-zero exit before any work starts.  SIGTERM, SIGHUP or Ctrl-C stops every training the study
started (each keeps its last epoch's checkpoint; rerunning the command resumes them) and ends in
one line.  A model's folder is claimed (``tinyvae.app.claims``, the runs' ``flock``) while it is
trained and scored, so two studies into one ``--out`` share the work: each skips what the other
holds.

**Dispatch.**  ``--jobs N`` models at once on this machine (at most one per core), each a
``tinyvae train`` process with one BLAS thread; or with ``--cluster ADDRESS`` a Dask scheduler
(``pip install tinyvae[cluster]``): each model is one task, trained on whichever worker takes it
(the workers need tinyvae installed and ``--out`` on a shared disk; both are checked first).

Run::

    python benchmarks/disentanglement.py --data shapes shapes-equal --objectives vae beta4 capacity tcvae \\
        --seeds 20 21 22 23 24 --jobs 2 --out study21 --export-study lessons/reference/08_study.json
    python benchmarks/disentanglement.py --tiny --seeds 0          # a few steps: what CI runs

Each model takes about 3-6 minutes on one core.  ``results.json`` in ``--out`` keeps every
finished model's numbers.
"""
import argparse
import concurrent.futures
import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import numpy as np

from tinyvae.app import claims, runs
from tinyvae.app.cli import seed_type
from tinyvae.base.atomic import save_json, temporary_name
from tinyvae.base.choices import SEED_MAX
from tinyvae.base.errors import (CheckpointError, TinyVAEError, Terminated, UsageError, command, describe_os_error,
                                 one_line, shown, stopped_by)

#: what every model shares: `tinyvae train` flags (the epochs are per data set, below)
RECIPE = ["--latent", "10", "--hidden", "256", "--batch-size", "64", "--lr", "1e-3"]
#: epochs per data set: the same number of steps (about 58,400) on both, so the same
#: capacity schedule; shapes-equal has twice the images
EPOCHS = {"shapes": 600, "shapes-equal": 300}
#: what the objectives change
OBJECTIVES = {
    "vae": ["--beta", "1"],
    "beta4": ["--beta", "4"],
    "kl-target": ["--kl-target", "8"],
    "capacity": ["--capacity", "8", "--capacity-steps", "50000", "--gamma", "100"],
    "tcvae": ["--tc-weight", "6"],
}
DATA = tuple(EPOCHS)
#: the tiny mode CI runs: the same commands, a few steps of a small model
TINY = ["--epochs", "1", "--hidden", "16"]
#: `tinyvae eval`'s flags: importance samples of the test log-likelihood
EVAL = {False: ["--iw-samples", "20"], True: ["--iw-samples", "1"]}
KEYS = ("mig", "factorvae", "factorvae_active", "active_latents", "recon", "kl", "kl_mi", "kl_tc", "kl_dimwise")
#: seconds a stopped training has to write its checkpoint and end before it is killed
GRACE = 20
#: seconds to reach a Dask scheduler
CONNECT_TIMEOUT = 10
RESULTS, RESULT, RUN = "results.json", "result.json", "run"
MARK = "tinyvae benchmarks/disentanglement.py"
PROG = "disentanglement.py"


# --- what a model is, and how it is made -----------------------------------------------------------
def train_flags(data, objective, seed, tiny=False):
    """The `tinyvae train` flags that make one model (without --out and --threads, which change
    nothing in it)."""
    epochs = TINY if tiny else ["--epochs", str(EPOCHS[data])]
    return ["--data", data] + RECIPE + OBJECTIVES[objective] + epochs + ["--seed", str(seed)]


def train_command(data, objective, seed, run_dir, tiny=False, threads=1):
    """The `tinyvae train` command line of one model (without the interpreter)."""
    return ["train"] + train_flags(data, objective, seed, tiny) + ["--threads", str(threads), f"--out={run_dir}"]


def model_recipe(data, objective, seed, tiny=False):
    """How one model's result is made, as each result.json records it."""
    return {"train": train_flags(data, objective, seed, tiny), "eval": EVAL[tiny], "tiny": tiny}


def study_recipe(tiny=False):
    """How every model of a study is made, as results.json records it: one --out, one recipe."""
    return {"train": RECIPE + (TINY if tiny else []), "epochs": None if tiny else EPOCHS, "objectives": OBJECTIVES,
            "eval": EVAL[tiny], "tiny": tiny}


def job_dir(out, data, objective, seed):
    """A model's folder: its result.json and its run folder run/."""
    return os.path.join(out, data, f"{objective}-seed{seed}")


def result_path(out, data, objective, seed):
    return os.path.join(job_dir(out, data, objective, seed), RESULT)


def read_result(path, recipe):
    """``(result, None)`` for a whole result.json made by ``recipe``, else ``(None, why not)``
    (``why`` is None when there is no file)."""
    if not os.path.lexists(path):
        return None, None
    try:
        with runs.open_regular(path, "result") as f:
            result = json.loads(f.read(runs.JSON_LIMIT).decode("utf-8"))
    except (CheckpointError, ValueError, RecursionError, OSError) as err:
        return None, f"it cannot be read ({one_line(err, 80)})"
    if not isinstance(result, dict) or not all(isinstance(result.get(k), (int, float)) for k in ("mig", "factorvae",
                                                                                                  "recon", "kl")):
        return None, "it is not a whole result"
    if result.get("recipe") != recipe:
        return None, "it was made by another recipe" if "recipe" in result else "it records no recipe"
    return result, None


def expected_settings(flags):
    """The settings (config.json) that `tinyvae train` ``flags`` give a run."""
    from tinyvae.app.cli import build_parser
    from tinyvae.app.config import TrainConfig

    args = build_parser().parse_args(["train", *flags])
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) is not None}
    return TrainConfig(**given).validate().to_dict()


def check_run(run_dir, flags):
    """Refuse, in one line, a model's run folder that this recipe's `tinyvae train` could not
    resume: a damaged one, or one trained by another recipe (a --tiny study's, say)."""
    if not os.path.lexists(run_dir):
        return
    if not os.path.isdir(run_dir):
        raise UsageError(f"{run_dir} is a file, where this study keeps a model's run folder; move it away")
    if not os.path.lexists(os.path.join(run_dir, runs.CHECKPOINT)):
        return                       # no epoch finished: `tinyvae train --out` takes it, or says what is in it
    try:
        _, meta = runs.load_checkpoint(run_dir)
    except CheckpointError as err:
        raise CheckpointError(f"the model in {run_dir} cannot be resumed ({one_line(err, 160)}); move {run_dir} "
                              f"away and run the study again to train it anew") from None
    want = expected_settings(flags)
    have = meta["config"]
    name = next((k for k in want if k not in ("epochs", "data_dir") and have.get(k) != want[k]), None)
    if name is None and meta["epoch"] > want["epochs"]:
        name = "epochs"
    if name is not None:
        from tinyvae.app.config import flag
        raise UsageError(f"{run_dir} holds a model trained with {flag(name)} {shown(have.get(name), 30)}, where this "
                         f"study's recipe gives {shown(want[name], 30)} (another study, a --tiny one?); a study "
                         f"reuses only what its own recipe made: choose another --out")


# --- the processes a study starts, ended when it ends ---------------------------------------------
class Stopped(Exception):
    """The study is ending: start nothing more."""


class Children:
    """The `tinyvae` commands this process runs: each one's output, and its end when the study ends.

    :meth:`stop` (from a signal handler, or when the study's own stop is ``requested``) sends
    every running command SIGTERM, on which a training keeps its last epoch's checkpoint and
    ends, and starts no new one; :meth:`end` waits for them, and kills what is left after
    :data:`GRACE` seconds."""

    def __init__(self, requested=lambda: False):
        self.lock, self.live, self.stopping, self.requested = threading.Lock(), set(), False, requested

    def __reduce__(self):                 # sent to a Dask worker (by run_model's globals): a new, empty one
        return Children, ()

    def run(self, cmd, env):
        """Run ``cmd`` to its end: ``(exit code, its output)``; raises Stopped once the study stops."""
        with tempfile.TemporaryFile("w+") as log:
            with self.lock:
                if self.stopping:
                    raise Stopped
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, text=True)
                self.live.add(proc)
            try:
                while True:
                    try:
                        code = proc.wait(timeout=0.5)
                        break
                    except subprocess.TimeoutExpired:
                        if not self.stopping and self.requested():
                            self.stop()
                        if self.stopping:
                            self._end(proc)
            finally:
                with self.lock:
                    self.live.discard(proc)
            if self.stopping:
                raise Stopped
            log.seek(0)
            return code, log.read()

    def stop(self):
        """Start nothing more, and ask every running command to end (safe in a signal handler)."""
        self.stopping = True
        for proc in list(self.live):
            if proc.poll() is None:
                try:
                    proc.terminate()
                except OSError:
                    pass

    def _end(self, proc, grace=GRACE):
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def end(self, grace=GRACE):
        """Stop, and wait until every command has ended (killing any that outlive ``grace``)."""
        self.stop()
        deadline = time.monotonic() + grace
        for proc in list(self.live):
            self._end(proc, max(0.0, deadline - time.monotonic()))


#: this process's commands: a study's own, or a Dask worker's
CHILDREN = Children()


def _dask_stop(name):
    """On a Dask worker: whether the study named ``name`` asked its tasks to stop, or this task
    was cancelled (its study ended, however it ended)."""
    from distributed import Event, get_worker
    from distributed.worker import thread_state

    def requested():
        try:
            task = get_worker().state.tasks.get(thread_state.key)
            if task is None or task.state in ("cancelled", "released", "forgotten"):
                return True
            return Event(name).is_set()
        except Exception:                 # the scheduler is gone: so is the study
            return True
    return requested


def run_model(job, out, tiny=False, threads=1, stop_name=None):
    """Train one model with `tinyvae train` (or resume it) and score it with `tinyvae eval`, in its
    folder claimed for the while; write its result.json at once (atomically).  Returns a dict:
    the result (``status`` "trained", or "done" when another study finished it meanwhile),
    ``status`` "held" (another study holds it), "failed" (with the command's last line) or
    "stopped"."""
    data, objective, seed = job
    if stop_name is None:
        children = CHILDREN
    else:                                          # a task on a Dask worker: ends with its study
        children = Children(_dask_stop(stop_name))
        if children.requested():
            return dict(status="stopped", data=data, objective=objective, seed=seed)
    folder, recipe = job_dir(out, *job), model_recipe(*job, tiny)
    run_dir = os.path.join(folder, RUN)
    claim = claims.claim_free(folder)
    if claim is None:
        return dict(status="held", data=data, objective=objective, seed=seed)
    with claim:
        result, _ = read_result(os.path.join(folder, RESULT), recipe)
        if result is not None:                                         # finished by another study meanwhile
            return dict(result, status="done")
        tinyvae = [sys.executable, "-m", "tinyvae"]
        if os.path.exists(os.path.join(run_dir, runs.CHECKPOINT)):     # cut short last time: go on
            train = tinyvae + ["train", f"--resume={run_dir}", "--epochs", "1" if tiny else str(EPOCHS[data])]
        else:
            train = tinyvae + train_command(data, objective, seed, run_dir, tiny, threads)
        evaluate = tinyvae + ["eval", run_dir] + EVAL[tiny]
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), MPLBACKEND="Agg")
        t0 = time.perf_counter()
        try:
            for cmd in (train, evaluate):
                code, output = children.run(cmd, env)
                if code != 0:
                    last = output.strip().splitlines()[-1:] or [f"exit {code}"]
                    return dict(status="failed", data=data, objective=objective, seed=seed,
                                error=f"{command('tinyvae', *cmd[3:])} failed: {one_line(last[0], 300)}")
        except Stopped:
            return dict(status="stopped", data=data, objective=objective, seed=seed)
        with open(os.path.join(run_dir, "eval.json")) as f:
            result = json.load(f)
        result.pop("written_by", None)
        result.update(data=data, objective=objective, seed=seed, run_dir=run_dir, seconds=time.perf_counter() - t0,
                      recipe=recipe, written_by=MARK)
        save_json(os.path.join(folder, RESULT), result)               # whole, or not there
    return dict(result, status="trained")


def _worker_check(out):
    """On a Dask worker: None if it can run the study's models into ``out``, else why not."""
    try:
        import tinyvae  # noqa: F401
    except ImportError:
        return "tinyvae is not installed there"
    if not os.path.isdir(out):
        return f"it does not see {out} (--out must be on a disk the workers share)"
    if not os.access(out, os.W_OK):
        return f"it cannot write to {out}"
    return None
def model_line(r):
    return (f"data={r['data']} objective={r['objective']} seed={r['seed']} mig {r['mig']:.3f} "
            f"factorvae {r['factorvae']:.3f} recon {r['recon']:.2f} kl {r['kl']:.2f}")


def ratio_and_se(a, b):
    """mean(a) / mean(b) and its standard error by the delta method (independent samples):
    se(r) = r sqrt((se_a / mean_a)^2 + (se_b / mean_b)^2), se = sd / sqrt(n).  NaN for n < 2."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    r = a.mean() / b.mean()
    if len(a) < 2 or len(b) < 2:
        return r, float("nan")
    se_a, se_b = a.std(ddof=1) / np.sqrt(len(a)), b.std(ddof=1) / np.sqrt(len(b))
    return r, abs(r) * np.hypot(se_a / a.mean(), se_b / b.mean())


def summary(results, datas, objectives):
    """Per data set: mean (sd) of each objective over its finished seeds, and its MIG over the VAE's."""
    lines = []
    for data in datas:
        lines += ["", f"{data}: mean (sd) over the finished seeds"]
        vae = [r["mig"] for r in results if r["data"] == data and r["objective"] == "vae"]
        for name in objectives:
            rs = [r for r in results if r["data"] == data and r["objective"] == name]
            if not rs:
                lines.append(f"  {name:<10} no model finished")
                continue
            cells = " ".join(f"{k} {np.mean([r[k] for r in rs]):.3f} ({np.std([r[k] for r in rs], ddof=1) if len(rs) > 1 else float('nan'):.3f})"
                             for k in KEYS if all(k in r for r in rs))
            cells = cells.replace("factorvae_active", "factorvae(alive)").replace("active_latents", "alive")
            ratio = ""
            if vae and name != "vae":
                rat, se = ratio_and_se([r["mig"] for r in rs], vae)
                ratio = f" | mig / vae {rat:.2f} (se {se:.2f})"
            lines.append(f"  {name:<10} {cells}{ratio}  [{len(rs)} seeds: {sorted(r['seed'] for r in rs)}, "
                         f"{np.mean([r['seconds'] for r in rs]):.0f} s per model]")
    return lines


# --- the flags, every one checked before any work ------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (exit 2), without the usage dump."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see '{PROG} --help')\n")


def _whole(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None


def parse(argv):
    p = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["shapes"], choices=DATA)
    p.add_argument("--objectives", nargs="+", default=["vae", "beta4", "capacity", "tcvae"], choices=list(OBJECTIVES))
    p.add_argument("--seeds", nargs="+", type=seed_type, default=[20, 21, 22, 23, 24])
    p.add_argument("--jobs", type=_whole, help="models trained at once, one core each (default 1; at most the "
                                               "number of cores)")
    p.add_argument("--cluster", metavar="ADDRESS", help="a Dask scheduler (tcp://host:8786) to send the models to")
    p.add_argument("--out", help="folder for the models and results (default: a new temporary one); "
                                 "rerun with the same folder to skip the finished models")
    p.add_argument("--tiny", action="store_true", help="one epoch of a small model: checks the path, not the claim")
    p.add_argument("--export", metavar="DIR", help="write each objective's first finished shapes model as "
                                                 "DIR/08_<name>.npz (lesson 08's reference checkpoints)")
    p.add_argument("--export-study", metavar="FILE", help="write every finished result's numbers to FILE "
                                                        "(lesson 08 reads lessons/reference/08_study.json)")
    args = p.parse_args(argv)
    for name in ("data", "objectives", "seeds"):
        values = getattr(args, name)
        twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if twice is not None:
            raise UsageError(f"--{name} names {twice} twice; name each once")
    if args.jobs is not None and args.cluster:
        raise UsageError("--jobs is for this machine, and --cluster sends the models to the Dask workers, which "
                         "run as many as they have threads; drop --jobs")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be a whole number >= 1, not {args.jobs}")
    return args


def cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def writable_folder(path, flag):
    """Make the folder ``path`` (named by ``flag``) if need be and check that it takes new files,
    or refuse in one line; returns its absolute path."""
    if not path.strip():
        raise UsageError(f"{flag} needs a folder name")
    path = os.path.abspath(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a file, not a folder; choose another {flag}")
    try:
        os.makedirs(path, exist_ok=True)
        probe = temporary_name(os.path.join(path, "probe"))
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"{flag} {path}: {describe_os_error(err)}") from None
    return path


def writable_file(path, flag):
    """Check that the file ``path`` (named by ``flag``) can be written whole, or refuse in one line."""
    if not path.strip() or path.endswith(os.sep):
        raise UsageError(f"{flag} needs a file name")
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a folder; name a file in it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {path}: the folder {folder} does not exist; make it, or choose another {flag}")
    writable_folder(folder, flag)
    return path


def connect(address, out):
    """A Dask client of the scheduler at ``address`` whose workers can run the study into ``out``,
    or a one-line refusal (exit 1) naming the address."""
    try:
        from distributed import Client
        from distributed.comm.addressing import parse_address, parse_host_port
        from distributed.comm.registry import backends
    except ImportError:
        raise UsageError("--cluster needs dask.distributed: pip install tinyvae[cluster]") from None
    try:
        scheme, where = parse_address(address)
        if scheme not in backends:
            raise ValueError(f"unknown scheme {scheme}://; known: {', '.join(sorted(backends))}")
        host, port = parse_host_port(where) if scheme in ("tcp", "tls") else (None, None)
    except Exception as err:
        raise UsageError(f"--cluster {address!r} is not a scheduler's address ({one_line(err, 100)}); "
                         f"give one such as tcp://host:8786") from None
    if host is not None:                           # refused or unknown at once, not after the client's timeout
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
        except OSError as err:
            raise TinyVAEError(f"--cluster {address}: cannot reach a Dask scheduler there "
                               f"({one_line(err.strerror or err, 80)}); check the address and that the scheduler "
                               f"runs") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except Exception as err:                       # OSError, TimeoutError, ValueError, ... from the comm layer
        raise TinyVAEError(f"--cluster {address}: cannot reach a Dask scheduler there ({one_line(err, 120)}); "
                           f"check the address and that the scheduler runs") from None
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except Exception:
            raise TinyVAEError(f"--cluster {address}: the scheduler has no workers; start one with: "
                               f"{command('dask', 'worker', address)}") from None
        problems = {w: why for w, why in client.run(_worker_check, out).items() if why}
        if problems:
            worker, why = next(iter(problems.items()))
            raise TinyVAEError(f"--cluster {address}: the worker {worker} cannot run the models: {why}")
    except BaseException:
        client.close()
        raise
    return client


# --- the study ---------------------------------------------------------------------------------------
def scan(out, recipe_of):
    """Every whole result in ``out`` made by its model's recipe (``recipe_of(data, objective, seed)``)."""
    found = []
    for data in DATA:
        if not os.path.isdir(os.path.join(out, data)):
            continue
        for name in sorted(os.listdir(os.path.join(out, data))):
            match = re.fullmatch(r"(.+)-seed([0-9]+)", name)
            if match and match[1] in OBJECTIVES and 0 <= int(match[2]) <= SEED_MAX:
                job = (data, match[1], int(match[2]))
                result, _ = read_result(result_path(out, *job), recipe_of(*job))
                if result is not None:
                    found.append(result)
    return found


def check_folder(out, tiny):
    """Refuse an ``out`` that holds a study of another recipe (results.json says so)."""
    path = os.path.join(out, RESULTS)
    if not os.path.lexists(path):
        return
    try:
        with runs.open_regular(path, "the study's record") as f:
            record = json.loads(f.read(64 << 20).decode("utf-8"))
    except (CheckpointError, ValueError, RecursionError, OSError):
        print(f"note: {path} cannot be read; it is written again from the models' results", flush=True)
        return
    theirs = record.get("recipe") if isinstance(record, dict) else None
    if theirs != study_recipe(tiny):
        what = ("a --tiny study" if isinstance(theirs, dict) and theirs.get("tiny") else
                "a study without --tiny" if isinstance(theirs, dict) and theirs.get("tiny") is False else
                "a study of another recipe or an older version of this script")
        raise UsageError(f"--out {out} holds {what} ({RESULTS} records its recipe); a study reuses only results "
                         f"made by its own recipe: choose another --out")


def write_records(out, tiny, selected, mine, export_study=None):
    """results.json: every result in ``out`` made by the study's recipe, read from disk under a
    hold of the folder (a study sharing it writes it in turn); and --export-study: this study's."""
    with claims.holding(out):
        check_folder(out, tiny)
        found = scan(out, lambda *job: model_recipe(*job, tiny))
        key = {name: i for i, name in enumerate(OBJECTIVES)}
        found.sort(key=lambda r: (DATA.index(r["data"]), r["seed"], key[r["objective"]]))
        record = {"written_by": MARK, "recipe": study_recipe(tiny), "tiny": tiny,
                  "objectives": {n: OBJECTIVES[n] for n in selected}, "results": found}
        save_json(os.path.join(out, RESULTS), record)
    if export_study:
        keep = ("data", "objective", "seed", "seconds", "mig", "factorvae", "factorvae_active", "active_latents",
                "recon", "kl", "kl_mi", "kl_tc", "kl_dimwise", "mig_gap", "mig_best_latent", "factor_names", "recipe")
        ours = [{k: r[k] for k in keep if k in r} for r in found if (r["data"], r["objective"], r["seed"]) in mine]
        save_json(export_study, dict(record, results=ours))
    return found


def dispatch(todo, out, tiny, n_jobs, client):
    """Each model's outcome (run_model's dict), in the order they finish: ``n_jobs`` threads here,
    each running one model's commands, or one Dask task per model."""
    if client is None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=n_jobs) as pool:
            futures = {pool.submit(run_model, job, out, tiny): job for job in todo}
            try:
                for future in concurrent.futures.as_completed(futures):
                    yield _outcome(future, futures[future])
            finally:
                CHILDREN.stop()
                for future in futures:
                    future.cancel()
        return
    from distributed import Event, as_completed, wait
    stop_name = f"tinyvae-study-{uuid.uuid4().hex}"
    futures = {client.submit(run_model, job, out, tiny, 1, stop_name, pure=False): job for job in todo}
    try:
        for future in as_completed(futures):
            yield _outcome(future, futures[future])
    finally:                                        # however the study ends: its tasks end their trainings
        try:
            Event(stop_name, client=client).set()
            wait(list(futures), timeout=GRACE + 5)
            client.cancel(list(futures))
        except Exception:
            pass


def _outcome(future, job):
    """run_model's dict, or a failure that names the job (a worker that died, a disk that filled)."""
    try:
        return future.result()
    except Exception as err:                        # (not a signal: that ends the study)
        why = describe_os_error(err) if isinstance(err, OSError) else one_line(f"{type(err).__name__}: {err}", 200)
        return dict(status="failed", data=job[0], objective=job[1], seed=job[2], error=why)


def run_study(args, argv):
    if args.out is None:
        out = tempfile.mkdtemp(prefix="tinyvae-disentanglement-")
    else:
        made = not os.path.lexists(args.out)
        out = writable_folder(args.out, "--out")
        try:
            return _study(args, argv, out)
        except BaseException:
            if made and os.path.isdir(out) and not os.listdir(out):
                os.rmdir(out)                       # a folder made for a study that did nothing
            raise
    return _study(args, argv, out)


def _study(args, argv, out):
    export_study = writable_file(args.export_study, "--export-study") if args.export_study else None
    export_dir = writable_folder(args.export, "--export") if args.export else None
    jobs = [(data, name, seed) for data in args.data for seed in args.seeds for name in args.objectives]
    results, todo = {}, []
    with claims.holding(out):
        check_folder(out, args.tiny)
    for job in jobs:
        for folder in (os.path.join(out, job[0]), job_dir(out, *job)):
            if os.path.lexists(folder) and not os.path.isdir(folder):
                raise UsageError(f"{folder} is a file, where this study keeps its models; move it away, "
                                 f"or choose another --out")
        result, why = read_result(result_path(out, *job), model_recipe(*job, args.tiny))
        if result is not None:
            results[job] = result
            continue
        if why:
            print(f"note: {result_path(out, *job)}: {why}; the model is done again", flush=True)
        check_run(os.path.join(job_dir(out, *job), RUN), train_flags(*job, args.tiny))
        todo.append(job)
    client = connect(args.cluster, out) if args.cluster and todo else None
    n_jobs = 1
    if client is None:
        n_jobs = min(args.jobs or 1, cores())
        if (args.jobs or 1) > cores():
            print(f"note: --jobs {args.jobs} is more than the {cores()} cores this process may use; "
                  f"{n_jobs} models run at once", flush=True)
    try:
        print(f"recipe: tinyvae train {' '.join(RECIPE + (TINY if args.tiny else []))}, epochs {EPOCHS}"
              + (" (--tiny: one epoch)" if args.tiny else ""))
        for name in args.objectives:
            print(f"  {name:<10} {' '.join(OBJECTIVES[name])}")
        where = f"the Dask scheduler {args.cluster}" if client else f"{n_jobs} at once"
        print(f"data {args.data}; seeds {args.seeds}; models in {out}; {where}", flush=True)
        for job in jobs:
            if job in results:
                print(model_line(results[job]) + "  (done before)", flush=True)
        write_records(out, args.tiny, args.objectives, set(jobs))      # the folder's recipe, from the start
        t0 = time.perf_counter()
        held, failed, trained = [], [], 0
        for outcome in dispatch(todo, out, args.tiny, n_jobs, client):
            status = outcome.pop("status")
            job = (outcome["data"], outcome["objective"], outcome["seed"])
            where = f"data={job[0]} objective={job[1]} seed={job[2]}"
            if status == "held":
                held.append(job)
                print(f"{where}  (held by another study sharing {out}: left to it)", flush=True)
            elif status == "failed":
                failed.append(outcome["error"])
                print(f"{where}  failed: {outcome['error']}", flush=True)
            elif status in ("trained", "done"):
                results[job] = outcome
                trained += status == "trained"
                print(model_line(outcome) + (f"  ({outcome['seconds']:.0f} s)" if status == "trained"
                                             else "  (done by another study)"), flush=True)
                write_records(out, args.tiny, args.objectives, set(jobs), export_study)
    finally:
        if client is not None:
            client.close()
    found = write_records(out, args.tiny, args.objectives, set(jobs), export_study)
    for r in found:                                 # what a study sharing the folder finished meanwhile
        job = (r["data"], r["objective"], r["seed"])
        if job in set(jobs):
            results[job] = r
    done = [results[job] for job in jobs if job in results]
    for line in summary(done, args.data, args.objectives):
        print(line)
    print(f"\n{trained} models trained in {time.perf_counter() - t0:.0f} s; {len(done)} of {len(jobs)} done"
          + (f"; {len(held)} held by another study" if held else ""))
    if export_study:
        print(f"wrote {export_study}")
    if export_dir:
        from tinyvae.app.reference import export
        for name in args.objectives:
            first = next((r for r in done if r["objective"] == name and r["data"] == "shapes"), None)
            if first:
                path = os.path.join(export_dir, f"08_{name}.npz")
                tmp = temporary_name(path)
                try:
                    export(first["run_dir"], tmp)
                    os.replace(tmp, path)                # whole, or not there
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                print(f"exported {path}")
    if failed:
        raise TinyVAEError(f"{len(failed)} of {len(jobs)} models failed (the first: {failed[0]}); the others are "
                           f"kept: fix it and run the same command again: {command('python', sys.argv[0], *argv)}")
    return 0


def _on_signal(signum, frame):
    """SIGTERM, SIGHUP or Ctrl-C: stop every training at once (each keeps its last epoch's
    checkpoint), then end the study on Ctrl-C's path."""
    CHILDREN.stop()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signal.Signals(signum).name, 128 + signum)


def _fail(message, code):
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)         # the line is written whole
    try:
        sys.stdout.flush()
    except OSError:
        pass
    print(f"{PROG}: {message}" if code >= 128 else f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return code


def main(argv=None):
    """Run the study.  Every fault ends here in one line on stderr and a non-zero exit: a bad flag
    or path (2), a cluster that cannot be reached or a model that failed (1), a signal (128 + its
    number); and every training the study started has ended by then."""
    argv = sys.argv[1:] if argv is None else list(argv)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:       # (nohup's stays ignored)
            signal.signal(sig, _on_signal)
    try:
        try:
            return run_study(parse(argv), argv)
        finally:
            CHILDREN.end()                          # no training outlives the study
    except TinyVAEError as err:
        return _fail(str(err), err.exit_code)
    except KeyboardInterrupt as interrupt:
        what, code = stopped_by(interrupt)
        return _fail(f"{what}: every training it started has stopped, each keeping its last epoch's checkpoint; "
                     f"run the same command again to go on: {command('python', sys.argv[0], *argv)}", code)
    except MemoryError:
        return _fail("ran out of memory; run fewer --jobs", 1)
    except OSError as err:
        return _fail(describe_os_error(err), 1)


if __name__ == "__main__":
    sys.exit(main())
