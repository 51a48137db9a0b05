"""Layers: each backward pass against float64 central differences, and the layer contract."""
import copy

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from tinyvae.gradcheck import check_layer, rel_error
from tinyvae.layers import Linear, ReLU, Sigmoid, flatten_parameters, mlp, sigmoid

LAYER_TOL = 1e-7
sizes = st.integers(1, 9)
seeds = st.integers(0, 2**32 - 1)


def off_kink(rng, shape, margin=0.05):
    """Inputs at least ``margin`` away from ReLU's kink at 0."""
    return rng.uniform(margin, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


@settings(deadline=None, max_examples=30)
@given(N=sizes, D_in=sizes, D_out=sizes, seed=seeds)
def test_linear_gradients_match_central_differences(N, D_in, D_out, seed):
    rng = np.random.default_rng(seed)
    errors = check_layer(Linear(D_in, D_out, rng, np.float64), rng.standard_normal((N, D_in)), rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < LAYER_TOL, errors


@settings(deadline=None, max_examples=30)
@given(N=sizes, D=sizes, seed=seeds)
def test_relu_gradient_matches_central_differences_off_the_kink(N, D, seed):
    rng = np.random.default_rng(seed)
    assert check_layer(ReLU(), off_kink(rng, (N, D)), rng)["x"] < LAYER_TOL


# --- Sigmoid: what central differences can resolve, in saturation too -------------------------
# check_layer differentiates f(x) = sum(s(x) * G) (n = x.size terms, G the random upstream
# gradient) one entry at a time, numeric_i = (f(x + h e_i) - f(x - h e_i)) / 2h, against
# analytic_i = G_i s_i (1 - s_i), and divides the largest gap by max(|a| + |b|) ~ 2M, where
# M = max_i |G_i s_i (1 - s_i)|.  Two errors separate a correct backward from the numbers:
#  * truncation: (h^2 / 6) G_i s'''(xi) with |xi - x_i| <= h, and |s'''| = s' |1 - 6 s'| <= s'
#    (s' <= 1/4), so at most h^2 / 12 = 8e-10 relative at h = 1e-4: LAYER_TOL covers it 100x.
#  * rounding: each float64 f is off by at most (n + 10) u S, S = sum_j |G_j s_j|, u = 1.1e-16
#    ((n - 1) u for a sum in any order, 1 u per product, 10 u for s = e / (1 + e) with exp
#    within 4 ulps), so numeric_i is off by (n + 10) u S / h: relative (n + 10) u S / (2 h M).
# While some x_i is near 0, S / M is at most a few n, and this is a few 1e-9 or less.  In
# saturation it is not: s' ~ e^-|x| is tiny while s ~ 1 keeps S large.  One entry at x = 16
# (scale 8, two sigma) has S / M = 1 / (1 - s) = 8.9e6, and a rounding error of up to
# 11 * 1.1e-16 * 8.9e6 / 2e-4 = 5e-5; a fixed 1e-7 failed a correct backward on 913 of 20,000
# seeds of N = D = 1 at scale 8.  No step h cures that: truncation caps h near 1e-3, where
# rounding is still 5e-6.  So a correct Sigmoid is held to LAYER_TOL plus the rounding bound
# for its own x and G: within a few 1e-9 of LAYER_TOL wherever the derivative is resolvable,
# larger only where float64 cannot resolve s' by differencing s at all.
SIGMOID_H = 1e-4
U = np.finfo(np.float64).eps / 2                    # unit roundoff of float64, 1.1e-16


def sigmoid_check_tolerance(x, G, h=SIGMOID_H):
    """The relative error check_layer may show for a correct Sigmoid at ``x`` under upstream ``G``."""
    s = sigmoid(x)
    M = np.max(np.abs(G * s * (1 - s)))                # the largest true gradient entry
    S = np.sum(np.abs(G * s))                          # the size of the sum f that is differenced
    rounding = (x.size + 10) * U * S / h               # absolute, in any entry of the numeric dx
    return LAYER_TOL + rounding / max(1e-8, 2 * M - rounding)   # rel_error divides by >= 2M - gap


def sigmoid_check(layer, N, D, seed, scale, h=SIGMOID_H):
    """check_layer's relative error for ``layer`` at x = scale * N(0, 1) of shape (N, D), and the
    tolerance a correct Sigmoid earns there (the loop over 20,000 seeds calls this too)."""
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal((N, D))
    G = copy.deepcopy(rng).standard_normal((N, D))     # the upstream gradient check_layer draws first
    return check_layer(layer, x, rng, h=h)["x"], sigmoid_check_tolerance(x, G, h)


@settings(deadline=None, max_examples=30)
@given(N=sizes, D=sizes, seed=seeds, scale=st.floats(0.1, 8.0))
def test_sigmoid_gradient_matches_central_differences(N, D, seed, scale):
    err, tol = sigmoid_check(Sigmoid(), N, D, seed, scale)
    assert err <= tol, (err, tol)


class SigmoidForgetsOneMinusS(Sigmoid):
    def backward(self, dout):
        return dout * self.out                         # the planted bug: s instead of s (1 - s)


class SigmoidOffByOnePartInAMillion(Sigmoid):
    def backward(self, dout):
        return dout * self.out * (1 - self.out) * (1 + 1e-6)


def test_the_sigmoid_check_catches_a_wrong_backward_and_stays_tight():
    # the tolerance must not swallow a real mistake: a backward without (1 - s) is off by O(1)
    # wherever s is not tiny, and is caught at every scale the property test draws ...
    for seed in range(10):
        for scale in (0.1, 1.0, 8.0):
            err, tol = sigmoid_check(SigmoidForgetsOneMinusS(), 4, 4, seed, scale)
            assert err > tol, (seed, scale, err, tol)
    # ... and off the saturated tails it stays at the layer standard: a slip of one part in a
    # million (5e-7 in rel_error) is caught, which a tolerance padded to 1e-6 would let through
    for seed in range(10):
        err, tol = sigmoid_check(SigmoidOffByOnePartInAMillion(), 4, 4, seed, 1.0)
        assert tol < 1.1 * LAYER_TOL and err > tol, (seed, err, tol)


@settings(deadline=None, max_examples=20)
@given(N=sizes, D=sizes, H=sizes, seed=seeds)
def test_sequential_mlp_gradients_match_central_differences(N, D, H, seed):
    rng = np.random.default_rng(seed)
    net = mlp([D, H, H, 3], rng, np.float64)
    x = rng.standard_normal((N, D))
    net.forward(x)
    pre = [prev.x @ prev.params["W"] + prev.params["b"]              # each ReLU's input
           for prev, layer in zip(net.layers, net.layers[1:]) if isinstance(layer, ReLU)]
    assume(min(np.min(np.abs(p)) for p in pre) > 1e-4)   # off the kinks, where it is differentiable
    # and with a dx well above the central difference's rounding error (about 1e-16 |f| / h),
    # which a net with most ReLUs off can fall to: then no relative error can be small
    before = rng.bit_generator.state                     # check_layer draws the same G from here
    net.forward(x)
    assume(np.max(np.abs(net.backward(rng.standard_normal((N, 3))))) > 1e-2)
    rng.bit_generator.state = before
    errors = check_layer(net, x, rng)
    assert {"x", "0.W", "0.b", "2.W", "2.b", "4.W", "4.b"} == set(errors)
    assert max(errors.values()) < LAYER_TOL, errors


def test_backward_never_writes_into_dout():
    rng = np.random.default_rng(0)
    x = off_kink(rng, (4, 5))
    for layer in [Linear(5, 5, rng, np.float64), ReLU(), Sigmoid(), mlp([5, 6, 5], rng, np.float64)]:
        layer.forward(x)
        dout = rng.standard_normal((4, 5))
        before = dout.copy()
        layer.backward(dout)
        assert np.array_equal(dout, before), type(layer).__name__


def test_params_and_grads_share_names_and_shapes():
    net = mlp([6, 4, 2], np.random.default_rng(0))
    assert net.params.keys() == net.grads.keys()
    for k in net.params:
        assert net.params[k].shape == net.grads[k].shape


def test_linear_initialisation_is_uniform_within_one_over_sqrt_fan_in():
    W = Linear(400, 300, np.random.default_rng(0)).params["W"]
    bound = 1 / np.sqrt(400)
    assert np.abs(W).max() <= bound
    # U(-a, a) has variance a^2 / 3
    assert abs(W.var() - bound**2 / 3) < 0.02 * bound**2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precision_follows_the_parameters(dtype):
    net = mlp([5, 4, 3], np.random.default_rng(0), dtype)
    theta, grad = flatten_parameters([net], dtype)
    out = net.forward(np.ones((2, 5), dtype=dtype))
    assert out.dtype == dtype and theta.dtype == dtype
    assert net.backward(np.ones_like(out)).dtype == dtype and grad.dtype == dtype


def test_flattened_parameters_are_views_of_one_buffer():
    rng = np.random.default_rng(0)
    enc, dec = mlp([5, 4, 2], rng), mlp([2, 4, 5], rng)
    before = [p.copy() for p in list(enc.params.values()) + list(dec.params.values())]
    theta, grad = flatten_parameters([enc, dec], np.float32)
    assert theta.size == sum(p.size for p in before)
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in before]), theta)
    theta += 1.0                                       # an optimizer step on the buffer ...
    np.testing.assert_array_equal(enc.layers[0].params["W"], before[0] + 1.0)  # ... moves the layer
    enc.layers[0].grads["W"][...] = 7.0                # and a layer's gradient lands in the buffer
    assert np.count_nonzero(grad == 7.0) == before[0].size


