"""Data-parallel training steps: each core runs forward and backward on its own rows.

A minibatch loss is a mean over examples, so its gradient is the weighted mean of the
gradients of any split of the rows::

    x = [x_1; ...; x_W],  n_k rows each      g = sum_k (n_k / N) g_k

:class:`DataParallel` cuts each minibatch into W near-equal row blocks and runs the model's
own ``loss_and_grad`` on block k in thread k, on a :meth:`replica <tinyvae.models.
_EncoderDecoder.replica>` of the model (the same parameters, its own gradient buffer and
activations).  Then each thread combines the gradients on its slice of the flat vector and
runs the optimizer's update there.  NumPy releases the GIL inside matrix products and
elementwise operations, so the W threads really run at once; BLAS is set to one thread per
call meanwhile (:mod:`tinyvae.blas`), since the threads already fill the cores.

Nothing in the model changes: the layers, losses and optimizer are the ones a single thread
runs, and the randomness (eps, the corruption) is drawn for the whole minibatch from the
trainer's Generator exactly as ``loss_and_grad(x, rng)`` draws it, so the two paths differ
only by the rounding of the sum over rows (``tests/test_parallel.py``).

Not split: a minibatch of fewer than ``W * MIN_ROWS`` rows, and the capacity objective,
whose KL weight gamma * sign(KL - C) depends on the KL of the *whole* minibatch.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .models import Loss

#: the fewest rows per block worth a thread; a smaller minibatch runs whole on one thread
MIN_ROWS = 8


class DataParallel:
    """One training step (loss, gradient and optimizer update) spread over ``workers`` threads.

    Parameters
    ----------
    model : Autoencoder, DenoisingAutoencoder or VAE
        Its ``theta`` and ``grad`` are the ones ``optimizer`` updates.
    optimizer : Adam or SGD
        Anything with ``advance()`` and ``update(slice, *advance())``.
    workers : int >= 2
        Threads, one per core.
    """

    def __init__(self, model, optimizer, workers=2):
        if workers < 2:
            raise ValueError(f"DataParallel needs at least 2 workers, got {workers}")
        self.model, self.optimizer, self.workers = model, optimizer, int(workers)
        self.replicas = [model] + [model.replica() for _ in range(self.workers - 1)]
        P = model.theta.size
        bounds = np.linspace(0, P, self.workers + 1).astype(int)
        self.slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]   # one per thread
        self._scratch = np.empty_like(model.grad)     # (P,) for the weighted sum of unequal blocks
        self._pool = None

    def splits(self, N):
        """Whether a minibatch of N rows is split here (else it runs whole on this thread)."""
        return N >= self.workers * MIN_ROWS and getattr(self.model, "capacity", None) is None

    def step(self, x, rng):
        """``loss_and_grad(x, rng)`` then ``optimizer.step()``, on ``workers`` threads; returns the Loss.

        As on one thread, a non-finite loss is returned *without* the optimizer step.
        """
        model, W, N = self.model, self.workers, x.shape[0]
        if not self.splits(N):
            loss = model.loss_and_grad(x, rng=rng)
            if np.isfinite(loss.total):
                self.optimizer.step()
            return loss
        noise = model.draw_noise(x, rng)              # drawn for all N rows, as loss_and_grad does
        bounds = np.linspace(0, N, W + 1).astype(int)
        rows = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        for r in self.replicas[1:]:
            for name in model.STEP_SETTINGS:          # beta may have changed since the last step
                setattr(r, name, getattr(model, name))

        errors = np.geterr()                          # the caller's np.errstate, for the threads too

        def forward_backward(k):                      # block k on replica k: sets replica k's grad
            part = {name: value[rows[k]] for name, value in noise.items()}
            with np.errstate(**errors):
                return self.replicas[k].loss_and_grad(x[rows[k]], **part)

        losses = self._map(forward_backward)
        weights = [(r.stop - r.start) / N for r in rows]   # n_k / N
        recon, kl, total = (sum(w * getattr(part, name) for w, part in zip(weights, losses))
                            for name in ("recon", "kl", "total"))   # each a mean over all N rows
        loss = Loss(recon, kl, losses[0].beta, total)
        if not np.isfinite(loss.total):
            return loss                               # diverged: the caller reports it; theta is kept
        args = self.optimizer.advance()

        def combine_and_update(k):                    # on slice k of theta: g = sum_j w_j g_j, then update
            s = self.slices[k]
            g = model.grad[s]
            if len(set(weights)) == 1:
                for r in self.replicas[1:]:
                    g += r.grad[s]
                g *= weights[0]
            else:
                g *= weights[0]
                tmp = self._scratch[s]
                for w, r in zip(weights[1:], self.replicas[1:]):
                    np.multiply(r.grad[s], w, out=tmp)
                    g += tmp
            with np.errstate(**errors):
                self.optimizer.update(s, *args)

        self._map(combine_and_update)
        return loss

    def _map(self, fn):
        """``[fn(0), ..., fn(W-1)]``, fn(0) on this thread and the rest on the pool's."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="tinyvae-worker")
        futures = [self._pool.submit(fn, k) for k in range(1, self.workers)]
        first = fn(0)
        return [first] + [f.result() for f in futures]

    def close(self):
        """Stop the worker threads (they also stop at exit)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


#: the least work per thread, rows x parameters (about the multiply-adds of one forward),
#: at which splitting a step paid on the 2-core machine it was measured on
#: (benchmarks/README.md): the 784-400-20 VAE gained 6-9% at B = 256 and 512 (8.4e7 and
#: 1.7e8), broke even at B = 128 (4.2e7) and lost at B = 32 and 64, because a split step
#: pays two thread hand-offs and the threads' waits for the GIL (each a sleep and a wake-up
#: of some 50 us on this VM) on top of work that must be large enough to share
MIN_WORK = 6e7


def cores():
    """CPU cores this process may run on."""
    import os
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                            # not on Linux
        return os.cpu_count() or 1


def auto_workers(model, batch_size):
    """Threads for ``tinyvae train --workers 0``: one per core when each core's share of a
    minibatch is worth a thread (``MIN_WORK``) and BLAS's threads can be set, else 1."""
    from . import blas
    W = cores()
    if W < 2 or not blas.available():
        return 1
    return W if (batch_size // W) * model.theta.size >= MIN_WORK else 1
