"""Data sets by name: the embedded UCI digits (default), MNIST and Fashion-MNIST, and the shapes.

Every loader returns a :class:`tinyvae.data.dataset.Dataset` of flattened images with values in [0, 1]::

    from tinyvae import data
    ds = data.load("digits")                  # ds.x_train (1498, 64), ds.x_test (299, 64)
    ds = data.load("mnist", data_dir="~/mnist")   # or no data_dir: download once, then cache

Where each comes from: :mod:`.digits` (shipped inside tinyvae), :mod:`.shapes` (drawn by
code), and for MNIST and Fashion-MNIST four IDX files (:mod:`.mnist`, :mod:`.idx`), read
from a folder you give or downloaded into a cache with their MD5 sums checked
(:mod:`.download`).

Binarization (``load(..., binarize=...)``):

* ``"none"``: keep the grey levels; the Bernoulli decoder uses intensities in [0, 1] as
  its targets, as the pytorch/examples VAE does.
* ``"static"``: sample each pixel x ~ Bernoulli(intensity) once, with a generator fixed by
  ``seed``, for train and test alike.
* ``"dynamic"``: the data are returned unchanged; the trainer draws a fresh sample for
  each minibatch with :func:`tinyvae.noise.binarize`.
"""
from dataclasses import replace

import numpy as np

from ..base.choices import BINARIZE, DATASETS
from ..base.errors import UsageError
from ..noise import binarize as binarize_pixels
from . import shapes
from .dataset import Dataset
from .digits import load_digits
from .mnist import load_idx_dataset

__all__ = ["Dataset", "load", "load_idx_dataset"]


# --- the one entry point ----------------------------------------------------------------

def load(name="digits", data_dir=None, binarize="none", seed=0):
    """Load a data set by name and binarize it as asked.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist", "shapes", "shapes-equal"}
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
    if data_dir is not None and name in ("digits", "shapes", "shapes-equal"):
        raise UsageError(f"--data-dir is only for mnist and fashion-mnist; {name} is built in, "
                         "drop --data-dir")

    if name == "digits":
        ds = load_digits()
    elif name == "shapes":
        ds = shapes.load(seed=seed)
    elif name == "shapes-equal":
        ds = shapes.load(seed=seed, equal_range=True)
    else:
        ds = load_idx_dataset(name, data_dir)

    if binarize == "static":
        rng = np.random.default_rng((seed, 1))   # a stream of its own, apart from default_rng(seed)
        ds = replace(ds, x_train=binarize_pixels(ds.x_train, rng),
                     x_test=binarize_pixels(ds.x_test, rng))
    return ds
