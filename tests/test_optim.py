"""Optimizers: Adam against Kingma & Ba's update written out here, the fused Adam (the training
path's) against Adam, a state of discounted sums loaded as moments, and all against a known minimum."""
import numpy as np
import pytest

from tinyvae.optim import SGD, Adam, FusedAdam


def plain_adam(theta, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam exactly as Kingma & Ba write it (and torch.optim.Adam computes it): theta and the
    moments m, v after every step, as new arrays."""
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta, m, v


def run(cls, theta0, grads, **hyper):
    """``cls`` stepped through ``grads`` from ``theta0``: (theta, the optimizer)."""
    theta, grad = theta0.copy(), np.zeros_like(theta0)
    opt = cls(theta, grad, **hyper)
    for g in grads:
        grad[...] = g
        opt.step()
    return theta, opt


def gradients(rng, T, P, dtype=np.float64):
    # each step on its own scale, 1e-6 to 10, so eps and the bias correction both matter
    return [(rng.standard_normal(P) * 10.0 ** rng.uniform(-6, 1)).astype(dtype) for _ in range(T)]


def test_adam_is_kingma_and_bas_update_over_many_steps():
    rng = np.random.default_rng(0)
    theta0, grads = rng.standard_normal(50), gradients(rng, 300, 50)
    theta, opt = run(Adam, theta0, grads, lr=1e-2, b1=0.8, b2=0.99)
    want, m, v = plain_adam(theta0, grads, lr=1e-2, b1=0.8, b2=0.99)
    # the same float64 operations in the same order: equal to the last bit, not merely close
    np.testing.assert_array_equal(opt.m, m)
    np.testing.assert_array_equal(opt.v, v)
    np.testing.assert_array_equal(theta, want)
    assert opt.t == 300


@pytest.mark.parametrize("cls", [Adam, FusedAdam])
def test_adam_in_float32_stays_float32_and_close_to_the_float64_update(cls):
    rng = np.random.default_rng(1)
    theta0, grads = rng.standard_normal(100), gradients(rng, 20, 100)
    theta, opt = run(cls, theta0.astype(np.float32), [g.astype(np.float32) for g in grads])
    assert theta.dtype == opt.m.dtype == opt.v.dtype == np.float32
    # each of the 20 steps moves theta (|theta| < 4) by at most 3.2 lr and rounds it once, to
    # within 2^-22 at |theta| < 4; float32 gradients and moments move each step by a relative
    # 1e-6 at most: 20 (2^-22 + 3.2e-3 * 1e-6) < 1e-5
    np.testing.assert_allclose(theta, plain_adam(theta0, grads)[0], rtol=0, atol=1e-5)


def test_fused_adam_is_adam_in_float64_over_many_steps():
    rng = np.random.default_rng(3)
    theta0, grads = rng.standard_normal(200), gradients(rng, 300, 200)
    theta, opt = run(Adam, theta0, grads, lr=1e-2)
    fused_theta, fused = run(FusedAdam, theta0, grads, lr=1e-2)
    # the sums and the folded scalars round differently from the moments: a few ulps a step,
    # which 300 steps of size <= 3.2 lr carry into theta at far below 1e-12
    np.testing.assert_allclose(fused.m, opt.m, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fused.v, opt.v, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fused_theta, theta, rtol=1e-12, atol=1e-12)


def test_fused_adams_step_scalars_are_python_floats():
    # a NumPy float64 there would run the float32 vector operations as float64 loops
    # (NumPy 2 promotion), casting every element twice
    theta, opt = run(FusedAdam, np.zeros(4, np.float32), gradients(np.random.default_rng(6), 3, 4, np.float32))
    assert theta.dtype == opt.m_sum.dtype == opt.v_sum.dtype == np.float32
    assert all(type(c) is float for c in opt.folded_constants(opt.t))


@pytest.mark.parametrize("cls", [Adam, FusedAdam])
def test_adam_state_round_trips_for_exact_resume(cls):
    # five steps, a state_dict into a fresh optimizer, five more steps on both: bit-for-bit equal
    rng = np.random.default_rng(2)
    grads = gradients(rng, 10, 8, np.float32)
    a_theta, a = run(cls, np.zeros(8, np.float32), grads[:5])
    assert set(a.state_dict()) == ({"m", "v", "t"} if cls is Adam else {"m_sum", "v_sum", "t"})
    b_theta, b_grad = a_theta.copy(), np.zeros(8, np.float32)
    b = cls(b_theta, b_grad)
    b.load_state_dict(a.state_dict())
    for g in grads[5:]:
        a.grad[...] = g
        b_grad[...] = g
        a.step()
        b.step()
    np.testing.assert_array_equal(a_theta, b_theta)


@pytest.mark.parametrize("cls", [Adam, FusedAdam])
def test_a_state_of_discounted_sums_resumes_as_the_moments(cls):
    # checkpoints hold FusedAdam's M = sum_k b1^(t-k) g_k and V = sum_k b2^(t-k) g_k^2, saved as
    # "m_sum" and "v_sum"; written out here from their definition, not from either class
    rng = np.random.default_rng(5)
    b1, b2 = 0.9, 0.999
    grads = gradients(rng, 12, 30, np.float32)
    t = 7
    M = sum(b1 ** (t - k) * g.astype(np.float64) for k, g in enumerate(grads[:t], start=1))
    V = sum(b2 ** (t - k) * g.astype(np.float64) ** 2 for k, g in enumerate(grads[:t], start=1))
    straight_theta, straight = run(cls, np.ones(30, np.float32), grads[:t])
    theta, grad = straight_theta.copy(), np.zeros(30, np.float32)
    opt = cls(theta, grad)
    opt.load_state_dict({"m_sum": M.astype(np.float32), "v_sum": V.astype(np.float32), "t": np.int64(t)})
    # (FusedAdam's m, v are (1 - b) M, (1 - b) V rounded: the same conversion as Adam's)
    # m = (1 - b1) M: the float32 sums round once when saved and twice in the conversion, and the
    # float32 moments of the straight run round three times at each of the 7 steps: within 24
    # roundings of the sum of the terms' sizes (m's terms may cancel; v's are all positive)
    assert opt.t == t
    size = (1 - b1) * sum(b1 ** (t - k) * np.abs(g) for k, g in enumerate(grads[:t], start=1))
    assert np.all(np.abs(opt.m - straight.m) <= 24 * 2.0 ** -24 * size)
    np.testing.assert_allclose(opt.v, straight.v, rtol=24 * 2.0 ** -24, atol=0)
    for g in grads[t:]:
        grad[...] = g
        straight.grad[...] = g
        opt.step()
        straight.step()
    # the 5 steps after the resume see moments within 24 roundings (1.5e-6) of the terms' sizes,
    # so each step of size < 3.2 lr = 3.2e-3 differs by < 1e-8; theta (in (0.9, 1.1)) then rounds
    # once a step in each run: 5 (2^-23 + 1e-8) < 1e-6
    np.testing.assert_allclose(theta, straight_theta, rtol=0, atol=1e-6)


@pytest.mark.parametrize("make", [lambda t, g: SGD(t, g, lr=0.1, momentum=0.9),
                                  lambda t, g: Adam(t, g, lr=0.1),
                                  lambda t, g: FusedAdam(t, g, lr=0.1)])
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


def test_adams_moments_move_to_fused_adam_and_back():
    # a state of either class loads into the other (within the rounding of the conversion)
    rng = np.random.default_rng(7)
    grads = gradients(rng, 9, 16)
    _, adam = run(Adam, np.zeros(16), grads)
    fused = FusedAdam(np.zeros(16), np.zeros(16))
    fused.load_state_dict(adam.state_dict())
    np.testing.assert_allclose(fused.m, adam.m, rtol=1e-15, atol=0)
    back = Adam(np.zeros(16), np.zeros(16))
    back.load_state_dict(fused.state_dict())
    np.testing.assert_allclose(back.v, adam.v, rtol=1e-15, atol=0)
    assert fused.t == back.t == 9
