"""Training on the importance-weighted bound (tinyvae/iwae.py, ``tinyvae train --iwae K``).

What each group proves: the hand-written gradient equals central differences (and a planted
mistake does not); K = 1 is the VAE's own step; the estimate trained on and Burda et al.'s have
the same expectation, in value and in gradient; the K draws run as one decoder batch; the flag is
refused where it makes no sense, on the real command; and a run resumes bit for bit.
"""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from subprocess_cli import TINY, tinyvae
from tinyvae import gradcheck
from tinyvae.app import cli, runs
from tinyvae.app.config import TrainConfig
from tinyvae.app.training import make_objective
from tinyvae.iwae import IWAE, iw_bound, jensen_gap, log_prior_ratio, normalized_weights
from tinyvae.losses import log_normal
from tinyvae.models import VAE
from tinyvae.objectives import FixedBeta
from tinyvae.train import Trainer


def small_vae(rng, likelihood="bernoulli", dtype=np.float64, D=10, Z=3):
    return VAE(D, (7, 6), Z, likelihood=likelihood, sigma=0.5, rng=rng, dtype=dtype)


# --- the gradient, against central differences ---------------------------------------------------
@settings(deadline=None, max_examples=12)
@given(K=st.integers(1, 6), N=st.integers(1, 5), Z=st.integers(1, 3), analytic=st.booleans(),
       likelihood=st.sampled_from(["bernoulli", "gaussian"]), seed=st.integers(0, 2 ** 32 - 1))
def test_iwae_gradient_matches_central_differences(K, N, Z, analytic, likelihood, seed):
    rng = np.random.default_rng(seed)
    model = small_vae(rng, likelihood, Z=Z)
    x, eps = rng.uniform(0, 1, (N, 10)), rng.standard_normal((K, N, Z))
    # a whole model in float64 with eps fixed: STYLE's 1e-6 (a correct gradient scores about 1e-9)
    assert gradcheck.check_iwae(model, IWAE(K, analytic_kl=analytic), x, eps) <= gradcheck.TOLERANCE


class WithoutDirectPath(IWAE):
    """A planted mistake: the direct path through log q (at fixed z) left out of the backward."""

    def backward(self, model):
        super().backward(model)
        h, eps, std, z, w_tilde, *_ = self._cache
        K, N, Z = eps.shape
        dr = (-((w_tilde - 1.0 / K) / N))[..., None]            # as IWAE.backward's, analytic KL
        dh = np.empty_like(h)                                     # minus path 3's share of [dmu | dlogvar]
        dh[:, :Z] = -np.sum(dr * (-eps / std), axis=0)
        dh[:, Z:] = -np.sum(dr * (0.5 - 0.5 * eps * eps), axis=0)
        model.encoder.backward(dh, need_dx=False)                # adds into model.grad


def test_a_gradient_without_the_direct_path_through_log_q_is_caught():
    rng = np.random.default_rng(1)
    model = small_vae(rng)
    x, eps = rng.uniform(0, 1, (4, 10)), rng.standard_normal((5, 4, 3))
    assert gradcheck.check_iwae(model, IWAE(5), x, eps) <= gradcheck.TOLERANCE
    assert gradcheck.check_iwae(model, WithoutDirectPath(5), x, eps) > 1e-3


# --- K = 1 is the VAE ------------------------------------------------------------------------------
def test_k_1_is_the_vaes_step_the_gradient_bit_for_bit_and_the_loss_to_float32_rounding():
    rng = np.random.default_rng(2)
    D = 64
    model = small_vae(rng, dtype=np.float32, D=D)
    x = rng.uniform(0, 1, (32, D)).astype(np.float32)
    eps = rng.standard_normal((32, 3)).astype(np.float32)
    vae = model.loss_and_grad(x, eps=eps)
    vae_grad = model.grad.copy()
    objective = IWAE(1)
    iw = objective.forward(model, x, eps=eps[None])
    objective.backward(model)
    # the same decoder gradient (w~ = 1, the same sigmoid form), and the zero weight w~ - 1/K = 0 of
    # the sampled prior and q terms adds exact zeros: the same bits
    np.testing.assert_array_equal(model.grad, vae_grad)
    # the loss: the VAE's fused Bernoulli NLL and log_px_z's log1p form of the same D N terms, each
    # rounded to a few float32 ulps (u = 6e-8); their sums differ by at most about D u of the total
    assert iw.total == pytest.approx(vae.total, rel=D * 6e-8, abs=0)
    assert iw.kl == vae.kl and iw.kl_weight == 1.0
    assert iw.recon == pytest.approx(vae.recon, rel=D * 6e-8, abs=0)


