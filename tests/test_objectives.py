"""The beta-VAE's three forms, warm-up and capacity: schedules, gradients, and the KL they reach."""
import numpy as np
import pytest

from tinyvae import cli, runs
from tinyvae.gradcheck import check_model
from tinyvae.models import VAE, Loss
from tinyvae.objectives import Capacity, FixedBeta, KLTarget, elbo, lagrangian


def small_vae(seed=0):
    rng = np.random.default_rng(seed)
    return VAE(10, (6,), 3, rng=rng, dtype=np.float64), rng.uniform(0, 1, (4, 10)), rng.standard_normal((4, 3))


def test_warmup_ramps_beta_linearly_to_its_value():
    model, objective = small_vae()[0], FixedBeta(4.0, warmup_steps=4)
    betas = []
    for t in range(6):
        objective.before_step(model, t)
        betas.append(model.beta)
    assert betas == [1.0, 2.0, 3.0, 4.0, 4.0, 4.0]


def test_dual_ascent_raises_beta_while_kl_exceeds_delta_and_lowers_it_not_below_zero():
    objective = KLTarget(delta=5.0, eta=0.1, beta=1.0)
    objective.after_step(Loss(recon=0.0, kl=8.0, kl_weight=1.0, total=0.0))      # KL > delta
    assert objective.beta == pytest.approx(1.3)                              # 1 + 0.1 (8 - 5)
    objective.after_step(Loss(recon=0.0, kl=0.0, kl_weight=1.0, total=0.0))      # KL < delta
    assert objective.beta == pytest.approx(0.8)
    for _ in range(10):
        objective.after_step(Loss(recon=0.0, kl=0.0, kl_weight=1.0, total=0.0))
    assert objective.beta == 0.0


def test_capacity_is_annealed_linearly_from_zero():
    objective, model = Capacity(10.0, steps=100, gamma=50.0), small_vae()[0]
    assert [objective.capacity_at(t) for t in (0, 50, 100, 1000)] == [0.0, 5.0, 10.0, 10.0]
    objective.before_step(model, 25)
    assert model.capacity == 2.5 and model.gamma == 50.0


def test_capacity_loss_is_recon_plus_gamma_times_the_kl_gap():
    model, x, eps = small_vae()
    plain = model.loss_and_grad(x, eps=eps)
    for C in (0.0, plain.kl + 3.0):
        model.capacity, model.gamma = C, 7.0
        loss = model.loss_and_grad(x, eps=eps)
        assert loss.total == pytest.approx(plain.recon + 7.0 * abs(plain.kl - C))
        assert loss.kl_weight == pytest.approx(7.0 * np.sign(plain.kl - C))
        assert check_model(model, x, eps=eps) < 1e-6


def test_the_lagrangian_with_a_fixed_multiplier_is_the_beta_vae_loss_up_to_a_constant():
    # F = E log p(x|z) - beta (KL - delta) = -(L_beta-VAE) + beta * delta
    model, x, eps = small_vae()
    model.beta = 2.5
    loss = model.loss_and_grad(x, eps=eps)
    delta = 4.0
    F = lagrangian(-loss.recon, loss.kl, model.beta, delta)
    assert F == pytest.approx(-loss.recon - 2.5 * (loss.kl - 4.0))         # the lecture's formula, by hand
    assert F == pytest.approx(-loss.total + model.beta * delta)
    assert F >= -loss.recon - model.beta * loss.kl                         # the slide's lower bound


def test_the_elbo_is_the_expected_log_likelihood_minus_the_kl_and_the_vae_loss_is_its_negative():
    model, x, eps = small_vae()
    loss = model.loss_and_grad(x, eps=eps)                                 # beta = 1: the VAE
    assert elbo(-loss.recon, loss.kl) == -loss.recon - loss.kl == loss.elbo
    assert loss.total == pytest.approx(-loss.elbo)
    np.testing.assert_array_equal(elbo(np.array([-3.0, -5.0]), np.array([1.0, 0.5])), [-4.0, -5.5])


def test_kl_target_6_on_digits_lands_within_one_nat(tmp_path, capsys):
    out = tmp_path / "kl6"
    assert cli.main(["train", "--latent", "10", "--kl-target", "6", "--out", str(out)]) == 0
    rows = runs.read_metrics(out)
    assert abs(rows[-1]["test_kl"] - 6.0) < 1.0
    assert rows[-1]["kl_weight"] != rows[0]["kl_weight"]                   # beta really moved
    # the Lagrangian F = E log p(x|z) - beta (KL - delta) is reported, with beta as the epoch left it
    beta = runs.load_checkpoint(out)[1]["objective"]["beta"]
    last = rows[-1]
    assert last["train_lagrangian"] == pytest.approx(-last["train_recon"] - beta * (last["train_kl"] - 6.0))


def test_capacity_flags_steer_the_kl_towards_c(tmp_path, capsys):
    out = tmp_path / "cap"
    assert cli.main(["train", "--latent", "10", "--hidden", "64", "--epochs", "40", "--capacity", "4",
                     "--capacity-steps", "200", "--gamma", "50", "--out", str(out)]) == 0
    assert abs(runs.read_metrics(out)[-1]["train_kl"] - 4.0) < 1.0


def test_warmup_flag_logs_the_ramped_beta(tmp_path, capsys):
    out = tmp_path / "warm"
    assert cli.main(["train", "--hidden", "32", "--latent", "2", "--epochs", "3", "--warmup-epochs", "3",
                     "--beta", "2", "--out", str(out)]) == 0
    betas = [r["kl_weight"] for r in runs.read_metrics(out)]
    assert betas[0] < betas[1] < betas[2] <= 2.0
