"""The autoencoder family: AE, denoising AE, VAE and beta-VAE, on one encoder/decoder code path.

In the lecture's notation the encoder is g_phi (for the VAE, q_phi(z|x)) and the decoder is
f_theta (for the VAE, p_theta(x|z)).  Both are MLPs built by :func:`tinyvae.layers.mlp`:

    encoder  D -> H1 -> ... -> Z        (the VAE's encoder outputs 2Z: mu and logvar)
    decoder  Z -> ... -> H1 -> D        (logits for Bernoulli/BCE, means for Gaussian/MSE)

All parameters live in one flat vector ``model.theta`` and all gradients in ``model.grad``
(see :func:`tinyvae.layers.flatten_parameters`), which is what the optimizers update.

``loss_and_grad(x, ...)`` is the one call a trainer needs: it runs forward and backward on a
minibatch, *sets* ``model.grad`` to the gradient of the total loss, and returns a
:class:`Loss` whose parts are in nats per example.  Its randomness (the DAE's corruption,
the VAE's eps) is drawn from a ``numpy.random.Generator`` (``draw_noise``) or passed in
fixed.  ``forward_loss(x, ...)`` is the same call stopped before the backward pass (for
evaluation): the same code, the same numbers.
How the pieces chain in backward: ``docs/derivations.md``, "The whole model".
"""
from typing import NamedTuple

import numpy as np

from . import choices
from . import noise as noise_lib
from .layers import flatten_parameters, mlp, sigmoid
from .losses import bernoulli_nll, gaussian_nll, kl_normal_std_normal, mse
from .objectives import elbo
from .reparam import draw_eps, reparameterize, reparameterize_backward


