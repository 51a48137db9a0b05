"""The explorer page in a real browser: headless Chromium, driven by playwright.

Without playwright or Chromium these tests skip, with one line saying how to install them;
under ``TINYVAE_REQUIRE_BROWSER=1`` (which ``.ci/run`` sets) that is a failure instead, so
CI cannot pass without running them.  One browser serves the whole session.  Every page is loaded from a file:// URL with every
other request blocked and recorded, and every test ends by checking that the page asked for
nothing and logged no console error.  Models have random weights or two epochs of training:
these tests check agreement and behaviour, not quality.
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # tools/: development only, not installed
from tools import browser  # noqa: E402
from tinyvae.studies import classifier, holes, precision  # noqa: E402
from tinyvae.app import cli, explore, snapshots  # noqa: E402
from tinyvae.data import load  # noqa: E402
from tinyvae.data.dataset import Dataset  # noqa: E402
from tinyvae.models import VAE, Autoencoder, DenoisingAutoencoder  # noqa: E402
from tinyvae.train import fit  # noqa: E402

# every test here runs the real command (or the browser) end to end, a second or more each: the
# battery runs in CI and with --slow, so README's command stays within its stated time
pytestmark = pytest.mark.slow

TOLERANCE = 1e-4                    # |JavaScript decode - model.decode| per pixel
MISSING = browser.missing()         # None, or one line saying what to install
REQUIRED = os.environ.get("TINYVAE_REQUIRE_BROWSER") == "1"
if MISSING and not REQUIRED:
    pytest.skip(f"the explorer's browser tests need Chromium and playwright: {MISSING}", allow_module_level=True)


@pytest.fixture(scope="session")
def chromium():
    if MISSING:                     # only under TINYVAE_REQUIRE_BROWSER=1: a failure, not a skip
        pytest.fail(f"TINYVAE_REQUIRE_BROWSER=1, but {MISSING}", pytrace=False)
    with browser.chromium() as context:
        yield context


class Page:
    """An explorer page open in the browser, with what it requested and logged."""

    def __init__(self, context, path, viewport=(1200, 900)):
        self.url = path.resolve().as_uri()
        self.requests, self.errors = [], []
        self.page = context.new_page()
        self.page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        # block everything but the page itself (the requests are still recorded above)
        self.page.route("**/*", lambda route: route.continue_() if route.request.url == self.url
                        else route.abort())
        self.page.goto(self.url)
        self.page.wait_for_function("window.tinyvae && window.tinyvae.ready", timeout=10_000)

    def close(self):
        """Check that nothing but the page was requested and nothing went to the console."""
        self.page.close()
        assert self.requests == [self.url], self.requests
        assert self.errors == []


@pytest.fixture
def open_page(chromium):
    pages = []

    def open_(path):
        pages.append(Page(chromium, path))
        return pages[-1]
    yield open_
    for page in pages:
        page.close()


def write_page(model, dataset, path, **options):
    explore.write_explorer(model, dataset, str(path), **options)
    return path


def max_decode_difference(page, model, z):
    js = np.array(page.page.evaluate("zs => zs.map(window.tinyvae.decode)", z.tolist()))
    return float(np.max(np.abs(js - model.decode(z))))


MODELS = {
    "vae-bernoulli": lambda D: VAE(D, (32, 16), 3, rng=np.random.default_rng(1)),
    "vae-gaussian": lambda D: VAE(D, (32,), 2, likelihood="gaussian", rng=np.random.default_rng(2)),
    "ae-bce": lambda D: Autoencoder(D, (32, 16), 3, likelihood="bernoulli", rng=np.random.default_rng(3)),
    "ae-mse": lambda D: Autoencoder(D, (32,), 2, likelihood="gaussian", rng=np.random.default_rng(4)),
    "dae": lambda D: DenoisingAutoencoder(D, (32,), 2, rng=np.random.default_rng(5)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_page_decodes_like_the_model_to_1e_4(open_page, tmp_path, name):
    digits = load("digits")
    model = MODELS[name](digits.D)
    page = open_page(write_page(model, digits, tmp_path / "page.html", bins=30))
    z = 2.0 * np.random.default_rng(0).standard_normal((25, model.Z))   # (25, Z) inside and outside the codes
    diff = max_decode_difference(page, model, z)
    print(f"{name}: max |JS - Python| = {diff:.2e}")
    assert diff < TOLERANCE


def test_a_784_400_20_vae_decodes_like_the_model_to_1e_4(open_page, tmp_path):
    rng = np.random.default_rng(0)
    mnist_like = Dataset("synthetic", rng.random((300, 784), dtype=np.float32), rng.integers(0, 10, 300),
                         rng.random((500, 784), dtype=np.float32), rng.integers(0, 10, 500), (28, 28))
    model = VAE(784, (400,), 20, rng=np.random.default_rng(0))
    page = open_page(write_page(model, mnist_like, tmp_path / "page.html", bins=30))
    diff = max_decode_difference(page, model, rng.standard_normal((10, 20)))
    print(f"784-400-20 VAE: max |JS - Python| = {diff:.2e}")
    assert diff < TOLERANCE


def test_a_shapes_page_decodes_like_the_model_and_draws_it_pixel_exact(open_page, tmp_path):
    shapes = load("shapes")
    shapes = Dataset(shapes.name, shapes.x_train[:2000], shapes.y_train[:2000], shapes.x_test,
                     shapes.y_test, shapes.image_shape)                # fewer codes: a quicker radius
    model = VAE(shapes.D, (32,), 4, rng=np.random.default_rng(6))
    page = open_page(write_page(model, shapes, tmp_path / "page.html", bins=30))
    diff = max_decode_difference(page, model, np.random.default_rng(1).standard_normal((10, 4)))
    assert diff < TOLERANCE
    # the large image is pixel-exact: every 16 x 16 pixel is a 16 x 16 block of one grey, no smoothing
    H, W = shapes.image_shape
    side = page.page.evaluate("document.getElementById('decoded').width")
    assert side % H == 0                                               # whole screen pixels per image pixel
    grey = np.array(page.page.evaluate("""s => {
        const c = document.getElementById("decoded"), d = c.getContext("2d").getImageData(0, 0, s, s);
        return Array.from(d.data.filter((_, i) => i % 4 === 0));        // the red channel
    }""", side)).reshape(side, side)
    # dark on white, as the figures draw them: a pixel of value x is grey 255 - round(255 x)
    expected = 255 - np.round(255 * np.clip(model.decode(np.zeros((1, 4))), 0, 1)).reshape(H, W)  # z starts at 0
    assert np.array_equal(grey, np.kron(expected, np.ones((side // H, side // W))))


@pytest.fixture(scope="module")
def trained_ae(tmp_path_factory):
    """A 2-D AE trained for two epochs on the digits, and its explorer page."""
    run = tmp_path_factory.mktemp("runs") / "ae2"
    assert cli.main(["train", "--model", "ae", "--hidden", "16", "--latent", "2", "--epochs", "2",
                     "--out", str(run)]) == 0
    assert cli.main(["explore", str(run)]) == 0
    return run / "explorer.html"


def hole_and_dense(data):
    """Centres of the hole cell farthest from every code and of the cell nearest a code."""
    centres, distance, hole = explore.cell_centres(data)
    assert hole[np.argmax(distance)] and not hole[np.argmin(distance)]
    return centres[np.argmax(distance)], centres[np.argmin(distance)]


def open_sliders(page):
    """Open every latent's sliders (below the first screen, folded)."""
    page.page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


