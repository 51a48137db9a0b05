"""The autoencoder family: AE, denoising AE, VAE and beta-VAE, on one encoder/decoder code path.

In the lecture's notation the encoder is g_phi (for the VAE, q_phi(z|x)) and the decoder is
f_theta (for the VAE, p_theta(x|z)).  Both are MLPs built by :func:`tinyvae.layers.mlp`
(:func:`layer_sizes` is the one place that says how wide each layer is):

    encoder  D -> H1 -> ... -> Z        (the VAE's encoder outputs 2Z: mu and logvar)
    decoder  Z -> ... -> H1 -> D        (logits for Bernoulli, means for Gaussian)

All parameters live in one flat vector ``model.theta`` and all gradients in ``model.grad``
(see :func:`tinyvae.layers.flatten_parameters`), which is what the optimizers update.

Every model follows the layers' contract:

* ``forward(x, rng)`` runs a minibatch through, keeps what backward needs, and returns the
  loss's two terms ``(recon, kl)`` in nats per example (an AE's kl is 0);
* ``backward(kl_weight, latent_grads=None)`` *sets* ``model.grad`` to the gradient of
  ``recon + kl_weight * kl`` (plus a term in the latents whose gradient is ``latent_grads``);
* ``latents()`` is the last forward's ``(mu, logvar, z)`` (None for an AE), what such a term scores;
* ``loss_and_grad(x, rng, beta=...)`` is the two together, the beta-VAE's loss in the
  lecture's form ``recon + beta * kl`` (beta = 1: the negative ELBO), returned as a
  :class:`Loss`.  ``forward_loss`` is the same without the backward pass.

The randomness (the DAE's corruption, the VAE's eps) is drawn from a
``numpy.random.Generator`` (``draw_noise``) or passed in fixed.  How the pieces chain in
backward: ``docs/derivations.md``, "The whole model".
"""
from typing import NamedTuple

import numpy as np

from .base import choices
from . import noise as noise_lib
from .layers import flatten_parameters, mlp, sigmoid
from .losses import (bernoulli_log_likelihood, bernoulli_nll_fused, gaussian_log_likelihood, gaussian_nll,
                     kl_normal_std_normal, mse)
from .objectives import elbo
from .reparam import draw_eps, reparameterize, reparameterize_backward


# --- the architecture, in one place ---------------------------------------------------------
def layer_sizes(kind, D, hidden, Z):
    """The widths of the encoder and the decoder of a model of ``kind`` ("ae", "dae", "vae"):

        encoder [D, H1, ..., Hk, Z]  (a VAE's: [D, H1, ..., Hk, 2Z], mu and logvar)
        decoder [Z, Hk, ..., H1, D]
    """
    hidden = [int(h) for h in hidden]
    encoder_out = 2 * int(Z) if kind == "vae" else int(Z)
    return [int(D), *hidden, encoder_out], [int(Z), *hidden[::-1], int(D)]


def parameter_count(kind, D, hidden, Z):
    """Weights and biases of both MLPs of :func:`layer_sizes`: sum over layers of a b + b."""
    return sum(a * b + b for sizes in layer_sizes(kind, D, hidden, Z) for a, b in zip(sizes, sizes[1:]))


class Loss(NamedTuple):
    """A minibatch loss and its parts, in nats per example.

    total = recon + (the KL term): beta * kl for the beta-VAE, gamma |kl - C| under the
    capacity objective (:mod:`tinyvae.objectives`).  ``kl_weight`` is d total / d kl, the
    weight the KL's gradient was given: beta, or gamma * sign(kl - C).  The AE and DAE have
    kl = 0 and kl_weight = 0.
    """

    recon: float
    kl: float
    kl_weight: float
    total: float

    @property
    def elbo(self):
        """E_q[log p(x|z)] - KL, :func:`tinyvae.objectives.elbo` of this loss's parts."""
        return elbo(-self.recon, self.kl)


