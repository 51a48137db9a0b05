"""Code snapshots: a run's training codes at a few epochs, for the explorer's training replay.

GAN Lab replays training step by step, and that is what makes it a teaching tool.  The lecture's
claim about holes is a claim about how training shapes the codes: an AE's regions pull apart,
a VAE's stay packed around N(0, I).  To show it, ``tinyvae train`` keeps the codes of a fixed
subsample of the training images at ``COUNT`` epochs evenly spaced over the run, and
``tinyvae explore`` turns each into a plane of codes, holes and a hole score
(:func:`tinyvae.app.explore_data.replay_data`).

**What is kept.**  ``RUN_DIR/snapshots.npz`` (``SNAPSHOTS``), written whole or not at all
(:mod:`tinyvae.base.atomic`) after the epoch's checkpoint, holds

* ``mark``: the text ``MARK``, so that a file of the user's of the same name is never written over;
* ``epochs``: (S,) the epochs, ascending, S <= ``COUNT``;
* ``index``: (n,) the training images whose codes are kept, ascending: all of them, or a random
  subsample (its own generator, seeded by the run's seed) when all would not fit ``BUDGET``;
* ``codes``: (S, n, Z) float32, the code of each kept image at each epoch, as
  :func:`tinyvae.studies.holes.training_codes` defines it: g_phi(x) for an AE, one draw
  z ~ q(z|x) for a VAE (from a generator of its own, so training's random numbers are untouched
  and a resumed run stays bit-for-bit a straight one).

**The size budget.**  ``BUDGET`` bytes of codes in all: n = min(N, BUDGET / (4 Z COUNT)), so
60,000 MNIST codes at Z = 2, 6,250 at Z = 20 (4 MB at most).

**Which epochs.**  ``round(linspace(1, E, COUNT))`` for a run of E epochs: the first epoch, the
last, and six between.  A run resumed to more epochs keeps what it has and adds the new
schedule's later epochs; when that makes more than COUNT, the snapshot whose neighbours are
closest together is dropped until COUNT remain (the first and the last are always kept).

Shapes: ``S`` snapshots, ``n`` kept codes, ``Z`` latents.
"""
import os
import sys
import zipfile
from typing import NamedTuple

import numpy as np

from ..base.atomic import atomic_write
from ..studies import holes

SNAPSHOTS = "snapshots.npz"
MARK = "tinyvae code snapshots, version 1"
COUNT = 8                  # snapshots per run
BUDGET = 4_000_000         # bytes of codes (float32) in the file, all snapshots together
_said = set()              # the folders already warned about (one note per folder and process)


class Snapshots(NamedTuple):
    epochs: np.ndarray     # (S,) int64, ascending
    index: np.ndarray      # (n,) int64, the kept training images, ascending
    codes: np.ndarray      # (S, n, Z) float32


def schedule(epochs, count=COUNT):
    """The epochs a run of ``epochs`` epochs keeps: round(linspace(1, epochs, count)), unique."""
    return sorted({int(round(e)) for e in np.linspace(1, epochs, count)})


