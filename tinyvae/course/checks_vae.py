"""The checks of exercises 8-15, the VAE's half of the lecture: the likelihoods, the KL, the ELBO,
the reparameterization, the VAE's backward and the dual ascent on beta.

The same contract as :mod:`.checks_ae`: ``check_*(S, R, K)`` returns a one-line detail or
raises :class:`.checks.Fail`; only the exercise's own function is the student's (exercise 14's
VAE.backward runs with the grader's stubs where it calls the layers and the reparameterization).
"""
import math

import numpy as np

from .. import gradcheck
from .checks import Fail, agree, array, by_differences, differences, loss_differences, number, results

f64, f32 = np.float64, np.float32


def check_bernoulli(S, R, K):
    N, D = K.N, K.D
    rng = K.rng(21)
    logits, x = 4 * rng.standard_normal((N, D)), rng.uniform(0, 1, (N, D))
    loss, dlogits = results(S.losses.bernoulli_nll(logits, x), ("loss", "dlogits"))
    want_loss, want = R.losses.bernoulli_nll(logits, x)
    relu = np.sum(np.maximum(logits, 0)) / N          # the max(l, 0) of softplus, per example
    agree("the loss", number("the loss", loss), want_loss, [
        ("misses max(l, 0): softplus(l) = max(l, 0) + log(1 + exp(-|l|))", want_loss - relu),
        ("has + l x where - l x belongs: the loss is softplus(l) - x l", want_loss + 2 * np.sum(logits * x) / N)],
        sizes={"N": N, "D": D})
    agree("dlogits", array("dlogits", dlogits, (N, D)), want, [
        ("has the wrong sign: d/dl [softplus(l) - x l] = sigmoid(l) - x", -want),
        ("is sigmoid(l) - x without the batch mean's 1/N", want * N),
        ("is sigmoid(-l) - x: d softplus(l) / dl = sigmoid(l) = 1 / (1 + exp(-l))",
         want - (2 * R.layers.sigmoid(logits) - 1) / N)], sizes={"N": N, "D": D})
    err = loss_differences(S, S.losses.bernoulli_nll, logits, x)
    # saturated pixels: logits from 30 to 700 of either sign (exp(700) is near float64's largest), one example
    far = rng.uniform(30, 700, (2, D)) * rng.choice([-1.0, 1.0], (2, D))
    far[0, 0], far[1, 0] = 40.0, -40.0
    target = rng.choice([0.0, 1.0, 0.3], (2, D))
    S.warned.clear()
    got = results(S.losses.bernoulli_nll(far, target), ("loss", "dlogits"))
    want_far = R.losses.bernoulli_nll(far, target)
    try:
        if S.warned:
            raise Fail(f"numpy warned '{S.warned[0]}'")
        agree("the loss", number("the loss", got[0]), want_far[0])
        agree("dlogits", array("dlogits", got[1], far.shape), want_far[1])
    except Fail as fail:
        raise Fail(f"at logits of +-40 and beyond: {fail}; sigmoid(40) rounds to 1, so log(1 - s) is lost: write the "
                   f"loss as softplus(l) - x l, exponentiating only -|l|") from None
    array("dlogits for float32", S.losses.bernoulli_nll(logits.astype(f32), x.astype(f32))[1], (N, D), f32)
    return f"loss and dlogits = (sigmoid(l) - x) / N agree (central differences: {err:.0e}), exact at |l| up to 700"


def check_gaussian(S, R, K):
    N, D = K.N, K.D
    rng = K.rng(22)
    sigma = 0.3
    x_hat, x = rng.standard_normal((N, D)), rng.uniform(0, 1, (N, D))
    loss, dx_hat = results(S.losses.gaussian_nll(x_hat, x, sigma), ("loss", "dx_hat"))
    want_loss, want = R.losses.gaussian_nll(x_hat, x, sigma)
    constant = 0.5 * D * math.log(2 * math.pi * sigma * sigma)
    agree("the loss", number("the loss", loss), want_loss,
          [("leaves out the constant (D/2) log(2 pi sigma^2), a part of -log N(x; x_hat, sigma^2 I)",
            want_loss - constant)], sizes={"N": N, "D": D})
    agree("dx_hat", array("dx_hat", dx_hat, (N, D)), want, [
        ("has the wrong sign: d/dx_hat (x - x_hat)^2 = 2 (x_hat - x)", -want),
        ("divides by sigma where sigma^2 belongs", want * sigma),
        ("has 2 sigma^2 below: the square's 2 cancels the 1/2 of ||x - x_hat||^2 / (2 sigma^2)", want / 2)],
        sizes={"N": N, "D": D})
    err = loss_differences(S, S.losses.gaussian_nll, x_hat, x, sigma)
    half = math.sqrt(0.5)                             # sigma^2 = 1/2: the lecture's L_AE plus a constant
    loss_h, grad_h = S.losses.gaussian_nll(x_hat, x, half)
    mse_loss, mse_grad = R.losses.mse(x_hat, x)
    agree("the loss at sigma^2 = 1/2 minus the MSE", number("the loss", loss_h) - mse_loss,
          0.5 * D * math.log(math.pi))
    agree("dx_hat at sigma^2 = 1/2", grad_h, mse_grad)
    return f"loss and dx_hat = (x_hat - x) / (sigma^2 N) agree (central differences: {err:.0e}); at sigma^2 = 1/2 " \
           f"it is the MSE plus (D/2) log(pi)"