class Loss(NamedTuple):
    """A minibatch loss and its parts, in nats per example.

    total = recon + (KL penalty); for the beta-VAE the penalty is beta * kl.
    ``kl_weight`` is d penalty / d KL, the weight the KL's gradient was given: beta for the
    beta-VAE, gamma * sign(KL - C) under the capacity objective gamma |KL - C|.  The AE and
    DAE have kl = 0 and kl_weight = 0.
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

    #: the likelihoods, and the name the lecture's AE slide gives each
    LIKELIHOODS = {"bernoulli": "bernoulli", "bce": "bernoulli", "gaussian": "gaussian", "mse": "mse"}

    def __init__(self, D, hidden, Z, encoder_out, likelihood, sigma, rng, dtype):
        if likelihood not in self.LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {sorted(self.LIKELIHOODS)}")
        self.D, self.hidden, self.Z = int(D), tuple(int(h) for h in hidden), int(Z)
        self.likelihood = likelihood
        self.sigma = float(sigma)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.encoder = mlp([self.D, *self.hidden, encoder_out], rng, dtype)
        self.decoder = mlp([self.Z, *self.hidden[::-1], self.D], rng, dtype)
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
        """The randomness of one ``loss_and_grad(x)`` call, drawn from ``rng`` as keyword
        arguments for it: none for the AE, ``x_tilde`` for the DAE, ``eps`` for the VAE."""
        return {}

    def astype(self, dtype):
        """A copy of this model whose parameters (and so whose arithmetic) are ``dtype``."""
        other = type(self)(**self.config(), dtype=dtype)
        other.theta[...] = self.theta
        return other

    # --- the decoder's likelihood p_theta(x|z) -------------------------------------------------
    def _recon_loss(self, out, x):
        """-log p(x|z) in nats per example, and its gradient w.r.t. the decoder output."""
        kind = self.LIKELIHOODS[self.likelihood]
        if kind == "bernoulli":
            return bernoulli_nll(out, x)              # out are logits
        if kind == "gaussian":
            return gaussian_nll(out, x, self.sigma)   # out are means
        return mse(out, x)

    @property
    def output(self):
        """What turns the decoder's output into E[x|z]: "Sigmoid" for Bernoulli logits (the
        mean of p(x|z) is sigmoid(logits)), "identity" for Gaussian or MSE means."""
        return "Sigmoid" if self.LIKELIHOODS[self.likelihood] == "bernoulli" else "identity"

    def decode(self, z):
        """The decoder's mean E[x|z] in data space: (N, Z) -> (N, D)."""
        out = self.decoder.forward(np.asarray(z, dtype=self.dtype))
        return sigmoid(out) if self.output == "Sigmoid" else out


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
    loss : {"mse", "bce"}
        "mse" (the default): squared error with a linear output, the lecture's
        L_AE = (1/n) sum_i ||x_i - f_theta(g_phi(x_i))||^2;
        "bce": cross-entropy with a sigmoid output, for pixels read as probabilities.
    rng : numpy.random.Generator, optional
        Source of the initial weights (default ``default_rng(0)``).
    dtype : float32 (training) or float64 (checking).
    """

    def __init__(self, D, hidden=(128,), Z=2, loss="mse", rng=None, dtype=np.float32):
        if loss not in choices.AE_LOSS.values():
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(choices.AE_LOSS.values())}")
        self.loss = loss
        super().__init__(D, hidden, Z, Z, loss, 1.0, rng, dtype)

    def config(self):
        return dict(D=self.D, hidden=self.hidden, Z=self.Z, loss=self.loss)

    def encode(self, x):
        """z = g_phi(x): (N, D) -> (N, Z)."""
        return self.encoder.forward(np.asarray(x, dtype=self.dtype))

    def code(self, x):
        """The code of x, the one point of the latent space x maps to: g_phi(x), (N, Z)."""
        return self.encode(x)

    def reconstruct(self, x):
        """x' = f_theta(g_phi(x)) in data space: (N, D) -> (N, D)."""
        return self.decode(self.encode(x))

    def _forward_backward(self, x_in, x, backward=True):
        """Encode ``x_in``, score the reconstruction against ``x``, backpropagate (if ``backward``)."""
        z = self.encoder.forward(x_in)                # (N, Z)
        out = self.decoder.forward(z)                 # (N, D)
        recon, dout = self._recon_loss(out, x)
        if backward:
            self.zero_grad()                          # the layers add into model.grad
            self.encoder.backward(self.decoder.backward(dout), need_dx=False)
        return Loss(recon, 0.0, 0.0, recon)

    def loss_and_grad(self, x, rng=None, backward=True):
        """Reconstruction loss of a minibatch ``x`` (N, D); sets ``self.grad``."""
        x = np.asarray(x, dtype=self.dtype)
        return self._forward_backward(x, x, backward)


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

    def __init__(self, D, hidden=(128,), Z=2, loss="mse", noise="mask", noise_level=0.3,
                 rng=None, dtype=np.float32):
        if noise not in choices.NOISES:
            raise ValueError(f"unknown noise {noise!r}; choose one of {', '.join(choices.NOISES)}")
        self.noise, self.noise_level = noise, float(noise_level)
        super().__init__(D, hidden, Z, loss, rng, dtype)

    def config(self):
        return dict(super().config(), noise=self.noise, noise_level=self.noise_level)

    def corrupt(self, x, rng):
        """x~ ~ M_D(x~|x): (N, D) -> (N, D)."""
        return noise_lib.corrupt(np.asarray(x, dtype=self.dtype), self.noise, self.noise_level, rng)

    def draw_noise(self, x, rng):
        return {"x_tilde": self.corrupt(x, rng)}

    def loss_and_grad(self, x, rng=None, x_tilde=None, backward=True):
        """Loss of reconstructing the clean ``x`` from ``x_tilde`` (drawn from ``rng`` if not given)."""
        x = np.asarray(x, dtype=self.dtype)
        if x_tilde is None:
            if rng is None:
                raise ValueError("pass rng (to draw the corruption) or a fixed x_tilde")
            x_tilde = self.draw_noise(x, rng)["x_tilde"]
        return self._forward_backward(np.asarray(x_tilde, dtype=self.dtype), x, backward)


