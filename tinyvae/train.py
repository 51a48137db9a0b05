"""Training: minibatch Adam on any model of the family, in memory.

:class:`Trainer` takes shuffled minibatches, gathered by index with an explicit seeded
Generator, and runs one step per minibatch, in float32 throughout::

    recon, kl = model.forward(xb, rng)                     # the loss's two terms
    total, kl_weight, latent_grads = step_loss(objective, recon, kl, t, model.latents())
    model.backward(kl_weight, latent_grads); optimizer.step()

except under an objective that ``runs_the_model`` (the IWAE of :mod:`tinyvae.iwae`), whose
``forward(model, xb, rng)`` and ``backward(model)`` take the place of the first and third lines.

:func:`fit` is the short form the lessons use.  ``tinyvae train`` wraps the Trainer in a run
folder (:mod:`tinyvae.app.training`).

Resume is exact: :meth:`Trainer.state` holds the parameters, Adam's sums and step count, the
training Generator's state, the objective's state (beta of the constrained form) and the
epoch, and evaluation draws from its own Generator, so a Trainer restored at epoch k
produces bit-for-bit the model of an uninterrupted one.
"""
import math
import time

import numpy as np

from .base.errors import DivergenceError
from .models import Loss
from .noise import binarize
from .objectives import FixedBeta, step_loss
from .optim import FusedAdam


class Trainer:
    """Minibatch training of ``model`` with Adam, in memory.

    Parameters
    ----------
    model : Autoencoder, DenoisingAutoencoder or VAE (float32)
    rng : numpy.random.Generator
        The one source of training randomness: shuffling, eps, corruption, binarization.
    batch_size, lr : the usual.
    objective : FixedBeta, KLTarget, Capacity, TCVAE or IWAE (default: FixedBeta(1), the VAE).
    binarize_dynamic : bool
        Resample x ~ Bernoulli(pixels) for every minibatch.
    """

    def __init__(self, model, rng, batch_size=128, lr=1e-3, objective=None, binarize_dynamic=False):
        self.model, self.rng, self.batch_size = model, rng, int(batch_size)
        self.optimizer = FusedAdam(model.theta, model.grad, lr=lr)    # optim.Adam in ten passes
        self.objective = objective or FixedBeta()                  # beta = 1: the VAE (an AE's KL is 0)
        self.binarize_dynamic = binarize_dynamic
        self.t = 0                                       # optimizer steps taken
        self.epoch = 0                                   # epochs finished

    def step(self, xb):
        """One training step on the minibatch ``xb``; returns its Loss.  The backward pass and
        the update are skipped when the loss is not finite (the caller reports it)."""
        if self.objective.runs_the_model:                           # the IWAE: K draws, its own backward
            loss = self.objective.forward(self.model, xb, rng=self.rng)
            if math.isfinite(loss.total):
                self.objective.backward(self.model)
                self.optimizer.step()
            return loss
        recon, kl = self.model.forward(xb, rng=self.rng)            # eps or corruption from rng
        # recon + beta_t kl, or another form; beta-TCVAE adds a term in the latents
        total, kl_weight, latent_grads = step_loss(self.objective, recon, kl, self.t, self.model.latents())
        if math.isfinite(total):
            if latent_grads is None:                                  # every objective but beta-TCVAE
                self.model.backward(kl_weight)
            else:
                self.model.backward(kl_weight, latent_grads)
            self.optimizer.step()
        return Loss(recon, kl, kl_weight, total)

    def train_epoch(self, x, progress=None):
        """One pass over ``x`` (N, D) in shuffled minibatches.

        Returns ``(mean Loss over examples, seconds spent in training steps)``.
        """
        N, B = x.shape[0], self.batch_size
        perm = self.rng.permutation(N)                   # (N,) this epoch's order
        sums, seconds = np.zeros(4), 0.0
        for step, start in enumerate(range(0, N, B)):
            t0 = time.perf_counter()
            xb = x[perm[start:start + B]]            # (B, D) gathered by index, no full copy
            if self.binarize_dynamic:
                xb = binarize(xb, self.rng)          # x ~ Bernoulli(pixels), fresh each minibatch
            with np.errstate(over="ignore", invalid="ignore"):   # a divergence is reported below
                loss = self.step(xb)
            if not math.isfinite(loss.total):
                raise DivergenceError(f"loss became {loss.total} at epoch {self.epoch + 1}, step {step + 1}")
            self.objective.after_step(loss)
            self.t += 1
            seconds += time.perf_counter() - t0
            sums += len(xb) * np.array(loss)
            if progress is not None:
                progress.update(1)
        self.epoch += 1
        state = [self.model.theta] + [v for v in self.optimizer.state_dict().values() if isinstance(v, np.ndarray)]
        if not all(np.all(np.isfinite(a)) for a in state):      # e.g. Adam's sum of g^2 overflowed
            raise DivergenceError(f"parameters or optimizer state became non-finite in epoch {self.epoch}")
        return Loss(*(sums / N)), seconds

    def evaluate(self, x, seed=0, batch_size=1000):
        """Mean Loss over ``x``, its randomness (eps, corruption) from its own Generator(seed)."""
        rng = np.random.default_rng(seed)
        sums = np.zeros(4)
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            sums += len(xb) * np.array(self.model.forward_loss(xb, rng=rng))
        return Loss(*(sums / x.shape[0]))

    # --- state, for exact resume ---
    def state(self):
        """Copies of everything that determines the rest of training."""
        arrays = {"theta": self.model.theta.copy()}
        arrays.update({f"opt_{k}": v for k, v in self.optimizer.state_dict().items()})
        meta = {"epoch": self.epoch, "t": self.t, "D": self.model.D,
                "rng": self.rng.bit_generator.state, "objective": {
                    k: float(v) for k, v in self.objective.state_dict().items()}}
        return arrays, meta

    def load_state(self, arrays, meta):
        self.model.theta[...] = arrays["theta"]
        self.optimizer.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("opt_")})
        self.epoch, self.t = int(meta["epoch"]), int(meta["t"])
        self.rng.bit_generator.state = meta["rng"]
        self.objective.load_state_dict(meta["objective"])


def fit(model, x, epochs, batch_size=128, lr=1e-3, seed=0, objective=None):
    """Train ``model`` on ``x`` for ``epochs`` quietly; returns the per-epoch mean losses.

    The short form the lessons use: ``fit(VAE(64, (128,), 2), data.x_train, epochs=50)``.
    """
    trainer = Trainer(model, np.random.default_rng(seed), batch_size, lr, objective)
    return [trainer.train_epoch(x)[0] for _ in range(epochs)]
