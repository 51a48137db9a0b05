"""A run folder as one unit: its checkpoint, the settings and metrics it carries, and reading it back.

    RUN_DIR/model.npz       the checkpoint, the one truth: parameters, optimizer state, RNG
                            state, epoch, image shape, BLAS threads, the settings, and every
                            metrics row up to its epoch
    RUN_DIR/config.json     every setting of the run        } copies of what the checkpoint
    RUN_DIR/metrics.jsonl   one JSON row per finished epoch  } holds, for people and tools
    RUN_DIR/*.png, eval.json

``metrics.jsonl`` and ``config.json`` are rewritten from the checkpoint (:func:`write_views`)
after every epoch and at every start of training; no command reads them to learn a setting or
a row.  A ``config.json`` that disagrees with its checkpoint (edited, damaged) is refused in
one line (:func:`check_config_copy`): it never changes a run.  Every file is written whole
(:mod:`tinyvae.base.atomic`), so a kill between two writes is repaired by the next start.

Every byte of a run folder is untrusted: :func:`load_checkpoint` reads only regular files,
checks each ``.npy`` header against the bytes that hold it before numpy reads it, and checks
every field of ``meta`` for its type and range, so that anything it returns can be used.
Who may write in the folder is :mod:`tinyvae.app.claims`' job.
"""
import json
import math
import os
import re
import stat
import zipfile

import numpy as np

from .. import data
from ..base.atomic import atomic_write, is_temporary_name, save_json
from ..base.errors import CheckpointError, DataError, command, one_line, shown
from ..models import make_model, parameter_count
from .config import TrainConfig

CONFIG, CHECKPOINT, METRICS = "config.json", "model.npz", "metrics.jsonl"
OWN_FILES = (CONFIG, CHECKPOINT, METRICS)     # only the trainer writes these
JSON_LIMIT = 1 << 20                          # bytes: a config.json is about 600

#: every column of a metrics row, each a finite number ("train_lagrangian" only with --kl-target)
ROW_KEYS = ("epoch", "train_loss", "train_recon", "train_kl", "train_objective", "test_loss", "test_recon",
            "test_kl", "kl_weight", "seconds", "samples_per_s")


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


def write_metrics(run_dir, rows):
    """Replace ``metrics.jsonl`` with ``rows``, atomically."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    atomic_write(os.path.join(run_dir, METRICS), lambda f: f.write(text.encode()))


# --- what a folder is ------------------------------------------------------------------------
def free_name(path):
    """``path`` if nothing is there, else the first free ``path-2``, ``path-3``, ..."""
    path = os.path.normpath(path)
    k, name = 1, path
    while os.path.lexists(name):
        k += 1
        name = f"{path}-{k}"
    return name


def require_run_dir(run_dir):
    """Check that ``run_dir`` is a folder with a checkpoint, or say in one line what it is and
    a command that works from there."""
    if not os.path.lexists(run_dir):
        raise CheckpointError(f"run folder {run_dir} does not exist; train one with: "
                              f"{command('tinyvae', 'train', '--out', run_dir)}")
    if not os.path.isdir(run_dir):
        raise CheckpointError(f"{run_dir} is not a folder, so it is not a run; pass the folder that "
                              f"'tinyvae train --out' wrote")
    if not os.path.lexists(os.path.join(run_dir, CHECKPOINT)):
        if all(is_temporary_name(n) for n in os.listdir(run_dir)):
            raise CheckpointError(f"{run_dir} holds no checkpoint ({CHECKPOINT}): no epoch of a run in it "
                                  f"finished; train into it with: {command('tinyvae', 'train', '--out', run_dir)}")
        raise CheckpointError(f"{run_dir} holds no checkpoint ({CHECKPOINT}), so it is not a run that can be read "
                              f"or resumed; train a new run with: "
                              f"{command('tinyvae', 'train', '--out', free_name(run_dir))}")


def open_regular(path, what, fix="move it away and put the run's own file there"):
    """Open ``path`` for reading if it is a regular file; a pipe, device or folder is refused in
    one line ending in ``fix`` (opened without blocking, so a FIFO with no writer cannot hang the
    command)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise CheckpointError(f"cannot read {what} {path} ({err.strerror}); check its permissions") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(f"{what} {path} is not a regular file (a pipe, device or folder); {fix}")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _damaged(path, why):
    return CheckpointError(f"checkpoint {path} is damaged ({why}); the run cannot be read or resumed: "
                           f"train it again into a new folder")