def test_k_1_trains_the_same_parameters_as_the_vae():
    x = np.random.default_rng(3).uniform(0, 1, (40, 12)).astype(np.float32)
    thetas = []
    for objective in (FixedBeta(1.0), IWAE(1)):
        model = VAE(12, (8,), 3, rng=np.random.default_rng(4))
        trainer = Trainer(model, np.random.default_rng(5), batch_size=8, objective=objective)
        for _ in range(2):
            trainer.train_epoch(x)
        thetas.append(model.theta.copy())
    # the same eps (K = 1 draws (1, N, Z) from the same Generator) and the same gradient bits
    np.testing.assert_array_equal(thetas[0], thetas[1])


# --- the estimate trained on: the same expectation as Burda et al.'s ------------------------------
@pytest.mark.slow
def test_the_trained_estimate_and_burdas_have_the_same_mean_value_and_gradient():
    rng = np.random.default_rng(6)
    model = small_vae(rng)
    x, K, R = rng.uniform(0, 1, (3, 10)), 4, 3000
    values, grads = {True: [], False: []}, {True: [], False: []}
    for _ in range(R):
        eps = rng.standard_normal((K, 3, 3))
        for analytic in (True, False):
            objective = IWAE(K, analytic_kl=analytic)
            values[analytic].append(objective.forward(model, x, eps=eps).total)
            objective.backward(model)
            grads[analytic].append(model.grad.copy())
    # per draw the two differ by KL + (1/K) sum_k r_k, whose expectation is 0 (E_q[r] = -KL) and whose
    # gradient's expectation is 0 too; the mean difference over R draws is within 5 of its standard
    # errors (a normal tail of 6e-7 per comparison; the seed is fixed, so the test cannot flake)
    for diff in (np.array(values[True]) - np.array(values[False]),
                 np.array(grads[True]) - np.array(grads[False])):
        se = diff.std(axis=0, ddof=1) / np.sqrt(R)
        assert np.all(np.abs(diff.mean(axis=0)) <= 5 * se + 1e-12)
    # and the difference is not 0 draw by draw: the analytic KL changes the estimate, not its mean
    assert np.std(np.array(values[True]) - np.array(values[False])) > 1e-3


@pytest.mark.slow
def test_the_bound_rises_with_k_towards_log_p_x():
    # L_1 <= L_5 <= L_50, each the mean of R estimates, on one example of a small model; log p(x) by
    # L_5000 as the reference, with the K = 1 estimate's mean (the ELBO) clearly below it
    rng = np.random.default_rng(7)
    model = small_vae(rng, Z=2)
    x = rng.uniform(0, 1, (1, 10))
    means = {}
    for K, R in ((1, 4000), (5, 2000), (50, 400)):
        means[K] = np.mean([-IWAE(K).forward(model, x, eps=rng.standard_normal((K, 1, 2))).total for _ in range(R)])
    assert means[1] < means[5] < means[50]


def test_the_weights_are_a_softmax_and_the_jensen_gap_is_nonnegative_and_zero_at_k_1():
    rng = np.random.default_rng(8)
    log_w = 30 * rng.standard_normal((7, 5)) - 800              # exp(log_w) underflows to 0: still finite
    w = normalized_weights(log_w)
    np.testing.assert_allclose(w.sum(axis=0), 1.0, rtol=1e-12)
    shifted = np.exp(log_w + 500)                                 # the same weights, in exp's range
    np.testing.assert_allclose(w, shifted / shifted.sum(axis=0), rtol=1e-10)
    assert np.all(jensen_gap(log_w) >= 0)
    assert np.all(iw_bound(log_w) >= log_w.mean(axis=0))
    assert np.array_equal(jensen_gap(log_w[:1]), np.zeros(5))   # log-mean-exp of one number is itself


