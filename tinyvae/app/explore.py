"""The latent-space explorer: one self-contained web page of a trained model, ``tinyvae explore``.

The lecture's "Limitations of Autoencoders" slide says that latent points inside the holes
"do not decode to valid data".  This page lets a student see it on their own run: move the
pointer across the latent plane and the decoder f_theta (p_theta(x|z)) runs in the browser
on the z under it.

Everything the page needs is computed here and written into one HTML file, with no file
beside it and no network use (it opens by double-click, offline):

* the decoder's weights, as base64 float32, and the JavaScript forward pass that copies
  :mod:`tinyvae.layers` line for line (in ``templates/explorer.html``);
* the test set's codes (``model.code``: mu for a VAE, g_phi(x) for an AE) with their labels
  and images, a random subsample when the images would not fit the page's budget;
* the prior's 1, 2 and 3 sigma contours (for an AE, the Gaussian fitted to its codes);
* the hole cells of the plane, by :mod:`tinyvae.holes`'s definition and radius: a cell is a
  hole when its centre is farther than r from every training code.

For Z > 2 the plane is a slice through two latents (``axes``), the others held at their
start values: 0 for a VAE (the prior's mean), the codes' mean for an AE.  By default the two
latents are those with the most KL (VAE) or the most variance of the codes (AE).

Shapes: ``N`` codes, ``Z`` latents, ``D`` pixels, ``bins`` grid cells along each axis.
"""
import base64
import json
import os
from pathlib import Path

import numpy as np

from .. import holes
from ..atomic import atomic_write
from ..errors import CheckpointError, UsageError
from ..layers import Linear, ReLU, Sequential
from ..losses import kl_per_dimension
from .runs import CHECKPOINT

TEMPLATE = Path(__file__).parent / "templates" / "explorer.html"
DATA_TOKEN = "__EXPLORER_DATA__"      # where the template takes the page's data (JSON)

BINS = 120                 # hole cells along each axis of the plane
IMAGE_BUDGET = 1_000_000   # bytes of test images on the page (uint8 pixels): 1,275 MNIST images
CONTOURS = (1, 2, 3)       # the prior's contours, in standard deviations
CONTOUR_POINTS = 97        # points on each contour


# --- 1. arrays as text ---------------------------------------------------------------
def to_base64(a, dtype="<f4"):
    """An array as base64 of its little-endian bytes (float32 by default): what JavaScript's
    ``new Float32Array(bytes.buffer)`` reads back on every current browser."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def from_base64(text, dtype="<f4"):
    """The inverse of :func:`to_base64`: a flat array."""
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


# --- 2. the decoder f_theta ----------------------------------------------------------
def decoder_layers(model):
    """The decoder as a list the page rebuilds layer by layer: Linear (its W and b), ReLU."""
    layers = []
    for layer in model.decoder.layers:
        if isinstance(layer, Linear):
            W, b = layer.params["W"], layer.params["b"]               # (D_in, D_out), (D_out,)
            layers.append({"kind": "Linear", "D_in": int(W.shape[0]), "D_out": int(W.shape[1]),
                           "W": to_base64(W), "b": to_base64(b)})
        elif isinstance(layer, ReLU):
            layers.append({"kind": "ReLU"})
        elif isinstance(layer, Sequential):
            raise ValueError("nested Sequential decoders are not supported by the explorer")
        else:
            raise ValueError(f"the explorer has no JavaScript for a {type(layer).__name__} layer")
    return layers


# --- 3. the plane --------------------------------------------------------------------
def choose_axes(model, x):
    """The two latents to put on the plane, and why: ``((i, j), reason)``.

    VAE: the two with the most KL(q(z_i|x) || N(0, 1)) on ``x``, the latents the model uses.
    AE: the two along which the codes vary most.
    """
    if model.Z == 2:
        return (0, 1), "the model has two latents"
    if holes.is_vae(model):
        mu, logvar = (np.asarray(a, dtype=np.float64) for a in model.encode(x))   # (N, Z) each
        kl = kl_per_dimension(mu, logvar)                                         # (Z,)
        i, j = np.argsort(-kl, kind="stable")[:2]
        return (int(i), int(j)), (f"the two latents with the most KL on the test set "
                                  f"({kl[i]:.2f} and {kl[j]:.2f} nats)")
    var = np.var(model.code(x), axis=0)                                  # (Z,)
    i, j = np.argsort(-var, kind="stable")[:2]
    return (int(i), int(j)), "the two latents along which the test codes vary most"


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
    A cell is a hole when this distance exceeds the hole radius (:mod:`tinyvae.holes`).

    Returns (bins, bins) float64 indexed ``[i2, i1]`` (row = second axis).
    """
    _, _, plane = holes.cell_centres(extent, bins)                  # (bins^2, 2)
    centres = np.tile(base, (bins * bins, 1))                       # (bins^2, Z)
    centres[:, axes[0]] = plane[:, 0]
    centres[:, axes[1]] = plane[:, 1]
    return holes.nearest_distance(centres, codes).reshape(bins, bins)


