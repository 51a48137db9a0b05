"""A run folder on disk: its settings, checkpoint and metrics, written so nothing is ever lost.

    RUN_DIR/model.npz       the checkpoint: parameters, optimizer state, RNG state, epoch,
                            and (since this version) the settings and every metrics row
    RUN_DIR/config.json     every setting of the run        } copies of what the checkpoint
    RUN_DIR/metrics.jsonl   one JSON row per finished epoch  } holds, for people and tools
    RUN_DIR/*.png, eval.json

Three rules keep a run whole whatever happens, a ``kill -9`` included:

* **One writer.**  ``tinyvae train`` claims the folder (:func:`claim_new_run`,
  :func:`claim_run`) with an exclusive ``flock`` on the folder itself, held for the run's
  life and released by the kernel when the process ends, however it ends.  A second
  training of the same folder is refused with one line.
* **Atomic files.**  Every file is written to a temporary name (``.tmp-*``) in the same
  folder and moved into place with ``os.replace``: a crash mid-write leaves the previous
  version intact.  The next claim removes any temporary file a killed run left behind.
* **One unit.**  The checkpoint carries the metrics rows up to its epoch, and
  ``metrics.jsonl`` and ``config.json`` are rewritten from it (:func:`write_views`).  A kill
  between the two writes is repaired by the next start: no row is ever lost or repeated.
"""
import contextlib
import errno
import json
import os
import secrets
import tempfile
import zipfile

import numpy as np

try:
    import fcntl                                # POSIX: the claim is a flock the kernel drops at exit
except ImportError:                             # Windows has no flock: the claim is then only the
    fcntl = None                                # atomic mkdir / empty-folder check, and is not held

from . import memory
from .config import TrainConfig
from .errors import CheckpointError, UsageError, one_line
from .models import make_model

CONFIG, CHECKPOINT, METRICS = "config.json", "model.npz", "metrics.jsonl"
OWN_FILES = (CONFIG, CHECKPOINT, METRICS)     # only the trainer writes these
TMP_PREFIX = ".tmp-"                           # atomic_write writes to .tmp-PID-XXXXXXXXNAME, then renames

