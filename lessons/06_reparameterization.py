"""Lesson 06: the reparameterization trick: the problem it solves, and why its gradient is good.

Lecture: "Reparameterization trick: The problem" (sampling z ~ q_phi(z|x) is stochastic, so
naive backpropagation does not work), "General form" (z = T_phi(x, eps)) and "Gaussian
case" (z = mu + sigma * eps, eps ~ N(0, I): gradients pass through mu and sigma while the
randomness stays in eps).

What you will see:
  1. the problem first: a VAE trained with no gradient through z (the sample treated as a
     constant, as if z fell from the sky) next to the same VAE trained with the trick.  The
     reconstruction cannot tell the encoder anything, so its mu and sigma learn only from
     the KL: q(z|x) becomes p(z) for every x, the code carries nothing, and every digit
     decodes to the same blur;
  2. that "no gradient through z" is exactly the reparameterized gradient with one term
     removed (dz -> dmu, dlogvar), checked number by number and by finite differences;
  3. for one digit x and its q(z|x), the gradient we want is that of

         F(mu, logvar) = E_{z ~ N(mu, diag exp(logvar))} [ log p(x|z) ]

     with respect to (mu1, mu2, logvar1, logvar2).  With eps fixed, the trick's gradient is
     an ordinary derivative: it matches central differences;
  4. the exact gradient, by central differences of F computed by quadrature;
  5. unbiased estimators of it, one sample each:
       reparameterization   d log p(x|z)/dz * dz/d(mu, logvar)            (pathwise)
       REINFORCE            log p(x|z) * d log q(z)/d(mu, logvar)         (score function)
       with a baseline      (log p(x|z) - b) * d log q(z)/d(mu, logvar),  b from other draws
     their means (all match the exact gradient) and their variances (they do not);
  6. how many samples each needs for the same accuracy;
  7. the general form z = T_phi(eps) beyond the Gaussian: the Laplace(mu, b) by its inverse
     CDF, z = mu - b sign(u - 1/2) log(1 - 2|u - 1/2|) with u ~ Uniform(0, 1), written with its
     backward, checked by central differences in float64 and by the statistics of 1e5 draws,
     and, for step 3's digit with a Laplace q of the same variance, its gradient of
     E[log p(x|z)] against the exact one (quadrature) and against REINFORCE's variance.

Run:   python lessons/06_reparameterization.py [--quick] [--out DIR] [--seed S]
Takes: about 5 seconds on 2 cores (--quick: about 3 seconds, with fewer samples and epochs).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data, gradcheck
from tinyvae.studies import plots
from tinyvae.losses import bernoulli_log_likelihood, bernoulli_nll, kl_normal_std_normal
from tinyvae.models import VAE
from tinyvae.reparam import reparameterize, reparameterize_backward
from tinyvae.train import Trainer

lesson = _common.Lesson("06_reparameterization", __doc__)
EPOCHS = lesson.pick(50, 10)
M = lesson.pick(50_000, 10_000)     # single-sample gradient estimates drawn from each estimator
NAMES = ["d/dmu1", "d/dmu2", "d/dlogvar1", "d/dlogvar2"]
ds = data.load("digits")


# %% --- 1. the problem: no gradient through z ---
class VAEWithoutGradientThroughZ(VAE):
    """The lecture's problem slide as code: the sample z is treated as a constant.

    ``VAE.backward`` (tinyvae/models.py) with the reconstruction's path to the encoder cut:
    the decoder still learns from ``dout``, but the dz it returns stops there, so mu and
    logvar get only the KL's gradient.  The forward pass is the VAE's own.
    """

    def backward(self, kl_weight):
        h, eps, std, dout, dmu_kl, dlogvar_kl = self._cache      # what VAE.forward kept
        self.zero_grad()
        self.decoder.backward(dout)                             # dz = this, dropped: z is a constant
        dh = kl_weight * np.concatenate([dmu_kl, dlogvar_kl], axis=1)   # (N, 2Z): the KL's gradient only
        self.encoder.backward(dh, need_dx=False)


lesson.step(f"the problem: train with no gradient through z, next to the trick ({EPOCHS} epochs, Z = 2)")
x_test = ds.x_test


def test_neg_elbo(model, draws=20):
    """-ELBO on the test digits, nats per digit: the mean of ``draws`` one-sample estimates each."""
    rng = np.random.default_rng(lesson.seed)
    return float(np.mean([model.forward_loss(x_test, rng=rng).total for _ in range(draws)]))


runs, history = {}, {}
for name, cls in (("no gradient through z", VAEWithoutGradientThroughZ), ("reparameterized", VAE)):
    model = cls(ds.D, (128,), 2, rng=np.random.default_rng(lesson.seed))    # the same start for both
    trainer = Trainer(model, np.random.default_rng(lesson.seed), batch_size=32, lr=3e-3)
    rows = []
    for epoch in range(EPOCHS):
        trainer.train_epoch(ds.x_train)
        mu_t, logvar_t = (np.asarray(a, np.float64) for a in model.encode(x_test))   # (299, 2) each
        rows.append({"neg_elbo": trainer.evaluate(x_test, seed=epoch).total,
                     "kl": float(kl_normal_std_normal(mu_t, logvar_t)[0]),
                     "sigma": float(np.exp(0.5 * logvar_t).mean()),             # mean sigma of q
                     "spread_mu": float(mu_t.std(axis=0).mean())})              # how mu moves with x
    runs[name], history[name] = model, {k: np.array([r[k] for r in rows]) for k in rows[0]}
last = {name: {k: v[-1] for k, v in h.items()} for name, h in history.items()}
neg_elbo = {name: test_neg_elbo(model) for name, model in runs.items()}
_common.table(["trained with", "test -ELBO", "KL(q || p(z))", "mean sigma of q", "SD of mu over digits"],
              [[name, neg_elbo[name], last[name]["kl"], last[name]["sigma"], last[name]["spread_mu"]]
               for name in runs], ["{}", "{:.2f}", "{:.3f}", "{:.3f}", "{:.3f}"])
stop, rep = last["no gradient through z"], last["reparameterized"]
print("    with no gradient through z the encoder hears only the KL, which pulls every q(z|x) to p(z):")
print(f"    sigma -> {stop['sigma']:.3f}, and mu moves by {stop['spread_mu']:.3f} across digits "
      f"(the trick's encoder: {rep['spread_mu']:.3f}).  The code")
print(f"    says nothing about x, so the decoder can only learn the average digit: -ELBO "
      f"{neg_elbo['no gradient through z']:.2f} against {neg_elbo['reparameterized']:.2f} nats.")
print("    (With the KL's weight at 0 the encoder would get no gradient at all and never move.)")
lesson.key(neg_elbo_no_gradient_through_z=neg_elbo["no gradient through z"],
           neg_elbo_reparameterized=neg_elbo["reparameterized"],
           spread_mu_no_gradient_through_z=stop["spread_mu"], spread_mu_reparameterized=rep["spread_mu"])
epochs = np.arange(1, EPOCHS + 1)
fig, axes = plt.subplots(1, 3, figsize=(13.0, 3.8))
for name, style in (("no gradient through z", "C3-"), ("reparameterized", "C0-")):
    h = history[name]
    axes[0].plot(epochs, h["neg_elbo"], style, label=name)
    axes[1].plot(epochs, h["kl"], style, label=name)
    axes[2].plot(epochs, h["sigma"], style, label=f"mean sigma, {name}")
    axes[2].plot(epochs, h["spread_mu"], style.replace("-", "--"), label=f"SD of mu over digits, {name}")
axes[0].set(title="test -ELBO", xlabel="epoch", ylabel="nats per digit")
axes[1].set(title="KL(q(z|x) || p(z)): what the code carries", xlabel="epoch", ylabel="nats per digit")
axes[2].set(title="the encoder's output on the test digits", xlabel="epoch", ylabel="units of z")
for ax in axes:
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=7)
axes[1].legend(fontsize=7)
axes[2].legend(fontsize=7, loc="center right", bbox_to_anchor=(1.0, 0.62))
fig.suptitle("the problem: with no gradient through z the encoder learns nothing from the reconstruction")
fig.tight_layout()
lesson.save(fig, "no_gradient_through_z.png")
n = 10
lesson.save(plots.plot_image_rows(
    [("test digit x", x_test[:n])] + [(name, runs[name].reconstruct(x_test[:n])) for name in runs],
    ds.image_shape, "reconstructions f(mu(x)): without the gradient through z every digit decodes alike"),
    "no_gradient_reconstructions.png")

# %% --- 2. the same gradient, with one term removed ---
lesson.step("no gradient through z = the reparameterized gradient minus the path dz -> (dmu, dlogvar)")
small = [m.astype(np.float64) for m in (VAEWithoutGradientThroughZ(ds.D, (16,), 2, rng=np.random.default_rng(1)),
                                         VAE(ds.D, (16,), 2, rng=np.random.default_rng(1)))]
xb = x_test[:5].astype(np.float64)                                # (5, D)
eps_b = np.random.default_rng(lesson.seed).standard_normal((5, 2))  # (5, Z) held fixed
grads = []
for m in small:
    m.loss_and_grad(xb, eps=eps_b)
    grads.append(m.grad.copy())
g_stop, g_rep = grads
# the removed term: the reconstruction's dz, sent back through z = mu + std * eps into the encoder
m = small[1]
h_b = m.encoder.forward(xb)                                       # (5, 2Z)
z_b, std_b = reparameterize(h_b[:, :2], h_b[:, 2:], eps_b)
_, dout_b = bernoulli_nll(m.decoder.forward(z_b), xb)
m.zero_grad()
dmu_b, dlogvar_b = reparameterize_backward(m.decoder.backward(dout_b), eps_b, std_b)
m.zero_grad()                                                     # keep the encoder's part only
m.encoder.backward(np.concatenate([dmu_b, dlogvar_b], axis=1), need_dx=False)
g_path = m.grad.copy()
identity_error = float(np.max(np.abs(g_rep - (g_stop + g_path))) / np.max(np.abs(g_rep)))
n_dec = sum(p.size for layer in m.decoder.layers for p in layer.params.values())
print(f"    the decoder's {n_dec} gradient entries: identical in both "
      f"(max difference {np.max(np.abs(g_rep - g_stop)[-n_dec:]):.1e})")
print(f"    reparameterized = no-gradient-through-z + the encoder's path term: relative error {identity_error:.1e}")


def stopped_loss():
    """recon(decoder(z0)) + KL(encoder(x)) with z0 a constant: the loss whose gradient variant 1 takes."""
    h = small[0].encoder.forward(xb)
    return bernoulli_nll(small[0].decoder.forward(z_fixed), xb)[0] + kl_normal_std_normal(h[:, :2], h[:, 2:])[0]


h0 = small[0].encoder.forward(xb)
z_fixed = reparameterize(h0[:, :2], h0[:, 2:], eps_b)[0]         # (5, Z) the sample, frozen
stop_fd_error = gradcheck.rel_error(g_stop, gradcheck.numerical_gradient(stopped_loss, small[0].theta))
print(f"    and against central differences of recon(decoder(z0)) + KL with z0 frozen: relative error "
      f"{stop_fd_error:.1e}")
lesson.key(stop_gradient_identity_error=identity_error, stop_gradient_fd_error=stop_fd_error)

# %% --- 3. the trick, against finite differences ---
lesson.step("one digit's q(z|x); with eps fixed, the reparameterized gradient is an ordinary derivative")
model = runs["reparameterized"].astype(np.float64)             # the VAE of step 1, in float64
x = ds.x_test[:1].astype(np.float64)                            # (1, D)
mu, logvar = (a[0].copy() for a in model.encode(x))             # (2,) each
print(f"    test digit 0 (a {ds.y_test[0]}): q(z|x) = N(mu = [{mu[0]:.3f}, {mu[1]:.3f}], "
      f"sigma = [{np.exp(0.5 * logvar[0]):.3f}, {np.exp(0.5 * logvar[1]):.3f}])")


def per_sample(mu, logvar, eps):
    """log p(x|z) and its reparameterized gradient for each eps (n, 2): (n,), (n, 4)."""
    n = len(eps)
    z, std = reparameterize(mu, logvar, eps)                    # (n, 2) z = mu + std * eps
    logits = model.decoder.forward(z)                           # (n, D)
    f = bernoulli_log_likelihood(logits, np.broadcast_to(x, logits.shape))   # (n,) log p(x|z)
    _, dlogits = bernoulli_nll(logits, np.broadcast_to(x, logits.shape))     # d(-mean f)/dlogits
    dz = -model.decoder.backward(dlogits * n)                   # (n, 2) d f / dz, per sample
    model.zero_grad()                                           # the decoder's own gradients are unused
    dmu, dlogvar = reparameterize_backward(dz, eps, std)        # (n, 2) each
    return f, np.concatenate([dmu, dlogvar], axis=1)


rng = np.random.default_rng(lesson.seed)
eps_fixed = rng.standard_normal((64, 2))                        # K = 64 draws, held fixed
_, g = per_sample(mu, logvar, eps_fixed)
analytic = g.mean(axis=0)                                       # gradient of F_K = mean_k f(mu + std eps_k)
params = np.concatenate([mu, logvar])                           # (4,)


def F_K():
    return float(np.mean(per_sample(params[:2], params[2:], eps_fixed)[0]))


numeric = gradcheck.numerical_gradient(F_K, params, h=1e-6)
fd_error = gradcheck.rel_error(analytic, numeric)
_common.table(["", *NAMES], [["reparameterization", *analytic], ["central differences", *numeric]],
              ["{}"] + ["{:+.6f}"] * 4)
print(f"    relative error {fd_error:.1e}: the trick's gradient is exact for the sampled objective")
lesson.key(fd_error=fd_error)

# %% --- 4. the exact gradient of F ---
lesson.step("the exact gradient: central differences of F computed by quadrature over eps")
e = np.arange(-7.0, 7.05, 0.1)
E1, E2 = np.meshgrid(e, e)
eps_grid = np.stack([E1.ravel(), E2.ravel()], axis=1)           # (E, 2)
w = np.exp(-0.5 * np.sum(eps_grid ** 2, axis=1))
w /= w.sum()                                                    # N(0, I) quadrature weights


def F_exact(p):
    z, _ = reparameterize(p[:2], p[2:], eps_grid)
    logits = model.decoder.forward(z)
    return float(np.sum(w * bernoulli_log_likelihood(logits, np.broadcast_to(x, logits.shape))))


exact = np.array([(F_exact(params + h) - F_exact(params - h)) / 2e-4 for h in 1e-4 * np.eye(4)])
print(f"    F = E_q[log p(x|z)] = {F_exact(params):.4f} nats;  gradient "
      + "  ".join(f"{n} {v:+.4f}" for n, v in zip(NAMES, exact)))

# %% --- 5. unbiased estimators, and their variance ---
lesson.step(f"reparameterization against REINFORCE: {M} one-sample estimates each")
# the baseline b must not depend on the sample it is subtracted from, or the estimator is biased
# (b = the mean of the same draws correlates with each f): b is the mean of 1,000 other draws
baseline = float(np.mean(per_sample(mu, logvar, rng.standard_normal((1000, 2)))[0]))
eps = rng.standard_normal((M, 2))
f, g_rep = per_sample(mu, logvar, eps)                          # (M,), (M, 4)
std = np.exp(0.5 * logvar)
score = np.concatenate([eps / std, 0.5 * (eps ** 2 - 1)], axis=1)   # d log q(z)/d(mu, logvar) at z = mu + std eps
g_sf = f[:, None] * score                                       # REINFORCE
g_sfb = (f - baseline)[:, None] * score                         # with a baseline: E[score] = 0, so still unbiased
estimators = {"reparameterization": g_rep, "REINFORCE": g_sf, "REINFORCE with baseline": g_sfb}
print(f"    baseline b = {baseline:.3f} nats, the mean of log p(x|z) over 1,000 draws independent of these")


def estimator_table(estimators, exact, names):
    """Print each gradient estimator's mean (M draws, 4 components) against the exact gradient,
    with the largest |mean - exact| in standard errors and the per-sample variance summed over the
    components; return ``({name: per-sample variance (4,)}, largest z over the estimators)``."""
    rows, variance = [], {}
    for name, est in estimators.items():                        # est: (M, 4)
        mean, se = est.mean(axis=0), est.std(axis=0, ddof=1) / np.sqrt(len(est))
        variance[name] = est.var(axis=0, ddof=1)                # (4,) per-sample variance
        rows.append([name, *mean, float(np.max(np.abs(mean - exact) / se)), variance[name].sum()])
    rows.append(["exact (quadrature)", *exact, 0.0, 0.0])
    _common.table(["estimator", *names, "max |mean-exact|/s.e.", "variance (sum)"], rows,
                  ["{}"] + ["{:+.4f}"] * 4 + ["{:.2f}", "{:.3g}"])
    return variance, max(r[5] for r in rows)


variance, zmax = estimator_table(estimators, exact, NAMES)
v_rep, v_sf, v_sfb = (variance[k].sum() for k in estimators)
print(f"    variance per sample: reparameterization {v_rep:.3g}  REINFORCE {v_sf:.3g}  "
      f"(REINFORCE with a baseline {v_sfb:.3g})")
print(f"    all three are unbiased (every mean within {zmax:.1f} standard errors of the exact "
      "gradient),")
print(f"    but REINFORCE's variance is {v_sf / v_rep:.0f} times larger (still {v_sfb / v_rep:.0f} times with a "
      "baseline): it uses only")
print("    the value log p(x|z), while the trick uses its slope d log p(x|z)/dz.")
lesson.key(var_reparam=v_rep, var_reinforce=v_sf, var_reinforce_baseline=v_sfb,
           max_zscore_of_the_means=zmax)
fig, ax = plt.subplots(figsize=(6.4, 4.0))
values = np.concatenate([est[:, 0] for est in estimators.values()])
edges = np.linspace(values.min(), values.max(), 161)            # every one of the 3 M estimates is inside
for name, est in estimators.items():
    ax.hist(est[:, 0], bins=edges, density=True, histtype="step", linewidth=1.4, label=name)
ax.axvline(exact[0], color="0.3", linestyle=":", linewidth=1, label=f"exact dF/dmu1 = {exact[0]:+.3f}")
ax.set_yscale("log")
ax.set(xlabel="one-sample estimate of dF/dmu1", ylabel="density (per unit of the estimate)")
ax.set_title(f"three unbiased estimators of the same gradient, {M} draws each", fontsize=10)
ax.legend(fontsize=8)
lesson.save(fig, "estimators.png")

# %% --- 6. samples needed ---
lesson.step("samples needed for the same accuracy")
Ks = np.array([1, 4, 16, 64, 256, 1024])
series = []
for name, est in estimators.items():
    err = []
    for K in Ks:                                                # error of the K-sample average
        groups = est[: (M // K) * K].reshape(-1, K, 4).mean(axis=1)     # (M // K, 4)
        err.append(np.sqrt(np.mean(np.sum((groups - exact) ** 2, axis=1))))
    series.append((name, err))
target = 0.1 * np.linalg.norm(exact)
for name, v in variance.items():
    print(f"    {name:23s}: K = {int(np.ceil(v.sum() / target ** 2)):>7} samples for an error of 10% of |gradient|")
fig, ax = plt.subplots(figsize=(6.2, 4.0))
for name, err in series:
    ax.loglog(Ks, err, "o-", label=name)
ax.axhline(target, color="0.3", linestyle=":", label="10% of |gradient|")
ax.grid(which="both", alpha=0.2)                               # log-log: the minor decades too
ax.legend(fontsize=8)
ax.set(xlabel="samples K averaged", ylabel="root mean squared error of the gradient")
ax.set_title("error of the K-sample average: it falls as 1/sqrt(K) for every estimator", fontsize=10)
lesson.save(fig, "error_vs_samples.png")


# %% --- 7. the general form: a Laplace posterior by the inverse CDF ---
lesson.step("the general form z = T_phi(x, u): a Laplace q(z|x) by its inverse CDF, u ~ Uniform(0, 1)")


def laplace_reparameterize(mu, logb, u):
    """z = T(mu, logb; u) = mu + b * e,  e = -sign(u - 1/2) log(1 - 2|u - 1/2|),  b = exp(logb).

    e is the standard Laplace's inverse CDF at u ~ Uniform(0, 1): the noise u does not depend
    on (mu, logb), as eps does not in the Gaussian case.  Shapes: mu, logb, u broadcast to (N, Z).
    Returns z and (b, e), kept for :func:`laplace_reparameterize_backward`.
    """
    e = -np.sign(u - 0.5) * np.log1p(-2.0 * np.abs(u - 0.5))    # (N, Z) e ~ Laplace(0, 1)
    b = np.exp(logb)                                              # the scale, not its log
    return mu + b * e, (b, e)


def laplace_reparameterize_backward(dz, cache):
    """Gradients of z = mu + b e with b = exp(logb): dz/dmu = 1, dz/dlogb = b e (= z - mu)."""
    b, e = cache
    dmu = dz                                                      # dz/dmu = 1
    dlogb = dz * b * e                                            # dz/dlogb = b * e
    return dmu, dlogb


# (a) central differences in float64 with a random upstream gradient, as a layer is checked
rng_l = np.random.default_rng(lesson.seed + 7)
mu_l, logb_l = rng_l.standard_normal((5, 3)), 0.5 * rng_l.standard_normal((5, 3))     # (5, 3) each
u_l = rng_l.uniform(0.05, 0.95, (5, 3))                           # away from u = 1/2, where e has its kink
dout_l = rng_l.standard_normal((5, 3))                            # the upstream gradient
z_l, cache_l = laplace_reparameterize(mu_l, logb_l, u_l)
dmu_l, dlogb_l = laplace_reparameterize_backward(dout_l, cache_l)
num_mu = gradcheck.numerical_gradient(lambda: np.sum(dout_l * laplace_reparameterize(mu_l, logb_l, u_l)[0]), mu_l)
num_logb = gradcheck.numerical_gradient(lambda: np.sum(dout_l * laplace_reparameterize(mu_l, logb_l, u_l)[0]), logb_l)
laplace_fd_error = max(gradcheck.rel_error(dmu_l, num_mu), gradcheck.rel_error(dlogb_l, num_logb))
print(f"    backward against central differences (float64, a random upstream gradient): relative error "
      f"{laplace_fd_error:.1e}")

# (b) the sampler's statistics: Laplace(mu, b) has mean mu and variance 2 b^2
MU_L, B_L, N_DRAWS = 0.5, 0.8, 100_000
draws, _ = laplace_reparameterize(MU_L, np.log(B_L), rng.uniform(size=N_DRAWS))      # (1e5,)
var_true = 2 * B_L ** 2
mean_z = (draws.mean() - MU_L) / np.sqrt(var_true / N_DRAWS)                      # in standard errors
var_z = (draws.var(ddof=1) - var_true) / np.sqrt(20 * B_L ** 4 / N_DRAWS)         # Var[(z-mu)^2] = 20 b^4
print(f"    {N_DRAWS:,} draws at mu = {MU_L}, b = {B_L}: mean {draws.mean():.4f} (mu {MU_L}, z = {mean_z:+.2f}), "
      f"variance {draws.var(ddof=1):.4f} (2 b^2 = {var_true:.4f}, z = {var_z:+.2f})")

# (c) step 5 again with a Laplace q(z|x): the same digit, the same mu, and b = sigma / sqrt(2),
# the same variance; F(mu, logb) = E_{z ~ Laplace(mu, b)}[log p(x|z)]
logb = np.log(np.exp(0.5 * logvar) / np.sqrt(2.0))             # (2,)


def per_sample_laplace(mu, logb, u):
    """log p(x|z) and its reparameterized gradient in (mu, logb) for each u (n, 2): (n,), (n, 4)."""
    n = len(u)
    z, cache = laplace_reparameterize(mu, logb, u)                # (n, 2)
    logits = model.decoder.forward(z)                             # (n, D)
    f = bernoulli_log_likelihood(logits, np.broadcast_to(x, logits.shape))    # (n,)
    _, dlogits = bernoulli_nll(logits, np.broadcast_to(x, logits.shape))
    dz = -model.decoder.backward(dlogits * n)                     # (n, 2) d f / dz, per sample
    model.zero_grad()
    dmu, dlogb = laplace_reparameterize_backward(dz, cache)       # (n, 2) each
    return f, np.concatenate([dmu, dlogb], axis=1), cache[1]


# the exact gradient: central differences of F by quadrature over e ~ Laplace(0, 1), per dimension,
# on a grid that has e = 0 (the density's kink) as a node; the mass beyond |e| = 12 is 6e-6
e1 = np.arange(-12.0, 12.05, 0.1)
wl = np.exp(-np.abs(e1))
W = np.outer(wl, wl).ravel() / np.sum(wl) ** 2                    # (E,) product weights, sum 1
E1l, E2l = np.meshgrid(e1, e1, indexing="ij")
e_grid = np.stack([E1l.ravel(), E2l.ravel()], axis=1)             # (E, 2)


def F_laplace(p):
    z = p[:2] + np.exp(p[2:]) * e_grid                            # (E, 2) z = mu + b e
    logits = model.decoder.forward(z)
    return float(np.sum(W * bernoulli_log_likelihood(logits, np.broadcast_to(x, logits.shape))))


params_l = np.concatenate([mu, logb])
exact_l = np.array([(F_laplace(params_l + h) - F_laplace(params_l - h)) / 2e-4 for h in 1e-4 * np.eye(4)])
baseline_l = float(np.mean(per_sample_laplace(mu, logb, rng.uniform(size=(1000, 2)))[0]))   # other draws
f_l, g_path, e = per_sample_laplace(mu, logb, rng.uniform(size=(M, 2)))     # (M,), (M, 4), (M, 2)
score_l = np.concatenate([np.sign(e) / np.exp(logb), np.abs(e) - 1], axis=1)   # (M, 4) d log q/d(mu, logb)
lap = {"reparameterization": g_path, "REINFORCE": f_l[:, None] * score_l,
       "REINFORCE with baseline": (f_l - baseline_l)[:, None] * score_l}
NAMES_L = ["d/dmu1", "d/dmu2", "d/dlogb1", "d/dlogb2"]
print(f"    test digit 0 with a Laplace q: mu as in step 3, b = sigma / sqrt(2) = [{np.exp(logb[0]):.3f}, "
      f"{np.exp(logb[1]):.3f}] (the same variance)")
lap_var, lap_zmax = estimator_table(lap, exact_l, NAMES_L)
lv_rep, lv_sf, lv_sfb = (lap_var[k].sum() for k in lap)
print(f"    all three unbiased (within {lap_zmax:.1f} standard errors of the quadrature gradient); REINFORCE's "
      f"variance is {lv_sf / lv_rep:.0f}")
print(f"    times the trick's ({lv_sfb / lv_rep:.0f} times with a baseline), as with the Gaussian in step 5.  The "
      "trick needs only that z")
print("    be a differentiable T of (mu, logb) and of noise that does not depend on them; here T is an inverse")
print("    CDF, and the same code serves any family that has one.")
lesson.key(laplace_fd_error=laplace_fd_error, laplace_mean_zscore=mean_z, laplace_var_zscore=var_z,
           laplace_var_reparam=lv_rep, laplace_var_reinforce=lv_sf, laplace_var_reinforce_baseline=lv_sfb,
           laplace_max_zscore_of_the_means=lap_zmax)
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11.0, 3.9))
grid = np.linspace(MU_L - 6 * B_L, MU_L + 6 * B_L, 401)
ax.hist(draws, bins=np.linspace(grid[0], grid[-1], 121), density=True, color="C0", alpha=0.5,
        label=f"{N_DRAWS:,} draws z = T(u)")
ax.plot(grid, np.exp(-np.abs(grid - MU_L) / B_L) / (2 * B_L), "k-", linewidth=1.2,
        label=f"Laplace density, mu = {MU_L}, b = {B_L}")
ax.plot(grid, np.exp(-0.5 * (grid - MU_L) ** 2 / var_true) / np.sqrt(2 * np.pi * var_true), "k:",
        linewidth=1.2, label="a Gaussian of the same variance")
ax.set(xlabel="z", ylabel="density (per unit of z)",
       title=f"the sampler: mean {draws.mean():.3f}, variance {draws.var(ddof=1):.3f} (2b² = {var_true:.3f})")
values = np.concatenate([est[:, 0] for est in lap.values()])
edges = np.linspace(values.min(), values.max(), 161)            # every estimate is inside
for name, est in lap.items():
    ax2.hist(est[:, 0], bins=edges, density=True, histtype="step", linewidth=1.4,
             label=f"{name}: its variance {lap_var[name][0]:.3g}")
ax2.axvline(exact_l[0], color="0.3", linestyle=":", linewidth=1, label=f"exact dF/dmu1 = {exact_l[0]:+.3f}")
ax2.set_yscale("log")
ax2.set_ylim(top=ax2.get_ylim()[1] * 100)                        # two decades of room for the legend
ax2.set(xlabel="one-sample estimate of dF/dmu1", ylabel="density (per unit of the estimate)",
        title=f"F = E[log p(x|z)], z ~ Laplace: {M} draws each")
for a in (ax, ax2):
    a.grid(alpha=0.3)
    a.legend(fontsize=7)
fig.suptitle("beyond the Gaussian: the Laplace by its inverse CDF, z = mu + b e(u)", fontsize=10)
fig.tight_layout()
lesson.save(fig, "laplace.png")

lesson.done()