def check_kl(S, R, K):
    N, Z = K.N, K.Z
    rng = K.rng(23)
    for n in (N, 1):
        mu, logvar = rng.standard_normal((n, Z)), 0.5 * rng.standard_normal((n, Z))
        kl, dmu, dlogvar = results(S.losses.kl_normal_std_normal(mu, logvar), ("kl", "dmu", "dlogvar"))
        want_kl, want_mu, want_lv = R.losses.kl_normal_std_normal(mu, logvar)
        std_as_var = 0.5 * np.sum(mu ** 2 + np.exp(0.5 * logvar) - 1 - logvar) / n   # the slip, not the formula
        sizes = {"N": n, "Z": Z} if n > 1 else {"Z": Z}
        agree("the KL", number("the KL", kl), want_kl, [
            ("misses the 1/2 of KL = (1/2) sum_j (mu^2 + sigma^2 - 1 - log sigma^2)", 2 * want_kl),
            ("uses sigma = exp(logvar / 2) where sigma^2 = exp(logvar) belongs", std_as_var)], sizes=sizes)
        agree("dmu", array("dmu", dmu, (n, Z)), want_mu,
              [("misses the KL's 1/2: d/dmu (1/2) mu^2 = mu", 2 * want_mu)], sizes=sizes)
        agree("dlogvar", array("dlogvar", dlogvar, (n, Z)), want_lv,
              [("misses the KL's 1/2", 2 * want_lv)], sizes=sizes)
    zero = number("the KL of q = N(0, I)", S.losses.kl_normal_std_normal(np.zeros((N, Z)), np.zeros((N, Z)))[0])
    if abs(zero) > 1e-12:
        raise Fail(f"KL(N(0, I) || N(0, I)) is {zero:.3g}, not 0")
    numeric = differences(S, S.losses.kl_normal_std_normal, (mu, logvar), [0, 1], lambda r: float(r[0]))
    err = by_differences(max(gradcheck.rel_error(dmu, numeric[0]), gradcheck.rel_error(dlogvar, numeric[1])),
                         "dmu and dlogvar")
    return f"KL, dmu = mu / N and dlogvar = (exp(logvar) - 1) / (2N) agree (central differences: {err:.0e}); " \
           f"KL(p || p) = 0"


def check_elbo(S, R, K):
    N, D, H, Z = K.N, K.D, K.H, K.Z
    rng = K.rng(24)
    log_px_z, kl = -50 + 10 * rng.standard_normal(N), 3 * np.abs(rng.standard_normal(N))
    want = R.objectives.elbo(log_px_z, kl)
    agree("the ELBO", array("the ELBO", S.objectives.elbo(log_px_z, kl), (N,)), want, [
        ("has the wrong sign: KL - E_q[log p(x|z)] is the loss at beta = 1; the ELBO is E_q[log p(x|z)] - KL", -want),
        ("adds the KL; the ELBO subtracts it, since log p(x) = ELBO + KL(q(z|x) || p(z|x))", log_px_z + kl)])
    number("the ELBO of two floats", S.objectives.elbo(-40.0, 2.5))
    vae = R.models.VAE(D, (H,), Z, rng=K.rng(25), dtype=f64)
    loss = vae.forward_loss(rng.uniform(0, 1, (N, D)), eps=rng.standard_normal((N, Z)))
    agree("-ELBO of a VAE's two terms", -number("the ELBO", S.objectives.elbo(-loss.recon, loss.kl)), loss.total)
    return "ELBO = E_q[log p(x|z)] - KL, and -ELBO is the VAE's loss at beta = 1"


