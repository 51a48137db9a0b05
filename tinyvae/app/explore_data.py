"""The explorer's numbers for one run: what ``tinyvae explore`` computes and the page shows.

Everything here is computed once, in Python, and written into the page as JSON (arrays as
base64 of their little-endian bytes, :func:`to_base64`; yes/no grids as bits); the page itself
(``templates/``) computes only what depends on the pointer.  For one run (one model and the
data set it was trained on):

* the decoder's weights, which the page runs in JavaScript (:func:`decoder_layers`);
* the plane: its two latents (:func:`choose_axes`), its extent, the prior's 1, 2 and 3 sigma
  rings (:func:`prior_contours`), and the hole cells on it (:func:`hole_grid`);
* the training codes the page holds, for the hole test in the *full* latent space, with
  their hole radius and hole score (:func:`page_holes`);
* the prior to sample from: N(0, I) for a VAE (nothing to store), the Gaussian fitted to the
  codes for an AE, as its mean and the lower triangle of its Cholesky factor (z = mean + L eps);
* the test set: images, which are also the real points of lesson 02's judge, and on the plane
  the codes of as many of them as the code budget allows (mu for a VAE, g_phi(x) for an AE),
  a VAE's log-variances for q(z|x), and the labels or factors to colour by (:func:`colourings`);
* the judge of a decode (:func:`manifold_data`): lesson 02's, the improved precision of
  Kynkäänniemi et al. (:mod:`tinyvae.studies.precision`).  The page holds the real images and
  their k-NN radii and tests membership as :func:`tinyvae.studies.precision.in_manifold` does;
  beside each decode it shows the nearest of the training images it holds, and, where the
  data have classes, which digit lesson 02's classifier reads (:func:`classifier_data`);
* each latent's KL (VAE) or variance (AE) for its slider (:func:`latent_stats`); the replay
  (:func:`replay_data`): codes, holes and hole score at the epochs ``tinyvae train`` kept.

**The size budget.**  The parts that can shrink have budgets of their own (the ``*_BUDGET``
constants), scaled together when a page would exceed ``PAGE_BUDGET`` (:func:`tinyvae.app.explore.plan_budget`).

Shapes: ``N`` codes, ``Z`` latents, ``D`` pixels, ``bins`` grid cells along each axis.
"""
import base64
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from ..studies import classifier, holes, precision
from ..base.errors import CheckpointError, UsageError
from ..layers import Linear, ReLU, Sequential
from ..losses import kl_per_dimension
from ..data import shapes
from .runs import CHECKPOINT

BINS = 120                 # hole cells along each axis of the plane
#: bytes of the whole page, at most: two 784-400-20 MNIST runs fit with their replays
PAGE_BUDGET = 8_000_000
#: bytes of test images on the page (uint8 pixels): 892 MNIST images, every digit or shape.
#: They are also the real points of the k-NN manifold that judges a decode.
IMAGE_BUDGET = 700_000
#: bytes of training images (uint8) for "the nearest training image": 637 MNIST, every digit
TRAIN_IMAGE_BUDGET = 500_000
#: bytes of training codes per run (float32), for the hole test in the full latent space:
#: all 60,000 of MNIST at Z = 2, 7,500 of them at Z = 20
CODE_BUDGET = 600_000
#: bytes of test codes per run on the plane (float32 codes, and a VAE's log-variances as many)
SHOWN_CODE_BUDGET = 200_000
CONTOURS = (1, 2, 3)       # the prior's contours, in standard deviations
CONTOUR_POINTS = 97        # points on each contour
N_PRIOR = 5000             # prior draws behind the hole score, as tinyvae.studies.holes.model_hole_score
#: training codes per snapshot behind the replay's holes; fewer where the search is brute force (Z > 12)
REPLAY_CODES, REPLAY_CODES_BRUTE = 20_000, 3_000
REPLAY_DOTS = 1_000        # of which the replay draws on the plane
TEMPLATE_BYTES = 80_000    # the template and its scripts, about (counted in the budget)
#: a run's text besides its arrays, about: its replay (8 epochs of holes, rings and 1,000 codes,
#: 20 KB each), colourings and lists, and 40 bytes a latent for its numbers
RUN_TEXT_BYTES, LATENT_TEXT_BYTES = 180_000, 40