def kept_index(n_train, Z, seed, count=COUNT, budget=BUDGET):
    """The training images whose codes are kept: all of them, or min(N, budget / (4 Z count))
    of them at random (seeded by the run's ``seed``), ascending.  (n,) int64."""
    keep = max(2, budget // (4 * Z * count))
    if n_train <= keep:
        return np.arange(n_train, dtype=np.int64)
    return np.sort(np.random.default_rng((seed, 5)).choice(n_train, keep, replace=False)).astype(np.int64)


def codes_at(model, x, epoch, seed):
    """The codes of ``x`` (n, D) as holes.training_codes defines them, for the snapshot of
    ``epoch``: (n, Z) float32.  A VAE's draw has its own generator, seeded by (seed, epoch)."""
    return holes.training_codes(model, x, np.random.default_rng((seed, int(epoch), 7))).astype(np.float32)


def thin(epochs, count=COUNT):
    """Positions of ``epochs`` (ascending) to keep, at most ``count``: drop the interior snapshot
    whose two neighbours are closest together until ``count`` remain."""
    keep = list(range(len(epochs)))
    while len(keep) > count:
        gaps = [epochs[keep[i + 1]] - epochs[keep[i - 1]] for i in range(1, len(keep) - 1)]
        keep.pop(1 + int(np.argmin(gaps)))
    return keep


def keep(run_dir, model, x_train, cfg, epoch):
    """The trainer's hook, after each epoch's checkpoint: at an epoch of :func:`schedule`, add
    this epoch's codes to ``RUN_DIR/snapshots.npz`` (written atomically)."""
    if epoch not in schedule(cfg.epochs):
        return
    path = os.path.join(run_dir, SNAPSHOTS)
    if os.path.lexists(path) and not _ours(path):
        _note(run_dir, f"note: {path} is not a file tinyvae wrote, so it is left as it is and this run keeps "
                       f"no code snapshots (the explorer's replay); move it away to keep them")
        return
    index = kept_index(len(x_train), model.Z, cfg.seed)
    try:
        old = read(run_dir, len(x_train), model.Z, epoch)
    except ValueError:                       # ours, but damaged: begin again
        old = None
    if old is None or not np.array_equal(old.index, index):
        old = Snapshots(np.zeros(0, np.int64), index, np.zeros((0, len(index), model.Z), np.float32))
    epochs = np.append(old.epochs[old.epochs < epoch], epoch)                    # (S + 1,)
    codes = np.concatenate([old.codes[old.epochs < epoch], codes_at(model, x_train[index], epoch, cfg.seed)[None]])
    chosen = thin(list(epochs))
    arrays = {"mark": np.array(MARK), "epochs": epochs[chosen].astype(np.int64), "index": index,
              "codes": codes[chosen]}
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _ours(path):
    try:
        with zipfile.ZipFile(path) as z, z.open("mark.npy") as f:
            return str(np.lib.format.read_array(f, allow_pickle=False)) == MARK
    except Exception:        # any damage at all: not a file we can recognise as ours
        return False


def _note(run_dir, text):
    if run_dir not in _said:
        _said.add(run_dir)
        print(text, file=sys.stderr)


def read(run_dir, n_train, Z, epoch):
    """The run's snapshots, checked byte by byte against the run (``n_train`` training images,
    ``Z`` latents, at ``epoch``), or None when the run has none (a run folder made before them).

    Raises ValueError, with the reason, for a file that is not a whole snapshot file of this run.
    Snapshots of epochs after ``epoch`` (a checkpoint restored by hand) are left out.
    """
    path = os.path.join(run_dir, SNAPSHOTS)
    if not os.path.lexists(path):
        return None
    if not os.path.isfile(path) or os.path.islink(path):
        raise ValueError("it is not a regular file")
    limit = 2 * BUDGET + 1_000_000
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            names = sorted(i.filename for i in infos)
            if names != ["codes.npy", "epochs.npy", "index.npy", "mark.npy"]:
                raise ValueError(f"it holds {names}")
            if sum(i.file_size for i in infos) > limit:
                raise ValueError(f"it is larger than {limit} bytes")
            arrays = {}
            for info in infos:
                with z.open(info) as f:
                    arrays[info.filename[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
    except ValueError:
        raise
    except Exception as err:      # a damaged zip or .npy: BadZipFile, EOFError, OSError, zlib.error ...
        raise ValueError(f"it cannot be read ({type(err).__name__})") from None
    mark, epochs, index, codes = (arrays[k] for k in ("mark", "epochs", "index", "codes"))
    if mark.shape != () or str(mark) != MARK:
        raise ValueError("it does not carry tinyvae's mark")
    if epochs.dtype.kind != "i" or index.dtype.kind != "i" or codes.dtype != np.float32:
        raise ValueError("its arrays are not of the kinds they should be")
    S = len(epochs)
    if (epochs.ndim != 1 or index.ndim != 1 or codes.shape != (S, len(index), Z) or not 1 <= S
            or len(index) < 2):
        raise ValueError(f"its shapes do not belong to a run of {Z} latents")
    if np.any(np.diff(epochs) <= 0) or epochs[0] < 1 or np.any(np.diff(index) <= 0) or index[0] < 0 \
            or index[-1] >= n_train:
        raise ValueError(f"its epochs or its images are not those of this run of {n_train} training images")
    if not np.all(np.isfinite(codes)):
        raise ValueError("it holds codes that are not finite")
    now = epochs <= epoch
    if not np.any(now):
        return None
    return Snapshots(epochs[now].astype(np.int64), index.astype(np.int64), codes[now])


def for_page(run_dir, n_train, Z, epoch):
    """The run's snapshots for the explorer's replay, or None: a run folder made before them has
    none, and a damaged file costs only the replay, with a one-line note that names the run."""
    try:
        return read(run_dir, n_train, Z, epoch)
    except ValueError as err:
        print(f"note: {os.path.join(run_dir, SNAPSHOTS)} cannot be used ({err}), so the page of {run_dir} has "
              f"no training replay; the next training of the run writes it again", file=sys.stderr)
        return None
