"""The hole score: how often a draw from the prior lands where no training example was encoded.

The lecture's "Limitations of Autoencoders" slide says that an AE's codes occupy
disconnected regions, that large empty regions ("holes") lie between them, and that
sampling often passes through the holes and fails.  This module puts a number on that.

**Definition.**  Let ``c_1 .. c_N`` be the training codes and ``d_n`` the distance from
``c_n`` to its nearest *other* code.  The hole radius ``r`` is the 99th percentile of the
``d_n``.  Draw ``z_1 .. z_M`` from the prior; the hole score is the fraction of them whose
nearest training code is farther than ``r``::

    r     = percentile_99( min_{m != n} |c_n - c_m| )
    score = (1/M) #{ j : min_n |z_j - c_n| > r }

**What a code is, and what the prior is.**

* A VAE encodes ``x_n`` to a distribution, and its decoder is trained on draws from it, so
  its code is one draw ``z_n ~ q(z|x_n)``.  The codes are then a sample of the *aggregate
  posterior* ``q(z) = (1/N) sum_n q(z|x_n)``, the density the holes map shows.  The prior
  is the model's own, ``N(0, I)``.
* An AE encodes ``x_n`` to the point ``g_phi(x_n)``.  It has no prior, so we give it the
  fairest one there is: the Gaussian ``N(m, S)`` whose mean and covariance are those of its
  codes.  Both models are then asked the same question: does the Gaussian you would sample
  from stay where your codes are?

**Reading it.**  When the codes fill the prior (they are a sample from it), a prior draw is
about as far from its nearest code as a code is from its nearest neighbour, so about 1% of
draws are farther than the 99th percentile: the score is about 0.01.  When the codes sit
in tight clusters with empty space between them, ``r`` is small (neighbours within a
cluster are close) while most prior draws land in the space between clusters: the score
approaches 1.  The score only uses distances, so it does not change when the latent space
is shifted, rotated or scaled as a whole.

For a 2-D latent, :func:`holes_map` evaluates the same test on a grid (a cell is a hole
when its centre is farther than ``r`` from every code) and collects what
:func:`tinyvae.studies.plots.plot_holes_map` draws: the aggregate posterior density, the prior,
the holes, and decoded images from inside the holes.

Shapes: ``N`` training codes, ``M`` prior draws, ``Z`` latent dimensions.
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..models import VAE
from ..reparam import draw_eps, reparameterize

#: the percentile of the code-to-nearest-code distances that defines the hole radius
PERCENTILE = 99.0


# --- 1. nearest-neighbour distances --------------------------------------------------
#: entries of a distance matrix held in memory at once (8 bytes each), in the brute-force search
BUDGET = 4_000_000
#: the largest Z searched with a k-d tree.  A k-d tree prunes well in a few dimensions and
#: barely at all in many: on 10,000 Gaussian codes it finds every code's nearest other code in
#: 0.01 s at Z = 4 and 0.3 s at Z = 10, against 0.6 s for the brute-force search, but takes
#: 1.0 s at Z = 16 (and 68 s against 28 s on 60,000 codes at Z = 20; 2 shared cores).
TREE_MAX_Z = 12


def nearest_distance(queries, codes, exclude_self=False):
    """Euclidean distance from each query to its nearest code, min_n |q - c_n|: (M,).

    For Z <= ``TREE_MAX_Z`` the codes are put in a k-d tree (``scipy.spatial.cKDTree``),
    which finds a nearest code in about log N steps instead of N; for larger Z the search
    is :func:`nearest_distance_brute`.  Both return the same distances (tests/test_holes.py
    checks it); only the time differs.

    Parameters
    ----------
    queries : (M, Z) array
    codes : (N, Z) array
    exclude_self : bool
        ``queries`` *are* ``codes``: skip each one's distance to itself, so the result is
        the distance to the nearest *other* code.
    """
    queries = np.asarray(queries, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.float64)
    if codes.shape[1] > TREE_MAX_Z or len(queries) == 0:
        return nearest_distance_brute(queries, codes, exclude_self)
    from scipy.spatial import cKDTree            # here: `import tinyvae` stays light

    tree = cKDTree(codes)
    if not exclude_self:
        return tree.query(queries, k=1)[0]                       # (M,)
    # the two nearest codes of a code: itself at 0 first, then the nearest other one (a
    # duplicate of it is also at 0, in either place, as the brute-force minimum says)
    return tree.query(queries, k=2)[0][:, 1]                     # (M,)


def nearest_distance_brute(queries, codes, exclude_self=False, chunk=None):
    """:func:`nearest_distance` by computing every query-code distance: the reference the
    k-d tree is tested against, and the faster search when Z is large.

    ``chunk`` queries are handled at once, so the distance matrix held in memory is
    (chunk, N); by default as many as keep it under ``BUDGET`` entries (32 MB).
    """
    queries = np.asarray(queries, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.float64)
    chunk = chunk or max(1, BUDGET // max(len(codes), 1))
    cc = np.sum(codes * codes, axis=1)                            # (N,) |c|^2
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]                          # (m, Z)
        # |q - c|^2 = |q|^2 + |c|^2 - 2 q.c, for all pairs at once
        d2 = np.sum(q * q, axis=1)[:, None] + cc[None, :] - 2.0 * (q @ codes.T)   # (m, N)
        if exclude_self:
            rows = np.arange(len(q))
            d2[rows, start + rows] = np.inf
        out[start:start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))      # rounding can dip below 0
    return out


def hole_radius(codes, percentile=PERCENTILE):
    """r: the ``percentile``-th percentile of the code-to-nearest-other-code distances."""
    codes = np.asarray(codes, dtype=np.float64)
    if len(codes) < 2:
        raise ValueError(f"the hole radius needs at least 2 codes; got {len(codes)}")
    return float(np.percentile(nearest_distance(codes, codes, exclude_self=True), percentile))


def hole_score(codes, z, percentile=PERCENTILE):
    """The fraction of the draws ``z`` (M, Z) farther than r from every code (N, Z).

    This is the definition itself, for any codes and any draws; :func:`model_hole_score`
    supplies a model's codes and its prior's draws.
    """
    r = hole_radius(codes, percentile)
    return float(np.mean(nearest_distance(z, codes) > r))


# --- 2. a model's codes and prior ----------------------------------------------------
def is_vae(model):
    """True for a VAE (an encoder that outputs a distribution), False for an AE or DAE."""
    return isinstance(model, VAE)


def training_codes(model, x, rng):
    """One code per example: z ~ q(z|x) for a VAE, z = g_phi(x) for an AE.  (N, Z) float64."""
    if is_vae(model):
        mu, logvar = (np.asarray(a, dtype=np.float64) for a in model.encode(x))   # (N, Z) each
        z, _ = reparameterize(mu, logvar, draw_eps(mu.shape, rng, np.float64))   # (N, Z)
        return z
    return model.code(x)                                                            # (N, Z)


def prior(model, codes):
    """The Gaussian to sample from: ``(mean (Z,), covariance (Z, Z))``.

    N(0, I) for a VAE; for an AE, the Gaussian fitted to its codes (sample mean and
    covariance), since an AE has no prior of its own.
    """
    Z = codes.shape[1]
    if is_vae(model):
        return np.zeros(Z), np.eye(Z)
    return codes.mean(axis=0), np.atleast_2d(np.cov(codes, rowvar=False))


def draw_prior(mean, cov, n, rng):
    """n draws of N(mean, cov): (n, Z).  Written out so the steps are visible:
    z = mean + L eps with cov = L L^T (Cholesky) and eps ~ N(0, I)."""
    Z = len(mean)
    if np.array_equal(cov, np.eye(Z)):   # N(mean, I): L = I, and no (n, Z) x (Z, Z) product, which took
        return mean + rng.standard_normal((n, Z))   # 10 s at Z = 2,000 (the same draws to within 1e-12)
    L = np.linalg.cholesky(cov + 1e-12 * np.eye(Z))               # (Z, Z) lower triangular
    return mean + rng.standard_normal((n, Z)) @ L.T               # (n, Z)


class HoleScore(NamedTuple):
    """A model's hole score and what it was computed from."""

    score: float            # fraction of prior draws in a hole
    radius: float           # r, the 99th percentile of code-to-nearest-code distances
    codes: np.ndarray       # (N, Z) the training codes
    z: np.ndarray           # (M, Z) the prior draws
    in_hole: np.ndarray     # (M,) bool, which draws landed in a hole
    mean: np.ndarray        # (Z,) the prior's mean
    cov: np.ndarray         # (Z, Z) the prior's covariance


