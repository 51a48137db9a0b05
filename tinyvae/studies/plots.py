"""Figures.  The only module that imports matplotlib (on the Agg backend when there is no display).

Each ``plot_*`` function returns a matplotlib Figure; ``save_figure`` writes it as a PNG.
Images are (N, D) rows in [0, 1] with ``image_shape = (H, W)``, H * W = D, drawn dark on
white.  :mod:`tinyvae.app.run_figures` uses them to draw every figure of a run folder
(``tinyvae plot RUN_DIR``); the lessons draw their own charts with matplotlib directly.

What is drawn, in the lecture's order:

    plot_reconstructions     inputs above their reconstructions x' = f(g(x))
    plot_samples             decoded draws z ~ p(z)
    plot_latent_scatter      the codes coloured by label (2-D directly, else 2 principal components)
    plot_manifold            the decoder over a grid of z, by prior quantiles (2-D latent)
    plot_interpolation       decoded straight lines between two inputs' codes
    plot_traversals          one latent dimension varied at a time (rows named by the factor they follow)
    plot_traversals_side_by_side   the same for several models next to each other
    plot_training_curves     reconstruction, KL and -ELBO per epoch (metrics.jsonl)
    plot_kl_per_dimension    KL(q || p) of each latent dimension
    plot_holes_map           aggregate posterior, prior contours, holes, decodes from holes

and two general ones for rows of images: ``plot_grid`` and ``plot_image_rows``.
"""
import os
from statistics import NormalDist

import matplotlib
import matplotlib.ticker

if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..base.atomic import MARK, atomic_write_all, written_by_tinyvae  # noqa: E402

GAP = 0.25          # grey level of the gaps between tiles (drawn as 1 - GAP)
HOLE_RGBA = (0.93, 0.56, 0.50, 1.0)       # hole cells, opaque: a hole shows red over any density beneath


# --- 0. saving, and images in a grid ----------------------------------------------------------
def save_figure(fig, path, dpi=110, own_only=False):
    """Write ``fig`` as a PNG atomically and close it (``own_only``: as :func:`save_figures`)."""
    return save_figures({path: fig}, dpi, own_only)[0]


def save_figures(figs, dpi=110, own_only=False):
    """Write ``{path: fig}`` as PNGs in one step (all or none, ``runs.atomic_write_all``) and close them.

    Each PNG carries tinyvae's mark (a "Software" text chunk, :data:`tinyvae.base.atomic.MARK`).
    With ``own_only`` (what the ``tinyvae`` commands ask), a path that holds a file without
    the mark is refused before anything is written: a command replaces its own earlier
    figure, never a picture of the user's."""
    from .. import __version__
    from ..base.errors import UsageError

    try:
        for path in figs:
            if own_only and os.path.lexists(path) and not written_by_tinyvae(path):
                raise UsageError(f"{path} exists and is not a figure tinyvae wrote, so it is left as it is; move "
                                 f"it away and run the command again")
        mark = {"Software": f"{MARK} {__version__}"}
        atomic_write_all([(path, lambda f, fig=fig: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight",
                                                                metadata=mark))
                          for path, fig in figs.items()])
    finally:
        for fig in figs.values():
            plt.close(fig)
    return list(figs)


def tile(images, image_shape, ncols=None, pad=1):
    """Arrange (N, H*W) images in a grid with ``pad`` pixels of grey between them: (rows, cols)."""
    images = np.clip(np.asarray(images, dtype=np.float64), 0, 1)
    N = images.shape[0]
    H, W = image_shape
    ncols = ncols or int(np.ceil(np.sqrt(N)))
    nrows = int(np.ceil(N / ncols))
    canvas = np.full((nrows * (H + pad) + pad, ncols * (W + pad) + pad), GAP)   # light grey gaps
    for i in range(N):
        r, c = divmod(i, ncols)
        canvas[pad + r * (H + pad): pad + r * (H + pad) + H,
               pad + c * (W + pad): pad + c * (W + pad) + W] = images[i].reshape(H, W)
    return canvas


def _tile_centres(n, size, pad=1):
    """Pixel coordinates of the centres of n tiles of ``size`` along one axis of a canvas."""
    return pad + np.arange(n) * (size + pad) + (size - 1) / 2


