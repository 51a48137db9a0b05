"""A run folder as one unit: its checkpoint, the settings and metrics it carries, and reading it back.

    RUN_DIR/model.npz       the checkpoint: parameters, optimizer state, RNG state, epoch,
                            image shape, the settings, and every metrics row up to its epoch
    RUN_DIR/config.json     every setting of the run        } copies of what the checkpoint
    RUN_DIR/metrics.jsonl   one JSON row per finished epoch  } holds, for people and tools
    RUN_DIR/*.png, eval.json

The checkpoint carries the metrics rows up to its epoch, and ``metrics.jsonl`` and
``config.json`` are rewritten from it (:func:`write_views`).  Every file is written whole
(:mod:`tinyvae.atomic`), so a kill between two writes is repaired by the next start: no row
is ever lost or repeated.  Who may write in the folder is :mod:`tinyvae.app.claims`' job.
"""
import json
import os
import zipfile

import numpy as np

from .. import data
from ..atomic import atomic_write, save_json
from ..errors import CheckpointError, DataError, one_line
from ..models import make_model, parameter_count
from .config import TrainConfig

CONFIG, CHECKPOINT, METRICS = "config.json", "model.npz", "metrics.jsonl"
OWN_FILES = (CONFIG, CHECKPOINT, METRICS)     # only the trainer writes these


def save_checkpoint(run_dir, arrays, meta):
    """Write ``model.npz``: the named arrays plus ``meta`` (a JSON-able dict) stored as text."""
    payload = dict(arrays, meta=np.array(json.dumps(meta)))
    for name, a in arrays.items():
        if np.issubdtype(np.asarray(a).dtype, np.floating) and not np.all(np.isfinite(a)):
            raise ValueError(f"refusing to write non-finite {name} to a checkpoint")
    atomic_write(os.path.join(run_dir, CHECKPOINT), lambda f: np.savez(f, **payload))


def write_views(run_dir, meta):
    """Rewrite ``config.json`` and ``metrics.jsonl`` from what the checkpoint's ``meta`` holds."""
    save_json(os.path.join(run_dir, CONFIG), meta["config"])
    write_metrics(run_dir, meta["metrics"])


# --- reading a run back --------------------------------------------------------------------
def require_run_dir(run_dir):
    """Check that ``run_dir`` is a tinyvae run folder with a checkpoint, or say what is wrong."""
    if not os.path.isdir(run_dir):
        raise CheckpointError(f"run folder {run_dir} does not exist; pass the folder a "
                              f"'tinyvae train --out' wrote")
    if not os.path.isfile(os.path.join(run_dir, CHECKPOINT)):
        raise CheckpointError(f"{run_dir} has no {CHECKPOINT}: no epoch of it has finished; "
                              f"train one with 'tinyvae train --out {run_dir}'")


def load_config(run_dir, meta):
    """The settings of a run: ``config.json``, or the checkpoint's copy when that file is gone."""
    path = os.path.join(run_dir, CONFIG)
    if not os.path.exists(path):
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
META_FIELDS = {"epoch": int, "t": int, "D": int, "rng": dict, "objective": dict, "config": dict,
               "metrics": list, "image_shape": list}


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
    meta["metrics"] = [_check_row(row, f"checkpoint {path}: metrics row {i + 1}")
                       for i, row in enumerate(meta["metrics"])]
    return arrays, meta


def _check_row(row, where):
    if not (isinstance(row, dict) and isinstance(row.get("epoch"), int) and not isinstance(row["epoch"], bool)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row.values())):
        raise CheckpointError(f"{where} is not an object of numbers with a whole 'epoch'; "
                              f"remove that line and resume")
    return row


def read_metrics(run_dir):
    """The rows of ``metrics.jsonl`` (an empty list if there are none yet)."""
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
    return rows


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
    expected = parameter_count(cfg.model, meta["D"], cfg.hidden, cfg.latent)
    if theta.shape != (expected,):                   # checked before a model of that size is made
        raise CheckpointError(f"checkpoint in {run_dir} does not match its config.json "
                              f"({theta.size} parameters, expected {expected}); restore config.json "
                              f"or train again")
    model = make_model(cfg, meta["D"], np.random.default_rng(0))
    model.theta[...] = theta
    return model, cfg, meta


def load_data(cfg, run_dir, D, data_dir=None):
    """The data set a run's settings ``cfg`` name (from ``data_dir`` if given), refused with
    one line if its images do not have the ``D`` pixels the run's checkpoint was trained on."""
    data_dir = data_dir or cfg.data_dir
    ds = data.load(cfg.data, data_dir=data_dir, binarize=cfg.binarize, seed=cfg.seed)
    if D is not None and ds.D != D:
        where = f"in {data_dir} " if data_dir else ""
        raise DataError(f"the {cfg.data} images {where}have {ds.D} pixels, but {run_dir} was trained on "
                        f"images of {D} pixels; the run is intact: pass --data-dir with the data it "
                        f"was trained on")
    return ds
