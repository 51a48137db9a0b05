"""The checks of exercises 1-7, the autoencoder's half of the lecture: the layers, L_AE, Adam
and the DAE's masking.

Each ``check_*(S, R)`` grades the student's copy ``S`` against the reference ``R`` (each has
the attributes ``layers``, ``losses``, ... of the lecture), returns a one-line detail when it
passes, and raises :class:`.checks.Fail` when it does not (the grader adds the exercise's
derivation from its record in :mod:`.catalogue`, which names each check).  Only the exercise's own
function is the student's: a backward is run after the reference's forward, so that one
exercise's slip never fails another.  Tolerances and the recognised mistakes:
:mod:`.checks`.
"""
import math
import warnings

import numpy as np

from .checks import (D, H, N, Fail, agree, array, layer_differences, loss_differences, number, results,
                               same, unchanged)

f64, f32 = np.float64, np.float32


def check_linear_forward(S, R):
    rng = np.random.default_rng(1)
    layer = S.layers.Linear(D, H, rng, f64)           # the student's class; only forward is graded
    x = rng.standard_normal((N, D))
    x0 = x.copy()
    out = array("out", layer.forward(x), (N, H))
    unchanged("x", x, x0)
    want = R.layers.Linear.forward(layer, x0.copy())  # the reference's forward, on the same W and b
    err = agree("out", out, want, [("leaves out the bias b", want - layer.params["b"])])
    array("out for float32 x", S.layers.Linear(D, H, rng, f32).forward(x.astype(f32)), (N, H), f32)
    return f"out = x @ W + b: ({N}, {D}) -> ({N}, {H}), relative error {err:.0e}"


def _graded_linear(S, R):
    """The student's Linear with the reference's forward: only its backward is the student's."""
    return type("Linear", (S.layers.Linear,), {"forward": R.layers.Linear.forward})


def _linear_backward(S, R, D_in, D_out, seed):
    """The student's backward after the reference's forward, beside the reference's backward;
    both start from the same nonzero gradients, since backward adds into them."""
    rng = np.random.default_rng(seed)
    graded = _graded_linear(S, R)(D_in, D_out, rng, f64)
    ref = R.layers.Linear(D_in, D_out, rng, f64)
    for name in ref.params:
        ref.params[name][...] = graded.params[name]
    x, G = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    before = {name: rng.standard_normal(g.shape) for name, g in ref.grads.items()}
    for layer in (graded, ref):
        layer.forward(x)
        for name, g in layer.grads.items():
            g[...] = before[name]
    buffers = dict(graded.grads)
    G0 = G.copy()
    dx = graded.backward(G)
    unchanged("dout", G, G0)
    return graded, ref, x, G0, dx, ref.backward(G0.copy()), before, buffers


def check_linear_backward(S, R):
    try:
        graded, ref, x, G, dx, want_dx, before, buffers = _linear_backward(S, R, D, H, seed=2)
    except Exception as err:       # a transposed dW cannot be added into W's gradient: show it on a square W
        if _transposed_on_a_square_layer(S, R):
            raise Fail("dW is transposed: it has the shape of W, (D_in, D_out) ") from None
        raise err
    for name in ("W", "b"):
        if graded.grads[name] is not buffers[name]:
            raise Fail(f"replaced self.grads['{name}'] by a new array; add into it (+=): it is a view into the "
                       f"model's one gradient buffer")
    want = {name: ref.grads[name] - before[name] for name in before}
    got = {name: graded.grads[name] - before[name] for name in before}
    if all(same(graded.grads[k], want[k]) for k in want):
        raise Fail("overwrote the gradients; add into them (+=): the model zeroes them once, then every layer "
                   f"adds")
    agree("dW", array("dW", got["W"], (D, H)), want["W"], sizes={"N": N})
    agree("db", array("db", got["b"], (H,)), want["b"],
          [("is averaged over the batch: sum dout over its N rows (the 1/N is already in dout)", want["b"] / N)],
          sizes={"N": N})
    agree("dx", array("dx", dx, (N, D)), want_dx, sizes={"N": N})
    for g in graded.grads.values():
        g.fill(0)
    if graded.backward(G.copy(), need_dx=False) is not None:
        raise Fail("backward(dout, need_dx=False) must return None (the first layer skips dx)")
    agree("dW with need_dx=False", graded.grads["W"], want["W"])
    err = layer_differences(_graded_linear(S, R)(D, H, np.random.default_rng(4), f64), x)
    return f"dx, dW, db agree with central differences (max relative error {err:.0e}) and add into the gradients"