class _EncoderDecoder:
    """What every model shares: the two MLPs, the flat parameters, and the likelihood."""

    kind = None                        # "ae", "dae" or "vae", as choices.MODELS names them

    def __init__(self, D, hidden, Z, likelihood, sigma, rng, dtype):
        if likelihood not in choices.LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(choices.LIKELIHOODS)}")
        self.D, self.hidden, self.Z = int(D), tuple(int(h) for h in hidden), int(Z)
        self.likelihood = likelihood
        self.sigma = float(sigma)
        rng = rng if rng is not None else np.random.default_rng(0)
        encoder_sizes, decoder_sizes = layer_sizes(self.kind, self.D, self.hidden, self.Z)
        self.encoder = mlp(encoder_sizes, rng, dtype)
        self.decoder = mlp(decoder_sizes, rng, dtype)
        self.theta, self.grad = flatten_parameters([self.encoder, self.decoder], dtype)

    @property
    def dtype(self):
        return self.theta.dtype

    def zero_grad(self):
        self.grad.fill(0)

    def forward_loss(self, x, rng=None, **noise):
        """``loss_and_grad`` without the backward pass: the Loss only, ``self.grad`` untouched."""
        return self.loss_and_grad(x, rng, **noise, backward=False)

    def draw_noise(self, x, rng):
        """The randomness of one ``forward(x)`` call, drawn from ``rng`` as keyword arguments
        for it: none for the AE, ``x_tilde`` for the DAE, ``eps`` for the VAE."""
        return {}

    def astype(self, dtype):
        """A copy of this model whose parameters (and so whose arithmetic) are ``dtype``."""
        other = type(self)(**self.config(), dtype=dtype)
        other.theta[...] = self.theta
        return other

    # --- the decoder's likelihood p_theta(x|z) -------------------------------------------------
    @property
    def output(self):
        """What turns the decoder's output into E[x|z]: "Sigmoid" for Bernoulli logits (the
        mean of p(x|z) is sigmoid(logits)), "identity" for Gaussian means."""
        return "Sigmoid" if self.likelihood == "bernoulli" else "identity"

    def decode(self, z):
        """The decoder's mean E[x|z] in data space: (N, Z) -> (N, D)."""
        out = self.decoder.forward(np.asarray(z, dtype=self.dtype))
        return sigmoid(out) if self.output == "Sigmoid" else out

    # --- the code of x ---------------------------------------------------------------------------
    def code(self, x, batch_size=2000):
        """The code of each x, the one point of the latent space it maps to: g_phi(x) for an AE,
        the posterior mean mu(x) = E_q[z|x] for a VAE.  (N, D) -> (N, Z) float64, in batches."""
        x = np.asarray(x)
        out = [np.array(self._code(x[start:start + batch_size]), dtype=np.float64)
               for start in range(0, x.shape[0], batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.Z))

    def reconstruct(self, x):
        """x' = f_theta(code(x)) in data space: (N, D) -> (N, D)."""
        return self.decode(self._code(x))


