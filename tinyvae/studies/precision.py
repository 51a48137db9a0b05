"""Improved precision and recall (Kynkäänniemi et al. 2019): do samples look like real data?

A digit classifier answers "which digit is it", not "is it a digit": a ReLU network can put
p = 1.00 on a blob far from every real image (lesson 02 shows one).  The measure the field
uses instead asks where a sample lies relative to the real data themselves.

**The k-NN manifold.**  Around each real point ``x_i`` put a ball whose radius is the distance
to its k-th nearest *other* real point; the union of the balls is the estimated manifold of
the real data::

    R_k(x_i)  = | x_i - NN_k(x_i) |                     (the k-NN radius of x_i, k = 3)
    f(s; X)   = 1  if  | s - x_i | <= R_k(x_i)  for some i,   else 0

**Precision and recall.**  With ``X`` the real points (N of them) and ``Y`` the samples (M)::

    precision(X, Y) = (1/M) sum_j f(y_j; X)      the share of samples inside the real manifold
    recall(X, Y)    = (1/N) sum_i f(x_i; Y)      the share of real points inside the samples' one

Precision is the "does it look real" half: a sample in a hole that decodes to a blend or a
blob lies outside every ball.  Recall is the "is all of the data covered" half: a model that
draws only a few kinds of digit has a small manifold that misses most real points.

**Conventions, said once.**

* The balls are *closed*: a sample exactly on a ball's boundary (``|s - x_i| = R_k(x_i)``)
  counts as inside, as in the paper's ``<=`` and its reference code.
* Ties and duplicates: ``R_k`` is the k-th smallest of the distances to the *other* points,
  counted with multiplicity, so a duplicate of ``x_i`` is a neighbour at distance 0.
* ``k`` must satisfy ``1 <= k <= N - 1`` (a point has only ``N - 1`` others); anything else is a
  ``ValueError``.
* Recall's manifold is built from the samples, and its radii shrink as more samples are
  drawn, so recall depends on M.  The paper uses M = N; :func:`recall` takes whatever it is
  given, and lesson 02 averages it over disjoint sets of N samples.

The nearest neighbours come from ``scipy.spatial.cKDTree``; tests/test_precision.py compares
every answer with the same test written out over all pairwise distances.

Shapes: ``N`` real points, ``M`` samples, ``D`` dimensions (64 pixels for the digits).
"""
import numpy as np

#: k of the k-NN radii: the paper's default, chosen there as a trade-off between a too
#: tight manifold (k = 1) and one that swallows the gaps between real points (large k)
K = 3


def _points(a, name):
    """``a`` as a float64 (n, D) array, or a ValueError that names it."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (points, dimensions); got shape {a.shape}")
    return a


def _check_k(k, n, name):
    if not 1 <= k <= n - 1:
        raise ValueError(f"k = {k} needs 1 <= k <= (number of {name}) - 1 = {n - 1}: the k-NN radius "
                         f"is the distance to the k-th nearest *other* point")


def knn_radii(points, k=K):
    """R_k(x_i) = | x_i - NN_k(x_i) |, the distance of each point to its k-th nearest other point.

    Parameters
    ----------
    points : (N, D) array
    k : int, 1 <= k <= N - 1

    Returns
    -------
    (N,) float64 array

    The tree's query for the k + 1 nearest points of ``x_i`` among all N includes ``x_i`` itself
    at distance 0, the smallest distance there is; the (k + 1)-th of them is therefore the k-th
    of the others, duplicates of ``x_i`` (also at 0) included.
    """
    from scipy.spatial import cKDTree            # here: `import tinyvae` stays light

    points = _points(points, "points")
    _check_k(k, len(points), "points")
    distances, _ = cKDTree(points).query(points, k=k + 1)       # (N, k + 1), ascending
    return distances[:, k]


def in_manifold(samples, real, k=K):
    """f(s; X): is each sample inside the union of the closed k-NN balls of the real points?

    .. math:: f(s; X) = [\\exists i: |s - x_i| \\le R_k(x_i)]

    Parameters
    ----------
    samples : (M, D) array
    real : (N, D) array, the points whose manifold it is
    k : int, 1 <= k <= N - 1

    Returns
    -------
    (M,) bool array

    Only real points within the largest radius can hold a sample, so the tree lists, for each
    sample, the real points within ``max_i R_k(x_i)`` (pairs further apart cannot count), and
    each such pair is checked against its own radius.
    """
    from scipy.spatial import cKDTree

    samples, real = _points(samples, "samples"), _points(real, "real")
    if samples.shape[1] != real.shape[1]:
        raise ValueError(f"samples have {samples.shape[1]} dimensions, real points {real.shape[1]}")
    radii = knn_radii(real, k)                                   # (N,)
    inside = np.zeros(len(samples), dtype=bool)                  # (M,)
    if len(samples) == 0:
        return inside
    pairs = cKDTree(samples).sparse_distance_matrix(cKDTree(real), radii.max(), output_type="ndarray")
    # pairs: a record (i = sample, j = real point, v = their distance) per pair within the largest radius
    hit = pairs["v"] <= radii[pairs["j"]]                        # the closed ball of real point j
    inside[pairs["i"][hit]] = True
    return inside


def precision(real, fake, k=K):
    """The share of the samples inside the real points' manifold.

    .. math:: \\text{precision} = \\frac{1}{M} \\sum_{j=1}^{M} f(y_j; X)

    Parameters
    ----------
    real : (N, D) array, X
    fake : (M, D) array, Y (M >= 1)
    k : int

    Returns
    -------
    float in [0, 1]
    """
    fake = _points(fake, "fake")
    if len(fake) == 0:
        raise ValueError("precision needs at least one sample")
    return float(np.mean(in_manifold(fake, real, k)))


def recall(real, fake, k=K):
    """The share of the real points inside the samples' manifold (its radii from the samples).

    .. math:: \\text{recall} = \\frac{1}{N} \\sum_{i=1}^{N} f(x_i; Y)

    Parameters
    ----------
    real : (N, D) array, X (N >= 1)
    fake : (M, D) array, Y, with 1 <= k <= M - 1
    k : int

    Returns
    -------
    float in [0, 1].  It depends on M (more samples, smaller balls): compare recalls at equal M.
    """
    real = _points(real, "real")
    if len(real) == 0:
        raise ValueError("recall needs at least one real point")
    return float(np.mean(in_manifold(real, fake, k)))
