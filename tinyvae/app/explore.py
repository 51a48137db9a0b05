"""The latent-space explorer: one self-contained web page of one trained model, or of two side by
side, ``tinyvae explore RUN [RUN_B]``.

The lecture's "Limitations of Autoencoders" slide says that an autoencoder's codes leave holes
in the latent space, that points inside them do not decode to valid data, and that sampling
often passes through them.  This page lets a student look, and measure, on their own run:

* move the pointer (or the arrow keys) across the latent plane: the decoder f_theta
  (p_theta(x|z)) runs in the browser on the z under it, and the readout says whether z is in
  a hole, in the *full* latent space (its distance to the nearest training code the page holds);
* sample from the prior: N(0, I) for a VAE, the Gaussian fitted to its codes for an AE.  On
  load the page draws once with a stated seed, so the holes show at a glance: it marks the
  draws in holes, counts them (with the standard error), shows their decodes, and judges each
  decode as lesson 02 does, realistic when it lies inside the k-NN manifold of the real images
  (:mod:`tinyvae.studies.precision`), beside the nearest training image and its distance;
* click a test code: its input and reconstruction, and for a VAE q(z|x) as mu +- 1 and 2 sigma
  with decodes of draws from it;
* shift-click two places: the path between them, each frame checked for holes;
* colour the codes by label, or on the shapes by each factor (colour-blind-safe palettes);
* replay training: an epoch slider shows the codes, holes and hole score at the epochs
  ``tinyvae train`` kept (:mod:`tinyvae.app.snapshots`).

Everything the page needs is computed in :mod:`tinyvae.app.explore_data` and written into one
HTML file, with no file beside it and no network use (it opens by double-click, offline):
the template ``templates/explorer.html`` with its scripts ``templates/layers.js`` (the layers,
copied from :mod:`tinyvae.layers` line for line) and ``templates/explorer.js`` (the page).
"""
import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..studies import holes
from ..base.atomic import atomic_write
from ..base.errors import UsageError
from . import explore_data
from .explore_data import (BINS, CODE_BUDGET, IMAGE_BUDGET, PAGE_BUDGET, from_base64, from_bits,  # noqa: F401
                           to_base64)                                              # (the page's API)

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = TEMPLATES / "explorer.html"
SCRIPTS = {"__LAYERS_JS__": "layers.js", "__EXPLORER_JS__": "explorer.js"}   # token -> file, inlined
DATA_TOKEN = "__EXPLORER_DATA__"      # where the template takes the page's data (JSON)
PRIOR_DRAWS = 500                     # draws per press of "sample from the prior"
PRIOR_SHOWN = 64                      # of which the page shows the decodes
#: the page's own sampler draws the prior sample shown on load with seed ``SAMPLE_SEED * seed + press``,
#: press 0 (tinyvae/app/templates/explorer.js: samplePrior), so every visit shows the same draws
SAMPLE_SEED = 7919