def _transposed_on_a_square_layer(S, R):
    """Whether the student's dW is the transpose of the reference's on a layer with D_in = D_out."""
    try:
        graded, ref, *_, before, _ = _linear_backward(S, R, H, H, seed=3)
    except Exception:
        return False
    return same(graded.grads["W"] - before["W"], (ref.grads["W"] - before["W"]).T)


def _off_kink(rng, shape):
    """Inputs at least 0.1 from ReLU's kink at 0, of either sign (as ``tinyvae gradcheck`` draws them)."""
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def check_relu(S, R):
    rng = np.random.default_rng(5)
    x = _off_kink(rng, (N, D))
    x0 = x.copy()
    layer = S.layers.ReLU()
    out = array("out", layer.forward(x), (N, D))
    unchanged("x", x, x0, "the caller (inplace is False)")
    want_out = R.layers.ReLU().forward(x0.copy())
    agree("out", out, want_out)
    G = rng.standard_normal((N, D))
    G0 = G.copy()
    dx = array("dx", layer.backward(G), (N, D))
    unchanged("dout", G, G0)
    ref = R.layers.ReLU()
    ref.forward(x0.copy())
    want = ref.backward(G0.copy())
    agree("dx", dx, want, [
        ("takes its mask from dout, the upstream gradient; the mask is where the input x > 0", G0 * (G0 > 0)),
        ("multiplies dout by the output's values; the derivative is the 0/1 mask [x > 0], not max(x, 0)",
         G0 * want_out),
        ("is the mask alone: multiply it by dout (the chain rule)", (x0 > 0).astype(f64)),
        ("passes the gradient where x < 0; ReLU passes it where x > 0", G0 * (x0 < 0))])
    inplace = S.layers.ReLU(inplace=True)
    agree("out with inplace=True", array("out", inplace.forward(x0.copy()), (N, D)), want_out)
    agree("dx after an inplace forward", inplace.backward(G0.copy()), want)
    f = S.layers.ReLU()
    array("dx for float32", (f.forward(x0.astype(f32)), f.backward(G0.astype(f32)))[1], (N, D), f32)
    err = layer_differences(S.layers.ReLU(), x0)
    return f"dx = dout where x > 0 agrees with central differences (max relative error {err:.0e})"


def check_sigmoid(S, R):
    rng = np.random.default_rng(6)
    x = 3 * rng.standard_normal((N, D))
    layer, ref = S.layers.Sigmoid(), R.layers.Sigmoid()
    s = ref.forward(x.copy())
    agree("out", array("out", layer.forward(x.copy()), (N, D)), s)
    G = rng.standard_normal((N, D))
    G0 = G.copy()
    dx = array("dx", layer.backward(G), (N, D))
    unchanged("dout", G, G0)
    agree("dx", dx, ref.backward(G0.copy()), [
        ("is dout * out: the derivative of s is s (1 - s)", G0 * s),
        ("is out * (1 - out) without dout (the chain rule)", s * (1 - s)),
        ("is dout * (1 - out): the derivative of s is s (1 - s)", G0 * (1 - s))], sizes={})
    big = np.array([[-100.0, -20.0, 0.0, 20.0, 100.0]], dtype=f32)     # float32's exp overflows beyond 88
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = array("out for float32 x", S.layers.Sigmoid().forward(big.copy()), big.shape, f32)
    if caught:
        raise Fail(f"at x = +-100 in float32, numpy warned '{caught[0].message}': exp(-x) overflows for x < -88; "
                   f"use sigmoid(x), which exponentiates only -|x|")
    agree("out at x = +-100", out, R.layers.sigmoid(big))
    err = layer_differences(S.layers.Sigmoid(), x)
    return f"out and dx = dout s (1 - s) agree (central differences: max relative error {err:.0e}), no overflow"


