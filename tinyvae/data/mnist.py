"""MNIST and Fashion-MNIST from their four IDX files, from a folder you give or the download cache."""
from pathlib import Path

import numpy as np

from ..base.errors import DataError, UsageError
from .dataset import Dataset
from .download import CHECKSUMS, download
from .idx import read_idx

# The four IDX files of MNIST and Fashion-MNIST, as (images, labels) for train and test.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# torchvision keeps the same files in ROOT/MNIST/raw and ROOT/FashionMNIST/raw.
TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def load_idx_dataset(name, data_dir=None):
    """Load MNIST or Fashion-MNIST from four IDX files.

    With ``data_dir``, the files are looked for in ``DIR``, ``DIR/raw`` and torchvision's
    ``DIR/MNIST/raw`` (``DIR/FashionMNIST/raw``), gzipped or not.  Without it, they are
    downloaded into the cache (:mod:`tinyvae.data.download`) unless already there.  Any counts
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