def model_hole_score(model, x, n=5000, seed=0, percentile=PERCENTILE):
    """The hole score of a trained AE, DAE or VAE on its training inputs ``x`` (N, D).

    Parameters
    ----------
    model : Autoencoder, DenoisingAutoencoder or VAE
    x : (N, D) the training inputs
    n : int
        Prior draws; the score's standard error is sqrt(s (1 - s) / n), 0.0014 at s = 0.01
        and n = 5000.
    seed : int
        Seeds the VAE's code draws and the prior draws.

    Returns
    -------
    HoleScore
    """
    rng = np.random.default_rng(seed)
    codes = training_codes(model, x, rng)                         # (N, Z)
    mean, cov = prior(model, codes)
    z = draw_prior(mean, cov, n, rng)                             # (M, Z)
    r = hole_radius(codes, percentile)
    in_hole = nearest_distance(z, codes) > r                      # (M,)
    return HoleScore(float(in_hole.mean()), r, codes, z, in_hole, mean, cov)


# --- 3. the holes map of a 2-D latent ------------------------------------------------
#: how far the maps reach: the prior (or fitted Gaussian) to this many standard deviations
EXTENT_SD = 3.5


def plane_extent(mean, sd, codes, square=False):
    """The part of a latent plane the maps show, ``(lo1, hi1, lo2, hi2)``: the prior to
    ``EXTENT_SD`` standard deviations and the middle 99% of the codes.

    mean, sd : (2,) the prior's mean and standard deviations along the plane's two latents
    codes : (N, 2) the codes in those two latents
    square : widen the shorter side so that a unit is as long across as up (round rings)
    """
    lo = np.minimum(mean - EXTENT_SD * sd, np.percentile(codes, 0.5, axis=0))     # (2,)
    hi = np.maximum(mean + EXTENT_SD * sd, np.percentile(codes, 99.5, axis=0))    # (2,)
    if square:
        half = np.max(hi - lo) / 2
        if not half > 0:           # the codes do not vary along either latent: a unit square
            half = 1.0
        lo, hi = (lo + hi) / 2 - half, (lo + hi) / 2 + half
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def cell_centres(extent, bins):
    """The centres of a ``bins`` x ``bins`` grid over ``extent = (lo1, hi1, lo2, hi2)``:
    z1 (bins,), z2 (bins,), and every centre (bins^2, 2), row-major over ``[i2, i1]``
    (row = z2), the layout ``imshow(origin="lower")`` expects."""
    lo1, hi1, lo2, hi2 = extent
    z1 = lo1 + (np.arange(bins) + 0.5) * (hi1 - lo1) / bins      # (bins,)
    z2 = lo2 + (np.arange(bins) + 0.5) * (hi2 - lo2) / bins      # (bins,)
    G1, G2 = np.meshgrid(z1, z2)                                 # (bins, bins), [i2, i1]
    return z1, z2, np.stack([G1.ravel(), G2.ravel()], axis=1)