def _show_canvas(ax, canvas):
    ax.imshow(1 - canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")


def plot_grid(images, image_shape, title, ncols=None, highlight=None):
    """A grid of images, dark strokes on white.

    ``highlight`` (N,) bool frames the chosen images in red (e.g. samples that landed in a hole).
    """
    canvas = tile(images, image_shape, ncols)
    fig, ax = plt.subplots(figsize=(min(10, 0.6 + canvas.shape[1] / 12), min(10, 0.8 + canvas.shape[0] / 12)))
    _show_canvas(ax, canvas)
    if highlight is not None:
        H, W = image_shape
        n = len(images)
        ncols = ncols or int(np.ceil(np.sqrt(n)))
        for i in np.flatnonzero(highlight):
            r, c = divmod(i, ncols)
            ax.add_patch(plt.Rectangle((c * (W + 1) + 0.5, r * (H + 1) + 0.5), W, H, fill=False,
                                       edgecolor="red", linewidth=1.6))
    ax.set_title(title)
    ax.axis("off")
    return fig


def _image_table(ax, images, image_shape, row_labels=None, col_labels=None):
    """Draw images (R, C, D) as a table on ``ax``, with row and column labels as tick labels."""
    R, C = images.shape[:2]
    H, W = image_shape
    _show_canvas(ax, tile(images.reshape(R * C, -1), image_shape, ncols=C))
    ax.set_xticks(_tile_centres(C, W) if col_labels is not None else [])
    ax.set_yticks(_tile_centres(R, H) if row_labels is not None else [])
    if col_labels is not None:
        ax.set_xticklabels(col_labels, fontsize=8)
        ax.xaxis.set_ticks_position("top")
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=9)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)


def _table_figsize(R, C, image_shape, extra_w=1.4, extra_h=0.9, cell=0.62):
    H, W = image_shape
    aspect = H / W
    return (min(13, extra_w + C * cell), min(13, extra_h + R * cell * aspect))


def plot_image_rows(rows, image_shape, title, col_labels=None):
    """Labelled rows of images: ``rows`` is a list of (label, images (C, D)), all with the same C."""
    images = np.stack([np.asarray(imgs, dtype=np.float64) for _, imgs in rows])     # (R, C, D)
    fig, ax = plt.subplots(figsize=_table_figsize(*images.shape[:2], image_shape))
    _image_table(ax, images, image_shape, [label for label, _ in rows], col_labels)
    ax.set_title(title, pad=14 if col_labels is not None else 6)
    return fig


# --- 1. the autoencoder ------------------------------------------------------------------------
def plot_reconstructions(x, x_hat, image_shape, n=10, title="inputs (top) and reconstructions (bottom)"):
    """Inputs in the first row, their reconstructions beneath."""
    n = min(n, len(x))
    return plot_image_rows([("input x", x[:n]), ("reconstruction x'", x_hat[:n])], image_shape, title)


def plot_samples(samples, image_shape, title="samples from the prior, z ~ N(0, I)", highlight=None):
    """Decoded draws from the prior, in a square grid."""
    return plot_grid(samples, image_shape, title, highlight=highlight)


def pca_2d(codes):
    """The first two principal components of ``codes`` (N, Z): (N, 2) and the variance fractions."""
    centred = codes - codes.mean(axis=0)
    _, s, Vt = np.linalg.svd(centred, full_matrices=False)
    explained = s ** 2 / max(np.sum(s ** 2), 1e-300)
    return centred @ Vt[:2].T, explained[:2]


def plot_latent_scatter(codes, labels, title="latent codes coloured by label", ax=None):
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
    fig = None
    if ax is None:
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
    return fig if fig is not None else ax.figure


