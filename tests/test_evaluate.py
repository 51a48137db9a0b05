"""Evaluation: the IW estimate of log p(x) against quadrature, and the bounds between them."""
import numpy as np
import pytest

from tinyvae.data import load
from tinyvae.evaluate import active_units, evaluate_vae, log_mean_exp, log_weights
from tinyvae.losses import bernoulli_log_likelihood, log_normal
from tinyvae.models import VAE
from tinyvae.train import fit


@pytest.fixture(scope="module")
def vae_2d():
    """A small VAE with a 2-D latent, trained briefly on digits, and a few test digits."""
    data = load("digits")
    model = VAE(data.D, (64,), 2, rng=np.random.default_rng(0))
    fit(model, data.x_train, epochs=10, batch_size=64)
    return model, data.x_test[:8].astype(np.float64)


def log_px_by_quadrature(model, x, half_width=7.0, n=401):
    """log p(x) = log of the integral of p(x|z) p(z) dz, by the midpoint rule on a fine z grid."""
    m64 = model.astype(np.float64)
    g = np.linspace(-half_width, half_width, n)
    dz = g[1] - g[0]
    z = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)                     # (n^2, 2)
    logits = m64.decoder.forward(z)                                         # (n^2, D)
    log_pz = log_normal(z, np.zeros(2), np.zeros(2))                        # (n^2,)
    out = []
    for xi in x:
        log_joint = bernoulli_log_likelihood(logits, np.broadcast_to(xi, logits.shape)) + log_pz
        out.append(log_mean_exp(log_joint) + np.log(len(z) * dz * dz))
    return np.array(out)


def test_log_p_x_is_at_least_the_iw_bound_which_is_at_least_the_elbo(vae_2d):
    model, x = vae_2d
    exact = log_px_by_quadrature(model, x)
    lw = log_weights(model, x, K=4000, rng=np.random.default_rng(0))        # (K, N)
    elbo, iw = lw.mean(axis=0), log_mean_exp(lw, axis=0)
    assert np.all(elbo <= iw)                                               # Jensen, per example
    assert np.all(elbo < exact)                                             # the ELBO is a lower bound
    assert np.all(iw < exact + 0.02) and np.all(exact - iw < 0.15)          # K = 4000: nearly exact
    # the gap log p(x) - ELBO = KL(q(z|x) || p(z|x)) >= 0
    assert np.all(exact - elbo > 0)


def test_the_iw_bound_closes_the_gap_the_elbo_leaves(vae_2d):
    model, x = vae_2d
    exact = log_px_by_quadrature(model, x)
    lw = log_weights(model, x, K=4000, rng=np.random.default_rng(1))
    gap_elbo = exact - lw.mean(axis=0)                   # KL(q(z|x) || p(z|x)), estimated
    gap_iw = np.abs(exact - log_mean_exp(lw, axis=0))
    assert np.mean(gap_iw) < 0.5 * np.mean(gap_elbo)


def test_evaluate_vae_reports_consistent_numbers(vae_2d):
    model, x = vae_2d
    r = evaluate_vae(model, x, K=100)
    assert r["iw_nll"] <= r["neg_elbo"]
    assert r["recon"] + r["kl"] == pytest.approx(r["neg_elbo"])
    assert len(r["kl_per_dim"]) == 2 and r["kl"] >= 0


def test_log_mean_exp_is_stable_for_huge_and_tiny_values():
    a = np.array([[1000.0, -1000.0], [1000.0, -1001.0]])
    np.testing.assert_allclose(log_mean_exp(a, axis=0), [1000.0, -1000.0 + np.log((1 + np.exp(-1)) / 2)])
    assert log_mean_exp(np.array([-1e4, -1e4]), axis=0) == pytest.approx(-1e4)


def test_active_units_counts_dimensions_whose_mean_varies_across_inputs():
    rng = np.random.default_rng(0)
    mu = np.column_stack([rng.normal(0, 1, 500), rng.normal(0, 0.05, 500), np.zeros(500)])
    count, var = active_units(mu)
    assert count == 1 and var[0] > 0.5
