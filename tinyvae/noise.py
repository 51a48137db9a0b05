"""Random changes to the input images: the DAE's corruptions M_D(x~|x), and binarization.

Each takes clean inputs ``x`` (N, D) in [0, 1] and an explicit ``numpy.random.Generator``.
The corruptions also take a level and return the corrupted ``x~`` (N, D) in the dtype of
``x``; the DAE encodes ``x~`` and is scored against the clean ``x``.  :func:`binarize`
draws x ~ Bernoulli(pixels), once for a data set (``--binarize static``) or afresh for every
minibatch (``--binarize dynamic``, in the trainer).
"""
import numpy as np

from .base.choices import NOISES


def masking(x, rate, rng):
    """Masking noise: each pixel is set to 0 independently with probability ``rate``."""
    ### BEGIN SOLUTION
    keep = rng.random(x.shape, dtype=np.float32) >= rate      # (N, D), P(keep) = 1 - rate
    x_tilde = x * keep                                         # (N, D)
    ### END SOLUTION
    return x_tilde


def gaussian(x, sigma, rng):
    """Additive isotropic Gaussian noise: x~ = x + sigma * n,  n ~ N(0, I)."""
    n = rng.standard_normal(x.shape, dtype=np.float32)         # (N, D)
    return (x + sigma * n).astype(x.dtype, copy=False)


def salt_and_pepper(x, rate, rng):
    """Salt-and-pepper: a fraction ``rate`` of pixels is set to 0 or 1, each with probability 1/2."""
    u = rng.random(x.shape, dtype=np.float32)                 # (N, D)
    hit = u < rate
    salt = u < rate / 2                                        # half the hits become 1
    return np.where(hit, salt, x).astype(x.dtype, copy=False)


def corrupt(x, kind, level, rng):
    """Apply the corruption ``kind`` ("mask", "gaussian" or "saltpepper") at ``level``.

    ``level`` is the masking or salt-and-pepper rate in [0, 1], or the Gaussian sigma >= 0.
    A level of 0 returns ``x`` unchanged (a DAE with no noise is the AE).
    """
    if kind not in NOISES:
        raise ValueError(f"unknown noise {kind!r}; choose one of {', '.join(NOISES)}")
    if kind == "mask":
        return masking(x, level, rng)
    if kind == "gaussian":
        return gaussian(x, level, rng)
    return salt_and_pepper(x, level, rng)


def binarize(x, rng):
    """Draw x_bin ~ Bernoulli(x) pixel by pixel: (N, D) in [0, 1] -> (N, D) float32 of 0s and 1s.

    P(u < p) = p for u ~ U[0, 1), so a pixel of intensity p is 1 with probability p: 0 stays
    0 and 1 stays 1.
    """
    u = rng.random(x.shape, dtype=np.float32)           # (N, D), u ~ U[0, 1)
    return (u < x).astype(np.float32)
