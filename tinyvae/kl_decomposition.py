"""The KL decomposition of Chen et al. (2018), and the total correlation that beta-TCVAE penalises.

Averaged over the data (n the index of an example, uniform over the N examples), the VAE's
KL term splits into three (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs",
eq. 2), with q(z) = (1/N) sum_n q(z|n) the aggregate posterior and q(z_d) its marginals::

    E_n KL(q(z|n) || p(z))
      =  E_q(z,n)[log q(z|n) - log q(z)]                 index-code mutual information I_q(z; n)
       + E_q(z)[log q(z) - sum_d log q(z_d)]             total correlation TC(z)
       + E_q(z)[sum_d log q(z_d) - log p(z_d)]           dimension-wise KL, sum_d KL(q(z_d) || p(z_d))

The three telescope: their sum is E[log q(z|n) - log p(z)], the KL.  beta-VAE multiplies all
three by beta; only the TC is about factorising, the MI is what lets z tell examples apart
(reconstruction needs it), and the dimension-wise KL pulls each marginal to N(0, 1).

None of q(z) and q(z_d) has a closed form: each is a mixture of N Gaussians.  Both are
estimated from the Gaussian log-densities of samples z_i under every posterior of a pool
(:func:`log_density_matrix`), by a logsumexp over the pool (:func:`log_aggregate`):

* minibatch-weighted sampling (MWS, Chen et al. eq. S5), the pool a minibatch of M out of N:
  ``log q(z_i) ~ logsumexp_j log q(z_i | n_j) - log(N M)``; biased, but cheap and
  differentiable, so :func:`total_correlation_mws` is what beta-TCVAE trains on;
* the pool the whole data set (:func:`kl_decomposition`): the same sum over all N posteriors
  with weight 1/N, ``log q(z_i) = logsumexp_n log q(z_i | n) - log N``, which is exact for the
  aggregate posterior, so the only error left is Monte Carlo error over the samples z_i.

Shapes: ``M`` samples (one z_i per example i of a batch), ``P`` posteriors in the pool
(P = M for a minibatch), ``Z`` latents.  Everything in nats.
"""
import numpy as np

from .losses import LOG_2PI


def log_density_matrix(z, mu, logvar):
    """a_ijd = log N(z_id; mu_jd, exp(logvar_jd)): every sample under every posterior, per latent.

    .. math:: a_{ijd} = -\\tfrac12 (\\log 2\\pi + \\log\\sigma^2_{jd} + (z_{id} - \\mu_{jd})^2 / \\sigma^2_{jd})

    z : (M, Z) samples; mu, logvar : (P, Z) the pool's posteriors.  Returns (M, P, Z).
    """
    diff = z[:, None, :] - mu[None, :, :]                         # (M, P, Z)
    return -0.5 * (LOG_2PI + logvar[None] + diff ** 2 * np.exp(-logvar)[None])


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def log_aggregate(a, log_weight):
    """log q(z_i) and log q(z_id) from the matrix a of :func:`log_density_matrix`:

    .. math:: \\log q(z_i) \\approx \\mathrm{logsumexp}_j \\sum_d a_{ijd} + \\log w, \\qquad
              \\log q(z_{id}) \\approx \\mathrm{logsumexp}_j a_{ijd} + \\log w

    a : (M, P, Z); log_weight : log w, -log(N M) for MWS, -log N for the whole data set.
    Returns (M,) and (M, Z).
    """
    return _logsumexp(a.sum(axis=2), axis=1) + log_weight, _logsumexp(a, axis=1) + log_weight


