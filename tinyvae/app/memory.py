"""Memory a command will need, estimated before it allocates, so a size too large is refused in one line.

NumPy raises MemoryError (or the kernel kills the process) only once an allocation fails,
often deep inside training.  These estimates count the big arrays from the sizes alone,
with Python integers (no overflow), and :func:`require` compares them with the memory the
machine has free::

    require(training_bytes("vae", D=64, hidden=[400], Z=20, B=128), "training", "use a smaller --hidden")

The figures are estimates of the largest arrays, not exact accounting: they catch sizes
that cannot fit, by orders of magnitude, before a single array is made.
"""
import os

from ..base.errors import UsageError
from ..models import layer_sizes, parameter_count

FLOAT32, FLOAT64 = 4, 8


def available_bytes():
    """The memory free for a new process: MemAvailable of /proc/meminfo, else all physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None                             # unknown: nothing to compare with


def training_bytes(kind, D, hidden, Z, B):
    """A training step's largest arrays: theta, its gradient, Adam's two sums and a checkpoint
    copy (float32, 8 copies of the parameters counting those written), plus each layer's
    activations and their gradients for a minibatch of B rows (float32, 4 arrays per layer).
    The sizes are the model's own (:func:`tinyvae.models.layer_sizes`)."""
    P = parameter_count(kind, D, hidden, Z)
    activations = B * sum(sum(sizes[1:]) for sizes in layer_sizes(kind, D, hidden, Z))
    return 8 * FLOAT32 * P + 4 * FLOAT32 * activations


def sampling_bytes(n, D, hidden, Z):
    """Decoding n draws z ~ N(0, I) into one grid image: the draws and every decoder layer's
    output (float32, with the layers' kept copies), then the grid's canvas (float64) and
    matplotlib's RGBA copy of it (4 floats a pixel), about n * D pixels."""
    return FLOAT32 * n * (Z + sum(hidden) + D) * 2 + (FLOAT64 + 4 * FLOAT64) * n * D


def iw_bytes(K, N, D, hidden, Z, chunk_rows=20000):
    """The importance-weighted bound: a (K, N) float64 table of log-weights for a batch of N
    examples, and the decoder run on about ``chunk_rows`` rows at a time, in float64."""
    return FLOAT64 * (K * N + max(chunk_rows, N) * (Z + sum(hidden) + D) * 3)


def require(nbytes, what, fix):
    """Refuse with one line when ``nbytes`` exceeds the free memory, naming both and the fix.

    ``fix`` is the advice, or a function of the free bytes that gives it (to name the largest
    value that fits, :func:`largest`)."""
    limit = available_bytes()
    if limit is not None and nbytes > limit:
        raise UsageError(f"{what} would need about {_size(nbytes)} of memory, and this machine has "
                         f"{_size(limit)} free; {fix(limit) if callable(fix) else fix}")


def largest(bytes_of, limit):
    """The largest whole n >= 1 with ``bytes_of(n) <= limit`` (0 if none), for a ``bytes_of``
    that grows with n: doubling, then bisection."""
    if bytes_of(1) > limit:
        return 0
    hi = 2
    while bytes_of(hi) <= limit:
        hi *= 2
    lo = hi // 2                                # bytes_of(lo) <= limit < bytes_of(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if bytes_of(mid) <= limit else (lo, mid)
    return lo


def _size(nbytes):
    if nbytes >= 1024 ** 5:                     # integer arithmetic: sizes can exceed any float
        return f"{nbytes // 1024 ** 4:,} TiB"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
