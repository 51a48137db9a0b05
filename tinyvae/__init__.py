"""tinyvae: autoencoders, denoising autoencoders, VAEs and the beta-VAE from scratch in NumPy.

Every gradient is derived by hand and checked by finite differences (``tinyvae gradcheck``).
``ls tinyvae/`` shows the lecture, one idea per module, in its order (:data:`LECTURE`):

    layers            Linear, ReLU, Sigmoid, Sequential (forward and hand-written backward)
    losses            MSE, Gaussian and Bernoulli likelihoods, the analytic KL
    reparam           z = mu + sigma * eps and its backward
    noise             the DAE's corruptions M_D(x~|x), and binarization
    models            Autoencoder, DenoisingAutoencoder, VAE (beta-VAE with beta != 1)
    objectives        elbo, lagrangian; fixed beta, warm-up, the constrained form, capacity, TC
    iwae              training on the importance-weighted bound L_K, its gradient by hand
    optim             SGD with momentum, Adam
    gradcheck         the finite-difference checker
    train             the Trainer and fit
    evaluate          the ELBO, the importance-weighted log p(x), active units
    kl_decomposition  the KL's three terms: index-code MI, total correlation, dimension-wise KL

Beside them, one product per subpackage, from the bottom up (imports point only down):

    base      the plumbing under everything: errors, choices, atomic (files written whole)
    data      the data sets: the embedded digits, MNIST and Fashion-MNIST, the shapes
    studies   measurements and figures beyond the equations: holes, classifier,
              disentanglement, plots
    course    the exercises: catalogue, checks, grader (``tinyvae exercises``)
    app       the ``tinyvae`` command, run folders, the explorer page

``from tinyvae import VAE`` works, but ``import tinyvae`` itself loads nothing else: a
module that needs only the data (``tinyvae.data.idx``) does not load the models.
"""
import importlib

__version__ = "0.1.0"

#: the lecture's modules, in its order: the package's top level, besides its subpackages
LECTURE = ("layers", "losses", "reparam", "noise", "models", "objectives", "iwae", "optim", "gradcheck", "train",
           "evaluate", "kl_decomposition")
#: the subpackages, from the bottom layer up; a module imports its own layer and those below
LAYERS = ("base", "lecture", "data", "studies", "course", "app")

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
