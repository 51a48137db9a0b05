"""The reparameterization trick for a diagonal Gaussian.

Sampling ``z ~ q(z|x) = N(mu, diag sigma^2)`` is written as a deterministic, differentiable
function of the encoder's outputs and of noise that does not depend on them:

.. math:: z = mu + sigma * eps,   sigma = exp(logvar / 2),   eps ~ N(0, I)

so the gradient reaches ``mu`` and ``logvar`` while the randomness stays in ``eps``.
``eps`` is passed in, so that a gradient check can hold it fixed.  Shapes: (N, Z).
Derivation: ``docs/derivations.md``, "The reparameterization".
"""
import numpy as np


def draw_eps(shape, rng, dtype=np.float32):
    """eps ~ N(0, I), drawn directly in ``dtype`` (float32 for training)."""
    if np.dtype(dtype) == np.float64:
        return rng.standard_normal(shape)
    return rng.standard_normal(shape, dtype=np.float32)


def reparameterize(mu, logvar, eps):
    """z = mu + std * eps with std = exp(0.5 * logvar).

    Returns
    -------
    z : (N, Z) the sample.
    std : (N, Z) sigma, kept for :func:`reparameterize_backward`.
    """
    ### BEGIN SOLUTION
    std = np.exp(0.5 * logvar)                        # (N, Z) sigma, not sigma^2
    z = mu + std * eps                                # (N, Z)
    ### END SOLUTION
    return z, std


def reparameterize_backward(dz, eps, std):
    """Gradients of z = mu + std * eps.

    dz/dmu = 1 and dz/dlogvar = eps * std / 2, so

    dmu = dz,   dlogvar = dz * eps * std / 2       (each (N, Z)).
    """
    ### BEGIN SOLUTION
    dmu = dz                                          # dz/dmu = 1
    dlogvar = dz * eps * (0.5 * std)                  # dz/dlogvar = eps * std / 2
    ### END SOLUTION
    return dmu, dlogvar
