"""The README's figures, made from scratch: ``python -m tools.gallery [--out docs/img]`` (from the repository).

Trains the models the figures need (the same settings as the lessons) and writes:

    holes_ae_vs_vae.png    the holes map of a 2-D AE and a 2-D VAE (lessons 02 and 07)
    manifold.png           the 2-D VAE's decoder over the plane, by prior quantiles
    samples.png            decoded draws z ~ N(0, I) of a VAE with Z = 16
    training_curves.png    that VAE's reconstruction, KL and -ELBO per epoch, train and test
    traversals_vae_vs_best.png  lesson 08's reference VAE and best beta-VAE form on the shapes,
                           traversed side by side, rows named by the factor each latent follows
    explorer_ae.png        the explorer page (tinyvae explore) of the 2-D AE and of the 2-D VAE,
    explorer_vae.png       the first screen at 1366 x 768 in headless Chromium (tools/browser.py)
    explorer_prior_ae.png  the AE's page as it opens: the prior sample of draw set 0, its counts
    explorer_ae_vs_vae.png tinyvae explore AE VAE: both planes, one pointer, one prior sample
    explorer_replay_epochE.png  that page's training replay at epochs 1, 429 and 857 of 1,000

Each screenshot's numbers are printed as it is taken (README's captions state them).

``--only shapes`` draws only the traversals (a few seconds; no browser); ``--only explorer``
only the 2-D models' figures and the explorer's screenshots. It takes about 3 minutes in all.  It runs with one BLAS thread (threadpoolctl): the models multiply
small matrices, and a second BLAS thread that has to wait for a core slows every step down.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from tinyvae import data
from tinyvae.studies import disentanglement, holes, plots
from tinyvae.app import explore, reference, snapshots
from tinyvae.app.config import TrainConfig
from tinyvae.app.runs import load_run
from tinyvae.app.training import run
from tinyvae.data.shapes import render
from tinyvae.losses import kl_per_dimension
from tinyvae.models import VAE, Autoencoder
from tinyvae.train import Trainer

from . import browser

DPI = 90                            # keeps every PNG well under 150 KB
#: lesson 08's reference checkpoints, made by benchmarks/disentanglement.py
REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lessons", "reference")


def _say(text):
    print(text, flush=True)


def _save(fig, out, name):
    path = plots.save_figure(fig, os.path.join(out, name), dpi=DPI)
    _say(f"  wrote {path} ({os.path.getsize(path) // 1024} KB)")
    return path


#: the explorer's screenshots are of a laptop's screen, the first screen a student sees (issue 27)
VIEWPORT = (1366, 768)


def _open(context, page_path, viewport=VIEWPORT):
    page = context.new_page()
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.goto("file://" + os.path.abspath(page_path))
    page.wait_for_function("window.tinyvae && window.tinyvae.ready")
    return page


def _shot(page, path):
    """A screenshot of the first screen, as a student sees it on opening the page."""
    page.evaluate("document.activeElement.blur()")                     # no focus ring in the picture
    page.screenshot(path=path)
    _say(f"  wrote {path} ({os.path.getsize(path) // 1024} KB)")
    return path


def _numbers(page):
    """What the first screen says, per run: the hole score, and the prior sample on show (draws in
    holes, their share, and the realistic decodes in and outside holes), read from the page."""
    return page.evaluate("""() => {
        const data = JSON.parse(document.getElementById("explorer-data").textContent);
        return window.tinyvae.lastSample.runs.map((r, k) => {
            const n = r.z.length, hole = r.inHole.filter(Boolean).length;
            const real = which => r.realistic.filter((v, i) => r.inHole[i] === which && v).length;
            const frame = window.tinyvae.frame(k);
            return {name: data.runs[k].name, hole_score: frame ? frame.score : data.runs[k].score,
                    epoch: frame ? frame.epoch : null, draws: n, in_holes: hole, realistic_in_holes: real(true),
                    realistic_outside: real(false), summary: document.querySelectorAll("[data-testid=sample-summary]")[k].innerText};
        });
    }""")


def _deepest_hole(run, within=2.0):
    """The hole cell farthest from every code inside the prior's ``within``-sigma ring, and the
    cell nearest a code (centres in the plane's two latents)."""
    centres, distance, _ = explore.cell_centres(run)
    diff = centres - run["prior_mean"]                                    # (bins^2, 2)
    maha = np.sqrt(np.sum(diff @ np.linalg.inv(run["prior_cov"]) * diff, axis=1))
    return centres[np.argmax(np.where(maha <= within, distance, -np.inf))], centres[np.argmin(distance)]


def _point(page, point, k=0):
    x, y = page.evaluate("([a, b, k]) => window.tinyvae.pixelOf(a, b, k)", [float(point[0]), float(point[1]), k])
    page.mouse.move(x, y)


def screenshot_explorer(context, model, dataset, path, seed=0):
    """The explorer page of ``model`` in the browser ``context``, saved as a PNG at ``path``: the first
    screen after load, the pointer in the hole cell farthest from every code within the prior's
    2-sigma contour.  Returns ``(path, numbers)``."""
    with tempfile.TemporaryDirectory() as tmp:
        page_path = explore.write_explorer(model, dataset, os.path.join(tmp, "explorer.html"), seed=seed)
        with open(page_path, encoding="utf-8") as f:
            hole, _ = _deepest_hole(explore.read_page_data(f.read())["runs"][0])
        page = _open(context, page_path)
        _point(page, hole)
        numbers = _numbers(page)
        _shot(page, path)
        page.close()
    return path, numbers


def screenshot_prior_sample(context, model, dataset, path, seed=0):
    """The page of ``model`` as it opens: the prior sample drawn on load (draw set 0), its draws in
    holes on the plane, the counts and the judged decodes.  Returns ``(path, numbers)``."""
    with tempfile.TemporaryDirectory() as tmp:
        page_path = explore.write_explorer(model, dataset, os.path.join(tmp, "explorer.html"), seed=seed)
        page = _open(context, page_path)
        numbers = _numbers(page)
        _shot(page, path)
        page.close()
    return path, numbers


def screenshot_two_runs(context, ae, vae, dataset, path, seed=0, replays=None, epochs=None, at=None):
    """The two-run page of ``ae`` and ``vae`` (tinyvae explore AE VAE) as it opens, the pointer in the
    AE's deepest hole within its 2-sigma ring; with ``replays``, also the epoch slider, at the
    slider positions ``at`` (one screenshot each, ``path`` with the epoch in its name).
    Returns ``[(path, numbers), ...]``."""
    shots = []
    with tempfile.TemporaryDirectory() as tmp:
        page_path = explore.write_explorer(ae, dataset, os.path.join(tmp, "pair.html"), seed=seed,
                                           compare=(vae, dataset), names=["AE", "VAE"], replays=replays,
                                           epochs=epochs)
        with open(page_path, encoding="utf-8") as f:
            hole, _ = _deepest_hole(explore.read_page_data(f.read())["runs"][0])
        page = _open(context, page_path)
        _point(page, hole)
        for i in (at if at is not None else [None]):
            target = path
            if i is not None:
                page.locator("[data-testid=epoch-slider]").fill(str(i))
                epoch = page.evaluate("window.tinyvae.epochs")[i]
                target = path.replace(".png", f"_epoch{epoch}.png")
            numbers = _numbers(page)
            shots.append((_shot(page, target), numbers))
        page.close()
    return shots


def train_with_snapshots(model, x, epochs, seed=0, batch_size=32, lr=3e-3):
    """``fit(model, x, epochs, batch_size, lr, seed)``, keeping the codes at the epochs tinyvae train
    keeps them (tinyvae/app/snapshots.py), for the replay: returns the Snapshots."""
    trainer = Trainer(model, np.random.default_rng(seed), batch_size, lr)
    index = snapshots.kept_index(len(x), model.Z, seed)
    kept, codes = [], []
    for epoch in range(1, epochs + 1):
        trainer.train_epoch(x)
        if epoch in snapshots.schedule(epochs):
            kept.append(epoch)
            codes.append(snapshots.codes_at(model, x[index], epoch, seed))
    return snapshots.Snapshots(np.array(kept), index, np.stack(codes))


def explorer_screenshots(ae, vae, digits, out, seed=0, replays=None, replay_out=None):
    """The explorer's screenshots (tinyvae explore), taken in headless Chromium (tools/browser.py) at
    1366 x 768; prints the numbers each shows.  With ``replays``, also the pair's replay at its
    first, middle and last kept epochs, into ``replay_out`` (default ``out``)."""
    shots = []
    with browser.chromium() as context:
        shots.append(screenshot_explorer(context, ae, digits, os.path.join(out, "explorer_ae.png"), seed))
        shots.append(screenshot_explorer(context, vae, digits, os.path.join(out, "explorer_vae.png"), seed))
        shots.append(screenshot_prior_sample(context, ae, digits, os.path.join(out, "explorer_prior_ae.png"), seed))
        shots += screenshot_two_runs(context, ae, vae, digits, os.path.join(out, "explorer_ae_vs_vae.png"), seed,
                                     replays=replays, epochs=[int(replays[0].epochs[-1])] * 2 if replays else None)
        if replays:
            n = len(replays[0].epochs)
            shots += screenshot_two_runs(context, ae, vae, digits, os.path.join(replay_out or out, "explorer_replay.png"),
                                         seed, replays=replays, epochs=[int(replays[0].epochs[-1])] * 2,
                                         at=[0, n // 2 - 1, n - 2])
    for path, numbers in shots:
        _say(f"  {os.path.basename(path)}:")
        for run in numbers:
            _say(f"    {run['name']}: epoch {run['epoch'] or 'as trained'}, hole score {100 * run['hole_score']:.1f}%; "
                 f"{run['summary']}".replace("\n", " "))
    return [path for path, _ in shots]


def make_gallery(out="docs/img", seed=0, only_explorer=False):
    """Train the models and write the figures into ``out``; returns the PNG paths."""
    os.makedirs(out, exist_ok=True)
    paths = []

    def save(fig, name):
        paths.append(_save(fig, out, name))

    digits = data.load("digits")
    x = digits.x_train

    # 1. a 2-D AE (on the lecture's L_AE) and a 2-D VAE trained as lesson 02 trains them
    _say("2-D AE and VAE on the digits (lesson 02's 1000 epochs) ...")
    ae = Autoencoder(digits.D, (128,), 2, likelihood="gaussian", rng=np.random.default_rng(seed))
    vae2 = VAE(digits.D, (128,), 2, rng=np.random.default_rng(seed))
    replays = [train_with_snapshots(model, x, 1000, seed=seed) for model in (ae, vae2)]   # fit(..., 1000, 32, 3e-3)
    maps = [holes.holes_map(ae, x, seed=seed), holes.holes_map(vae2, x, seed=seed)]
    save(plots.plot_holes_map(maps, digits.image_shape, ["AE", "VAE"]), "holes_ae_vs_vae.png")
    save(plots.plot_manifold(vae2, digits.image_shape, n=15, title="a 2-D VAE's decoder over the plane"),
         "manifold.png")
    paths += explorer_screenshots(ae, vae2, digits, out, seed, replays=replays)
    if only_explorer:
        return paths

    # 2. a VAE with Z = 16, trained by `tinyvae train` into a temporary run folder
    _say("VAE with Z = 16 on the digits ...")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "vae16")
        cfg = TrainConfig(model="vae", data="digits", epochs=100, hidden=[256], latent=16, batch_size=64,
                          seed=seed)
        run(cfg, out=run_dir, log=lambda *a: None, progress_bars=False)
        vae16, _, meta = load_run(run_dir)
        rows = meta["metrics"]
    save(plots.plot_samples(vae16.sample(64, np.random.default_rng(seed)), digits.image_shape,
                            "VAE (Z = 16) on the digits: decoded z ~ N(0, I)"), "samples.png")
    save(plots.plot_training_curves(rows, "VAE (Z = 16) on the digits"), "training_curves.png")

    shapes_traversals(save, seed)
    return paths


def shapes_traversals(save, seed=0):
    """Lesson 08's reference VAE and its best beta-VAE form, traversed side by side.

    Each row is named by the factor its latent follows (MIG's best latent for it, with the
    normalised gap) and its KL; the best form is the KL-controlled or fixed-beta model with
    the highest MIG.  The models are the benchmark's (lessons/reference/08_<objective>.npz).
    """
    _say("lesson 08's reference models on the shapes ...")
    shapes = data.load("shapes", seed=seed)
    x_all = np.concatenate([shapes.x_train, shapes.x_test])                # every image
    factors = np.concatenate([shapes.factors_train, shapes.factors_test])
    panels = {}
    for name in ("vae", "beta4", "kl-target", "capacity"):
        model, cfg = reference.load(os.path.join(REFERENCE, f"08_{name}.npz"))
        mu, logvar = (np.asarray(a, np.float64) for a in model.encode(x_all))
        kl = kl_per_dimension(mu, logvar)                                 # (Z,)
        mig, details = disentanglement.mig(model.code(x_all), factors)
        panels[name] = dict(model=model, x0=render(0, 2, 0, 6, 3).reshape(-1), kl=kl, mig=mig,
                            dims=np.argsort(-kl)[:max(3, int(np.sum(kl > 0.1)))],
                            follows=disentanglement.latent_factor_labels(details, shapes.factor_names),
                            title=f"{name}: MIG {mig:.2f}")
    best = max(("beta4", "kl-target", "capacity"), key=lambda n: panels[n]["mig"])
    save(plots.plot_traversals_side_by_side(
        [panels["vae"], panels[best]], shapes.image_shape,
        title="latent traversals on the shapes: each row names the factor its latent follows (gap), and its KL"),
        "traversals_vae_vs_best.png")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "img"), help="folder for the PNGs (default docs/img)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("shapes", "explorer"),
                        help="only the shapes traversals (no browser needed), or only the 2-D models and the explorer")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        if args.only == "shapes":
            os.makedirs(args.out, exist_ok=True)
            paths = []
            shapes_traversals(lambda fig, name: paths.append(_save(fig, args.out, name)), args.seed)
        else:
            paths = make_gallery(args.out, args.seed, only_explorer=args.only == "explorer")
    _say(f"{len(paths)} figures in {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
