"""Data sets by name: the embedded UCI digits (default), MNIST and Fashion-MNIST, and the shapes.

Every loader returns a :class:`tinyvae.dataset.Dataset` of flattened images with values in [0, 1]::

    from tinyvae import data
    ds = data.load("digits")                  # ds.x_train (1498, 64), ds.x_test (299, 64)
    ds = data.load("mnist", data_dir="~/mnist")   # or no data_dir: download once, then cache

Where each comes from: :mod:`tinyvae.digits` (shipped inside tinyvae), :mod:`tinyvae.shapes`
(drawn by code), and for MNIST and Fashion-MNIST four IDX files (:mod:`tinyvae.idx`), read
from a folder you give or downloaded into a cache with their MD5 sums checked
(:mod:`tinyvae.download`).

Binarization (``load(..., binarize=...)``):

* ``"none"``: keep the grey levels; the Bernoulli decoder uses intensities in [0, 1] as
  its targets, as the pytorch/examples VAE does.
* ``"static"``: sample each pixel x ~ Bernoulli(intensity) once, with a generator fixed by
  ``seed``, for train and test alike.
* ``"dynamic"``: the data are returned unchanged; the trainer draws a fresh sample for
  each minibatch with :func:`binarize_dynamic`.
"""
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import shapes
from .choices import BINARIZE, DATASETS
from .dataset import Dataset
from .digits import load_digits
from .download import CHECKSUMS, download
from .errors import DataError, UsageError
from .idx import read_idx

# The four IDX files of MNIST and Fashion-MNIST, as (images, labels) for train and test.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# torchvision keeps the same files in ROOT/MNIST/raw and ROOT/FashionMNIST/raw.
TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


# --- the one entry point ----------------------------------------------------------------

def load(name="digits", data_dir=None, binarize="none", seed=0):
    """Load a data set by name and binarize it as asked.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist", "shapes"}
        Which data set.
    data_dir : str or Path, optional
        Folder holding the MNIST or Fashion-MNIST IDX files; without it they are
        downloaded into the cache.  Only for those two data sets.
    binarize : {"none", "static", "dynamic"}
        See the module docstring.  "dynamic" returns the data unchanged.
    seed : int
        Seeds the static binarization and the shapes generator (not the digits split).

    Returns
    -------
    Dataset

    Raises
    ------
    UsageError
        For an unknown name or binarize value, or a data_dir with a built-in data set.
    DataError
        For a missing, damaged or unverifiable data file.
    """
    if name not in DATASETS:
        raise UsageError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if binarize not in BINARIZE:
        raise UsageError(f"unknown binarization {binarize!r}; choose one of {', '.join(BINARIZE)}")
    if data_dir is not None and name in ("digits", "shapes"):
        raise UsageError(f"--data-dir is only for mnist and fashion-mnist; {name} is built in, "
                         "drop --data-dir")

    if name == "digits":
        ds = load_digits()
    elif name == "shapes":
        ds = shapes.load(seed=seed)
    else:
        ds = load_idx_dataset(name, data_dir)

    if binarize == "static":
        rng = np.random.default_rng((seed, 1))   # a stream of its own, apart from default_rng(seed)
        ds = replace(ds, x_train=binarize_dynamic(ds.x_train, rng),
                     x_test=binarize_dynamic(ds.x_test, rng))
    return ds


def load_for_run(cfg, run_dir, D=None, data_dir=None):
    """The data set a run's settings ``cfg`` name (from ``data_dir`` if given), refused with
    one line if its images do not have the ``D`` pixels the run's checkpoint was trained on."""
    data_dir = data_dir or cfg.data_dir
    ds = load(cfg.data, data_dir=data_dir, binarize=cfg.binarize, seed=cfg.seed)
    if D is not None and ds.D != D:
        where = f"in {data_dir} " if data_dir else ""
        raise DataError(f"the {cfg.data} images {where}have {ds.D} pixels, but {run_dir} was trained on "
                        f"images of {D} pixels; the run is intact: pass --data-dir with the data it "
                        f"was trained on")
    return ds


