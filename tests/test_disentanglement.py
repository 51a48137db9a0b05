"""Tests for the disentanglement metrics (tinyvae/studies/disentanglement.py).

Each metric is run on codes whose answer we know:

* a hand-computable case: latents that *are* the factors, on a full factorial grid, so
  I(z_k; v_k) = H(v_k) = log m_k exactly and every other mutual information is exactly 0;
* a disentangled code: the factors plus small noise, in a shuffled order, with extra
  latents of pure noise. Both metrics should score near 1;
* a random code, blind to the factors: MIG near 0 and FactorVAE near chance (1 / K);
* an entangled code: every latent a dense mix of every factor. MIG should be low.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvae.studies import disentanglement as dis
from tinyvae.data import shapes

SIZES = shapes.FACTOR_SIZES                                       # (3, 4, 8, 12, 6)
K = len(SIZES)


def sample_factors(rng, n, sizes=SIZES):
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)   # (n, K)


def disentangled(factors, rng, order, n_nuisance=3, noise=0.05):
    """Latent order[i] copies factor i (plus noise); the last latents are pure noise."""
    N = len(factors)
    z = np.empty((N, K + n_nuisance))
    z[:, order] = factors + noise * rng.standard_normal((N, K))
    z[:, K:] = rng.standard_normal((N, n_nuisance))
    return z                                                      # (N, K + n_nuisance)


def entangled(factors, rng):
    """Every latent a dense mix of all (standardised) factors.

    The weights are random signs times magnitudes in [0.8, 1.2], so no factor dominates
    any latent. (Gaussian weights would now and then let one factor dominate a latent,
    which is a partly disentangled code.)
    """
    v = (factors - factors.mean(axis=0)) / factors.std(axis=0)   # (N, K)
    W = rng.choice([-1.0, 1.0], (K, K)) * rng.uniform(0.8, 1.2, (K, K))
    return v @ W.T                                                # (N, K)


seeds = st.integers(0, 2 ** 32 - 1)


# --- mutual information and entropy ----------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(m=st.integers(1, 20), repeat=st.integers(1, 5))
def test_a_uniform_variable_shares_log_m_nats_with_itself(m, repeat):
    v = np.tile(np.arange(m), repeat)
    assert dis.entropy(v) == pytest.approx(np.log(m), abs=1e-12)
    assert dis.mutual_information(v, v) == pytest.approx(np.log(m), abs=1e-12)


@settings(deadline=None, max_examples=30)
@given(m=st.integers(1, 10), n=st.integers(1, 10))
def test_independent_variables_on_a_full_grid_share_no_information(m, n):
    a, b = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    assert dis.mutual_information(a.ravel(), b.ravel()) == pytest.approx(0.0, abs=1e-12)


def test_mutual_information_matches_a_hand_computed_table():
    # p(a, b) = [[1/2, 0], [1/4, 1/4]]: p(a) = (1/2, 1/2), p(b) = (3/4, 1/4), so
    # I = 1/2 log(1/2 / (3/8)) + 1/4 log(1/4 / (3/8)) + 1/4 log(1/4 / (1/8)).
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 0, 0, 1])
    expected = 0.5 * np.log(4 / 3) + 0.25 * np.log(2 / 3) + 0.25 * np.log(2)
    assert dis.mutual_information(a, b) == pytest.approx(expected, abs=1e-12)


def test_discretize_makes_equal_width_bins_and_puts_the_maximum_in_the_last_bin():
    codes = np.array([[0.0, 5.0], [0.49, 5.0], [0.5, 5.0], [9.99, 5.0], [10.0, 5.0]])
    bins = dis.discretize(codes, n_bins=20)                       # width 0.5 in column 0
    assert bins[:, 0].tolist() == [0, 0, 1, 19, 19]
    assert bins[:, 1].tolist() == [0] * 5                         # a constant latent


# --- MIG -------------------------------------------------------------------------------
@settings(deadline=None, max_examples=20)
@given(m=st.integers(2, 20), n=st.integers(2, 20))
def test_mig_is_exactly_one_when_each_latent_is_one_factor(m, n):
    v, w = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    factors = np.stack([v.ravel(), w.ravel()], axis=1)            # (m n, 2) full grid
    score, details = dis.mig(factors.astype(float), factors)
    # m, n <= n_bins, so each value gets its own bin and nothing is lost.
    assert np.allclose(details["mi"], np.diag([np.log(m), np.log(n)]), atol=1e-12)
    assert np.allclose(details["entropy"], [np.log(m), np.log(n)])
    assert score == pytest.approx(1.0, abs=1e-12)


@settings(deadline=None, max_examples=10)
@given(seed=seeds)
def test_mig_is_near_one_for_a_noisy_shuffled_copy_of_the_factors(seed):
    rng = np.random.default_rng(seed)
    factors = sample_factors(rng, 5000)
    order = rng.permutation(K)
    score, details = dis.mig(disentangled(factors, rng, order), factors)
    assert score > 0.9
    assert np.array_equal(details["best_latent"], order)         # it finds the copies


@settings(deadline=None, max_examples=10)
@given(seed=seeds)
def test_mig_is_near_zero_for_a_random_code(seed):
    rng = np.random.default_rng(seed)
    factors = sample_factors(rng, 5000)
    score, _ = dis.mig(rng.standard_normal((5000, 10)), factors)
    assert score < 0.1


@settings(deadline=None, max_examples=10)
@given(seed=seeds)
def test_mig_is_low_for_a_code_that_mixes_every_factor_into_every_latent(seed):
    rng = np.random.default_rng(seed)
    factors = sample_factors(rng, 5000)
    score, _ = dis.mig(entangled(factors, rng), factors)
    assert score < 0.1


@settings(deadline=None, max_examples=10)
@given(seed=seeds)
def test_mig_ignores_the_order_sign_and_scale_of_the_latents(seed):
    # Equal-width bins move with an affine map of a latent, so the histograms are equal.
    rng = np.random.default_rng(seed)
    factors = sample_factors(rng, 2000)
    codes = disentangled(factors, rng, rng.permutation(K), noise=0.5)
    Z = codes.shape[1]
    perm = rng.permutation(Z)
    a = rng.choice([-1.0, 1.0], Z) * rng.uniform(0.5, 4.0, Z)
    moved = (codes * a + rng.normal(size=Z))[:, perm]
    score, details = dis.mig(codes, factors)
    moved_score, moved_details = dis.mig(moved, factors)
    assert moved_score == pytest.approx(score, abs=1e-9)
    assert np.allclose(moved_details["mi"], details["mi"][perm])


def test_mig_skips_a_factor_that_never_changes():
    rng = np.random.default_rng(0)
    factors = sample_factors(rng, 3000)
    factors[:, 2] = 4                                             # rotation held fixed
    codes = disentangled(factors, rng, np.arange(K))
    score, details = dis.mig(codes, factors)
    assert details["entropy"][2] == 0 and np.isnan(details["gap"][2])
    assert score == pytest.approx(np.nanmean(details["gap"]))


def test_mig_refuses_a_single_latent_because_there_is_no_second_best():
    with pytest.raises(ValueError, match="at least 2 latent"):
        dis.mig(np.zeros((10, 1)), np.zeros((10, 2), dtype=int))


# --- the FactorVAE score ------------------------------------------------------------------
def noisy_copy(order, seed, n_nuisance=3):
    """A represent(factors) function for a disentangled code with a fixed layout."""
    rng = np.random.default_rng(seed)
    return lambda factors: disentangled(factors, rng, order, n_nuisance)


@settings(deadline=None, max_examples=10)
@given(seed=seeds)
def test_factorvae_scores_near_one_for_a_noisy_shuffled_copy_of_the_factors(seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(K)
    score, details = dis.factorvae_score(noisy_copy(order, seed), SIZES, rng)
    assert score > 0.9
    assert np.array_equal(details["classifier"][order], np.arange(K))   # latent -> factor


@settings(deadline=None, max_examples=10)
@given(seed=seeds)
def test_factorvae_is_near_chance_for_a_random_code(seed):
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng(seed + 1)
    score, _ = dis.factorvae_score(lambda f: noise.standard_normal((len(f), 10)), SIZES, rng)
    assert score < 0.5                                            # chance is 1 / K = 0.2


def test_factorvae_ignores_latents_that_have_collapsed():
    # A constant latent and a nearly constant one (std 0.01) would have the smallest
    # batch variance in every vote; pruning (std < 0.05) must leave them out.
    rng = np.random.default_rng(0)
    copy = noisy_copy(np.arange(K), seed=1)
    dead = np.random.default_rng(2)

    def represent(f):
        return np.column_stack([copy(f), np.full(len(f), 3.0),
                                0.01 * dead.standard_normal(len(f))])

    score, details = dis.factorvae_score(represent, SIZES, rng)
    assert score > 0.9
    assert details["active"].tolist() == [True] * (K + 3) + [False, False]
    assert details["votes"][K + 3:].sum() == 0


def test_factorvae_gives_the_same_score_for_the_same_seed():
    a = dis.factorvae_score(noisy_copy(np.arange(K), 5, n_nuisance=40), SIZES,
                            np.random.default_rng(7), n_train=100, n_eval=50)
    b = dis.factorvae_score(noisy_copy(np.arange(K), 5, n_nuisance=40), SIZES,
                            np.random.default_rng(7), n_train=100, n_eval=50)
    assert a[0] == b[0] and np.array_equal(a[1]["votes"], b[1]["votes"])


def test_factorvae_scores_zero_when_every_latent_has_collapsed():
    score, details = dis.factorvae_score(lambda f: np.zeros((len(f), 4)), SIZES,
                                         np.random.default_rng(0))
    assert score == 0.0 and not details["active"].any()


def test_factorvae_runs_on_rendered_shapes_through_an_image_encoder():
    # An "encoder" that reads the centre of mass and the pixel count off the image: it
    # knows x and y exactly, so the classifier must send those latents to x and y.
    def encode(images):                                           # (B, 256) -> (B, 3)
        img = images.reshape(-1, 16, 16)
        count = img.sum(axis=(1, 2))
        col = (img * np.arange(16)).sum(axis=(1, 2)) / count
        row = (img * np.arange(16)[:, None]).sum(axis=(1, 2)) / count
        return np.stack([col, row, count], axis=1)

    represent = dis.representation(encode, shapes.generate)
    score, details = dis.factorvae_score(represent, SIZES, np.random.default_rng(0),
                                         n_train=200, n_eval=100)
    x, y = shapes.FACTOR_NAMES.index("x"), shapes.FACTOR_NAMES.index("y")
    assert details["classifier"][0] == x and details["classifier"][1] == y
    assert 0.2 < score < 1.0                   # it cannot tell shape from rotation


def test_latent_labels_name_the_factor_each_latent_copies_and_nothing_for_noise():
    rng = np.random.default_rng(0)
    factors = sample_factors(rng, 5000)
    order = np.array([3, 0, 4, 1, 2])                             # factor i -> latent order[i]
    _, details = dis.mig(disentangled(factors, rng, order), factors)
    labels = dis.latent_factor_labels(details, shapes.FACTOR_NAMES)
    for i, name in enumerate(shapes.FACTOR_NAMES):
        assert labels[order[i]].startswith(name + " 0.9") or labels[order[i]] == name + " 1.00"
    assert labels[K:] == ["", "", ""]                             # the pure-noise latents


def test_latent_labels_list_every_factor_a_mixing_latent_is_best_for():
    rng = np.random.default_rng(1)
    factors = sample_factors(rng, 5000)
    codes = np.stack([factors[:, 3] * 12 + factors[:, 4], rng.standard_normal(5000)], axis=1)  # x and y in z1
    _, details = dis.mig(codes, factors)
    labels = dis.latent_factor_labels(details, shapes.FACTOR_NAMES)
    assert labels[0].split(", ")[-2:] == [n + " " + f"{g:.2f}" for n, g in
                                          zip(("x", "y"), details["gap"][3:])]
