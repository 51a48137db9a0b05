"""Training on the importance-weighted bound (IWAE; Burda, Grosse & Salakhutdinov 2016).

Lecture: "ELBO: Why lower bound".  Lesson 05 shows that the ELBO leaves a gap below log p(x),
and that the importance-weighted bound closes it as K grows (:mod:`tinyvae.evaluate` reports it):

    w_k = p(x|z_k) p(z_k) / q(z_k|x),     z_1, ..., z_K ~ q(z|x)
    L_K(x) = E[ log (1/K) sum_k w_k ]      ELBO = L_1 <= L_K <= L_{K+1} <= log p(x)

Here a VAE is *trained* on -L_K.  The gradient is derived by hand in ``docs/derivations.md``,
"Training on the importance-weighted bound (IWAE)": the normalised weights
w~_k = softmax_k(log w_k) weigh each draw's gradient of log w_k, which reaches mu and logvar
through the reparameterization z_k = mu + std * eps_k and directly through log q(z_k|x).

The estimate trained on splits L_K into the ELBO and the Jensen gap that the K draws measure::

    L_K_hat = [ (1/K) sum_k log p(x|z_k) - KL(q(z|x) || p(z)) ]  +  [ LME_k(log w_k) - (1/K) sum_k log w_k ]
            =   the ELBO, estimated as the VAE does (analytic KL)   +   the Jensen gap, >= 0, and 0 at K = 1

(LME = log-mean-exp).  Its expectation is L_K, as for Burda et al.'s LME_k(log w_k) itself:
the two differ by -KL - (1/K) sum_k [log p(z_k) - log q(z_k|x)], whose expectation is 0.
With the analytic KL, K = 1 is the VAE's own step (the same loss and the same gradient);
``IWAE(K, analytic_kl=False)`` is Burda et al.'s form, kept for lesson 05's comparison.

The K draws of every example go through the decoder as one batch of K N rows.  Shapes:
``K`` draws, ``N`` examples, ``D`` pixels, ``Z`` latents.
"""
import numpy as np

from .evaluate import log_mean_exp
from .losses import kl_normal_std_normal, sigmoid
from .models import Loss
from .objectives import Objective, elbo
from .reparam import draw_eps, reparameterize, reparameterize_backward


# --- one function per equation ------------------------------------------------------------------
def log_likelihood_grad(model, out, x):
    """d log p(x|z_k) / d out, the decoder output's gradient of each draw's log-likelihood, (K N, D):

    .. math:: Bernoulli (logits l): x - sigmoid(l);    Gaussian (means m): (x - m) / sigma_x^2

    ``out`` (K N, D) is the decoder's output for the K N draws, ``x`` (K N, D) their data.
    (The value is ``model.log_px_z(out, x)``, (K N,).)
    """
    if model.likelihood == "bernoulli":
        return x - sigmoid(out)
    return (x - out) * (1.0 / (model.sigma * model.sigma))


def log_prior_ratio(z, eps, logvar):
    """r_k = log p(z_k) - log q(z_k|x), (K, N), for z_k = mu + std * eps_k (the 2 pi's cancel):

    .. math:: r_k = -1/2 sum_j z_kj^2  +  1/2 sum_j (logvar_j + eps_kj^2)

    since (z - mu)^2 / std^2 = eps^2.  z, eps: (K, N, Z); logvar: (N, Z).
    """
    return -0.5 * np.sum(z * z, axis=-1) + 0.5 * np.sum(logvar + eps * eps, axis=-1)


def log_importance_weights(log_px_z, log_ratio):
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x): (K, N) from two (K, N) arrays."""
    return log_px_z + log_ratio


def normalized_weights(log_w):
    """w~_k = w_k / sum_j w_j = softmax over k of log w_k, (K, N); each column sums to 1.

    The largest log w of each example is taken out before exponentiating, as in log_mean_exp."""
    e = np.exp(log_w - log_w.max(axis=0, keepdims=True))           # (K, N), each column's largest is 1
    return e / e.sum(axis=0, keepdims=True)


def iw_bound(log_w):
    """Burda et al.'s estimate of L_K for each example, log (1/K) sum_k w_k: (K, N) -> (N,)."""
    return log_mean_exp(log_w, axis=0)


def jensen_gap(log_w):
    """log (1/K) sum_k w_k - (1/K) sum_k log w_k >= 0 for each example (Jensen: log is concave),
    (K, N) -> (N,); exactly 0 for K = 1.  Its expectation is L_K - ELBO."""
    return iw_bound(log_w) - log_w.mean(axis=0)


