"""How many threads NumPy's BLAS (OpenBLAS) uses for a matrix product, read and set at run time.

The data-parallel training step (:mod:`tinyvae.parallel`) runs one half of a minibatch on each
core, each half calling BLAS itself; BLAS must then use one thread per call, or its own
threads fight the second half for the same cores.  NumPy has no public call for this, so we
look up OpenBLAS's own ``openblas_set_num_threads`` in the library NumPy loaded (the wheels
on PyPI bundle OpenBLAS under a prefixed name such as ``scipy_openblas_set_num_threads64_``).

Only OpenBLAS on Linux is recognised (the library is found in ``/proc/self/maps``).  Anywhere
else :func:`available` is False and nothing is changed; the caller then keeps to one thread
of its own.
"""
import contextlib
import ctypes
import functools

#: the names OpenBLAS exports its thread setters under, plain and in NumPy's own builds
_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "_64", "")


@functools.lru_cache(maxsize=None)
def _openblas():
    """``(get, set)`` ctypes functions of the OpenBLAS NumPy loaded, or None."""
    import numpy as np                                   # noqa: F401 (loads its BLAS)
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    put.restype, put.argtypes = None, [ctypes.c_int]
                    return get, put
    return None


def available():
    """True when the BLAS thread count can be read and set here."""
    return _openblas() is not None


def get_threads():
    """Threads BLAS uses per call, or None when it cannot be told."""
    funcs = _openblas()
    return funcs[0]() if funcs else None


def set_threads(n):
    """Make BLAS use ``n`` threads per call; returns the previous count (None: not possible)."""
    funcs = _openblas()
    if funcs is None:
        return None
    before = funcs[0]()
    funcs[1](int(n))
    return before


@contextlib.contextmanager
def threads(n):
    """``with threads(1): ...`` runs the block with ``n`` BLAS threads, then restores the count."""
    before = set_threads(n)
    try:
        yield before
    finally:
        if before is not None:
            set_threads(before)
