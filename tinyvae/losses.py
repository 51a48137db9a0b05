"""Losses and the KL divergence, each returning its value and its gradient.

Every loss is **summed over the data dimensions and averaged over the batch**, so each
number reads as "nats per example" (the same convention as the pytorch/examples VAE divided
by the batch size).  The gradient returned is that of exactly this value.

Every gradient here is derived step by step in ``docs/derivations.md``.
Shapes: ``N`` examples, ``D`` data dimensions, ``Z`` latent dimensions.
"""
import numpy as np


LOG_2PI = float(np.log(2 * np.pi))


def mse(x_hat, x):
    """Squared error, the lecture's L_AE:  (1/N) sum_n sum_d (x - x_hat)^2.

    Parameters
    ----------
    x_hat, x : (N, D)
        Reconstruction and target.

    Returns
    -------
    loss : float, nats per example.
    dx_hat : (N, D), d loss / d x_hat = 2 (x_hat - x) / N.
    """
    N = x.shape[0]
    ### BEGIN SOLUTION
    diff = x_hat - x                                  # (N, D)
    loss = float(np.sum(diff * diff) / N)
    dx_hat = diff * (2.0 / N)                         # (N, D)
    ### END SOLUTION
    return loss, dx_hat


def gaussian_log_likelihood(x_hat, x, sigma=1.0):
    """log N(x; x_hat, sigma^2 I) of each example, summed over D: (N,)."""
    D = x.shape[1]
    var = sigma * sigma
    diff = x_hat - x                                  # (N, D)
    return -np.sum(diff * diff, axis=1) / (2 * var) - 0.5 * D * (LOG_2PI + np.log(var))


def gaussian_nll(x_hat, x, sigma=1.0):
    """-log N(x; x_hat, sigma^2 I), averaged over the batch.

    .. math:: (1/N) sum_n [ ||x - x_hat||^2 / (2 sigma^2) + (D/2) log(2 pi sigma^2) ]

    With ``sigma**2 = 1/2`` this is ``mse`` plus the constant ``(D/2) log(pi)``: minimising
    the squared error is maximum likelihood under a fixed-variance Gaussian decoder.

    Returns
    -------
    loss : float, nats per example.
    dx_hat : (N, D), (x_hat - x) / (sigma^2 N).
    """
    N = x.shape[0]
    ### BEGIN SOLUTION
    loss = -float(np.sum(gaussian_log_likelihood(x_hat, x, sigma))) / N
    dx_hat = (x_hat - x) * (1.0 / (sigma * sigma * N))   # (N, D)
    ### END SOLUTION
    return loss, dx_hat


def bernoulli_log_likelihood(logits, x):
    """log Bernoulli(x; sigmoid(logits)) of each example, summed over D: (N,).

    Stable for any logit l, because exp is only taken of -|l|:

    .. math:: log p(x|l) = l x - max(l, 0) - log(1 + exp(-|l|))
    """
    per = logits * x - np.maximum(logits, 0) - np.log1p(np.exp(-np.abs(logits)))   # (N, D)
    return per.sum(axis=1)


def sigmoid(l):
    """The logistic function 1 / (1 + exp(-l)) of any logit, without overflow: the identity
    sigmoid(l) = (1 + tanh(l / 2)) / 2 takes no exp of a large number.  The same function as
    ``layers.sigmoid``, in four vectorised passes where that one's ``where`` form takes seven;
    written here again so that the losses import nothing of the layers (a student's copy with a
    broken ``layers.py`` still has its losses graded, exercises 5 and 8-10)."""
    return 0.5 + 0.5 * np.tanh(0.5 * l)


def bernoulli_nll(logits, x):
    """-log Bernoulli(x; sigmoid(logits)), from logits, averaged over the batch.

    This is the binary cross-entropy with the sigmoid folded in,
    -[x log s(l) + (1-x) log(1-s(l))] = softplus(l) - l x, with gradient s(l) - x.
    ``x`` may be any value in [0, 1] (intensities, as pytorch/examples uses).  Written in
    the stable form, which exponentiates only -|l| (every step is finite for any logit,
    +-1e4 included):

    .. math:: loss = (1/N) sum_n sum_d [ max(l, 0) - l x + log(1 + exp(-|l|)) ]
    .. math:: d loss / d l = (sigmoid(l) - x) / N

    ``log(1 + e)`` is taken as written, not as ``log1p(e)``: NumPy has a vectorised float32
    log on AVX2 CPUs but calls the C library's log1p one element at a time there (2.0 ms
    against 0.3 ms for 512 x 784 logits; on AVX-512 both are vectorised).  For e in (0, 1]
    the two differ by the rounding of 1 + e and of the log, at most 1.3e-7 nats per element
    in float32 (``tests/test_losses.py``; benchmarks/README.md, issue 23).  Training runs
    :func:`bernoulli_nll_fused`, the same numbers in one reused buffer.

    Parameters
    ----------
    logits : (N, D), the decoder's output l.
    x : (N, D), targets in [0, 1].

    Returns
    -------
    loss : float, nats per example.
    dlogits : (N, D), (sigmoid(logits) - x) / N.
    """
    N = x.shape[0]
    ### BEGIN SOLUTION
    loss = np.sum(np.maximum(logits, 0) - logits * x + np.log(1 + np.exp(-np.abs(logits)))) / N
    dlogits = (sigmoid(logits) - x) / N               # (N, D)
    ### END SOLUTION
    return float(loss), dlogits