#: metrics columns older versions wrote under another name: "beta" held the KL's weight in
#: the gradient, which is gamma sign(KL - C) under the capacity objective, not a beta
RENAMED_METRICS = {"beta": "kl_weight"}


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file, then move it to ``path`` atomically."""
    atomic_write_all([(path, write)])


def atomic_write_all(writes):
    """Write several files as one step: every ``(path, write)`` to its temporary file first, then
    all moved into place, so an error or Ctrl-C while writing leaves none of them changed.

    Each temporary name (``.tmp-PID-RANDOM`` + the file's name) is chosen before the file is
    made, so an interrupt at any moment leaves no temporary file: the handler knows what to remove.
    """
    pending = []                                    # (tmp, path) written and not yet moved
    path = None
    try:
        for path, write in writes:
            folder = os.path.dirname(os.path.abspath(path))
            tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{os.path.basename(path)}")
            pending.append((tmp, path))             # before the file exists, so the handler finds it
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # the umask gives the usual mode
            except FileExistsError:
                pending.pop()                       # that name is someone else's file
                raise
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        while pending:                              # renames only: the files change together
            path = pending[0][1]
            os.replace(*pending[0])
            pending.pop(0)
    except BaseException as err:                    # including KeyboardInterrupt: leave no debris
        for tmp, _ in pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, FileExistsError) and path is not None:
            raise OSError(err.errno, err.strerror, path) from None        # name the file asked for
        raise


def save_json(path, obj):
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def save_checkpoint(run_dir, arrays, meta):
    """Write ``model.npz``: the named arrays plus ``meta`` (a JSON-able dict) stored as text."""
    payload = dict(arrays, meta=np.array(json.dumps(meta)))
    for name, a in arrays.items():
        if np.issubdtype(np.asarray(a).dtype, np.floating) and not np.all(np.isfinite(a)):
            raise ValueError(f"refusing to write non-finite {name} to a checkpoint")
    atomic_write(os.path.join(run_dir, CHECKPOINT), lambda f: np.savez(f, **payload))


def write_views(run_dir, meta):
    """Rewrite ``config.json`` and ``metrics.jsonl`` from what the checkpoint's ``meta`` holds."""
    if "config" in meta:
        save_json(os.path.join(run_dir, CONFIG), meta["config"])
    if "metrics" in meta:
        write_metrics(run_dir, meta["metrics"])


# --- what other commands may write ---------------------------------------------------------------
#: the first bytes of each kind of file a command writes, to tell its own earlier output from anything else
SIGNATURES = {".png": b"\x89PNG\r\n\x1a\n",
              ".html": b"<!DOCTYPE html>\n<!-- The tinyvae latent-space explorer."}   # templates/explorer.html


def check_output(path, ext):
    """Refuse, in one line, an output path that is neither a new file nor a ``ext`` file of the
    kind the command writes: no command but the trainer writes over a run's own files."""
    if not path.lower().endswith(ext):
        raise UsageError(f"--out {path} must name a {ext} file")
    if os.path.isdir(path):
        raise UsageError(f"--out {path} is a folder; name a {ext} file in it")
    if os.path.basename(path) in OWN_FILES or (os.path.lexists(path) and not _starts_with(path, SIGNATURES[ext])):
        raise UsageError(f"--out {path} exists and is not a {ext} file tinyvae wrote; choose a new file name")
    return path


def _starts_with(path, signature):
    if not os.path.isfile(path):                   # a device, a pipe (whose read would wait for ever)
        return False
    try:
        with open(path, "rb") as f:
            return f.read(len(signature)) == signature
    except OSError:
        return False


# --- claiming a folder: one trainer at a time ------------------------------------------------
class Claim:
    """An exclusive hold on a run folder, for as long as the trainer runs (a context manager)."""

    def __init__(self, run_dir, fd, created):
        self.run_dir, self.fd, self.created = run_dir, fd, created

    def release(self, remove_if_empty=False):
        """Let go of the folder; ``remove_if_empty`` removes a folder this claim created."""
        if self.fd is not None:
            os.close(self.fd)                      # closing the descriptor drops the flock
            self.fd = None
        if remove_if_empty and self.created:
            remove_temporary_files(self.run_dir)
            if not os.listdir(self.run_dir):
                os.rmdir(self.run_dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _lock(run_dir, created):
    """flock the folder itself, or refuse: the kernel drops the lock when the process ends."""
    if fcntl is None:
        return Claim(run_dir, None, created)
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise CheckpointError(f"{run_dir} is in use by another 'tinyvae train'; wait for it to "
                                  f"finish, or train into another --out") from None
        raise
    return Claim(run_dir, fd, created)


def remove_temporary_files(run_dir):
    """Remove the ``.tmp-PID-*`` files in ``run_dir`` whose writer no longer runs (a kill -9).

    A live writer's file is left alone: ``tinyvae plot`` may be writing a figure into the
    folder while a training claims it.
    """
    for name in os.listdir(run_dir):
        if name.startswith(TMP_PREFIX):
            pid = name[len(TMP_PREFIX):].split("-", 1)[0]
            if not (pid.isdigit() and process_running(int(pid))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(run_dir, name))


def process_running(pid):
    """Whether process ``pid`` is alive (signal 0 checks without sending anything)."""
    if os.name == "nt":                        # there os.kill ends the process: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True                                # alive, but another user's
    return True


def claim_new_run(out=None, default_base=None):
    """Create (or take an empty) folder for a new run, claim it, and check it can be written.

    ``out`` is the folder the user named; without it, the first free one of ``default_base``,
    ``default_base-2``, ... is made with ``os.mkdir``, which fails if the name is taken, so two
    runs started in the same second get two folders.  Returns a :class:`Claim`.
    """
    if out is None:
        os.makedirs(os.path.dirname(default_base) or ".", exist_ok=True)
        k = 1
        while True:
            run_dir = default_base if k == 1 else f"{default_base}-{k}"
            try:
                os.mkdir(run_dir)
                break
            except FileExistsError:
                k += 1
        claim = _lock(run_dir, created=True)
    else:
        run_dir = out
        if not run_dir.strip():
            raise UsageError("--out needs a folder name")
        if os.path.exists(run_dir) and not os.path.isdir(run_dir):
            raise UsageError(f"--out {run_dir} is a file, not a folder; choose another --out")
        created = not os.path.exists(run_dir)
        os.makedirs(run_dir, exist_ok=True)
        claim = _lock(run_dir, created)
    try:
        remove_temporary_files(run_dir)
        if os.listdir(run_dir):
            raise UsageError(f"--out {run_dir} already holds files; continue it with --resume {run_dir} "
                             f"or choose another --out")
        fd, probe = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=CHECKPOINT, dir=run_dir)
        os.close(fd)                               # the folder takes new files: checked before training
        os.unlink(probe)
    except BaseException:
        claim.release(remove_if_empty=True)
        raise
    return claim


def claim_run(run_dir):
    """Claim an existing run folder for ``--resume`` and remove a killed run's temporary files."""
    require_run_dir(run_dir)
    claim = _lock(run_dir, created=False)
    try:
        remove_temporary_files(run_dir)
    except BaseException:
        claim.release()
        raise
    return claim


# --- reading a run back --------------------------------------------------------------------
def require_run_dir(run_dir):
    """Check that ``run_dir`` is a tinyvae run folder with a checkpoint, or say what is wrong."""
    if not os.path.isdir(run_dir):
        raise CheckpointError(f"run folder {run_dir} does not exist; pass the folder a "
                              f"'tinyvae train --out' wrote")
    if not os.path.isfile(os.path.join(run_dir, CHECKPOINT)):
        raise CheckpointError(f"{run_dir} has no {CHECKPOINT}: no epoch of it has finished; "
                              f"train one with 'tinyvae train --out {run_dir}'")


def load_config(run_dir, meta=None):
    """The settings of a run: ``config.json``, or the checkpoint's copy when that file is gone."""
    path = os.path.join(run_dir, CONFIG)
    if not os.path.exists(path) and meta is not None and "config" in meta:
        return meta["config"]
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path} is damaged ({one_line(err)}); restore it or train a new run") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} is damaged (not a JSON object); restore it or train a new run")
    return config