def test_sigmoid_is_stable_at_extreme_inputs():
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=np.float32)
    s = sigmoid(x)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-30)
    y = np.linspace(-20, 20, 41)
    np.testing.assert_allclose(sigmoid(y), 1 / (1 + np.exp(-y)), rtol=1e-12)


def test_rel_error_is_zero_for_equal_and_near_one_for_opposite():
    a = np.array([1.0, -2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, -a) == pytest.approx(1.0)


def test_skipping_the_first_layers_dx_leaves_every_parameter_gradient_unchanged():
    rng = np.random.default_rng(4)
    net = mlp([6, 5, 3], rng, np.float64)
    x, dout = rng.standard_normal((4, 6)), rng.standard_normal((4, 3))
    net.forward(x)
    dx = net.backward(dout)
    full = {k: g.copy() for k, g in net.grads.items()}
    for g in net.grads.values():
        g.fill(0)
    assert net.backward(dout, need_dx=False) is None and dx.shape == (4, 6)
    for k in full:
        np.testing.assert_array_equal(net.grads[k], full[k])


def test_backward_adds_into_the_gradients_it_already_holds():
    # the layer contract: two backward passes leave the sum of their two gradients
    rng = np.random.default_rng(5)
    layer = Linear(7, 4, rng, np.float64)
    x, dout = rng.standard_normal((5, 7)), rng.standard_normal((5, 4))
    layer.forward(x)
    layer.backward(dout)
    once = {k: g.copy() for k, g in layer.grads.items()}
    layer.backward(dout)
    for k in ("W", "b"):
        np.testing.assert_allclose(layer.grads[k], 2 * once[k], rtol=1e-14)
    np.testing.assert_allclose(once["W"], x.T @ dout, rtol=1e-14)


def test_inplace_relu_equals_the_plain_one_and_leaves_a_caller_array_alone_when_not_inplace():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 5))
    keep = x.copy()
    plain = ReLU().forward(x)
    np.testing.assert_array_equal(x, keep)             # the default never touches its input
    y = x.copy()
    inplace = ReLU(inplace=True)
    out = inplace.forward(y)
    assert out is y and np.array_equal(out, plain)
    dout = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(inplace.backward(dout), dout * (keep > 0))