class VAE(_EncoderDecoder):
    """The variational autoencoder, and with ``beta != 1`` the beta-VAE.

    Prior p(z) = N(0, I); encoder q_phi(z|x) = N(mu, diag exp(logvar)); decoder p_theta(x|z)
    Bernoulli (logits) or Gaussian (means, fixed ``sigma``).  The loss per example is

    .. math:: L = -E_q[log p_theta(x|z)] + beta * KL(q_phi(z|x) || p(z))

    estimated with one reparameterized sample z = mu + sigma * eps.  beta = 1 gives the
    negative ELBO; beta = 0 gives the reconstruction term alone.

    Parameters
    ----------
    D, hidden, Z : as :class:`Autoencoder`.
    likelihood : {"bernoulli", "gaussian"}
    beta : float >= 0
    sigma : float
        Standard deviation of the Gaussian likelihood (unused for Bernoulli).  Fixed, not
        learned; 0.1 keeps the reconstruction term strong on [0, 1] pixels.
    rng, dtype : as :class:`Autoencoder`.

    Attributes
    ----------
    beta : float
        The KL weight; a trainer may change it between steps (warm-up, or the Lagrange
        multiplier of the constrained form, see :mod:`tinyvae.objectives`).
    capacity, gamma : float or None
        When ``capacity`` is set, the KL term is Burgess et al.'s gamma * |KL - C| instead.
    """

    def __init__(self, D, hidden=(400,), Z=20, likelihood="bernoulli", beta=1.0, sigma=0.1,
                 rng=None, dtype=np.float32):
        self.capacity, self.gamma = None, 1.0
        if likelihood not in choices.LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(choices.LIKELIHOODS)}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.beta = float(beta)
        super().__init__(D, hidden, Z, 2 * int(Z), likelihood, sigma, rng, dtype)

    def config(self):
        return dict(D=self.D, hidden=self.hidden, Z=self.Z, likelihood=self.likelihood,
                    beta=self.beta, sigma=self.sigma)

    def encode(self, x):
        """q_phi(z|x): (N, D) -> mu (N, Z), logvar (N, Z)."""
        h = self.encoder.forward(np.asarray(x, dtype=self.dtype))   # (N, 2Z)
        return h[:, :self.Z], h[:, self.Z:]

    def code(self, x):
        """The code of x, the one point of the latent space x maps to: the posterior mean
        mu(x) = E_q[z|x], (N, Z)."""
        return self.encode(x)[0]

    def reconstruct(self, x):
        """Decode the posterior mean: f_theta(mu(x)), (N, D)."""
        return self.decode(self.code(x))

    def sample(self, n, rng):
        """n draws of E[x|z] with z ~ p(z) = N(0, I): (n, D)."""
        return self.decode(draw_eps((n, self.Z), rng, self.dtype))

    def draw_noise(self, x, rng):
        return {"eps": draw_eps((x.shape[0], self.Z), rng, self.dtype)}

    def kl_penalty(self, kl):
        """The KL term of the loss, and its derivative c = d penalty / d KL.

        beta-VAE:           beta * KL,           c = beta
        capacity (C set):   gamma * |KL - C|,    c = gamma * sign(KL - C)
        """
        if self.capacity is None:
            return self.beta * kl, self.beta
        gap = kl - self.capacity
        return self.gamma * abs(gap), self.gamma * float(np.sign(gap))

    def loss_and_grad(self, x, rng=None, eps=None, backward=True):
        """Loss of a minibatch ``x`` (N, D) with eps drawn from ``rng`` or given; sets ``self.grad``
        (``backward=False``: the Loss only, see ``forward_loss``)."""
        x = np.asarray(x, dtype=self.dtype)
        Z = self.Z
        if eps is None:
            if rng is None:
                raise ValueError("pass rng (to draw eps) or a fixed eps")
            eps = self.draw_noise(x, rng)["eps"]
        eps = np.asarray(eps, dtype=self.dtype)
        # --- forward ---
        h = self.encoder.forward(x)                   # (N, 2Z)
        mu, logvar = h[:, :Z], h[:, Z:]               # (N, Z) each
        z, std = reparameterize(mu, logvar, eps)      # (N, Z)
        out = self.decoder.forward(z)                 # (N, D) logits or means
        recon, dout = self._recon_loss(out, x)        # -E_q log p(x|z), one sample
        kl, dmu_kl, dlogvar_kl = kl_normal_std_normal(mu, logvar)
        penalty, c = self.kl_penalty(kl)              # beta * KL, d/dKL = beta
        if not backward:
            return Loss(recon, kl, c, recon + penalty)
        # --- backward ---
        self.zero_grad()                              # the layers add into model.grad
        dz = self.decoder.backward(dout)              # (N, Z)
        dmu, dlogvar = reparameterize_backward(dz, eps, std)
        dh = np.empty_like(h)                         # (N, 2Z) = [dmu | dlogvar]
        np.add(dmu, c * dmu_kl, out=dh[:, :Z])
        np.add(dlogvar, c * dlogvar_kl, out=dh[:, Z:])
        self.encoder.backward(dh, need_dx=False)    # no gradient w.r.t. the data
        return Loss(recon, kl, c, recon + penalty)


def make_model(cfg, D, rng=None, dtype=np.float32):
    """The one model factory: the model a run's settings ``cfg`` describe, for inputs of size D.

    ``cfg`` is a :class:`tinyvae.config.TrainConfig` (or anything with its attributes
    ``model, hidden, latent, likelihood, sigma, beta, noise, noise_level``).  An AE or DAE
    scores its reconstruction with BCE under the Bernoulli likelihood and with MSE under the
    Gaussian one.
    """
    hidden = tuple(cfg.hidden)
    if cfg.model == "vae":
        return VAE(D, hidden, cfg.latent, likelihood=cfg.likelihood, beta=cfg.beta, sigma=cfg.sigma,
                   rng=rng, dtype=dtype)
    loss = choices.AE_LOSS[cfg.likelihood]
    if cfg.model == "dae":
        return DenoisingAutoencoder(D, hidden, cfg.latent, loss=loss, noise=cfg.noise,
                                    noise_level=cfg.noise_level, rng=rng, dtype=dtype)
    return Autoencoder(D, hidden, cfg.latent, loss=loss, rng=rng, dtype=dtype)
