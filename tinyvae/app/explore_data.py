"""The explorer's numbers for one run: what ``tinyvae explore`` computes and the page shows.

Everything here is computed once, in Python, and written into the page as JSON (arrays as
base64, :func:`to_base64`); the page itself (``templates/``) computes only what depends on
the pointer.  For one run (one model and the data set it was trained on):

* the decoder's weights, which the page runs in JavaScript (:func:`decoder_layers`);
* the plane: its two latents (:func:`choose_axes`), its extent, the prior's 1, 2 and 3 sigma
  rings (:func:`prior_contours`), and the hole cells on it (:func:`hole_grid`);
* the training codes the page holds, for the hole test in the *full* latent space, with
  their hole radius and hole score (:func:`page_holes`): all of them when they fit
  ``CODE_BUDGET``, else a random subsample, and the page says which;
* the prior to sample from: N(0, I) for a VAE, the Gaussian fitted to the codes for an AE,
  as its mean and Cholesky factor (z = mean + L eps);
* the test set on the plane: codes (mu for a VAE, g_phi(x) for an AE), a VAE's log-variances
  for q(z|x), images, labels and the factors to colour by (:func:`colourings`);
* each latent's KL (VAE) or variance (AE) for its slider (:func:`latent_stats`);
* the judge of whether a decode is valid (:func:`judge_data`): lesson 02's digit classifier
  (:mod:`tinyvae.studies.classifier`) where the data have class labels, else the distance to the
  nearest training image.

Shapes: ``N`` codes, ``Z`` latents, ``D`` pixels, ``bins`` grid cells along each axis.
"""
import base64
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from ..studies import classifier, holes
from ..base.errors import CheckpointError, UsageError
from ..layers import Linear, ReLU, Sequential
from ..losses import kl_per_dimension
from ..data import shapes
from .runs import CHECKPOINT

BINS = 120                 # hole cells along each axis of the plane
IMAGE_BUDGET = 1_000_000   # bytes of test images on the page (uint8 pixels): 1,275 MNIST images
#: bytes of training codes on the page (float32), for the hole test in the full latent space:
#: all 60,000 of MNIST at Z = 2, 7,500 of them at Z = 20
CODE_BUDGET = 600_000
CONTOURS = (1, 2, 3)       # the prior's contours, in standard deviations
CONTOUR_POINTS = 97        # points on each contour
N_PRIOR = 5000             # prior draws behind the hole score, as tinyvae.studies.holes.model_hole_score
#: bytes of training images (uint8) the nearest-image judge holds: all 6,220 of the shapes
JUDGE_IMAGE_BUDGET = 2_000_000
#: the nearest-image judge passes a decode as close to a training image as this share of the
#: model's own reconstructions of the test images are
JUDGE_PERCENTILE = 99.0


# --- 1. arrays as text ---------------------------------------------------------------
def to_base64(a, dtype="<f4"):
    """An array as base64 of its little-endian bytes (float32 by default): what JavaScript's
    ``new Float32Array(bytes.buffer)`` reads back on every current browser."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def from_base64(text, dtype="<f4"):
    """The inverse of :func:`to_base64`: a flat array."""
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


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

    Returns (bins, bins) float64 indexed ``[i2, i1]`` (row = second axis).
    """
    _, _, plane = holes.cell_centres(extent, bins)                  # (bins^2, 2)
    centres = np.tile(base, (bins * bins, 1))                       # (bins^2, Z)
    centres[:, axes[0]] = plane[:, 0]
    centres[:, axes[1]] = plane[:, 1]
    return holes.nearest_distance(centres, codes).reshape(bins, bins)


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
def colourings(dataset, shown):
    """The ways to colour the shown test codes: a list of
    ``{"name", "kind": "category" | "ordered", "values": (n,) ints, "names": a name per value}``.

    The labels; and where the data set knows its factors (the shapes), each factor, the
    shape's by name and the others by the value they set (tinyvae.data.shapes).
    """
    out = []
    factors = dataset.factors_test
    if factors is not None and dataset.name == "shapes":
        names = {"shape": list(shapes.SHAPE_NAMES),
                 "scale": [f"{v:.2f} px" for v in shapes.SCALES],
                 "rotation": [f"{r}/8 turn of its symmetry" for r in range(shapes.N_ROTATIONS)],
                 "x": [f"{v:.2f} px" for v in shapes.POSITIONS_X],
                 "y": [f"{v:.2f} px" for v in shapes.POSITIONS_Y]}
        for k, factor in enumerate(dataset.factor_names):
            out.append({"name": factor, "kind": "category" if factor == "shape" else "ordered",
                        "values": [int(v) for v in factors[shown, k]],
                        "names": names.get(factor, [str(v) for v in range(dataset.factor_sizes[k])])})
    elif dataset.y_test is not None:
        labels = [int(v) for v in dataset.y_test[shown]]
        out.append({"name": "label", "kind": "category", "values": labels,
                    "names": [str(v) for v in range(max(labels) + 1)]})
    return out


