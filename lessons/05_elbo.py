"""Lesson 05: the ELBO, checked by integrating over every z of a 2-D latent.

Lecture: "VAE: Prior, likelihood, posterior", "VAE: Maximum likelihood objective" (the
marginal likelihood p(x) = integral of p(x|z) p(z) dz: "integral over all z is expensive",
so "introduce an approximation q_phi(z|x)") and the ELBO slides:

    log p(x) = ELBO + KL(q(z|x) || p(z|x)),   ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z))

so the ELBO is a lower bound on log p(x), and maximising it also closes the gap.  With a
2-D latent the "expensive integral" is a sum over a fine grid, so every term can be
computed, not just bounded.

What you will see:
  1. a VAE with Z = 2 trained on the digits: prior p(z), likelihood p(x|z), encoder q(z|x);
  2. the integral the expensive way: log p(x) by quadrature over z in [-6, 6]^2 (float64),
     the exact posterior p(z|x), and what the same grid would cost at Z = 16;
  3. Monte Carlo instead, at equal budgets: log p(x) from K draws of the prior (naive) and
     from K draws of q(z|x) (importance sampling), with the spread of each;
  4. log p(x) = ELBO + KL(q || p(z|x)) for a few test digits, and which of the checks could
     fail (independent computations) and which cannot (they hold by algebra);
  5. the gap over every test digit: a fraction of a nat for most, several nats for a few;
  6. how the gap closes: each digit's own (mu, logvar) optimised by Adam, with the package's
     hand-written gradients, to q*, the best Gaussian for that x.  The largest gap splits
     (Cremer, Li & Duvenaud 2018) into the amortization gap ELBO(q*) - ELBO(q_phi), what the
     encoder gives away by serving every x with one network, and the approximation gap
     log p(x) - ELBO(q*), what no diagonal Gaussian can close.  Then the importance-weighted
     bound with each q, and how much of its gap it closes at K = 1000;
  7. training on that bound (IWAE, Burda et al. 2016; tinyvae/iwae.py): the same VAE trained on
     L_K with K = 5 against K = 1 (the VAE itself), five seeds: the bound each trains on, log p(x)
     by the IW bound at K = 1000, the ELBO, q's sigma and the active units (log p(x) rises, the
     ELBO falls); then the gradient's signal-to-noise ratio as K grows, the encoder's falling and
     the decoder's rising (Rainforth et al. 2018).

Run:   python lessons/05_elbo.py [--quick] [--out DIR] [--seed S]
Takes: about 40 seconds on 2 cores (measured: 36 s of CPU with one BLAS thread, 25 of them step 7's
ten trainings, five evaluations at K = 1000 each and SNR draws; --quick: about 8 seconds: grid step
0.05 instead of 0.03, 10 training epochs instead of 50, fewer digits, repeats, optimisation steps,
two seeds in step 7 and K = 100 for its log p(x)).
"""
# %%
import _common

import time

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data
from tinyvae.evaluate import evaluate_vae, log_mean_exp
from tinyvae.iwae import IWAE
from tinyvae.losses import bernoulli_nll, kl_normal_std_normal, log_normal
from tinyvae.models import VAE
from tinyvae.optim import Adam
from tinyvae.reparam import reparameterize, reparameterize_backward
from tinyvae.train import fit

lesson = _common.Lesson("05_elbo", __doc__)
EPOCHS = lesson.pick(50, 10)
H_Z = lesson.pick(0.03, 0.05)       # step of the z grid over [-6, 6]^2
H_EPS = 0.1                         # step of the eps grid over [-7, 7]^2 (the ELBO's expectation)
N_PLAIN = lesson.pick(3, 2)         # the first test digits examined in steps 4 and 6 (plus the worst)
N_MC = lesson.pick(20, 6)           # test digits of the Monte Carlo comparison (step 3)
K_MC = 100                          # draws per Monte Carlo estimate of p(x), the same for both
R_MC = lesson.pick(100, 40)         # repeated estimates per digit, for the spread
STEPS = lesson.pick([0, 10, 30, 100, 300], [0, 10, 60])   # Adam steps at which q is evaluated
K_ADAM = 32                         # reparameterized samples per Adam step
IW_KS = lesson.pick([1, 10, 100, 1000], [1, 10, 100])      # K of the importance-weighted bound
IW_DRAWS = lesson.pick(50_000, 10_000)                   # draws per K (IW_DRAWS // K repeats)
K_TRAIN = 5                         # step 7: the K of the importance-weighted bound trained on, against K = 1
SEEDS = [lesson.seed + i for i in range(lesson.pick(5, 2))]   # step 7's seeds (--seed 20: 20-24)
K_EVAL = lesson.pick(1000, 100)     # step 7: draws of the IW estimate of log p(x) per test digit
SNR_KS = lesson.pick([1, 4, 16, 64], [1, 4, 16])          # step 7: K of the gradient's signal-to-noise ratio
N_SNR, R_SNR = 16, lesson.pick(200, 60)                  # its minibatch of digits, and gradient draws per K

# %% --- 1. the model ---
lesson.step(f"a VAE with a 2-D latent ({EPOCHS} epochs on the digits)")
ds = data.load("digits")
vae = VAE(ds.D, (128,), 2, rng=np.random.default_rng(lesson.seed))
curve = fit(vae, ds.x_train, EPOCHS, batch_size=32, lr=3e-3, seed=lesson.seed)
print(f"    training -ELBO {curve[-1].total:.2f} nats per digit (recon {curve[-1].recon:.2f} + KL {curve[-1].kl:.2f})")
model = vae.astype(np.float64)      # all the integrals in float64
X = ds.x_test.astype(np.float64)    # (299, D) every test digit
MU, LOGVAR = (a.copy() for a in model.encode(X))                # (299, 2) each: the encoder's q(z|x)
print("    prior p(z) = N(0, I); likelihood p(x|z) = Bernoulli(sigmoid(f_theta(z)));")
print("    encoder q(z|x) = N(mu(x), diag sigma(x)^2)")


def name(i):
    """How the lesson names test digit i: its index in the test split and its label."""
    return f"test image {i} (a {ds.y_test[i]})"


# %% --- 2. the integral on a grid, and its cost ---
lesson.step(f"log p(x) = log sum over the grid of p(x|z) p(z) h^2  (z in [-6, 6]^2, step {H_Z})")
g = np.arange(-6.0, 6.0 + H_Z / 2, H_Z)                         # (n,) grid coordinates
G1, G2 = np.meshgrid(g, g)                                      # (n, n), [i2, i1]
z_grid = np.stack([G1.ravel(), G2.ravel()], axis=1)             # (G, 2)
logits_grid = np.empty((len(z_grid), ds.D))                     # (G, D) the decoder at every grid point
softplus_grid = np.empty(len(z_grid))                           # (G,) sum_d softplus(logit_d)
t0 = time.perf_counter()
for s in range(0, len(z_grid), 20_000):                         # in chunks, to keep the memory small
    logits_grid[s:s + 20_000] = model.decoder.forward(z_grid[s:s + 20_000])
    softplus_grid[s:s + 20_000] = np.logaddexp(0.0, logits_grid[s:s + 20_000]).sum(axis=1)
