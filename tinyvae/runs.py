"""A run folder on disk: its settings, checkpoint and metrics, written so nothing is ever lost.

    RUN_DIR/config.json     every setting of the run
    RUN_DIR/model.npz       the checkpoint: parameters, optimizer state, RNG state, epoch
    RUN_DIR/metrics.jsonl   one JSON row per finished epoch
    RUN_DIR/*.png, eval.json

:func:`load_run` reads a finished run back as its trained model and settings.

Every file is written to a temporary name in the same folder and moved into place with
``os.replace``, which is atomic: a crash or Ctrl-C mid-write leaves the previous version
intact, never a half-written one.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from .config import TrainConfig
from .errors import CheckpointError
from .models import make_model

CONFIG, CHECKPOINT, METRICS = "config.json", "model.npz", "metrics.jsonl"

#: metrics columns older versions wrote under another name: "beta" held the KL's weight in
#: the gradient, which is gamma sign(KL - C) under the capacity objective, not a beta
RENAMED_METRICS = {"beta": "kl_weight"}


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file, then move it to ``path`` atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())              # mkstemp makes 0600; use the usual mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:                       # including KeyboardInterrupt: leave no debris
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_json(path, obj):
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def save_checkpoint(run_dir, arrays, meta):
    """Write ``model.npz``: the named arrays plus ``meta`` (a JSON-able dict) stored as text."""
    payload = dict(arrays, meta=np.array(json.dumps(meta)))
    for name, a in arrays.items():
        if np.issubdtype(np.asarray(a).dtype, np.floating) and not np.all(np.isfinite(a)):
            raise ValueError(f"refusing to write non-finite {name} to a checkpoint")
    atomic_write(os.path.join(run_dir, CHECKPOINT), lambda f: np.savez(f, **payload))


def require_run_dir(run_dir):
    """Check that ``run_dir`` is a tinyvae run folder, or say what is wrong."""
    if not os.path.isdir(run_dir):
        raise CheckpointError(f"run folder {run_dir} does not exist; pass the folder a "
                              f"'tinyvae train --out' wrote")
    for name in (CONFIG, CHECKPOINT):
        if not os.path.isfile(os.path.join(run_dir, name)):
            raise CheckpointError(f"{run_dir} has no {name}, so it is not a finished tinyvae run; "
                                  f"train one with 'tinyvae train --out {run_dir}'")


def load_config(run_dir):
    path = os.path.join(run_dir, CONFIG)
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path} is damaged ({err}); restore it or train a new run") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} is damaged (not a JSON object); restore it or train a new run")
    return config


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
    return arrays, meta


def read_metrics(run_dir):
    """The rows of ``metrics.jsonl`` (an empty list if there are none yet), with the columns of
    older versions under their present names (:data:`RENAMED_METRICS`)."""
    path = os.path.join(run_dir, METRICS)
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise CheckpointError(f"{path} has a damaged line; remove it and resume") from None
    return [{RENAMED_METRICS.get(k, k): v for k, v in row.items()} for row in rows]


def write_metrics(run_dir, rows):
    """Replace ``metrics.jsonl`` with ``rows`` (used to drop rows past the checkpoint on resume)."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    atomic_write(os.path.join(run_dir, METRICS), lambda f: f.write(text.encode()))


def append_metrics(run_dir, row):
    with open(os.path.join(run_dir, METRICS), "a") as f:
        f.write(json.dumps(row) + "\n")


def load_run(run_dir):
    """The trained model of a run folder and its config: ``(model, cfg, meta)``."""
    require_run_dir(run_dir)
    cfg = TrainConfig.from_dict(load_config(run_dir)).validate()
    arrays, meta = load_checkpoint(run_dir)
    theta = arrays.get("theta")
    if theta is None or not isinstance(meta.get("D"), int):
        raise CheckpointError(f"checkpoint in {run_dir} lacks its parameters; delete the run folder "
                              f"and train again")
    model = make_model(cfg, meta["D"], np.random.default_rng(0))
    if model.theta.shape != theta.shape:
        raise CheckpointError(f"checkpoint in {run_dir} does not match its config.json "
                              f"({theta.size} parameters, expected {model.theta.size}); delete the "
                              f"run folder and train again")
    model.theta[...] = theta
    return model, cfg, meta
