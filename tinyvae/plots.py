"""Figures.  The only module that imports matplotlib (on the Agg backend when there is no display).

Each ``plot_*`` function returns a matplotlib Figure; each ``save_*`` writes a PNG.
Images are (N, D) rows in [0, 1] with ``image_shape = (H, W)``, H * W = D.
"""
import os

import matplotlib

if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .runs import atomic_write  # noqa: E402


def save_figure(fig, path, dpi=110):
    """Write ``fig`` as a PNG atomically and close it."""
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight"))
    plt.close(fig)
    return path


def tile(images, image_shape, ncols=None, pad=1):
    """Arrange (N, H*W) images in a grid with ``pad`` pixels of white between them: (rows, cols)."""
    images = np.clip(np.asarray(images, dtype=np.float64), 0, 1)
    N = images.shape[0]
    H, W = image_shape
    ncols = ncols or int(np.ceil(np.sqrt(N)))
    nrows = int(np.ceil(N / ncols))
    canvas = np.full((nrows * (H + pad) + pad, ncols * (W + pad) + pad), 0.25)   # light grey gaps
    for i in range(N):
        r, c = divmod(i, ncols)
        canvas[pad + r * (H + pad): pad + r * (H + pad) + H,
               pad + c * (W + pad): pad + c * (W + pad) + W] = images[i].reshape(H, W)
    return canvas


def plot_grid(images, image_shape, title, ncols=None):
    """A grid of images, dark strokes on white."""
    canvas = tile(images, image_shape, ncols)
    fig, ax = plt.subplots(figsize=(min(10, 0.6 + canvas.shape[1] / 12), min(10, 0.8 + canvas.shape[0] / 12)))
    ax.imshow(1 - canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")
    return fig


def plot_reconstructions(x, x_hat, image_shape, n=10, title="inputs (top) and reconstructions (bottom)"):
    """Inputs in the first row, their reconstructions beneath."""
    n = min(n, len(x))
    return plot_grid(np.concatenate([x[:n], x_hat[:n]]), image_shape, title, ncols=n)


def pca_2d(codes):
    """The first two principal components of ``codes`` (N, Z): (N, 2) and the variance fractions."""
    centred = codes - codes.mean(axis=0)
    _, s, Vt = np.linalg.svd(centred, full_matrices=False)
    explained = s ** 2 / max(np.sum(s ** 2), 1e-300)
    return centred @ Vt[:2].T, explained[:2]


def plot_latent_scatter(codes, labels, title="latent codes coloured by label"):
    """The codes coloured by label: directly for Z = 2, else their first two principal components."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.shape[1] == 1:
        codes = np.column_stack([codes[:, 0], np.zeros(len(codes))])
        xlabel, ylabel = "z1", "(Z = 1)"
    elif codes.shape[1] == 2:
        xlabel, ylabel = "z1", "z2"
    else:
        Z = codes.shape[1]
        codes, frac = pca_2d(codes)
        xlabel = f"principal component 1 ({100 * frac[0]:.0f}% of variance)"
        ylabel = f"principal component 2 ({100 * frac[1]:.0f}% of variance)"
        title = f"{title}\n(first two principal components of the Z = {Z} means)"
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    classes = np.unique(labels)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, c in enumerate(classes):
        m = labels == c
        ax.scatter(codes[m, 0], codes[m, 1], s=6, color=cmap(i % cmap.N), label=str(c), alpha=0.75)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(title="label", markerscale=2.5, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def save_run_figures(run_dir, model, dataset, n=10, seed=0):
    """The figures every run gets: reconstructions, prior samples (VAE) and the latent scatter."""
    from .models import VAE

    shape = dataset.image_shape
    x = dataset.x_test
    paths = [save_figure(plot_reconstructions(x[:n], model.reconstruct(x[:n]), shape),
                         os.path.join(run_dir, "reconstructions.png"))]
    if isinstance(model, VAE):
        samples = model.sample(64, np.random.default_rng(seed))
        paths.append(save_figure(plot_grid(samples, shape, "samples from the prior, z ~ N(0, I)"),
                                 os.path.join(run_dir, "samples.png")))
        codes = model.encode(x)[0]
    else:
        codes = model.encode(x)
    paths.append(save_figure(plot_latent_scatter(codes, dataset.y_test, "test codes coloured by label"),
                             os.path.join(run_dir, "latent.png")))
    return paths