class Autoencoder(_EncoderDecoder):
    """The deterministic autoencoder: z = g_phi(x), x' = f_theta(z).

    Parameters
    ----------
    D : int
        Input size (pixels).
    hidden : sequence of int
        Hidden sizes of the encoder; the decoder mirrors them.
    Z : int
        Bottleneck size.
    likelihood : {"gaussian", "bernoulli"}
        "gaussian" (the default): the lecture's L_AE, the squared error with a linear output,
        (1/n) sum_i ||x_i - f_theta(g_phi(x_i))||^2, which is the Gaussian's negative
        log-likelihood up to scale and a constant; "bernoulli": the cross-entropy (BCE) with a
        sigmoid output, for pixels read as probabilities.
    rng : numpy.random.Generator, optional
        Source of the initial weights (default ``default_rng(0)``).
    dtype : float32 (training) or float64 (checking).
    """

    kind = "ae"

    def __init__(self, D, hidden, Z, likelihood=choices.DEFAULT_LIKELIHOOD["ae"], rng=None, dtype=np.float32):
        super().__init__(D, hidden, Z, likelihood, 1.0, rng, dtype)

    def config(self):
        return dict(D=self.D, hidden=self.hidden, Z=self.Z, likelihood=self.likelihood)

    def encode(self, x):
        """z = g_phi(x): (N, D) -> (N, Z)."""
        return self.encoder.forward(np.asarray(x, dtype=self.dtype))

    _code = encode

    def recon_loss(self, out, x):
        """L_AE for one minibatch, and its gradient w.r.t. the decoder output ``out`` (N, D):
        the squared error (Gaussian) or the cross-entropy from logits (Bernoulli)."""
        return bernoulli_nll_fused(out, x) if self.likelihood == "bernoulli" else mse(out, x)

    def forward(self, x, rng=None):
        """The reconstruction loss of ``x`` (N, D), keeping what backward needs: ``(recon, 0.0)``."""
        x = np.asarray(x, dtype=self.dtype)
        return self._forward(x, x)

    def _forward(self, x_in, x):
        """Encode ``x_in`` and score the reconstruction against ``x``."""
        z = self.encoder.forward(x_in)                # (N, Z)
        out = self.decoder.forward(z)                 # (N, D)
        recon, self._dout = self.recon_loss(out, x)   # (N, D) d recon / d out, kept for backward
        return recon, 0.0

    def backward(self, kl_weight=0.0, latent_grads=None):
        """Set ``self.grad`` to the gradient of the last forward's loss (an AE has no KL term
        and no latent term, so both arguments are unused)."""
        self.zero_grad()                              # the layers add into model.grad
        self.encoder.backward(self.decoder.backward(self._dout), need_dx=False)

    def latents(self):
        """An AE has no posterior: no latents for an objective's latent term."""
        return None

    def loss_and_grad(self, x, rng=None, backward=True, **noise):
        """Reconstruction loss of a minibatch ``x`` (N, D) as a Loss; sets ``self.grad``."""
        recon, _ = self.forward(x, rng, **noise)
        if backward:
            self.backward()
        return Loss(recon, 0.0, 0.0, recon)


class DenoisingAutoencoder(Autoencoder):
    """The denoising autoencoder: encode x~ ~ M_D(x~|x), reconstruct the clean x.

    .. math:: L_DAE = (1/n) sum_i loss(x_i, f_theta(g_phi(x~_i)))

    Parameters
    ----------
    noise : {"mask", "gaussian", "saltpepper"}
        The corruption M_D (see :mod:`tinyvae.noise`).
    noise_level : float
        Masking / salt-and-pepper rate, or the Gaussian sigma.
    Other parameters as :class:`Autoencoder`.
    """

    kind = "dae"

    def __init__(self, D, hidden, Z, likelihood=choices.DEFAULT_LIKELIHOOD["dae"], noise="mask", noise_level=0.3,
                 rng=None, dtype=np.float32):
        if noise not in choices.NOISES:
            raise ValueError(f"unknown noise {noise!r}; choose one of {', '.join(choices.NOISES)}")
        self.noise, self.noise_level = noise, float(noise_level)
        super().__init__(D, hidden, Z, likelihood, rng, dtype)

    def config(self):
        return dict(super().config(), noise=self.noise, noise_level=self.noise_level)

    def corrupt(self, x, rng):
        """x~ ~ M_D(x~|x): (N, D) -> (N, D)."""
        return noise_lib.corrupt(np.asarray(x, dtype=self.dtype), self.noise, self.noise_level, rng)

    def draw_noise(self, x, rng):
        return {"x_tilde": self.corrupt(x, rng)}

    def forward(self, x, rng=None, x_tilde=None):
        """The loss of reconstructing the clean ``x`` from ``x_tilde`` (drawn from ``rng`` if not
        given), keeping what backward needs: ``(recon, 0.0)``."""
        x = np.asarray(x, dtype=self.dtype)
        if x_tilde is None:
            if rng is None:
                raise ValueError("pass rng (to draw the corruption) or a fixed x_tilde")
            x_tilde = self.draw_noise(x, rng)["x_tilde"]
        return self._forward(np.asarray(x_tilde, dtype=self.dtype), x)


