"""Data sets: the embedded UCI digits (default), MNIST and Fashion-MNIST, and the procedural shapes.

Every loader returns a :class:`Dataset` of flattened images with values in [0, 1]::

    from tinyvae import data
    ds = data.load("digits")                  # ds.x_train (1498, 64), ds.x_test (299, 64)
    ds = data.load("mnist", data_dir="~/mnist")   # or no data_dir: download once, then cache

``digits`` (the default) needs no download: it ships inside tinyvae.  It is the UCI
*Optical Recognition of Handwritten Digits* data set by E. Alpaydin and C. Kaynak (Bogazici
University, 1998; https://archive.ics.uci.edu/dataset/80), the 1,797 images of its test file
``optdigits.tes``, as copied in scikit-learn (``sklearn/datasets/data/digits.csv.gz``).
Each image is 8x8 and each pixel counts the "on" pixels in a 4x4 block of a 32x32 bitmap,
so it takes the values 0..16; we divide by 16.  Cite Alpaydin & Kaynak if you use them.

``data_files/digits.gz`` is a gzip of 1,797 rows of 65 unsigned bytes each, with no
header: the 64 pixels of the 8x8 image row by row (0..16), then the label (0..9).  Read it
with ``np.frombuffer(gzip.decompress(raw), np.uint8).reshape(1797, 65)``.

The digits have no official split, so we make a fixed, stratified one: within each class,
a permutation from ``default_rng(0)`` puts round(n_class / 6) images in the test set and
the rest in training, 1,498 / 299 in all.  It never changes with ``seed``.

MNIST and Fashion-MNIST come as four IDX files (:func:`read_idx`).  ``load_idx_dataset``
reads them from a folder you give it, or downloads them into a cache and checks their MD5
sums.  Two environment variables steer the download:

* ``TINYVAE_DATA_DIR``: the cache folder (default ``~/.cache/tinyvae``); each data set
  gets a subfolder (``mnist``, ``fashion-mnist``).
* ``TINYVAE_MNIST_MIRROR``: a base URL that replaces the standard mirrors, for MNIST and
  Fashion-MNIST alike; it must serve the four files of the data set you load, under
  their standard names, with the published checksums.

Binarization (``load(..., binarize=...)``):

* ``"none"``: keep the grey levels; the Bernoulli decoder uses intensities in [0, 1] as
  its targets, as the pytorch/examples VAE does.
* ``"static"``: sample each pixel x ~ Bernoulli(intensity) once, with a generator fixed by
  ``seed``, for train and test alike.
* ``"dynamic"``: the data are returned unchanged; the trainer draws a fresh sample for
  each minibatch with :func:`binarize_dynamic`.
"""
import gzip
import hashlib
import math
import os
import struct
import sys
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from tinyvae.errors import DataError, UsageError

DATASETS = ("digits", "mnist", "fashion-mnist", "shapes")
BINARIZE = ("none", "static", "dynamic")

DIGITS_FILE = Path(__file__).parent / "data_files" / "digits.gz"
DIGITS_N = 1797                 # images in the file
DIGITS_SIDE = 8                 # each is 8x8
DIGITS_MAX = 16                 # pixels count 0..16 "on" bits
DIGITS_TEST_FRACTION = 1 / 6    # share of each class that goes to the test set
DIGITS_SPLIT_SEED = 0           # the split is fixed; it does not follow load(seed=...)

# The four IDX files of MNIST and Fashion-MNIST, as (images, labels) for train and test.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# Where to download from, in order of preference.  TINYVAE_MNIST_MIRROR replaces the list.
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",     # torchvision's first mirror
        "http://yann.lecun.com/exdb/mnist/",                  # the original site
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

# Published MD5 sums of the gzipped files (the same as torchvision's).
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

# torchvision keeps the same files in ROOT/MNIST/raw and ROOT/FashionMNIST/raw.
TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}

DOWNLOAD_TIMEOUT = 60           # seconds without data before a mirror counts as down
CHUNK = 1 << 20                 # download and hash 1 MiB at a time


