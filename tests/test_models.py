"""Models: whole-model gradients against central differences, and the identities between them."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from tinyvae.gradcheck import check_model, min_relu_input
from tinyvae.app.config import TrainConfig
from tinyvae.models import VAE, Autoencoder, DenoisingAutoencoder, make_model
from tinyvae.losses import mse
from tinyvae.noise import corrupt, masking

MODEL_TOL = 1e-6
seeds = st.integers(0, 2**32 - 1)


def data(rng, N, D):
    return rng.uniform(0, 1, (N, D))


def assume_off_kink(model, x, **fixed):
    model.loss_and_grad(x, **fixed)
    assume(min_relu_input(model) > 1e-4)


@settings(deadline=None, max_examples=15)
@given(N=st.integers(1, 6), D=st.integers(2, 10), H=st.integers(2, 8), Z=st.integers(1, 4),
       likelihood=st.sampled_from(["bernoulli", "gaussian"]), seed=seeds)
def test_autoencoder_parameter_gradients_match_central_differences(N, D, H, Z, likelihood, seed):
    rng = np.random.default_rng(seed)
    model, x = Autoencoder(D, (H,), Z, likelihood=likelihood, rng=rng, dtype=np.float64), data(rng, N, D)
    assume_off_kink(model, x)
    assert check_model(model, x) < MODEL_TOL


@settings(deadline=None, max_examples=15)
@given(N=st.integers(1, 6), D=st.integers(2, 10), H=st.integers(2, 8), Z=st.integers(1, 4),
       noise=st.sampled_from(["mask", "gaussian", "saltpepper"]), seed=seeds)
def test_dae_parameter_gradients_match_central_differences_with_the_corruption_fixed(N, D, H, Z, noise, seed):
    rng = np.random.default_rng(seed)
    model = DenoisingAutoencoder(D, (H,), Z, noise=noise, noise_level=0.3, rng=rng, dtype=np.float64)
    x = data(rng, N, D)
    x_tilde = model.corrupt(x, rng)
    assume_off_kink(model, x, x_tilde=x_tilde)
    assert check_model(model, x, x_tilde=x_tilde) < MODEL_TOL


@settings(deadline=None, max_examples=20)
@given(N=st.integers(1, 6), D=st.integers(2, 10), H=st.integers(2, 8), Z=st.integers(1, 4),
       likelihood=st.sampled_from(["bernoulli", "gaussian"]), beta=st.sampled_from([0.0, 0.5, 1.0, 4.0]),
       seed=seeds)
def test_vae_parameter_gradients_match_central_differences_with_eps_fixed(N, D, H, Z, likelihood, beta, seed):
    rng = np.random.default_rng(seed)
    model = VAE(D, (H, H), Z, likelihood=likelihood, sigma=0.5, rng=rng, dtype=np.float64)
    x, eps = data(rng, N, D), rng.standard_normal((N, Z))
    assume_off_kink(model, x, eps=eps)
    assert check_model(model, x, eps=eps, beta=beta) < MODEL_TOL


def vae_pair(seed=0):
    rng = np.random.default_rng(seed)
    model = VAE(12, (8,), 3, rng=rng, dtype=np.float64)
    return model, data(rng, 5, 12), rng.standard_normal((5, 3))


def test_the_vae_loss_at_beta_one_is_the_negative_elbo_written_out_by_hand():
    # -ELBO = -E_q[log p(x|z)] + KL(q || p), each term written here from the lecture's formulas
    # (a Bernoulli decoder's log-likelihood, the Gaussian KL in closed form), not from models.py
    model, x, eps = vae_pair()
    loss = model.loss_and_grad(x, eps=eps)
    h = x
    for layer in model.encoder.layers:
        h = layer.forward(h)
    mu, logvar = h[:, :3], h[:, 3:]
    z = mu + np.exp(0.5 * logvar) * eps
    for layer in model.decoder.layers:
        z = layer.forward(z)
    p = 1 / (1 + np.exp(-z))                                          # the decoder's Bernoulli means
    log_px_z = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    kl = 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=1)
    assert loss.recon == pytest.approx(-np.mean(log_px_z), rel=1e-10)
    assert loss.kl == pytest.approx(np.mean(kl), rel=1e-10)


def test_the_gradient_is_the_reconstructions_plus_beta_times_the_kls_for_every_beta():
    # beta enters only as the KL path's weight, so grad(beta) = grad(0) + beta (grad(1) - grad(0));
    # beta = 0 is the reconstruction term alone, whose gradient then owes nothing to the KL
    model, x, eps = vae_pair()
    grad = {}
    for beta in (0.0, 1.0, 4.0):
        loss = model.loss_and_grad(x, eps=eps, beta=beta)
        assert loss.kl > 0 and loss.kl_weight == beta
        grad[beta] = model.grad.copy()
    np.testing.assert_allclose(grad[4.0], grad[0.0] + 4.0 * (grad[1.0] - grad[0.0]), rtol=1e-9, atol=1e-12)
    assert check_model(model, x, eps=eps, beta=0.0) < MODEL_TOL          # and grad(0) is recon's alone
    assert not np.allclose(grad[0.0], grad[1.0])


@pytest.mark.parametrize("noise", ["mask", "gaussian", "saltpepper"])
def test_dae_with_zero_noise_equals_the_ae(noise):
    rng = np.random.default_rng(0)
    ae = Autoencoder(10, (6,), 2, rng=np.random.default_rng(1), dtype=np.float64)
    dae = DenoisingAutoencoder(10, (6,), 2, noise=noise, noise_level=0.0,
                               rng=np.random.default_rng(1), dtype=np.float64)
    x = data(rng, 4, 10)
    a, d = ae.loss_and_grad(x), dae.loss_and_grad(x, rng=rng)
    assert a == d
    np.testing.assert_array_equal(ae.grad, dae.grad)


def test_dae_scores_against_the_clean_input():
    rng = np.random.default_rng(2)
    dae = DenoisingAutoencoder(10, (6,), 2, noise="mask", noise_level=0.5, rng=rng, dtype=np.float64)
    x = data(rng, 4, 10)
    x_tilde = dae.corrupt(x, rng)
    loss = dae.loss_and_grad(x, x_tilde=x_tilde)
    x_hat = dae.decoder.forward(dae.encoder.forward(x_tilde))     # the default loss is the MSE
    assert loss.recon == pytest.approx(mse(x_hat, x)[0])
    assert loss.recon != pytest.approx(mse(dae.decoder.forward(dae.encoder.forward(x)), x)[0])


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.75])
def test_masking_zeroes_the_stated_fraction_of_pixels(rate):
    rng = np.random.default_rng(3)
    x = np.ones((200, 500), dtype=np.float32)
    n = x.size
    zeros = np.count_nonzero(masking(x, rate, rng) == 0)
    se = np.sqrt(n * rate * (1 - rate))              # binomial standard deviation
    assert abs(zeros - n * rate) < 4 * se


def test_salt_and_pepper_sets_the_stated_fraction_half_to_each_extreme():
    rng = np.random.default_rng(4)
    x = np.full((200, 500), 0.5, dtype=np.float32)
    y = corrupt(x, "saltpepper", 0.2, rng)
    n = x.size
    for value in (0.0, 1.0):
        count = np.count_nonzero(y == value)
        assert abs(count - 0.1 * n) < 4 * np.sqrt(n * 0.1 * 0.9)
    assert np.count_nonzero(y == 0.5) + np.count_nonzero(y != 0.5) == n


def test_gaussian_corruption_adds_noise_of_the_stated_sigma():
    rng = np.random.default_rng(5)
    x = np.full((300, 400), 0.5, dtype=np.float32)
    diff = corrupt(x, "gaussian", 0.3, rng) - x
    assert abs(diff.mean()) < 4 * 0.3 / np.sqrt(diff.size)
    assert abs(diff.std() - 0.3) < 0.003


def test_vae_samples_and_reconstructions_are_valid_images():
    rng = np.random.default_rng(6)
    model = VAE(16, (8,), 2, rng=rng)
    s = model.sample(7, rng)
    r = model.reconstruct(data(rng, 3, 16))
    assert s.shape == (7, 16) and r.shape == (3, 16) and s.dtype == np.float32
    assert np.all((s >= 0) & (s <= 1)) and np.all((r >= 0) & (r <= 1))
    mu, logvar = model.encode(data(rng, 3, 16))
    assert mu.shape == logvar.shape == (3, 2)


def test_randomness_comes_only_from_the_generator_passed_in():
    model, x, _ = vae_pair()
    a = model.loss_and_grad(x, rng=np.random.default_rng(9))
    b = model.loss_and_grad(x, rng=np.random.default_rng(9))
    assert a == b
    with pytest.raises(ValueError):
        model.loss_and_grad(x)


def test_astype_copies_the_parameters_into_the_new_precision():
    model = VAE(12, (8,), 3, rng=np.random.default_rng(0))
    m64 = model.astype(np.float64)
    assert m64.dtype == np.float64 and model.dtype == np.float32
    np.testing.assert_array_equal(m64.theta.astype(np.float32), model.theta)


def test_float32_training_matches_float64_closely():
    model = VAE(12, (8,), 3, rng=np.random.default_rng(0))
    m64 = model.astype(np.float64)
    rng = np.random.default_rng(1)
    x, eps = data(rng, 5, 12), rng.standard_normal((5, 3))
    a, b = model.loss_and_grad(x, eps=eps), m64.loss_and_grad(x, eps=eps)
    assert model.grad.dtype == np.float32
    assert a.total == pytest.approx(b.total, rel=1e-5)
    np.testing.assert_allclose(model.grad, m64.grad, rtol=1e-3, atol=1e-5)


def test_make_model_builds_what_the_settings_describe():
    cfg = TrainConfig(model="dae", hidden=[6, 4], latent=2, likelihood="gaussian", noise="gaussian",
                      noise_level=0.2)
    model = make_model(cfg, 10, np.random.default_rng(0))
    assert type(model) is DenoisingAutoencoder
    assert model.config() == dict(D=10, hidden=(6, 4), Z=2, likelihood="gaussian", noise="gaussian", noise_level=0.2)
    again = model.astype(np.float64)                # rebuilt from its own config()
    np.testing.assert_array_equal(again.theta, model.theta)
    assert again.config() == model.config()


def test_bad_model_arguments_are_refused():
    with pytest.raises(ValueError, match="beta"):
        VAE(4, (3,), 2).loss_and_grad(np.zeros((1, 4)), beta=-1.0)
    with pytest.raises(ValueError, match="likelihood"):
        VAE(4, (3,), 2, likelihood="poisson")
    with pytest.raises(ValueError, match="noise"):
        DenoisingAutoencoder(4, (3,), 2, noise="blur")


@pytest.mark.parametrize("make, noise", [
    (lambda: Autoencoder(10, (7,), 3, rng=np.random.default_rng(0)), set()),
    (lambda: DenoisingAutoencoder(10, (7,), 3, noise="gaussian", rng=np.random.default_rng(0)), {"x_tilde"}),
    (lambda: VAE(10, (7,), 3, rng=np.random.default_rng(0)), {"eps"}),
])
def test_forward_loss_is_loss_and_grad_without_the_backward_pass(make, noise):
    model = make()
    x = np.random.default_rng(1).random((6, 10)).astype(np.float32)
    assert set(model.draw_noise(x, np.random.default_rng(2))) == noise
    model.grad[...] = 7.0
    forward_only = model.forward_loss(x, rng=np.random.default_rng(2))
    assert (model.grad == 7.0).all()                  # no backward pass ran
    assert forward_only == model.loss_and_grad(x, rng=np.random.default_rng(2))   # the same numbers, exactly


def test_the_code_of_x_is_the_posterior_mean_for_a_vae_and_g_phi_of_x_for_an_ae():
    rng = np.random.default_rng(7)
    x = data(rng, 5, 10)
    vae = VAE(10, (6,), 3, rng=rng, dtype=np.float64)
    h = vae.encoder.forward(x)                            # (N, 2Z) = [mu | logvar]
    np.testing.assert_array_equal(vae.code(x), h[:, :3])
    for ae in (Autoencoder(10, (6,), 3, rng=rng, dtype=np.float64),
               DenoisingAutoencoder(10, (6,), 3, rng=rng, dtype=np.float64)):
        np.testing.assert_array_equal(ae.code(x), ae.encoder.forward(x))   # no corruption at use