grid_seconds = time.perf_counter() - t0
log_pz = log_normal(z_grid, np.zeros(2), np.zeros(2))           # (G,) log p(z)


def log_likelihood_grid(x):
    """log p(x_p | z_g) = l.x - sum_d softplus(l_d) for every grid point and digit: (G, P)."""
    return logits_grid @ x.T - softplus_grid[:, None]


def log_sum(a, axis=0):
    """log sum exp(a) along ``axis``, the maximum taken out first."""
    top = a.max(axis=axis)
    return top + np.log(np.sum(np.exp(a - np.expand_dims(top, axis)), axis=axis))


def elbo_on_grid(log_joint, mu, logvar):
    """E_q[log p(x, z) - log q(z)] by quadrature over the z grid, ``log_joint`` (n, n) = log p(x, z),
    summed where q is above e^-32 of its peak (within 8 sigma): the ELBO without the eps grid."""
    std = np.exp(0.5 * logvar)
    cols, rows = (np.abs(g - mu[k]) <= 8 * std[k] for k in (0, 1))   # z1 is the column, z2 the row
    log_q = (log_normal(g[rows, None], mu[1:], logvar[1:])[:, None]
             + log_normal(g[cols, None], mu[:1], logvar[:1])[None, :])   # (r, c) q is a product over z1, z2
    return np.sum(np.exp(log_q) * (log_joint[np.ix_(rows, cols)] - log_q)) * H_Z ** 2


# every test digit, 8 at a time: log p(x), the ELBO on the z grid, the information
# KL(p(z|x) || p(z)), and log of the integral of p(x|z)^2 p(z) (step 3's formula)
P = len(X)
log_px, elbo_grid, information, log_second = (np.empty(P) for _ in range(4))
log_px_coarse = np.empty(P)
for s in range(0, P, 8):
    log_px_z = log_likelihood_grid(X[s:s + 8])                 # (G, c)
    log_joint = log_px_z + log_pz[:, None]                      # (G, c) log p(x, z)
    log_px[s:s + 8] = log_sum(log_joint) + 2 * np.log(H_Z)
    coarse = log_joint.reshape(len(g), len(g), -1)[::2, ::2].reshape(-1, log_joint.shape[1])
    log_px_coarse[s:s + 8] = log_sum(coarse) + 2 * np.log(2 * H_Z)   # every other point, step 2h
    post = np.exp(log_joint - log_px[s:s + 8]) * H_Z ** 2      # (G, c) p(z|x) h^2
    information[s:s + 8] = np.sum(post * log_px_z, axis=0) - log_px[s:s + 8]
    log_second[s:s + 8] = log_sum(2 * log_px_z + log_pz[:, None]) + 2 * np.log(H_Z)
    for j in range(log_joint.shape[1]):
        elbo_grid[s + j] = elbo_on_grid(log_joint[:, j].reshape(G1.shape), MU[s + j], LOGVAR[s + j])
gap_all = log_px - elbo_grid                                    # (299,) KL(q || p(z|x)) of every digit
worst = int(np.argmax(gap_all))
examined = [i for i in range(N_PLAIN + 1) if i != worst][:N_PLAIN] + [worst]   # steps 4 and 6: the worst last
x = X[examined]                                                 # (E, D)
log_post = log_likelihood_grid(x) + log_pz[:, None] - log_px[examined]    # (G, E) log p(z|x)
print(f"    {len(z_grid)} grid points, one decoder pass each: {grid_seconds:.2f} s "
      f"({len(z_grid) / grid_seconds:,.0f} passes per second)")
print(f"    mean log p(x) over the {P} test digits: {log_px.mean():.3f} nats; the grid at step {2 * H_Z:g} "
      f"gives the same to {np.max(np.abs(log_px - log_px_coarse)):.1e}")
per_axis = len(g)
years = per_axis ** 16 / (len(z_grid) / grid_seconds) / 3.15e7
years_10 = 10.0 ** 16 / (len(z_grid) / grid_seconds) / 3.15e7
print(f"    the same grid at Z = 16: {per_axis}^16 = {float(per_axis) ** 16:.1e} decoder passes, about "
      f"{years:.0e} years at this speed;")
print(f"    even a crude 10 points per axis is 1e16 passes, about {years_10:,.0f} years.")
print("    That is why the integral is 'expensive'.")
lesson.key(grid_points=len(z_grid), grid_seconds=grid_seconds, grid_years_at_Z16=years)

# %% --- 3. Monte Carlo instead of the grid ---
lesson.step(f"Monte Carlo at equal budgets: {K_MC} draws per estimate of p(x), {R_MC} estimates per digit")
print("    naive:      p(x) ~ (1/K) sum_k p(x|z_k),                    z_k ~ p(z)")
print("    importance: p(x) ~ (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),  z_k ~ q(z|x)")
rng = np.random.default_rng(lesson.seed)


def log_joint_at(z, x_i):
    """log p(x_i, z) = log p(x_i|z) + log p(z) for draws z (n, 2), decoded 10,000 at a time: (n,)."""
    out = log_normal(z, np.zeros(2), np.zeros(2))                # (n,) log p(z)
    for s in range(0, len(z), 10_000):
        logits = model.decoder.forward(z[s:s + 10_000])          # (c, D)
        out[s:s + 10_000] += logits @ x_i - np.logaddexp(0.0, logits).sum(axis=1)
    return out


def estimates(i, proposal):
    """R_MC estimates of log p(x_i), each from K_MC draws of the proposal ("naive" or "q"): (R,)."""
    eps = rng.standard_normal((R_MC * K_MC, 2))                  # (R K, 2)
    if proposal == "naive":
        z, log_r = eps, log_normal(eps, np.zeros(2), np.zeros(2))   # z ~ p(z)
    else:
        z, _ = reparameterize(MU[i], LOGVAR[i], eps)             # z ~ q(z|x)
        log_r = log_normal(z, MU[i], LOGVAR[i])
    log_w = log_joint_at(z, X[i]) - log_r                        # (R K,) log p(x, z) / r(z)
    return log_mean_exp(log_w.reshape(R_MC, K_MC), axis=1)      # (R,) log of the mean weight