# --- binarization -----------------------------------------------------------------------

def binarize_dynamic(x, rng):
    """Draw x_bin ~ Bernoulli(x) pixel by pixel.

    Called once by ``load(binarize="static")``, and by the trainer on every minibatch for
    ``binarize="dynamic"``.  P(u < p) = p for u ~ U[0, 1), so a pixel of intensity p is 1
    with probability p: 0 stays 0 and 1 stays 1.

    Parameters
    ----------
    x : (N, D) array with values in [0, 1]
    rng : numpy.random.Generator

    Returns
    -------
    (N, D) float32 array of 0s and 1s
    """
    u = rng.random(x.shape, dtype=np.float32)           # (N, D), u ~ U[0, 1)
    return (u < x).astype(np.float32)


# --- MNIST and Fashion-MNIST ------------------------------------------------------------

def load_idx_dataset(name, data_dir=None):
    """Load MNIST or Fashion-MNIST from four IDX files.

    With ``data_dir``, the files are looked for in ``DIR``, ``DIR/raw`` and torchvision's
    ``DIR/MNIST/raw`` (``DIR/FashionMNIST/raw``), gzipped or not.  Without it, they are
    downloaded into the cache (:mod:`tinyvae.download`) unless already there.  Any counts
    and image sizes are accepted, as long as images and labels agree.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    data_dir : str or Path, optional

    Returns
    -------
    Dataset
        For the real files, x_train (60000, 784) and x_test (10000, 784) float32 in [0, 1]
        (pixel / 255), labels int64, image_shape (28, 28).
    """
    if name not in CHECKSUMS:
        raise UsageError(f"unknown IDX data set {name!r}; choose one of {', '.join(CHECKSUMS)}")
    if data_dir is None:
        folders = [download(name)]
    else:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise DataError(f"data folder {root} does not exist; check --data-dir, "
                            "or leave it out to download the files")
        folders = [root, root / "raw", root / TORCHVISION_FOLDERS[name] / "raw"]

    split = {}
    for part, (images_name, labels_name) in IDX_FILES.items():
        images_path = _find(images_name, folders)
        labels_path = _find(labels_name, folders)
        images = read_idx(images_path, ndim=3)                  # (N, H, W) uint8
        labels = read_idx(labels_path, ndim=1)                  # (N,) uint8
        if min(images.shape) == 0:                              # nothing a model could learn or test
            raise DataError(f"{images_path} holds {images.shape[0]} images of {images.shape[1]}x{images.shape[2]} "
                            f"pixels; a {part} set needs at least one image of at least 1x1 pixels, "
                            "get the file again")
        if len(images) != len(labels):
            raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                            f"{len(labels)} labels; the files do not belong together, get both again")
        split[part] = (images, labels)

    (train_images, y_train), (test_images, y_test) = split["train"], split["test"]
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(f"the {name} training images are {train_images.shape[1:]} but the test images "
                        f"are {test_images.shape[1:]}; the files come from different data sets, "
                        "get all four again")
    H, W = train_images.shape[1:]
    # uint8 -> float32 / 255 in one pass, without a second float32 copy at peak memory
    x_train = np.divide(train_images.reshape(len(train_images), H * W), np.float32(255),
                        dtype=np.float32)                                                # (N_train, H*W)
    x_test = np.divide(test_images.reshape(len(test_images), H * W), np.float32(255),
                       dtype=np.float32)                                                 # (N_test, H*W)
    return Dataset(name, x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), (H, W))


def _find(base, folders):
    """The first of ``base.gz`` or ``base`` found in ``folders``, or a DataError naming them."""
    for folder in folders:
        for file_name in (base + ".gz", base):
            if (folder / file_name).is_file():
                return folder / file_name
    where = " or ".join(str(f) for f in folders)
    raise DataError(f"cannot find {base}.gz (or {base}) in {where}; "
                    "put the four IDX files there, or leave out --data-dir to download them")
