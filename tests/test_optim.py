"""Optimizers: the fused Adam against the textbook form, and both against known minima."""
import numpy as np
import pytest

from tinyvae.optim import SGD, Adam


def plain_adam(theta, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam exactly as Kingma & Ba write it (and torch.optim.Adam computes it)."""
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def test_fused_adam_equals_the_textbook_update():
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal(50)
    grads = [rng.standard_normal(50) * 10.0 ** rng.uniform(-6, 1) for _ in range(30)]
    theta, grad = theta0.copy(), np.zeros(50)
    opt = Adam(theta, grad, lr=1e-2)
    for g in grads:
        grad[...] = g
        opt.step()
    np.testing.assert_allclose(theta, plain_adam(theta0, grads, lr=1e-2), rtol=1e-12, atol=1e-15)


def test_fused_adam_in_float32_stays_float32_and_close():
    rng = np.random.default_rng(1)
    theta0 = rng.standard_normal(100)
    grads = [rng.standard_normal(100) for _ in range(20)]
    theta, grad = theta0.astype(np.float32), np.zeros(100, np.float32)
    opt = Adam(theta, grad)
    for g in grads:
        grad[...] = g
        opt.step()
    assert theta.dtype == opt.m_sum.dtype == opt.v_sum.dtype == np.float32
    # the step's scalars are Python floats: a NumPy float64 there would run the float32
    # vector operations as float64 loops (NumPy 2 promotion), casting every element twice
    assert all(type(c) is float for c in opt.folded_constants(opt.t))
    np.testing.assert_allclose(theta, plain_adam(theta0, grads), atol=1e-6)


@pytest.mark.parametrize("make", [lambda t, g: SGD(t, g, lr=0.1, momentum=0.9),
                                  lambda t, g: Adam(t, g, lr=0.1)])
def test_optimizers_find_the_minimum_of_a_quadratic(make):
    target = np.array([3.0, -2.0, 0.5])
    theta, grad = np.zeros(3), np.zeros(3)
    opt = make(theta, grad)
    for _ in range(500):
        grad[...] = 2 * (theta - target)             # d/dtheta ||theta - target||^2
        opt.step()
    np.testing.assert_allclose(theta, target, atol=1e-3)


def test_sgd_momentum_matches_its_definition():
    theta, grad = np.array([1.0]), np.array([0.0])
    opt = SGD(theta, grad, lr=0.1, momentum=0.5)
    grad[...] = 1.0
    opt.step()                                       # v = 1,    theta = 1 - 0.1
    opt.step()                                       # v = 1.5,  theta = 0.9 - 0.15
    np.testing.assert_allclose(theta, [0.75])


def test_optimizer_state_round_trips_for_exact_resume():
    # five steps, a state_dict into a fresh Adam, five more steps on both: bit-for-bit equal
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(8) for _ in range(10)]
    a_theta, a_grad = np.zeros(8), np.zeros(8)
    a = Adam(a_theta, a_grad)
    for g in grads[:5]:
        a_grad[...] = g
        a.step()
    b_theta, b_grad = a_theta.copy(), np.zeros(8)
    b = Adam(b_theta, b_grad)
    b.load_state_dict(a.state_dict())
    for g in grads[5:]:
        a_grad[...] = g
        b_grad[...] = g
        a.step()
        b.step()
    np.testing.assert_array_equal(a_theta, b_theta)


def test_moments_of_the_plain_form_are_the_discounted_sums_rescaled():
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal(6) for _ in range(7)]
    theta, grad = np.zeros(6), np.zeros(6)
    opt = Adam(theta, grad, b1=0.8, b2=0.9)
    m, v = np.zeros(6), np.zeros(6)
    for g in grads:
        grad[...] = g
        opt.step()
        m = 0.8 * m + 0.2 * g                        # the plain form's moments
        v = 0.9 * v + 0.1 * g * g
    np.testing.assert_allclose(opt.m, m, rtol=1e-12)
    np.testing.assert_allclose(opt.v, v, rtol=1e-12)
