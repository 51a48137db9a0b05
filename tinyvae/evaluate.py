"""Evaluation of a trained model: the ELBO, the importance-weighted log p(x), active units, KL per unit.

The importance-weighted estimate (Burda, Grosse & Salakhutdinov 2016) of the marginal
likelihood draws K samples z_k ~ q(z|x) and averages the importance weights::

    w_k = p(x|z_k) p(z_k) / q(z_k|x)
    log p(x) ~ log (1/K) sum_k w_k  =  logsumexp_k(log w_k) - log K          (the IW bound)

The same samples give the ELBO as (1/K) sum_k log w_k.  By Jensen's inequality the mean of
the logs is at most the log of the mean, so ELBO <= IW bound <= log p(x), and the IW bound
tightens towards log p(x) as K grows.  A VAE's numbers are in nats per example, on the test
split; "nll" and "neg_elbo" are the negatives, so lower is better and iw_nll <= neg_elbo.  An
AE's reconstruction error is in its own loss's unit, named with it (:func:`evaluate_autoencoder`).
"""
import numpy as np

from .losses import kl_per_dimension, log_normal
from .models import DenoisingAutoencoder
from .reparam import draw_eps, reparameterize


def log_mean_exp(a, axis=0):
    """log mean exp(a) along ``axis``, stable: the maximum is taken out before exponentiating."""
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.mean(np.exp(a - m), axis=axis))


def log_weights(model, x, K, rng, chunk=None):
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) for K draws per example: (K, N).

    Computed in float64 from a float64 copy of the model, ``chunk`` draws at a time so that
    the decoder never sees more than about 20,000 rows at once.
    """
    model = model.astype(np.float64) if model.dtype != np.float64 else model
    x = np.asarray(x, dtype=np.float64)
    N, Z = x.shape[0], model.Z
    mu, logvar = (a.copy() for a in model.encode(x))                # (N, Z) each
    chunk = chunk or max(1, 20000 // max(N, 1))
    out = np.empty((K, N))
    zeros = np.zeros(Z)
    for k0 in range(0, K, chunk):
        k = min(chunk, K - k0)
        eps = draw_eps((k, N, Z), rng, np.float64)
        z, _ = reparameterize(mu, logvar, eps)                      # (k, N, Z) z_k ~ q(z|x)
        dec = model.decoder.forward(z.reshape(k * N, Z))           # (k N, D)
        log_px_z = model.log_px_z(dec, np.tile(x, (k, 1))).reshape(k, N)
        log_pz = log_normal(z, zeros, zeros)                        # (k, N)
        log_qz = log_normal(z, mu, logvar)                          # (k, N)
        out[k0:k0 + k] = log_px_z + log_pz - log_qz
    return out


def active_units(mu, threshold=0.01):
    """Burda et al.'s count of active latent units: Cov_x(E_q[z|x]) above ``threshold``.

    mu : (N, Z) posterior means.  Returns (count, variances (Z,)).
    """
    var = np.var(mu, axis=0)
    return int(np.sum(var > threshold)), var


def evaluate_vae(model, x, K=200, seed=0, batch_size=500):
    """The VAE's test metrics on ``x`` (N, D); a dict of plain floats and lists (for JSON)."""
    rng = np.random.default_rng(seed)
    elbo, iw = [], []
    for start in range(0, x.shape[0], batch_size):
        lw = log_weights(model, x[start:start + batch_size], K, rng)    # (K, n)
        elbo.append(lw.mean(axis=0))
        iw.append(log_mean_exp(lw, axis=0))
    elbo, iw = np.concatenate(elbo), np.concatenate(iw)
    m64 = model.astype(np.float64)
    mu, logvar = m64.encode(np.asarray(x, np.float64))
    kl_dims = kl_per_dimension(mu, logvar)
    n_active, variances = active_units(mu)
    neg_elbo = float(-elbo.mean())
    return {"neg_elbo": neg_elbo,
            "recon": neg_elbo - float(kl_dims.sum()),
            "kl": float(kl_dims.sum()),
            "iw_nll": float(-iw.mean()),
            "iw_samples": int(K),
            "active_units": n_active,
            "latent_variance": [float(v) for v in variances],
            "kl_per_dim": [float(v) for v in kl_dims],
            "n_examples": int(x.shape[0])}


def evaluate_autoencoder(model, x, seed=0):
    """Reconstruction loss of an AE, or of a DAE from clean and from corrupted inputs.

    The loss is the one the model was trained on, per example: with ``likelihood="gaussian"``
    the lecture's L_AE, the squared error ||x - x'||^2 summed over the pixels (not nats: it is
    the Gaussian's negative log-likelihood only up to scale and a constant); with
    ``"bernoulli"`` the cross-entropy, in nats.  ``units`` names the unit of each number.
    """
    m64, x = model.astype(np.float64), np.asarray(x, np.float64)
    unit = ("nats per example, the Bernoulli cross-entropy" if model.likelihood == "bernoulli"
            else "squared error per example, summed over pixels")
    if not isinstance(model, DenoisingAutoencoder):
        return {"recon": m64.forward_loss(x).recon, "n_examples": int(x.shape[0]), "units": {"recon": unit}}
    return {"recon": m64.forward_loss(x, x_tilde=x).recon,
            "recon_corrupted": m64.forward_loss(x, rng=np.random.default_rng(seed)).recon,
            "n_examples": int(x.shape[0]), "units": {"recon": unit, "recon_corrupted": unit}}

