"""Tests for the procedural shapes data set (tinyvae/data/shapes.py).

The whole grid (6,912 shapes) is drawn once per module; each test then checks one
promise the module makes: a full and disjoint split, binary canvases with the shape
inside them, images that are the canvases averaged over 2x2 blocks, and factors that
each change the canvas in the way their name says.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvae.data import shapes
from tinyvae.data.dataset import Dataset

SIZES = shapes.FACTOR_SIZES


@pytest.fixture(scope="module")
def grid():
    """Every factor combination and its binary canvas, as (3, 4, 8, 12, 6, 32, 32)."""
    factors = shapes.factor_grid()                                # (6912, 5) row-major
    return shapes.draw(factors).reshape(SIZES + (32, 32)).astype(np.float32)


@pytest.fixture(scope="module")
def images():
    """Every factor combination and its 16x16 image, as (3, 4, 8, 12, 6, 16, 16)."""
    return shapes.generate(shapes.factor_grid()).reshape(SIZES + (16, 16))


@pytest.fixture(scope="module")
def data():
    return shapes.load(seed=0)


def centre_of_mass(images):
    """(..., 32, 32) -> (..., 2) mean (column, row) of the on pixels."""
    count = images.sum(axis=(-2, -1))
    col = (images * np.arange(32)).sum(axis=(-2, -1)) / count
    row = (images * np.arange(32)[:, None]).sum(axis=(-2, -1)) / count
    return np.stack([col, row], axis=-1)


# --- the data set ---------------------------------------------------------------------
def test_load_returns_a_dataset_of_flat_grey_float32_images_labelled_by_shape(data):
    assert isinstance(data, Dataset) and data.name == "shapes"
    assert data.image_shape == (16, 16) and data.D == 256
    assert data.factor_names == ("shape", "scale", "rotation", "x", "y")
    assert data.factor_sizes == (3, 4, 8, 12, 6)
    for x, y, f in [(data.x_train, data.y_train, data.factors_train),
                    (data.x_test, data.y_test, data.factors_test)]:
        assert x.dtype == np.float32 and x.shape == (len(f), 256)
        assert set(np.unique(x)) == {0.0, 0.25, 0.5, 0.75, 1.0}       # 0..4 of 4 canvas pixels
        assert f.dtype == np.int64 and f.shape == (len(x), 5)
        assert y.dtype == np.int64 and np.array_equal(y, f[:, 0])


def test_load_is_deterministic_for_a_seed_and_the_split_depends_on_it(data):
    again = shapes.load(seed=0)
    other = shapes.load(seed=1)
    assert np.array_equal(again.x_train, data.x_train)
    assert np.array_equal(again.factors_test, data.factors_test)
    assert not np.array_equal(other.factors_test, data.factors_test)


def test_train_and_test_are_disjoint_and_together_hold_every_combination_once(data):
    n = int(np.prod(SIZES))
    assert len(data.x_test) == round(0.1 * n) and len(data.x_train) == n - len(data.x_test)
    flat_train = np.ravel_multi_index(data.factors_train.T, SIZES)
    flat_test = np.ravel_multi_index(data.factors_test.T, SIZES)
    assert not np.intersect1d(flat_train, flat_test).size
    assert np.array_equal(np.sort(np.concatenate([flat_train, flat_test])), np.arange(n))


def test_each_image_in_the_split_is_the_image_of_its_factors(data, images):
    for x, f in [(data.x_train, data.factors_train), (data.x_test, data.factors_test)]:
        assert np.array_equal(x.reshape(-1, 16, 16), images[tuple(f.T)])


def test_each_image_pixel_is_the_mean_of_its_2x2_block_of_canvas_pixels(grid, images):
    canvas = grid.reshape(-1, 32, 32)
    mean = (canvas[:, 0::2, 0::2] + canvas[:, 0::2, 1::2] + canvas[:, 1::2, 0::2] + canvas[:, 1::2, 1::2]) / 4
    assert np.array_equal(images.reshape(-1, 16, 16), mean)


def test_every_factor_combination_gives_a_different_16x16_image(images):
    flat = images.reshape(-1, 256)
    assert len(np.unique(flat, axis=0)) == flat.shape[0]


def test_load_returns_fresh_arrays_so_changing_one_does_not_change_the_next():
    first = shapes.load(seed=0)
    first.x_train[:] = 0.5
    first.factors_train[:] = -1
    second = shapes.load(seed=0)
    assert second.x_train.max() == 1.0 and second.x_train.min() == 0.0
    assert second.factors_train.min() == 0


# --- the images -----------------------------------------------------------------------
def test_every_canvas_is_non_empty_and_leaves_the_outer_pixels_empty(grid):
    images = grid.reshape(-1, 32, 32)
    assert images.sum(axis=(1, 2)).min() >= 20          # the smallest shape has ~30 pixels
    border = np.concatenate([images[:, 0, :], images[:, -1, :],
                             images[:, :, 0], images[:, :, -1]], axis=1)
    assert not border.any()                             # so no shape was ever clipped


def test_every_factor_combination_gives_a_different_canvas(grid):
    bits = np.packbits(grid.reshape(-1, 1024).astype(bool), axis=1)
    assert len(np.unique(bits, axis=0)) == grid.reshape(-1, 1024).shape[0]


def test_the_three_shapes_differ_at_every_shared_scale_rotation_and_position(grid):
    flat = grid.reshape(3, -1, 1024)
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert np.abs(flat[a] - flat[b]).sum(axis=1).min() >= 5


def test_one_rotation_step_changes_every_image_including_the_last_back_to_the_first(grid):
    turned = np.roll(grid, -1, axis=2)                  # rotation r -> r + 1 (mod 8)
    changed = np.abs(grid - turned).sum(axis=(-2, -1))  # (3, 4, 8, 12, 6)
    assert changed.min() >= 3
    # The heart has no symmetry and turns 45 degrees a step: a large change.
    assert changed[2].min() >= 10


def test_ellipse_rotation_index_two_tilts_it_45_degrees_counter_clockwise(grid):
    image = grid[1, 3, 2, 5, 2]                          # 2/8 of 180 degrees
    rows, cols = np.nonzero(image)
    # Counter-clockwise on screen: the long axis runs up (row falls) as column grows.
    assert np.corrcoef(cols, rows)[0, 1] < -0.5
    flat = grid[1, 3, 0, 5, 2]
    rows, cols = np.nonzero(flat)
    assert np.ptp(cols) > np.ptp(rows)                   # rotation 0 lies along x


def test_larger_scale_always_draws_more_pixels(grid):
    count = grid.sum(axis=(-2, -1))                      # (3, 4, 8, 12, 6)
    assert (np.diff(count, axis=1) > 0).all()


def test_two_position_steps_shift_the_image_by_exactly_three_pixels(grid):
    # Centres sit 1.5 px apart, so two steps are a whole-pixel shift of 3 px.
    assert np.array_equal(grid[:, :, :, 2:], np.roll(grid[:, :, :, :-2], 3, axis=-1))
    assert np.array_equal(grid[:, :, :, :, 2:], np.roll(grid[:, :, :, :, :-2], 3, axis=-2))


def test_one_position_step_moves_the_centre_of_mass_by_about_one_and_a_half_pixels(grid):
    com = centre_of_mass(grid)                           # (3, 4, 8, 12, 6, 2)
    step_x = np.diff(com[..., 0], axis=3)                # x step: column moves
    step_y = np.diff(com[..., 1], axis=4)                # y step: row moves (down)
    for step in (step_x, step_y):
        assert abs(step.mean() - 1.5) < 0.02
        assert step.min() >= 1.0 and step.max() <= 2.0   # pixel rounding of the phase
    # Moving in x leaves the row of the centre of mass alone, up to the pixel rounding
    # of a tilted shape drawn at the other phase.
    assert np.abs(np.diff(com[..., 1], axis=3)).max() < 0.5
    assert np.abs(np.diff(com[..., 0], axis=4)).max() < 0.5


# --- drawing arbitrary factors --------------------------------------------------------
@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 50))
def test_generate_draws_each_combination_the_same_in_any_batch(grid, images, seed, n):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, n) for s in SIZES], axis=1)   # (n, 5)
    assert np.array_equal(shapes.draw(factors), grid[tuple(factors.T)])
    assert np.array_equal(shapes.generate(factors), images[tuple(factors.T)])


def test_render_draws_one_image_and_broadcasts_arrays_of_indices(images):
    assert np.array_equal(shapes.render(2, 1, 3, 4, 5), images[2, 1, 3, 4, 5])
    row = shapes.render(0, 3, np.arange(8), 6, 4)        # all rotations at once
    assert row.shape == (8, 16, 16) and np.array_equal(row, images[0, 3, :, 6, 4])


@pytest.mark.parametrize("bad", [
    [[3, 0, 0, 0, 0]],                                   # only 3 shapes
    [[0, 0, 0, 12, 0]],                                  # x runs 0..11
    [[0, 0, 0, 0, 6]],                                   # y runs 0..5
    [[0, -1, 0, 0, 0]],
    [[0, 0, 0, 0]],                                      # 4 factors, not 5
    [[0.0, 0, 0, 0, 0]],                                 # not integers
])
def test_generate_rejects_factors_outside_the_grid_with_a_message(bad):
    with pytest.raises(ValueError, match="factor"):
        shapes.generate(np.array(bad))


def test_y_spans_half_of_xs_range_in_the_same_steps_so_the_two_are_not_interchangeable():
    assert len(shapes.POSITIONS_Y) * 2 == len(shapes.POSITIONS_X)
    assert np.allclose(np.diff(shapes.POSITIONS_X), 1.5) and np.allclose(np.diff(shapes.POSITIONS_Y), 1.5)
    assert np.isclose(np.ptp(shapes.POSITIONS_X), 2 * np.ptp(shapes.POSITIONS_Y) + 1.5)
    assert np.isclose(shapes.POSITIONS_X.mean(), shapes.POSITIONS_Y.mean())   # both centred on the canvas


def test_shapes_equal_puts_y_on_x_range_and_draws_every_combination_once():
    ds = shapes.load(equal_range=True)
    assert ds.name == "shapes-equal" and ds.factor_sizes == (3, 4, 8, 12, 12)
    x = np.concatenate([ds.x_train, ds.x_test])
    assert len(x) == 13824 and len(np.unique(x, axis=0)) == 13824
    # y index k sits where x index k does: the image turned by a quarter turn about the centre
    # is not the test (shapes rotate), so compare the canvases' centres of mass along each axis
    img_x = shapes.draw(np.array([[0, 0, 0, 3, 0]]), equal_range=True)[0]
    img_y = shapes.draw(np.array([[0, 0, 0, 0, 3]]), equal_range=True)[0]
    cols, rows = np.nonzero(img_x)[1].mean(), np.nonzero(img_y)[0].mean()
    assert cols - np.nonzero(shapes.draw(np.array([[0, 0, 0, 0, 0]]), equal_range=True)[0])[1].mean() \
        == pytest.approx(rows - np.nonzero(shapes.draw(np.array([[0, 0, 0, 0, 0]]), equal_range=True)[0])[0].mean())
    # the original data set is unchanged
    assert shapes.load().factor_sizes == (3, 4, 8, 12, 6)
