"""The checks of exercises 1-7, the autoencoder's half of the lecture: the layers, L_AE, Adam
and the DAE's masking.

Each ``check_*(S, R, K)`` grades the student's copy ``S`` (its code runs in the student's own
process, :mod:`.remote`) against the reference ``R`` (the installed package, in the grader's
process) on the sizes and inputs ``K`` drawn from the grading's seed (:func:`.checks.draw`).  It
returns a one-line detail when it passes and raises :class:`.checks.Fail` when it does not (the
grader adds the exercise's derivation from its record in :mod:`.catalogue`, which names each
check).  Only the exercise's own function is the student's: a backward is run on the input the
statement's forward keeps (``layer.x``), set by the check, so that one exercise's slip never fails
another.  A call that writes into an array it was given fails by itself (:mod:`.remote`).
Tolerances and the recognised mistakes: :mod:`.checks`.
"""
import math

import numpy as np

from .checks import Fail, agree, array, layer_differences, loss_differences, number, results, same

f64, f32 = np.float64, np.float32


def _linear_like(R, W, b):
    """The reference's Linear with the weights ``W`` and bias ``b`` (the student's, read back)."""
    ref = R.layers.Linear(*np.shape(W), np.random.default_rng(0), f64)
    ref.params["W"][...], ref.params["b"][...] = W, b
    return ref


def check_linear_forward(S, R, K):
    rng = K.rng(1)
    for n, d_in, d_out in ((K.N, K.D, K.H), (1, K.H, K.H)):     # and one example through a square layer
        layer = S.layers.Linear(d_in, d_out, S.rng(K.seed), f64)   # the student's class; only forward is graded
        params = layer.params
        x = rng.standard_normal((n, d_in))
        out = array("out", layer.forward(x), (n, d_out))
        want = _linear_like(R, params["W"], params["b"]).forward(x)
        mistakes = [("leaves out the bias b", want - params["b"])]
        if d_in == d_out:                             # where W^T has W's shape
            mistakes.append(("multiplies by W transposed: out = x @ W, with W (D_in, D_out)",
                             x @ params["W"].T + params["b"]))
        err = agree(f"out for x of shape {x.shape}", out, want, mistakes)
    x = rng.standard_normal((K.N, K.D)).astype(f32)
    array("out for float32 x", S.layers.Linear(K.D, K.H, S.rng(0), f32).forward(x), (K.N, K.H), f32)
    return f"out = x @ W + b: ({K.N}, {K.D}) -> ({K.N}, {K.H}) and (1, {K.H}) -> (1, {K.H}), relative error {err:.0e}"


def _linear_backward(S, R, K, n, d_in, d_out, k):
    """The student's backward on the input the statement's forward keeps (``self.x = x``), beside
    the reference's; both start from the same nonzero gradients, since backward adds into them."""
    rng = K.rng(k)
    layer = S.layers.Linear(d_in, d_out, S.rng(k), f64)
    params = layer.params
    ref = _linear_like(R, params["W"], params["b"])
    x, G = rng.standard_normal((n, d_in)), rng.standard_normal((n, d_out))
    before = {name: rng.standard_normal(g.shape) for name, g in ref.grads.items()}
    layer.x = x                                       # what forward keeps for backward (its first line)
    ref.forward(x)
    for name in before:
        S.put(layer, ("grads", name), before[name])
        ref.grads[name][...] = before[name]
    buffers = {name: S.id(layer, ("grads", name)) for name in before}
    dx = layer.backward(G)
    for name in before:
        if S.id(layer, ("grads", name)) != buffers[name]:
            raise Fail(f"replaced self.grads['{name}'] by a new array; add into it (+=): it is a view into the "
                       f"model's one gradient buffer")
    want_dx = ref.backward(G.copy())
    grads = layer.grads
    want = {name: ref.grads[name] - before[name] for name in before}
    if all(same(grads[k], want[k]) for k in want):
        raise Fail("overwrote the gradients; add into them (+=): the model zeroes them once, then every layer adds")
    got = {name: array(f"self.grads['{name}']", grads[name], before[name].shape) - before[name] for name in before}
    return layer, x, G, dx, want_dx, got, want