# --- 6. one run, as the page holds it -------------------------------------------------------
def check_model(model):
    """Refuse, in one line, a model the page cannot show."""
    if model.Z < 2:
        raise UsageError(f"this model has Z = {model.Z}, and the explorer's plane needs two latents; "
                         f"train one with --latent 2 or more")
    if not np.all(np.isfinite(model.theta)):      # a page of NaNs would not even parse
        raise CheckpointError(f"the model's weights are not finite numbers (NaN or inf): its {CHECKPOINT} "
                              f"is damaged or the run diverged; train it again")


def plane_axes(model, dataset, axes=None):
    """The plane's two latents and why: chosen (:func:`choose_axes`) or given with --axes."""
    if axes is None:
        return choose_axes(model, dataset.x_test)
    axes = tuple(int(a) for a in axes)
    if len(axes) != 2 or axes[0] == axes[1] or not all(0 <= a < model.Z for a in axes):
        raise UsageError(f"--axes needs two different latents in 0..{model.Z - 1}, not {list(axes)}")
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


def run_data(model, dataset, axes, why, found, shown, bins=BINS, half_width=None, name=None,
             images=True):
    """Everything the page shows of one run, as a JSON-able dict (arrays as base64).

    ``found`` is the run's :class:`PageHoles`; ``shown`` the test images on the page.  The
    plane covers the prior to 3.5 sd and the middle 99% of the codes, square in the latent's
    units (N(0, I)'s rings are round), or with ``half_width`` the prior's mean +- half_width
    standard deviations along each axis (two runs: the same pixel is the same eps in both).
    ``images=False`` leaves the test images out (the other run's are the same).
    """
    is_vae = holes.is_vae(model)
    Z, a = model.Z, list(axes)
    base = np.zeros(Z) if is_vae else found.mean.copy()                    # (Z,) start values
    sd = np.sqrt(np.diag(found.cov))                                      # (Z,)
    if half_width is None:
        extent = holes.plane_extent(found.mean[a], sd[a], found.held[:, a], square=True)
    else:
        lo, hi = found.mean[a] - half_width * sd[a], found.mean[a] + half_width * sd[a]
        extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
    distance = hole_grid(found.held, base, axes, extent, bins)           # (bins, bins)
    x = dataset.x_test[shown]                                             # (n, D)
    codes = model.code(x)                                                 # (n, Z)
    slider_lo = np.where(is_vae, -4.0, base - 4 * sd)                     # (Z,)
    slider_hi = np.where(is_vae, 4.0, base + 4 * sd)
    slider_lo[a], slider_hi[a] = extent[0::2], extent[1::2]
    out = {
        "name": name or type(model).__name__, "kind": type(model).__name__, "is_vae": bool(is_vae),
        "data": dataset.name, "D": int(model.D), "Z": int(Z),
        "image_shape": [int(s) for s in dataset.image_shape],
        "decoder": decoder_layers(model), "output": model.output,
        "axes": a, "axes_reason": why, "latent_stats": latent_stats(model, dataset.x_test).tolist(),
        "base": base.tolist(), "slider_lo": slider_lo.tolist(), "slider_hi": slider_hi.tolist(),
        "extent": list(extent), "bins": int(bins),
        "hole": to_base64(distance > found.radius, "u1"), "distance": to_base64(distance),
        "radius": float(found.radius), "score": found.score, "n_prior": len(found.z),
        "n_train_codes": found.n_codes, "train_codes_held": len(found.held),
        "train_codes": to_base64(found.held),
        "prior_mean_z": found.mean.tolist(), "prior_chol": np.linalg.cholesky(
            found.cov + 1e-12 * np.eye(Z)).tolist(),                       # (Z, Z): z = mean + L eps
        "contours": [c.tolist() for c in prior_contours(found.mean[a], found.cov[np.ix_(a, a)])],
        "prior_mean": found.mean[a].tolist(), "prior_cov": found.cov[np.ix_(a, a)].tolist(),
        "n_test": int(len(dataset.x_test)), "n_shown": int(len(shown)), "shown": [int(i) for i in shown],
        "codes": to_base64(codes), "colourings": colourings(dataset, shown),
        "images": to_base64(np.round(np.clip(x, 0, 1) * 255), "u1") if images else None,
    }
    if is_vae:                                         # q(z|x) = N(mu, diag exp(logvar)), on a click
        out["logvar"] = to_base64(np.asarray(model.encode(x)[1], dtype=np.float64))
    return out


