"""Figures: every plot function draws on tiny models, and plot_run draws what applies to a run."""
import os
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # tools/: development only, not installed
from tinyvae import holes, plots  # noqa: E402
from tinyvae.app.config import TrainConfig  # noqa: E402
from tinyvae.app.run_figures import plot_run  # noqa: E402
from tinyvae.app.training import run  # noqa: E402
from tinyvae.models import VAE, Autoencoder  # noqa: E402
from tinyvae.train import fit  # noqa: E402
from tools import gallery  # noqa: E402

SHAPE = (4, 4)                      # 16-pixel images keep every model tiny


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


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def check(fig, tmp_path, name):
    """Every figure must be a Figure and must save as a PNG."""
    assert isinstance(fig, matplotlib.figure.Figure)
    path = plots.save_figure(fig, str(tmp_path / f"{name}.png"))
    assert is_png(path)


def test_image_figures_draw(tiny, tmp_path):
    x, vae2, vae3 = tiny["x"], tiny["vae2"], tiny["vae3"]
    check(plots.plot_grid(x[:9], SHAPE, "grid", highlight=np.arange(9) % 2 == 0), tmp_path, "grid")
    check(plots.plot_reconstructions(x[:5], vae2.reconstruct(x[:5]), SHAPE), tmp_path, "recon")
    check(plots.plot_samples(vae2.sample(16, np.random.default_rng(0)), SHAPE), tmp_path, "samples")
    check(plots.plot_image_rows([("a", x[:3]), ("b", x[3:6])], SHAPE, "rows", ["1", "2", "3"]), tmp_path, "rows")
    check(plots.plot_interpolation(vae3, x[:2], x[2:4], SHAPE, steps=5), tmp_path, "interp")
    check(plots.plot_traversals(vae3, x[0], SHAPE, kl=[0.5, 0.1, 1.0]), tmp_path, "trav")
    check(plots.plot_manifold(vae2, SHAPE, n=5), tmp_path, "manifold")


def test_latent_scatter_says_when_it_shows_principal_components(tiny, tmp_path):
    x, y = tiny["x"], tiny["y"]
    fig = plots.plot_latent_scatter(np.asarray(tiny["vae3"].encode(x)[0]), y)
    assert "principal component 1" in fig.axes[0].get_xlabel()
    check(fig, tmp_path, "scatter3")
    fig = plots.plot_latent_scatter(np.asarray(tiny["ae2"].encode(x)), y)
    assert fig.axes[0].get_xlabel() == "z1"
    check(fig, tmp_path, "scatter2")
    check(plots.plot_latent_scatters([(np.asarray(tiny["ae2"].encode(x)), y, "AE"),
                                      (np.asarray(tiny["vae2"].encode(x)[0]), y, "VAE")]), tmp_path, "pair")


def test_training_curves_take_metrics_rows_or_fit_losses(tiny, tmp_path):
    fig = plots.plot_training_curves(tiny["losses"]["vae2"])
    assert len(fig.axes) == 3                                    # recon, KL, -ELBO
    check(fig, tmp_path, "curves_vae")
    fig = plots.plot_training_curves(tiny["losses"]["ae2"])
    assert len(fig.axes) == 1                                    # an AE has no KL
    check(fig, tmp_path, "curves_ae")
    with pytest.raises(ValueError):
        plots.plot_training_curves([])


def test_holes_map_and_kl_bars_draw(tiny, tmp_path):
    maps = [holes.holes_map(tiny["ae2"], tiny["x"], bins=20, n_prior=200),
            holes.holes_map(tiny["vae2"], tiny["x"], bins=20, n_prior=200)]
    check(plots.plot_holes_map(maps, SHAPE, ["AE", "VAE"]), tmp_path, "holes")
    check(plots.plot_kl_per_dimension([0.5, 0.0, 1.2]), tmp_path, "kl")


def test_manifold_and_holes_map_refuse_a_latent_that_is_not_2d(tiny):
    with pytest.raises(ValueError):
        plots.plot_manifold(tiny["vae3"], SHAPE)
    with pytest.raises(ValueError):
        holes.holes_map(tiny["vae3"], tiny["x"])


@pytest.mark.parametrize("model, latent, expected", [
    ("vae", 2, {"reconstructions", "samples", "latent", "training_curves", "interpolation",
                "kl_per_dimension", "traversals", "manifold", "holes_map"}),
    ("ae", 2, {"reconstructions", "latent", "training_curves", "interpolation", "manifold", "holes_map"}),
    ("vae", 3, {"reconstructions", "samples", "latent", "training_curves", "interpolation",
                "kl_per_dimension", "traversals"}),
])
def test_plot_run_draws_every_figure_that_applies_to_a_run(tmp_path, model, latent, expected):
    run_dir = str(tmp_path / "run")
    cfg = TrainConfig(model=model, epochs=1, hidden=[8], latent=latent, batch_size=256)
    run(cfg, out=run_dir, log=lambda *a: None, progress_bars=False)
    paths = plot_run(run_dir, out_dir=str(tmp_path / "figs"))
    assert {os.path.basename(p)[:-4] for p in paths} == expected
    assert all(is_png(p) for p in paths)


def test_plot_run_on_shapes_names_the_factor_each_traversal_row_follows(tmp_path, monkeypatch):
    run_dir = str(tmp_path / "run")
    cfg = TrainConfig(model="vae", data="shapes", epochs=1, hidden=[8], latent=3, batch_size=256)
    run(cfg, out=run_dir, log=lambda *a: None, progress_bars=False)
    seen = {}
    draw = plots.plot_traversals

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return draw(*args, **kwargs)

    monkeypatch.setattr(plots, "plot_traversals", spy)
    paths = plot_run(run_dir, out_dir=str(tmp_path / "figs"))
    assert any(p.endswith("traversals.png") for p in paths)
    follows = seen["follows"]                                     # one label per latent
    assert len(follows) == 3
    named = [part.split()[0] for label in follows for part in label.split(", ") if label]
    assert sorted(named) == sorted(("shape", "scale", "rotation", "x", "y"))   # each factor once


def test_gallery_draws_the_vae_and_best_form_traversals_from_lesson_08s_reference_models(tmp_path, monkeypatch):
    seen = {}
    draw = plots.plot_traversals_side_by_side

    def spy(panels, *args, **kwargs):
        seen["panels"] = panels
        return draw(panels, *args, **kwargs)

    monkeypatch.setattr(plots, "plot_traversals_side_by_side", spy)
    assert gallery.main(["--only", "shapes", "--out", str(tmp_path)]) == 0
    assert is_png(str(tmp_path / "traversals_vae_vs_best.png"))
    vae, best = seen["panels"]
    assert vae["title"].startswith("vae: MIG") and not best["title"].startswith("vae")
    for panel in (vae, best):                                     # every row: a label per latent, a KL
        assert len(panel["follows"]) == 10 and len(panel["kl"]) == 10
