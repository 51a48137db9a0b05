"""Evaluation of a trained model: the ELBO, the importance-weighted log p(x), active units, KL per unit.

The importance-weighted estimate (Burda, Grosse & Salakhutdinov 2016) of the marginal
likelihood draws K samples z_k ~ q(z|x) and averages the importance weights::

    w_k = p(x|z_k) p(z_k) / q(z_k|x)
    log p(x) ~ log (1/K) sum_k w_k  =  logsumexp_k(log w_k) - log K          (the IW bound)

The same samples give the ELBO as (1/K) sum_k log w_k.  By Jensen's inequality the mean of
the logs is at most the log of the mean, so ELBO <= IW bound <= log p(x), and the IW bound
tightens towards log p(x) as K grows.  Every number here is in nats per example, on the
test split; "nll" and "neg_elbo" are the negatives, so lower is better and iw_nll <= neg_elbo.
"""
import numpy as np

from . import disentanglement
from .kl_decomposition import kl_decomposition
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
    """Reconstruction loss of an AE, or of a DAE from clean and from corrupted inputs."""
    m64, x = model.astype(np.float64), np.asarray(x, np.float64)
    if not isinstance(model, DenoisingAutoencoder):
        return {"recon": m64.forward_loss(x).recon, "n_examples": int(x.shape[0])}
    return {"recon": m64.forward_loss(x, x_tilde=x).recon,
            "recon_corrupted": m64.forward_loss(x, rng=np.random.default_rng(seed)).recon,
            "n_examples": int(x.shape[0])}


#: a latent whose KL, averaged over the data, is below this is dead (nats): it carries nothing
DEAD_KL = 0.01
#: FactorVAE votes as published (Kim & Mnih 2018; disentanglement_lib): training, evaluation
FACTORVAE_VOTES = (10000, 5000)


def disentanglement_scores(model, dataset, seed=0, votes=FACTORVAE_VOTES, decomposition_samples=1000):
    """MIG, the FactorVAE score and the KL decomposition on data with known factors, drawn by
    code (the shapes: every factor combination is one image of the data set).

    The MIG is estimated from the posterior means of *every* image of the data set (train
    and test together, as Chen et al. do): its plug-in bias, about
    ``(n_bins - 1)(m - 1) / 2N`` nats per factor, is then small.  Besides the two scores
    the result names, for each factor, the latent that knows most about it
    (``mig_best_latent``, 0-based) and its normalised gap to the runner-up (``mig_gap``).

    FactorVAE at the published ``votes`` (10,000 / 5,000), codes looked up from the images'
    (:func:`tinyvae.disentanglement.grid_representation`): ``factorvae`` under
    disentanglement_lib's rule (latents with std >= 0.05 vote), ``factorvae_active`` with the
    dead latents (KL < ``DEAD_KL``) dropped instead, and ``active_latents`` their count.
    ``kl_mi``, ``kl_tc``, ``kl_dimwise`` (and ``_se``): the KL's three terms,
    :func:`tinyvae.kl_decomposition.kl_decomposition`.
    """
    x = np.concatenate([dataset.x_train, dataset.x_test])                 # (N, D) every image
    factors = np.concatenate([dataset.factors_train, dataset.factors_test])
    codes = model.code(x)                                                   # (N, Z) mu(x), float64
    mig, details = disentanglement.mig(codes, factors)
    try:
        represent = disentanglement.grid_representation(codes, factors, dataset.factor_sizes)
    except ValueError:                                                      # not the full grid: render
        represent = disentanglement.representation(model.code, dataset.render)
    n_train, n_eval = votes
    fvae, fdetails = disentanglement.factorvae_score(represent, dataset.factor_sizes, np.random.default_rng(seed),
                                                     n_train=n_train, n_eval=n_eval)
    out = {"mig": float(mig), "factorvae": float(fvae), "factorvae_voting_latents": int(fdetails["active"].sum()),
           "factorvae_votes": [int(n_train), int(n_eval)]}
    if model.kind == "vae":                        # a posterior: dead latents and the KL's three terms
        mu, logvar = (np.asarray(a) for a in model.astype(np.float64).encode(np.asarray(x, np.float64)))
        alive = kl_per_dimension(mu, logvar) >= DEAD_KL                     # (Z,)
        out["factorvae_active"], _ = disentanglement.factorvae_score(
            represent, dataset.factor_sizes, np.random.default_rng(seed), n_train=n_train, n_eval=n_eval, active=alive)
        out["active_latents"] = int(alive.sum())
        parts = kl_decomposition(mu, logvar, np.random.default_rng(seed), n_samples=decomposition_samples)
        out.update({f"kl_{name}{se}": parts[f"{term}{se}"] for name, term in
                    (("mi", "mi"), ("tc", "tc"), ("dimwise", "dimwise_kl")) for se in ("", "_se")})
    return dict(out, factor_names=list(dataset.factor_names),
                mig_gap=[float(g) for g in details["gap"]],
                mig_best_latent=[int(j) for j in details["best_latent"]],
                mig_examples=int(len(x)))
