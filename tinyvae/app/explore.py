"""The latent-space explorer: one self-contained web page of one trained model, or of two side by
side, ``tinyvae explore RUN [RUN_B]``.

The lecture's "Limitations of Autoencoders" slide says that an autoencoder's codes leave holes
in the latent space, that points inside them do not decode to valid data, and that sampling
often passes through them.  This page lets a student look, and measure, on their own run:

* move the pointer (or the arrow keys) across the latent plane: the decoder f_theta
  (p_theta(x|z)) runs in the browser on the z under it, and the readout says whether z is in
  a hole, in the *full* latent space (its distance to the nearest training code the page holds);
* sample from the prior: N(0, I) for a VAE, the Gaussian fitted to its codes for an AE; the
  page marks the draws in holes, shows their decodes, and counts how many land in holes and
  how many are judged valid;
* click a test code: its input and reconstruction, and for a VAE q(z|x) as mu +- 1 and 2 sigma
  with decodes of draws from it;
* shift-click two places: the path between them, each frame checked for holes;
* colour the codes by label, or on the shapes by each factor.

Everything the page needs is computed in :mod:`tinyvae.app.explore_data` and written into one
HTML file, with no file beside it and no network use (it opens by double-click, offline):
the template ``templates/explorer.html`` with its scripts ``templates/layers.js`` (the layers,
copied from :mod:`tinyvae.layers` line for line) and ``templates/explorer.js`` (the page).
"""
import json
import os
from pathlib import Path

import numpy as np

from ..studies import holes
from ..base.atomic import atomic_write
from ..base.errors import UsageError
from . import explore_data
from .explore_data import BINS, CODE_BUDGET, IMAGE_BUDGET, from_base64, to_base64  # noqa: F401 (the page's API)

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = TEMPLATES / "explorer.html"
SCRIPTS = {"__LAYERS_JS__": "layers.js", "__EXPLORER_JS__": "explorer.js"}   # token -> file, inlined
DATA_TOKEN = "__EXPLORER_DATA__"      # where the template takes the page's data (JSON)
PRIOR_DRAWS = 500                     # draws per press of "sample from the prior"
PRIOR_SHOWN = 64                      # of which the page shows the decodes


# --- 1. what the page holds ---------------------------------------------------------------
def explorer_data(model, dataset, axes=None, bins=BINS, seed=0, image_budget=IMAGE_BUDGET,
                  code_budget=CODE_BUDGET, compare=None, names=None):
    """Everything the page shows, as a JSON-able dict: ``{"runs": [one dict per run], ...}``.

    ``compare = (model_b, dataset_b)`` adds a second run beside the first; ``names`` names the
    runs (their folders).  ``axes`` (the plane's two latents) applies to every run.
    """
    pairs = [(model, dataset)] + ([tuple(compare)] if compare is not None else [])
    names = list(names) if names else [None] * len(pairs)
    if len(pairs) == 2:
        check_comparable([(n or f"run {k + 1}", d.name, d.image_shape) for k, ((_, d), n) in enumerate(zip(pairs, names))])
    for m, _ in pairs:
        explore_data.check_model(m)
    planes = [explore_data.plane_axes(m, d, axes) for m, d in pairs]       # [(axes, why)]
    found = [explore_data.page_holes(m, d.x_train, seed, code_budget) for m, d in pairs]
    half = None
    if len(pairs) == 2:             # one pixel = the same eps in both planes
        half = max(explore_data.standard_half_width(f, ax) for f, (ax, _) in zip(found, planes))
    # the test set on the plane: a random subsample when its images would not fit the budget
    n_test = len(dataset.x_test)
    n_show = min(n_test, max(100, image_budget // dataset.D))
    shown = np.sort(np.random.default_rng(seed).permutation(n_test)[:n_show])     # (n,)
    shared_test = len(pairs) == 2 and np.array_equal(dataset.x_test, compare[1].x_test)
    runs = []
    for k, ((m, d), (ax, why), f, name) in enumerate(zip(pairs, planes, found, names)):
        runs.append(explore_data.run_data(m, d, ax, why, f, shown if k == 0 or shared_test else
                                          np.sort(np.random.default_rng(seed).permutation(len(d.x_test))[:n_show]),
                                          bins, half, name, images=k == 0 or not shared_test))
    judge = explore_data.judge_data(dataset, seed)
    if judge["kind"] == "nearest-image":             # each model's own bar (its reconstructions')
        images = explore_data.held_images(dataset, seed)
        for run, (m, d) in zip(runs, pairs):
            run["judge_threshold"] = explore_data.nearest_image_threshold(m, d, images)
    return {"runs": runs, "shared_test": bool(shared_test), "seed": int(seed),
            "prior_draws": PRIOR_DRAWS, "prior_shown": PRIOR_SHOWN, "judge": judge}


def check_comparable(runs):
    """Runs on one page must be of the same data and image size, else one line:
    ``runs`` is a list of ``(name, data set name, image shape)``."""
    (na, da, sa), (nb, db, sb) = runs[0], runs[-1]
    if da != db:
        raise UsageError(f"{na} was trained on {da} and {nb} on {db}; compare two runs of the same data")
    if tuple(sa) != tuple(sb):
        raise UsageError(f"{na} has images of {sa[0]}x{sa[1]} pixels and {nb} of {sb[0]}x{sb[1]}; "
                         f"compare two runs of the same image size")


# --- 2. the page --------------------------------------------------------------------------
def explorer_page(model, dataset, **options):
    """The explorer as one HTML string: the template with its scripts and :func:`explorer_data`."""
    # allow_nan=False: JavaScript's JSON.parse refuses NaN and Infinity, so they must not get in
    data = json.dumps(explorer_data(model, dataset, **options), separators=(",", ":"), allow_nan=False)
    # inside <script> the text "</" could close the element early; JSON allows "<\/" instead
    data = data.replace("</", "<\\/")
    html = TEMPLATE.read_text(encoding="utf-8")
    for token, name in SCRIPTS.items():
        html = html.replace(token, (TEMPLATES / name).read_text(encoding="utf-8"), 1)
    return html.replace(DATA_TOKEN, data, 1)


def read_page_data(html):
    """The data embedded in an explorer page (for tests and tools): the dict, back from JSON."""
    start = html.index('<script id="explorer-data" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def cell_centres(run):
    """The plane's cells of one run as a page holds them (``read_page_data(html)["runs"][k]``),
    row-major over ``[i2, i1]``: their centres in the plane's two latents (bins^2, 2), the
    distance to the nearest training code (bins^2,), and whether they are holes (bins^2,) bool."""
    _, _, centres = holes.cell_centres(run["extent"], run["bins"])
    return (centres, from_base64(run["distance"]).astype(np.float64),
            from_base64(run["hole"], "u1").astype(bool))


def held_codes(run):
    """The training codes a page holds for one run, (n, Z) float32 as the page reads them."""
    return from_base64(run["train_codes"]).reshape(run["train_codes_held"], run["Z"])


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