# --- 1. arrays as text ---------------------------------------------------------------
def to_base64(a, dtype="<f4"):
    """An array as base64 of its little-endian bytes (float32 by default): what JavaScript's
    ``new Float32Array(bytes.buffer)`` reads back on every current browser."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def from_base64(text, dtype="<f4"):
    """The inverse of :func:`to_base64`: a flat array."""
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def to_bits(a):
    """A yes/no array as base64 of its bits, the first in the high bit (``np.packbits``)."""
    return base64.b64encode(np.packbits(np.asarray(a, dtype=bool).ravel()).tobytes()).decode("ascii")


def from_bits(text, n):
    """The inverse of :func:`to_bits`: (n,) bool."""
    return np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))[:n].astype(bool)


def as_uint8(x):
    """Images in [0, 1] as the page holds them: rounded to 1/255, (n, D) uint8."""
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


# --- 2. the decoder f_theta ----------------------------------------------------------
def linear_layers(sequential):
    """A Sequential of Linear and ReLU layers as the list the page rebuilds layer by layer."""
    layers = []
    for layer in sequential.layers:
        if isinstance(layer, Linear):
            W, b = layer.params["W"], layer.params["b"]               # (D_in, D_out), (D_out,)
            layers.append({"kind": "Linear", "D_in": int(W.shape[0]), "D_out": int(W.shape[1]),
                           "W": to_base64(W), "b": to_base64(b)})
        elif isinstance(layer, ReLU):
            layers.append({"kind": "ReLU"})
        elif isinstance(layer, Sequential):
            raise ValueError("nested Sequential networks are not supported by the explorer")
        else:
            raise ValueError(f"the explorer has no JavaScript for a {type(layer).__name__} layer")
    return layers


def decoder_layers(model):
    """The decoder f_theta as the page rebuilds it: Linear (its W and b), ReLU."""
    return linear_layers(model.decoder)


def parameter_bytes(sequential):
    """Bytes of a network's weights on the page (float32)."""
    return 4 * sum(layer.params["W"].size + layer.params["b"].size
                   for layer in sequential.layers if isinstance(layer, Linear))


# --- 3. the plane --------------------------------------------------------------------
def choose_axes(model, x):
    """The two latents to put on the plane, and why: ``((i, j), reason)``.

    VAE: the two with the most KL(q(z_i|x) || N(0, 1)) on ``x``, the latents the model uses.
    AE: the two along which the codes vary most.
    """
    if model.Z == 2:
        return (0, 1), "the model has two latents"
    stats = latent_stats(model, x)                                        # (Z,)
    i, j = np.argsort(-stats, kind="stable")[:2]
    if holes.is_vae(model):
        return (int(i), int(j)), (f"the two latents with the most KL on the test set "
                                  f"({stats[i]:.2f} and {stats[j]:.2f} nats)")
    return (int(i), int(j)), "the two latents along which the test codes vary most"


def latent_stats(model, x):
    """Each latent's KL(q(z_i|x) || N(0, 1)) averaged over ``x`` (VAE, nats), or the variance of
    the codes g_phi(x)_i (AE): (Z,)."""
    if holes.is_vae(model):
        mu, logvar = (np.asarray(a, dtype=np.float64) for a in model.encode(x))   # (N, Z) each
        return kl_per_dimension(mu, logvar)
    return np.var(model.code(x), axis=0)


def prior_contours(mean, cov):
    """The k-sigma ellipses of the 2-D Gaussian N(mean, cov), k in CONTOURS: mean + k L u, with
    cov = L L^T and u on the unit circle.  A list of (CONTOUR_POINTS, 2) arrays."""
    L = np.linalg.cholesky(cov + 1e-12 * np.eye(2))                 # (2, 2)
    t = np.linspace(0, 2 * np.pi, CONTOUR_POINTS)
    u = np.stack([np.cos(t), np.sin(t)], axis=1)                    # (P, 2) unit circle
    return [mean + k * u @ L.T for k in CONTOURS]


