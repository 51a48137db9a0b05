"""The explorer page without a browser: self-contained, faithful to the checkpoint, small, and
its holes are tinyvae.studies.holes's.  (tests/test_explore_browser.py runs the page in Chromium.)"""
import re

import numpy as np
import pytest

from tinyvae.studies import holes
from tinyvae.app import cli, explore, explore_data
from tinyvae.data import load
from tinyvae.data.dataset import Dataset
from tinyvae.models import VAE, Autoencoder
from tinyvae.app.runs import load_run

SMALL = ["--hidden", "16", "--latent", "2", "--epochs", "2"]


def synthetic(D, n_train, n_test, side, seed=0):
    """Random images with labels: enough to build a page without any download."""
    rng = np.random.default_rng(seed)
    return Dataset("synthetic", rng.random((n_train, D), dtype=np.float32), rng.integers(0, 10, n_train),
                   rng.random((n_test, D), dtype=np.float32), rng.integers(0, 10, n_test), (side, side))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae2"
    assert cli.main(["train", "--out", str(out), *SMALL]) == 0
    return out


def test_the_page_names_no_external_file(run_dir, capsys):
    assert cli.main(["explore", str(run_dir)]) == 0
    html = (run_dir / "explorer.html").read_text()
    assert "explorer.html" in capsys.readouterr().out
    # no <script src>, <link href>, <img src>, CSS url() or @import, and no URL of any scheme
    # (base64 never contains ':', so '://' cannot appear in the embedded data by chance)
    assert not re.search(r"\b(src|href)\s*=", html, re.IGNORECASE)
    assert not re.search(r"url\(|@import", html, re.IGNORECASE)
    assert "://" not in html
    assert explore.DATA_TOKEN not in html                     # the template was filled in


def test_the_embedded_decoder_weights_are_the_checkpoints_bit_for_bit(run_dir):
    model, _, _ = load_run(str(run_dir))
    explore.write_explorer(model, load("digits"), str(run_dir / "page.html"))
    data = explore.read_page_data((run_dir / "page.html").read_text())["runs"][0]
    linears = [layer for layer in model.decoder.layers if hasattr(layer, "params") and layer.params]
    embedded = [layer for layer in data["decoder"] if layer["kind"] == "Linear"]
    assert len(embedded) == len(linears) == 2
    for page_layer, layer in zip(embedded, linears):
        W = explore.from_base64(page_layer["W"]).reshape(page_layer["D_in"], page_layer["D_out"])
        assert np.array_equal(W, layer.params["W"])
        assert np.array_equal(explore.from_base64(page_layer["b"]), layer.params["b"])


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_the_pages_hole_cells_are_the_holes_maps(kind):
    # the same definition and radius as tinyvae.studies.holes: on a 2-D model the page's cells
    # must be exactly the holes map's, computed over the same grid
    digits = load("digits")
    model = (Autoencoder if kind == "ae" else VAE)(digits.D, (16,), 2, rng=np.random.default_rng(1))
    data = explore.explorer_data(model, digits, bins=40)["runs"][0]
    hm = holes.holes_map(model, digits.x_train, bins=40, extent=tuple(data["extent"]))
    _, distance, hole = explore.cell_centres(data)
    assert data["radius"] == pytest.approx(hm.radius, rel=1e-12)
    assert np.array_equal(hole.reshape(40, 40), hm.hole)
    # the distances the page shows (float32) agree with its holes, up to float32 rounding at r
    disagree = (distance > data["radius"]) != hole
    assert np.all(np.abs(distance[disagree] - data["radius"]) <= 1e-6 * data["radius"])
    assert 0 < hm.hole.sum() < hm.hole.size                   # both kinds of cell are on the map