def check_reparameterize(S, R, K):
    rng = K.rng(26)
    n = 100_000
    mu, logvar = np.array([0.5, -1.0, 2.0]), np.array([0.0, -1.0, 1.5])
    var = np.exp(logvar)
    z, std = results(S.reparam.reparameterize(np.tile(mu, (n, 1)), np.tile(logvar, (n, 1)),
                                              rng.standard_normal((n, 3))), ("z", "std"))
    z = array("z", z, (n, 3))
    # standard errors over n normal draws: sqrt(var / n) for the mean, var sqrt(2 / n) for the variance;
    # 6 of them is a false alarm once in 5e8 gradings
    mean, spread = z.mean(axis=0), z.var(axis=0)
    if np.any(np.abs(mean - mu) > 6 * np.sqrt(var / n)):
        raise Fail(f"the mean of z over {n} draws is {np.round(mean, 3).tolist()}, not mu = {mu.tolist()} ")

    def near(v):
        return bool(np.all(np.abs(spread - v) <= 6 * v * math.sqrt(2 / n)))

    if not near(var):
        if near(var ** 2):
            raise Fail("the variance of z is exp(logvar)^2: exp(logvar) is sigma^2, not sigma (numpy-ml's bug); "
                       "sigma = exp(logvar / 2) ")
        if near(logvar ** 2):
            raise Fail("the variance of z is logvar^2: logvar is log sigma^2, not sigma ")
        raise Fail(f"the variance of z over {n} draws is {np.round(spread, 3).tolist()}, not exp(logvar) = "
                   f"{np.round(var, 3).tolist()} ")
    N, Z = K.N, K.Z
    mu, logvar, eps = rng.standard_normal((N, Z)), rng.standard_normal((N, Z)), rng.standard_normal((N, Z))
    z, std = results(S.reparam.reparameterize(mu, logvar, eps), ("z", "std"))
    want_z, want_std = R.reparam.reparameterize(mu, logvar, eps)
    agree("std", array("std", std, (N, Z)), want_std,
          [("is exp(logvar) = sigma^2; sigma = exp(logvar / 2) (numpy-ml's bug)", want_std ** 2)])
    agree("z", array("z", z, (N, Z)), want_z)
    array("z for float32", S.reparam.reparameterize(mu.astype(f32), logvar.astype(f32), eps.astype(f32))[0],
          (N, Z), f32)
    return f"over {n} draws z has mean mu and variance exp(logvar) (6 standard errors); z, std exact"


def check_reparameterize_backward(S, R, K):
    N, Z = K.N, K.Z
    rng = K.rng(27)
    mu, logvar, eps = rng.standard_normal((N, Z)), rng.standard_normal((N, Z)), rng.standard_normal((N, Z))
    _, std = R.reparam.reparameterize(mu, logvar, eps)
    G = rng.standard_normal((N, Z))
    dmu, dlogvar = results(S.reparam.reparameterize_backward(G, eps, std), ("dmu", "dlogvar"))
    want_mu, want_lv = R.reparam.reparameterize_backward(G, eps, std)
    agree("dmu", array("dmu", dmu, (N, Z)), want_mu,
          [("is dz * std; dz/dmu = 1", G * std), ("is dz * eps; dz/dmu = 1", G * eps)])
    agree("dlogvar", array("dlogvar", dlogvar, (N, Z)), want_lv, [
        ("leaves out eps: z = mu + std * eps, so dz/dlogvar = eps * std / 2, and eps is held fixed", G * 0.5 * std),
        ("misses the 1/2 of d std / d logvar = d exp(logvar / 2) / d logvar = std / 2", 2 * want_lv),
        ("is dz * eps: the factor d std / d logvar = std / 2 is missing", G * eps),
        ("uses sigma^2 = exp(logvar) where sigma = std belongs", want_lv * std)])

    def f(mu, logvar):                                # the reference's forward: only the backward is graded
        return float(np.sum(R.reparam.reparameterize(mu, logvar, eps)[0] * G))

    err = by_differences(max(gradcheck.rel_error(dmu, gradcheck.numerical_gradient(lambda: f(mu, logvar), mu)),
                             gradcheck.rel_error(dlogvar, gradcheck.numerical_gradient(lambda: f(mu, logvar), logvar))),
                         "dmu and dlogvar")
    return f"dmu = dz and dlogvar = dz eps std / 2 agree with central differences (max relative error {err:.0e})"