def check_linear_backward(S, R, K):
    N, D, H = K.N, K.D, K.H
    # a square layer first: there a transposed dW has W's shape, so it can only be told by its values
    for n, d_in, d_out, k in ((N, H, H, 3), (1, D, D, 4), (N, D, H, 2)):
        layer, x, G, dx, want_dx, got, want = _linear_backward(S, R, K, n, d_in, d_out, k)
        sizes = {"N": n} if n > 1 else {}
        agree("dW", array("dW", got["W"], (d_in, d_out)), want["W"],
              [("is transposed: dW has the shape of W, (D_in, D_out), and dW = x^T dout", want["W"].T)], sizes)
        agree("db", array("db", got["b"], (d_out,)), want["b"],
              [("is averaged over the batch: sum dout over its N rows (the 1/N is already in dout)", want["b"] / n)]
              if n > 1 else [], sizes)
        square = [("uses W where W^T belongs: dx = dout W^T", G @ layer.params["W"])] if d_in == d_out else []
        agree("dx", array("dx", dx, (n, d_in)), want_dx, square, sizes)
    for name in ("W", "b"):
        S.put(layer, ("grads", name), np.zeros_like(want[name]))
    if layer.backward(G, need_dx=False) is not None:
        raise Fail("backward(dout, need_dx=False) must return None (the first layer skips dx)")
    agree("dW with need_dx=False", layer.grads["W"], want["W"])
    return f"dx, dW, db agree with the reference on ({N}, {D}) -> ({N}, {H}), a square layer and N = 1, " \
           f"and add into the gradients"


def _at_the_kink(rng, shape):
    """Inputs of either sign, a quarter of them exactly 0, ReLU's kink (where the statement gives
    the gradient 0), the others at least 0.1 from it."""
    x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    x[rng.uniform(size=shape) < 0.25] = 0.0
    x.reshape(-1)[0] = 0.0
    return x


def check_relu(S, R, K):
    N, D = K.N, K.D
    rng = K.rng(5)
    x = _at_the_kink(rng, (N, D))
    layer = S.layers.ReLU()
    out = array("out", layer.forward(x), (N, D))
    want_out = R.layers.ReLU().forward(x.copy())
    agree("out", out, want_out)
    G = rng.standard_normal((N, D))
    dx = array("dx", layer.backward(G), (N, D))
    ref = R.layers.ReLU()
    ref.forward(x.copy())
    want = ref.backward(G.copy())
    agree("dx", dx, want, [
        ("passes the gradient at the kink x = 0, where the statement gives it 0: the mask is x > 0, not x >= 0",
         G * (x >= 0)),
        ("takes its mask from dout, the upstream gradient; the mask is where the input x > 0", G * (G > 0)),
        ("multiplies dout by the output's values; the derivative is the 0/1 mask [x > 0], not max(x, 0)",
         G * want_out),
        ("is the mask alone: multiply it by dout (the chain rule)", (x > 0).astype(f64)),
        ("passes the gradient where x < 0; ReLU passes it where x > 0", G * (x < 0)),
        ("is dout itself, for every x; ReLU passes the gradient only where x > 0 (a mask that is always 1?)", G)])
    inplace = S.layers.ReLU(inplace=True)
    with S.writing("x"):
        agree("out with inplace=True", array("out", inplace.forward(x.copy()), (N, D)), want_out)
    agree("dx after an inplace forward", inplace.backward(G.copy()), want)
    f = S.layers.ReLU()
    f.forward(x.astype(f32))
    array("dx for float32", f.backward(G.astype(f32)), (N, D), f32)
    off = np.where(x == 0, 0.5, x)                    # central differences need inputs off the kink
    err = layer_differences(S, S.layers.ReLU(), off, K.rng(6))
    return f"dx = dout where x > 0 (0 at the kink) agrees with the reference and with central differences " \
           f"(max relative error {err:.0e})"


def check_sigmoid(S, R, K):
    N, D = K.N, K.D
    rng = K.rng(7)
    x = 3 * rng.standard_normal((N, D))
    layer, ref = S.layers.Sigmoid(), R.layers.Sigmoid()
    s = ref.forward(x.copy())
    agree("out", array("out", layer.forward(x), (N, D)), s)
    G = rng.standard_normal((N, D))
    dx = array("dx", layer.backward(G), (N, D))
    agree("dx", dx, ref.backward(G.copy()), [
        ("is written with the input x where the output s belongs: ds/dx = s (1 - s), s = sigmoid(x)",
         G * x * (1 - x)),
        ("is dout * s^2: the derivative of s is s (1 - s)", G * s * s),
        ("is dout * out: the derivative of s is s (1 - s)", G * s),
        ("is out * (1 - out) without dout (the chain rule)", s * (1 - s)),
        ("is dout * (1 - out): the derivative of s is s (1 - s)", G * (1 - s))], sizes={})
    big = np.array([[-100.0, -20.0, 0.0, 20.0, 100.0]], dtype=f32)     # float32's exp overflows beyond 88
    S.warned.clear()
    out = array("out for float32 x", S.layers.Sigmoid().forward(big), big.shape, f32)
    if S.warned:
        raise Fail(f"at x = +-100 in float32, numpy warned '{S.warned[0]}': exp(-x) overflows for x < -88; "
                   f"use sigmoid(x), which exponentiates only -|x|")
    agree("out at x = +-100", out, R.layers.sigmoid(big))
    err = layer_differences(S, S.layers.Sigmoid(), x, K.rng(8))
    return f"out and dx = dout s (1 - s) agree (central differences: max relative error {err:.0e}), no overflow"


