"""Every figure of a run folder: what ``tinyvae train`` draws at the end and ``tinyvae plot`` draws.

:func:`save_run_figures` writes the three every run gets; :func:`plot_run` reads a run folder
back and writes every figure that applies to it.  The figures themselves are in
:mod:`tinyvae.plots`; this module only chooses them and names their files.
"""
import os

import numpy as np

from . import holes, plots
from .data import load
from .evaluate import latent_means
from .losses import kl_per_dimension
from .models import VAE
from .runs import load_run, read_metrics


def save_run_figures(run_dir, model, dataset, n=10, seed=0):
    """The figures every run gets: reconstructions, prior samples (VAE) and the latent scatter."""
    shape, x = dataset.image_shape, dataset.x_test
    paths = []

    def save(fig, name):
        paths.append(plots.save_figure(fig, os.path.join(run_dir, name)))

    save(plots.plot_reconstructions(x[:n], model.reconstruct(x[:n]), shape), "reconstructions.png")
    if isinstance(model, VAE):
        samples = model.sample(64, np.random.default_rng(seed))
        save(plots.plot_grid(samples, shape, "samples from the prior, z ~ N(0, I)"), "samples.png")
    codes = latent_means(model, x)                                    # (N, Z)
    save(plots.plot_latent_scatter(codes, dataset.y_test, "test codes coloured by label"), "latent.png")
    return paths


def _pick_pairs(y, n_pairs):
    """Indices of n_pairs (a, b) test examples with different labels, the same every time."""
    a, b = [], []
    classes = np.unique(y)
    for k in range(n_pairs):
        ca, cb = classes[k % len(classes)], classes[(k + 1 + k // len(classes)) % len(classes)]
        a.append(int(np.flatnonzero(y == ca)[0]))
        b.append(int(np.flatnonzero(y == cb)[min(1, np.sum(y == cb) - 1)]))
    return np.array(a), np.array(b)


def plot_run(run_dir, out_dir=None, seed=0):
    """Draw every figure that applies to the run in ``run_dir``; returns the PNG paths.

    All runs: reconstructions, the latent scatter, interpolation, and training curves
    (from metrics.jsonl).  A VAE adds prior samples, the KL per dimension and traversals.
    A 2-D latent adds the manifold grid and the holes map.  Figures go to ``out_dir``
    (default the run folder itself).
    """
    model, cfg, _ = load_run(run_dir)
    ds = load(cfg.data, data_dir=cfg.data_dir, binarize=cfg.binarize, seed=cfg.seed)
    out = out_dir or run_dir
    os.makedirs(out, exist_ok=True)
    shape, x = ds.image_shape, ds.x_test
    name = f"{cfg.model.upper()} on {cfg.data}, Z = {model.Z}"
    paths = save_run_figures(out, model, ds, seed=seed)

    def save(fig, file_name):
        paths.append(plots.save_figure(fig, os.path.join(out, file_name)))

    rows = read_metrics(run_dir)
    if rows:
        save(plots.plot_training_curves(rows, f"training curves: {name}"), "training_curves.png")
    a, b = _pick_pairs(ds.y_test, 5)
    save(plots.plot_interpolation(model, x[a], x[b], shape), "interpolation.png")
    if isinstance(model, VAE):
        mu, logvar = (np.asarray(v, np.float64) for v in model.encode(x))
        kl = kl_per_dimension(mu, logvar)
        save(plots.plot_kl_per_dimension(kl, f"KL per latent dimension: {name}"), "kl_per_dimension.png")
        dims = np.argsort(-kl)[:10]
        save(plots.plot_traversals(model, x[0], shape, dims=dims, kl=kl), "traversals.png")
    if model.Z == 2:
        if isinstance(model, VAE):
            mean, std, fitted = (0.0, 0.0), (1.0, 1.0), "prior"
        else:
            codes = latent_means(model, ds.x_train)
            mean, std, fitted = codes.mean(axis=0), codes.std(axis=0), "fitted Gaussian"
        save(plots.plot_manifold(model, shape, mean=mean, std=std, title=f"manifold: {name}",
                                 quantiles_of=fitted), "manifold.png")
        hm = holes.holes_map(model, ds.x_train, seed=seed)
        save(plots.plot_holes_map([hm], shape, [cfg.model.upper()]), "holes_map.png")
    return paths