# --- 7. the judge of a decode ---------------------------------------------------------------
def judge_data(dataset, seed=0, image_budget=JUDGE_IMAGE_BUDGET):
    """What the page needs to judge whether a decode is valid: a JSON-able dict.

    Data with class labels (digits, MNIST, Fashion-MNIST): lesson 02's judge, a classifier
    (:func:`tinyvae.studies.classifier.train_classifier`) whose weights the page runs in JavaScript; a
    decode is valid when its top-class probability is at least ``VALID_PROBABILITY``
    (:func:`tinyvae.studies.classifier.is_valid`).  Its test accuracy and the share of real test images
    it passes are on the page.

    Data without (the shapes, whose factors are not classes to recognise): the distance from a
    decode to its nearest training image (:func:`tinyvae.studies.classifier.nearest_image_distance`),
    on the training images the page holds (all, or a random subsample that fits
    ``image_budget``); each run's threshold is :func:`nearest_image_threshold`.
    """
    if dataset.factors_test is None and dataset.y_test is not None:
        epochs = classifier.judge_epochs(len(dataset.x_train))
        with threadpool_limits(limits=1, user_api="blas"):      # small matrices: a second thread only waits
            judge = classifier.train_judge(dataset.x_train, dataset.y_train, seed=seed)  # lesson 02's recipe
        return {"kind": "classifier", "layers": linear_layers(judge.net),
                "threshold": classifier.VALID_PROBABILITY, "n_train": int(len(dataset.x_train)),
                "epochs": int(epochs), "sizes": [int(dataset.D), *classifier.JUDGE_HIDDEN, int(judge.K)],
                "test_accuracy": judge.accuracy(dataset.x_test, dataset.y_test),
                "test_valid": float(classifier.is_valid(judge, dataset.x_test).mean())}
    images = held_images(dataset, seed, image_budget)
    return {"kind": "nearest-image", "n_train": int(len(dataset.x_train)), "n_held": int(len(images)),
            "images": to_base64(np.round(images * 255), "u1"), "percentile": JUDGE_PERCENTILE}


def held_images(dataset, seed=0, image_budget=JUDGE_IMAGE_BUDGET):
    """The training images the nearest-image judge holds, as the page reads them back: rounded
    to 1/255 (uint8), all of them or a random subsample of ``image_budget / D``.  (n, D)."""
    x = dataset.x_train
    keep = max(1, image_budget // dataset.D)
    if len(x) > keep:
        x = x[np.sort(np.random.default_rng((seed, 3)).choice(len(x), keep, replace=False))]
    return np.round(np.clip(x, 0, 1) * 255) / 255


def nearest_image_threshold(model, dataset, images):
    """The nearest-image judge's threshold for one model: the ``JUDGE_PERCENTILE``-th percentile
    of the distances from its reconstructions of the test images to their nearest held training
    image.  A decode within it is as close to real data as the model's own reconstructions are
    (decodes are blurred means, so a bar set by the data themselves would fail them all)."""
    recon = np.asarray(model.reconstruct(dataset.x_test), dtype=np.float64)      # (N_test, D)
    return float(np.percentile(classifier.nearest_image_distance(recon, images), JUDGE_PERCENTILE))