def move_to(page, z1, z2):
    x, y = page.page.evaluate("([a, b]) => window.tinyvae.pixelOf(a, b)", [float(z1), float(z2)])
    page.page.mouse.move(x, y)
    return x, y


def test_the_pointer_over_a_hole_and_over_the_codes_changes_the_readout(open_page, trained_ae):
    page = open_page(trained_ae)
    hole, dense = hole_and_dense(explore.read_page_data(trained_ae.read_text())["runs"][0])
    move_to(page, *hole)
    assert page.page.inner_text("#hole-readout") == "in a hole"
    decoded_in_hole = page.page.inner_text("#readout")
    move_to(page, *dense)
    assert page.page.inner_text("#hole-readout") == "not in a hole"
    assert page.page.inner_text("#readout") != decoded_in_hole      # z and the distance moved too


def test_clicking_a_code_compares_input_and_reconstruction(open_page, trained_ae):
    page = open_page(trained_ae)
    data = explore.read_page_data(trained_ae.read_text())["runs"][0]
    first = explore.from_base64(data["codes"])[:2]                  # test image 0's code
    page.page.mouse.click(*move_to(page, *first))
    assert "input | reconstruction" in page.page.inner_text("#compare")
    assert page.page.locator("#compare canvas").count() == 2


def test_shift_clicking_into_a_hole_marks_the_crossing(open_page, trained_ae):
    page = open_page(trained_ae)
    hole, dense = hole_and_dense(explore.read_page_data(trained_ae.read_text())["runs"][0])
    page.page.keyboard.down("Shift")
    page.page.mouse.click(*move_to(page, *dense))
    page.page.mouse.click(*move_to(page, *hole))
    page.page.keyboard.up("Shift")
    assert "crosses a hole" in page.page.inner_text("#strip-note")
    frames = page.page.locator("#strip figure:not(.end) canvas")       # (an end on a test code adds its input)
    assert frames.count() == 12 and "in-hole" in frames.nth(11).get_attribute("class")
    captions = page.page.locator("#strip figure:not(.end) figcaption").all_inner_texts()
    assert captions == [f"t={s / 11:.2f}" for s in range(12)]


def test_moving_a_latent_off_the_plane_keeps_a_readout_in_the_full_space(open_page, tmp_path):
    # (until issue 19 the readout said "unknown" off the start slice; it now tests the whole z)
    digits = load("digits")
    model = VAE(digits.D, (16,), 4, rng=np.random.default_rng(0))
    page = open_page(write_page(model, digits, tmp_path / "page.html", bins=30))
    run = explore.read_page_data((tmp_path / "page.html").read_text())["runs"][0]
    other = next(k for k in range(4) if k not in run["axes"])
    open_sliders(page)
    assert page.page.locator("#sliders input").count() == 4         # a slider for every latent
    page.page.locator("#sliders input").nth(other).fill("1.5")
    z = np.array(page.page.evaluate("window.tinyvae.z(0)"))
    assert z[other] == 1.5
    d = holes.nearest_distance(z[None], explore.held_codes(run))[0]
    assert abs(d - run["radius"]) > 1e-4                              # not a tie within float32 rounding
    expected = "in a hole" if d > run["radius"] else "not in a hole"
    assert page.page.inner_text("#hole-readout") == expected
    assert "the grey cells show the start slice" in page.page.inner_text("#readout")
    assert page.page.evaluate("window.tinyvae.decode([0, 0, 0, 0]).length") == digits.D


def test_a_plane_slider_at_either_end_is_still_on_the_map(open_page, trained_ae):
    # a range input's value is a decimal string, rounded past float64's last digits: its ends
    # must still fall in the map's first and last cells, not "outside the map"
    page = open_page(trained_ae)
    open_sliders(page)
    for k in range(2):
        slider = page.page.locator("#sliders input").nth(k)
        for end in ("min", "max"):
            slider.fill(slider.get_attribute(end))
            assert page.page.inner_text("#hole-readout") in ("in a hole", "not in a hole"), (k, end)


