"""tinyvae: autoencoders, denoising autoencoders, VAEs and the beta-VAE from scratch in NumPy.

Every gradient is derived by hand and checked by finite differences (``tinyvae gradcheck``).
Modules, one idea each:

    layers      Linear, ReLU, Sigmoid, Sequential (forward and hand-written backward)
    losses      MSE, Gaussian and Bernoulli likelihoods, the analytic KL
    reparam     z = mu + sigma * eps and its backward
    noise       the DAE's corruptions M_D(x~|x)
    models      Autoencoder, DenoisingAutoencoder, VAE (beta-VAE with beta != 1), make_model
    objectives  elbo, lagrangian; fixed beta, warm-up, the constrained form, capacity
    optim       SGD with momentum, Adam
    gradcheck   the finite-difference checker
    data        every data set by name (dataset, digits, shapes, idx, download hold the parts)
    choices     the valid models, data sets, likelihoods, noises, binarizations
    config      the settings of a run
    train       the trainer; runs: its run folders (one trainer's claim, checkpoint and metrics as one unit)
    memory      the memory a command will need, checked before anything is allocated
    evaluate, holes, disentanglement, explore, plots, run_figures, gallery, cli

matplotlib is imported by ``tinyvae.plots`` (and ``run_figures``, through it) only, so
``import tinyvae`` stays fast.
"""
from .layers import Linear, ReLU, Sequential, Sigmoid
from .models import VAE, Autoencoder, DenoisingAutoencoder, Loss
from .optim import SGD, Adam

__version__ = "0.1.0"
__all__ = ["Linear", "ReLU", "Sigmoid", "Sequential", "Autoencoder", "DenoisingAutoencoder",
           "VAE", "Loss", "SGD", "Adam"]
