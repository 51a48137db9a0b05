"""The KL decomposition (MI + TC + dimension-wise KL) and beta-TCVAE's total correlation."""
import numpy as np
import pytest

from tinyvae import gradcheck
from tinyvae.kl_decomposition import kl_decomposition, log_density_matrix, total_correlation_mws
from tinyvae.models import VAE
from tinyvae.objectives import TCVAE, FixedBeta
from tinyvae.train import Trainer

S_PER = 0.05          # the posteriors' std; neighbouring means are 1 apart, 20 stds


def known_posteriors(layout, K=4):
    """N posteriors N(mu_n, S_PER^2 I) in Z = 2 whose three KL terms are known in closed form.

    The means sit 1 apart, 20 stds: the components overlap by less than exp(-20^2 / 8), so
    q(z) is K (or K^2) separate bumps and the terms are those of the discrete index:
    * "grid": means on a K x K grid.  q(z) = q(z_1) q(z_2) exactly (an equal-weight grid of
      axis-aligned Gaussians factorises), so TC = 0, and MI = log N, N = K^2;
    * "diagonal": means (m, m), N = K.  z_1 determines z_2: TC = log N, MI = log N.
    Both: dimension-wise KL = sum_d [-(log K_d + h) + log(2 pi)/2 + E[z_d^2]/2], with K_d the
    values of latent d and h = log(2 pi e S_PER^2)/2 one bump's entropy.
    """
    values = np.arange(K) - (K - 1) / 2                           # (K,) 1 apart, centred
    if layout == "grid":
        mu = np.stack(np.meshgrid(values, values, indexing="ij"), axis=-1).reshape(-1, 2)
        tc = 0.0
    else:
        mu = np.stack([values, values], axis=1)
        tc = np.log(K)
    N = len(mu)
    h = 0.5 * np.log(2 * np.pi * np.e * S_PER ** 2)
    dimwise = sum(-(np.log(K) + h) + 0.5 * np.log(2 * np.pi) + 0.5 * (np.mean(mu[:, d] ** 2) + S_PER ** 2)
                  for d in range(2))
    return mu, np.full_like(mu, 2 * np.log(S_PER)), {"mi": np.log(N), "tc": tc, "dimwise_kl": dimwise}


@pytest.mark.parametrize("layout", ["grid", "diagonal"])
def test_the_three_terms_match_their_closed_forms_and_sum_to_the_kl(layout):
    mu, logvar, known = known_posteriors(layout)
    out = kl_decomposition(mu, logvar, np.random.default_rng(0), n_samples=4000)
    for name, value in known.items():
        # Monte Carlo error only (the pool is the whole data set, and the bumps' overlap is
        # below exp(-50)): 4 standard errors, plus 1e-9 for a term whose per-sample value is
        # constant (MI and TC are, up to the overlap, so their standard error is ~0)
        assert abs(out[name] - value) <= 4 * out[f"{name}_se"] + 1e-9, (name, out[name], value)
    # the three telescope sample by sample into log q(z|n) - log p(z): the sum is the sampled
    # KL to rounding, and the sampled KL is the analytic one within 4 standard errors
    total = out["mi"] + out["tc"] + out["dimwise_kl"]
    assert total == pytest.approx(out["kl_sampled"], abs=1e-9)
    assert abs(out["kl_sampled"] - out["kl"]) <= 4 * out["kl_sampled_se"]


def test_log_density_matrix_is_the_gaussian_log_density_of_every_pair():
    rng = np.random.default_rng(1)
    z, mu, logvar = rng.standard_normal((3, 2)), rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    a = log_density_matrix(z, mu, logvar)
    i, j, d = 2, 3, 1
    var = np.exp(logvar[j, d])
    assert a.shape == (3, 4, 2)
    assert a[i, j, d] == pytest.approx(-0.5 * np.log(2 * np.pi * var) - (z[i, d] - mu[j, d]) ** 2 / (2 * var))


def test_total_correlation_gradient_matches_central_differences_and_a_wrong_one_is_caught():
    rng = np.random.default_rng(2)
    mu, logvar = rng.standard_normal((6, 3)), 0.5 * rng.standard_normal((6, 3))
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal((6, 3))
    errors = gradcheck.check_total_correlation(z, mu, logvar, dataset_size=50)
    assert max(errors.values()) <= gradcheck.TOLERANCE, errors
    # the same comparison rejects a planted mistake: dz with the sign of (z - mu) flipped
    _, dz, _, _ = total_correlation_mws(z, mu, logvar, 50)
    numeric = gradcheck.numerical_gradient(lambda: total_correlation_mws(z, mu, logvar, 50)[0], z)
    assert gradcheck.rel_error(dz, numeric) <= gradcheck.TOLERANCE
    assert gradcheck.rel_error(-dz, numeric) > 0.1


def test_tcvae_with_weight_one_takes_the_vae_step():
    x = np.random.default_rng(3).uniform(0, 1, (16, 12))
    grads = []
    for objective in (FixedBeta(1.0), TCVAE(1.0, dataset_size=100)):
        model = VAE(12, (8,), 3, rng=np.random.default_rng(4), dtype=np.float64)
        Trainer(model, np.random.default_rng(5), batch_size=16, objective=objective).train_epoch(x)
        grads.append(model.theta.copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=0, atol=1e-12)


def test_tcvae_resumes_bit_for_bit():
    x = np.random.default_rng(6).uniform(0, 1, (40, 12)).astype(np.float32)

    def trainer():
        model = VAE(12, (8,), 3, rng=np.random.default_rng(7))
        return Trainer(model, np.random.default_rng(8), batch_size=8, objective=TCVAE(6.0, 40))

    straight = trainer()
    for _ in range(3):
        straight.train_epoch(x)
    first = trainer()
    first.train_epoch(x)
    arrays, meta = first.state()
    resumed = trainer()
    resumed.load_state(arrays, meta)
    for _ in range(2):
        resumed.train_epoch(x)
    np.testing.assert_array_equal(straight.model.theta, resumed.model.theta)


@pytest.mark.parametrize("settings, flag", [(dict(model="ae", tc_weight=6.0), "--tc-weight"),
                                            (dict(model="dae", tc_weight=6.0), "--tc-weight"),
                                            (dict(tc_weight=6.0, capacity=8.0), "--tc-weight"),
                                            (dict(tc_weight=6.0, beta=2.0), "--beta"),
                                            (dict(tc_weight=-1.0), "--tc-weight")])
def test_tc_weight_is_refused_where_no_tcvae_would_use_it(settings, flag):
    from tinyvae.app.config import TrainConfig
    from tinyvae.base.errors import UsageError
    with pytest.raises(UsageError, match=flag):
        TrainConfig(**settings).validate()


def test_tc_weight_makes_a_tcvae_run_that_its_flags_remake():
    from tinyvae.app.config import TrainConfig
    from tinyvae.app.training import make_objective
    cfg = TrainConfig(data="shapes-equal", tc_weight=6.0).validate()
    objective = make_objective(cfg, steps_per_epoch=10, dataset_size=640)
    assert isinstance(objective, TCVAE) and objective.tc_weight == 6.0 and objective.dataset_size == 640
    argv = cfg.to_argv()
    assert argv[argv.index("--tc-weight") + 1] == "6.0"
