"""The beta-VAE's three forms, warm-up and capacity: schedules, gradients, and the KL they reach."""
import numpy as np
import pytest

from tinyvae.app import cli, runs
from tinyvae.gradcheck import check_objective
from tinyvae.models import VAE, Loss
from tinyvae.objectives import Capacity, FixedBeta, KLTarget, elbo, lagrangian
from tinyvae.train import Trainer


def small_vae(seed=0):
    rng = np.random.default_rng(seed)
    return VAE(10, (6,), 3, rng=rng, dtype=np.float64), rng.uniform(0, 1, (4, 10)), rng.standard_normal((4, 3))


def test_warmup_ramps_beta_linearly_to_its_value():
    objective = FixedBeta(4.0, warmup_steps=4)
    assert [objective.beta_at(t) for t in range(6)] == [1.0, 2.0, 3.0, 4.0, 4.0, 4.0]
    # the loss of step t is the lecture's recon + beta_t KL, and its KL weight is beta_t
    assert objective.loss(10.0, 3.0, 1) == (10.0 + 2.0 * 3.0, 2.0)


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
    # at step 25, C = 2.5: a KL of 4 is 1.5 above it, so the loss adds 50 * 1.5 and the KL is pushed down
    assert objective.loss(1.0, 4.0, 25) == (1.0 + 50.0 * 1.5, 50.0)
    assert objective.loss(1.0, 2.0, 25) == (1.0 + 50.0 * 0.5, -50.0)


@pytest.mark.parametrize("above", [False, True])
def test_capacity_gradient_is_the_gradient_of_recon_plus_gamma_times_the_kl_gap(above):
    model, x, eps = small_vae()
    kl = model.forward_loss(x, eps=eps).kl
    C = kl - 1.0 if above else kl + 3.0                     # the KL above C, then below it
    objective = Capacity(C, steps=0, gamma=7.0)             # steps=0: C from the first step
    total, kl_weight = objective.loss(*model.forward(x, eps=eps), 0)
    assert kl_weight == (7.0 if above else -7.0)
    assert check_objective(model, objective, 0, x, eps=eps) < 1e-6


def test_the_objectives_never_change_the_model():
    # the trainer passes each objective's KL weight to model.backward; beta lives in the objective
    # alone, and every attribute of the model stays as it was built
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (32, 10)).astype(np.float32)
    for objective in (FixedBeta(4.0, warmup_steps=3), KLTarget(0.5, eta=0.5), Capacity(2.0, steps=5, gamma=9.0)):
        model = VAE(10, (6,), 3, rng=np.random.default_rng(1))
        settings = {k: v for k, v in vars(model).items() if isinstance(v, (int, float, str))}
        trainer = Trainer(model, rng, batch_size=8, objective=objective)
        loss, _ = trainer.train_epoch(x)
        assert loss.kl_weight != 1.0                        # the objective's weight, not the default 1
        assert not hasattr(model, "beta")
        assert {k: v for k, v in vars(model).items() if isinstance(v, (int, float, str))} == settings


def test_the_lagrangian_with_a_fixed_multiplier_is_the_beta_vae_loss_up_to_a_constant():
    # F = E log p(x|z) - beta (KL - delta) = -(L_beta-VAE) + beta * delta
    model, x, eps = small_vae()
    beta, delta = 2.5, 4.0
    loss = model.loss_and_grad(x, eps=eps, beta=beta)
    assert loss.total == pytest.approx(loss.recon + beta * loss.kl)        # the loss form, recon + beta KL
    F = lagrangian(-loss.recon, loss.kl, beta, delta)
    assert F == pytest.approx(-loss.recon - 2.5 * (loss.kl - 4.0))         # the lecture's formula, by hand
    assert F == pytest.approx(-loss.total + beta * delta)
    assert F >= -loss.recon - beta * loss.kl                               # the slide's lower bound


def test_the_elbo_is_the_expected_log_likelihood_minus_the_kl_and_the_vae_loss_is_its_negative():
    model, x, eps = small_vae()
    loss = model.loss_and_grad(x, eps=eps)                                 # beta = 1: the VAE
    assert elbo(-loss.recon, loss.kl) == -loss.recon - loss.kl == loss.elbo
    assert loss.total == pytest.approx(-loss.elbo)
    np.testing.assert_array_equal(elbo(np.array([-3.0, -5.0]), np.array([1.0, 0.5])), [-4.0, -5.5])


@pytest.mark.slow   # the full default model, 100 epochs: 2 s on a quiet 2-core machine, 45 s on a busy one
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


@pytest.mark.slow
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