# --- 4. the page ---------------------------------------------------------------------
def explorer_data(model, dataset, axes=None, bins=BINS, seed=0, image_budget=IMAGE_BUDGET):
    """Everything the page shows, as a JSON-able dict (arrays as base64 float32 or uint8)."""
    rng = np.random.default_rng(seed)
    Z = model.Z
    if Z < 2:
        raise UsageError(f"this model has Z = {Z}, and the explorer's plane needs two latents; "
                         f"train one with --latent 2 or more")
    if not np.all(np.isfinite(model.theta)):      # a page of NaNs would not even parse
        raise CheckpointError(f"the model's weights are not finite numbers (NaN or inf): its {CHECKPOINT} "
                              f"is damaged or the run diverged; train it again")
    if axes is None:
        axes, why = choose_axes(model, dataset.x_test)
    else:
        axes, why = tuple(int(a) for a in axes), "chosen with --axes"
        if len(axes) != 2 or axes[0] == axes[1] or not all(0 <= a < Z for a in axes):
            raise UsageError(f"--axes needs two different latents in 0..{Z - 1}, not {list(axes)}")
    # the hole score's codes, radius and prior, exactly as tinyvae.holes computes them
    score = holes.model_hole_score(model, dataset.x_train, seed=seed)
    base = np.zeros(Z) if holes.is_vae(model) else score.mean.copy()      # (Z,) start values
    sd = np.sqrt(np.diag(score.cov))                                      # (Z,)
    a = list(axes)
    # the plane covers the prior to 3.5 sd and the middle 99% of the codes (as the holes map
    # does), made square so that a unit is as long across as up and N(0, I)'s rings are round
    extent = holes.plane_extent(score.mean[a], sd[a], score.codes[:, a], square=True)
    lo, hi = np.array(extent[0::2]), np.array(extent[1::2])             # (2,) each
    distance = hole_grid(score.codes, base, axes, extent, bins)         # (bins, bins)
    hole = distance > score.radius                                        # (bins, bins) bool
    contours = prior_contours(score.mean[a], score.cov[np.ix_(a, a)])

    # the test set on the plane: a random subsample when its images would not fit the budget
    n_test = len(dataset.x_test)
    n_show = min(n_test, max(100, image_budget // dataset.D))
    shown = np.sort(rng.permutation(n_test)[:n_show])                    # (n,)
    codes = model.code(dataset.x_test[shown])                             # (n, Z)
    images = np.round(np.clip(dataset.x_test[shown], 0, 1) * 255)         # (n, D) 0..255
    labels = dataset.y_test[shown] if dataset.y_test is not None else None

    slider_lo = np.where(holes.is_vae(model), -4.0, base - 4 * sd)        # (Z,)
    slider_hi = np.where(holes.is_vae(model), 4.0, base + 4 * sd)
    slider_lo[a], slider_hi[a] = lo, hi
    return {
        "kind": type(model).__name__, "is_vae": bool(holes.is_vae(model)),
        "data": dataset.name, "D": int(model.D), "Z": int(Z),
        "image_shape": [int(s) for s in dataset.image_shape],
        "decoder": decoder_layers(model), "output": model.output,
        "axes": list(axes), "axes_reason": why,
        "base": base.tolist(), "slider_lo": slider_lo.tolist(), "slider_hi": slider_hi.tolist(),
        "extent": list(extent), "bins": int(bins),
        "hole": to_base64(hole, "u1"), "distance": to_base64(distance),
        "radius": float(score.radius), "score": float(score.score),
        "n_train_codes": int(len(score.codes)),
        "contours": [c.tolist() for c in contours],
        "prior_mean": score.mean[a].tolist(), "prior_cov": score.cov[np.ix_(a, a)].tolist(),
        "n_test": int(n_test), "n_shown": int(n_show),
        "codes": to_base64(codes), "images": to_base64(images, "u1"),
        "labels": None if labels is None else [int(v) for v in labels],
    }


def explorer_page(model, dataset, **options):
    """The explorer as one HTML string: the template with :func:`explorer_data` filled in."""
    # allow_nan=False: JavaScript's JSON.parse refuses NaN and Infinity, so they must not get in
    data = json.dumps(explorer_data(model, dataset, **options), separators=(",", ":"), allow_nan=False)
    # inside <script> the text "</" could close the element early; JSON allows "<\/" instead
    data = data.replace("</", "<\\/")
    template = TEMPLATE.read_text(encoding="utf-8")
    return template.replace(DATA_TOKEN, data, 1)


def read_page_data(html):
    """The data embedded in an explorer page (for tests and tools): the dict, back from JSON."""
    start = html.index('<script id="explorer-data" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def cell_centres(data):
    """The plane's cells as a page holds them, row-major over ``[i2, i1]``: their centres in the
    plane's two latents (bins^2, 2), the distance to the nearest training code (bins^2,), and
    whether they are holes (bins^2,) bool."""
    _, _, centres = holes.cell_centres(data["extent"], data["bins"])
    return (centres, from_base64(data["distance"]).astype(np.float64),
            from_base64(data["hole"], "u1").astype(bool))


def write_explorer(model, dataset, path, **options):
    """Write the page to ``path`` atomically; an unwritable path is a one-line UsageError.
    (``tinyvae explore`` first checks that ``path`` is a new file or an earlier page:
    :func:`tinyvae.app.claims.check_output`.)"""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--out {path} is a folder; give a file name such as {os.path.join(path, 'explorer.html')}")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: {folder} is a file, not a folder; choose another --out")
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: folder {folder} does not exist; create it or choose another --out")
    html = explorer_page(model, dataset, **options)
    try:
        atomic_write(path, lambda f: f.write(html.encode("utf-8")))
    except OSError as err:
        raise UsageError(f"cannot write {path} ({err.strerror}); choose another --out") from None
    return path