mc_digits = [i for i in range(N_MC + 1) if i != worst][:N_MC] + [worst]       # the first N_MC, then the worst
rel_sd, mean_z = {"naive": [], "q": []}, []
for i in mc_digits:
    for proposal in rel_sd:
        ratio = np.exp(estimates(i, proposal) - log_px[i])       # (R,) p_hat / p(x), mean 1 if unbiased
        rel_sd[proposal].append(ratio.std(ddof=1))
        if proposal == "naive":                                  # an independent check of the grid
            mean_z.append((ratio.mean() - 1) / (ratio.std(ddof=1) / np.sqrt(R_MC)))
rel_sd = {k: np.array(v) for k, v in rel_sd.items()}
# naive sampling's relative variance, exactly: (E_p(z)[p(x|z)^2] / p(x)^2 - 1) / K
formula = np.sqrt(np.expm1(log_second[mc_digits] - 2 * log_px[mc_digits]) / K_MC)
plain = np.arange(len(mc_digits)) < N_MC                        # all but the worst
median = {k: float(np.median(v[plain])) for k, v in rel_sd.items()}
print(f"    the relative SD of p_hat = SD(p_hat) / p(x), over {N_MC} digits (p(x) from the grid):")
_common.table(["estimator", "median", "range", "formula, median"],
              [["naive (prior)", median["naive"], f"{rel_sd['naive'][plain].min():.3f} - {rel_sd['naive'][plain].max():.3f}",
                f"{np.median(formula[plain]):.3f}"],
               ["importance (q)", median["q"], f"{rel_sd['q'][plain].min():.3f} - {rel_sd['q'][plain].max():.3f}",
                "-"]], ["{}", "{:.3f}", "{}", "{}"])
print("    the naive spread matches its formula, sqrt((E_p(z)[p(x|z)^2] / p(x)^2 - 1) / K) on the grid:")
print(f"    measured / formula {np.median(rel_sd['naive'] / formula):.2f} (median).  The same formula for q is infinite: q's tails "
      "fall faster than")
print("    p(x, z)'s, so E_q[w^2] = infinity, although the spread measured on ordinary digits is small.")
print(f"    for the same {K_MC} decoder passes, sampling from q is {median['naive'] / median['q']:.1f} times "
      f"more precise:\n    {(median['naive'] / median['q']) ** 2:.0f} times fewer passes for the same spread.")
print(f"    {name(worst)}, the digit with the largest gap (step 5): naive {rel_sd['naive'][-1]:.3f}, "
      f"importance {rel_sd['q'][-1]:.3f}.")
print("    Importance sampling is only as good as q: where q misses part of the posterior, a rare draw")
print("    lands there with a huge weight.  Naive sampling is fine here because each posterior covers a")
print(f"    large piece of the prior (KL(p(z|x) || p(z)) = {np.median(information):.1f} nats, median): its relative "
      "variance is at least")
print("    (e^KL - 1) / K, and for a latent that says more about x, e^KL grows past any budget.")
lesson.key(log_px_rel_sd_naive=median["naive"], log_px_rel_sd_importance=median["q"],
           log_px_rel_sd_naive_worst_digit=rel_sd["naive"][-1], log_px_rel_sd_importance_worst_digit=rel_sd["q"][-1])
fig, ax = plt.subplots(figsize=(9.4, 4.2))
info = information[mc_digits]
ax.semilogy(info[plain], rel_sd["naive"][plain], "o", color="C0", label="naive: z ~ p(z)")
ax.semilogy(info[plain], rel_sd["q"][plain], "s", color="C1", label="importance: z ~ q(z|x)")
ax.semilogy(info[plain], formula[plain], "_", color="k", markersize=12, label="naive, formula from the grid")
span = np.linspace(min(info.min(), 0.5), info.max() + 0.3, 100)
ax.semilogy(span, np.sqrt(np.expm1(span) / K_MC), ":", color="0.4", label="lower bound sqrt((e^KL - 1) / K)")
ax.semilogy(info[-1], rel_sd["naive"][-1], "o", mfc="none", color="C0", markersize=11)
ax.semilogy(info[-1], rel_sd["q"][-1], "s", mfc="none", color="C1", markersize=11,
            label=f"open: {name(worst)}, the largest gap")
ax.set(xlabel="KL(p(z|x) || p(z)) of the digit (nats)", ylabel="relative SD of the estimate of p(x)")
ax.set_title(f"log p(x) by Monte Carlo, {K_MC} decoder passes per estimate ({R_MC} estimates per digit)",
             fontsize=9)
ax.grid(which="both", alpha=0.2)
ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))     # beside the data, not on it
_common.plain_log_ticks(ax, "y")
fig.tight_layout()
lesson.save(fig, "monte_carlo.png")

# %% --- 4. log p(x) = ELBO + KL(q || p(z|x)) ---
lesson.step("three numbers, computed three ways: log p(x) = ELBO + KL(q(z|x) || p(z|x))")
print("    examined: " + ", ".join(name(i) for i in examined[:-1]))
print(f"    and {name(worst)}, the largest gap (step 5)")
e = np.arange(-7.0, 7.0 + H_EPS / 2, H_EPS)
E1, E2 = np.meshgrid(e, e)
eps_grid = np.stack([E1.ravel(), E2.ravel()], axis=1)           # (E, 2)
w_eps = np.exp(-0.5 * np.sum(eps_grid ** 2, axis=1))
w_eps /= w_eps.sum()                                            # quadrature weights of N(0, I)


def elbo(mu, logvar, owner=None):
    """E_q[log p(x|z)] - KL(q || p(z)) per row of (mu, logvar), row p a q for examined digit
    owner[p] (default: row p is digit p): the expectation by quadrature over eps
    (z = mu + sigma eps), the KL in closed form.  No z grid, no p(x)."""
    owner = range(len(mu)) if owner is None else owner
    out = np.empty(len(mu))
    for p, o in enumerate(owner):
        z, _ = reparameterize(mu[p], logvar[p], eps_grid)        # (E, 2) z = mu + sigma eps
        logits = model.decoder.forward(z)                        # (E, D)
        log_px_z = logits @ x[o] - np.logaddexp(0.0, logits).sum(axis=1)
        out[p] = np.sum(w_eps * log_px_z) - kl_normal_std_normal(mu[p:p + 1], logvar[p:p + 1])[0]
    return out


def kl_to_posterior(mu, logvar, owner=None):
    """KL(q(z|x) || p(z|x)) per row, row p a q for examined digit owner[p], by quadrature over the z grid."""
    owner = range(len(mu)) if owner is None else owner
    out = np.empty(len(mu))
    for p, o in enumerate(owner):
        log_q = log_normal(z_grid, mu[p], logvar[p])             # (G,)
        out[p] = np.sum(np.exp(log_q) * (log_q - log_post[:, o])) * H_Z ** 2
    return out