def _json(text):
    """JSON without NaN or Infinity, and without the RecursionError of deep nesting."""
    def refuse(name):
        raise ValueError(f"{name} is not a number JSON allows")
    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise ValueError("nested too deeply") from None


# --- the checkpoint, every byte checked ------------------------------------------------------
ARRAY_NAME = re.compile(r"(theta|opt_m_sum|opt_v_sum|opt_t|meta)\.npy")
ARRAY_KINDS = {"theta": "f", "opt_m_sum": "f", "opt_v_sum": "f", "opt_t": "i", "meta": "U"}


def _read_arrays(path):
    """The arrays of ``model.npz`` by name.  Each member's .npy header is read and checked
    against the member's size before numpy reads the data, so no header can make numpy
    allocate more than the file holds, or fail in its parser."""
    arrays = {}
    with open_regular(path, "checkpoint") as f:
        try:
            with zipfile.ZipFile(f) as z:
                infos = z.infolist()
                names = [info.filename for info in infos]
                if sorted(names) != sorted(n + ".npy" for n in ARRAY_KINDS) or len(set(names)) != len(names):
                    raise ValueError(f"it holds {shown(names)}, not {', '.join(ARRAY_KINDS)}")
                for info in infos:
                    name = ARRAY_NAME.fullmatch(info.filename)[1]
                    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                        raise ValueError(f"{name} is compressed; tinyvae writes it as it is")
                    with z.open(info) as member:
                        version = np.lib.format.read_magic(member)
                        if version not in ((1, 0), (2, 0)):
                            raise ValueError(f"{name} has .npy version {version}")
                        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                       else np.lib.format.read_array_header_2_0)
                        shape, fortran, dtype = read_header(member)
                        if dtype.hasobject or dtype.kind != ARRAY_KINDS[name]:
                            raise ValueError(f"{name} holds {dtype}, not the numbers it should")
                        if member.tell() + math.prod(shape) * dtype.itemsize != info.file_size:
                            raise ValueError(f"the header of {name} does not match its size")
                    with z.open(info) as member:          # now numpy reads no more than the member holds
                        arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
        except CheckpointError:
            raise
        except Exception as err:          # any byte may be wrong: whatever the parsers raise is damage
            raise _damaged(path, one_line(err, 120) if isinstance(err, ValueError) else type(err).__name__) from None
    return arrays


