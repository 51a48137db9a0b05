"""Downloading MNIST and Fashion-MNIST once into a cache, every file checked against its MD5 sum.

Two environment variables steer the download:

* ``TINYVAE_DATA_DIR``: the cache folder (default ``~/.cache/tinyvae``); each data set
  gets a subfolder (``mnist``, ``fashion-mnist``).
* ``TINYVAE_MNIST_MIRROR``: a base URL (``http://``, ``https://`` or ``file://``) that
  replaces the standard mirrors, for MNIST and Fashion-MNIST alike; it must serve the four
  files of the data set you load, under their standard names, with the published checksums.
* ``TINYVAE_DOWNLOAD_STALL``: the stall window, in seconds (default 30).  A download stalls
  when a whole window passes with less than ``MIN_RATE`` bytes per second on average (or
  with no byte at all: the socket's timeout is one window).  The rate is judged window by
  window, so a slow but steady mirror is never cut however long the file takes, and a
  mirror that sends a byte every few seconds cannot hold the download at 0% for ever.
  Whether the file is complete is judged once, on the whole file's count of bytes.

The download is hand-written rather than taken from pooch: the job is small (urllib, an
MD5 sum, a rename), and pooch would bring requests, platformdirs and packaging, while its
timeout (requests') is also per read, so the stall rule would still have to be written here.
"""
import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..base.atomic import remove_dead_temporary_files, temporary_name
from ..base.errors import DataError, one_line

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

STALL_SECONDS = 30              # default of TINYVAE_DOWNLOAD_STALL: how long a mirror may be too slow
MIN_RATE = 10 * 1024            # bytes per second; MNIST's 9.9 MB would take 16 minutes at this rate
CHUNK = 1 << 20                 # download and hash up to 1 MiB at a time


def cache_dir(name):
    """The folder the data set ``name`` is downloaded into: $TINYVAE_DATA_DIR/name."""
    root = os.environ.get("TINYVAE_DATA_DIR") or Path.home() / ".cache" / "tinyvae"
    return Path(root).expanduser() / name


def mirrors(name):
    """The base URLs to try for ``name``: $TINYVAE_MNIST_MIRROR alone if set, else MIRRORS."""
    override = os.environ.get("TINYVAE_MNIST_MIRROR")
    if override:
        if not override.lower().startswith(("http://", "https://", "file://")):
            bare = override.split("://")[-1].lstrip("/")
            raise DataError(f"TINYVAE_MNIST_MIRROR={override!r} is not a URL with a scheme; set it to "
                            f"'https://{bare}' (or 'http://{bare}'), or unset it for the standard mirrors")
        return (override if override.endswith("/") else override + "/",)
    return MIRRORS[name]


def stall_seconds():
    """$TINYVAE_DOWNLOAD_STALL as a number of seconds > 0, or the default."""
    text = os.environ.get("TINYVAE_DOWNLOAD_STALL")
    try:
        value = float(text) if text else STALL_SECONDS
    except ValueError:
        value = -1
    if not 0 < value < 1e6:
        raise DataError(f"TINYVAE_DOWNLOAD_STALL={text!r} is not a number of seconds > 0; set it to e.g. 120 "
                        f"or unset it")
    return value


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
        remove_dead_temporary_files(folder)           # a killed download's partial files, and nothing else
    except OSError as err:
        raise DataError(f"cannot use the cache folder {folder} ({err.strerror}); "
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
    failures = []
    bad_checksum = None
    stall = stall_seconds()
    for base in mirrors(name):
        url = base + file_name
        tmp = Path(temporary_name(path))                # a partial file: the pattern atomic's clean-up knows
        try:
            f = open(tmp, "xb")
        except OSError as err:
            raise DataError(f"cannot write into the cache folder {path.parent} ({err.strerror}); "
                            "set TINYVAE_DATA_DIR to a writable folder, or pass --data-dir") from None
        try:
            digest = hashlib.md5()
            with f, urllib.request.urlopen(url, timeout=stall) as response:
                total = _content_length(response)
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=file_name, file=sys.stderr, leave=False, disable=None) as bar:
                    received = _copy(response, f, digest, bar, stall)
            if total is not None and received != total:    # urllib does not flag a cut connection
                raise ConnectionError(f"connection closed after {received} of {total} bytes")
            got = digest.hexdigest()
            if got == md5:
                os.replace(tmp, path)                   # verified: now it may carry the real name
                return
            bad_checksum = f"{url} failed its MD5 checksum (expected {md5}, got {got})"
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            failures.append(f"{url}: {one_line(getattr(err, 'reason', None) or err, 120)}")
        finally:
            if tmp.exists():
                tmp.unlink()                            # never leave a partial file behind

    if bad_checksum:
        raise DataError(f"{bad_checksum}; the download is damaged or the mirror changed, "
                        "try again later or pass --data-dir with your own copy")
    raise DataError(f"cannot download {file_name} ({'; '.join(failures)}); check your connection, set "
                    "TINYVAE_MNIST_MIRROR to another mirror (or TINYVAE_DOWNLOAD_STALL to more seconds on a "
                    "slow link), or get the four files yourself and pass --data-dir DIR")


def _content_length(response):
    """The size the server announces, or None if it announces none (or nonsense)."""
    text = response.headers.get("Content-Length") or ""
    return int(text) if text.strip().isdigit() and int(text) > 0 else None


def _copy(response, f, digest, bar, stall):
    """Copy the response into ``f`` as it arrives; returns the whole file's count of bytes.

    The stall rule looks at windows of ``stall`` seconds: a window that ends with fewer than
    MIN_RATE bytes per second is a stall.  Each window has its own count; the file's count
    (``received``) runs on across windows, for the completeness check after the copy.
    """
    received, window_start, window_bytes = 0, time.monotonic(), 0
    # read1: what has arrived, without waiting for a whole chunk, so the rate is checked after
    # every arrival however slow (a window with no arrival at all ends in the socket's timeout)
    for chunk in iter(lambda: response.read1(CHUNK), b""):
        f.write(chunk)
        digest.update(chunk)
        bar.update(len(chunk))
        received += len(chunk)
        window_bytes += len(chunk)
        elapsed = time.monotonic() - window_start
        if elapsed >= stall:
            if window_bytes < MIN_RATE * elapsed:
                raise ConnectionError(f"stalled: {window_bytes} bytes in {elapsed:.0f} s, "
                                      f"under {MIN_RATE // 1024} KiB/s")
            window_start, window_bytes = time.monotonic(), 0
    return received