mu0, logvar0 = MU[examined].copy(), LOGVAR[examined].copy()     # (E, 2) the encoder's q
lp = log_px[examined]
elbo0, gap0 = elbo(mu0, logvar0), kl_to_posterior(mu0, logvar0)
rows = [[i, lp[p], elbo0[p], gap0[p], elbo0[p] + gap0[p], abs(lp[p] - elbo0[p] - gap0[p])]
        for p, i in enumerate(examined)]
_common.table(["digit", "log p(x)", "ELBO", "KL(q||p(z|x))", "ELBO + KL", "|difference|"], rows,
              ["{}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.1e}"])
identity_error = max(r[-1] for r in rows)
two_elbos = float(np.max(np.abs(elbo0 - elbo_grid[examined])))
print(f"    largest |log p(x) - (ELBO + KL)| = {identity_error:.1e} nats")
print("    Which of these checks could fail?")
print(f"      independent: log p(x) on the grid at step {H_Z:g} and at {2 * H_Z:g} agree to "
      f"{np.max(np.abs(log_px - log_px_coarse)):.1e} nats (step 2)")
print("      independent: the naive Monte Carlo means of step 3 agree with the grid's p(x):")
print(f"                   largest |mean - p(x)| / s.e. {np.max(np.abs(mean_z)):.1f}")
print(f"      independent: the ELBO above (quadrature over eps + closed-form KL) and the ELBO on the z grid,")
print(f"                   E_q[log p(x, z) - log q(z)], agree to {two_elbos:.1e} nats.  That, and that q integrates")
print("                   to 1 on the grid, is all that 'ELBO + KL = log p(x)' tests here:")
print("      by algebra:  ELBO + KL(q || p(z|x)) = log p(x) once p(z|x) is defined as p(x, z) / p(x), as it is")
print("                   here; and that p(z|x) integrates to 1 (it is divided by its own sum).")
print("      a theorem:   ELBO <= log p(x) is KL >= 0 (Jensen); it can fail only by a bug or a poor grid.")
print(f"    ELBO <= log p(x) for every digit: {bool(np.all(elbo0 <= lp))}; the gap is the KL to the true "
      f"posterior, {gap0.min():.3f} to {gap0.max():.3f} nats")
lesson.key(two_elbos_differ=two_elbos, grid_step_difference=np.max(np.abs(log_px - log_px_coarse)),
           naive_mean_max_zscore=np.max(np.abs(mean_z)))

# %% --- 5. the gap over every test digit ---
lesson.step(f"the gap log p(x) - ELBO = KL(q(z|x) || p(z|x)) of all {P} test digits")
quant = np.percentile(gap_all, [50, 90, 99])
print(f"    median {quant[0]:.3f} nats, 90th percentile {quant[1]:.3f}, 99th {quant[2]:.3f}, largest "
      f"{gap_all[worst]:.3f} ({name(worst)})")
post_w = np.exp(log_post[:, -1] - log_post[:, -1].max()).reshape(G1.shape)   # the worst digit's p(z|x), peak 1
inner = post_w[1:-1, 1:-1]
peaks = np.ones_like(inner, dtype=bool)                          # local maxima of the posterior on the grid
for di in (-1, 0, 1):
    for dj in (-1, 0, 1):
        if di or dj:
            peaks &= inner > post_w[1 + di:post_w.shape[0] - 1 + di, 1 + dj:post_w.shape[1] - 1 + dj]
peaks &= inner > 0.01                                            # peaks above 1% of the highest
peak_rc = np.argwhere(peaks)[np.argsort(-inner[peaks])]         # (M, 2) [row, column], highest first
peak_z = g[peak_rc[:, ::-1] + 1]                                 # (M, 2) their (z1, z2)
apart = [k for k in range(len(peak_z))                           # one peak per hill: drop those within 0.5
         if np.all(np.hypot(*(peak_z[:k] - peak_z[k]).T) >= 0.5)][:3]   # of a higher one; at most 3
peak_rc, peak_z = peak_rc[apart], peak_z[apart]
modes = len(peak_z)
print(f"    its posterior has {modes} peak{'s' if modes != 1 else ''} (local maxima above 1% of the highest, 0.5 apart"
      + (f"; the second is {inner[tuple(peak_rc[1])]:.0%} as high)" if modes > 1 else ")"))
print("    Is a gap of that size the posterior's shape, which no Gaussian can follow, or the encoder, which")
print("    must serve every x at once?  Step 6 measures each part.")
lesson.key(largest_gap_nats=gap_all[worst], median_gap_nats=quant[0], worst_digit_modes=modes)
fig, ax = plt.subplots(figsize=(6.2, 4.0))
bins = np.geomspace(max(gap_all.min(), 1e-3) * 0.9, gap_all.max() * 1.1, 40)
ax.hist(gap_all, bins=bins, color="C0")
ax.set_xscale("log")
ax.axvline(gap_all[worst], color="C3", linestyle=":", label=f"largest: {name(worst)}, {gap_all[worst]:.2f} nats")
ax.axvline(quant[0], color="0.3", linestyle="--", label=f"median {quant[0]:.2f} nats")
ax.set(xlabel="log p(x) - ELBO (nats, log scale)", ylabel="test digits")
ax.set_title("the ELBO's gap with the encoder's q, every test digit", fontsize=10)
ax.legend(fontsize=8)
_common.plain_log_ticks(ax, "x", steps=(1, 3))
lesson.save(fig, "gaps.png")

