"""The hole score: its definition on codes whose answer we know, and on trained models."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvae.studies import holes
from tinyvae.data import load
from tinyvae.models import VAE, Autoencoder
from tinyvae.train import fit


# --- the definition, on synthetic codes --------------------------------------------------------
def brute_force(q, c):
    """min_n |q_m - c_n| for every query, written as the definition reads: (M,)."""
    return np.sqrt(((q[:, None, :] - c[None, :, :]) ** 2).sum(-1)).min(axis=1)


@settings(deadline=None, max_examples=25)
@given(M=st.integers(1, 40), N=st.integers(2, 40), Z=st.integers(1, 16), seed=st.integers(0, 2**32 - 1))
def test_nearest_distance_matches_brute_force(M, N, Z, seed):
    # Z up to 16 takes both searches: the k-d tree (Z <= TREE_MAX_Z) and the matrix one
    rng = np.random.default_rng(seed)
    q, c = rng.standard_normal((M, Z)), rng.standard_normal((N, Z))
    np.testing.assert_allclose(holes.nearest_distance(q, c), brute_force(q, c), atol=1e-9)
    np.testing.assert_allclose(holes.nearest_distance_brute(q, c, chunk=7), brute_force(q, c), atol=1e-9)


@pytest.mark.parametrize("Z", [2, holes.TREE_MAX_Z, holes.TREE_MAX_Z + 1])
def test_the_k_d_tree_finds_the_same_nearest_codes_as_the_brute_force_search(Z):
    # clustered codes with exact duplicates, the case a code's "nearest other code" is at 0;
    # queries both among and far from the codes.  The two searches differ only in rounding:
    # the brute force takes sqrt(|q|^2 + |c|^2 - 2 q.c), which loses about 1e-8 near 0
    rng = np.random.default_rng(Z)
    centres = 4 * rng.standard_normal((20, Z))
    codes = (centres[rng.integers(0, 20, 3000)] + 0.1 * rng.standard_normal((3000, Z)))
    codes[1000:1050] = codes[:50]                                   # 50 duplicated codes
    queries = np.concatenate([codes[:500] + 0.01 * rng.standard_normal((500, Z)),
                              6 * rng.standard_normal((500, Z))])
    np.testing.assert_allclose(holes.nearest_distance(queries, codes),
                               holes.nearest_distance_brute(queries, codes), atol=1e-6)
    self_tree = holes.nearest_distance(codes, codes, exclude_self=True)
    np.testing.assert_allclose(self_tree, holes.nearest_distance_brute(codes, codes, exclude_self=True), atol=1e-6)
    assert np.all(self_tree[:50] < 1e-6) and np.all(self_tree[1000:1050] < 1e-6)   # each duplicate finds its twin
    assert holes.hole_radius(codes) == pytest.approx(
        np.percentile(holes.nearest_distance_brute(codes, codes, exclude_self=True), holes.PERCENTILE), abs=1e-6)


def test_codes_that_fill_a_gaussian_blob_score_about_one_percent():
    # codes and prior draws from the same distribution: a draw is about as far from its
    # nearest code as a code is from its nearest neighbour, so ~1% exceed the 99th percentile
    rng = np.random.default_rng(0)
    scores = [holes.hole_score(rng.standard_normal((2000, 2)), rng.standard_normal((5000, 2)))
              for _ in range(5)]
    assert 0.003 < np.mean(scores) < 0.03, scores


def test_codes_in_tight_separated_clusters_score_high():
    rng = np.random.default_rng(1)
    centres = np.array([[-3.0, -3.0], [3.0, -3.0], [0.0, 3.0], [-3.0, 3.0], [3.0, 3.0]])
    codes = (centres[:, None, :] + 0.05 * rng.standard_normal((5, 400, 2))).reshape(-1, 2)
    fitted = rng.multivariate_normal(codes.mean(0), np.cov(codes.T), 5000)    # the AE's "prior"
    assert holes.hole_score(codes, fitted) > 0.9


def test_the_score_does_not_change_when_the_latent_space_is_moved_rotated_or_scaled():
    rng = np.random.default_rng(2)
    codes = np.concatenate([rng.normal(-2, 0.3, (300, 2)), rng.normal(2, 0.3, (300, 2))])
    z = rng.standard_normal((2000, 2)) * 2
    angle = 0.7
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    before = holes.hole_score(codes, z)
    after = holes.hole_score(3.0 * codes @ R.T + 5.0, 3.0 * z @ R.T + 5.0)
    assert before == pytest.approx(after, abs=1e-12)


def test_draw_prior_has_the_asked_mean_and_covariance():
    rng = np.random.default_rng(3)
    mean, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.6], [0.6, 0.5]])
    z = holes.draw_prior(mean, cov, 100_000, rng)
    np.testing.assert_allclose(z.mean(0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(z.T), cov, atol=0.03)


def test_the_hole_radius_needs_two_codes():
    with pytest.raises(ValueError):
        holes.hole_radius(np.zeros((1, 2)))


# --- on models ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_pair():
    """A 2-D AE and a 2-D VAE trained the same way on the digits (the settings of lesson 02)."""
    ds = load("digits")
    ae = Autoencoder(ds.D, (128,), 2, likelihood="bernoulli", rng=np.random.default_rng(0))
    vae = VAE(ds.D, (128,), 2, rng=np.random.default_rng(0))
    for model in (ae, vae):
        fit(model, ds.x_train, 10, batch_size=32, lr=3e-3)
    return ae, vae, ds


def test_an_ae_has_clearly_more_holes_than_a_vae_trained_the_same_way(trained_pair):
    ae, vae, ds = trained_pair
    s_ae = holes.model_hole_score(ae, ds.x_train).score
    s_vae = holes.model_hole_score(vae, ds.x_train).score
    assert s_ae > 2 * s_vae, (s_ae, s_vae)
    assert s_vae < 0.05


def test_the_vae_is_scored_against_its_prior_and_the_ae_against_a_fitted_gaussian(trained_pair):
    ae, vae, ds = trained_pair
    r_vae = holes.model_hole_score(vae, ds.x_train, n=100)
    np.testing.assert_array_equal(r_vae.mean, 0.0)
    np.testing.assert_array_equal(r_vae.cov, np.eye(2))
    r_ae = holes.model_hole_score(ae, ds.x_train, n=100)
    codes = np.asarray(ae.encode(ds.x_train), np.float64)
    np.testing.assert_allclose(r_ae.codes, codes)
    np.testing.assert_allclose(r_ae.mean, codes.mean(0))
    np.testing.assert_allclose(r_ae.cov, np.cov(codes.T))


def test_a_vaes_codes_are_draws_from_q_not_its_means(trained_pair):
    _, vae, ds = trained_pair
    x = ds.x_train[:2000]
    codes = holes.training_codes(vae, x, np.random.default_rng(0))
    mu, logvar = (np.asarray(a, np.float64) for a in vae.encode(x))
    standardised = (codes - mu) / np.exp(0.5 * logvar)          # should be eps ~ N(0, I)
    assert abs(standardised.mean()) < 0.1 and abs(standardised.std() - 1) < 0.1


def test_holes_map_marks_exactly_the_cells_farther_than_r_from_every_code(trained_pair):
    ae, _, ds = trained_pair
    hm = holes.holes_map(ae, ds.x_train, bins=30, n_decoded=4)
    assert hm.density.shape == hm.hole.shape == hm.prior_radius.shape == (30, 30)
    G1, G2 = np.meshgrid(hm.z1, hm.z2)
    d = holes.nearest_distance(np.stack([G1.ravel(), G2.ravel()], 1), hm.codes).reshape(30, 30)
    np.testing.assert_array_equal(hm.hole, d > hm.radius)
    assert 0 < len(hm.picks) <= 4 and hm.decoded.shape == (len(hm.picks), ds.D)
    # every pick lies in a hole
    assert np.all(holes.nearest_distance(hm.picks, hm.codes) > hm.radius)
    # the histogram of an AE's codes integrates to the share of codes inside the grid
    h1, h2 = hm.z1[1] - hm.z1[0], hm.z2[1] - hm.z2[0]
    assert 0.9 < hm.density.sum() * h1 * h2 <= 1.0 + 1e-9


def test_the_vaes_aggregate_posterior_integrates_to_about_one(trained_pair):
    _, vae, ds = trained_pair
    hm = holes.holes_map(vae, ds.x_train[:300], bins=80, extent=(-5, 5, -5, 5))
    assert hm.density.sum() * (10 / 80) ** 2 == pytest.approx(1.0, abs=0.01)


def test_holes_map_needs_a_2d_latent():
    with pytest.raises(ValueError):
        holes.holes_map(VAE(6, (4,), 3, rng=np.random.default_rng(0)), np.zeros((5, 6)))


def test_the_vaes_aggregate_posterior_is_the_mean_of_its_gaussians_at_every_cell(trained_pair):
    # the density map sums the kernels as a matrix product; here, each cell one kernel at a time
    _, vae, ds = trained_pair
    x = ds.x_train[:200]
    z1, z2 = np.linspace(-3, 3, 7), np.linspace(-2, 2.5, 5)
    fast = holes.aggregate_density(vae, x, z1, z2, codes=None, chunk=33)       # (5, 7)
    mu, logvar = (np.asarray(a, np.float64) for a in vae.encode(x))
    var = np.exp(logvar)                                                      # (N, 2)
    slow = np.array([[np.mean(np.exp(-0.5 * ((a - mu[:, 0]) ** 2 / var[:, 0] + (b - mu[:, 1]) ** 2 / var[:, 1]))
                              / (2 * np.pi * np.sqrt(var[:, 0] * var[:, 1]))) for a in z1] for b in z2])
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-300)