def check_vae_backward(S, R, K):
    """The lines of VAE.backward that add the KL's path: everything else backward calls (the
    decoder's and the encoder's backward, the reparameterization's) is a stub of the grader's
    that returns given gradients and records what it is given, so only those lines are graded."""
    N, Z, D, H = K.N, K.Z, K.D, K.H
    rng = K.rng(28)
    beta = 4.0
    model = S.models.VAE(D, (H,), Z, rng=S.rng(K.seed + 29), dtype=f64)
    h, eps, std, dout = (rng.standard_normal(shape) for shape in ((N, 2 * Z), (N, Z), (N, Z), (N, D)))
    dmu_kl, dlogvar_kl, dmu, dlogvar, dz = (rng.standard_normal((N, Z)) for _ in range(5))
    std = np.abs(std)

    def dh_for(weight):
        model._cache = (h, eps, std, dout, dmu_kl, dlogvar_kl)   # what forward keeps for backward
        model.decoder, model.encoder = S.stub(dz), S.stub()   # dz: what the decoder's backward gives
        S.models.reparameterize_backward = S.stub((dmu, dlogvar))
        model.backward(weight)
        calls = model.encoder.calls
        if len(calls) != 1:
            raise Fail(f"backward called the encoder's backward {len(calls)} times; once, with dh")
        return array("dh", calls[0][0][0], (N, 2 * Z))

    got = dh_for(beta)
    want = {w: np.concatenate([dmu + w * dmu_kl, dlogvar + w * dlogvar_kl], axis=1) for w in (beta, 0.0, 1.0, -beta)}
    err = agree("dh, the gradient at the encoder's output [mu | logvar]", got, want[beta], [
        ("leaves out the KL's path: add kl_weight * dmu_kl and kl_weight * dlogvar_kl", want[0.0]),
        (f"does not weight the KL's path by kl_weight (beta = {beta:g} here)", want[1.0]),
        ("subtracts the KL's path; the loss adds kl_weight * KL", want[-beta]),
        ("has mu's and logvar's halves exchanged: the first Z columns are d total / d mu",
         np.concatenate([want[beta][:, Z:], want[beta][:, :Z]], axis=1))])
    agree("dh at kl_weight = 0", dh_for(0.0), want[0.0])
    return f"dh = [dmu + beta dmu_kl | dlogvar + beta dlogvar_kl] at beta = {beta:g} and 0 (relative error {err:.0e})"


def _betas(update, kls, beta=1.0):
    out = []
    for kl in kls:
        beta = update(beta, kl)
        out.append(beta)
    return np.array(out)


def check_dual_ascent(S, R, K):
    delta, eta = 2.0, 0.5
    kls = [5.0, 3.0, 0.5, 0.1, 0.0, 0.0, 0.0, 4.0]

    def run(objective):
        betas = []
        for kl in kls:
            beta = objective.beta
            objective.after_step(R.models.Loss(10.0, kl, beta, 10.0 + beta * kl))
            betas.append(number("beta", objective.beta))
        return np.array(betas)

    want = run(R.objectives.KLTarget(delta, eta=eta, beta=1.0))
    agree("beta after each step", run(S.objectives.KLTarget(delta, eta=eta, beta=1.0)), want, [   # the slips
        ("moves the wrong way: it must rise while KL > delta (the constraint broken)",
         _betas(lambda b, kl: max(0.0, b - eta * (kl - delta)), kls)),
        ("goes below 0: a multiplier of the constraint KL <= delta is >= 0; clip it",
         _betas(lambda b, kl: b + eta * (kl - delta), kls)),
        ("ignores the step size eta", _betas(lambda b, kl: max(0.0, b + (kl - delta)), kls))])
    objective = S.objectives.KLTarget(delta, eta=0.5, beta=8.0)   # a toy KL(beta) = 6 / (1 + beta), from below delta
    for _ in range(50):
        beta = number("beta", objective.beta)
        kl = 6.0 / (1.0 + beta)
        objective.after_step(R.models.Loss(0.0, kl, beta, beta * kl))
    kl = 6.0 / (1.0 + number("beta", objective.beta))
    # the map beta <- beta + eta (KL(beta) - delta) has slope 1 - 0.5 * 6 / 3^2 = 2/3 at its fixed point beta = 2,
    # so 50 steps from beta = 8 (KL = 2/3) leave |KL - delta| ~ (4/3) (2/3)^50 = 2e-9
    if abs(kl - delta) > 1e-6:
        raise Fail(f"KL does not settle at delta = {delta}: {kl:.4f} after 50 steps on KL(beta) = 6 / (1 + beta) ")
    return f"beta follows the reference over {len(kls)} steps and KL settles at delta ({kl:.6f} on a toy)"