# %% --- 6. how the gap closes: amortization and approximation ---
lesson.step(f"improve q: Adam on each digit's own (mu, logvar), {K_ADAM} reparameterized samples per step")
# Cremer, Li & Duvenaud (2018), "Inference suboptimality in variational autoencoders", split the gap
# with q* = the best Gaussian for this one x (found here by Adam on its own mu, logvar):
#   log p(x) - ELBO(q_phi) = [log p(x) - ELBO(q*)]    + [ELBO(q*) - ELBO(q_phi)]
#                          =  approximation gap       +  amortization gap
# the largest gap's digit is also started at each peak of its posterior (step 5), so that q* is the
# best of several local optima, not the one nearest the encoder's guess
owner = list(range(len(examined))) + [len(examined) - 1] * modes    # row -> examined digit
mu_start = np.concatenate([mu0, peak_z])                        # (R, 2) the encoder's q, then each peak
logvar_start = np.concatenate([logvar0, np.tile(logvar0[-1], (modes, 1))])
# the same gradient as VAE.loss_and_grad, stopped at (mu, logvar) instead of the encoder's weights
q_params = np.concatenate([mu_start.ravel(), logvar_start.ravel()])   # (2 R Z,) what Adam updates
q_grad = np.zeros_like(q_params)
n_q = mu_start.size
mu, logvar = q_params[:n_q].reshape(mu_start.shape), q_params[n_q:].reshape(mu_start.shape)   # views
dmu, dlogvar = q_grad[:n_q].reshape(mu_start.shape), q_grad[n_q:].reshape(mu_start.shape)
opt = Adam(q_params, q_grad, lr=0.02)
R, Z = mu_start.shape                                           # R rows of q, Z = 2
E = len(examined)
x_rep = np.tile(x[owner], (K_ADAM, 1))                          # (K R, D)
history = {"step": [], "elbo": [], "gap": []}
for t in range(STEPS[-1] + 1):
    if t in STEPS:
        history["step"].append(t)
        history["elbo"].append(elbo(mu, logvar, owner))
        history["gap"].append(kl_to_posterior(mu, logvar, owner))
    if t == STEPS[-1]:
        break
    opt.lr = 0.02 if t < STEPS[-1] // 2 else 0.005               # a smaller step for the second half: less noise
    eps = rng.standard_normal((K_ADAM, R, Z))
    z, std = reparameterize(mu, logvar, eps)                    # (K, R, Z)
    logits = model.decoder.forward(z.reshape(K_ADAM * R, Z))    # (K R, D)
    _, dlogits = bernoulli_nll(logits, x_rep)                   # mean over K R rows
    dz = model.decoder.backward(dlogits * R).reshape(K_ADAM, R, Z)   # * R: a sum over rows, mean over K
    dmu_s, dlogvar_s = reparameterize_backward(dz, eps, std)    # (K, R, Z)
    _, dmu_kl, dlogvar_kl = kl_normal_std_normal(mu, logvar)    # means over R
    dmu[...] = dmu_s.sum(axis=0) + R * dmu_kl                   # gradient of -ELBO summed over rows
    dlogvar[...] = dlogvar_s.sum(axis=0) + R * dlogvar_kl
    model.zero_grad()                                           # the decoder's own gradients are unused
    opt.step()
elbos_all, gaps_all = np.array(history["elbo"]), np.array(history["gap"])   # (T, R)
starts = np.arange(E - 1, R)                                    # the rows of the worst digit
best = int(starts[np.argmax(elbos_all[-1, starts])])            # q*: its best final ELBO
elbos, gaps = elbos_all[:, :E], gaps_all[:, :E]                 # (T, E) each digit, Adam from the encoder's q
keep = list(range(E - 1)) + [best]
mu_star, logvar_star = mu[keep].copy(), logvar[keep].copy()     # (E, 2) each digit's q*
elbo_star, gap_star = elbos_all[-1, keep], gaps_all[-1, keep]   # (E,) and its ELBO and gap
rows = [[t, elbos[i].mean(), gaps[i].mean(), gaps[i, :-1].mean(), gaps[i, -1],
         np.max(np.abs(lp - elbos[i] - gaps[i]))] for i, t in enumerate(history["step"])]
print("    (each digit started from the encoder's q)")
_common.table(["Adam step", "mean ELBO", "mean gap", f"gap, first {N_PLAIN}", "gap, the worst",
               "max |log p(x) - ELBO - KL|"], rows, ["{}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.4f}", "{:.1e}"])
start_names = ["the encoder's q"] + [f"the peak at ({a:.2f}, {b:.2f})" for a, b in peak_z]
print(f"    log p(x) did not change, only q did.  {name(worst)} was also started at each peak of p(z|x):")
_common.table(["started from", f"ELBO after {STEPS[-1]} steps", "gap"],
              [[n, elbos_all[-1, r], gaps_all[-1, r]] for n, r in zip(start_names, starts)], ["{}", "{:.3f}", "{:.3f}"])
print(f"    q* for it is the best of these (from {start_names[best - E + 1]}).")
identity_error = max(identity_error, float(np.max(np.abs(lp[owner] - elbos_all - gaps_all))))

total = lp[-1] - elbo0[-1]                                      # the worst digit's gap with the encoder's q
approximation = lp[-1] - elbo_star[-1]                          # log p(x) - ELBO(q*)
amortization = elbo_star[-1] - elbo0[-1]                        # ELBO(q*) - ELBO(q_phi)
larger = "amortization" if amortization > approximation else "approximation"
print(f"\n    the largest gap, split (Cremer, Li & Duvenaud 2018), q* the best Gaussian for this one x:")
print("      log p(x) - ELBO(q_phi) = [log p(x) - ELBO(q*)]  +  [ELBO(q*) - ELBO(q_phi)]")
print(f"      {total:22.3f} = {approximation:10.3f} (approximation)  + {amortization:7.3f} (amortization)")
print(f"    the {larger} gap dominates: {max(amortization, approximation) / total:.0%} of the gap.")
print("      approximation: no diagonal Gaussian is this posterior;")
print("      amortization: the encoder, one network for every x, does not give this x its best Gaussian.")
ellipse = np.sum(((z_grid - mu_star[-1]) / np.exp(0.5 * logvar_star[-1])) ** 2, axis=1) <= 16   # within 4 sigma
inside = float(np.sum(np.exp(log_post[:, -1])[ellipse]) * H_Z ** 2)      # p(z|x)'s mass within q*'s 4-sigma ellipse
print(f"    What q* cannot close: p(z|x) puts {1 - inside:.1%} of its mass more than 4 sigma from q*; the posterior")
print(f"    itself, cut off there, would fall -log({inside:.3f}) = {-np.log(inside):.3f} nats short.  For the first "
      f"{N_PLAIN} digits")
amortization_first = elbo_star[:-1] - elbo0[:-1]                # (E - 1,) the same split, the first digits
print(f"    the same split: amortization {amortization_first.min():.3f} to {amortization_first.max():.3f} nats, "
      f"approximation {gap_star[:-1].min():.3f} to {gap_star[:-1].max():.3f}.")
lesson.key(amortization_gap_nats=amortization, approximation_gap_nats=approximation,
           worst_gap_encoder_nats=total, worst_posterior_mass_beyond_4sigma_of_q_star=1 - inside)

print("\n    the importance-weighted bound, log (1/K) sum_k p(x, z_k) / q(z_k|x) with z_k ~ q,")
print(f"    for {name(worst)}:")
iw = {}
for label, (m_q, lv_q) in (("the encoder's q", (mu0[-1], logvar0[-1])),
                           ("q*", (mu_star[-1], logvar_star[-1]))):
    rows, iw[label] = [], []
    for K in IW_KS:
        n_rep = IW_DRAWS // K
        eps = rng.standard_normal((n_rep * K, 2))
        z, _ = reparameterize(m_q, lv_q, eps)                    # (n K, 2) z ~ q
        log_w = log_joint_at(z, x[-1]) - log_normal(z, m_q, lv_q)     # (n K,) log p(x, z) / q(z|x)
        bound_gap = lp[-1] - log_mean_exp(log_w.reshape(n_rep, K), axis=1)     # (n,) log p(x) - bound
        iw[label].append([*np.percentile(bound_gap, [10, 90]), bound_gap.mean(),
                          bound_gap.std(ddof=1) / np.sqrt(n_rep)])
        rows.append([K, n_rep, *iw[label][-1]])
    print(f"      with {label}:")
    _common.table(["K", "repeats", "gap, 10th pct", "90th pct", "mean", "s.e. of mean"], rows,
                  ["{}", "{}", "{:.3f}", "{:.3f}", "{:.3f}", "{:.3f}"])
    iw[label] = np.array(iw[label])                              # (len(IW_KS), 4)