def test_a_784_400_20_page_stays_under_5_mb():
    mnist_like = synthetic(784, 8000, 10000, 28)             # more training codes than the page holds
    model = VAE(784, (400,), 20, rng=np.random.default_rng(0))
    html = explore.explorer_page(model, mnist_like)          # the default grid, as the command writes it
    size = len(html.encode("utf-8"))
    data = explore.read_page_data(html)["runs"][0]
    print(f"784-400-20 page: {size / 1e6:.2f} MB, {data['n_shown']} of {data['n_test']} test images, "
          f"{data['train_codes_held']} of {data['n_train_codes']} training codes")
    assert size < 5e6
    assert data["n_shown"] < data["n_test"] and "random subsample" in html
    assert data["train_codes_held"] == explore_data.CODE_BUDGET // (4 * 20) < data["n_train_codes"]


def test_a_vae_plane_shows_the_two_latents_with_the_most_kl():
    digits = load("digits")
    model = VAE(digits.D, (16,), 5, rng=np.random.default_rng(0))
    last = model.encoder.layers[-1].params
    last["W"][:, :5] *= 0.01
    last["b"][:5] = [0.1, 2.0, 0.0, 3.0, 0.2]                 # mu of latents 3 and 1 far from 0: most KL
    axes, why = explore_data.choose_axes(model, digits.x_test)
    assert axes == (3, 1) and "KL" in why


def test_an_ae_plane_shows_the_two_latents_whose_codes_vary_most():
    digits = load("digits")
    model = Autoencoder(digits.D, (16,), 4, rng=np.random.default_rng(0))
    model.encoder.layers[-1].params["W"][:, [0, 2]] *= 10.0     # latents 0 and 2 vary 10 times more
    axes, _ = explore_data.choose_axes(model, digits.x_test)
    assert sorted(axes) == [0, 2]


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_the_other_latents_start_at_the_prior_mean_or_the_codes_mean(kind):
    digits = load("digits")
    model = (Autoencoder if kind == "ae" else VAE)(digits.D, (16,), 4, rng=np.random.default_rng(2))
    data = explore.explorer_data(model, digits, bins=10)["runs"][0]
    codes = holes.model_hole_score(model, digits.x_train).codes           # the hole score's codes
    expected = codes.mean(axis=0) if kind == "ae" else np.zeros(4)
    np.testing.assert_allclose(data["base"], expected, rtol=1e-12, atol=1e-12)


def test_a_one_latent_model_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "z1"
    assert cli.main(["train", "--out", str(out), "--hidden", "16", "--latent", "1", "--epochs", "1"]) == 0
    capsys.readouterr()
    code = cli.main(["explore", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "--latent 2" in err and len(err.strip().splitlines()) == 1
    assert not (out / "explorer.html").exists()


def test_a_missing_run_is_one_line(tmp_path, capsys):
    code = cli.main(["explore", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 1 and "does not exist" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["no-such-folder/page.html", "."])
def test_an_unwritable_out_is_one_line_and_writes_nothing(run_dir, tmp_path, capsys, where):
    out = tmp_path / where
    code = cli.main(["explore", str(run_dir), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_bad_axes_are_one_line(run_dir, capsys):
    code = cli.main(["explore", str(run_dir), "--axes", "0", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--axes" in err and len(err.strip().splitlines()) == 1


def test_train_ends_by_printing_the_explore_command(tmp_path, capsys):
    out = tmp_path / "ae2"
    assert cli.main(["train", "--model", "ae", "--out", str(out), *SMALL]) == 0
    assert f"tinyvae explore {out}" in capsys.readouterr().out


def test_two_runs_of_different_image_sizes_are_refused_in_one_line():
    small, large = synthetic(64, 50, 20, 8), synthetic(100, 50, 20, 10)
    models = [VAE(d.D, (8,), 2, rng=np.random.default_rng(0)) for d in (small, large)]
    with pytest.raises(explore.UsageError) as err:
        explore.explorer_data(models[0], small, compare=(models[1], large), names=["a", "b"])
    assert "8x8" in str(err.value) and "10x10" in str(err.value) and "\n" not in str(err.value)