# --- the objective --------------------------------------------------------------------------------
class IWAE(Objective):
    """Train a VAE on -L_K with K draws per example (``tinyvae train --iwae K``).

    Unlike the other objectives, which weigh a step's (recon, kl), this one runs the model itself
    (``runs_the_model``): the trainer calls :meth:`forward` and :meth:`backward` in place of the
    model's own.  ``analytic_kl``: the estimate of the module docstring (True, trained on; K = 1 is
    the VAE), or Burda et al.'s LME_k(log w_k) (False).  The reported Loss has recon =
    -(1/K) sum_k log p(x|z_k) and kl the analytic KL, so recon + kl is the ELBO's estimate, and
    total = -L_K_hat, both per example.
    """

    name = "iwae"
    runs_the_model = True

    def __init__(self, K, analytic_kl=True):
        if not (isinstance(K, (int, np.integer)) and K >= 1):
            raise ValueError(f"K must be a whole number >= 1, got {K!r}")
        self.K, self.analytic_kl = int(K), bool(analytic_kl)

    def draw_noise(self, model, x, rng):
        """eps (K, N, Z) ~ N(0, I), K draws for every example (at K = 1 the VAE's own draw)."""
        return draw_eps((self.K, x.shape[0], model.Z), rng, model.dtype)

    def forward(self, model, x, rng=None, eps=None):
        """-L_K_hat of the minibatch ``x`` (N, D) as a Loss, eps (K, N, Z) drawn from ``rng`` or
        given; keeps what :meth:`backward` needs."""
        x = np.asarray(x, dtype=model.dtype)
        N, Z, K = x.shape[0], model.Z, self.K
        eps = self.draw_noise(model, x, rng) if eps is None else np.asarray(eps, dtype=model.dtype)
        h = model.encoder.forward(x)                              # (N, 2Z)
        mu, logvar = h[:, :Z], h[:, Z:]                           # (N, Z) each
        z, std = reparameterize(mu, logvar, eps)                  # (K, N, Z) z_k = mu + std eps_k
        x_rep = np.tile(x, (K, 1))                                # (K N, D) row k N + n is x_n
        out = model.decoder.forward(z.reshape(K * N, Z))          # (K N, D) all draws in one batch
        log_px_z = model.log_px_z(out, x_rep).reshape(K, N)       # (K, N) log p(x|z_k)
        log_w = log_importance_weights(log_px_z, log_prior_ratio(z, eps, logvar))   # (K, N)
        kl, dmu_kl, dlogvar_kl = kl_normal_std_normal(mu, logvar)  # mean over N, and its gradients
        recon = -float(log_px_z.mean())                           # -(1/K N) sum_k,n log p(x_n|z_kn)
        if self.analytic_kl:                                      # the ELBO + the Jensen gap
            total = -(elbo(-recon, kl) + float(jensen_gap(log_w).mean()))
        else:                                                     # Burda et al.: LME_k(log w_k)
            total = -float(iw_bound(log_w).mean())
        self._cache = (h, eps, std, z, normalized_weights(log_w), log_likelihood_grad(model, out, x_rep),
                       dmu_kl, dlogvar_kl)
        return Loss(recon, kl, float(self.analytic_kl), total)

    def backward(self, model):
        """Set ``model.grad`` to the gradient of the last forward's -L_K_hat (docs/derivations.md,
        "Training on the importance-weighted bound (IWAE)").  With c = 1 (analytic KL) or 0:

            d(-L_K_hat) / d log p(x|z_kn)        = -w~_kn / N
            d(-L_K_hat) / d [log p(z) - log q]_kn = -(w~_kn - c / K) / N =: -v_kn / N
            d(-L_K_hat) / d KL                   = c
        """
        h, eps, std, z, w_tilde, dlogp_dout, dmu_kl, dlogvar_kl = self._cache
        K, N, Z = eps.shape
        c = 1.0 if self.analytic_kl else 0.0
        v = w_tilde - c / K                                       # (K, N), 0 when K = 1 and c = 1
        model.zero_grad()                                         # the layers add into model.grad
        # path 1: each draw's log p(x|z_k), weighted by w~_k, back through the decoder
        dout = dlogp_dout * (-(w_tilde / N)).reshape(K * N, 1)    # (K N, D)
        dz = model.decoder.backward(dout).reshape(K, N, Z)        # (K, N, Z)
        # path 2: r_k = log p(z_k) - log q(z_k|x) at fixed mu, logvar: dr/dz = -z + (z - mu) / std^2
        dr = (-(v / N))[..., None]                                # (K, N, 1) d(-L_K_hat) / d r_k
        dz = dz + dr * (eps / std - z)                            # (z - mu) / std^2 = eps / std
        # both into mu and logvar through z_k = mu + std eps_k, summed over the K draws
        dmu, dlogvar = (g.sum(axis=0) for g in reparameterize_backward(dz, eps, std))   # (N, Z) each
        # path 3: the direct path of -log q(z_k|x) at fixed z: dr/dmu = -eps/std, dr/dlogvar = (1 - eps^2)/2
        dmu += np.sum(dr * (-eps / std), axis=0)                  # cancels path 2's eps/std: net v z / N
        dlogvar += np.sum(dr * (0.5 - 0.5 * eps * eps), axis=0)
        dh = np.empty_like(h)                                     # (N, 2Z) = [dmu | dlogvar]
        np.add(dmu, c * dmu_kl, out=dh[:, :Z])                    # path 4: the analytic KL, weight c
        np.add(dlogvar, c * dlogvar_kl, out=dh[:, Z:])
        model.encoder.backward(dh, need_dx=False)
