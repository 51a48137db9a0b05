"""Figures: every plot function draws what its caller asked for on tiny models (the titles, the
axis labels, the panels, and the pixels themselves), and plot_run draws what applies to a run.

The pixel checks read the figure back from its Agg canvas.  Images are drawn with the gray
colormap, whose 256 entries and the canvas's 8-bit colours put a grey level within
1/255 + 0.5/255 of its value: INK below.  A table of images is compared cell by cell with a
layout built here from the rule plots.py states (image k at row k // ncols, column k % ncols,
one grey pixel between tiles), not with plots.tile itself.
"""
import os
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib
import matplotlib.colors as mcolors
import matplotlib.image as mimage
import numpy as np
import pytest

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # tools/: development only, not installed
from tinyvae.studies import holes, plots  # noqa: E402
from tinyvae.app.config import TrainConfig  # noqa: E402
from tinyvae.app.run_figures import plot_run  # noqa: E402
from tinyvae.app.training import run  # noqa: E402
from tinyvae.models import VAE, Autoencoder  # noqa: E402
from tinyvae.train import fit  # noqa: E402
from tools import gallery  # noqa: E402

SHAPE = (4, 4)                      # 16-pixel images keep every model tiny
INK = 2 / 255                       # a grey level drawn by the gray colormap on an 8-bit canvas


@pytest.fixture(scope="module")
def tiny():
    """A 2-D VAE, a 3-D VAE and a 2-D AE, each trained for two epochs on 60 random images."""
    rng = np.random.default_rng(0)
    x = (rng.random((60, 16)) < 0.4).astype(np.float32)
    y = np.arange(60) % 3
    vae2, vae3 = VAE(16, (8,), 2, rng=rng), VAE(16, (8,), 3, rng=rng)
    ae2 = Autoencoder(16, (8,), 2, rng=rng)
    losses = {}
    for name, model in (("vae2", vae2), ("vae3", vae3), ("ae2", ae2)):
        losses[name] = fit(model, x, epochs=2, batch_size=20)
    return dict(x=x, y=y, vae2=vae2, vae3=vae3, ae2=ae2, losses=losses)


# --- reading a figure back ----------------------------------------------------------------------
def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def check(fig, tmp_path, name):
    """The figure saves as a PNG that holds a drawing (not one flat colour)."""
    assert isinstance(fig, matplotlib.figure.Figure)
    path = plots.save_figure(fig, str(tmp_path / f"{name}.png"))
    assert is_png(path)
    assert mimage.imread(path)[..., :3].std() > 0, f"{name}.png is blank"


def drawn(fig):
    """The figure as its Agg canvas draws it: (height, width, 3) in [0, 1], top row first."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255.0


def colours_at(rgb, ax, points):
    """The colours drawn at data points (x, y) of ``ax`` (after ``drawn``): (n, 3)."""
    px, py = ax.transData.transform(np.asarray(points, dtype=np.float64)).T
    return rgb[rgb.shape[0] - 1 - np.floor(py).astype(int), np.floor(px).astype(int)]


def drawn_table(fig, ax):
    """The grey level drawn at the centre of each pixel of the image table on ``ax``, in the
    images' units (1 = dark stroke, 0 = white paper): (rows, cols)."""
    rows, cols = ax.images[0].get_array().shape[:2]
    c, r = np.meshgrid(np.arange(cols), np.arange(rows))
    rgb = colours_at(drawn(fig), ax, np.column_stack([c.ravel(), r.ravel()]))
    return 1 - rgb.mean(axis=1).reshape(rows, cols)