def test_log_prior_ratio_is_log_p_z_minus_log_q_z():
    rng = np.random.default_rng(9)
    mu, logvar, eps = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.standard_normal((6, 4, 3))
    z = mu + np.exp(0.5 * logvar) * eps
    direct = log_normal(z, np.zeros(3), np.zeros(3)) - log_normal(z, mu, logvar)       # (6, 4)
    np.testing.assert_allclose(log_prior_ratio(z, eps, logvar), direct, rtol=1e-12, atol=1e-12)


def test_the_k_draws_go_through_the_decoder_as_one_batch_of_k_n_rows():
    rng = np.random.default_rng(10)
    model = small_vae(rng, dtype=np.float32)
    shapes = []
    forward = model.decoder.forward
    model.decoder.forward = lambda z: shapes.append(z.shape) or forward(z)
    IWAE(7).forward(model, rng.uniform(0, 1, (16, 10)), rng=rng)
    assert shapes == [(7 * 16, 3)]


# --- the command: refusals, and exact resume --------------------------------------------------------
@pytest.mark.parametrize("flags, mentions", [
    (["--model", "ae", "--iwae", "5"], ["--iwae", "VAE"]),
    (["--model", "dae", "--iwae", "5"], ["--iwae", "VAE"]),
    (["--iwae", "0"], ["--iwae", "from 1"]),
    (["--iwae", "10001"], ["--iwae", "10,000"]),
    (["--iwae", "5", "--tc-weight", "6"], ["--iwae", "--tc-weight"]),
    (["--iwae", "5", "--capacity", "2"], ["--iwae", "--capacity"]),
    (["--iwae", "5", "--kl-target", "3"], ["--iwae", "--kl-target"]),
    (["--iwae", "5", "--beta", "2"], ["--beta", "--iwae"]),
    (["--iwae", "5", "--beta", "1"], ["--beta", "--iwae"]),
    (["--iwae", "5", "--warmup-epochs", "2"], ["--warmup-epochs", "--iwae"]),
])
def test_iwae_is_refused_in_one_line_where_it_makes_no_sense(tmp_path, flags, mentions):
    result = tinyvae("train", *TINY, *flags, "--epochs", "1", "--out", tmp_path / "run")
    assert result.fails_in_one_line(*mentions, code=2), result.err
    assert not (tmp_path / "run").exists()


def test_iwae_makes_the_objective_its_flags_remake_and_a_plain_run_saves_no_iwae_setting():
    cfg = TrainConfig(iwae=5).validate()
    objective = make_objective(cfg, steps_per_epoch=10, dataset_size=100)
    assert isinstance(objective, IWAE) and objective.K == 5 and objective.analytic_kl
    argv = cfg.to_argv()
    assert argv[argv.index("--iwae") + 1] == "5"
    assert cfg.to_dict()["iwae"] == 5
    # a run without it saves its settings as runs saved before --iwae existed did, and those load
    plain = TrainConfig().validate().to_dict()
    assert "iwae" not in plain and TrainConfig.from_dict(plain).iwae is None


@pytest.mark.slow
def test_iwae_run_resumes_bit_for_bit(tmp_path, capsys):
    small = ["--hidden", "32", "--latent", "2", "--batch-size", "64", "--iwae", "3"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli.main(["train", "--epochs", "4", "--out", str(straight), *small]) == 0
    assert cli.main(["train", "--epochs", "2", "--out", str(split), *small]) == 0
    assert cli.main(["train", "--resume", str(split), "--epochs", "4"]) == 0
    a, _ = runs.load_checkpoint(straight)
    b, meta = runs.load_checkpoint(split)
    assert meta["epoch"] == 4 and meta["config"]["iwae"] == 3
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    rows_a, rows_b = runs.read_metrics(straight), runs.read_metrics(split)
    assert [r["train_objective"] for r in rows_a] == [r["train_objective"] for r in rows_b]
    # the objective is -L_3's estimate, at most the -ELBO of the same draws (the Jensen gap >= 0)
    assert all(r["train_objective"] <= r["train_loss"] for r in rows_a)
    assert json.loads((straight / "config.json").read_text())["iwae"] == 3