def check_mse(S, R):
    rng = np.random.default_rng(7)
    x_hat, x = rng.standard_normal((N, D)), rng.uniform(0, 1, (N, D))
    x_hat0 = x_hat.copy()
    loss, dx_hat = results(S.losses.mse(x_hat, x), ("loss", "dx_hat"))
    unchanged("x_hat", x_hat, x_hat0)
    want_loss, want = R.losses.mse(x_hat0, x)
    agree("the loss", number("the loss", loss), want_loss, sizes={"N": N, "D": D})
    agree("dx_hat", array("dx_hat", dx_hat, (N, D)), want, [
        ("has the wrong sign: d/dx_hat (x_hat - x)^2 = 2 (x_hat - x)", -want),
        ("misses the 2 of d/dx_hat (x_hat - x)^2 = 2 (x_hat - x)", want / 2)], sizes={"N": N, "D": D})
    array("dx_hat for float32", S.losses.mse(x_hat0.astype(f32), x.astype(f32))[1], (N, D), f32)
    err = loss_differences(S.losses.mse, x_hat0, x)
    return f"loss and dx_hat = 2 (x_hat - x) / N agree (central differences: relative error {err:.0e})"


ADAM = dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8)


def _adam_steps(cls, theta0, grads):
    """The parameter change of each step, (T, P), and the optimizer after T steps of ``cls``."""
    theta, grad = theta0.copy(), np.zeros_like(theta0)
    opt = cls(theta, grad, **ADAM)
    steps, last = [], theta0.copy()
    with np.errstate(all="ignore"):                   # a slip's nan is judged below, not warned about
        for g in grads:
            grad[...] = g
            opt.step()
            steps.append(theta - last)
            last = theta.copy()
    return np.array(steps), opt


def _adam_slip(theta0, grads, slip):
    """Adam as the derivation writes it, with one common ``slip``: the steps of theta (T, P) and
    the last m and v (P,)."""
    lr, b1, b2, eps = ADAM["lr"], ADAM["b1"], ADAM["b2"], ADAM["eps"]
    rate_m, rate_v = (b2, b1) if slip == "rates exchanged" else (b1, b2)
    theta, m, v, steps = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0), []
    for t, g in enumerate(grads, start=1):
        m = rate_m * m + (1.0 if slip == "no 1 - b1" else 1 - rate_m) * g
        v = rate_v * v + (1.0 if slip == "no 1 - b2" else 1 - rate_v) * g * g
        c1, c2 = {"no correction": (1.0, 1.0),
                  "(1 - b)^t": ((1 - b1) ** t, (1 - b2) ** t)}.get(slip, (1 - b1 ** t, 1 - b2 ** t))
        step = lr * (m / c1) / (np.sqrt(v / c2) + eps)
        steps.append((theta - step) - theta)          # rounded as the student's theta - last is
        theta = theta - step
    return np.array(steps), m, v


