"""Improved precision and recall: exact answers on point sets worked out by hand, the
invariances of the definition, and agreement with the definition written out over every pair."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvae.studies import precision as pr


def line(*xs):
    """Points on a line, as an (N, 1) array."""
    return np.array(xs, dtype=np.float64)[:, None]


def brute_in_manifold(samples, real, k):
    """f(s; X) = [exists i: |s - x_i| <= R_k(x_i)], from the full distance matrices: (M,) bool."""
    between = np.sqrt(((real[:, None, :] - real[None, :, :]) ** 2).sum(-1))       # (N, N), 0 on the diagonal
    radii = np.sort(between, axis=1)[:, k]                  # column 0 is the point itself, then the others
    d = np.sqrt(((samples[:, None, :] - real[None, :, :]) ** 2).sum(-1))           # (M, N)
    return np.any(d <= radii[None, :], axis=1)


# --- the radii, on a line where they can be counted ----------------------------------------------
@pytest.mark.parametrize("k, radii", [(1, [1, 1, 1, 1, 1]),
                                      (2, [2, 1, 1, 1, 2]),     # the ends reach past one neighbour to the next
                                      (3, [3, 2, 2, 2, 3]),
                                      (4, [4, 3, 2, 3, 4])])   # k = N - 1: the farthest other point
def test_knn_radius_is_the_distance_to_the_kth_nearest_other_point_on_a_line(k, radii):
    np.testing.assert_array_equal(pr.knn_radii(line(0, 1, 2, 3, 4), k), radii)


def test_knn_radii_of_the_unit_square_corners_are_side_side_diagonal():
    square = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)
    for k, radius in ((1, 1.0), (2, 1.0), (3, np.sqrt(2.0))):
        np.testing.assert_array_equal(pr.knn_radii(square, k), np.full(4, radius))


def test_a_duplicate_is_a_neighbour_at_distance_zero():
    # two copies of 0: each is the other's nearest point, so its 1-NN ball has radius 0
    np.testing.assert_array_equal(pr.knn_radii(line(0, 0, 10, 10.5), 1), [0, 0, 0.5, 0.5])
    np.testing.assert_array_equal(pr.knn_radii(line(0, 0, 10, 10.5), 2), [10, 10, 10, 10.5])   # 10.5: others at 0.5, 10.5, 10.5


@pytest.mark.parametrize("k", [0, -1, 5, 6])
def test_k_outside_one_to_n_minus_one_is_a_clear_error(k):
    with pytest.raises(ValueError, match="k-th nearest"):
        pr.knn_radii(line(0, 1, 2, 3, 4), k)
    with pytest.raises(ValueError, match="k-th nearest"):
        pr.precision(line(0, 1, 2, 3, 4), line(0.5), k)
    with pytest.raises(ValueError, match="k-th nearest"):
        pr.recall(line(0.5), line(0, 1, 2, 3, 4), k)            # recall's manifold is the samples'


# --- the balls: closed, so the boundary is inside ------------------------------------------------
def test_a_sample_exactly_on_a_balls_boundary_is_inside_and_one_just_beyond_is_not():
    # 0..4 with k = 1: every ball has radius 1, so the manifold is [-1, 5], ends included
    real = line(0, 1, 2, 3, 4)
    samples = line(-1, 5, np.nextafter(-1, -2), np.nextafter(5, 6))
    np.testing.assert_array_equal(pr.in_manifold(samples, real, 1), [True, True, False, False])
    # and in 2-D with k = 3: the corners' balls have radius sqrt 2; (-1, -1) is sqrt 2 from (0, 0)
    square = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)
    samples = np.array([[-1, -1], [2, 2], [-1.0001, -1], [0.5, -1.5]])
    np.testing.assert_array_equal(pr.in_manifold(samples, square, 3), [True, True, False, False])


def test_a_ball_of_radius_zero_holds_only_its_centre():
    real = line(0, 0, 10, 10.5)                 # radii 0, 0, 0.5, 0.5 at k = 1
    np.testing.assert_array_equal(pr.in_manifold(line(0, 0.1, 9.5, 9.4), real, 1), [True, False, True, False])


def test_a_sample_in_the_gap_between_two_clusters_is_outside():
    real = line(0, 1, 2, 10, 11, 12)            # k = 1: [-1, 3] and [9, 13]
    np.testing.assert_array_equal(pr.in_manifold(line(1.5, 6, 11, 3, 9, 13.5), real, 1),
                                  [True, False, True, True, True, False])
    assert pr.precision(real, line(1.5, 6, 11), 1) == pytest.approx(2 / 3)


# --- precision and recall, by hand -----------------------------------------------------------------
def test_samples_covering_part_of_the_data_have_full_precision_and_partial_recall():
    real, fake = line(0, 1, 2, 3, 4), line(0, 1)
    assert pr.precision(real, fake, 1) == 1.0     # both samples lie on real points
    # the samples' manifold is [-1, 2] (each ball radius 1): it holds the real 0, 1, 2 of five
    assert pr.recall(real, fake, 1) == pytest.approx(3 / 5)


def test_a_set_judged_against_itself_has_precision_and_recall_one():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 6))
    assert pr.precision(x, x) == 1.0 and pr.recall(x, x) == 1.0


def test_a_set_far_from_every_real_point_has_precision_and_recall_zero():
    rng = np.random.default_rng(1)
    real, fake = rng.uniform(0, 1, (40, 5)), rng.uniform(0, 1, (60, 5))
    far = fake + 10.0                  # every radius is below the unit cube's diagonal, sqrt 5 < 10
    assert pr.precision(real, far) == 0.0 and pr.recall(real, far) == 0.0
    assert pr.precision(real, fake) > 0.5          # the same samples, not moved, are mostly inside


def test_empty_or_flat_inputs_are_refused_with_a_message():
    with pytest.raises(ValueError, match="at least one sample"):
        pr.precision(line(0, 1, 2), np.zeros((0, 1)))
    with pytest.raises(ValueError, match="2-D array"):
        pr.precision(np.arange(5.0), line(1))
    with pytest.raises(ValueError, match="dimensions"):
        pr.in_manifold(np.zeros((2, 3)), np.zeros((5, 2)))


# --- invariances: on integer points, where every squared distance is exact -----------------------
# Small integer coordinates make ties and boundary cases common, and keep every squared distance
# an exact integer, so a permuted or translated problem must give the very same booleans.
grid_points = lambda n_min, n_max, D: st.lists(st.lists(st.integers(-4, 4), min_size=D, max_size=D),
                                               min_size=n_min, max_size=n_max).map(lambda a: np.array(a, float))


@st.composite
def problems(draw):
    D = draw(st.integers(1, 4))
    k = draw(st.integers(1, 4))
    real = draw(grid_points(k + 1, 25, D))
    samples = draw(grid_points(1, 25, D))
    return real, samples, k


@settings(deadline=None, max_examples=60)
@given(problem=problems(), seed=st.integers(0, 2**32 - 1), shift=st.lists(st.integers(-50, 50), min_size=4, max_size=4))
def test_membership_does_not_change_when_the_real_points_are_permuted_or_both_sets_translated(problem, seed, shift):
    real, samples, k = problem
    inside = pr.in_manifold(samples, real, k)
    perm = np.random.default_rng(seed).permutation(len(real))
    np.testing.assert_array_equal(pr.in_manifold(samples, real[perm], k), inside)
    t = np.array(shift[:real.shape[1]], dtype=np.float64)
    np.testing.assert_array_equal(pr.in_manifold(samples + t, real + t, k), inside)
    np.testing.assert_array_equal(inside, brute_in_manifold(samples, real, k))   # ties decided as the definition does


# --- agreement with the definition written over every pair, on random data ------------------------
@settings(deadline=None, max_examples=25)
@given(N=st.integers(2, 60), M=st.integers(1, 60), D=st.integers(1, 70), k=st.integers(1, 5),
       seed=st.integers(0, 2**32 - 1))
def test_tree_answer_matches_the_brute_force_pairwise_distances(N, M, D, k, seed):
    k = min(k, N - 1)
    rng = np.random.default_rng(seed)
    real, fake = rng.uniform(0, 1, (N, D)), rng.uniform(0, 1, (M, D))
    fake[: M // 2] = real[rng.integers(0, N, M // 2)] + 0.05 * rng.standard_normal((M // 2, D))   # near real points
    brute_radii = np.sort(np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1)), axis=1)[:, k]
    np.testing.assert_allclose(pr.knn_radii(real, k), brute_radii, rtol=1e-12)
    inside = brute_in_manifold(fake, real, k)
    np.testing.assert_array_equal(pr.in_manifold(fake, real, k), inside)
    assert pr.precision(real, fake, k) == inside.mean()
    if M > k:
        assert pr.recall(real, fake, k) == brute_in_manifold(real, fake, k).mean()