# --- 1. what the page holds ---------------------------------------------------------------
def explorer_data(model, dataset, axes=None, bins=BINS, seed=0, compare=None, names=None, replays=None,
                  epochs=None, page_budget=PAGE_BUDGET, say=None, code_budget=None):
    """Everything the page shows, as a JSON-able dict: ``{"runs": [one dict per run], ...}``.

    ``compare = (model_b, dataset_b)`` adds a second run beside the first; ``names`` names the
    runs (their folders), in the page and in every message about one of them.  ``axes`` (the
    plane's two latents) applies to every run.  ``replays`` gives each run's code snapshots
    (:func:`tinyvae.app.snapshots.read`, or None) and ``epochs`` the epoch of each model.
    The page stays within ``page_budget`` bytes (:func:`plan_budget`); ``say``
    receives the one line that states a reduction, when one was needed; ``code_budget`` sets the
    bytes of training codes a run holds (tests), in place of the plan's.
    """
    pairs = [(model, dataset)] + ([tuple(compare)] if compare is not None else [])
    names = list(names) if names else [type(m).__name__ if len(pairs) == 1 else f"run {k + 1}"
                                       for k, (m, _) in enumerate(pairs)]
    if len(pairs) == 2:
        check_comparable([(n, d.name, d.image_shape) for (_, d), n in zip(pairs, names)])
    for (m, _), name in zip(pairs, names):
        explore_data.check_model(m, name)
    plan = plan_budget([m for m, _ in pairs], dataset, names, page_budget)
    if code_budget is not None:
        plan = plan._replace(code=int(code_budget))
    note = None
    if plan.scale < 1:
        note = (f"to keep the page within its budget of {page_budget / 1e6:.0f} MB, it holds {100 * plan.scale:.0f}% "
                f"of the test images, training images and codes it would otherwise hold")
        if say:
            say(f"note: {' and '.join(names)}: {note}")
    planes = [explore_data.plane_axes(m, d, axes, n) for (m, d), n in zip(pairs, names)]    # [(axes, why)]
    found = [explore_data.page_holes(m, d.x_train, seed, plan.code) for m, d in pairs]
    half = None
    if len(pairs) == 2:             # one pixel = the same eps in both planes
        half = max(explore_data.standard_half_width(f, ax) for f, (ax, _) in zip(found, planes))
    # the test set on the plane, and the training images for "the nearest": random subsamples
    # when their images would not fit the budget
    shared = len(pairs) == 2 and np.array_equal(dataset.x_test, compare[1].x_test) and \
        np.array_equal(dataset.x_train, compare[1].x_train)
    runs = []
    for k, ((m, d), (ax, why), f, name) in enumerate(zip(pairs, planes, found, names)):
        n_show = min(len(d.x_test), max(100, plan.image // d.D))
        shown = np.sort(np.random.default_rng(seed).permutation(len(d.x_test))[:n_show])        # (n,)
        n_train = min(len(d.x_train), max(100, plan.train_image // d.D))
        train_rows = np.sort(np.random.default_rng((seed, 3)).permutation(len(d.x_train))[:n_train])
        extent = explore_data.plane_extent(f, ax, half)
        shown_name = os.path.basename(os.path.normpath(name)) or name     # the page shows a folder's own name
        run = explore_data.run_data(m, d, ax, why, f, shown, extent, bins, shown_name,
                                    images=k == 0 or not shared, train_rows=train_rows,
                                    shown_code_budget=plan.shown_code)
        snaps = replays[k] if replays else None
        run["replay"] = None if snaps is None else explore_data.replay_data(
            m, snaps, d, ax, extent, bins, seed, final_epoch=epochs[k] if epochs else None)
        runs.append(run)
    return {"runs": runs, "shared_test": bool(shared), "seed": int(seed), "sample_seed": SAMPLE_SEED,
            "prior_draws": PRIOR_DRAWS, "prior_shown": PRIOR_SHOWN,
            "classifier": explore_data.classifier_data(dataset, seed),
            "budget": {"page": int(page_budget), "scale": plan.scale, "note": note, "runs": names}}


def check_comparable(runs):
    """Runs on one page must be of the same data and image size, else one line:
    ``runs`` is a list of ``(name, data set name, image shape)``."""
    (na, da, sa), (nb, db, sb) = runs[0], runs[-1]
    if da != db:
        raise UsageError(f"{na} was trained on {da} and {nb} on {db}; compare two runs of the same data")
    if tuple(sa) != tuple(sb):
        raise UsageError(f"{na} has images of {sa[0]}x{sa[1]} pixels and {nb} of {sb[0]}x{sb[1]}; "
                         f"compare two runs of the same image size")


# --- 3. the size budget -----------------------------------------------------------------------
class Budget(NamedTuple):
    """The budgets of the parts of a page that can shrink, after :func:`plan_budget`."""

    image: int              # bytes of test images (the judge's real points)
    train_image: int        # bytes of training images (the nearest one)
    code: int               # bytes of training codes per run
    shown_code: int         # bytes of test codes per run
    scale: float            # the factor applied to every default budget (1: none)


def plan_budget(models, dataset, names, page_budget=PAGE_BUDGET):
    """The budgets of a page of ``models`` (one or two) on ``dataset``, within ``page_budget``
    bytes; a :class:`UsageError` naming the run when its fixed parts alone do not fit.

    Every base64 character stands for 3/4 of a byte, so the raw bytes allowed are 3/4 of what is
    left of the page after its text (the template, and ``RUN_TEXT_BYTES`` and
    ``LATENT_TEXT_BYTES`` a latent for each run).  Fixed: each decoder, an AE's prior factor,
    the classifier.  Variable: the four ``*_BUDGET`` parts at their defaults.
    """
    text = explore_data.TEMPLATE_BYTES + sum(explore_data.RUN_TEXT_BYTES + explore_data.LATENT_TEXT_BYTES * m.Z for m in models)
    raw = 0.75 * (page_budget - text)
    fixed = {}
    for m, name in zip(models, names):
        prior = 0 if holes.is_vae(m) else 4 * m.Z * (m.Z + 1) // 2
        fixed[name] = (explore_data.parameter_bytes(m.decoder), prior)
    total_fixed = sum(sum(v) for v in fixed.values()) + explore_data.classifier_bytes(dataset)
    if total_fixed > raw:
        worst = max(fixed, key=lambda k: sum(fixed[k]))
        decoder, prior = fixed[worst]
        parts = f"its decoder's weights ({decoder / 1e6:.1f} MB)" + (
            f" and its prior's Cholesky factor ({prior / 1e6:.1f} MB, Z = {models[names.index(worst)].Z})"
            if prior else "")
        raise UsageError(f"{worst}: the explorer's page would exceed its budget of {page_budget / 1e6:.0f} MB: "
                         f"{parts} alone take {4 / 3 * sum(fixed[worst]) / 1e6:.1f} MB as text; "
                         f"explore a model with fewer latents or hidden units")
    per_run = len(models)
    variable = (explore_data.IMAGE_BUDGET + explore_data.TRAIN_IMAGE_BUDGET
                + per_run * (explore_data.CODE_BUDGET + explore_data.SHOWN_CODE_BUDGET))
    scale = min(1.0, (raw - total_fixed) / variable)
    return Budget(int(explore_data.IMAGE_BUDGET * scale), int(explore_data.TRAIN_IMAGE_BUDGET * scale), int(explore_data.CODE_BUDGET * scale),
                  int(explore_data.SHOWN_CODE_BUDGET * scale), float(scale))


# --- 4. the page --------------------------------------------------------------------------
def explorer_page(model, dataset, **options):
    """The explorer as one HTML string: the template with its scripts and :func:`explorer_data`.

    A page over its budget (``options["page_budget"]``, default ``PAGE_BUDGET``) is refused in
    one line that names the runs; :func:`explorer_data` keeps pages within it, so this is the
    last guard, and it measures the page as written."""
    data = explorer_data(model, dataset, **options)
    # allow_nan=False: JavaScript's JSON.parse refuses NaN and Infinity, so they must not get in
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    # inside <script> the text "</" could close the element early; JSON allows "<\/" instead
    text = text.replace("</", "<\\/")
    html = TEMPLATE.read_text(encoding="utf-8")
    for token, name in SCRIPTS.items():
        html = html.replace(token, (TEMPLATES / name).read_text(encoding="utf-8"), 1)
    html = html.replace(DATA_TOKEN, text, 1)
    size, budget = len(html.encode("utf-8")), data["budget"]["page"]
    if size > budget:
        names = " and ".join(data["budget"]["runs"])
        raise UsageError(f"{names}: the explorer's page would be {size / 1e6:.1f} MB, over its budget of "
                         f"{budget / 1e6:.0f} MB; explore a model with fewer latents or hidden units")
    return html


def read_page_data(html):
    """The data embedded in an explorer page (for tests and tools): the dict, back from JSON."""
    start = html.index('<script id="explorer-data" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def cell_centres(run):
    """The plane's cells of one run as a page holds them (``read_page_data(html)["runs"][k]``),
    row-major over ``[i2, i1]``: their centres in the plane's two latents (bins^2, 2), the
    distance to the nearest training code the page holds, in all latents (bins^2,), and
    whether they are holes (bins^2,) bool, as the page draws them."""
    _, _, centres = holes.cell_centres(run["extent"], run["bins"])
    distance = explore_data.hole_grid(held_codes(run), np.array(run["base"]), run["axes"], run["extent"],
                                      run["bins"]).ravel()
    return centres, distance, from_bits(run["hole"], run["bins"] ** 2)


def held_codes(run):
    """The training codes a page holds for one run, (n, Z) float32 as the page reads them."""
    return from_base64(run["train_codes"]).reshape(run["train_codes_held"], run["Z"])


def prior_factor(run):
    """The prior a page samples from for one run, ``(mean (Z,), L (Z, Z))``: z = mean + L eps."""
    Z = run["Z"]
    if run["prior_standard"]:
        return np.zeros(Z), np.eye(Z)
    L = np.zeros((Z, Z))
    L[np.tril_indices(Z)] = from_base64(run["prior_chol"])
    return np.array(run["prior_mean_z"]), L


def real_points(run):
    """The real points of a page's judge, as the page reads them: (n, D) float64 in [0, 1]."""
    return from_base64(run["images"], "u1").reshape(run["n_shown"], run["D"]).astype(np.float64) / 255


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