def check_adam(S, R):
    rng = np.random.default_rng(8)
    P, T = 11, 6
    theta0 = rng.standard_normal(P)
    grads = rng.standard_normal((T, P)) * rng.uniform(0.1, 10, P)       # each parameter on its own scale
    steps, opt = _adam_steps(S.optim.Adam, theta0, grads)
    want, ref = _adam_steps(R.optim.Adam, theta0, grads)
    if not np.any(steps):
        raise Fail("theta never changed: update it in place (theta -= ...); it is the model's own parameter "
                   "array ")
    slips = {slip: _adam_slip(theta0, grads, slip)
             for slip in ("no 1 - b1", "no 1 - b2", "rates exchanged", "no correction", "(1 - b)^t")}
    for name, mine, theirs, other, k in (("m (self.m)", opt.m, ref.m, ref.v, 1), ("v (self.v)", opt.v, ref.v, ref.m, 2)):
        if not np.any(mine):
            raise Fail(f"{name} stayed 0: assign the new moment to self.{name[0]}; a local {name[0]} is lost when "
                       f"step returns ")
        agree(name, array(name, mine, (P,)), theirs, [
            ("holds the other moment: m and v are exchanged (m is the running mean of g, v that of g^2)", other),
            (f"misses the (1 - b{k}) of {name[0]} <- b{k} {name[0]} + (1 - b{k}) g{'^2' if k == 2 else ''}: it is "
             f"the discounted sum, not the running mean", slips[f"no 1 - b{k}"][k]),
            ("decays with the other rate: b1 belongs to m, b2 to v", slips["rates exchanged"][k])])
    err = agree(f"the steps of theta over {T} updates", steps, want, [
        ("are Adam's without the bias correction: m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)",
         slips["no correction"][0]),
        ("divide by (1 - b)^t where 1 - b^t belongs: m_hat = m / (1 - b1^t)", slips["(1 - b)^t"][0])])
    return f"{T} steps of theta, m and v agree with the reference (relative error {err:.0e}), bias-corrected"


def check_masking(S, R):
    n_ex, n_px, rate = 200, 500, 0.3
    rng = np.random.default_rng(9)
    x = rng.uniform(0.1, 1.0, (n_ex, n_px)).astype(f32)         # no zeros: a 0 in x_tilde is a masked pixel
    x0 = x.copy()
    x_tilde = array("x_tilde", S.noise.masking(x, rate, np.random.default_rng(10)), x.shape, f32)
    unchanged("x", x, x0, "the caller (the clean x is the DAE's target)")
    masked = x_tilde == 0
    if not np.array_equal(x_tilde[~masked], x0[~masked]):
        raise Fail("changes the pixels it keeps; masking sets pixels to 0 and leaves the others as they are "
                   "(no 1 / (1 - rate) rescaling, unlike dropout) ")
    # the fraction masked is a mean of n Bernoulli(rate) draws: standard error sqrt(rate (1 - rate) / n);
    # 6 standard errors is a false alarm once in 5e8 gradings
    frac, se = masked.mean(), math.sqrt(rate * (1 - rate) / masked.size)
    if abs(frac - (1 - rate)) <= 6 * se:
        raise Fail(f"masks {frac:.3f} of the pixels, 1 - rate: a pixel is masked with probability rate = {rate} ")
    if abs(frac - rate) > 6 * se:
        raise Fail(f"masks {frac:.3f} of the pixels; expected rate = {rate} (+-{6 * se:.3f}) ")
    # independent pixels: the fraction masked in one row (or one column) has standard deviation
    # sqrt(rate (1 - rate) / length); one mask shared along it has sqrt(rate (1 - rate)), 16-22 times more
    for axis, length, shared in ((1, n_px, "every pixel of an example together"),
                                 (0, n_ex, "the same pixels of every example")):
        spread = masked.mean(axis=axis).std()
        if spread > 3 * math.sqrt(rate * (1 - rate) / length):
            raise Fail(f"masks {shared}; each pixel of each example is masked independently ")
    again = S.noise.masking(x0.copy(), rate, np.random.default_rng(10))
    other = S.noise.masking(x0.copy(), rate, np.random.default_rng(11))
    if not np.array_equal(again, x_tilde) or np.array_equal(other, x_tilde):
        raise Fail("does not draw from the rng it is given (np.random or another source?); a run is "
                   "repeatable only if every draw comes from rng ")
    if np.any(S.noise.masking(x0.copy(), 0.0, np.random.default_rng(12)) != x0):
        raise Fail("changes x at rate 0 ")
    return f"masks {frac:.3f} of {masked.size} pixels at rate {rate} (+-{6 * se:.3f}), independently, from rng"

