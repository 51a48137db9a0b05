"""Lesson 04: the KL divergence, KL(q || p) = E_q[log q(z) - log p(z)].

Lecture: "What is KL divergence?" (always non-negative, zero only when q = p, not
symmetric, not a distance), "Intuition" (p is the rule you agreed to follow, q is what you
do, the KL is the penalty for breaking the rule) and "Example (VAE context)" (the KL
penalizes codes that drift too far from zero or become too narrow).

What you will see:
  1. the closed form for Gaussians (tinyvae.losses) against a Monte Carlo estimate;
  2. KL >= 0 over 100,000 random pairs, and = 0 only at q = p (quadratic near it);
  3. KL(q || p) != KL(p || q), and what it means: fitting one Gaussian to two bumps;
  4. the penalty for breaking the rule p = N(0, 1): drifting from zero, getting narrow.

Run:   python lessons/04_kl_divergence.py [--quick] [--out DIR] [--seed S]
Takes: about 1 second on 2 cores (--quick: about the same, with fewer Monte Carlo samples).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae.losses import kl_gaussians, kl_normal_std_normal, log_normal

lesson = _common.Lesson("04_kl_divergence", __doc__)
rng = np.random.default_rng(lesson.seed)
N_MC = lesson.pick(200_000, 20_000)      # Monte Carlo samples per pair


def log_n1(z, mu, sigma):
    """log N(z; mu, sigma^2) for 1-D z, through tinyvae.losses.log_normal."""
    z = np.asarray(z, dtype=np.float64)[..., None]                     # (..., 1): Z = 1
    mu, logvar = np.asarray(mu, np.float64)[..., None], 2 * np.log(np.asarray(sigma, np.float64))[..., None]
    return log_normal(z, mu, logvar)


# %% --- 1. closed form against Monte Carlo ---
lesson.step(f"the closed form against Monte Carlo ({N_MC} draws from q)")
print("    KL(N(mu_q, s_q^2) || N(mu_p, s_p^2)) = log(s_p / s_q) + (s_q^2 + (mu_q - mu_p)^2) / (2 s_p^2) - 1/2")
pairs = [(0.0, 1.0, 0.0, 1.0), (1.0, 1.0, 0.0, 1.0), (0.0, 0.3, 0.0, 1.0), (2.0, 0.5, -1.0, 2.0), (0.5, 2.0, 0.0, 0.5)]
rows, zscores = [], []
for mq, sq, mp, sp in pairs:
    closed = float(kl_gaussians(mq, 2 * np.log(sq), mp, 2 * np.log(sp)))
    z = mq + sq * rng.standard_normal(N_MC)                        # z ~ q
    terms = log_n1(z, mq, sq) - log_n1(z, mp, sp)                  # log q(z) - log p(z)
    mc, se = terms.mean(), terms.std(ddof=1) / np.sqrt(N_MC)
    zscores.append(0.0 if se == 0 else (mc - closed) / se)
    rows.append([f"N({mq:g}, {sq:g}^2)", f"N({mp:g}, {sp:g}^2)", closed, f"{mc:.4f} ± {se:.4f}", zscores[-1]])
_common.table(["q", "p", "closed form", "Monte Carlo ± s.e.", "(MC - exact)/s.e."], rows,
              ["{}", "{}", "{:.4f}", "{}", "{:+.2f}"])
# the VAE's case: a diagonal q(z|x) in Z = 3 dimensions against N(0, I), summed over dimensions
mu, logvar = np.array([[0.5, -1.0, 0.0]]), np.array([[0.0, -1.0, 0.7]])
closed = kl_normal_std_normal(mu, logvar)[0]
z = mu + np.exp(0.5 * logvar) * rng.standard_normal((N_MC, 3))
terms = log_normal(z, mu, logvar) - log_normal(z, np.zeros(3), np.zeros(3))
mc, se = terms.mean(), terms.std(ddof=1) / np.sqrt(N_MC)
zscores.append((mc - closed) / se)
print(f"    VAE case, Z = 3: kl_normal_std_normal {closed:.4f}, Monte Carlo {mc:.4f} ± {se:.4f}")
lesson.key(max_abs_zscore=np.max(np.abs(zscores)))
# how the Monte Carlo estimate closes in on the closed form as draws accumulate
n = np.arange(1, N_MC + 1)
running = np.cumsum(terms) / n
band = terms.std() / np.sqrt(n)
keep = np.unique(np.geomspace(10, N_MC, 200).astype(int)) - 1
fig, ax = plt.subplots(figsize=(6.2, 4.0))
ax.semilogx(n[keep], running[keep], label="Monte Carlo mean of log q - log p")
ax.semilogx(n[keep], closed + 2 * band[keep], "k:", label="± 2 standard errors")
ax.semilogx(n[keep], closed - 2 * band[keep], "k:")
ax.axhline(closed, color="0.3", linestyle="--", linewidth=1, label="closed form")
ax.set(xlabel="draws z ~ q", ylabel="KL estimate (nats)")
ax.set_title("Monte Carlo converges to the closed form (VAE case, Z = 3)", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "kl_monte_carlo.png")

# %% --- 2. non-negative, zero only at q = p ---
lesson.step("KL >= 0, and KL = 0 only when q = p")
m = 100_000
mq, mp = rng.normal(0, 2, m), rng.normal(0, 2, m)
lq, lp = rng.normal(0, 1.5, m), rng.normal(0, 1.5, m)              # log variances
kl = kl_gaussians(mq, lq, mp, lp)
print(f"    {m} random pairs: smallest KL {kl.min():.2e}, largest {kl.max():.1f} nats")
print(f"    KL(q || q) = {float(kl_gaussians(0.3, -0.2, 0.3, -0.2)):.1f}")
for d in (1.0, 0.1, 0.01):
    print(f"    KL(N({d}, 1) || N(0, 1)) = {float(kl_gaussians(d, 0.0, 0.0, 0.0)):.1e} = d^2 / 2")
print("    quadratic near q = p, like a squared distance; but it is not a distance, as step 3 shows.")
lesson.key(min_kl_random_pairs=kl.min())

# %% --- 3. not symmetric ---
lesson.step("KL(q || p) != KL(p || q)")
a = float(kl_gaussians(0.0, 0.0, 1.0, np.log(0.25)))          # q = N(0, 1), p = N(1, 0.5^2)
b = float(kl_gaussians(1.0, np.log(0.25), 0.0, 0.0))
print(f"    q = N(0, 1), p = N(1, 0.5^2): KL(q || p) = {a:.3f}, KL(p || q) = {b:.3f}")
lesson.key(kl_q_p=a, kl_p_q=b)
# fit one Gaussian q to a mixture of two bumps p, once per direction, on a fine grid
zg = np.linspace(-8, 8, lesson.pick(1601, 801))                 # (G,) quadrature grid
dz = zg[1] - zg[0]
log_p = np.logaddexp(np.log(0.5) + log_n1(zg, -2.0, 0.6), np.log(0.5) + log_n1(zg, 2.0, 0.6))  # (G,)
means = np.linspace(-3, 3, lesson.pick(121, 61))
sigmas = np.geomspace(0.2, 4, lesson.pick(80, 40))
M, S = np.meshgrid(means, sigmas)                               # (n_s, n_m) every candidate q
kl_qp, kl_pq = np.empty(M.shape), np.empty(M.shape)
for i, sigma in enumerate(sigmas):                              # one row of candidates at a time
    log_q = log_n1(zg[None, :], means[:, None], sigma)          # (n_m, G)
    kl_qp[i] = np.sum(np.exp(log_q) * (log_q - log_p), axis=1) * dz     # mode-seeking
    kl_pq[i] = np.sum(np.exp(log_p) * (log_p - log_q), axis=1) * dz     # mass-covering
i_qp, i_pq = np.unravel_index(np.argmin(kl_qp), M.shape), np.unravel_index(np.argmin(kl_pq), M.shape)
q = {k: np.exp(log_n1(zg, M[i], S[i])) for k, i in (("qp", i_qp), ("pq", i_pq))}
print("    p = two bumps at -2 and +2.  The Gaussian q that minimises")
print(f"      KL(q || p): N({M[i_qp]:+.2f}, {S[i_qp]:.2f}^2): sits on one bump (q avoids where p is small)")
print(f"      KL(p || q): N({M[i_pq]:+.2f}, {S[i_pq]:.2f}^2): spreads over both (q must cover where p is large)")
print("    a VAE minimises KL(q(z|x) || p(z|x)): its q tends to the first kind, under-covering the posterior.")
fig, ax = plt.subplots(figsize=(6.2, 4.0))
ax.plot(zg, np.exp(log_p), "k-", label="p: two bumps")
ax.plot(zg, q["qp"], "-", label=f"argmin KL(q || p): N({M[i_qp]:+.1f}, {S[i_qp]:.2f}²)")
ax.plot(zg, q["pq"], "--", label=f"argmin KL(p || q): N({M[i_pq]:+.1f}, {S[i_pq]:.2f}²)")
ax.set(xlabel="z", ylabel="density")
ax.set_title("not symmetric: the best Gaussian q for each direction of the KL", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "kl_asymmetry.png")

# %% --- 4. the penalty for breaking the rule ---
lesson.step("the penalty for breaking the rule p(z) = N(0, 1)")
mus = np.linspace(-3, 3, 121)
log_sigmas = np.linspace(np.log(0.05), np.log(3), 121)
MU, LS = np.meshgrid(mus, log_sigmas)
penalty = kl_gaussians(MU, 2 * LS, 0.0, 0.0)                      # KL(N(mu, sigma^2) || N(0, 1))
for mu_, s_ in [(0, 1), (1, 1), (2, 1), (3, 1), (0, 0.5), (0, 0.1), (0, 0.01), (0, 2), (2, 0.1)]:
    print(f"    q = N({mu_}, {s_}^2): KL = {float(kl_gaussians(mu_, 2 * np.log(s_), 0.0, 0.0)):6.3f} nats")
print("    drifting from zero costs mu^2 / 2; getting narrow costs about -log(sigma): both grow without bound.")
fig, ax = plt.subplots(figsize=(6.0, 4.6))
sigmas = np.exp(log_sigmas)
fig.colorbar(ax.pcolormesh(mus, sigmas, penalty, shading="auto"), ax=ax, label="KL (nats)")
ax.clabel(ax.contour(mus, sigmas, penalty, levels=[0.1, 0.5, 1, 2, 4], colors="white", linewidths=0.8),
          fontsize=8, fmt="%g")
ax.plot(0, 1, "o", color="white", markeredgecolor="k")
ax.annotate("q = p: no penalty", (0, 1), textcoords="offset points", xytext=(6, 4), fontsize=8, color="white")
ax.set_yscale("log")
_common.plain_log_ticks(ax, "y")
ax.set(xlabel="mean of q", ylabel="standard deviation of q (log scale)")
ax.set_title("KL(N(mu, sigma²) || N(0, 1)): the penalty for breaking the rule", fontsize=10)
lesson.save(fig, "kl_penalty.png")

lesson.done()