def closed(band):
    """The share of its K = 1 gap the bound closes at the largest K, and whether the fall is more than
    three standard errors (of the two means)."""
    fall = band[0, 2] - band[-1, 2]
    return fall / band[0, 2], fall > 3 * np.hypot(band[0, 3], band[-1, 3])


(enc_1, enc_k), (opt_1, opt_k) = ((band[0, 2], band[-1, 2]) for band in iw.values())
(enc_share, enc_real), (opt_share, opt_real) = (closed(band) for band in iw.values())
encoder_iw = enc_k
print(f"    from K = 1 (the ELBO) to K = {IW_KS[-1]}: the encoder's q {enc_1:.2f} -> {enc_k:.2f} nats "
      f"({enc_share:.0%} of its gap closed),")
print(f"    q* {opt_1:.2f} -> {opt_k:.2f} ({opt_share:.0%}" + ("" if opt_real else ", within 3 s.e. of none") + ").  "
      "The bound tends to log p(x) as K goes to infinity")
print("    for any q, but at these K only as far as q's draws reach the posterior's mass: q*'s draws do not")
print(f"    reach the {1 - inside:.1%} beyond its 4 sigma, worth {-np.log(inside):.2f} nats (above); the broader "
      "encoder's q reaches more of it.")
print("    Single estimates scatter to both sides of log p(x); the bound holds for their mean.")
lesson.key(identity_error=identity_error, elbo_below_log_px=bool(np.all(elbos_all <= lp[owner])),
           log_px=lp.mean(), elbo_encoder=elbos[0].mean(), elbo_optimised=elbo_star.mean(),
           gap_encoder=gaps[0].mean(), gap_optimised=gap_star.mean(),
           worst_gap_optimised_q=gap_star[-1], worst_gap_iw_largest_k=encoder_iw,
           worst_gap_iw_largest_k_q_star=opt_k, iw_share_closed_encoder=enc_share, iw_share_closed_q_star=opt_share)

fig, axes = plt.subplots(1, E, figsize=(3.6 * E, 3.9), squeeze=False)
angle = np.linspace(0, 2 * np.pi, 100)
for p, ax in enumerate(axes[0]):
    post = np.exp(log_post[:, p] - log_post[:, p].max()).reshape(G1.shape)   # p(z|x) on the grid, peak 1
    ax.contourf(g, g, post, levels=np.linspace(0.02, 1, 12), cmap="Greys")
    qs = [("encoder's q", mu0[p], logvar0[p], "C0--"), ("q*: the best after " + f"{STEPS[-1]} Adam steps",
                                                          mu_star[p], logvar_star[p], "C3-")]
    if p == E - 1:                                               # the other starts of the worst digit
        qs += [("Adam from another start" if k == 0 else None, mu[r], logvar[r], "C1:")
               for k, r in enumerate(r for r in starts if r != best)]
    for label, m_q, lv_q, style in qs:                           # the 2-sigma ellipse of each q
        std = np.exp(0.5 * np.asarray(lv_q))
        ax.plot(m_q[0] + 2 * std[0] * np.cos(angle), m_q[1] + 2 * std[1] * np.sin(angle), style, lw=1.5,
                label=label)
    centre = np.array([np.sum(post * G1), np.sum(post * G2)]) / post.sum()          # mean of p(z|x)
    spread = np.sqrt(np.array([np.sum(post * (G1 - centre[0]) ** 2),
                               np.sum(post * (G2 - centre[1]) ** 2)]) / post.sum())   # its std per axis
    w = 4.5 * max(*spread, 0.05)                                   # half the width of the panel
    ax.set(xlim=(centre[0] - w, centre[0] + w), ylim=(centre[1] - w, centre[1] + w), aspect="equal",
           xlabel="z1", ylabel="z2")
    ax.set_title(f"{name(examined[p])}{': the largest gap' if p == E - 1 else ''}\nlog p(x) {lp[p]:.2f}, "
                 f"ELBO {elbos[0, p]:.2f} (encoder) -> {elbo_star[p]:.2f} (q*)", fontsize=8)
    inset = ax.inset_axes([0.70, 0.70, 0.28, 0.28])
    inset.imshow(1 - x[p].reshape(ds.image_shape), cmap="gray", vmin=0, vmax=1)
    inset.set(xticks=[], yticks=[])
    if p in (0, E - 1):
        ax.legend(fontsize=7, loc="lower left")
axes[0, -1].text(0.02, 0.98, f"amortization {amortization:.2f} nats\napproximation {approximation:.2f} nats\n"
                 f"p(z|x) beyond q*'s 4σ: {1 - inside:.0%}",
                 transform=axes[0, -1].transAxes, va="top", fontsize=8)
fig.suptitle("grey: the true posterior p(z|x) on the grid;  lines: 2σ ellipses of Gaussian q(z|x)", fontsize=9)
fig.tight_layout()
lesson.save(fig, "posteriors.png")

fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11.5, 5.4))
steps = np.array(history["step"])
where = np.arange(len(steps))                                   # evenly spaced checkpoints
for p in range(E):
    ax.plot(where, gaps[:, p], "o-", color=f"C{p}", label=name(examined[p]) + (", the largest gap" if p == E - 1 else ""))
for r in starts[1:]:                                            # the worst digit, started at a peak of p(z|x)
    ax.plot(where, gaps_all[:, r], "x:", color=f"C{E - 1}",
            label=f"the same, from {start_names[r - E + 1]}" + (" (its q*)" if r == best else ""))
ax.set_xticks(where)
ax.set_xticklabels([str(t) for t in steps])
ax.set_yscale("log")
ax.set(xlabel="Adam steps on q (0 = the encoder's q)", ylabel="log p(x) - ELBO  (nats, log scale)")
ratio = gaps[0] / gap_star                                      # (E,) how many times smaller each gap ended
rise = np.diff(gaps_all, axis=0)                                # (T - 1, R) change between checkpoints
ax.set_title(f"each digit's own Gaussian q, {STEPS[-1]} Adam steps ({K_ADAM} random draws each):\nwith q* the gap "
             f"is {ratio.min():.1f} to {ratio.max():.0f} times smaller; between checkpoints "
             + (f"it rises by up to {rise.max():.3f} nats" if rise.max() >= 5e-4 else "it never rises by 0.001 nats"),
             fontsize=9)
