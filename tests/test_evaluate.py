"""Evaluation: the IW estimate of log p(x) against quadrature, and the bounds between them."""
import numpy as np
import pytest

from tinyvae.data import load
from tinyvae.evaluate import active_units, evaluate_vae, log_mean_exp, log_weights
from tinyvae.losses import bernoulli_log_likelihood, kl_normal_std_normal, log_normal
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
    # (elbo <= iw holds for any numbers by Jensen, so it is not checked: the quadrature is the judge)
    assert np.all(elbo < exact)                                             # the ELBO is a lower bound
    assert np.all(iw < exact + 0.02) and np.all(exact - iw < 0.15)          # K = 4000: nearly exact


def test_the_iw_bound_closes_the_gap_the_elbo_leaves(vae_2d):
    model, x = vae_2d
    exact = log_px_by_quadrature(model, x)
    lw = log_weights(model, x, K=4000, rng=np.random.default_rng(1))
    gap_elbo = exact - lw.mean(axis=0)                   # KL(q(z|x) || p(z|x)), estimated
    gap_iw = np.abs(exact - log_mean_exp(lw, axis=0))
    assert np.mean(gap_iw) < 0.5 * np.mean(gap_elbo)


def test_evaluate_vae_reports_numbers_that_independent_computations_confirm(vae_2d):
    model, x = vae_2d
    r = evaluate_vae(model, x, K=2000)
    exact_nll = -float(np.mean(log_px_by_quadrature(model, x)))
    assert abs(r["iw_nll"] - exact_nll) < 0.15                             # K = 2000: nearly exact
    assert r["neg_elbo"] - exact_nll > 0                                    # the ELBO's gap, seen by quadrature
    # the KL from the model's own encoder, through the training loss's code path
    m64 = model.astype(np.float64)
    kl, _, _ = kl_normal_std_normal(*m64.encode(x))
    assert r["kl"] == pytest.approx(kl, rel=1e-9) and sum(r["kl_per_dim"]) == pytest.approx(kl, rel=1e-9)
    # the reconstruction term, by Monte Carlo over 4,000 draws of eps (its s.e. is about 0.03 nats)
    rng = np.random.default_rng(5)
    recon = [m64.forward_loss(x, rng=rng).recon for _ in range(4000)]
    se = np.std(recon) / np.sqrt(len(recon))
    assert abs(r["recon"] - np.mean(recon)) < 5 * se + 2e-3                 # + the IW estimate's own noise


def test_log_mean_exp_is_stable_for_huge_and_tiny_values():
    a = np.array([[1000.0, -1000.0], [1000.0, -1001.0]])
    np.testing.assert_allclose(log_mean_exp(a, axis=0), [1000.0, -1000.0 + np.log((1 + np.exp(-1)) / 2)])
    assert log_mean_exp(np.array([-1e4, -1e4]), axis=0) == pytest.approx(-1e4)


def test_active_units_counts_dimensions_whose_mean_varies_across_inputs():
    rng = np.random.default_rng(0)
    mu = np.column_stack([rng.normal(0, 1, 500), rng.normal(0, 0.05, 500), np.zeros(500)])
    count, var = active_units(mu)
    assert count == 1 and var[0] > 0.5