def test_an_off_plane_slider_back_at_its_start_value_shows_the_start_slice_again(open_page, tmp_path):
    digits = load("digits")
    model = Autoencoder(digits.D, (16,), 4, rng=np.random.default_rng(0))   # an AE: the start is the codes' mean
    page = open_page(write_page(model, digits, tmp_path / "page.html", bins=30))
    run = explore.read_page_data((tmp_path / "page.html").read_text())["runs"][0]
    open_sliders(page)
    for other in (k for k in range(4) if k not in run["axes"]):
        slider = page.page.locator("#sliders input").nth(other)
        slider.fill(slider.get_attribute("max"))
        assert "the grey cells show the start slice" in page.page.inner_text("#readout")
        slider.fill(repr(run["base"][other]))                       # the slider's middle tick
        assert "start slice" not in page.page.inner_text("#readout"), other
        assert page.page.inner_text("#hole-readout") in ("in a hole", "not in a hole"), other


def test_the_note_names_the_axes_across_and_up_when_they_are_swapped(open_page, tmp_path):
    digits = load("digits")
    model = VAE(digits.D, (16,), 2, rng=np.random.default_rng(0))
    page = open_page(write_page(model, digits, tmp_path / "page.html", axes=(1, 0), bins=30))
    note = page.page.inner_text("#axes-note")
    assert "z2 across" in note and "z1 up" in note, note


def path_over_a_hole_between_frames(run, steps=12, seed=0):
    """Two training codes whose straight path has a point farther than r from every code the page
    holds (checked every r/50 in Python), while none of the strip's ``steps`` frames is."""
    codes, r = explore.held_codes(run).astype(np.float64), run["radius"]
    rng = np.random.default_rng(seed)
    for _ in range(3000):
        a, b = codes[rng.integers(len(codes), size=2)]
        frames = a + np.linspace(0, 1, steps)[:, None] * (b - a)
        if np.any(holes.nearest_distance(frames, codes) > r - 1e-4):
            continue                                           # a frame lands in (or at the edge of) a hole
        n = int(np.ceil(np.linalg.norm(b - a) / (r / 50))) + 1
        path = a + np.linspace(0, 1, n)[:, None] * (b - a)
        if np.max(holes.nearest_distance(path, codes)) > r * 1.05:   # a hole deeper than the page's r/40
            return a, b
    raise AssertionError("no path crosses a hole between frames on this map")


def test_a_hole_between_two_frames_of_the_strip_is_still_reported(open_page, trained_ae):
    page = open_page(trained_ae)
    a, b = path_over_a_hole_between_frames(explore.read_page_data(trained_ae.read_text())["runs"][0])
    page.page.evaluate("([a, b]) => window.tinyvae.interpolate(a, b, 12)", [a.tolist(), b.tolist()])
    assert page.page.inner_text("#strip-note") == "the path crosses a hole between two frames (no frame lands inside it)"
    assert page.page.locator("#strip canvas.in-hole").count() == 0


# --- issue 19: the explorer as a teaching tool -----------------------------------------------------
def test_the_full_space_hole_readout_agrees_with_holes_py_for_the_same_z(open_page, tmp_path):
    digits = load("digits")
    model = VAE(digits.D, (16,), 4, rng=np.random.default_rng(3))
    page = open_page(write_page(model, digits, tmp_path / "page.html", bins=30))
    run = explore.read_page_data((tmp_path / "page.html").read_text())["runs"][0]
    codes = explore.held_codes(run)                                   # float32, as the page holds them
    z = 1.5 * np.random.default_rng(0).standard_normal((200, 4))      # (200, 4) in and out of the holes
    js = np.array(page.page.evaluate("zs => zs.map(z => window.tinyvae.distance(0, z))", z.tolist()))
    python = holes.nearest_distance(z, codes)
    # both sum float64 squares of the same float32 codes, in different orders: ~1e-15 apart
    np.testing.assert_allclose(js, python, rtol=1e-12)
    in_hole = python > run["radius"]
    assert 0 < in_hole.sum() < len(z)                                 # both answers are exercised
    # and the readout under the pointer says the same, set through every slider (off the slice too)
    open_sliders(page)
    for zz, expected in list(zip(z, in_hole))[:6]:
        for k in range(4):
            page.page.locator("#sliders input").nth(k).fill(repr(float(zz[k])))
        shown = np.array(page.page.evaluate("window.tinyvae.z(0)"))
        d = holes.nearest_distance(shown[None], codes)[0]
        assert page.page.inner_text("#hole-readout") == ("in a hole" if d > run["radius"] else "not in a hole")


def test_a_page_with_more_codes_than_it_holds_says_so_and_tests_holes_on_those_it_holds():
    digits = load("digits")
    model = VAE(digits.D, (16,), 4, rng=np.random.default_rng(0))
    run = explore.explorer_data(model, digits, bins=10, code_budget=4 * 4 * 500)["runs"][0]   # 500 codes
    codes = explore.held_codes(run)
    assert run["train_codes_held"] == 500 < run["n_train_codes"] == len(digits.x_train)
    # the radius is holes.py's on the codes held, and they are training codes (draws of q(z|x))
    assert run["radius"] == pytest.approx(holes.hole_radius(codes.astype(np.float64)), rel=1e-6)
    every = holes.training_codes(model, digits.x_train, np.random.default_rng(0))
    assert np.all(holes.nearest_distance(codes, every) < 1e-5)


