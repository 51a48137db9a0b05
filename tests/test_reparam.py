"""The reparameterization trick: its gradient, and the statistics of the sampler it defines."""
import numpy as np
from hypothesis import given, settings, strategies as st

from tinyvae.gradcheck import check_reparameterization
from tinyvae.reparam import draw_eps, reparameterize


@settings(deadline=None, max_examples=30)
@given(N=st.integers(1, 8), Z=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_reparameterization_gradient_through_mu_and_logvar_matches_central_differences(N, Z, seed):
    rng = np.random.default_rng(seed)
    errors = check_reparameterization(rng.standard_normal((N, Z)), rng.standard_normal((N, Z)),
                                      rng.standard_normal((N, Z)), rng)
    assert max(errors.values()) < 1e-7, errors


def test_samples_have_mean_mu_and_variance_exp_logvar():
    # The check that catches a std / variance mix-up, which no gradient check can:
    # forward and backward would agree with each other and both be wrong.
    rng = np.random.default_rng(0)
    n = 100_000
    mu = np.array([0.0, 2.0, -1.5, 0.3])
    logvar = np.array([0.0, np.log(4.0), np.log(0.09), 1.5])
    z, std = reparameterize(np.tile(mu, (n, 1)), np.tile(logvar, (n, 1)),
                            draw_eps((n, 4), rng, np.float64))
    var = np.exp(logvar)
    np.testing.assert_allclose(std[0], np.sqrt(var))
    se_mean = np.sqrt(var / n)
    se_var = var * np.sqrt(2 / (n - 1))          # sd of the sample variance of a Gaussian
    assert np.all(np.abs(z.mean(0) - mu) < 4 * se_mean), (z.mean(0), mu)
    assert np.all(np.abs(z.var(0, ddof=1) - var) < 4 * se_var), (z.var(0), var)


def test_float32_eps_is_standard_normal():
    rng = np.random.default_rng(1)
    eps = draw_eps((100_000, 2), rng, np.float32)
    assert eps.dtype == np.float32
    assert np.all(np.abs(eps.mean(0)) < 4 / np.sqrt(1e5))
    assert np.all(np.abs(eps.var(0) - 1) < 4 * np.sqrt(2 / 1e5))