def plot_latent_scatters(panels, title=None):
    """Several latent scatters side by side: ``panels`` is a list of (codes, labels, title)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 5.0), squeeze=False)
    for ax, (codes, labels, sub) in zip(axes[0], panels):
        plot_latent_scatter(codes, labels, sub, ax=ax)
        if ax is not axes[0, -1]:
            ax.get_legend().remove()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- 2. the latent space of a trained model ----------------------------------------------------
def prior_quantile_grid(n, lo=0.05, hi=0.95):
    """n values of z whose standard normal CDF runs evenly from ``lo`` to ``hi``: (n,)."""
    return np.array([NormalDist().inv_cdf(u) for u in np.linspace(lo, hi, n)])


def plot_manifold(model, image_shape, n=15, mean=(0.0, 0.0), std=(1.0, 1.0), title=None,
                  quantiles_of="prior"):
    """The decoder over an n x n grid of a 2-D latent, spaced by the prior's quantiles.

    z_i = mean_i + std_i * Phi^{-1}(u), u evenly from 5% to 95%, so each tile covers an
    equal share of the prior's mass.  For an AE pass the mean and std of its codes (and
    ``quantiles_of="fitted Gaussian"`` for the axis labels).
    """
    if model.Z != 2:
        raise ValueError(f"the manifold grid needs a 2-D latent; this model has Z = {model.Z}")
    q = prior_quantile_grid(n)                                     # (n,)
    v1, v2 = mean[0] + std[0] * q, mean[1] + std[1] * q
    G1, G2 = np.meshgrid(v1, v2[::-1])                             # top row = largest z2
    z = np.stack([G1.ravel(), G2.ravel()], axis=1)                 # (n^2, 2)
    images = np.asarray(model.decode(z), dtype=np.float64).reshape(n, n, -1)
    fig, ax = plt.subplots(figsize=(7.4, 7.2))
    every = max(1, n // 7)
    _image_table(ax, images, image_shape)
    H, W = image_shape
    ax.set_xticks(_tile_centres(n, W)[::every])
    ax.set_xticklabels([f"{v:.2f}" for v in v1[::every]], fontsize=8)
    ax.set_yticks(_tile_centres(n, H)[::every])
    ax.set_yticklabels([f"{v:.2f}" for v in v2[::-1][::every]], fontsize=8)
    ax.xaxis.set_ticks_position("bottom")
    ax.set_xlabel(f"z1 ({quantiles_of} quantiles 5% ... 95%)")
    ax.set_ylabel(f"z2 ({quantiles_of} quantiles 5% ... 95%)")
    ax.set_title(title or "the decoder over the latent plane")
    return fig


def plot_interpolation(model, x_a, x_b, image_shape, steps=8, title=None):
    """Decoded points on the straight line between the codes of x_a and x_b, one row per pair.

    x_a, x_b : (P, D) pairs of inputs.  Row p shows x_a[p], f((1 - t) z_a + t z_b) for t
    from 0 to 1, and x_b[p].
    """
    z_a, z_b = model.code(x_a), model.code(x_b)          # (P, Z) each
    t = np.linspace(0, 1, steps)                                   # (T,)
    z = (1 - t)[None, :, None] * z_a[:, None] + t[None, :, None] * z_b[:, None]   # (P, T, Z)
    P, D = len(x_a), model.D
    path = np.asarray(model.decode(z.reshape(P * steps, -1)), dtype=np.float64).reshape(P, steps, D)
    images = np.concatenate([np.asarray(x_a, np.float64)[:, None], path,
                             np.asarray(x_b, np.float64)[:, None]], axis=1)
    cols = ["input a"] + [f"t={v:.2f}".rstrip("0").rstrip(".") for v in t] + ["input b"]
    fig, ax = plt.subplots(figsize=_table_figsize(P, steps + 2, image_shape, extra_w=0.6))
    _image_table(ax, images, image_shape, None, cols)
    ax.set_title(title or "interpolation in latent space: decode (1 - t) z_a + t z_b", pad=16)
    return fig


def _traversal_rows(model, x0, values, dims, kl=None, follows=None):
    """Decoded traversals (R, C, D) and their row labels "z<j> <factors it follows>  KL <nats>"."""
    z0 = model.code(np.asarray(x0)[None])[0]               # (Z,)
    Z = model.Z
    z = np.tile(z0, (len(dims), len(values), 1))                   # (R, C, Z)
    for r, j in enumerate(dims):
        z[r, :, j] = values
    images = np.asarray(model.decode(z.reshape(-1, Z)), dtype=np.float64).reshape(len(dims), len(values), -1)
    labels = [f"z{j + 1}" + (f" {follows[j] or '(none)'}" if follows is not None else "")
              + (f"  KL {kl[j]:.2f}" if kl is not None else "") for j in dims]
    return images, labels


def plot_traversals(model, x0, image_shape, values=None, dims=None, kl=None, follows=None, title=None):
    """Vary one latent dimension at a time around the code of ``x0`` (D,), keeping the others.

    Rows are latent dimensions (``dims``, default all; sorted by ``kl`` when given, most
    informative first), columns the values it takes (default -3 .. 3).  ``follows`` (Z
    strings, e.g. from ``disentanglement.latent_factor_labels``) names the factor each
    latent follows; with ``kl`` the row reads "z3 x 0.83  KL 1.55".
    """
    values = np.linspace(-3, 3, 9) if values is None else np.asarray(values, dtype=np.float64)
    if dims is None:
        dims = np.argsort(-np.asarray(kl)) if kl is not None else np.arange(model.Z)
    images, rows = _traversal_rows(model, x0, values, list(dims), kl, follows)
    extra_w = 1.8 if follows is None else 1.8 + 0.06 * max(len(r) for r in rows)
    fig, ax = plt.subplots(figsize=_table_figsize(len(rows), len(values), image_shape, extra_w=extra_w))
    _image_table(ax, images, image_shape, rows, [f"{v:+.1f}" for v in values])
    ax.set_title(title or "latent traversals: one dimension varied, the others held at the code of x",
                 pad=16)
    return fig


def plot_traversals_side_by_side(panels, image_shape, values=None, title=None):
    """Traversal tables of several models next to each other, rows labelled as in plot_traversals.

    ``panels`` is a list of dicts with keys ``model``, ``x0``, ``dims``, ``kl``, ``follows``
    and ``title``; every panel varies its latents over the same ``values``.
    """
    values = np.linspace(-2.5, 2.5, 7) if values is None else np.asarray(values, dtype=np.float64)
    tables = [_traversal_rows(p["model"], p["x0"], values, list(p["dims"]), p["kl"], p.get("follows"))
              for p in panels]
    R = max(len(rows) for _, rows in tables)
    # pad every table to R rows with blank ones, so that the panels' cells have one size
    tables = [(np.concatenate([images, np.zeros((R - len(rows),) + images.shape[1:])]), rows + [""] * (R - len(rows)))
              for images, rows in tables]
    label_w = 0.075 * max(len(r) for _, rows in tables for r in rows)
    w, h = _table_figsize(R, len(values), image_shape, extra_w=label_w + 0.3)
    fig, axes = plt.subplots(1, len(panels), figsize=(w * len(panels), h + 0.3), squeeze=False)
    for ax, (images, rows), panel in zip(axes[0], tables, panels):
        _image_table(ax, images, image_shape, rows, [f"{v:+.1f}" for v in values])
        ax.set_title(panel["title"], pad=16, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- 3. training and the KL --------------------------------------------------------------------
def _as_rows(rows):
    """metrics.jsonl rows, or the per-epoch Loss tuples that ``train.fit`` returns, as dicts."""
    rows = list(rows)
    if rows and hasattr(rows[0], "recon"):
        return [{"epoch": i + 1, "train_recon": r.recon, "train_kl": r.kl, "train_loss": -r.elbo}
                for i, r in enumerate(rows)]
    return rows


def plot_training_curves(rows, title="training curves"):
    """Reconstruction, KL and -ELBO per epoch, train and (when present) test.

    ``rows`` are the dicts of ``metrics.jsonl`` (``runs.read_metrics``) or the Loss tuples
    ``train.fit`` returns.  An AE (KL always 0) gets the reconstruction panel only.
    """
    rows = _as_rows(rows)
    if not rows:
        raise ValueError("no training rows to plot; train for at least one epoch")
    epoch = np.array([r["epoch"] for r in rows])
    has_kl = any(r.get("train_kl", 0) for r in rows)
    panels = [("train_recon", "reconstruction  -E_q log p(x|z)")]
    if has_kl:
        panels += [("train_kl", "KL(q(z|x) || p(z))"), ("train_loss", "-ELBO = reconstruction + KL")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        ax.plot(epoch, [r[key] for r in rows], label="train", color="C0")
        test_key = key.replace("train_", "test_")
        if all(test_key in r for r in rows):
            ax.plot(epoch, [r[test_key] for r in rows], label="test", color="C1")
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per example")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_kl_per_dimension(kl, title="KL(q(z|x) || p(z)) of each latent dimension"):
    """Bars of the KL of each latent dimension (nats); near-zero bars are collapsed units."""
    kl = np.asarray(kl, dtype=np.float64)
    Z = len(kl)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 + 0.32 * Z), 3.4))
    ax.bar(np.arange(1, Z + 1), kl, color=np.where(kl > 0.05, "C0", "0.6"))
    ax.set_xlabel("latent dimension j")
    ax.set_ylabel("KL (nats per example)")
    ax.set_xticks(np.arange(1, Z + 1) if Z <= 20 else np.arange(1, Z + 1, max(1, Z // 10)))
    ax.set_title(title, fontsize=10)
    ax.text(0.99, 0.97, "grey: below 0.05 nats (collapsed)", transform=ax.transAxes,
            ha="right", va="top", fontsize=8, color="0.4")
    ax.grid(axis="y", alpha=0.3)
    return fig


# --- 4. the holes map --------------------------------------------------------------------------
def _draw_holes_map(ax, hm, title):
    """One holes map (a ``holes.HolesMap``) on ``ax``; returns the image for a colour bar."""
    z1, z2 = hm.z1, hm.z2
    h1, h2 = z1[1] - z1[0], z2[1] - z2[0]
    extent = (z1[0] - h1 / 2, z1[-1] + h1 / 2, z2[0] - h2 / 2, z2[-1] + h2 / 2)
    top = float(hm.density.max())
    floor = top * 1e-4 if top > 0 else 1.0
    logd = np.log10(np.maximum(hm.density, floor))
    im = ax.imshow(logd, origin="lower", extent=extent, cmap="Blues", aspect="auto",
                   vmin=np.log10(floor), vmax=np.log10(max(top, floor)), interpolation="nearest")
    overlay = np.zeros(hm.hole.shape + (4,))
    overlay[hm.hole] = HOLE_RGBA
    ax.imshow(overlay, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
    cs = ax.contour(z1, z2, hm.prior_radius, levels=[1, 2, 3], colors="k", linewidths=1.0,
                    linestyles=["-", "--", ":"])
    ax.clabel(cs, fmt={1: "1σ", 2: "2σ", 3: "3σ"}, fontsize=8)
    for k, (a, b) in enumerate(hm.picks):       # a dot on the hole point, its letter beside it (the letter's
        ax.plot(a, b, "o", ms=4, mfc=HOLE_RGBA[:3], mec="k", mew=0.8)   # box would hide a small hole)
        ax.annotate(chr(ord("A") + k), (a, b), xytext=(7, 7), textcoords="offset points", ha="center",
                    va="center", fontsize=8, fontweight="bold",
                    bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec="k", lw=0.8))
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    ax.set_aspect("equal")                 # holes are defined by Euclidean distance: keep circles round
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title, fontsize=10)
    return im


def plot_holes_map(maps, image_shape, names=None, title=None):
    """The holes map of one or more models with a 2-D latent, side by side.

    For each ``holes.HolesMap``: the density of the training encodings (blue, log scale),
    the prior's 1, 2 and 3 sigma contours (black), the cells that no encoding reaches
    (red: centre farther than the hole radius r from every code), and, beneath, the
    decoder's images at the lettered points inside holes.
    """
    if not isinstance(maps, (list, tuple)):
        maps = [maps]
    names = names or [m.kind for m in maps]
    n = len(maps)
    fig = plt.figure(figsize=(5.6 * n, 6.6))
    grid = fig.add_gridspec(2, n, height_ratios=[4.6, 0.9], hspace=0.24, wspace=0.32)
    for c, (hm, name) in enumerate(zip(maps, names)):
        ax = fig.add_subplot(grid[0, c])
        prior = "prior N(0, I)" if hm.kind == "VAE" else "Gaussian fitted to the codes"
        density = ("log10 q(z), the aggregate posterior" if hm.kind == "VAE"
                   else "log10 density of the codes g(x) (histogram)")
        im = _draw_holes_map(ax, hm, f"{name}: hole score {hm.score:.3f}\n"
                                     f"red: holes;  black: {prior} (1, 2, 3σ)")
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        cb.set_label(density, fontsize=8)
        cb.ax.tick_params(labelsize=7)
        strip = fig.add_subplot(grid[1, c])
        if len(hm.picks):
            _image_table(strip, hm.decoded[None], image_shape, None,
                         [chr(ord("A") + k) for k in range(len(hm.picks))])
            strip.set_title(f"decoded inside holes (red cells, farther than r = {hm.radius:.3g} from every code)",
                            fontsize=8, pad=14)
        else:
            strip.axis("off")
            strip.text(0.5, 0.5, "no hole cells within 3σ of the prior", ha="center", va="center")
    if title:
        fig.suptitle(title)
    return fig
