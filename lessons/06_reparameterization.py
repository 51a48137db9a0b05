"""Lesson 06: the reparameterization trick, and why it matters: its gradient has low variance.

Lecture: "Reparameterization trick: The problem" (sampling z ~ q_phi(z|x) is stochastic, so
naive backpropagation does not work), "General form" (z = T_phi(x, eps)) and "Gaussian
case" (z = mu + sigma * eps, eps ~ N(0, I): gradients pass through mu and sigma while the
randomness stays in eps).

The gradient we want is that of the reconstruction term of one digit x,

    F(mu, logvar) = E_{z ~ N(mu, diag exp(logvar))} [ log p(x|z) ],

with respect to the four numbers (mu1, mu2, logvar1, logvar2) of its q(z|x).

What you will see:
  1. a trained VAE with Z = 2, one test digit and its q(z|x);
  2. the reparameterized gradient with eps held fixed, against central differences:
     with eps fixed, F_K is an ordinary function of (mu, logvar);
  3. the exact gradient, by central differences of F computed by quadrature;
  4. two unbiased estimators of it, one sample each:
       reparameterization   d log p(x|z)/dz * dz/d(mu, logvar)       (pathwise)
       REINFORCE            log p(x|z) * d log q(z)/d(mu, logvar)    (score function)
     their means (both match the exact gradient) and their variances (they do not);
  5. how many samples each needs for the same accuracy.

Run:   python lessons/06_reparameterization.py [--quick] [--out DIR]
Takes: about 2 seconds on 2 cores (--quick: about 1 second, with fewer samples and epochs).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data, gradcheck
from tinyvae.losses import bernoulli_log_likelihood, bernoulli_nll
from tinyvae.models import VAE
from tinyvae.reparam import reparameterize, reparameterize_backward
from tinyvae.train import fit

lesson = _common.Lesson("06_reparameterization", __doc__)
EPOCHS = lesson.pick(50, 10)
M = lesson.pick(50_000, 10_000)     # single-sample gradient estimates drawn from each estimator
NAMES = ["d/dmu1", "d/dmu2", "d/dlogvar1", "d/dlogvar2"]

# %% --- 1. the model, one digit and its q(z|x) ---
lesson.step(f"a VAE with Z = 2 ({EPOCHS} epochs) and one test digit")
ds = data.load("digits")
vae = VAE(ds.D, (128,), 2, rng=np.random.default_rng(lesson.seed))
fit(vae, ds.x_train, EPOCHS, batch_size=32, lr=3e-3, seed=lesson.seed)
model = vae.astype(np.float64)
x = ds.x_test[:1].astype(np.float64)                            # (1, D)
mu, logvar = (a[0].copy() for a in model.encode(x))             # (2,) each
print(f"    q(z|x) = N(mu = [{mu[0]:.3f}, {mu[1]:.3f}], sigma = [{np.exp(0.5 * logvar[0]):.3f}, "
      f"{np.exp(0.5 * logvar[1]):.3f}])")


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


# %% --- 2. the trick, against finite differences ---
lesson.step("with eps fixed, the reparameterized gradient is an ordinary derivative")
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

# %% --- 3. the exact gradient of F ---
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

# %% --- 4. two unbiased estimators, and their variance ---
lesson.step(f"reparameterization against REINFORCE: {M} one-sample estimates each")
eps = rng.standard_normal((M, 2))
f, g_rep = per_sample(mu, logvar, eps)                          # (M,), (M, 4)
std = np.exp(0.5 * logvar)
score = np.concatenate([eps / std, 0.5 * (eps ** 2 - 1)], axis=1)   # d log q(z)/d(mu, logvar) at z = mu + std eps
g_sf = f[:, None] * score                                       # REINFORCE
g_sfb = (f - f.mean())[:, None] * score                         # with a baseline: the mean of log p(x|z)
estimators = {"reparameterization": g_rep, "REINFORCE": g_sf, "REINFORCE with baseline": g_sfb}
rows, variance = [], {}
for name, est in estimators.items():
    mean, se = est.mean(axis=0), est.std(axis=0, ddof=1) / np.sqrt(M)
    variance[name] = est.var(axis=0, ddof=1)                    # (4,) per-sample variance
    zmax = float(np.max(np.abs(mean - exact) / se))
    rows.append([name, *mean, zmax, variance[name].sum()])
rows.append(["exact (quadrature)", *exact, 0.0, 0.0])
_common.table(["estimator", *NAMES, "max |mean-exact|/s.e.", "variance (sum)"], rows,
              ["{}"] + ["{:+.4f}"] * 4 + ["{:.2f}", "{:.3g}"])
v_rep, v_sf, v_sfb = (variance[k].sum() for k in estimators)
print(f"    variance per sample: reparameterization {v_rep:.3g}  REINFORCE {v_sf:.3g}  "
      f"(REINFORCE with a baseline {v_sfb:.3g})")
print(f"    both are unbiased, but REINFORCE's variance is {v_sf / v_rep:.0f} times larger (still "
      f"{v_sfb / v_rep:.0f} times with a baseline):")
print("    it uses only the value log p(x|z), while the trick uses its slope d log p(x|z)/dz.")
lesson.key(var_reparam=v_rep, var_reinforce=v_sf, var_reinforce_baseline=v_sfb)
fig, ax = plt.subplots(figsize=(6.2, 4.0))
span = np.percentile(np.concatenate([est[:, 0] for est in estimators.values()]), [0.5, 99.5])
for name, est in estimators.items():
    ax.hist(est[:, 0], bins=80, range=tuple(span), density=True, histtype="step", linewidth=1.6, label=name)
ax.set_yscale("log")
ax.set(xlabel="one-sample estimate of dF/dmu1", ylabel="density")
ax.set_title(f"three unbiased estimators of the same gradient (exact {exact[0]:+.3f})", fontsize=10)
ax.legend(fontsize=8)
lesson.save(fig, "estimators.png")

# %% --- 5. samples needed ---
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
    print(f"    {name:22s}: K = {int(np.ceil(v.sum() / target ** 2)):>7} samples for an error of 10% of |gradient|")
fig, ax = plt.subplots(figsize=(6.2, 4.0))
for name, err in series:
    ax.loglog(Ks, err, "o-", label=name)
ax.axhline(target, color="0.3", linestyle=":", label="10% of |gradient|")
ax.grid(which="both", alpha=0.2)                               # log-log: the minor decades too
ax.legend(fontsize=8, title="error of the K-sample estimate (it falls as 1/sqrt(K))", title_fontsize=9)
ax.set(xlabel="samples K averaged", ylabel="root mean squared error of the gradient")
lesson.save(fig, "error_vs_samples.png")

lesson.done()
