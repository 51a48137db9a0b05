"""Lesson 05: the ELBO, checked by integrating over every z of a 2-D latent.

Lecture: "VAE: Prior, likelihood, posterior", "VAE: Maximum likelihood objective" (the
marginal likelihood p(x) = integral of p(x|z) p(z) dz is expensive) and the ELBO slides:

    log p(x) = ELBO + KL(q(z|x) || p(z|x)),   ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z))

so the ELBO is a lower bound on log p(x), and maximising it also closes the gap.  With a
2-D latent the "expensive integral" is a sum over a fine grid, so every term can be
computed, not just bounded.

What you will see:
  1. a VAE with Z = 2 trained on the digits: prior p(z), likelihood p(x|z), encoder q(z|x);
  2. log p(x) by quadrature over z in [-6, 6]^2 (float64), and the exact posterior p(z|x);
  3. for a few test digits, three numbers computed three ways:
       log p(x)                 quadrature over the z grid,
       ELBO                     E_q[log p(x|z)] by quadrature over eps (z = mu + sigma eps),
                                minus the closed-form KL(q || p(z)),
       KL(q(z|x) || p(z|x))     quadrature over the z grid, with p(z|x) = p(x|z) p(z) / p(x),
     and log p(x) = ELBO + KL to 1e-3 nats, with ELBO <= log p(x);
  4. the gap closing as q improves: each digit's own mu and logvar, optimised by Adam on
     the reparameterized ELBO, with the encoder's q as the start.

Run:   python lessons/05_elbo.py [--quick] [--out DIR]
Takes: about 4 seconds on 2 cores (--quick: about 2 seconds: grid step 0.05 instead of
0.02, 10 training epochs instead of 50, fewer optimisation steps).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data
from tinyvae.losses import bernoulli_nll, kl_normal_std_normal, log_normal
from tinyvae.models import VAE
from tinyvae.optim import Adam
from tinyvae.reparam import reparameterize, reparameterize_backward
from tinyvae.train import fit

lesson = _common.Lesson("05_elbo", __doc__)
EPOCHS = lesson.pick(50, 10)
H_Z = lesson.pick(0.02, 0.05)       # step of the z grid over [-6, 6]^2
H_EPS = 0.1                         # step of the eps grid over [-7, 7]^2 (the ELBO's expectation)
N_DIGITS = lesson.pick(4, 3)        # test digits to examine
STEPS = lesson.pick([0, 10, 30, 100, 300], [0, 10, 60])   # Adam steps at which q is evaluated
K = 32                              # reparameterized samples per Adam step

# %% --- 1. the model ---
lesson.step(f"a VAE with a 2-D latent ({EPOCHS} epochs on the digits)")
ds = data.load("digits")
vae = VAE(ds.D, (128,), 2, rng=np.random.default_rng(lesson.seed))
curve = fit(vae, ds.x_train, EPOCHS, batch_size=32, lr=3e-3, seed=lesson.seed)
print(f"    training -ELBO {curve[-1].total:.2f} nats per digit (recon {curve[-1].recon:.2f} + KL {curve[-1].kl:.2f})")
model = vae.astype(np.float64)      # all the integrals in float64
x = ds.x_test[:N_DIGITS].astype(np.float64)                     # (P, D) the digits we examine
print("    prior p(z) = N(0, I); likelihood p(x|z) = Bernoulli(sigmoid(f_theta(z))); "
      "encoder q(z|x) = N(mu(x), diag sigma(x)^2)")

# %% --- 2. log p(x) and the posterior on a z grid ---
lesson.step(f"log p(x) = log sum over the grid of p(x|z) p(z) h^2  (z in [-6, 6]^2, step {H_Z})")
g = np.arange(-6.0, 6.0 + H_Z / 2, H_Z)                         # (n,) grid coordinates
G1, G2 = np.meshgrid(g, g)                                      # (n, n), [i2, i1]
z_grid = np.stack([G1.ravel(), G2.ravel()], axis=1)             # (G, 2)


def log_likelihood(z, x):
    """log p(x_p | z_g) for every grid point g and digit p: (G, P), decoded in chunks."""
    out = np.empty((len(z), len(x)))
    for s in range(0, len(z), 50_000):
        logits = model.decoder.forward(z[s:s + 50_000])          # (c, D)
        # log Bernoulli(x | sigmoid(l)) = l.x - sum_d softplus(l_d), for all P digits at once
        out[s:s + 50_000] = logits @ x.T - np.logaddexp(0.0, logits).sum(axis=1, keepdims=True)
    return out


log_px_z = log_likelihood(z_grid, x)                            # (G, P)
log_pz = log_normal(z_grid, np.zeros(2), np.zeros(2))           # (G,)
log_joint = log_px_z + log_pz[:, None]                          # (G, P) log p(x, z)
top = log_joint.max(axis=0)
log_px = top + np.log(np.sum(np.exp(log_joint - top), axis=0) * H_Z ** 2)   # (P,) log-sum-exp
log_post = log_joint - log_px                                   # (G, P) log p(z|x)
print(f"    {len(z_grid)} grid points; log p(x) of the {N_DIGITS} digits: "
      + ", ".join(f"{v:.4f}" for v in log_px))
print(f"    the posterior integrates to {np.exp(log_post).sum(axis=0).mean() * H_Z ** 2:.6f} on the grid")

# %% --- 3. log p(x) = ELBO + KL(q || p(z|x)) ---
lesson.step("three numbers, computed three ways: log p(x) = ELBO + KL(q(z|x) || p(z|x))")
e = np.arange(-7.0, 7.0 + H_EPS / 2, H_EPS)
E1, E2 = np.meshgrid(e, e)
eps_grid = np.stack([E1.ravel(), E2.ravel()], axis=1)           # (E, 2)
w_eps = np.exp(-0.5 * np.sum(eps_grid ** 2, axis=1))
w_eps /= w_eps.sum()                                            # quadrature weights of N(0, I)


def elbo(mu, logvar):
    """E_q[log p(x|z)] - KL(q || p(z)) per digit: the expectation by quadrature over eps."""
    out = np.empty(len(mu))
    for p in range(len(mu)):
        z, _ = reparameterize(mu[p], logvar[p], eps_grid)        # (E, 2) z = mu + sigma eps
        expected = np.sum(w_eps * log_likelihood(z, x[p:p + 1])[:, 0])
        kl = kl_normal_std_normal(mu[p:p + 1], logvar[p:p + 1])[0]      # closed form
        out[p] = expected - kl
    return out


def kl_to_posterior(mu, logvar):
    """KL(q(z|x) || p(z|x)) per digit, by quadrature over the z grid."""
    out = np.empty(len(mu))
    for p in range(len(mu)):
        log_q = log_normal(z_grid, mu[p], logvar[p])             # (G,)
        out[p] = np.sum(np.exp(log_q) * (log_q - log_post[:, p])) * H_Z ** 2
    return out


mu0, logvar0 = (a.copy() for a in model.encode(x))             # (P, 2) the encoder's q
elbo0, gap0 = elbo(mu0, logvar0), kl_to_posterior(mu0, logvar0)
rows = [[p, log_px[p], elbo0[p], gap0[p], elbo0[p] + gap0[p], abs(log_px[p] - elbo0[p] - gap0[p])]
        for p in range(N_DIGITS)]
_common.table(["digit", "log p(x)", "ELBO", "KL(q||p(z|x))", "ELBO + KL", "|difference|"], rows,
              ["{}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.1e}"])
identity_error = max(r[-1] for r in rows)
print(f"    largest |log p(x) - (ELBO + KL)| = {identity_error:.1e} nats (quadrature accuracy)")
print(f"    ELBO <= log p(x) for every digit: {bool(np.all(elbo0 <= log_px))}; the gap is the KL to the "
      f"true posterior, {gap0.min():.3f} to {gap0.max():.3f} nats")

# %% --- 4. the gap closes as q improves ---
lesson.step(f"improve q: Adam on each digit's own (mu, logvar), {K} reparameterized samples per step")
# the same gradient as VAE.loss_and_grad, stopped at (mu, logvar) instead of the encoder's weights
q_params = np.concatenate([mu0.ravel(), logvar0.ravel()])       # (2 P Z,) what Adam updates
q_grad = np.zeros_like(q_params)
mu, logvar = q_params[:mu0.size].reshape(mu0.shape), q_params[mu0.size:].reshape(mu0.shape)   # views
dmu, dlogvar = q_grad[:mu0.size].reshape(mu0.shape), q_grad[mu0.size:].reshape(mu0.shape)
opt = Adam(q_params, q_grad, lr=0.02)
rng = np.random.default_rng(lesson.seed)
P, Z = mu0.shape
x_rep = np.tile(x, (K, 1))                                      # (K P, D)
history = {"step": [], "elbo": [], "gap": []}
qs = [[("encoder's q", mu0[p].copy(), logvar0[p].copy(), "C0--")] for p in range(P)]
for t in range(STEPS[-1] + 1):
    if t in STEPS:
        el, gap = elbo(mu, logvar), kl_to_posterior(mu, logvar)
        history["step"].append(t)
        history["elbo"].append(el)
        history["gap"].append(gap)
    if t == STEPS[-1]:
        break
    eps = rng.standard_normal((K, P, Z))
    z, std = reparameterize(mu, logvar, eps)                    # (K, P, Z)
    logits = model.decoder.forward(z.reshape(K * P, Z))         # (K P, D)
    _, dlogits = bernoulli_nll(logits, x_rep)                   # mean over K P rows
    dz = model.decoder.backward(dlogits * P).reshape(K, P, Z)   # * P: a sum over digits, mean over K
    dmu_s, dlogvar_s = reparameterize_backward(dz, eps, std)    # (K, P, Z)
    _, dmu_kl, dlogvar_kl = kl_normal_std_normal(mu, logvar)    # means over P
    dmu[...] = dmu_s.sum(axis=0) + P * dmu_kl                   # gradient of -ELBO summed over digits
    dlogvar[...] = dlogvar_s.sum(axis=0) + P * dlogvar_kl
    model.zero_grad()                                           # the decoder's own gradients are unused
    opt.step()
for p in range(P):
    qs[p].append((f"after {STEPS[-1]} Adam steps", mu[p].copy(), logvar[p].copy(), "C3-"))
elbos, gaps = np.array(history["elbo"]), np.array(history["gap"])   # (T, P)
rows = [[t, elbos[i].mean(), gaps[i].mean(), np.max(np.abs(log_px - elbos[i] - gaps[i]))]
        for i, t in enumerate(history["step"])]
_common.table(["Adam step", "mean ELBO", "mean KL(q||p(z|x))", "max |log p(x) - ELBO - KL|"], rows,
              ["{}", "{:.4f}", "{:.4f}", "{:.1e}"])
print(f"    mean log p(x) = {log_px.mean():.4f} throughout: the model did not change, only q did.")
print(f"    the gap fell from {gaps[0].mean():.3f} to {gaps[-1].mean():.3f} nats.  What the per-digit q closes")
print("    is the amortization gap (one encoder for all x); what is left is the approximation gap:")
print("    the true posterior is not a diagonal Gaussian.")
identity_error = max(identity_error, float(np.max(np.abs(log_px - elbos - gaps))))
lesson.key(identity_error=identity_error, elbo_below_log_px=bool(np.all(elbos <= log_px)),
           log_px=log_px.mean(), elbo_encoder=elbos[0].mean(), elbo_optimised=elbos[-1].mean(),
           gap_encoder=gaps[0].mean(), gap_optimised=gaps[-1].mean())

fig, axes = plt.subplots(1, P, figsize=(3.6 * P, 3.9), squeeze=False)
angle = np.linspace(0, 2 * np.pi, 100)
for p, ax in enumerate(axes[0]):
    post = np.exp(log_post[:, p] - log_post[:, p].max()).reshape(G1.shape)   # p(z|x) on the grid, peak 1
    ax.contourf(g, g, post, levels=np.linspace(0.02, 1, 12), cmap="Greys")
    for label, mu, logvar, style in qs[p]:                        # the 2-sigma ellipse of each q
        std = np.exp(0.5 * np.asarray(logvar))
        ax.plot(mu[0] + 2 * std[0] * np.cos(angle), mu[1] + 2 * std[1] * np.sin(angle), style, lw=1.5,
                label=label)
    centre = np.array([np.sum(post * G1), np.sum(post * G2)]) / post.sum()          # mean of p(z|x)
    spread = np.sqrt(np.array([np.sum(post * (G1 - centre[0]) ** 2),
                               np.sum(post * (G2 - centre[1]) ** 2)]) / post.sum())   # its std per axis
    w = 4.5 * max(*spread, 0.05)                                   # half the width of the panel
    ax.set(xlim=(centre[0] - w, centre[0] + w), ylim=(centre[1] - w, centre[1] + w), aspect="equal",
           xlabel="z1", ylabel="z2")
    ax.set_title(f"log p(x) {log_px[p]:.2f}\nELBO {elbos[0, p]:.2f} (encoder) -> {elbos[-1, p]:.2f}", fontsize=8)
    inset = ax.inset_axes([0.70, 0.70, 0.28, 0.28])
    inset.imshow(1 - x[p].reshape(ds.image_shape), cmap="gray", vmin=0, vmax=1)
    inset.set(xticks=[], yticks=[])
axes[0, 0].legend(fontsize=7, loc="lower left")
fig.suptitle("grey: the true posterior p(z|x) on the grid;  lines: 2σ ellipses of Gaussian q(z|x)", fontsize=9)
fig.tight_layout()
lesson.save(fig, "posteriors.png")
steps = np.array(history["step"])
where = np.arange(len(steps))                                   # evenly spaced checkpoints
fig, ax = plt.subplots(figsize=(6.2, 4.0))
for p in range(P):
    ax.plot(where, gaps[:, p], "o-", label=f"test digit {p}")
ax.set_xticks(where)
ax.set_xticklabels([str(t) for t in steps])
ax.set(xlabel="Adam steps on q (0 = the encoder's q)", ylabel="log p(x) - ELBO = KL(q || p(z|x))  (nats)")
ax.set_title("the gap closes as q improves", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "gap_closing.png")

lesson.done()
