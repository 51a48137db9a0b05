"""The README's figures, made from scratch: ``python -m tinyvae.gallery [--out docs/img]``.

Trains the models the figures need (the same settings as the lessons) and writes:

    holes_ae_vs_vae.png    the holes map of a 2-D AE and a 2-D VAE (lessons 02 and 07)
    manifold.png           the 2-D VAE's decoder over the plane, by prior quantiles
    samples.png            decoded draws z ~ N(0, I) of a VAE with Z = 16
    training_curves.png    that VAE's reconstruction, KL and -ELBO per epoch, train and test
    beta_traversals.png    latent traversals of a beta-VAE (beta = 4) on the shapes (lesson 08)
    explorer_ae.png        the explorer page (tinyvae explore) of the 2-D AE and of the 2-D VAE,
    explorer_vae.png       screenshots taken in headless Chromium (tinyvae/browser.py)

It takes about 30 seconds.  It runs with one BLAS thread (threadpoolctl): the models multiply
small matrices, and a second BLAS thread that has to wait for a core slows every step down.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from . import browser, data, explore, holes, plots
from .config import TrainConfig
from .losses import kl_per_dimension
from .models import VAE, Autoencoder
from .runs import load_run, read_metrics
from .shapes import render
from .train import Trainer, fit, run

DPI = 90                            # keeps every PNG well under 150 KB


def _say(text):
    print(text, flush=True)


def screenshot_explorer(context, model, dataset, path, seed=0):
    """The explorer page of ``model`` in the browser ``context``, saved as a PNG at ``path``:
    the pointer in the hole cell farthest from every code within the prior's 2-sigma contour,
    and the interpolation strip from the densest cell into it."""
    with tempfile.TemporaryDirectory() as tmp:
        page_path = explore.write_explorer(model, dataset, os.path.join(tmp, "explorer.html"), seed=seed)
        with open(page_path, encoding="utf-8") as f:
            data = explore.read_page_data(f.read())
        centres, distance, _ = explore.cell_centres(data)
        diff = centres - data["prior_mean"]                               # (bins^2, 2)
        maha = np.sqrt(np.sum(diff @ np.linalg.inv(data["prior_cov"]) * diff, axis=1))
        in_reach = np.where(maha <= 2, distance, -np.inf)                 # inside the 2-sigma contour
        hole = centres[np.argmax(in_reach)]
        dense = centres[np.argmin(distance)]
        page = context.new_page()
        page.set_viewport_size({"width": 1060, "height": 830})
        page.goto("file://" + os.path.abspath(page_path))
        page.wait_for_function("window.tinyvae && window.tinyvae.ready")
        page.evaluate("document.getElementById('interp-mode').checked = true")
        for point in (dense, hole):                                   # the strip, then rest in the hole
            x, y = page.evaluate("([a, b]) => window.tinyvae.pixelOf(a, b)", [float(v) for v in point])
            page.mouse.click(x, y)
        page.screenshot(path=path, clip={"x": 0, "y": 0, "width": 1060, "height": 830})
        page.close()
    return path


def make_gallery(out="docs/img", seed=0):
    """Train the models and write the figures into ``out``; returns the PNG paths."""
    os.makedirs(out, exist_ok=True)
    paths = []

    def save(fig, name):
        paths.append(plots.save_figure(fig, os.path.join(out, name), dpi=DPI))
        _say(f"  wrote {paths[-1]} ({os.path.getsize(paths[-1]) // 1024} KB)")

    digits = data.load("digits")
    x = digits.x_train

    # 1. a 2-D AE and a 2-D VAE trained the same way (lesson 02's settings)
    _say("2-D AE and VAE on the digits ...")
    ae = Autoencoder(digits.D, (128,), 2, loss="bce", rng=np.random.default_rng(seed))
    vae2 = VAE(digits.D, (128,), 2, rng=np.random.default_rng(seed))
    for model in (ae, vae2):
        fit(model, x, 50, batch_size=32, lr=3e-3, seed=seed)
    maps = [holes.holes_map(ae, x, seed=seed), holes.holes_map(vae2, x, seed=seed)]
    save(plots.plot_holes_map(maps, digits.image_shape, ["AE", "VAE"]), "holes_ae_vs_vae.png")
    save(plots.plot_manifold(vae2, digits.image_shape, n=15, title="a 2-D VAE's decoder over the plane"),
         "manifold.png")
    with browser.chromium() as context:
        for model, name in ((ae, "explorer_ae.png"), (vae2, "explorer_vae.png")):
            paths.append(screenshot_explorer(context, model, digits, os.path.join(out, name), seed))
            _say(f"  wrote {paths[-1]} ({os.path.getsize(paths[-1]) // 1024} KB)")

    # 2. a VAE with Z = 16, trained by `tinyvae train` into a temporary run folder
    _say("VAE with Z = 16 on the digits ...")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "vae16")
        cfg = TrainConfig(model="vae", data="digits", epochs=100, hidden=[256], latent=16, batch_size=64,
                          seed=seed)
        run(cfg, out=run_dir, log=lambda *a: None, progress_bars=False)
        vae16, _, _ = load_run(run_dir)
        rows = read_metrics(run_dir)
    save(plots.plot_samples(vae16.sample(64, np.random.default_rng(seed)), digits.image_shape,
                            "VAE (Z = 16) on the digits: decoded z ~ N(0, I)"), "samples.png")
    save(plots.plot_training_curves(rows, "VAE (Z = 16) on the digits"), "training_curves.png")

    # 3. a beta-VAE on the shapes with rotation index 0 (lesson 08's settings)
    _say("beta-VAE (beta = 4) on the shapes ...")
    shapes = data.load("shapes", seed=seed)
    keep = shapes.factors_train[:, 2] == 0
    xs = shapes.x_train[keep]
    bvae = VAE(shapes.D, (256, 128), 6, beta=4.0, rng=np.random.default_rng(seed))
    trainer = Trainer(bvae, np.random.default_rng(seed), batch_size=64, lr=2e-3)
    for _ in range(60):
        trainer.train_epoch(xs)
    mu, logvar = (np.asarray(a, np.float64) for a in bvae.encode(xs))
    kl = kl_per_dimension(mu, logvar)
    x0 = render(0, 2, 0, 6, 6).reshape(-1)          # a square of the third size, near the middle
    save(plots.plot_traversals(bvae, x0, shapes.image_shape, values=np.linspace(-2.5, 2.5, 9), kl=kl,
                               title="beta-VAE (beta = 4) on shapes: latent traversals, sorted by KL"),
         "beta_traversals.png")
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinyvae.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "img"), help="folder for the PNGs (default docs/img)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        paths = make_gallery(args.out, args.seed)
    _say(f"{len(paths)} figures in {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
