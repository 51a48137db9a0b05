"""Every figure of a run folder: what ``tinyvae train`` draws at the end and ``tinyvae plot`` draws.

:func:`save_run_figures` writes the three every run gets; :func:`plot_run` reads a run folder
back and writes every figure that applies to it.  Each draws all its figures first and writes
them in one step (:func:`tinyvae.studies.plots.save_figures`), so an interrupted command changes no file.  The figures themselves are in
:mod:`tinyvae.studies.plots`; this module only chooses them and names their files.
"""
import os
import sys

import numpy as np

from ..studies import disentanglement, holes, plots
from ..base.errors import one_line
from ..losses import kl_per_dimension
from ..models import VAE
from .runs import load_data, load_run


def save_run_figures(run_dir, model, dataset, n=10, seed=0):
    """Write the figures every run gets (all or none); returns their paths."""
    return plots.save_figures({os.path.join(run_dir, name): fig
                               for name, fig in run_figures(model, dataset, n, seed).items()}, own_only=True)


def run_figures(model, dataset, n=10, seed=0):
    """The figures every run gets, by file name: reconstructions, prior samples (VAE), latent scatter."""
    shape, x = dataset.image_shape, dataset.x_test
    figs = {"reconstructions.png": plots.plot_reconstructions(x[:n], model.reconstruct(x[:n]), shape)}
    if isinstance(model, VAE):
        samples = model.sample(64, np.random.default_rng(seed))
        figs["samples.png"] = plots.plot_grid(samples, shape, "samples from the prior, z ~ N(0, I)")
    codes = model.code(x)                                    # (N, Z)
    figs["latent.png"] = plots.plot_latent_scatter(codes, dataset.y_test, "test codes coloured by label")
    return figs


def _pick_pairs(y, n_pairs):
    """Indices of n_pairs (a, b) test examples with different labels, the same every time."""
    a, b = [], []
    classes = np.unique(y)
    for k in range(n_pairs):
        ca, cb = classes[k % len(classes)], classes[(k + 1 + k // len(classes)) % len(classes)]
        a.append(int(np.flatnonzero(y == ca)[0]))
        b.append(int(np.flatnonzero(y == cb)[min(1, np.sum(y == cb) - 1)]))
    return np.array(a), np.array(b)


def plot_run(run_dir, out_dir=None, seed=0, data_dir=None):
    """Draw every figure that applies to the run in ``run_dir``; returns the PNG paths.

    All runs: reconstructions, the latent scatter, interpolation, and training curves
    (from metrics.jsonl).  A VAE adds prior samples, the KL per dimension and traversals
    (on the shapes, each row names the factor its latent follows).
    A 2-D latent adds the manifold grid and the holes map.  Figures go to ``out_dir``
    (default the run folder itself).
    """
    model, cfg, meta = load_run(run_dir)
    ds = load_data(cfg, run_dir, D=meta["D"], data_dir=data_dir)
    out = out_dir or run_dir
    os.makedirs(out, exist_ok=True)
    shape, x = ds.image_shape, ds.x_test
    name = f"{cfg.model.upper()} on {cfg.data}, Z = {model.Z}"
    figs = run_figures(model, ds, seed=seed)      # drawn first, written together at the end, so a
                                                  # Ctrl-C while drawing leaves every file as it was

    def save(file_name, draw):
        """Draw one figure; one that these data cannot give is skipped with a note."""
        try:
            figs[file_name] = draw()
        except ValueError as err:                   # e.g. a holes map from a single training image
            print(f"note: skipped {file_name}: {one_line(err)}", file=sys.stderr)

    rows = meta["metrics"]
    if rows:
        save("training_curves.png", lambda: plots.plot_training_curves(rows, f"training curves: {name}"))
    a, b = _pick_pairs(ds.y_test, 5)
    save("interpolation.png", lambda: plots.plot_interpolation(model, x[a], x[b], shape))
    if isinstance(model, VAE):
        mu, logvar = (np.asarray(v, np.float64) for v in model.encode(x))
        kl = kl_per_dimension(mu, logvar)
        save("kl_per_dimension.png", lambda: plots.plot_kl_per_dimension(kl, f"KL per latent dimension: {name}"))
        dims = np.argsort(-kl)[:10]
        follows = None
        if ds.factors_train is not None:        # known factors (the shapes): name the one each row follows
            x_all = np.concatenate([ds.x_train, ds.x_test])
            factors = np.concatenate([ds.factors_train, ds.factors_test])
            _, details = disentanglement.mig(model.code(x_all), factors)
            follows = disentanglement.latent_factor_labels(details, ds.factor_names)
        title = ("latent traversals: each row names the factor its latent follows (MIG's best latent, "
                 "with its gap) and its KL" if follows else None)
        save("traversals.png", lambda: plots.plot_traversals(model, x[0], shape, dims=dims, kl=kl, follows=follows,
                                                             title=title))
    if model.Z == 2:
        if isinstance(model, VAE):
            mean, std, fitted = (0.0, 0.0), (1.0, 1.0), "prior"
        else:
            codes = model.code(ds.x_train)
            mean, std, fitted = codes.mean(axis=0), codes.std(axis=0), "fitted Gaussian"
        save("manifold.png", lambda: plots.plot_manifold(model, shape, mean=mean, std=std,
                                                         title=f"manifold: {name}", quantiles_of=fitted))
        save("holes_map.png", lambda: plots.plot_holes_map([holes.holes_map(model, ds.x_train, seed=seed)],
                                                           shape, [cfg.model.upper()]))
    return plots.save_figures({os.path.join(out, name): fig for name, fig in figs.items()}, own_only=True)
