"""The beta-VAE objective in the lecture's three forms, plus KL warm-up and capacity annealing.

The lecture states the beta-VAE three ways:

1. constrained:  max E_q[log p(x|z)]  subject to  KL(q || p) <= delta   (the lecture writes <)
2. Lagrangian:   F = E_q[log p(x|z)] - beta (KL - delta),   beta >= 0 a Lagrange multiplier
3. loss:         L = -E_q[log p(x|z)] + beta KL

Form 3 with a fixed beta is :class:`FixedBeta`.  Forms 1 and 2 are :class:`KLTarget`: the
model takes gradient steps on form 3 with the current beta (descent on L, so ascent on F in
theta, phi), and beta takes a projected gradient step *down* F, with dF/dbeta = -(KL - delta)::

    beta <- max(0, beta - eta * dF/dbeta) = max(0, beta + eta * (KL - delta))

This raises beta while the constraint is broken (KL > delta) and lowers it, not below 0,
while it holds, so KL settles at delta wherever beta stays above 0.  (The method is called
dual ascent: beta climbs the dual function of the loss form, min over theta, phi of
L - beta delta = -F, which is the same step down F; docs/derivations.md, "Dual ascent on
beta".)

:class:`Capacity` is Burgess et al. (2018): L = recon + gamma |KL - C(t)|, with C raised
linearly from 0 to C_max over N steps.

The lecture's two quantities are named functions here, :func:`elbo` and :func:`lagrangian`;
the trainer reports both per epoch (the Lagrangian under ``--kl-target``).

:class:`TCVAE` is beta-TCVAE (Chen et al. 2018): the KL splits into index-code MI + total
correlation + dimension-wise KL (:mod:`tinyvae.kl_decomposition`), and only the total
correlation gets the extra weight, L = recon + KL + (w - 1) TC.  Its TC is estimated from the
minibatch's latents (mu, logvar, z), not from the KL alone, so it is a *latent term*.

Each objective turns a step's two terms into its loss, ``loss(recon, kl, t) -> (total,
kl_weight)`` with ``kl_weight = d total / d kl``, and sees the step's loss after it
(``after_step``); it never touches the model.  An objective with ``needs_latents`` also
scores the step's latents, ``latent_term(mu, logvar, z) -> (value, dz, dmu, dlogvar)``.
:func:`step_loss` joins the two, the one code path of every step's loss; the trainer passes
its ``kl_weight`` and latent gradients to :meth:`tinyvae.models.VAE.backward`, the one code
path of every gradient.  The one exception is the importance-weighted bound (:mod:`tinyvae.iwae`),
whose K draws per example are not a (recon, kl) pair: it ``runs_the_model``'s forward and backward.
"""
import numpy as np

from .kl_decomposition import total_correlation_mws


def elbo(log_px_z, kl):
    """The evidence lower bound (lecture: "ELBO derivation", "Why lower bound"):

    .. math:: ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

    Parameters
    ----------
    log_px_z : (N,) array or float
        E_q[log p(x|z)] in nats per example (``-Loss.recon``, estimated with one z ~ q).
    kl : (N,) array or float
        KL(q(z|x) || p(z)) in nats per example (``Loss.kl``).

    Returns
    -------
    The ELBO, of the shape of its arguments.  A VAE minimises -ELBO; the beta-VAE's loss
    is -E_q[log p(x|z)] + beta KL, which is -ELBO at beta = 1.
    """
    ### BEGIN SOLUTION
    return log_px_z - kl
    ### END SOLUTION


def lagrangian(log_px_z, kl, beta, delta):
    """The Lagrangian of the constrained beta-VAE (lecture: "beta-VAE", form 2):

    .. math:: F(theta, phi, beta) = E_q[log p(x|z)] - beta (KL(q(z|x) || p(z)) - delta)

    maximised over theta and phi, with beta >= 0 the multiplier of the constraint KL <= delta
    (found by :class:`KLTarget`, whose dual-ascent step moves beta down F).  Arguments as
    :func:`elbo`, plus ``beta`` >= 0 and ``delta`` in nats; returns F of their broadcast
    shape.  For a fixed beta, F = -(beta-VAE loss) + beta delta, so both have the same
    gradients.
    """
    return log_px_z - beta * (kl - delta)


def step_loss(objective, recon, kl, t, latents=None):
    """The loss of one step, the one code path the trainer and the gradient check share.

    ``latents`` = the step's ``(mu, logvar, z)``, (M, Z) each (``model.latents()``), needed only
    when ``objective.needs_latents``.  Returns ``(total, kl_weight, latent_grads)``:
    latent_grads is None, or (dz, dmu, dlogvar) of the latent term, (M, Z) each.
    """
    total, kl_weight = objective.loss(recon, kl, t)
    if not objective.needs_latents:
        return total, kl_weight, None
    value, *grads = objective.latent_term(*latents)
    return total + value, kl_weight, tuple(grads)