def _whole(value, low, high=2 ** 62):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_meta(meta, path):
    """Every field of a checkpoint's meta, for its type and range; returns the run's TrainConfig."""
    if not isinstance(meta, dict):
        raise _damaged(path, "its meta is not an object")
    fields = {"epoch", "t", "D", "rng", "objective", "config", "metrics", "image_shape", "blas"}
    if set(meta) != fields:
        raise _damaged(path, f"its meta lacks {sorted(fields - set(meta))[0]!r}" if fields - set(meta)
                       else f"its meta has unknown fields {shown(sorted(set(meta) - fields))}")

    def check(ok, name):
        if not ok:
            raise _damaged(path, f"its meta field {name!r} is {shown(meta[name])}")

    check(_whole(meta["epoch"], 1, 10 ** 9), "epoch")
    check(_whole(meta["t"], meta["epoch"]), "t")
    shape = meta["image_shape"]
    check(isinstance(shape, list) and len(shape) == 2 and all(_whole(s, 1, 1 << 16) for s in shape), "image_shape")
    check(_whole(meta["D"], 1) and meta["D"] == shape[0] * shape[1], "D")
    blas = meta["blas"]
    check(isinstance(blas, dict) and set(blas) == {"threads", "library"} and _whole(blas["threads"], 1, 4096)
          and isinstance(blas["library"], str) and len(blas["library"]) < 200, "blas")
    try:
        np.random.PCG64().state = meta["rng"]              # the generator itself checks the state
        ok = meta["rng"]["bit_generator"] == "PCG64"
    except Exception:                                      # (KeyError, TypeError, ValueError, OverflowError)
        ok = False
    check(ok, "rng")
    objective = meta["objective"]
    check(isinstance(objective, dict) and all(isinstance(k, str) and _finite(v) and v >= 0
                                              for k, v in objective.items()), "objective")
    if not isinstance(meta["config"], dict):
        check(False, "config")
    cfg = TrainConfig.from_dict(meta["config"], f"checkpoint {path}").validate(f"checkpoint {path}")
    if cfg.to_dict() != meta["config"]:                   # validate filled a setting that applies: a null
        raise _damaged(path, "a setting of the run is missing from it")
    if set(objective) != ({"beta"} if cfg.objective() == "kl_target" and cfg.model == "vae" else set()):
        check(False, "objective")
    rows = meta["metrics"]
    check(isinstance(rows, list) and len(rows) == meta["epoch"], "metrics")
    for i, row in enumerate(rows):
        keys = set(ROW_KEYS) | ({"train_lagrangian"} if cfg.kl_target is not None else set())
        if not (isinstance(row, dict) and set(row) == keys and all(_finite(v) for v in row.values())
                and row["epoch"] == i + 1):
            raise _damaged(path, f"its metrics row {i + 1} is not the {len(keys)} numbers of epoch {i + 1}")
    return cfg


def load_checkpoint(run_dir):
    """Read ``model.npz`` back as ``(arrays, meta)``, every byte checked; a damaged file raises
    CheckpointError.  ``meta["config"]`` is then a valid run's settings (:func:`load_settings`)."""
    path = os.path.join(run_dir, CHECKPOINT)
    arrays = _read_arrays(path)
    text = arrays.pop("meta")
    if text.shape != ():
        raise _damaged(path, "its meta is not one text")
    try:
        meta = _json(str(text))
    except ValueError as err:
        raise _damaged(path, f"its meta is not JSON: {one_line(err, 80)}") from None
    cfg = _check_meta(meta, path)
    P = parameter_count(cfg.model, meta["D"], cfg.hidden, cfg.latent)
    for name in ("theta", "opt_m_sum", "opt_v_sum"):
        a = arrays[name]
        if a.shape != (P,) or a.dtype != np.float32:
            raise _damaged(path, f"{name} holds {a.dtype} of shape {a.shape}, where its settings need float32 of "
                                 f"shape ({P},)")
        if not np.all(np.isfinite(a)):
            raise _damaged(path, f"{name} holds values that are not finite")
    if np.any(arrays["opt_v_sum"] < 0) or arrays["opt_t"].shape != () or int(arrays["opt_t"]) != meta["t"]:
        raise _damaged(path, "its optimizer state does not belong to its step count")
    return arrays, meta


def load_settings(run_dir, meta):
    """A run's TrainConfig: the checkpoint's own (``meta`` from :func:`load_checkpoint`), once
    :func:`check_config_copy` has found config.json to agree with it."""
    check_config_copy(run_dir, meta)
    return TrainConfig.from_dict(meta["config"]).validate()


def load_config(run_dir, meta):
    """The settings of a run as a dict: the checkpoint's (config.json is a copy of them)."""
    check_config_copy(run_dir, meta)
    return meta["config"]


