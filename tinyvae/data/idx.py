"""IDX files, LeCun's format for MNIST: :func:`read_idx` (with a one-line error for every kind
of damage) and :func:`write_idx` (the tests and benchmarks make small fake MNISTs with it).

An IDX file is a header and then the raw data, big-endian:

  bytes 0-1   0x00 0x00
  byte  2     data type: 0x08 = unsigned byte (the only one tinyvae reads)
  byte  3     number of dimensions: 3 for images (N, H, W), 1 for labels (N,)
  then        one 4-byte size per dimension, then prod(sizes) bytes of data, row-major.

So the magic number (bytes 0-3 read as one integer) is 0x00000803 for images and
0x00000801 for labels.
"""
import gzip
import math
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np

from ..base.atomic import atomic_write
from ..base.errors import DataError, one_line

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
    try:                                                # without blocking: a FIFO with no writer would hang
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror}); check that it is a readable file") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DataError(f"{path} is not a regular file (a pipe, device or folder); put the IDX file itself there")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        try:
            raw = f.read()
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
            raise DataError(f"{path} is a damaged gzip file ({one_line(err)}); "
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

    The file is written through :func:`tinyvae.base.atomic.atomic_write`, so a failed write never
    leaves a half-written file behind.

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
    atomic_write(path, lambda f: f.write(payload))