@dataclass
class Dataset:
    """A train/test split of flattened images with values in [0, 1].

    x_train : (N_train, D) float32      y_train : (N_train,) int64 labels
    x_test  : (N_test, D) float32       y_test  : (N_test,) int64 labels
    image_shape : (H, W) with H * W == D
    factors_train / factors_test : (N, K) int64 factor indices, or None when unknown
    factor_names : names of the K factors, and factor_sizes : how many values each takes
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: Tuple[int, int]
    factors_train: Optional[np.ndarray] = None
    factors_test: Optional[np.ndarray] = None
    factor_names: Tuple[str, ...] = ()
    factor_sizes: Tuple[int, ...] = ()

    @property
    def D(self) -> int:
        return self.x_train.shape[1]


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
        from tinyvae import shapes          # imported here: only this data set needs it
        ds = shapes.load(seed=seed)
    else:
        ds = load_idx_dataset(name, data_dir)

    if binarize == "static":
        rng = np.random.default_rng((seed, 1))   # a stream of its own, apart from default_rng(seed)
        ds = replace(ds, x_train=binarize_dynamic(ds.x_train, rng),
                     x_test=binarize_dynamic(ds.x_test, rng))
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


# --- the embedded UCI digits ------------------------------------------------------------

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
        raise DataError(f"the built-in digits file {DIGITS_FILE} cannot be read ({_one_line(err)}); "
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


# --- IDX files --------------------------------------------------------------------------
#
# An IDX file (LeCun's format for MNIST) is a header and then the raw data, big-endian:
#
#   bytes 0-1   0x00 0x00
#   byte  2     data type: 0x08 = unsigned byte (the only one tinyvae reads)
#   byte  3     number of dimensions: 3 for images (N, H, W), 1 for labels (N,)
#   then        one 4-byte size per dimension, then prod(sizes) bytes of data, row-major.
#
# So the magic number (bytes 0-3 read as one integer) is 0x00000803 for images and
# 0x00000801 for labels.

IDX_UBYTE = 0x08
REDOWNLOAD = "delete it and download again"      # the fix for a damaged file


def read_idx(path, ndim=None):
    """Read an IDX file of unsigned bytes, gzip-compressed or raw.

    A file is unzipped when it starts with the gzip signature, whatever its name (and a raw
    IDX file is read even under a .gz name, as some browsers unzip downloads).  Every
    kind of damage raises a :class:`DataError` with its own one-line message: a missing or
    empty file, a name ending in .gz on data that is not gzip, a cut or corrupt gzip
    stream, bytes that are not IDX, a wrong magic number, a header or payload cut short,
    and extra bytes after the payload.

    Parameters
    ----------
    path : str or Path
    ndim : int, optional
        The number of dimensions required (3 for images, 1 for labels); any if None.

    Returns
    -------
    numpy.ndarray of uint8 with the shape the header gives
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; check the path or download the file again")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror}); check that it is a readable file") from None
    if not raw:
        raise DataError(f"{path} is empty (0 bytes); {REDOWNLOAD}")

    if raw[:2] == b"\x1f\x8b":                          # the gzip signature
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise DataError(f"{path} is truncated: its gzip stream stops before the end; "
                            f"{REDOWNLOAD}") from None
        except (OSError, zlib.error) as err:
            raise DataError(f"{path} is a damaged gzip file ({_one_line(err)}); "
                            f"{REDOWNLOAD}") from None
        if not raw:
            raise DataError(f"{path} unzips to nothing (0 bytes); {REDOWNLOAD}")
    elif raw[:2] != b"\x00\x00" and path.suffix == ".gz":
        raise DataError(f"{path} is not gzip data although its name ends in .gz "
                        f"(it starts with bytes {raw[:4].hex(' ')}); {REDOWNLOAD}")

    if raw[:2] != b"\x00\x00":
        raise DataError(f"{path} is not an IDX file (it starts with bytes {raw[:4].hex(' ')}, "
                        f"not 00 00); {REDOWNLOAD}")
    if len(raw) < 4:
        raise DataError(f"{path} is truncated: its IDX header stops after {len(raw)} of 4 magic bytes; "
                        f"{REDOWNLOAD}")
    dtype, n_dims = raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    if dtype != IDX_UBYTE:
        raise DataError(f"{path} has IDX magic number 0x{magic:08X}: data type 0x{dtype:02X} is not "
                        "unsigned bytes (0x08); tinyvae reads only uint8 IDX files like MNIST's")
    if n_dims == 0:
        raise DataError(f"{path} has IDX magic number 0x{magic:08X}, which declares no dimensions; "
                        f"{REDOWNLOAD}")
    if ndim is not None and n_dims != ndim:
        raise DataError(f"{path} has IDX magic number 0x{magic:08X} ({n_dims}-d data) where "
                        f"0x{0x800 + ndim:08X} ({ndim}-d) was expected; "
                        "check that the file names are not swapped")

    header_len = 4 + 4 * n_dims
    if len(raw) < header_len:
        raise DataError(f"{path} is truncated: its IDX header needs {header_len} bytes, "
                        f"found {len(raw)}; {REDOWNLOAD}")
    shape = struct.unpack(f">{n_dims}I", raw[4:header_len])    # (N,) or (N, H, W)
    expected = math.prod(shape)                         # Python ints: no overflow
    found = len(raw) - header_len
    what = "labels" if n_dims == 1 else "pixels"
    if found < expected:
        raise DataError(f"{path} is truncated: expected {expected} bytes of {what}, found {found}; "
                        f"{REDOWNLOAD}")
    if found > expected:
        raise DataError(f"{path} has {found - expected} extra bytes after its {expected} bytes of "
                        f"{what}; it is not a clean IDX file, {REDOWNLOAD}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape).copy()


def write_idx(path, array):
    """Write a uint8 array as an IDX file, gzip-compressed if the name ends in .gz.

    The file is written under a temporary name and renamed when complete, so a failed
    write never leaves a half-written file behind.

    Parameters
    ----------
    path : str or Path
    array : numpy.ndarray of uint8 with at least one dimension
    """
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim < 1:
        raise ValueError(f"write_idx writes uint8 arrays of at least one dimension, "
                         f"not {array.dtype} of shape {array.shape}")
    header = bytes([0, 0, IDX_UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array).tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)      # mtime=0: same array, same bytes
    _write_atomically(path, payload)


def _one_line(err):
    """An exception's text squeezed onto one line, to quote inside a DataError."""
    return " ".join(str(err).split())


def _temporary_name(path):
    """A hidden name next to ``path`` for a file still being written: .NAME.PID.part"""
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def _write_atomically(path, payload):
    """Write bytes to ``path`` through a temporary file in the same folder and os.replace."""
    tmp = _temporary_name(path)
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# --- MNIST and Fashion-MNIST ------------------------------------------------------------

def load_idx_dataset(name, data_dir=None):
    """Load MNIST or Fashion-MNIST from four IDX files.

    With ``data_dir``, the files are looked for in ``DIR``, ``DIR/raw`` and torchvision's
    ``DIR/MNIST/raw`` (``DIR/FashionMNIST/raw``), gzipped or not.  Without it, they are
    downloaded into the cache (see the module docstring) unless already there.  Any counts
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


def cache_dir(name):
    """The folder the data set ``name`` is downloaded into: $TINYVAE_DATA_DIR/name."""
    root = os.environ.get("TINYVAE_DATA_DIR") or Path.home() / ".cache" / "tinyvae"
    return Path(root).expanduser() / name


def mirrors(name):
    """The base URLs to try for ``name``: $TINYVAE_MNIST_MIRROR alone if set, else MIRRORS."""
    override = os.environ.get("TINYVAE_MNIST_MIRROR")
    if override:
        return (override if override.endswith("/") else override + "/",)
    return MIRRORS[name]


def download(name):
    """Make sure the four files of ``name`` are in the cache and pass their checksums.

    A cached file that verifies is kept; any other is fetched again, mirror by mirror.
    Each download goes to a temporary file that is renamed only once its MD5 sum matches,
    so the cache never holds a partial or unverified file.

    Returns
    -------
    Path
        The cache folder holding the files.
    """
    folder = cache_dir(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create the cache folder {folder} ({err.strerror}); "
                        "set TINYVAE_DATA_DIR to a writable folder, or pass --data-dir") from None
    for file_name, md5 in CHECKSUMS[name].items():
        path = folder / file_name
        if path.is_file() and _md5(path) == md5:
            continue                                    # cached and verified
        _fetch(name, file_name, md5, path)
    return folder


def _md5(path):
    """The MD5 sum of a file as 32 hex digits, read 1 MiB at a time."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(name, file_name, md5, path):
    """Download ``file_name`` from the first mirror that gives it with the right MD5 sum."""
    import urllib.request                       # imported here: slow, and only downloads need it
    import urllib.error
    import http.client
    from tqdm import tqdm

    failures = []
    bad_checksum = None
    for base in mirrors(name):
        url = base + file_name
        tmp = _temporary_name(path)
        try:
            f = open(tmp, "wb")
        except OSError as err:
            raise DataError(f"cannot write into the cache folder {path.parent} ({err.strerror}); "
                            "set TINYVAE_DATA_DIR to a writable folder, or pass --data-dir") from None
        try:
            digest = hashlib.md5()
            with f, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=file_name, file=sys.stderr, leave=False) as bar:
                    for chunk in iter(lambda: response.read(CHUNK), b""):
                        f.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
            if total is not None and bar.n != total:    # urllib does not flag a cut connection
                raise ConnectionError(f"connection closed after {bar.n} of {total} bytes")
            got = digest.hexdigest()
            if got == md5:
                os.replace(tmp, path)                   # verified: now it may carry the real name
                return
            bad_checksum = f"{url} failed its MD5 checksum (expected {md5}, got {got})"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            failures.append(f"{url}: {_one_line(getattr(err, 'reason', None) or err)}")
        finally:
            if tmp.exists():
                tmp.unlink()                            # never leave a partial file behind

    if bad_checksum:
        raise DataError(f"{bad_checksum}; the download is damaged or the mirror changed, "
                        "try again later or pass --data-dir with your own copy")
    raise DataError(f"cannot download {file_name} ({'; '.join(failures)}); check your connection, "
                    "or get the four files yourself and pass --data-dir DIR")