@dataclass
class HolesMap:
    """Everything the holes map draws, for a model with a 2-D latent.

    Grid arrays are (bins, bins) and indexed ``[i2, i1]`` (row = z2, column = z1), the
    layout ``imshow(origin="lower")`` expects.
    """

    kind: str                 # "VAE" or "AE"
    z1: np.ndarray            # (bins,) cell centres along z1
    z2: np.ndarray            # (bins,) cell centres along z2
    density: np.ndarray       # (bins, bins) aggregate posterior density of the training encodings
    prior_radius: np.ndarray  # (bins, bins) Mahalanobis distance of each centre under the prior
    hole: np.ndarray          # (bins, bins) bool, centre farther than r from every code
    radius: float             # r
    score: float              # the model's hole score
    codes: np.ndarray         # (N, 2) training codes
    picks: np.ndarray         # (k, 2) latent points inside holes, most probable under the prior first
    decoded: np.ndarray       # (k, D) the decoder's images at the picks

    @property
    def hole_fraction(self):
        """Share of the prior's mass (on the grid) that falls in hole cells."""
        w = np.exp(-0.5 * self.prior_radius ** 2)
        return float(np.sum(w * self.hole) / np.sum(w))


def aggregate_density(model, x, z1, z2, codes, chunk=None, block=4):
    """Density of the training encodings at the grid centres: (len(z2), len(z1)).

    VAE: the aggregate posterior q(z) = (1/N) sum_n N(z; mu_n, diag sigma_n^2), exactly.
    AE: the codes are points, so their density is a histogram: count / (N * area) in
    blocks of ``block`` x ``block`` grid cells (a histogram of single cells would be
    almost all 0s and 1s), spread back onto the grid.
    """
    if not is_vae(model):
        h1, h2 = z1[1] - z1[0], z2[1] - z2[0]
        edges1 = np.append(z1 - h1 / 2, z1[-1] + h1 / 2)
        edges2 = np.append(z2 - h2 / 2, z2[-1] + h2 / 2)
        counts, _, _ = np.histogram2d(codes[:, 1], codes[:, 0], bins=(edges2, edges1))   # (b2, b1)
        b2, b1 = counts.shape
        if b1 % block or b2 % block:
            block = 1
        blocks = counts.reshape(b2 // block, block, b1 // block, block).sum(axis=(1, 3))
        counts = np.kron(blocks, np.ones((block, block))) / block ** 2   # spread each block evenly
        return counts / (len(codes) * h1 * h2)
    mu, logvar = (np.asarray(a, dtype=np.float64) for a in model.encode(x))   # (N, 2) each
    # q's covariance is diagonal, so each kernel is a product over the two latents,
    # N(z; mu_n, diag sigma_n^2) = N(z1; mu_n1, sigma_n1^2) N(z2; mu_n2, sigma_n2^2), and the sum
    # over n of these products is a matrix product: q[i2, i1] = (1/N) sum_n k2[i2, n] k1[i1, n].
    # (The same numbers as summing the bins1 * bins2 * N kernels one by one, 100 times sooner.)
    chunk = chunk or max(1, BUDGET // max(len(z1), len(z2)))      # examples at a time
    out = np.zeros((len(z2), len(z1)))
    for s in range(0, len(mu), chunk):
        k1 = _gaussian(z1[:, None], mu[None, s:s + chunk, 0], logvar[None, s:s + chunk, 0])   # (bins1, n)
        k2 = _gaussian(z2[:, None], mu[None, s:s + chunk, 1], logvar[None, s:s + chunk, 1])   # (bins2, n)
        out += k2 @ k1.T                                           # (bins2, bins1)
    return out / len(mu)


def _gaussian(z, mu, logvar):
    """The density N(z; mu, exp(logvar)) of one latent, elementwise (broadcast)."""
    return np.exp(-0.5 * (z - mu) ** 2 * np.exp(-logvar) - 0.5 * logvar) / np.sqrt(2 * np.pi)


def _spread_picks(candidates, order, k, min_separation):
    """Up to k candidates taken in ``order``, each at least ``min_separation`` from those taken."""
    taken = []
    for i in order:
        if all(np.linalg.norm(candidates[i] - candidates[j]) >= min_separation for j in taken):
            taken.append(i)
            if len(taken) == k:
                break
    return candidates[taken]


def holes_map(model, x, bins=120, n_decoded=8, n_prior=5000, seed=0, extent=None):
    """The holes map of a model with a 2-D latent, trained on ``x`` (N, D).

    The grid covers :func:`plane_extent`: the prior out to 3.5 standard deviations and the
    middle 99% of the codes.  Hole cells are picked for decoding in order of prior density (the holes a
    prior draw falls into most often), kept apart so that they show different holes.

    Returns
    -------
    HolesMap
    """
    if model.Z != 2:
        raise ValueError(f"the holes map needs a 2-D latent; this model has Z = {model.Z}")
    result = model_hole_score(model, x, n=n_prior, seed=seed)
    codes, mean, cov = result.codes, result.mean, result.cov
    if extent is None:
        extent = plane_extent(mean, np.sqrt(np.diag(cov)), codes)
    lo1, hi1, lo2, hi2 = extent
    z1, z2, centres = cell_centres(extent, bins)                 # (bins,), (bins,), (bins^2, 2)
    hole = (nearest_distance(centres, codes) > result.radius).reshape(bins, bins)
    diff = centres - mean
    maha2 = np.sum(diff @ np.linalg.inv(cov) * diff, axis=1)     # (bins^2,) Mahalanobis^2
    prior_radius = np.sqrt(maha2).reshape(bins, bins)
    density = aggregate_density(model, x, z1, z2, codes)
    # decode from inside the holes, most probable under the prior first
    inside = np.flatnonzero(hole.ravel() & (prior_radius.ravel() < 3.0))
    order = np.argsort(maha2[inside], kind="stable")
    span = min(hi1 - lo1, hi2 - lo2)
    picks = _spread_picks(centres[inside], order, n_decoded, span / 8)   # (k, 2)
    decoded = (np.asarray(model.decode(picks), dtype=np.float64) if len(picks)
               else np.zeros((0, model.D)))
    return HolesMap("VAE" if is_vae(model) else "AE", z1, z2, density, prior_radius, hole,
                    result.radius, result.score, codes, picks, decoded)
