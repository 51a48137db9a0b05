"""tinyvae: autoencoders, denoising autoencoders, VAEs and the beta-VAE from scratch in NumPy.

Every gradient is derived by hand and checked by finite differences (``tinyvae gradcheck``).
The subject is at the top, one idea per module, in the lecture's order:

    layers           Linear, ReLU, Sigmoid, Sequential (forward and hand-written backward)
    losses           MSE, Gaussian and Bernoulli likelihoods, the analytic KL
    reparam          z = mu + sigma * eps and its backward
    noise            the DAE's corruptions M_D(x~|x), and binarization
    models           Autoencoder, DenoisingAutoencoder, VAE (beta-VAE with beta != 1)
    objectives       elbo, lagrangian; fixed beta, warm-up, the constrained form, capacity
    optim            SGD with momentum, Adam
    gradcheck        the finite-difference checker
    train            the Trainer and fit
    evaluate         the ELBO, the importance-weighted log p(x), active units
    holes            the hole score and the holes map
    disentanglement  MIG and the FactorVAE score
    plots            the figures (the only module that imports matplotlib)
    errors, choices, atomic   leaves: one-line errors, the valid choices, files written whole

One level down, what serves them: ``tinyvae.data`` (the data sets) and ``tinyvae.app`` (the
command line, run folders, the explorer page).  Imports point only down: app -> data -> core.

``from tinyvae import VAE`` works, but ``import tinyvae`` itself loads nothing else: a
module that needs only the data (``tinyvae.data.idx``) does not load the models.
"""
import importlib

__version__ = "0.1.0"

#: what ``from tinyvae import NAME`` gives, and the module that defines it (loaded on first use)
_EXPORTS = {"Linear": "layers", "ReLU": "layers", "Sigmoid": "layers", "Sequential": "layers",
            "Autoencoder": "models", "DenoisingAutoencoder": "models", "VAE": "models", "Loss": "models",
            "SGD": "optim", "Adam": "optim"}
__all__ = list(_EXPORTS)


def __getattr__(name):
    """``tinyvae.VAE`` and the other names of ``__all__``, imported when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'tinyvae' has no attribute {name!r}")
