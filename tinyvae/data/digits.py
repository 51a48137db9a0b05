"""The embedded UCI digits, tinyvae's default data set: no download, 1,797 images of 8x8.

It is the UCI *Optical Recognition of Handwritten Digits* data set by E. Alpaydin and C.
Kaynak (Bogazici University, 1998; https://archive.ics.uci.edu/dataset/80), the 1,797 images
of its test file ``optdigits.tes``, as copied in scikit-learn
(``sklearn/datasets/data/digits.csv.gz``).  Each image is 8x8 and each pixel counts the "on"
pixels in a 4x4 block of a 32x32 bitmap, so it takes the values 0..16; we divide by 16.
Cite Alpaydin & Kaynak if you use them.

``files/digits.gz`` is a gzip of 1,797 rows of 65 unsigned bytes each, with no
header: the 64 pixels of the 8x8 image row by row (0..16), then the label (0..9).  Read it
with ``np.frombuffer(gzip.decompress(raw), np.uint8).reshape(1797, 65)``.

The digits have no official split, so we make a fixed, stratified one: within each class,
a permutation from ``default_rng(0)`` puts round(n_class / 6) images in the test set and
the rest in training, 1,498 / 299 in all.  It never changes with ``seed``.
"""
import gzip
import zlib
from pathlib import Path

import numpy as np

from ..base.errors import DataError, one_line
from .dataset import Dataset

DIGITS_FILE = Path(__file__).parent / "files" / "digits.gz"
DIGITS_N = 1797                 # images in the file
DIGITS_SIDE = 8                 # each is 8x8
DIGITS_MAX = 16                 # pixels count 0..16 "on" bits
DIGITS_TEST_FRACTION = 1 / 6    # share of each class that goes to the test set
DIGITS_SPLIT_SEED = 0           # the split is fixed; it does not follow load(seed=...)


def load_digits():
    """The 1,797 UCI 8x8 digits, scaled to [0, 1], with the fixed stratified split.

    Returns
    -------
    Dataset
        x_train (1498, 64), x_test (299, 64), float32 in steps of 1/16; labels 0..9.
    """
    try:
        raw = gzip.decompress(DIGITS_FILE.read_bytes())
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"the built-in digits file {DIGITS_FILE} cannot be read ({one_line(err)}); "
                        "reinstall tinyvae") from None
    if len(raw) != DIGITS_N * (DIGITS_SIDE ** 2 + 1):
        raise DataError(f"the built-in digits file {DIGITS_FILE} holds {len(raw)} bytes, "
                        f"not {DIGITS_N * 65}; reinstall tinyvae")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(DIGITS_N, 65)    # (1797, 64 pixels + label)
    x = rows[:, :64].astype(np.float32) / DIGITS_MAX                    # (1797, 64) in [0, 1]
    y = rows[:, 64].astype(np.int64)                                    # (1797,)

    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    train, test = stratified_split(y, DIGITS_TEST_FRACTION, rng)
    return Dataset("digits", x[train], y[train], x[test], y[test], (DIGITS_SIDE, DIGITS_SIDE))


def stratified_split(y, test_fraction, rng):
    """Split indices so that each class sends round(n_class * test_fraction) to the test set.

    Parameters
    ----------
    y : (N,) int labels
    test_fraction : float in [0, 1]
    rng : numpy.random.Generator
        Permutes each class (classes are visited in increasing order).

    Returns
    -------
    train, test : int64 index arrays, each sorted, together a partition of range(N)
    """
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))   # this class, shuffled
        n_test = round(len(idx) * test_fraction)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    empty = [np.zeros(0, dtype=np.int64)]
    return np.sort(np.concatenate(train + empty)), np.sort(np.concatenate(test + empty))