def check_mse(S, R, K):
    N, D = K.N, K.D
    rng = K.rng(9)
    for n in (N, 1):
        x_hat, x = rng.standard_normal((n, D)), rng.uniform(0, 1, (n, D))
        loss, dx_hat = results(S.losses.mse(x_hat, x), ("loss", "dx_hat"))
        want_loss, want = R.losses.mse(x_hat, x)
        sizes = {"N": n, "D": D} if n > 1 else {"D": D}
        agree("the loss", number("the loss", loss), want_loss, sizes=sizes)
        agree("dx_hat", array("dx_hat", dx_hat, (n, D)), want, [
            ("has the wrong sign: d/dx_hat (x_hat - x)^2 = 2 (x_hat - x)", -want),
            ("misses the 2 of d/dx_hat (x_hat - x)^2 = 2 (x_hat - x)", want / 2)], sizes=sizes)
    x_hat, x = rng.standard_normal((N, D)), rng.uniform(0, 1, (N, D))
    array("dx_hat for float32", S.losses.mse(x_hat.astype(f32), x.astype(f32))[1], (N, D), f32)
    err = loss_differences(S, S.losses.mse, x_hat, x)
    return f"loss and dx_hat = 2 (x_hat - x) / N agree (central differences: relative error {err:.0e})"


ADAM = dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8)


def _adam_steps(opt, grads, put, read):
    """The parameter change of each of T steps of the optimizer ``opt``, (T, P): ``put(g)`` sets
    its gradient in place, ``read()`` gives its theta."""
    steps, last = [], read()
    with np.errstate(all="ignore"):                   # a slip's nan is judged below, not warned about
        for g in grads:
            put(g)
            opt.step()
            theta = read()
            steps.append(theta - last)
            last = theta
    return np.array(steps)


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


def check_adam(S, R, K):
    rng = K.rng(11)
    P, T = K.D, 6
    theta0 = rng.standard_normal(P)
    grads = rng.standard_normal((T, P)) * rng.uniform(0.1, 10, P)       # each parameter on its own scale
    opt = S.optim.Adam(theta0, np.zeros(P), **ADAM)   # theta and grad live in the student's process
    theta_id = S.id(opt, ["theta"])
    steps = _adam_steps(opt, grads, lambda g: S.put(opt, ["grad"], g), lambda: array("theta", opt.theta, (P,)))
    theta, grad = theta0.copy(), np.zeros(P)
    ref = R.optim.Adam(theta, grad, **ADAM)
    want = _adam_steps(ref, grads, lambda g: grad.__setitem__(Ellipsis, g), theta.copy)
    if S.id(opt, ["theta"]) != theta_id:
        raise Fail("replaced self.theta by a new array; update it in place (theta -= ...): it is the model's own "
                   "parameter array ")
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


def check_masking(S, R, K):
    n_ex, n_px, rate = 200, 500, 0.3
    x = K.rng(10).uniform(0.1, 1.0, (n_ex, n_px)).astype(f32)   # no zeros: a 0 in x_tilde is a masked pixel
    x0 = x.copy()
    x_tilde = array("x_tilde", S.noise.masking(x, rate, S.rng(K.seed + 10)), x.shape, f32)
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
    again = S.noise.masking(x0, rate, S.rng(K.seed + 10))
    other = S.noise.masking(x0, rate, S.rng(K.seed + 11))
    if not np.array_equal(again, x_tilde) or np.array_equal(other, x_tilde):
        raise Fail("does not draw from the rng it is given (np.random or another source?); a run is "
                   "repeatable only if every draw comes from rng ")
    if np.any(S.noise.masking(x0, 0.0, S.rng(K.seed + 12)) != x0):
        raise Fail("changes x at rate 0 ")
    return f"masks {frac:.3f} of {masked.size} pixels at rate {rate} (+-{6 * se:.3f}), independently, from rng"