def check_config_copy(run_dir, meta):
    """Refuse, in one line, a ``config.json`` that is not a copy of the checkpoint's settings: an
    edit of it would otherwise seem to change the run.  A missing one is no problem."""
    path = os.path.join(run_dir, CONFIG)
    if not os.path.lexists(path):
        return
    fix = (f"config.json is only a copy of the checkpoint's settings and cannot change a run (for other "
           f"settings, train a new run); delete it, and the next resume writes it again: rm {command(path)}")
    with open_regular(path, "the copy of the settings", fix) as f:
        text = f.read(JSON_LIMIT + 1)
    try:
        copy = _json(text.decode("utf-8")) if len(text) <= JSON_LIMIT else None
    except ValueError as err:
        raise CheckpointError(f"{path} cannot be read ({one_line(err, 80)}); {fix}") from None
    if copy != meta["config"]:
        config = meta["config"]
        if isinstance(copy, dict):
            name = next(k for k in sorted(set(copy) | set(config), key=str) if copy.get(k, ...) != config.get(k, ...))
            said = (f"its setting {one_line(repr(name), 40)} is {shown(copy.get(name, 'missing'), 30)}, and "
                    f"{CHECKPOINT} says {shown(config.get(name, 'missing'), 30)}")
        else:
            said = "it is not a JSON object of settings"
        raise CheckpointError(f"{path} disagrees with the run's checkpoint: {said}; {fix}")


# --- a run, ready to use -----------------------------------------------------------------------
def build_model(cfg, D, rng=None):
    """The model of a run's settings (:func:`tinyvae.models.make_model`, the one factory)."""
    return make_model(cfg.resolved(), D, rng)


def check_model_values(model, where):
    """Refuse a model whose codes or decodes of ordinary inputs are not finite: parameters that
    are finite but huge (1e30) come from a damaged file or a run that diverged, and would only
    give NaN in every number and figure drawn from them."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (16, model.D)).astype(model.dtype)   # (16, D) inputs in the data's range
    x[0], x[1] = 0, 1
    z = rng.standard_normal((16, model.Z)).astype(model.dtype)  # (16, Z) draws of the prior
    with np.errstate(all="ignore"):
        ok = np.all(np.isfinite(model.code(x))) and np.all(np.isfinite(model.decode(z)))
    if not ok:
        raise CheckpointError(f"the parameters in {where} give values that are not finite (the largest is "
                              f"{np.max(np.abs(model.theta)):.3g}); the checkpoint is damaged or comes from a "
                              f"run that diverged: train the run again into a new folder")


def load_run(run_dir):
    """The trained model of a run folder and its config: ``(model, cfg, meta)``."""
    require_run_dir(run_dir)
    arrays, meta = load_checkpoint(run_dir)
    cfg = load_settings(run_dir, meta)
    model = build_model(cfg, meta["D"], np.random.default_rng(0))
    model.theta[...] = arrays["theta"]
    check_model_values(model, os.path.join(run_dir, CHECKPOINT))
    return model, cfg, meta


def load_data(cfg, run_dir, D, data_dir=None):
    """The data set a run's settings ``cfg`` name (from ``data_dir`` if given), refused with
    one line if its images do not have the ``D`` pixels the run's checkpoint was trained on."""
    if data_dir is not None and cfg.data not in ("mnist", "fashion-mnist"):
        raise DataError(f"--data-dir is only for mnist and fashion-mnist, and {run_dir} was trained on the built-in "
                        f"{cfg.data}; drop --data-dir")
    data_dir = data_dir or cfg.data_dir
    ds = data.load(cfg.data, data_dir=data_dir, binarize=cfg.binarize, seed=cfg.seed)
    if D is not None and ds.D != D:
        where = f"in {data_dir} " if data_dir else ""
        raise DataError(f"the {cfg.data} images {where}have {ds.D} pixels, but {run_dir} was trained on "
                        f"images of {D} pixels; the run is intact: pass --data-dir with the data it "
                        f"was trained on")
    return ds


def read_metrics(run_dir):
    """The rows of ``metrics.jsonl``, the copy (an empty list if there is none yet); for people
    and tests: commands read the rows from the checkpoint."""
    path = os.path.join(run_dir, METRICS)
    if not os.path.exists(path):
        return []
    with open_regular(path, "metrics file") as f:
        lines = f.read().decode("utf-8", "replace").splitlines()
    rows = []
    for i, line in enumerate(lines):
        if line.strip():
            try:
                rows.append(_json(line))
            except ValueError:
                raise CheckpointError(f"{path}: line {i + 1} is not JSON; resume the run to write the file "
                                      f"again from its checkpoint") from None
    return rows