class VAE(_EncoderDecoder):
    """The variational autoencoder, and with ``beta != 1`` the beta-VAE.

    Prior p(z) = N(0, I); encoder q_phi(z|x) = N(mu, diag exp(logvar)); decoder p_theta(x|z)
    Bernoulli (logits) or Gaussian (means, fixed ``sigma``).  The loss per example is

    .. math:: L = -E_q[log p_theta(x|z)] + beta * KL(q_phi(z|x) || p(z))

    estimated with one reparameterized sample z = mu + sigma * eps.  beta = 1 gives the
    negative ELBO; beta = 0 gives the reconstruction term alone.  beta is not the model's: it
    is the objective's (:mod:`tinyvae.objectives`), passed to ``backward`` as ``kl_weight`` or to
    ``loss_and_grad`` as ``beta``, so a beta-VAE is this same model trained with another beta.

    Parameters
    ----------
    D, hidden, Z : as :class:`Autoencoder`.
    likelihood : {"bernoulli", "gaussian"}
    sigma : float
        Standard deviation of the Gaussian likelihood (unused for Bernoulli).  Fixed, not
        learned; 0.1 keeps the reconstruction term strong on [0, 1] pixels.
    rng, dtype : as :class:`Autoencoder`.
    """

    kind = "vae"

    def __init__(self, D, hidden, Z, likelihood=choices.DEFAULT_LIKELIHOOD["vae"], sigma=0.1, rng=None,
                 dtype=np.float32):
        super().__init__(D, hidden, Z, likelihood, sigma, rng, dtype)

    def config(self):
        return dict(D=self.D, hidden=self.hidden, Z=self.Z, likelihood=self.likelihood, sigma=self.sigma)

    def encode(self, x):
        """q_phi(z|x): (N, D) -> mu (N, Z), logvar (N, Z)."""
        h = self.encoder.forward(np.asarray(x, dtype=self.dtype))   # (N, 2Z)
        return h[:, :self.Z], h[:, self.Z:]

    def _code(self, x):
        return self.encode(x)[0]                      # mu(x) = E_q[z|x]

    def sample(self, n, rng):
        """n draws of E[x|z] with z ~ p(z) = N(0, I): (n, D)."""
        return self.decode(draw_eps((n, self.Z), rng, self.dtype))

    def draw_noise(self, x, rng):
        return {"eps": draw_eps((x.shape[0], self.Z), rng, self.dtype)}

    # --- the decoder's likelihood p_theta(x|z) -------------------------------------------------
    def recon_loss(self, out, x):
        """-log p(x|z) in nats per example, and its gradient w.r.t. the decoder output ``out``
        (logits for Bernoulli, means for Gaussian), (N, D)."""
        if self.likelihood == "bernoulli":
            return bernoulli_nll_fused(out, x)   # losses.bernoulli_nll, fused
        return gaussian_nll(out, x, self.sigma)

    def log_px_z(self, out, x):
        """log p(x|z) of each example given the decoder output: (N,)."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(out, x)
        return gaussian_log_likelihood(out, x, self.sigma)

    # --- the loss: forward, backward, and both ------------------------------------------------
    def forward(self, x, rng=None, eps=None):
        """The loss's two terms on a minibatch ``x`` (N, D), eps drawn from ``rng`` or given:
        ``(recon, kl)``, recon = -log p(x|z) at one z ~ q(z|x) and kl = KL(q(z|x) || p(z))."""
        x = np.asarray(x, dtype=self.dtype)
        Z = self.Z
        if eps is None:
            if rng is None:
                raise ValueError("pass rng (to draw eps) or a fixed eps")
            eps = self.draw_noise(x, rng)["eps"]
        eps = np.asarray(eps, dtype=self.dtype)
        h = self.encoder.forward(x)                   # (N, 2Z)
        mu, logvar = h[:, :Z], h[:, Z:]               # (N, Z) each
        z, std = reparameterize(mu, logvar, eps)      # (N, Z)
        out = self.decoder.forward(z)                 # (N, D) logits or means
        recon, dout = self.recon_loss(out, x)         # -E_q log p(x|z), one sample
        kl, dmu_kl, dlogvar_kl = kl_normal_std_normal(mu, logvar)
        self._cache = (h, eps, std, dout, dmu_kl, dlogvar_kl)   # what backward needs
        self._latents = (mu, logvar, z)
        return recon, kl

    def latents(self):
        """The last forward's ``(mu, logvar, z)``, (N, Z) each: what a latent term of an
        objective scores (beta-TCVAE's total correlation, :mod:`tinyvae.objectives`)."""
        return self._latents

    def backward(self, kl_weight, latent_grads=None):
        """Set ``self.grad`` to the gradient of ``recon + kl_weight * kl`` at the last forward.
        ``kl_weight`` is beta for the beta-VAE (gamma sign(KL - C) under the capacity objective).
        ``latent_grads`` = (dz, dmu, dlogvar), (N, Z) each, is the gradient of a further term in
        the latents (beta-TCVAE's): dz joins the decoder's before the reparameterization's
        backward, dmu and dlogvar join the encoder's output gradient after it."""
        h, eps, std, dout, dmu_kl, dlogvar_kl = self._cache
        Z = self.Z
        self.zero_grad()                              # the layers add into model.grad
        dz = self.decoder.backward(dout)              # (N, Z)
        if latent_grads is not None:
            dz = dz + latent_grads[0].astype(dz.dtype)
        dmu, dlogvar = reparameterize_backward(dz, eps, std)
        if latent_grads is not None:
            dmu = dmu + latent_grads[1].astype(dmu.dtype)
            dlogvar = dlogvar + latent_grads[2].astype(dlogvar.dtype)
        dh = np.empty_like(h)                         # (N, 2Z) = [dmu | dlogvar]
        ### BEGIN SOLUTION
        np.add(dmu, kl_weight * dmu_kl, out=dh[:, :Z])
        np.add(dlogvar, kl_weight * dlogvar_kl, out=dh[:, Z:])
        ### END SOLUTION
        self.encoder.backward(dh, need_dx=False)      # no gradient w.r.t. the data

    def loss_and_grad(self, x, rng=None, eps=None, beta=1.0, backward=True):
        """The beta-VAE's loss of a minibatch ``x`` (N, D), ``recon + beta * kl`` (beta = 1: the
        VAE's negative ELBO), as a Loss; sets ``self.grad`` unless ``backward=False``."""
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        recon, kl = self.forward(x, rng, eps)
        beta = float(beta)
        if backward:
            self.backward(beta)
        return Loss(recon, kl, beta, recon + beta * kl)


def make_model(cfg, D, rng=None, dtype=np.float32):
    """The one model factory: the model a run's settings ``cfg`` describe, for inputs of size D.

    ``cfg`` is a :class:`tinyvae.app.config.TrainConfig` (or anything with its attributes
    ``model, hidden, latent, likelihood, sigma, noise, noise_level``); the KL's weight is the
    objective's (:func:`tinyvae.app.training.make_objective`).
    """
    hidden = tuple(cfg.hidden)
    if cfg.model == "vae":
        return VAE(D, hidden, cfg.latent, likelihood=cfg.likelihood, sigma=cfg.sigma,
                   rng=rng, dtype=dtype)
    if cfg.model == "dae":
        return DenoisingAutoencoder(D, hidden, cfg.latent, likelihood=cfg.likelihood, noise=cfg.noise,
                                    noise_level=cfg.noise_level, rng=rng, dtype=dtype)
    return Autoencoder(D, hidden, cfg.latent, likelihood=cfg.likelihood, rng=rng, dtype=dtype)
