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
from tinyvae import holes  # noqa: E402
from tinyvae.app import cli, explore  # noqa: E402
from tinyvae.data import load  # noqa: E402
from tinyvae.data.dataset import Dataset  # noqa: E402
from tinyvae.models import VAE, Autoencoder, DenoisingAutoencoder  # noqa: E402

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

    def __init__(self, context, path):
        self.url = path.resolve().as_uri()
        self.requests, self.errors = [], []
        self.page = context.new_page()
        self.page.set_viewport_size({"width": 1200, "height": 900})
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
    grey = np.array(page.page.evaluate("""() => {
        const c = document.getElementById("decoded"), d = c.getContext("2d").getImageData(0, 0, 256, 256);
        return Array.from(d.data.filter((_, i) => i % 4 === 0));        // the red channel
    }""")).reshape(256, 256)
    # dark on white, as the figures draw them: a pixel of value x is grey 255 - round(255 x)
    expected = 255 - np.round(255 * np.clip(model.decode(np.zeros((1, 4))), 0, 1)).reshape(H, W)  # z starts at 0
    assert np.array_equal(grey, np.kron(expected, np.ones((256 // H, 256 // W))))


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
    assert page.page.locator("#sliders input").count() == 4         # a slider for every latent
    page.page.locator("#sliders input").nth(other).fill("1.5")
    z = np.array(page.page.evaluate("window.tinyvae.z(0)"))
    assert z[other] == 1.5
    d = holes.nearest_distance(z[None], explore.held_codes(run))[0]
    assert abs(d - run["radius"]) > 1e-4                              # not a tie within float32 rounding
    expected = "in a hole" if d > run["radius"] else "not in a hole"
    assert page.page.inner_text("#hole-readout") == expected
    assert "the red cells show the start slice" in page.page.inner_text("#readout")
    assert page.page.evaluate("window.tinyvae.decode([0, 0, 0, 0]).length") == digits.D


def test_a_plane_slider_at_either_end_is_still_on_the_map(open_page, trained_ae):
    # a range input's value is a decimal string, rounded past float64's last digits: its ends
    # must still fall in the map's first and last cells, not "outside the map"
    page = open_page(trained_ae)
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
    for other in (k for k in range(4) if k not in run["axes"]):
        slider = page.page.locator("#sliders input").nth(other)
        slider.fill(slider.get_attribute("max"))
        assert "the red cells show the start slice" in page.page.inner_text("#readout")
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