ax.grid(which="both", alpha=0.3)
ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)   # below the panel
_common.plain_log_ticks(ax, "y", steps=(1, 3))
for (label, band), colour in zip(iw.items(), ("C0", "C3")):
    ax2.errorbar(IW_KS, band[:, 2], yerr=2 * band[:, 3], fmt="o-", color=colour, capsize=3,
                 label=f"{label}: the mean, ±2 s.e.")
    ax2.fill_between(IW_KS, band[:, 0], band[:, 1], color=colour, alpha=0.2,
                     label=f"{label}: 10th-90th percentile of single estimates")
ax2.set_xscale("log")
ax2.axhline(0, color="0.3", linewidth=1)
ax2.set(xlabel="K, draws from q inside the log", ylabel="log p(x) - IW bound  (nats)")
ax2.set_title(f"{name(worst)}, K = 1 -> {IW_KS[-1]}: the encoder's q closes {enc_share:.0%} of its "
              f"{enc_1:.2f} nats,\nq* {opt_share:.0%} of its {opt_1:.2f}"
              + ("" if opt_real else " (within 3 s.e. of none)")
              + f" ({1 - inside:.0%} of p(z|x) lies beyond q*'s 4σ)", fontsize=9)
ax2.grid(which="both", alpha=0.3)
ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
fig.tight_layout()
lesson.save(fig, "gap_closing.png")

# %% --- 7. train on the bound: K = 1 (the VAE) against K = 5 ---
lesson.step(f"train on the importance-weighted bound L_K: K = 1 (the VAE) against K = {K_TRAIN}, "
            f"seeds {SEEDS[0]}-{SEEDS[-1]}")
# Burda et al. (2016) train on L_K = E[log (1/K) sum_k w_k] itself (tinyvae/iwae.py; its gradient by hand in
# docs/derivations.md, "Training on the importance-weighted bound (IWAE)").  The same 2-D VAE as step 1,
# the same epochs, batch and step size; the K draws of each digit go through the decoder as one batch.
print(f"    each seed: the same initial weights and minibatch order for both K; log p(x) by the IW bound at "
      f"K = {K_EVAL} (evaluate_vae),\n    the ELBO from the same draws, active units = latents whose mu varies "
      "over the test digits by more than 0.01")
trained = {}                                                   # (seed, K) -> the row of the table
for s in SEEDS:
    for K in (1, K_TRAIN):
        m = VAE(ds.D, (128,), 2, rng=np.random.default_rng(s))
        last = fit(m, ds.x_train, EPOCHS, batch_size=32, lr=3e-3, seed=s, objective=IWAE(K))[-1]
        if s == lesson.seed and K == 1:
            same_as_vae = bool(np.array_equal(m.theta, vae.theta))   # step 1 trained it as a plain VAE
        ev = evaluate_vae(m, ds.x_test, K=K_EVAL, seed=s)
        sigma = float(np.mean(np.exp(0.5 * m.encode(ds.x_test)[1])))    # q's sigma, mean over digits and latents
        trained[s, K] = {"bound": -last.total, "log_px": -ev["iw_nll"], "elbo": -ev["neg_elbo"], "kl": ev["kl"],
                         "sigma": sigma, "active": ev["active_units"]}
print(f"    K = 1 through IWAE(1) gives step 1's VAE parameter for parameter: {same_as_vae}")
rows = [[s, K, t["bound"], t["log_px"], t["elbo"], t["kl"], t["sigma"], t["active"]] for (s, K), t in trained.items()]
_common.table(["seed", "K", "L_K trained on (train)", f"log p(x), IW K={K_EVAL}", "ELBO", "KL", "sigma of q",
               "active"], rows, ["{}", "{}", "{:.3f}", "{:.3f}", "{:.3f}", "{:.3f}", "{:.3f}", "{}"])
by = {K: {key: np.array([trained[s, K][key] for s in SEEDS]) for key in ("log_px", "elbo", "kl", "sigma", "active")}
      for K in (1, K_TRAIN)}
gain = by[K_TRAIN]["log_px"] - by[1]["log_px"]                  # (S,) paired: same seed, same start
elbo_change = by[K_TRAIN]["elbo"] - by[1]["elbo"]
apart = by[K_TRAIN]["log_px"].min() > by[1]["log_px"].max()     # the two ranges over seeds do not overlap
print(f"    test log p(x): K = 1 {by[1]['log_px'].min():.3f} to {by[1]['log_px'].max():.3f}, K = {K_TRAIN} "
      f"{by[K_TRAIN]['log_px'].min():.3f} to {by[K_TRAIN]['log_px'].max():.3f} nats "
      f"({'the ranges do not overlap' if apart else 'the ranges overlap'});")
print(f"    seed by seed K = {K_TRAIN} gains {gain.min():+.3f} to {gain.max():+.3f} nats of log p(x), while its ELBO "
      f"changes by {elbo_change.min():+.3f} to {elbo_change.max():+.3f}.")
print(f"    Trained on a tighter bound, the model raises log p(x), the thing bounded, and not the ELBO: q's sigma "
      f"grows ({by[1]['sigma'].mean():.3f} -> {by[K_TRAIN]['sigma'].mean():.3f},")
print(f"    mean) and the KL falls ({by[1]['kl'].mean():.2f} -> {by[K_TRAIN]['kl'].mean():.2f} nats): the ELBO "
      "punishes a q that spreads beyond the posterior, L_K much less,")
print("    so q is no longer the ELBO's best, and the ELBO, which the K = 1 model maximises, is lower.  With Z = 2 "
      f"both latents stay\n    active either way ({by[1]['active'].min():.0f}-{by[1]['active'].max():.0f} and "
      f"{by[K_TRAIN]['active'].min():.0f}-{by[K_TRAIN]['active'].max():.0f}): Burda et al.'s gain in active "
      "units needs latents to spare.")