def test_with_every_code_held_the_pages_holes_are_model_hole_score(tmp_path):
    digits = load("digits")
    model = Autoencoder(digits.D, (16,), 2, rng=np.random.default_rng(0))
    run = explore.explorer_data(model, digits, bins=10, seed=3)["runs"][0]
    score = holes.model_hole_score(model, digits.x_train, seed=3)
    assert run["train_codes_held"] == len(digits.x_train)
    assert run["radius"] == score.radius and run["score"] == score.score


def prior_sample(page):
    page.page.click("[data-testid=prior-sample]")
    return page.page.evaluate("window.tinyvae.lastSample")


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_the_prior_samples_hole_fraction_is_pythons_on_the_same_draws(open_page, tmp_path, kind):
    digits = load("digits")
    model = (Autoencoder if kind == "ae" else VAE)(digits.D, (16,), 3, rng=np.random.default_rng(4))
    page = open_page(write_page(model, digits, tmp_path / "page.html", bins=30))
    run = explore.read_page_data((tmp_path / "page.html").read_text())["runs"][0]
    sample = prior_sample(page)
    eps, z = np.array(sample["eps"]), np.array(sample["runs"][0]["z"])            # (500, 3) each
    # the draws are the prior's: z = mean + L eps, N(0, I) for the VAE, the fitted Gaussian for the AE
    mean, L = explore.prior_factor(run)
    np.testing.assert_allclose(z, mean + eps @ L.T, rtol=1e-12, atol=1e-12)
    score = holes.model_hole_score(model, digits.x_train)
    np.testing.assert_allclose(mean, score.mean, atol=1e-12)
    # the same draws, judged by holes.py: the same draws in holes (float32 codes: ties within 1e-5)
    d = holes.nearest_distance(z, explore.held_codes(run))
    page_in_hole = np.array(sample["runs"][0]["inHole"])
    clear = np.abs(d - run["radius"]) > 1e-5
    assert np.array_equal(page_in_hole[clear], (d > run["radius"])[clear])
    # and the fraction agrees with the hole score of 5,000 other draws, within sampling error
    # (4 standard errors of the difference of two independent fractions)
    p, q = page_in_hole.mean(), score.score
    se = np.sqrt(q * (1 - q) * (1 / len(z) + 1 / len(score.z)))
    print(f"{kind}: page {p:.3f} of {len(z)} draws, holes.py {q:.3f} of {len(score.z)}; 4 se = {4 * se:.3f}")
    assert abs(p - q) < 4 * se + 1 / len(z)
    assert f"{int(page_in_hole.sum())} of {len(z)} prior draws" in page.page.inner_text("#prior-holes")
    grid = page.page.locator("#prior-grid canvas")
    assert grid.count() == 64
    framed = [i for i in range(64) if "in-hole" in grid.nth(i).get_attribute("class")]
    assert framed == list(np.flatnonzero(page_in_hole[:64]))


def test_the_pages_normal_draws_have_mean_0_variance_1_and_no_correlation(open_page, tmp_path):
    # the sampler's statistics: with n = 100,000 draws the mean's standard error is 0.0032 and the
    # variance's 0.0045, so 5 standard errors are 0.016 and 0.023; neighbours' correlation is 0 +- 0.016
    digits = load("digits")
    page = open_page(write_page(VAE(digits.D, (8,), 2, rng=np.random.default_rng(0)), digits,
                                tmp_path / "page.html", bins=10))
    e = np.array(page.page.evaluate("window.tinyvae.normals(12345, 100000)"))
    assert abs(e.mean()) < 0.016 and abs(e.var() - 1) < 0.023
    assert abs(np.corrcoef(e[:-1], e[1:])[0, 1]) < 0.016
    # and its tails: the share beyond 2 sd is 4.55% (se 0.066%)
    assert abs(np.mean(np.abs(e) > 2) - 0.0455) < 5 * 0.00066