def hole_grid(codes, base, axes, extent, bins=BINS):
    """The distance from each cell centre of the plane to its nearest training code.

    The plane is ``base`` with latents ``axes`` varied over ``extent = (lo1, hi1, lo2, hi2)``.
    A cell is a hole when this distance exceeds the hole radius (:mod:`tinyvae.studies.holes`).

    The other latents are the same at every cell, so for a code c the squared distance splits
    into the plane's part and a constant: |centre - c|^2 = (u1 - c_i)^2 + (u2 - c_j)^2 + K_c with
    K_c = sum over the other latents k of (base_k - c_k)^2.  On a 2-D model K_c = 0 and the
    search is holes.nearest_distance's (a k-d tree); otherwise it runs over (chunk, N) blocks
    of the 2-D part, never a (bins^2, Z) array (at Z = 2,000 that would be 230 MB).

    Returns (bins, bins) float64 indexed ``[i2, i1]`` (row = second axis).
    """
    _, _, plane = holes.cell_centres(extent, bins)                  # (bins^2, 2)
    codes = np.asarray(codes, dtype=np.float64)
    a = list(axes)
    if codes.shape[1] == 2:
        return holes.nearest_distance(plane[:, np.argsort(a)], codes).reshape(bins, bins)
    others = np.ones(codes.shape[1], dtype=bool)
    others[a] = False
    K = np.sum((np.asarray(base, dtype=np.float64)[others] - codes[:, others]) ** 2, axis=1)   # (N,)
    # lifted to 3-D, (c_i, c_j, sqrt(K_c)) against (u1, u2, 0): the same squared distance, in a k-d tree
    lifted = np.column_stack([codes[:, a], np.sqrt(K)])                          # (N, 3)
    return holes.nearest_distance(np.column_stack([plane, np.zeros(len(plane))]), lifted).reshape(bins, bins)


# --- 4. the holes, in the full latent space -----------------------------------------------
class PageHoles(NamedTuple):
    """The hole test the page runs: :mod:`tinyvae.studies.holes`'s definition on the codes it holds."""

    held: np.ndarray        # (n, Z) the training codes on the page
    n_codes: int            # N, the training codes there are
    radius: float           # r of the held codes
    mean: np.ndarray        # (Z,) the prior's mean (for an AE, fitted to all N codes)
    cov: np.ndarray         # (Z, Z) the prior's covariance
    z: np.ndarray           # (N_PRIOR, Z) prior draws
    in_hole: np.ndarray     # (N_PRIOR,) bool: farther than r from every held code
    score: float            # the fraction of the draws in a hole