lesson.key(iwae_k=K_TRAIN, iwae_seeds=len(SEEDS), iwae_k1_is_the_vae=same_as_vae,
           iwae_log_px_k1=by[1]["log_px"].mean(), iwae_log_px_k=by[K_TRAIN]["log_px"].mean(),
           iwae_log_px_gain_min=gain.min(), iwae_log_px_gain_max=gain.max(), iwae_ranges_apart=apart,
           iwae_log_px_k1_sd=by[1]["log_px"].std(ddof=1) if len(SEEDS) > 1 else 0.0,
           iwae_log_px_k_sd=by[K_TRAIN]["log_px"].std(ddof=1) if len(SEEDS) > 1 else 0.0,
           iwae_elbo_k1=by[1]["elbo"].mean(), iwae_elbo_k=by[K_TRAIN]["elbo"].mean(),
           iwae_elbo_change_min=elbo_change.min(), iwae_elbo_change_max=elbo_change.max(),
           iwae_sigma_k1=by[1]["sigma"].mean(), iwae_sigma_k=by[K_TRAIN]["sigma"].mean(),
           iwae_kl_k1=by[1]["kl"].mean(), iwae_kl_k=by[K_TRAIN]["kl"].mean(),
           iwae_active_k1=by[1]["active"].mean(), iwae_active_k=by[K_TRAIN]["active"].mean())

# the gradient's signal-to-noise ratio (Rainforth et al. 2018): step 1's model, R fresh draws of the gradient
# of -L_K on one fixed minibatch, for each K; each parameter's SNR = |mean| / sd over the R draws, and the
# median over a network's parameters whose gradient varies (a ReLU that never fires, or a pixel that is
# always 0, gives some weights no gradient at all).  A parameter whose expected gradient is 0 still scores
# about sqrt(2 / (pi R)) from R draws: the floor below which the measurement cannot see.
floor = np.sqrt(2 / (np.pi * R_SNR))
print(f"\n    the gradient's signal-to-noise ratio |mean| / sd per parameter, the median over each network: step 1's "
      f"model,\n    {N_SNR} training digits, {R_SNR} draws of the gradient of -L_K per K (Rainforth et al. 2018: the "
      f"encoder's falls like\n    1/sqrt(K), the decoder's rises like sqrt(K)); {R_SNR} draws resolve an SNR down to "
      f"about {floor:.3f}")
n_enc = sum(p.size for layer in vae.encoder.layers for p in layer.params.values())   # theta = [encoder | decoder]
snr_rng = np.random.default_rng(lesson.seed + 1)
x_snr = ds.x_train[:N_SNR]
snr = {}                                                        # (form, K) -> (encoder SNR, decoder SNR)
for form, analytic in (("as trained", True), ("Burda et al.", False)):
    for K in SNR_KS:
        objective = IWAE(K, analytic_kl=analytic)
        G = np.empty((R_SNR, vae.theta.size))                   # (R, P) one gradient per row
        for r in range(R_SNR):
            objective.forward(vae, x_snr, rng=snr_rng)
            objective.backward(vae)
            G[r] = vae.grad
        ratio = []
        for part in (G[:, :n_enc], G[:, n_enc:]):               # (R, P_net) the encoder's, the decoder's
            sd = part.std(axis=0, ddof=1)
            varies = sd > 0
            ratio.append(float(np.median(np.abs(part.mean(axis=0)[varies]) / sd[varies])))
        snr[form, K] = ratio
_common.table(["K"] + [f"{net}, {form}" for form in ("as trained", "Burda et al.") for net in ("encoder", "decoder")],
              [[K, *snr["as trained", K], *snr["Burda et al.", K]] for K in SNR_KS], ["{}"] + ["{:.3f}"] * 4)
enc_fall = snr["as trained", SNR_KS[0]][0] / snr["as trained", SNR_KS[-1]][0]
dec_rise = snr["as trained", SNR_KS[-1]][1] / snr["as trained", SNR_KS[0]][1]
print(f"    from K = {SNR_KS[0]} to {SNR_KS[-1]} the encoder's SNR falls {enc_fall:.1f}-fold and the decoder's rises "
      f"{dec_rise:.1f}-fold (sqrt of the ratio of K: {np.sqrt(SNR_KS[-1] / SNR_KS[0]):.1f}).")
print("    More draws make L_K tighter and the decoder's gradient cleaner, but L_K depends less on q as K grows:")
print("    the encoder's expected gradient shrinks faster than its noise (Rainforth et al. find that a large K")
print("    then trains a worse encoder; a small K, as here, gains log p(x) while the encoder still learns).")
lesson.key(snr_encoder_k1=snr["as trained", SNR_KS[0]][0], snr_encoder_kmax=snr["as trained", SNR_KS[-1]][0],
           snr_decoder_k1=snr["as trained", SNR_KS[0]][1], snr_decoder_kmax=snr["as trained", SNR_KS[-1]][1],
           snr_kmax=SNR_KS[-1], snr_encoder_fall=enc_fall, snr_decoder_rise=dec_rise)

fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(14.5, 4.4))
for K, colour in ((1, "C0"), (K_TRAIN, "C3")):
    label = "K = 1 (the VAE)" if K == 1 else f"K = {K_TRAIN}"
    ax.plot(SEEDS, by[K]["log_px"], "o-", color=colour, label=label)
    ax2.plot(SEEDS, by[K]["elbo"], "s-", color=colour, label=label)
ax.set(xlabel="seed", ylabel=f"test log p(x), IW bound at K = {K_EVAL} (nats)")
ax.set_title(f"log p(x): K = {K_TRAIN} higher by {gain.min():.2f} to {gain.max():.2f} nats", fontsize=9)
ax2.set(xlabel="seed", ylabel="test ELBO (nats)")
ax2.set_title(f"the ELBO: K = {K_TRAIN} lower by {-elbo_change.max():.2f} to {-elbo_change.min():.2f} nats",
              fontsize=9)
for a in (ax, ax2):
    a.set_xticks(SEEDS)
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
for (form, style), net in ((("as trained", "-"), 0), (("as trained", "-"), 1), (("Burda et al.", ":"), 0),
                           (("Burda et al.", ":"), 1)):
    ax3.loglog(SNR_KS, [snr[form, K][net] for K in SNR_KS], style, marker="o", color=f"C{net}",
               label=f"{('encoder', 'decoder')[net]}, {form}")
for net, power in ((0, -0.5), (1, 0.5)):                           # the slopes Rainforth et al. predict
    start = snr["as trained", SNR_KS[0]][net]
    ax3.loglog(SNR_KS, [start * (K / SNR_KS[0]) ** power for K in SNR_KS], "--", color="0.6", linewidth=1,
               label="K^(-1/2) and K^(1/2) from K = 1" if net == 0 else None)
ax3.axhline(floor, color="0.3", linewidth=1, linestyle="-.", label=f"what {R_SNR} draws resolve")
ax3.set(xlabel="K, draws per digit", ylabel="gradient SNR |mean| / sd, median parameter")
ax3.set_title(f"step 1's model, {R_SNR} gradient draws per K on {N_SNR} digits", fontsize=9)
ax3.grid(which="both", alpha=0.3)
ax3.legend(fontsize=7)
_common.plain_log_ticks(ax3, "x")
fig.tight_layout()
lesson.save(fig, "iwae.png")

lesson.done()
