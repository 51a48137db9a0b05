"""Losses and the KL: gradients against central differences, and the facts the lecture states."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from tinyvae import losses
from tinyvae.gradcheck import check_kl, check_loss

LOSS_TOL = 1e-7
seeds = st.integers(0, 2**32 - 1)
shapes = st.tuples(st.integers(1, 8), st.integers(1, 10))


@settings(deadline=None, max_examples=30)
@given(shape=shapes, seed=seeds)
def test_mse_gradient_matches_central_differences(shape, seed):
    rng = np.random.default_rng(seed)
    assert check_loss(losses.mse, rng.standard_normal(shape), rng.uniform(0, 1, shape)) < LOSS_TOL


@settings(deadline=None, max_examples=30)
@given(shape=shapes, seed=seeds, sigma=st.floats(0.05, 3.0))
def test_gaussian_nll_gradient_matches_central_differences(shape, seed, sigma):
    rng = np.random.default_rng(seed)
    fn = lambda p, t: losses.gaussian_nll(p, t, sigma)   # noqa: E731
    assert check_loss(fn, rng.standard_normal(shape), rng.uniform(0, 1, shape)) < LOSS_TOL


@settings(deadline=None, max_examples=30)
@given(shape=shapes, seed=seeds, scale=st.floats(0.1, 10.0))
def test_bernoulli_nll_gradient_matches_central_differences(shape, seed, scale):
    rng = np.random.default_rng(seed)
    logits, targets = scale * rng.standard_normal(shape), rng.uniform(0, 1, shape)
    # a gradient sigmoid(logit) - target of nearly 0 everywhere is below the central
    # difference's rounding error (about 1e-16 |f| / h), so no relative error can be small
    assume(np.max(np.abs(1 / (1 + np.exp(-logits)) - targets)) > 1e-2)
    assert check_loss(losses.bernoulli_nll, logits, targets) < LOSS_TOL


@settings(deadline=None, max_examples=30)
@given(shape=shapes, seed=seeds)
def test_kl_gradients_match_central_differences(shape, seed):
    rng = np.random.default_rng(seed)
    errors = check_kl(rng.standard_normal(shape), rng.standard_normal(shape))
    assert max(errors.values()) < LOSS_TOL


def test_losses_are_summed_over_dimensions_and_averaged_over_the_batch():
    x = np.zeros((4, 3))
    x_hat = np.ones((4, 3))
    assert losses.mse(x_hat, x)[0] == pytest.approx(3.0)          # 3 dims of error 1, per example
    kl = losses.kl_normal_std_normal(np.ones((4, 3)), np.zeros((4, 3)))[0]
    assert kl == pytest.approx(1.5)                               # 3 dims * mu^2 / 2


def test_mse_is_the_gaussian_likelihood_with_variance_one_half():
    rng = np.random.default_rng(0)
    x_hat, x = rng.standard_normal((5, 7)), rng.uniform(0, 1, (5, 7))
    value, grad = losses.mse(x_hat, x)
    nll, dnll = losses.gaussian_nll(x_hat, x, sigma=np.sqrt(0.5))
    assert nll == pytest.approx(value + 0.5 * 7 * np.log(np.pi))   # a constant apart
    np.testing.assert_allclose(dnll, grad)                         # same gradient


def test_gaussian_nll_equals_minus_log_density():
    rng = np.random.default_rng(1)
    x_hat, x, s = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), 0.7
    direct = -np.sum(-0.5 * ((x - x_hat) / s) ** 2 - np.log(s * np.sqrt(2 * np.pi))) / 3
    assert losses.gaussian_nll(x_hat, x, s)[0] == pytest.approx(direct)


@pytest.mark.slow
def test_log_of_one_plus_e_is_within_five_roundings_of_log1p_wherever_the_loss_takes_it():
    # bernoulli_nll takes log(1 + e) for e = exp(-|l|) in (0, 1], where one might write
    # log1p(e) (NumPy vectorises log, not log1p, on AVX2).  In float32, 1 + e in (1, 2] is
    # rounded to within 2^-24, which the log (slope <= 1 there) passes on; its result lies in
    # (0, ln 2], where an ulp is at most 2^-24, and NumPy's vectorised float32 log is within
    # 4 ulps (3.83 for AVX2, numpy#13134; 4 for AVX-512, numpy#19478): 5 * 2^-24 in all.
    # Every 256th float32 in (0, 1] (4.2 million, subnormals to 1) and the ends themselves:
    top = int(np.float32(1).view(np.int32))
    bits = np.concatenate([np.arange(1, top, 256, dtype=np.int32), [1, top - 1, top]])
    e = bits.view(np.float32)
    a = e + np.float32(1)
    np.log(a, out=a)                                  # the loss's two steps
    err = np.abs(a.astype(np.float64) - np.log1p(e.astype(np.float64)))
    assert err.max() <= 5 * 2.0 ** -24


def test_bernoulli_nll_equals_the_cross_entropy_of_the_sigmoid():
    rng = np.random.default_rng(2)
    logits, x = rng.standard_normal((6, 5)), rng.uniform(0, 1, (6, 5))
    p = 1 / (1 + np.exp(-logits))
    plain = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p)) / 6
    value, grad = losses.bernoulli_nll(logits, x)
    assert value == pytest.approx(plain, rel=1e-12)
    np.testing.assert_allclose(grad, (p - x) / 6, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bernoulli_nll_is_finite_and_correct_at_extreme_logits(dtype):
    logits = np.array([[1e4, -1e4, 1e4, -1e4]], dtype=dtype)
    x = np.array([[1.0, 0.0, 0.0, 1.0]], dtype=dtype)
    value, grad = losses.bernoulli_nll(logits, x)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    # confident and right costs 0; confident and wrong costs |logit| nats each
    assert value == pytest.approx(2e4)
    np.testing.assert_allclose(grad, [[0.0, 0.0, 1.0, -1.0]])


def test_kl_is_never_negative():
    rng = np.random.default_rng(3)
    for _ in range(200):
        mu, logvar = rng.normal(0, 3, (4, 6)), rng.normal(0, 3, (4, 6))
        assert losses.kl_normal_std_normal(mu, logvar)[0] >= 0
        assert np.all(losses.kl_gaussians(mu, logvar, rng.normal(size=(4, 6)), rng.normal(size=(4, 6))) >= 0)


def test_kl_is_zero_only_when_q_equals_prior():
    zero = np.zeros((3, 4))
    assert losses.kl_normal_std_normal(zero, zero)[0] == 0.0
    for mu, logvar in [(1e-3, 0.0), (0.0, 1e-3), (0.0, -1e-3)]:
        assert losses.kl_normal_std_normal(zero + mu, zero + logvar)[0] > 0


def test_kl_is_not_symmetric():
    # KL(q || p) with q = N(1, 0.5^2), p = N(0, 1), against KL(p || q)
    q_mu, q_lv, p_mu, p_lv = 1.0, np.log(0.25), 0.0, 0.0
    qp = losses.kl_gaussians(q_mu, q_lv, p_mu, p_lv)
    pq = losses.kl_gaussians(p_mu, p_lv, q_mu, q_lv)
    assert qp == pytest.approx(0.5 * (0.25 + 1 - 1 - np.log(0.25)))   # closed form by hand
    assert abs(qp - pq) > 0.5


def test_monte_carlo_kl_agrees_with_the_analytic_value():
    rng = np.random.default_rng(4)
    mu, logvar = np.array([0.7, -1.2, 0.1]), np.array([-0.5, 0.8, -2.0])
    analytic = losses.kl_normal_std_normal(mu[None], logvar[None])[0]
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal((200_000, 3))
    zeros = np.zeros(3)
    log_ratio = losses.log_normal(z, mu, logvar) - losses.log_normal(z, zeros, zeros)  # log q - log p
    se = log_ratio.std() / np.sqrt(len(log_ratio))
    assert abs(log_ratio.mean() - analytic) < 4 * se


def test_kl_per_dimension_sums_to_the_kl():
    rng = np.random.default_rng(5)
    mu, logvar = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    assert losses.kl_per_dimension(mu, logvar).sum() == pytest.approx(losses.kl_normal_std_normal(mu, logvar)[0])


@settings(deadline=None, max_examples=30)
@given(shape=shapes, seed=seeds, scale=st.floats(0.1, 50.0), dtype=st.sampled_from([np.float32, np.float64]))
def test_bernoulli_nll_in_either_dtype_is_the_float64_log_likelihood(shape, seed, scale, dtype):
    # the plain form in the data's dtype against the per-example log-likelihood in float64
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal(shape)).astype(dtype)
    x = rng.uniform(0, 1, shape).astype(dtype)
    value, grad = losses.bernoulli_nll(logits, x)
    plain = -np.mean(losses.bernoulli_log_likelihood(logits.astype(np.float64), x.astype(np.float64)))
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    # float32: each of the D terms (each < 50 + 1 nats) is within a few roundings (1e-6 relative),
    # and their float32 sum adds at most log2(D) more; 1e-4 of the value or absolute is ample
    tol = 1e-10 if dtype == np.float64 else 1e-4
    assert value == pytest.approx(plain, rel=tol, abs=tol)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, (p - x) / shape[0], rtol=0, atol=10 * tol / shape[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_losses_tanh_sigmoid_is_the_layers_sigmoid(dtype):
    # bernoulli_nll's sigmoid(l) = (1 + tanh(l / 2)) / 2 against layers.sigmoid's exp(-|l|) form:
    # values in [0, 1], each within a few roundings of the exact one, so 4 eps apart at most
    from tinyvae.layers import sigmoid
    logits = np.concatenate([np.linspace(-40, 40, 2001), [-1e4, -100.0, 0.0, 100.0, 1e4]]).astype(dtype)
    np.testing.assert_allclose(losses.sigmoid(logits), sigmoid(logits), rtol=0, atol=4 * np.finfo(dtype).eps)


@settings(deadline=None, max_examples=30)
@given(shape=shapes, seed=seeds, scale=st.floats(0.1, 50.0), dtype=st.sampled_from([np.float32, np.float64]))
def test_fused_bernoulli_nll_equals_the_plain_form(shape, seed, scale, dtype):
    # the training path's one-buffer form against bernoulli_nll in the same dtype.  Their sigmoids
    # round alike ((1 + t) / 2 and 1/2 + t/2 are one rounding of one number); * (1/N) against / N
    # is two roundings of a value <= 1/N.  The losses differ in the order of their sums over
    # N D <= 80 terms (max(l, 0) summed in two halves): within 100 roundings of the terms' sizes
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal(shape)).astype(dtype)
    x = rng.uniform(0, 1, shape).astype(dtype)
    value, grad = losses.bernoulli_nll_fused(logits, x)
    want, want_grad = losses.bernoulli_nll(logits, x)
    eps = np.finfo(dtype).eps
    size = float(np.sum(np.abs(logits.astype(np.float64))) + np.log(2) * logits.size) / shape[0]
    assert abs(value - want) <= 100 * eps * size
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=4 * eps / shape[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_bernoulli_nll_is_finite_and_correct_at_extreme_logits(dtype):
    logits = np.array([[1e4, -1e4, 1e4, -1e4]], dtype=dtype)
    x = np.array([[1.0, 0.0, 0.0, 1.0]], dtype=dtype)
    value, grad = losses.bernoulli_nll_fused(logits, x)
    assert value == pytest.approx(2e4)
    np.testing.assert_allclose(grad, [[0.0, 0.0, 1.0, -1.0]])