def table(images, ncols, shape=SHAPE):
    """The layout a table of (N, H*W) images should have: image k at row k // ncols, column
    k % ncols, each with a pixel of grey GAP above and to its left, one more closing the table.
    Values are clipped to [0, 1] (an AE with a Gaussian likelihood decodes to any real number)."""
    images = np.clip(np.asarray(images, dtype=np.float64).reshape(-1, shape[0] * shape[1]), 0, 1)
    H, W = shape
    nrows = -(-len(images) // ncols)
    blank = np.full((nrows * ncols - len(images), H * W), plots.GAP)       # unused places are gap
    cells = np.concatenate([images, blank]).reshape(nrows, ncols, H, W)
    cells = np.pad(cells, ((0, 0), (0, 0), (1, 0), (1, 0)), constant_values=plots.GAP)
    canvas = cells.transpose(0, 2, 1, 3).reshape(nrows * (H + 1), ncols * (W + 1))
    return np.pad(canvas, ((0, 1), (0, 1)), constant_values=plots.GAP)


def assert_draws(fig, ax, images, ncols):
    """The table on ``ax`` shows ``images`` in order, dark on white, to within INK."""
    np.testing.assert_allclose(drawn_table(fig, ax), table(images, ncols), atol=INK)


def tick_texts(ticklabels):
    return [t.get_text() for t in ticklabels]


def red(rgb):
    """Pixels that are clearly red: the highlight frames (pure red, antialiased)."""
    return (rgb[..., 0] > 0.6) & (rgb[..., 1] < 0.4) & (rgb[..., 2] < 0.4)


def hole_overlay(rgb):
    """Pixels that show the red of hole cells (opaque; the test also holds a translucent one over Blues):
    the overlay lifts R above G over every colour of the colormap, which alone keeps R below G.
    The threshold is halfway between the two, worked out from the colours themselves."""
    blues = matplotlib.colormaps["Blues"](np.linspace(0, 1, 256))[:, :3]
    alpha = plots.HOLE_RGBA[3]
    over = alpha * np.asarray(plots.HOLE_RGBA[:3]) + (1 - alpha) * blues
    lowest_hole, highest_blue = np.min(over[:, 0] - over[:, 1]), np.max(blues[:, 0] - blues[:, 1])
    assert lowest_hole > highest_blue + 0.05          # (0.14 and -0.02) far apart beside 8-bit steps
    return rgb[..., 0] - rgb[..., 1] > (lowest_hole + highest_blue) / 2


def near(rgb, colour, tol=0.03):
    """Pixels within ``tol`` of ``colour`` in every channel."""
    return np.all(np.abs(rgb - np.asarray(mcolors.to_rgb(colour))) < tol, axis=-1)


def pixels_in(rgb, ax, xs, ys):
    """The pixels of the data rectangle xs = (x0, x1), ys = (y0, y1) of ``ax`` (after ``drawn``)."""
    (px0, py0), (px1, py1) = ax.transData.transform([(xs[0], ys[0]), (xs[1], ys[1])])
    h = rgb.shape[0]
    rows = sorted((int(h - py0), int(h - py1)))
    cols = sorted((int(px0), int(px1)))
    return rgb[rows[0]:rows[1], cols[0]:cols[1]]


def inside(rgb, ax):
    """The pixels inside ``ax``'s box (after ``drawn``)."""
    box = ax.get_window_extent()
    h = rgb.shape[0]
    return rgb[int(h - box.y1) + 1:int(h - box.y0) - 1, int(box.x0) + 1:int(box.x1) - 1]


def on_white(colour, alpha):
    """What ``colour`` drawn with ``alpha`` over white paper looks like."""
    return alpha * np.asarray(mcolors.to_rgb(colour)) + (1 - alpha)


# --- 1. tables of images ------------------------------------------------------------------------
def test_a_grid_draws_its_images_in_order_dark_on_white_and_frames_only_the_highlighted(tiny, tmp_path):
    x = tiny["x"]
    chosen = [1, 5, 6]                  # (0, 1), (1, 2), (2, 0): a transposed frame lands elsewhere
    fig = plots.plot_grid(x[:9], SHAPE, "nine training images", highlight=np.isin(np.arange(9), chosen))
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "nine training images"
    assert_draws(fig, ax, x[:9], 3)     # 40% of the pixels are strokes: a blank or inverted grid fails
    border = drawn_table(fig, ax)[0]    # the top row of the table is all gap: a grey between the tiles,
    assert np.all((border > 0.1) & (border < 0.9))                # neither paper nor a stroke
    rgb = drawn(fig)
    H, W = SHAPE
    for k in range(9):                  # red pixels within 0.4 image pixels of tile k's edges
        r, c = divmod(k, 3)
        x0, y0 = c * (W + 1) + 0.1, r * (H + 1) + 0.1
        n_red = red(pixels_in(rgb, ax, (x0, x0 + W + 0.8), (y0, y0 + H + 0.8))).sum()
        assert (n_red > 0) == (k in chosen), (k, n_red)
    check(fig, tmp_path, "grid")


def test_reconstructions_show_inputs_above_their_reconstructions(tiny, tmp_path):
    x, vae2 = tiny["x"], tiny["vae2"]
    x_hat = vae2.reconstruct(x[:5])
    fig = plots.plot_reconstructions(x[:5], x_hat, SHAPE, title="a 2-D VAE's reconstructions")
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "a 2-D VAE's reconstructions"
    assert tick_texts(ax.get_yticklabels()) == ["input x", "reconstruction x'"]
    assert_draws(fig, ax, np.concatenate([x[:5], x_hat]), 5)
    check(fig, tmp_path, "recon")
    # at most n = 10 columns, whatever it is given
    fig = plots.plot_reconstructions(x[:12], vae2.reconstruct(x[:12]), SHAPE)
    assert "reconstructions" in fig.axes[0].get_title()
    assert fig.axes[0].images[0].get_array().shape == table(x[:20], 10).shape


def test_samples_and_labelled_rows_draw_what_they_are_given(tiny, tmp_path):
    x = tiny["x"]
    samples = tiny["vae2"].sample(16, np.random.default_rng(0))
    fig = plots.plot_samples(samples, SHAPE)
    assert len(fig.axes) == 1 and "samples from the prior" in fig.axes[0].get_title()
    assert_draws(fig, fig.axes[0], samples, 4)
    check(fig, tmp_path, "samples")

    fig = plots.plot_image_rows([("a", x[:3]), ("b", x[3:6])], SHAPE, "two rows", ["1", "2", "3"])
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "two rows"
    assert tick_texts(ax.get_yticklabels()) == ["a", "b"]
    assert tick_texts(ax.get_xticklabels()) == ["1", "2", "3"]
    assert_draws(fig, ax, x[:6], 3)
    check(fig, tmp_path, "rows")


# --- 2. the latent space of a trained model -----------------------------------------------------
def test_interpolation_decodes_the_straight_line_between_two_codes(tiny, tmp_path):
    x, vae3 = tiny["x"], tiny["vae3"]
    fig = plots.plot_interpolation(vae3, x[:2], x[2:4], SHAPE, steps=5)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert "interpolation" in ax.get_title()
    assert tick_texts(ax.get_xticklabels()) == ["input a", "t=0", "t=0.25", "t=0.5", "t=0.75", "t=1", "input b"]
    z_a, z_b = vae3.code(x[:2]), vae3.code(x[2:4])
    rows = [[x[p]] + [vae3.decode(((1 - t) * z_a[p] + t * z_b[p])[None])[0] for t in (0, 0.25, 0.5, 0.75, 1)]
            + [x[2 + p]] for p in range(2)]
    assert_draws(fig, ax, np.array(rows), 7)
    check(fig, tmp_path, "interp")


def test_traversals_vary_one_latent_per_row_most_informative_first(tiny, tmp_path):
    x, vae3 = tiny["x"], tiny["vae3"]
    fig = plots.plot_traversals(vae3, x[0], SHAPE, kl=[0.5, 0.1, 1.0], title="traversals of a 3-D VAE")
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "traversals of a 3-D VAE"
    assert tick_texts(ax.get_yticklabels()) == ["z3  KL 1.00", "z1  KL 0.50", "z2  KL 0.10"]
    columns = tick_texts(ax.get_xticklabels())
    assert len(columns) == 9 and (columns[0], columns[4], columns[-1]) == ("-3.0", "+0.0", "+3.0")
    z0 = vae3.code(x[:1])[0]
    rows = []
    for j in (2, 0, 1):                 # the order of the rows: by KL, largest first
        z = np.tile(z0, (9, 1))
        z[:, j] = np.linspace(-3, 3, 9)
        rows.append(vae3.decode(z))
    assert_draws(fig, ax, np.array(rows), 9)
    check(fig, tmp_path, "trav")


def test_manifold_decodes_the_prior_quantiles_with_z2_growing_upwards(tiny, tmp_path):
    vae2 = tiny["vae2"]
    fig = plots.plot_manifold(vae2, SHAPE, n=5)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "the decoder over the latent plane"
    assert ax.get_xlabel().startswith("z1") and ax.get_ylabel().startswith("z2")
    assert "prior quantiles" in ax.get_xlabel() and "prior quantiles" in ax.get_ylabel()
    q = [-1.6449, -0.5978, 0.0, 0.5978, 1.6449]          # Phi^-1(0.05, 0.275, 0.5, 0.725, 0.95)
    # (the middle label may read "-0.00": linspace puts u = 0.5 one ulp low, Phi^-1 of it is -1e-16)
    assert [float(t) for t in tick_texts(ax.get_xticklabels())] == pytest.approx(q, abs=0.005)
    assert [float(t) for t in tick_texts(ax.get_yticklabels())] == pytest.approx(q[::-1], abs=0.005)
    tiles = [vae2.decode(np.array([[q[j], q[4 - i]]]))[0] for i in range(5) for j in range(5)]
    assert_draws(fig, ax, tiles, 5)
    check(fig, tmp_path, "manifold")
    # an AE's grid follows the Gaussian fitted to its codes: z = mean + std * Phi^-1(u)
    ae2 = tiny["ae2"]
    fig = plots.plot_manifold(ae2, SHAPE, n=3, mean=(0.5, -1.0), std=(2.0, 0.5), title="the AE's decoder",
                              quantiles_of="fitted Gaussian")
    ax = fig.axes[0]
    assert ax.get_title() == "the AE's decoder" and "fitted Gaussian quantiles" in ax.get_xlabel()
    z1, z2 = 0.5 + 2.0 * np.array([-1.6449, 0, 1.6449]), -1.0 + 0.5 * np.array([1.6449, 0, -1.6449])
    assert [float(t) for t in tick_texts(ax.get_xticklabels())] == pytest.approx(z1, abs=0.005)
    assert [float(t) for t in tick_texts(ax.get_yticklabels())] == pytest.approx(z2, abs=0.005)
    assert_draws(fig, ax, [ae2.decode(np.array([[a, b]]))[0] for b in z2 for a in z1], 3)
    check(fig, tmp_path, "manifold_ae")


@pytest.mark.slow
def test_latent_scatter_shows_codes_by_label_and_says_when_it_shows_principal_components(tiny, tmp_path):
    x, y = tiny["x"], tiny["y"]
    mu = np.asarray(tiny["vae3"].encode(x)[0], dtype=np.float64)       # (60, 3)
    fig = plots.plot_latent_scatter(mu, y)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title().startswith("latent codes coloured by label") and "Z = 3" in ax.get_title()
    var = np.sort(np.linalg.eigvalsh(np.cov(mu, rowvar=False)))[::-1]  # variances along the components
    frac = 100 * var / var.sum()
    assert ax.get_xlabel() == f"principal component 1 ({frac[0]:.0f}% of variance)"
    assert ax.get_ylabel() == f"principal component 2 ({frac[1]:.0f}% of variance)"
    points = np.concatenate([coll.get_offsets() for coll in ax.collections])
    assert len(ax.collections) == 3 and len(points) == 60
    np.testing.assert_allclose(np.var(points, axis=0, ddof=1), var[:2], rtol=1e-6)
    check(fig, tmp_path, "scatter3")

    codes = tiny["ae2"].code(x)                                         # (60, 2): drawn as they are
    fig = plots.plot_latent_scatter(codes, y, "the AE's codes")
    ax = fig.axes[0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("the AE's codes", "z1", "z2")
    assert tick_texts(ax.get_legend().get_texts()) == ["0", "1", "2"]
    rgb = inside(drawn(fig), ax)
    for c, coll in enumerate(ax.collections):
        np.testing.assert_allclose(coll.get_offsets(), codes[y == c])
        # the class's points are on the canvas, in its colour (alpha 0.75 over white)
        assert near(rgb, on_white(f"C{c}", 0.75)).sum() > 0, c
    check(fig, tmp_path, "scatter2")

    fig = plots.plot_latent_scatters([(codes, y, "AE"), (mu[:, :2], y, "VAE")], title="AE and VAE codes")
    assert [ax.get_title() for ax in fig.axes] == ["AE", "VAE"]
    assert fig._suptitle.get_text() == "AE and VAE codes"
    assert fig.axes[0].get_legend() is None and fig.axes[1].get_legend() is not None   # one legend
    assert all(len(ax.collections) == 3 and ax.get_xlabel() == "z1" for ax in fig.axes)
    check(fig, tmp_path, "pair")


# --- 3. training and the KL ---------------------------------------------------------------------
@pytest.mark.slow
def test_training_curves_plot_each_term_per_epoch_from_fit_losses_or_metrics_rows(tiny, tmp_path):
    losses = tiny["losses"]["vae2"]
    fig = plots.plot_training_curves(losses)
    assert len(fig.axes) == 3                                    # recon, KL, -ELBO
    assert fig._suptitle.get_text() == "training curves"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("reconstruction") and titles[1].startswith("KL") and titles[2].startswith("-ELBO")
    expected = ([l.recon for l in losses], [l.kl for l in losses], [l.recon + l.kl for l in losses])
    rgb = drawn(fig)
    for ax, values in zip(fig.axes, expected):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "nats per example")
        (line,) = ax.get_lines()
        assert line.get_label() == "train"
        np.testing.assert_array_equal(line.get_xdata(), [1, 2])
        np.testing.assert_allclose(line.get_ydata(), values, rtol=1e-12)
        assert near(inside(rgb, ax), "C0").sum() > 0               # and the line is on the canvas
    check(fig, tmp_path, "curves_vae")

    rows = [{"epoch": e, "train_recon": 10 - e, "train_kl": 1 + e, "train_loss": 11,
             "test_recon": 11 - e, "test_kl": 2 + e, "test_loss": 13} for e in (1, 2, 3)]
    fig = plots.plot_training_curves(rows, "training curves: VAE on shapes")
    assert fig._suptitle.get_text() == "training curves: VAE on shapes"
    rgb = drawn(fig)
    for ax, key in zip(fig.axes, ("recon", "kl", "loss")):
        train, test = ax.get_lines()
        assert (train.get_label(), test.get_label()) == ("train", "test")
        np.testing.assert_array_equal(test.get_ydata(), [r[f"test_{key}"] for r in rows])
        assert near(inside(rgb, ax), "C1").sum() > 0
    check(fig, tmp_path, "curves_rows")

    fig = plots.plot_training_curves(tiny["losses"]["ae2"])
    assert len(fig.axes) == 1                                    # an AE has no KL
    assert fig.axes[0].get_title().startswith("reconstruction")
    check(fig, tmp_path, "curves_ae")
    with pytest.raises(ValueError):
        plots.plot_training_curves([])


def test_kl_bars_have_the_kl_of_each_dimension_and_grey_out_collapsed_ones(tmp_path):
    kl = [0.5, 0.04, 1.2]
    fig = plots.plot_kl_per_dimension(kl, title="KL of a 3-D VAE")
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "KL of a 3-D VAE"
    assert ax.get_xlabel() == "latent dimension j" and "KL" in ax.get_ylabel()
    bars = ax.patches
    assert [b.get_x() + b.get_width() / 2 for b in bars] == pytest.approx([1, 2, 3])
    assert [b.get_height() for b in bars] == pytest.approx(kl)
    rgb = drawn(fig)
    # each bar is drawn to its height in its colour: blue, grey (below 0.05 nats), blue; white above
    drawn_at = colours_at(rgb, ax, [(1, 0.25), (2, 0.02), (3, 0.6), (1, 0.9), (2, 0.3)])
    want = [mcolors.to_rgb(c) for c in ("C0", "0.6", "C0", "white", "white")]
    np.testing.assert_allclose(drawn_at, want, atol=INK)
    check(fig, tmp_path, "kl")


# --- 4. the holes map ---------------------------------------------------------------------------
@pytest.mark.slow
def test_holes_map_draws_red_exactly_on_the_hole_cells_and_decodes_from_them(tiny, tmp_path):
    maps = [holes.holes_map(tiny["ae2"], tiny["x"], bins=20, n_prior=200),
            holes.holes_map(tiny["vae2"], tiny["x"], bins=20, n_prior=200)]
    assert all(hm.hole.any() and len(hm.picks) for hm in maps)    # two tiny models on noise: holes
    no_holes = replace(maps[1], hole=np.zeros_like(maps[1].hole), picks=np.zeros((0, 2)),
                       decoded=np.zeros((0, 16)))
    maps.append(no_holes)
    fig = plots.plot_holes_map(maps, SHAPE, ["AE", "VAE", "VAE, holes cleared"], title="holes of three models")
    assert fig._suptitle.get_text() == "holes of three models"
    assert len(fig.axes) == 9                                    # a map, its colour bar and a strip each
    rgb = drawn(fig)
    panels = [ax for ax in fig.axes if ax.get_xlabel() == "z1"]
    bars = [ax for ax in fig.axes if "log10" in ax.get_ylabel()]
    assert len(panels) == 3 and len(bars) == 3
    assert bars[0].get_ylabel() == "log10 density of the codes g(x) (histogram)"
    assert bars[1].get_ylabel() == "log10 q(z), the aggregate posterior"
    for ax, hm, name in zip(panels, maps, ["AE", "VAE", "VAE, holes cleared"]):
        assert ax.get_title().startswith(f"{name}: hole score {hm.score:.3f}")
        assert ax.get_ylabel() == "z2"
        # a cell shows red exactly when it is a hole: at one of five points in it (the centre
        # and 0.3 of a cell towards each corner; a contour line is too thin to cover them all,
        # the dots and the letters' circles up-right of them are left out with their neighbours)
        h1, h2 = hm.z1[1] - hm.z1[0], hm.z2[1] - hm.z2[0]
        i2, i1 = np.meshgrid(np.arange(len(hm.z2)), np.arange(len(hm.z1)), indexing="ij")
        red_cell = np.zeros(hm.hole.shape, dtype=bool)
        for d1, d2 in [(0, 0), (-0.3, -0.3), (-0.3, 0.3), (0.3, -0.3), (0.3, 0.3)]:
            pts = np.column_stack([hm.z1[i1.ravel()] + d1 * h1, hm.z2[i2.ravel()] + d2 * h2])
            red_cell |= hole_overlay(colours_at(rgb, ax, pts)).reshape(hm.hole.shape)
        lettered = np.zeros(hm.hole.shape, dtype=bool)
        for a, b in hm.picks:
            r, c = np.argmin(np.abs(hm.z2 - b)), np.argmin(np.abs(hm.z1 - a))
            lettered[max(r - 1, 0):r + 3, max(c - 1, 0):c + 3] = True     # the dot, and the letter up-right
        assert lettered.mean() < 0.35                             # most cells are still checked
        np.testing.assert_array_equal(red_cell[~lettered], hm.hole[~lettered])
        letters = [t for t in ax.texts if len(t.get_text()) == 1 and t.get_text().isalpha()]
        assert [t.get_text() for t in letters] == [chr(ord("A") + k) for k in range(len(hm.picks))]
        np.testing.assert_allclose(np.reshape([t.xy for t in letters], (-1, 2)), hm.picks)   # each points at its pick
    strips = [ax for ax in fig.axes if ax not in panels and ax not in bars]
    for strip, hm in zip(strips[:2], maps):                       # the decodes at the lettered points
        assert "decoded inside holes" in strip.get_title()
        assert tick_texts(strip.get_xticklabels()) == [chr(ord("A") + k) for k in range(len(hm.picks))]
        assert_draws(fig, strip, hm.decoded, len(hm.picks))
    assert [t.get_text() for t in strips[2].texts] == ["no hole cells within 3σ of the prior"]
    check(fig, tmp_path, "holes")


def test_manifold_and_holes_map_refuse_a_latent_that_is_not_2d(tiny):
    with pytest.raises(ValueError):
        plots.plot_manifold(tiny["vae3"], SHAPE)
    with pytest.raises(ValueError):
        holes.holes_map(tiny["vae3"], tiny["x"])


# --- 5. a run folder, and the gallery -----------------------------------------------------------
@pytest.mark.parametrize("model, latent, expected", [
    ("vae", 2, {"reconstructions", "samples", "latent", "training_curves", "interpolation",
                "kl_per_dimension", "traversals", "manifold", "holes_map"}),
    ("ae", 2, {"reconstructions", "latent", "training_curves", "interpolation", "manifold", "holes_map"}),
    ("vae", 3, {"reconstructions", "samples", "latent", "training_curves", "interpolation",
                "kl_per_dimension", "traversals"}),
])
@pytest.mark.slow
def test_plot_run_draws_every_figure_that_applies_to_a_run(tmp_path, model, latent, expected):
    run_dir = str(tmp_path / "run")
    cfg = TrainConfig(model=model, epochs=1, hidden=[8], latent=latent, batch_size=256)
    run(cfg, out=run_dir, log=lambda *a: None, progress_bars=False)
    paths = plot_run(run_dir, out_dir=str(tmp_path / "figs"))
    assert {os.path.basename(p)[:-4] for p in paths} == expected
    assert all(is_png(p) for p in paths)
    assert all(mimage.imread(p)[..., :3].std() > 0 for p in paths)    # none of them blank


@pytest.mark.slow
def test_plot_run_on_shapes_names_the_factor_each_traversal_row_follows(tmp_path, monkeypatch):
    run_dir = str(tmp_path / "run")
    cfg = TrainConfig(model="vae", data="shapes", epochs=1, hidden=[8], latent=3, batch_size=256)
    run(cfg, out=run_dir, log=lambda *a: None, progress_bars=False)
    seen = {}
    draw = plots.plot_traversals

    def spy(*args, **kwargs):
        seen.update(kwargs)
        fig = draw(*args, **kwargs)
        seen["rows"] = tick_texts(fig.axes[0].get_yticklabels())    # read before it is saved and closed
        return fig

    monkeypatch.setattr(plots, "plot_traversals", spy)
    paths = plot_run(run_dir, out_dir=str(tmp_path / "figs"))
    assert any(p.endswith("traversals.png") for p in paths)
    follows = seen["follows"]                                     # one label per latent
    assert len(follows) == 3
    named = [part.split()[0] for label in follows for part in label.split(", ") if label]
    assert sorted(named) == sorted(("shape", "scale", "rotation", "x", "y"))   # each factor once
    # and the figure's rows carry those names: "z<j> <factors it follows>  KL <nats>"
    assert len(seen["rows"]) == 3
    for row in seen["rows"]:
        j = int(row.split()[0][1:]) - 1
        assert row.startswith(f"z{j + 1} {follows[j] or '(none)'}  KL "), row


def test_gallery_draws_the_vae_and_best_form_traversals_from_lesson_08s_reference_models(tmp_path, monkeypatch):
    seen = {}
    draw = plots.plot_traversals_side_by_side

    def spy(panels, *args, **kwargs):
        seen["panels"] = panels
        fig = draw(panels, *args, **kwargs)
        seen["titles"] = [ax.get_title() for ax in fig.axes]     # read before it is saved and closed
        return fig

    monkeypatch.setattr(plots, "plot_traversals_side_by_side", spy)
    assert gallery.main(["--only", "shapes", "--out", str(tmp_path)]) == 0
    assert is_png(str(tmp_path / "traversals_vae_vs_best.png"))
    vae, best = seen["panels"]
    assert vae["title"].startswith("vae: MIG") and not best["title"].startswith("vae")
    assert seen["titles"] == [vae["title"], best["title"]]       # one panel each, titled by the caller
    for panel in (vae, best):                                     # every row: a label per latent, a KL
        assert len(panel["follows"]) == 10 and len(panel["kl"]) == 10