def bernoulli_nll_fused(logits, x):
    """:func:`bernoulli_nll` in one reused buffer: the form the training step runs.

    Equal to :func:`bernoulli_nll` up to rounding (``tests/test_losses.py``), using

        sum max(l, 0) = (sum l + sum |l|) / 2,   sigmoid(l) = (1 + tanh(l / 2)) / 2

    and ``out=``, so that its passes write into the one (N, D) array it returns instead of
    making a new array for each operation.  Measured gain (benchmarks/README.md, issue 30):
    with :func:`bernoulli_nll` in its place, the whole training step of the 784-400-20 VAE
    on one thread ran at about 0.9x of the samples/s at B = 512 (the call itself about 1.5x
    slower), more than the 3% the readable form was allowed to cost.
    """
    N = x.shape[0]
    a = np.abs(logits)                                # (N, D) |l|
    sum_relu = 0.5 * (np.sum(logits) + np.sum(a))     # sum max(l, 0)
    np.negative(a, out=a)
    np.exp(a, out=a)                                  # e = exp(-|l|), in (0, 1]
    a += 1.0
    np.log(a, out=a)                                  # log(1 + e), as bernoulli_nll takes it
    loss = (sum_relu + np.sum(a) - np.vdot(logits, x)) / N
    dlogits = np.multiply(logits, 0.5, out=a)         # reuse the buffer: l / 2
    np.tanh(dlogits, out=dlogits)
    dlogits += 1.0
    dlogits *= 0.5                                    # sigmoid(l)
    dlogits -= x
    dlogits *= 1.0 / N                                # (sigmoid(l) - x) / N
    return float(loss), dlogits


def kl_normal_std_normal(mu, logvar):
    """KL( N(mu, diag exp(logvar)) || N(0, I) ), summed over Z, averaged over the batch.

    .. math:: KL = (1/N) sum_n sum_j (1/2) (mu^2 + exp(logvar) - 1 - logvar)

    It is >= 0, and 0 exactly when mu = 0 and logvar = 0.

    Returns
    -------
    kl : float, nats per example.
    dmu : (N, Z), mu / N.
    dlogvar : (N, Z), (exp(logvar) - 1) / (2 N).
    """
    N = mu.shape[0]
    ### BEGIN SOLUTION
    var = np.exp(logvar)                              # (N, Z) sigma^2
    kl = 0.5 * np.sum(mu * mu + var - 1 - logvar) / N
    dmu = mu * (1.0 / N)                              # (N, Z)
    dlogvar = (var - 1) * (0.5 / N)                   # (N, Z)
    ### END SOLUTION
    return float(kl), dmu, dlogvar


def kl_per_dimension(mu, logvar):
    """KL of each latent dimension, averaged over the batch: (Z,)."""
    return 0.5 * np.mean(mu * mu + np.exp(logvar) - 1 - logvar, axis=0)


def kl_gaussians(mu_q, logvar_q, mu_p, logvar_p):
    """KL( N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p)) ) per element, for any shapes.

    .. math:: (1/2) [ logvar_p - logvar_q + (exp(logvar_q) + (mu_q - mu_p)^2) / exp(logvar_p) - 1 ]

    Used to show that KL is not symmetric; with ``mu_p = logvar_p = 0`` it is the
    per-element term of :func:`kl_normal_std_normal`.
    """
    return 0.5 * (logvar_p - logvar_q
                  + (np.exp(logvar_q) + (mu_q - mu_p) ** 2) / np.exp(logvar_p) - 1)


def log_normal(z, mu, logvar):
    """log N(z; mu, diag exp(logvar)), summed over the last axis."""
    return -0.5 * np.sum(LOG_2PI + logvar + (z - mu) ** 2 / np.exp(logvar), axis=-1)