class Objective:
    """What every objective does: turn a step's recon and KL into its loss, and see it after.

    The defaults do nothing after a step, score no latents and carry no state across a resume.
    """

    #: whether the loss has a term in the latents themselves (:meth:`latent_term`)
    needs_latents = False
    #: whether the objective runs the model's forward and backward itself (the IWAE, tinyvae/iwae.py)
    runs_the_model = False

    def loss(self, recon, kl, t):
        """``(total, kl_weight)`` of step t (0-based): the loss and d loss / d kl."""
        raise NotImplementedError

    def latent_term(self, mu, logvar, z):
        """``(value, dz, dmu, dlogvar)`` of a term in the latents, for ``needs_latents``."""
        raise NotImplementedError

    def after_step(self, loss):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class FixedBeta(Objective):
    """L = recon + beta_t KL, with an optional linear warm-up beta_t = beta min(1, (t + 1) / W)
    at step t = 0, 1, ... (so the first step already has a weight, beta / W)."""

    name = "beta"

    def __init__(self, beta=1.0, warmup_steps=0):
        if not float(beta) >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.beta, self.warmup_steps = float(beta), int(warmup_steps)

    def beta_at(self, t):
        """beta_t, the KL's weight at step t (0-based): the warm-up ramp, then beta."""
        ramp = 1.0 if self.warmup_steps <= 0 else min(1.0, (t + 1) / self.warmup_steps)
        return self.beta * ramp

    def loss(self, recon, kl, t):
        beta = self.beta_at(t)
        return recon + beta * kl, beta


class KLTarget(Objective):
    """The constrained form KL <= delta, with beta a Lagrange multiplier found by dual ascent.

    Each step's loss is recon + beta KL (form 3 with the current beta); after it,
    beta <- max(0, beta + eta (KL - delta)), KL the minibatch's: a projected step of beta
    *down* F = E_q[log p(x|z)] - beta (KL - delta), since dF/dbeta = -(KL - delta).  (The
    Lagrangian's ``+ beta delta`` does not depend on theta or phi, so it drops out of their
    gradient.)
    """

    name = "kl-target"

    def __init__(self, delta, eta=0.01, beta=1.0):
        self.delta, self.eta, self.beta = float(delta), float(eta), float(beta)

    def loss(self, recon, kl, t):
        return recon + self.beta * kl, self.beta

    def after_step(self, loss):
        ### BEGIN SOLUTION
        self.beta = max(0.0, self.beta + self.eta * (loss.kl - self.delta))
        ### END SOLUTION

    def state_dict(self):
        return {"beta": np.float64(self.beta)}

    def load_state_dict(self, state):
        self.beta = float(state["beta"])


class Capacity(Objective):
    """Burgess et al. (2018): L = recon + gamma |KL - C(t)|,  C(t) = C_max min(1, t / N).

    d L / d KL = gamma sign(KL - C(t)): the KL is pushed up while below the capacity and down
    while above it.
    """

    name = "capacity"

    def __init__(self, capacity, steps, gamma=100.0):
        self.C_max, self.steps, self.gamma = float(capacity), int(steps), float(gamma)

    def capacity_at(self, t):
        return self.C_max * (1.0 if self.steps <= 0 else min(1.0, t / self.steps))

    def loss(self, recon, kl, t):
        gap = kl - self.capacity_at(t)
        return recon + self.gamma * abs(gap), self.gamma * float(np.sign(gap))


class TCVAE(Objective):
    """beta-TCVAE (Chen et al. 2018) with alpha = gamma = 1: the total correlation weighed by w.

    .. math:: L = recon + MI + w TC + dimKL = recon + KL + (w - 1) \\widehat{TC}

    KL is the analytic KL (its weight is 1) and TC-hat the minibatch-weighted estimate of
    :func:`tinyvae.kl_decomposition.total_correlation_mws` on the step's (mu, logvar, z), for a
    data set of ``dataset_size`` examples.  w = 1 is the VAE.  TC-hat carries the constant
    (Z - 1) log(N M), which moves the reported loss and not its gradient.
    """

    name = "tcvae"
    needs_latents = True

    def __init__(self, tc_weight, dataset_size):
        self.tc_weight, self.dataset_size = float(tc_weight), int(dataset_size)

    def loss(self, recon, kl, t):
        return recon + kl, 1.0

    def latent_term(self, mu, logvar, z):
        mu, logvar, z = (np.asarray(a, dtype=np.float64) for a in (mu, logvar, z))
        tc, dz, dmu, dlogvar = total_correlation_mws(z, mu, logvar, self.dataset_size)
        w = self.tc_weight - 1.0
        return w * tc, w * dz, w * dmu, w * dlogvar