def total_correlation_mws(z, mu, logvar, dataset_size):
    """The MWS estimate of TC(z) on one minibatch, and its gradient (beta-TCVAE's penalty):

    .. math:: \\widehat{TC} = \\frac1M \\sum_i [\\log \\hat q(z_i) - \\sum_d \\log \\hat q(z_{id})]

    With P_ij = softmax_j(sum_d a_ijd) and Q_ijd = softmax_j(a_ijd) (the logsumexps' weights),
    d TC / d a_ijd = (P_ij - Q_ijd) / M =: W_ijd, and a_ijd's own derivatives give

    .. math:: \\partial z_{id} = -\\sum_j W_{ijd} r_{ijd}, \\quad \\partial \\mu_{jd} = \\sum_i W_{ijd} r_{ijd},
              \\quad \\partial \\log\\sigma^2_{jd} = \\tfrac12 \\sum_i W_{ijd} (r_{ijd} (z_{id} - \\mu_{jd}) - 1)

    with r_ijd = (z_id - mu_jd) / sigma^2_jd.  These are the direct derivatives: z = mu + sigma
    eps also depends on mu and logvar, and the model's backward adds that path through dz
    (docs/derivations.md, "beta-TCVAE").

    z, mu, logvar : (M, Z), sample i drawn from posterior i; dataset_size : N.
    Returns ``(tc, dz, dmu, dlogvar)``, tc a float and the gradients (M, Z) each.
    """
    M = z.shape[0]
    log_weight = -np.log(dataset_size * M)
    a = log_density_matrix(z, mu, logvar)                         # (M, M, Z)
    log_qz, log_qzd = log_aggregate(a, log_weight)                # (M,), (M, Z)
    tc = float(np.mean(log_qz - log_qzd.sum(axis=1)))
    # the softmaxes are exp(a - logsumexp), and each logsumexp is log q - log w
    P = np.exp(a.sum(axis=2) - (log_qz - log_weight)[:, None])    # (M, M) softmax over j
    Q = np.exp(a - (log_qzd - log_weight)[:, None, :])            # (M, M, Z) softmax over j
    W = (P[:, :, None] - Q) / M                                   # (M, M, Z) d tc / d a
    inv_var = np.exp(-logvar)                                     # (M, Z) 1 / sigma^2_j
    diff = z[:, None, :] - mu[None, :, :]                         # (M, M, Z) z_i - mu_j
    r = diff * inv_var[None]                                      # (M, M, Z)
    Wr = W * r
    dz = -Wr.sum(axis=1)                                          # (M, Z)
    dmu = Wr.sum(axis=0)                                          # (M, Z)
    dlogvar = 0.5 * (Wr * diff - W).sum(axis=0)                   # (M, Z)
    return tc, dz, dmu, dlogvar


def kl_decomposition(mu, logvar, rng, n_samples=1000, chunk=50):
    """The three terms of the KL, estimated with the whole data set as the pool.

    One z_i ~ q(z|n_i) for ``n_samples`` examples n_i drawn uniformly; each z_i is scored under
    all N posteriors (``log w = -log N``: exact for the aggregate posterior q(z)), so each term
    is a Monte Carlo mean over the samples, reported with its standard error.

    mu, logvar : (N, Z) the posteriors of every example of the data set, float64.
    Returns a dict: ``mi``, ``tc``, ``dimwise_kl``, their sum ``kl_sampled`` (the same
    samples' mean of log q(z|n) - log p(z)), the analytic ``kl`` (mean over all N), and
    ``<term>_se`` (the standard error of each Monte Carlo mean).
    """
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    N, Z = mu.shape
    index = rng.integers(0, N, n_samples)                         # (S,) the examples n_i
    terms = {"mi": [], "tc": [], "dimwise_kl": [], "kl_sampled": []}
    for start in range(0, n_samples, chunk):
        i = index[start:start + chunk]
        z = mu[i] + np.exp(0.5 * logvar[i]) * rng.standard_normal((len(i), Z))   # (s, Z) z ~ q(z|n_i)
        a = log_density_matrix(z, mu, logvar)                     # (s, N, Z)
        log_qz, log_qzd = log_aggregate(a, -np.log(N))            # (s,), (s, Z)
        log_qz_n = a[np.arange(len(i)), i].sum(axis=1)            # (s,) log q(z_i | n_i)
        log_pzd = -0.5 * (LOG_2PI + z ** 2)                       # (s, Z) log N(z_id; 0, 1)
        terms["mi"].append(log_qz_n - log_qz)
        terms["tc"].append(log_qz - log_qzd.sum(axis=1))
        terms["dimwise_kl"].append((log_qzd - log_pzd).sum(axis=1))
        terms["kl_sampled"].append(log_qz_n - log_pzd.sum(axis=1))
    out = {}
    for name, parts in terms.items():
        values = np.concatenate(parts)                            # (S,) per-sample terms
        out[name] = float(values.mean())
        out[f"{name}_se"] = float(values.std(ddof=1) / np.sqrt(len(values)))
    out["kl"] = float(np.mean(0.5 * np.sum(mu ** 2 + np.exp(logvar) - 1 - logvar, axis=1)))
    out["n_samples"] = int(n_samples)
    return out