def test_clicking_a_vae_code_draws_q_z_given_x_from_model_encode(open_page, tmp_path):
    digits = load("digits")
    model = VAE(digits.D, (16,), 3, rng=np.random.default_rng(5))
    page = open_page(write_page(model, digits, tmp_path / "page.html", bins=30))
    run = explore.read_page_data((tmp_path / "page.html").read_text())["runs"][0]
    n = 7
    code = explore.from_base64(run["codes"]).reshape(-1, 3)[n]
    a1, a2 = run["axes"]
    page.page.mouse.click(*move_to(page, code[a1], code[a2]))
    post = page.page.evaluate("window.tinyvae.posterior(0)")
    mu, logvar = (np.asarray(v, np.float64)[0] for v in model.encode(digits.x_test[[post["test_index"]]]))
    sigma = np.exp(0.5 * logvar)
    # the page holds mu and logvar as float32: 6e-8 relative, and exp() keeps that
    np.testing.assert_allclose(post["mu"], mu, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(post["sigma"], sigma, rtol=1e-6)
    for e in post["ellipses"]:
        np.testing.assert_allclose(e["centre"], mu[[a1, a2]], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(e["radii"], e["k"] * sigma[[a1, a2]], rtol=1e-6)
    assert sorted(e["k"] for e in post["ellipses"]) == [1, 2]
    assert page.page.locator("#compare canvas").count() == 2 + 5          # input, decode of mu, 5 draws


def two_runs(tmp_path, data="digits"):
    ds = load(data)
    ae = Autoencoder(ds.D, (32,), 2, likelihood="bernoulli", rng=np.random.default_rng(1))
    vae = VAE(ds.D, (32, 16), 3, rng=np.random.default_rng(2))
    path = tmp_path / "pair.html"
    explore.write_explorer(ae, ds, str(path), bins=30, compare=(vae, ds), names=["ae", "vae"])
    return ae, vae, path


def test_the_two_run_page_decodes_both_models_to_1e_4(open_page, tmp_path):
    ae, vae, path = two_runs(tmp_path)
    page = open_page(path)
    rng = np.random.default_rng(0)
    for k, model in enumerate((ae, vae)):
        z = 2.0 * rng.standard_normal((20, model.Z))
        js = np.array(page.page.evaluate("([k, zs]) => zs.map(z => window.tinyvae.decodeRun(k, z))", [k, z.tolist()]))
        assert np.max(np.abs(js - model.decode(z))) < TOLERANCE


def test_one_pointer_decodes_both_runs_at_the_same_place_relative_to_their_priors(open_page, tmp_path):
    ae, vae, path = two_runs(tmp_path)
    page = open_page(path)
    runs = explore.read_page_data(path.read_text())["runs"]
    move_to(page, 1.0, -0.5)                                          # over the AE's plane
    z_ae, z_vae = (np.array(page.page.evaluate(f"window.tinyvae.z({k})")) for k in (0, 1))
    u = [(z[run["axes"]] - np.array(run["prior_mean"])) / np.sqrt(np.diag(run["prior_cov"]))
         for z, run in ((z_ae, runs[0]), (z_vae, runs[1]))]
    np.testing.assert_allclose(u[0], u[1], atol=1e-9)                 # the same u in both planes
    for k, (model, z) in enumerate(((ae, z_ae), (vae, z_vae))):
        side = page.page.evaluate("k => document.getElementById(k ? 'decoded-2' : 'decoded').width", k)
        shown = np.array(page.page.evaluate("([k, s]) => Array.from(document.getElementById(k ? 'decoded-2' : 'decoded')"
                                            ".getContext('2d').getImageData(0, 0, s, s).data)", [k, side]))
        expected = 255 - np.round(255 * np.clip(model.decode(z[None]), 0, 1)).reshape(8, 8)
        assert np.array_equal(shown[::4].reshape(side, side)[::side // 8, ::side // 8], expected)


def test_the_two_run_prior_sample_draws_the_same_eps_for_both(open_page, tmp_path):
    ae, vae, path = two_runs(tmp_path)
    page = open_page(path)
    runs = explore.read_page_data(path.read_text())["runs"]
    sample = prior_sample(page)
    eps = np.array(sample["eps"])                                     # (500, 3): the larger Z
    for run, drawn in zip(runs, sample["runs"]):
        Z = run["Z"]
        mean, L = explore.prior_factor(run)
        expected = mean + eps[:, :Z] @ L.T
        np.testing.assert_allclose(np.array(drawn["z"]), expected, rtol=1e-12, atol=1e-12)
    assert "ae: " in page.page.inner_text("#prior-holes") and "vae: " in page.page.inner_text("#prior-holes-2")


def test_two_runs_of_different_data_are_refused_in_one_line(tmp_path, capsys):
    runs = []
    for name, data in (("d", "digits"), ("s", "shapes")):
        runs.append(tmp_path / name)
        assert cli.main(["train", "--data", data, "--hidden", "8", "--latent", "2", "--epochs", "1",
                         "--out", str(runs[-1])]) == 0
    capsys.readouterr()
    code = cli.main(["explore", str(runs[0]), str(runs[1]), "--out", str(tmp_path / "pair.html")])
    err = capsys.readouterr().err
    assert code == 2 and "digits" in err and "shapes" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "pair.html").exists()


def test_colour_by_changes_the_dots_colours(open_page, tmp_path):
    shapes = load("shapes")
    shapes = Dataset(shapes.name, shapes.x_train[:1500], shapes.y_train[:1500], shapes.x_test, shapes.y_test,
                     shapes.image_shape, shapes.factors_train[:1500], shapes.factors_test, shapes.factor_names,
                     shapes.factor_sizes)
    model = VAE(shapes.D, (32,), 2, rng=np.random.default_rng(6))
    page = open_page(write_page(model, shapes, tmp_path / "page.html", bins=20))
    run = explore.read_page_data((tmp_path / "page.html").read_text())["runs"][0]
    options = page.page.locator("[data-testid=colour-by] option").all_inner_texts()
    assert options[:5] == list(shapes.factor_names)                  # shape, scale, rotation, x, y
    key = page.page.inner_text("#key")
    assert all(name in key for name in ("square", "ellipse", "heart"))   # the shapes by name

    def dot_colours():                                                # the plane's pixel at each dot
        return np.array(page.page.evaluate("""codes => {
            const c = document.getElementById("plane"), g = c.getContext("2d");
            return codes.map(([a, b]) => {
                const [x, y] = window.tinyvae.pixelOf(a, b), r = c.getBoundingClientRect();
                return Array.from(g.getImageData(Math.round(x - r.left), Math.round(y - r.top), 1, 1).data.slice(0, 3));
            });
        }""", explore.from_base64(run["codes"]).reshape(-1, 2)[:200].tolist()))
    by_shape = dot_colours()
    page.page.select_option("[data-testid=colour-by]", "x")
    by_x = dot_colours()
    changed = np.any(by_shape != by_x, axis=1).mean()
    print(f"{100 * changed:.0f}% of 200 dots changed colour")
    assert changed > 0.5                   # (a dot hidden under another, or the pointer, may keep its pixel)
    assert "7.75 px" in page.page.inner_text("#key")                # x by its centre, in pixels


def test_arrow_keys_move_the_pointer_one_cell(open_page, trained_ae):
    page = open_page(trained_ae)
    run = explore.read_page_data(trained_ae.read_text())["runs"][0]
    lo1, hi1, lo2, hi2 = run["extent"]
    page.page.focus("#plane")
    before = np.array(page.page.evaluate("window.tinyvae.z(0)"))
    page.page.keyboard.press("ArrowRight")
    page.page.keyboard.press("ArrowUp")
    after = np.array(page.page.evaluate("window.tinyvae.z(0)"))
    np.testing.assert_allclose(after - before, [(hi1 - lo1) / run["bins"], (hi2 - lo2) / run["bins"]], rtol=1e-9)
    assert "z = " in page.page.inner_text("#readout")


def test_a_click_on_empty_space_says_so_and_a_later_action_clears_the_compare_panel(open_page, trained_ae):
    page = open_page(trained_ae)
    run = explore.read_page_data(trained_ae.read_text())["runs"][0]
    centres, distance, _ = explore.cell_centres(run)
    page.page.mouse.click(*move_to(page, *centres[np.argmax(distance)]))   # far from every code
    assert "no test code under the pointer" in page.page.inner_text("#compare")
    first = explore.from_base64(run["codes"])[:2]
    first_screen = [page.page.locator(f"#{name}").bounding_box() for name in ("plane", "decoded", "summary")]
    page.page.mouse.click(*move_to(page, *first))
    assert "input | reconstruction" in page.page.inner_text("#compare")
    assert [page.page.locator(f"#{name}").bounding_box() for name in ("plane", "decoded", "summary")] == first_screen
    prior_sample(page)
    assert page.page.inner_text("#compare") == ""                  # not left stale


def page_classifier(judge):
    """The page's classifier as a tinyvae.studies.classifier.Classifier, its weights read back from the page."""
    net = classifier.Classifier(judge["sizes"][0], judge["sizes"][1:-1], judge["sizes"][-1])
    for layer, saved in zip([l for l in net.net.layers if l.params], [l for l in judge["layers"] if l["kind"] == "Linear"]):
        layer.params["W"][...] = explore.from_base64(saved["W"]).reshape(saved["D_in"], saved["D_out"])
        layer.params["b"][...] = explore.from_base64(saved["b"])
    return net


# --- issue 27: one judge, lesson 02's ------------------------------------------------------------
def test_a_decode_is_judged_realistic_exactly_as_precision_in_manifold_judges_it(open_page, tmp_path):
    digits = load("digits")
    model = VAE(digits.D, (32,), 2, rng=np.random.default_rng(7))
    fit(model, digits.x_train, 3, batch_size=32, lr=3e-3)              # decodes on both sides of the bar
    page = open_page(write_page(model, digits, tmp_path / "page.html", bins=20))
    run = explore.read_page_data((tmp_path / "page.html").read_text())["runs"][0]
    real = explore.real_points(run)                                    # the real test digits, as the page reads them
    assert len(real) == len(digits.x_test) == 299                      # lesson 02's manifold: every test digit
    # the page's radii are precision.knn_radii's on those points, bit for bit (float64 on the page)
    assert np.array_equal(explore.from_base64(run["radii"], "<f8"), precision.knn_radii(real, precision.K))
    # the same points, judged in JavaScript and by precision.in_manifold: the page's own decodes, real
    # training digits, blends of two digits and noise (points inside and outside the manifold)
    rng = np.random.default_rng(0)
    decodes = np.array(page.page.evaluate("zs => zs.map(window.tinyvae.decode)", (2 * rng.standard_normal((150, 2))).tolist()))
    x = digits.x_train
    points = np.concatenate([decodes, x[:100], 0.5 * (x[100:150] + x[150:200]), rng.random((20, digits.D))])
    js = np.array(page.page.evaluate("xs => window.tinyvae.inManifold(xs)", points.tolist()))
    python = precision.in_manifold(points, real, precision.K)
    assert np.array_equal(js, python)
    assert 0 < python[:150].sum() < 150                                # both verdicts among the decodes
    # and the prior sample on load: its flags are in_manifold on its decodes, counted in the summary
    sample = page.page.evaluate("window.tinyvae.lastSample")
    z, flags = np.array(sample["runs"][0]["z"]), np.array(sample["runs"][0]["realistic"])
    x_js = np.array(page.page.evaluate("zs => zs.map(window.tinyvae.decode)", z.tolist()))
    assert np.array_equal(flags, precision.in_manifold(x_js, real, precision.K))
    in_hole = np.array(sample["runs"][0]["inHole"])
    k, n = int(flags[~in_hole].sum()), int((~in_hole).sum())
    assert f"({k} of {n}) of the others" in page.page.inner_text("[data-testid=sample-summary]")
    assert "valid" not in page.page.inner_text("body")                # no verdict of the classifier's


def test_the_classifier_only_says_which_digit_and_its_forward_pass_is_classifier_pys(open_page, tmp_path):
    digits = load("digits")
    model = VAE(digits.D, (32,), 2, rng=np.random.default_rng(7))
    page = open_page(write_page(model, digits, tmp_path / "page.html", bins=20))
    data = explore.read_page_data((tmp_path / "page.html").read_text())
    net = page_classifier(data["classifier"])
    assert net.accuracy(digits.x_test, digits.y_test) == pytest.approx(data["classifier"]["test_accuracy"])
    x = np.concatenate([digits.x_test[:20], model.decode(np.random.default_rng(1).standard_normal((20, 2)))])
    js = page.page.evaluate("xs => xs.map(window.tinyvae.whichDigit)", x.tolist())
    p = net.probabilities(x)                                           # (40, 10), float32 logits in Python
    np.testing.assert_allclose([v["p"] for v in js], p.max(axis=1), atol=1e-5)
    clear = np.sort(p, axis=1)[:, -1] - np.sort(p, axis=1)[:, -2] > 1e-5
    assert np.array_equal(np.array([v["label"] for v in js])[clear], p.argmax(axis=1)[clear])
    assert "the classifier reads a" in page.page.inner_text("#readout")


def test_the_nearest_training_image_is_classifier_pys_on_the_images_the_page_holds(open_page, tmp_path):
    ds = load("shapes-equal")
    ds = Dataset(ds.name, ds.x_train[:900], ds.y_train[:900], ds.x_test[:150], ds.y_test[:150], ds.image_shape,
                 ds.factors_train[:900], ds.factors_test[:150], ds.factor_names, ds.factor_sizes)
    model = VAE(ds.D, (32,), 2, rng=np.random.default_rng(8))
    page = open_page(write_page(model, ds, tmp_path / "page.html", bins=20))
    run = explore.read_page_data((tmp_path / "page.html").read_text())["runs"][0]
    held = explore.from_base64(run["train_images"], "u1").reshape(run["n_train_images"], ds.D) / 255
    data = explore.read_page_data((tmp_path / "page.html").read_text())
    assert run["n_train_images"] == 900 and data["classifier"] is None     # shapes: no classes to recognise
    x = np.array(page.page.evaluate("zs => zs.map(window.tinyvae.decode)",
                                    np.random.default_rng(2).standard_normal((30, 2)).tolist()))
    js = page.page.evaluate("xs => xs.map(x => window.tinyvae.nearestTraining(x))", x.tolist())
    d = classifier.nearest_image_distance(x, held)
    np.testing.assert_allclose([v["distance"] for v in js], d, rtol=1e-12)
    dist = np.linalg.norm(x[:, None, :] - held[None], axis=2)
    assert [v["index"] for v in js] == list(dist.argmin(axis=1))
    shown = page.page.inner_text("#nearest-caption")
    z = np.array(page.page.evaluate("window.tinyvae.z(0)"))
    near = classifier.nearest_image_distance(np.array(page.page.evaluate("z => window.tinyvae.decode(z)", z.tolist()))[None], held)[0]
    assert shown == f"nearest training image, {near:.2f} away"
    # colour by factor works on shapes-equal: every factor, y on x's twelve positions
    options = page.page.locator("[data-testid=colour-by] option").all_inner_texts()
    assert options[:5] == list(ds.factor_names)
    page.page.select_option("[data-testid=colour-by]", "y")
    assert page.page.locator("#key span").count() == len(set(run["colourings"][4]["values"]))


OKABE_ITO = {"rgb(0, 114, 178)", "rgb(230, 159, 0)", "rgb(0, 158, 115)", "rgb(204, 121, 167)", "rgb(86, 180, 233)",
             "rgb(213, 94, 0)", "rgb(240, 228, 66)", "rgb(0, 0, 0)"}


def viridis(t):
    """matplotlib's viridis at t in [0, 1], through the page's five anchors (explorer.js: ordered)."""
    anchors = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)
    s = min(max(t, 0), 1) * 4
    i = min(int(s), 3)
    c = np.round(anchors[i] + (s - i) * (anchors[i + 1] - anchors[i])).astype(int)
    return f"rgb({c[0]}, {c[1]}, {c[2]})"


@pytest.mark.parametrize("data", ["digits", "shapes"])
def test_every_colour_by_mode_uses_okabe_ito_or_viridis_and_tells_every_value_apart(open_page, tmp_path, data):
    ds = load(data)
    if data == "shapes":
        ds = Dataset(ds.name, ds.x_train[:600], ds.y_train[:600], ds.x_test, ds.y_test, ds.image_shape,
                     ds.factors_train[:600], ds.factors_test, ds.factor_names, ds.factor_sizes)
    page = open_page(write_page(VAE(ds.D, (16,), 2, rng=np.random.default_rng(0)), ds, tmp_path / "p.html", bins=10))
    run = explore.read_page_data((tmp_path / "p.html").read_text())["runs"][0]
    for c in run["colourings"]:
        page.page.select_option("[data-testid=colour-by]", c["name"])
        colours = page.page.evaluate("Array.from(document.querySelectorAll('#key span'), s => getComputedStyle(s).color)")
        values = sorted(set(c["values"]))
        n = len(c["names"])
        expected = [viridis(v / (n - 1)) for v in values] if c["kind"] == "ordered" or n > 8 else None
        if expected is None:
            assert set(colours) <= OKABE_ITO, (c["name"], colours)
        else:
            assert colours == expected, c["name"]
        assert len(set(colours)) == len(values)                         # one colour per value


# --- issue 27: the first screen, on load ---------------------------------------------------------
@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory):
    """A 2-D AE and a 2-D VAE trained by tinyvae train (so with their code snapshots), and their pages:
    the pair's and the AE's own."""
    root = tmp_path_factory.mktemp("pair")
    for name, flags in (("ae2", ["--model", "ae"]), ("vae2", [])):
        assert cli.main(["train", *flags, "--hidden", "16", "--latent", "2", "--epochs", "8",
                         "--out", str(root / name)]) == 0
    assert cli.main(["explore", str(root / "ae2"), str(root / "vae2"), "--out", str(root / "pair.html")]) == 0
    assert cli.main(["explore", str(root / "ae2")]) == 0
    return root / "pair.html", root / "ae2" / "explorer.html"


def test_on_load_the_page_shows_the_prior_draws_in_holes_with_the_stated_seed(open_page, trained_pair):
    page = open_page(trained_pair[0])
    data = explore.read_page_data(trained_pair[0].read_text())
    sample = page.page.evaluate("window.tinyvae.lastSample")           # no press: drawn on load
    seed = data["sample_seed"] * data["seed"]
    assert sample["press"] == 0
    expected = np.array(page.page.evaluate(f"window.tinyvae.normals({seed}, {500 * 2})")).reshape(500, 2)
    np.testing.assert_array_equal(np.array(sample["eps"]), expected)
    for k, run in enumerate(sample["runs"]):
        n_hole = int(np.sum(run["inHole"]))
        p = n_hole / 500
        text = page.page.locator("[data-testid=sample-summary]").nth(k).inner_text()
        assert f"{n_hole} of 500 prior draws ({100 * p:.1f}% ± {100 * np.sqrt(p * (1 - p) / 500):.1f}%)" in text
        assert f"draw set 0, seed {seed}" in text and data["runs"][k]["name"] in text   # named in the pair


VIEWPORTS = [(1280, 720), (1366, 768), (1920, 1080)]


@pytest.mark.parametrize("width, height", VIEWPORTS)
def test_the_first_screen_holds_the_planes_decodes_summaries_and_legend(chromium, trained_pair, width, height):
    for path, n_runs in ((trained_pair[0], 2), (trained_pair[1], 1)):
        page = Page(chromium, path, viewport=(width, height))
        boxes = {}
        for testid in ("plane", "decode", "sample-summary", "epoch-slider", "prior-sample", "colour-by", "legend"):
            found = page.page.locator(f"[data-testid={testid}]")
            assert found.count() == (n_runs if testid in ("plane", "decode", "sample-summary") else 1), testid
            boxes[testid] = [found.nth(i).bounding_box() for i in range(found.count())]
        for testid, each in boxes.items():
            for box in each:
                assert box is not None and box["width"] > 0 and box["height"] > 0, testid
                assert box["x"] >= 0 and box["y"] >= 0, (testid, box)
                assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, (testid, box, n_runs)
        assert page.page.evaluate("document.documentElement.scrollWidth") <= width      # no sideways scrolling
        assert page.page.evaluate("window.scrollY") == 0
        print(f"{width}x{height}, {n_runs} run(s): planes of {page.page.evaluate('window.tinyvae.size()')} px; "
              f"legend ends at y = {boxes['legend'][0]['y'] + boxes['legend'][0]['height']:.0f}")
        page.close()


def test_a_click_marks_the_code_on_both_planes(open_page, trained_pair):
    page = open_page(trained_pair[0])
    runs = explore.read_page_data(trained_pair[0].read_text())["runs"]
    codes = [explore.from_base64(r["codes"]).reshape(-1, 2) for r in runs]
    far = np.linalg.norm(codes[0][:, None] - codes[0][None], axis=2)
    np.fill_diagonal(far, np.inf)
    n = int(np.argmax(far.min(axis=1)))                                 # a code no other lies near
    page.page.mouse.click(*move_to(page, *codes[0][n]))
    for k in range(2):                                                  # the same test image, in each run
        np.testing.assert_array_equal(page.page.evaluate(f"window.tinyvae.marked({k})"), codes[k][n])


def test_the_epoch_slider_replays_the_codes_holes_and_hole_score(open_page, trained_pair):
    page = open_page(trained_pair[0])
    runs = explore.read_page_data(trained_pair[0].read_text())["runs"]
    frames = [r["replay"]["frames"] for r in runs]
    assert [f["epoch"] for f in frames[0]] == snapshots.schedule(8)
    epochs = page.page.evaluate("window.tinyvae.epochs")
    assert epochs == snapshots.schedule(8)
    slider = page.page.locator("[data-testid=epoch-slider]")
    assert slider.get_attribute("max") == str(len(epochs) - 1) and slider.input_value() == str(len(epochs) - 1)
    before = page.page.evaluate("document.getElementById('plane').toDataURL()")
    slider.fill("0")
    label = page.page.inner_text("#epoch-label")
    for k in range(2):
        assert page.page.evaluate(f"window.tinyvae.frame({k})")["epoch"] == 1
        assert f"{runs[k]['name']} {100 * frames[k][0]['score']:.1f}%" in label
        assert f"epoch 1, hole score {100 * frames[k][0]['score']:.1f}%" in page.page.locator("h2").nth(k).inner_text()
    assert page.page.evaluate("document.getElementById('plane').toDataURL()") != before
    slider.fill(str(len(epochs) - 1))
    assert page.page.evaluate("window.tinyvae.frame(0)") is None and "(the model as it is)" in page.page.inner_text("#epoch-label")


def test_the_gallerys_screenshots_are_of_a_laptop_screen(chromium, tmp_path):
    from tools import gallery
    digits = load("digits")
    ae = Autoencoder(digits.D, (16,), 2, likelihood="bernoulli", rng=np.random.default_rng(0))
    vae = VAE(digits.D, (16,), 2, rng=np.random.default_rng(0))
    shots = [gallery.screenshot_prior_sample(chromium, ae, digits, str(tmp_path / "prior.png"))[0],
             gallery.screenshot_two_runs(chromium, ae, vae, digits, str(tmp_path / "pair.png"))[0][0]]
    for path in shots:
        with open(path, "rb") as f:
            head = f.read(24)
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == gallery.VIEWPORT


def test_a_path_between_two_test_codes_shows_their_inputs_at_its_ends(open_page, trained_ae):
    page = open_page(trained_ae)
    run = explore.read_page_data(trained_ae.read_text())["runs"][0]
    codes = explore.from_base64(run["codes"]).reshape(-1, 2)
    far = int(np.argmax(np.linalg.norm(codes - codes[0], axis=1)))   # two codes far apart on the plane
    page.page.check("#interp-mode")
    page.page.mouse.click(*move_to(page, *codes[0]))
    assert "first end of the path set" in page.page.inner_text("#compare")
    page.page.mouse.click(*move_to(page, *codes[far]))
    assert page.page.locator("#strip figure.end").all_inner_texts() == ["input A", "input B"]