def page_holes(model, x_train, seed=0, code_budget=CODE_BUDGET, n=N_PRIOR):
    """The training codes the page holds, and holes.py's radius and score computed on them.

    The codes, the prior and its draws are those of :func:`tinyvae.studies.holes.model_hole_score`
    with the same ``seed`` (the same generator, drawn in the same order).  When all N codes
    fit ``code_budget`` bytes of float32 the page holds them all, and the radius and score
    are exactly model_hole_score's; otherwise it holds a random subsample of
    ``code_budget / (4 Z)`` of them (a generator of its own) and both are the same definition
    applied to the subsample.  (Both r and a draw's distance to its nearest code shrink as
    codes are added, about as N^(-1/Z), so the score changes little.)
    """
    rng = np.random.default_rng(seed)
    codes = holes.training_codes(model, x_train, rng)              # (N, Z) as model_hole_score
    mean, cov = holes.prior(model, codes)
    z = holes.draw_prior(mean, cov, n, rng)                          # (n, Z) as model_hole_score
    N, Z = codes.shape
    keep = max(2, code_budget // (4 * Z))
    if N > keep:
        pick = np.sort(np.random.default_rng((seed, 2)).choice(N, keep, replace=False))
        codes = codes[pick]                                            # (keep, Z)
    radius = holes.hole_radius(codes)
    in_hole = holes.nearest_distance(z, codes) > radius              # (n,)
    return PageHoles(codes, N, radius, mean, cov, z, in_hole, float(in_hole.mean()))


# --- 5. colouring the codes ----------------------------------------------------------------
def factor_value_names(dataset):
    """What each value of each factor of the shapes means: ``{factor: [a name per value]}``,
    for ``shapes`` and ``shapes-equal`` alike (y takes x's 12 positions in the latter)."""
    sizes = dict(zip(dataset.factor_names, dataset.factor_sizes))
    positions_y = shapes.POSITIONS_X if sizes.get("y") == len(shapes.POSITIONS_X) else shapes.POSITIONS_Y
    return {"shape": list(shapes.SHAPE_NAMES),
            "scale": [f"{v:.2f} px" for v in shapes.SCALES],
            "rotation": [f"{r}/8 turn of its symmetry" for r in range(shapes.N_ROTATIONS)],
            "x": [f"{v:.2f} px" for v in shapes.POSITIONS_X],
            "y": [f"{v:.2f} px" for v in positions_y]}


def colourings(dataset, rows, part="test"):
    """The ways to colour the codes of ``rows`` of the test (or training) set: a list of
    ``{"name", "kind": "category" | "ordered", "values": (n,) ints, "names": a name per value}``.

    Where the data set knows its factors (every shapes data set), each factor, the shape's
    by name and the others by the value they set (tinyvae.data.shapes); else the labels.
    """
    factors = dataset.factors_test if part == "test" else dataset.factors_train
    labels = dataset.y_test if part == "test" else dataset.y_train
    out = []
    if factors is not None and len(dataset.factor_names):
        names = factor_value_names(dataset) if dataset.name.startswith("shapes") else {}
        for k, factor in enumerate(dataset.factor_names):
            out.append({"name": factor, "kind": "category" if factor == "shape" else "ordered",
                        "values": [int(v) for v in factors[rows, k]],
                        "names": names.get(factor, [str(v) for v in range(dataset.factor_sizes[k])])})
    elif labels is not None:
        values = [int(v) for v in labels[rows]]
        out.append({"name": "label", "kind": "category", "values": values,
                    "names": [str(v) for v in range(int(np.max(labels)) + 1)]})
    return out


# --- 6. one run, as the page holds it -------------------------------------------------------
def check_model(model, name="this run"):
    """Refuse, in one line that names the run, a model the page cannot show."""
    if model.Z < 2:
        raise UsageError(f"{name} has Z = {model.Z}, and the explorer's plane needs two latents; "
                         f"train one with --latent 2 or more")
    if not np.all(np.isfinite(model.theta)):      # a page of NaNs would not even parse
        raise CheckpointError(f"{name}: the model's weights are not finite numbers (NaN or inf): its {CHECKPOINT} "
                              f"is damaged or the run diverged; train it again")


def plane_axes(model, dataset, axes=None, name="this run"):
    """The plane's two latents and why: chosen (:func:`choose_axes`) or given with --axes."""
    if axes is None:
        return choose_axes(model, dataset.x_test)
    axes = tuple(int(a) for a in axes)
    if len(axes) != 2 or axes[0] == axes[1] or not all(0 <= a < model.Z for a in axes):
        raise UsageError(f"--axes needs two different latents in 0..{model.Z - 1} for {name}, not {list(axes)}")
    return axes, "chosen with --axes"


def standard_half_width(found, axes):
    """How many prior standard deviations either side of the prior's mean a plane must reach to
    show the prior to holes.EXTENT_SD and the middle 99% of the codes, along ``axes``."""
    a = list(axes)
    sd = np.sqrt(np.diag(found.cov))[a]                                   # (2,)
    lo = np.percentile(found.held[:, a], 0.5, axis=0)
    hi = np.percentile(found.held[:, a], 99.5, axis=0)
    reach = np.maximum(np.abs(lo - found.mean[a]), np.abs(hi - found.mean[a])) / np.maximum(sd, 1e-12)
    return float(max(holes.EXTENT_SD, *reach))


def rounded(values, digits=6):
    """A list of floats at ``digits`` significant digits: short JSON for what the page only shows."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64).ravel()]


def prior_factor(found, is_vae):
    """What the page needs to draw from the prior, z = mean + L eps: nothing for a VAE's N(0, I);
    for an AE the mean and the lower triangle of L, row by row, as float32 (Z (Z + 1) / 2 numbers)."""
    if is_vae:
        return {"prior_standard": True}
    Z = len(found.mean)
    L = np.linalg.cholesky(found.cov + 1e-12 * np.eye(Z))                  # (Z, Z)
    return {"prior_standard": False, "prior_mean_z": found.mean.tolist(),
            "prior_chol": to_base64(L[np.tril_indices(Z)])}


def plane_extent(found, axes, half_width=None):
    """The plane's extent: the prior to 3.5 sd and the middle 99% of the codes, square in the
    latent's units (N(0, I)'s rings are round), or the prior's mean +- ``half_width`` standard
    deviations along each axis (two runs: the same pixel is the same eps in both)."""
    a = list(axes)
    sd = np.sqrt(np.diag(found.cov))
    if half_width is None:
        return holes.plane_extent(found.mean[a], sd[a], found.held[:, a], square=True)
    lo, hi = found.mean[a] - half_width * sd[a], found.mean[a] + half_width * sd[a]
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def run_data(model, dataset, axes, why, found, shown, extent, bins=BINS, name=None, images=True,
             train_rows=None, shown_code_budget=SHOWN_CODE_BUDGET):
    """Everything the page shows of one run, as a JSON-able dict (arrays as base64).

    ``found`` is the run's :class:`PageHoles`; ``shown`` the test images on the page (sorted),
    of which the first ``shown_code_budget / (4 Z)`` (half that for a VAE, which also has
    log-variances) get their codes on the plane.  ``images=False`` leaves the test and training
    images out (the other run's are the same); ``train_rows`` are the training images held for
    "the nearest training image".
    """
    is_vae = holes.is_vae(model)
    Z, a = model.Z, list(axes)
    base = np.zeros(Z) if is_vae else found.mean.copy()                    # (Z,) start values
    sd = np.sqrt(np.diag(found.cov))                                      # (Z,)
    distance = hole_grid(found.held, base, axes, extent, bins)           # (bins, bins)
    n_codes = int(min(len(shown), max(1, shown_code_budget // (4 * Z * (2 if is_vae else 1)))))
    x = dataset.x_test[shown[:n_codes]]                                   # (n_codes, D)
    codes = model.code(x)                                                 # (n_codes, Z)
    slider_lo = np.where(is_vae, -4.0, base - 4 * sd)                     # (Z,)
    slider_hi = np.where(is_vae, 4.0, base + 4 * sd)
    slider_lo[a], slider_hi[a] = extent[0::2], extent[1::2]
    out = {
        "name": name or type(model).__name__, "kind": type(model).__name__, "is_vae": bool(is_vae),
        "data": dataset.name, "D": int(model.D), "Z": int(Z),
        "image_shape": [int(s) for s in dataset.image_shape],
        "decoder": decoder_layers(model), "output": model.output,
        "axes": a, "axes_reason": why, "latent_stats": rounded(latent_stats(model, dataset.x_test)),
        "base": base.tolist(), "slider_lo": slider_lo.tolist(), "slider_hi": slider_hi.tolist(),
        "extent": list(extent), "bins": int(bins), "hole": to_bits(distance > found.radius),
        "radius": float(found.radius), "score": found.score, "n_prior": len(found.z),
        "n_train_codes": found.n_codes, "train_codes_held": len(found.held),
        "train_codes": to_base64(found.held),
        **prior_factor(found, is_vae),
        "contours": [rounded(c) for c in prior_contours(found.mean[a], found.cov[np.ix_(a, a)])],
        "prior_mean": found.mean[a].tolist(), "prior_cov": found.cov[np.ix_(a, a)].tolist(),
        "n_test": int(len(dataset.x_test)), "n_shown": int(len(shown)), "shown": [int(i) for i in shown],
        "n_codes": n_codes, "codes": to_base64(codes), "colourings": colourings(dataset, shown[:n_codes]),
        "images": None, "radii": None, "train_images": None,
    }
    if images:                       # the real points of the judge, and their k-NN radii
        out.update(manifold_data(dataset.x_test[shown]))
        rows = np.arange(len(dataset.x_train)) if train_rows is None else train_rows
        out["train_images"] = to_base64(as_uint8(dataset.x_train[rows]), "u1")
        out["n_train_images"], out["n_train"] = int(len(rows)), int(len(dataset.x_train))
    if is_vae:                                         # q(z|x) = N(mu, diag exp(logvar)), on a click
        out["logvar"] = to_base64(np.asarray(model.encode(x)[1], dtype=np.float32))
    return out


# --- 7. the judge of a decode: lesson 02's precision -----------------------------------------
def manifold_data(x):
    """Lesson 02's judge as the page holds it: the real images ``x`` (n, D) rounded to uint8
    (as the page reads them back, :func:`as_uint8`), and the k-NN radius of each among them,
    :func:`tinyvae.studies.precision.knn_radii` with its k (float64, exact).  A decode is
    realistic when it lies within some real image's radius of it, which the page tests as
    :func:`tinyvae.studies.precision.in_manifold` does."""
    u8 = as_uint8(x)                                                      # (n, D)
    real = u8.astype(np.float64) / 255                                    # what the page reads
    radii = precision.knn_radii(real, precision.K)                        # (n,)
    return {"images": to_base64(u8, "u1"), "radii": to_base64(radii, "<f8"), "k": precision.K}


def classifier_data(dataset, seed=0):
    """Lesson 02's digit classifier, for "which digit is it" only: a JSON-able dict, or None for
    data without classes to recognise (every shapes data set, whose factors are colourings).

    Lesson 02's recipe (:func:`tinyvae.studies.classifier.train_judge`), capped at the work it does
    on the digits (on MNIST: one pass over 12,228 random training images); its weights run in
    JavaScript.  It is not a judge of realism (lesson 02 shows it sure of a blob)."""
    if dataset.factors_test is not None or dataset.y_test is None:
        return None
    x, y = dataset.x_train, dataset.y_train
    epochs = classifier.judge_epochs(len(x))
    most = classifier.JUDGE_EXAMPLES * 64 // dataset.D     # the work of lesson 02's recipe on the digits
    if len(x) * epochs > most:                             # MNIST: one pass over a random subsample
        pick = np.sort(np.random.default_rng((seed, 4)).choice(len(x), min(len(x), most), replace=False))
        x, y, epochs = x[pick], y[pick], 1
    with threadpool_limits(limits=1, user_api="blas"):          # small matrices: a second thread only waits
        judge = classifier.train_classifier(x, y, hidden=classifier.JUDGE_HIDDEN, epochs=epochs,
                                            lr=classifier.JUDGE_LR, seed=seed)
    return {"layers": linear_layers(judge.net), "n_train": int(len(x)), "epochs": int(epochs),
            "sizes": [int(dataset.D), *classifier.JUDGE_HIDDEN, int(judge.K)],
            "test_accuracy": judge.accuracy(dataset.x_test, dataset.y_test)}


def classifier_bytes(dataset):
    """Bytes of the classifier's weights on the page (0 for data without classes)."""
    if dataset.factors_test is not None or dataset.y_test is None:
        return 0
    K = int(np.max(dataset.y_train)) + 1
    sizes = [dataset.D, *classifier.JUDGE_HIDDEN, K]
    return 4 * sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


# --- 8. the training replay -------------------------------------------------------------------
def replay_data(model, snaps, dataset, axes, extent, bins=BINS, seed=0, final_epoch=None):
    """The replay of one run: the codes, holes and hole score at each epoch ``tinyvae train`` kept.

    ``snaps`` is :func:`tinyvae.app.snapshots.read`'s.  For each snapshot: the hole radius and
    score of :mod:`tinyvae.studies.holes` on its codes (at most ``REPLAY_CODES`` of them, a fixed
    random subsample beyond), with the prior it gives (N(0, I) for a VAE, the Gaussian fitted to
    those codes for an AE) and ``N_PRIOR`` draws from it; the hole cells of the plane (the same
    extent at every epoch, the other latents at that epoch's start values); the prior's rings;
    and up to ``REPLAY_DOTS`` of the codes in the plane's two latents, with their colourings.
    """
    a = list(axes)
    n = len(snaps.index)
    rows = np.arange(n)
    most = REPLAY_CODES if model.Z <= holes.TREE_MAX_Z else REPLAY_CODES_BRUTE
    if n > most:
        rows = np.sort(np.random.default_rng((seed, 6)).choice(n, most, replace=False))
    dots = rows[:REPLAY_DOTS] if len(rows) <= REPLAY_DOTS else np.sort(
        np.random.default_rng((seed, 8)).choice(rows, REPLAY_DOTS, replace=False))
    is_vae = holes.is_vae(model)
    frames = []
    for epoch, codes in zip(snaps.epochs, snaps.codes):
        c = codes[rows].astype(np.float64)                                 # (m, Z)
        mean, cov = (np.zeros(model.Z), np.eye(model.Z)) if is_vae else (c.mean(axis=0), np.atleast_2d(np.cov(c, rowvar=False)))
        z = holes.draw_prior(mean, cov, N_PRIOR, np.random.default_rng((seed, int(epoch), 9)))
        radius = holes.hole_radius(c)
        score = float(np.mean(holes.nearest_distance(z, c) > radius))
        base = np.zeros(model.Z) if is_vae else mean
        grid = hole_grid(c, base, axes, extent, bins)
        frames.append({"epoch": int(epoch), "radius": radius, "score": score, "hole": to_bits(grid > radius),
                       "dots": to_base64(codes[dots][:, a]),
                       "contours": [rounded(r, 5) for r in prior_contours(mean[a], cov[np.ix_(a, a)])]})
    return {"frames": frames, "n_codes": int(len(rows)), "n_kept": int(n), "n_train": int(len(dataset.x_train)),
            "n_dots": int(len(dots)), "colourings": colourings(dataset, snaps.index[dots], part="train"),
            "final_epoch": int(final_epoch if final_epoch is not None else snaps.epochs[-1])}
