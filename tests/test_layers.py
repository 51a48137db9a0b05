"""Layers: each backward pass against float64 central differences, and the layer contract."""
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


@settings(deadline=None, max_examples=30)
@given(N=sizes, D=sizes, seed=seeds, scale=st.floats(0.1, 8.0))
def test_sigmoid_gradient_matches_central_differences(N, D, seed, scale):
    rng = np.random.default_rng(seed)
    # Deep in saturation the derivative is tiny while roundoff in f stays ~1e-16 / h, so a
    # larger step (truncation error ~ h^2, relative) keeps the check meaningful there.
    assert check_layer(Sigmoid(), scale * rng.standard_normal((N, D)), rng, h=1e-4)["x"] < LAYER_TOL


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


def test_backward_adds_into_parameter_gradients():
    rng = np.random.default_rng(1)
    layer = Linear(3, 2, rng, np.float64)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x)
    layer.backward(dout)
    once = layer.grads["W"].copy()
    layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], 2 * once)
    np.testing.assert_allclose(once, x.T @ dout)


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