#: what a checkpoint's meta must hold, and the JSON type of each
META_FIELDS = {"epoch": int, "t": int, "D": int, "rng": dict, "objective": dict}


def load_checkpoint(run_dir):
    """Read ``model.npz`` back as ``(arrays, meta)``; a damaged file raises CheckpointError."""
    path = os.path.join(run_dir, CHECKPOINT)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"checkpoint {path} is damaged ({type(err).__name__}); "
                              f"delete the run folder and train again") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path} is damaged (its meta is not an object); "
                              f"delete the run folder and train again")
    for name, kind in META_FIELDS.items():
        if not isinstance(meta.get(name), kind) or isinstance(meta.get(name), bool) or (
                kind is int and meta[name] < 0):
            raise CheckpointError(f"checkpoint {path} is damaged: its meta field {name!r} is "
                                  f"{'missing' if name not in meta else json.dumps(meta[name])}; "
                                  f"delete the run folder and train again")
    if "theta" not in arrays:
        raise CheckpointError(f"checkpoint {path} is damaged: it lacks the parameters 'theta'; "
                              f"delete the run folder and train again")
    if "metrics" in meta:
        meta["metrics"] = [_check_row(row, f"checkpoint {path}: metrics row {i + 1}")
                           for i, row in enumerate(meta["metrics"] if isinstance(meta["metrics"], list) else [None])]
    if "config" in meta and not isinstance(meta["config"], dict):
        raise CheckpointError(f"checkpoint {path} is damaged: its meta field 'config' is not an "
                              f"object; delete the run folder and train again")
    return arrays, meta


def _check_row(row, where):
    if not (isinstance(row, dict) and isinstance(row.get("epoch"), int) and not isinstance(row["epoch"], bool)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row.values())):
        raise CheckpointError(f"{where} is not an object of numbers with a whole 'epoch'; "
                              f"remove that line and resume")
    return row


def read_metrics(run_dir):
    """The rows of ``metrics.jsonl`` (an empty list if there are none yet), with the columns of
    older versions under their present names (:data:`RENAMED_METRICS`)."""
    path = os.path.join(run_dir, METRICS)
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for i, line in enumerate(f):
            line = line.strip()
            if line:
                try:
                    row = json.loads(line)
                except ValueError:
                    raise CheckpointError(f"{path}: line {i + 1} is not JSON; remove it and resume") from None
                rows.append(_check_row(row, f"{path}: line {i + 1}"))
    return [{RENAMED_METRICS.get(k, k): v for k, v in row.items()} for row in rows]


def metrics_of(run_dir, meta):
    """A run's metrics rows: the checkpoint's own copy when it has one, else metrics.jsonl."""
    return meta["metrics"] if "metrics" in meta else read_metrics(run_dir)


def write_metrics(run_dir, rows):
    """Replace ``metrics.jsonl`` with ``rows``, atomically."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    atomic_write(os.path.join(run_dir, METRICS), lambda f: f.write(text.encode()))



def load_settings(run_dir, meta):
    """A run's TrainConfig, every setting checked, naming the file of a bad one."""
    where = os.path.join(run_dir, CONFIG)
    return TrainConfig.from_dict(load_config(run_dir, meta), where).validate(where)


def load_run(run_dir):
    """The trained model of a run folder and its config: ``(model, cfg, meta)``."""
    require_run_dir(run_dir)
    arrays, meta = load_checkpoint(run_dir)
    cfg = load_settings(run_dir, meta)
    theta = arrays["theta"]
    expected = memory.parameter_count(meta["D"], cfg.hidden, cfg.latent,
                                      2 * cfg.latent if cfg.model == "vae" else cfg.latent)
    if theta.shape != (expected,):                   # checked before a model of that size is made
        raise CheckpointError(f"checkpoint in {run_dir} does not match its config.json "
                              f"({theta.size} parameters, expected {expected}); restore config.json "
                              f"or train again")
    model = make_model(cfg, meta["D"], np.random.default_rng(0))
    model.theta[...] = theta
    return model, cfg, meta
