"""Training: minibatch Adam on any model of the family, with run folders, exact resume and clear errors.

Two levels:

* :class:`Trainer` trains a model in memory (the lessons use it): shuffled minibatches
  gathered by index from an explicit seeded Generator, one ``loss_and_grad`` and one
  optimizer step per minibatch, float32 throughout.
* :func:`run` is ``tinyvae train``: it adds the run folder (config, metrics, atomic
  checkpoints every epoch), the per-epoch report, exact resume, Ctrl-C and divergence handling.

Resume is exact: the checkpoint holds the parameters, Adam's moments and step count, the
training Generator's state, the objective's state (beta of the constrained form) and the
epoch, and evaluation draws from its own Generator, so a run resumed at epoch k produces
bit-for-bit the model of an uninterrupted run.
"""
import math
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from . import data as data_lib
from . import memory, runs
from .config import TrainConfig
from .data import binarize_dynamic
from .errors import CheckpointError, DivergenceError, Interrupted, UsageError, one_line
from .models import Loss, make_model
from .objectives import Capacity, FixedBeta, KLTarget, lagrangian
from .optim import Adam

def make_objective(cfg, steps_per_epoch):
    """The schedule of the KL term: fixed beta (+ warm-up), KL target, or capacity."""
    if cfg.kl_target is not None:
        return KLTarget(cfg.kl_target, eta=cfg.beta_lr, beta=cfg.beta)
    if cfg.capacity is not None:
        return Capacity(cfg.capacity, cfg.capacity_steps, gamma=cfg.gamma)
    return FixedBeta(cfg.beta, warmup_steps=cfg.warmup_epochs * steps_per_epoch)


class Trainer:
    """Minibatch training of ``model`` with Adam, in memory.

    Parameters
    ----------
    model : Autoencoder, DenoisingAutoencoder or VAE (float32)
    rng : numpy.random.Generator
        The one source of training randomness: shuffling, eps, corruption, binarization.
    batch_size, lr : the usual.
    objective : FixedBeta, KLTarget or Capacity (default: fixed at the model's beta).
    binarize_dynamic : bool
        Resample x ~ Bernoulli(pixels) for every minibatch.
    """

    def __init__(self, model, rng, batch_size=128, lr=1e-3, objective=None, binarize_dynamic=False):
        self.model, self.rng, self.batch_size = model, rng, int(batch_size)
        self.optimizer = Adam(model.theta, model.grad, lr=lr)
        self.objective = objective or FixedBeta(getattr(model, "beta", 0.0))
        self.binarize_dynamic = binarize_dynamic
        self.t = 0                                       # optimizer steps taken
        self.epoch = 0                                   # epochs finished

    def step(self, xb):
        """One training step on the minibatch ``xb``: ``loss_and_grad``, then the optimizer
        (skipped when the loss is not finite).  Returns the Loss."""
        loss = self.model.loss_and_grad(xb, rng=self.rng)
        if math.isfinite(loss.total):
            self.optimizer.step()
        return loss

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
                xb = binarize_dynamic(xb, self.rng)  # x ~ Bernoulli(pixels), fresh each minibatch
            self.objective.before_step(self.model, self.t)
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


# --- tinyvae train ---------------------------------------------------------------------------------
def _format_row(r):
    return (f"epoch {r['epoch']:>4} | train recon {r['train_recon']:8.3f} kl {r['train_kl']:7.3f} "
            f"-elbo {r['train_loss']:8.3f} | test recon {r['test_recon']:8.3f} kl {r['test_kl']:7.3f} "
            f"-elbo {r['test_loss']:8.3f} | kl weight {r['kl_weight']:.3f} | {r['seconds']:.2f} s")


def run(cfg=None, out=None, resume=None, epochs=None, data_dir=None, log=print, progress_bars=True):
    """``tinyvae train``: train per ``cfg`` into a new run folder, or ``resume`` one.

    On resume the run's own settings are used; only ``epochs`` (train on to this epoch) and
    ``data_dir`` (where its MNIST files are now) may be given.  The folder is claimed for
    the whole run (:mod:`tinyvae.runs`); a new folder in which no epoch finished is removed.

    Returns ``(run_dir, trainer, dataset, throughput)``.  Raises TinyVAEError subclasses for
    anything the user can fix; Ctrl-C raises :class:`Interrupted` once the last finished
    epoch's checkpoint is safely on disk.
    """
    if resume is None:
        cfg = (cfg or TrainConfig()).validate()
        base = os.path.join("runs", f"{cfg.model}-{cfg.data}-{time.strftime('%Y%m%d-%H%M%S')}")
        claim = runs.claim_new_run(out, default_base=base)
    else:
        claim = runs.claim_run(resume)
    try:
        return _run_claimed(claim.run_dir, cfg, resume, epochs, data_dir, log, progress_bars)
    except KeyboardInterrupt:               # outside the epochs (loading, setting up): nothing half-done
        kept = (f"the checkpoint in {claim.run_dir} is kept as it was; continue with 'tinyvae train "
                f"--resume {claim.run_dir}'" if os.path.exists(os.path.join(claim.run_dir, runs.CHECKPOINT))
                else "no epoch had finished, so nothing was kept")
        raise Interrupted(f"interrupted: {kept}") from None
    finally:
        claim.release(remove_if_empty=True)


def _run_claimed(run_dir, cfg, resume, epochs, data_dir, log, progress_bars):
    if resume is not None:
        arrays, meta = runs.load_checkpoint(run_dir)
        cfg = runs.load_settings(run_dir, meta)
        cfg.epochs = cfg.epochs if epochs is None else epochs
        cfg.data_dir = cfg.data_dir if data_dir is None else data_dir
        cfg.validate()                                   # the flags given with --resume
    else:
        meta = None
    dataset = data_lib.load_for_run(cfg, run_dir, D=meta and meta["D"])
    x_train, x_test = dataset.x_train, dataset.x_test
    memory.require(memory.training_bytes(dataset.D, cfg.hidden, cfg.latent, min(cfg.batch_size, len(x_train)),
                                         2 * cfg.latent if cfg.model == "vae" else cfg.latent),
                   f"training this {cfg.model} (D={dataset.D}, --hidden {' '.join(map(str, cfg.hidden))}, "
                   f"--latent {cfg.latent}, --batch-size {cfg.batch_size})", "choose smaller sizes")
    steps_per_epoch = -(-x_train.shape[0] // cfg.batch_size)
    rng = np.random.default_rng(cfg.seed)
    model = make_model(cfg, dataset.D, rng)
    trainer = Trainer(model, rng, cfg.batch_size, cfg.lr, make_objective(cfg, steps_per_epoch),
                      binarize_dynamic=cfg.binarize == "dynamic")

    rows = []
    if resume is not None:
        if arrays["theta"].shape != model.theta.shape:
            raise CheckpointError(f"checkpoint in {run_dir} does not match its config.json; "
                                  f"restore config.json or train again")
        try:
            trainer.load_state(arrays, meta)
        except (KeyError, ValueError, TypeError) as err:    # e.g. a generator state or Adam sums of another shape
            raise CheckpointError(f"checkpoint {os.path.join(run_dir, runs.CHECKPOINT)} is damaged: its training "
                                  f"state cannot be restored ({type(err).__name__}: {one_line(err)}); delete the "
                                  f"run folder and train again") from None
        if cfg.epochs < trainer.epoch:
            raise UsageError(f"{run_dir} is already at epoch {trainer.epoch}; pass --epochs "
                             f"{trainer.epoch} or more to continue it")
        # the checkpoint's own rows are the truth; a checkpoint from before they travelled
        # inside it keeps the rows of metrics.jsonl up to its epoch
        rows = [r for r in runs.metrics_of(run_dir, meta) if r["epoch"] <= trainer.epoch]
        runs.write_views(run_dir, {"config": cfg.to_dict(), "metrics": rows})
        log(f"resuming {run_dir} at epoch {trainer.epoch}, to epoch {cfg.epochs}" if trainer.epoch < cfg.epochs
            else f"{run_dir} is already at epoch {cfg.epochs}: nothing to train")
    else:
        log(f"training a {cfg.model} on {cfg.data} ({x_train.shape[0]} train, {x_test.shape[0]} test, "
            f"D={dataset.D}) into {run_dir}")

    saved_epoch = trainer.epoch if resume is not None else None
    snapshot, samples, step_seconds = None, 0, 0.0
    try:
        while trainer.epoch < cfg.epochs:
            bar = _progress(steps_per_epoch, trainer.epoch + 1, cfg.epochs) if progress_bars else None
            t0 = time.perf_counter()
            try:
                train, seconds = trainer.train_epoch(x_train, bar)
            finally:
                if bar is not None:
                    bar.close()
            test = trainer.evaluate(x_test, seed=cfg.seed + 1000003 * trainer.epoch)
            row = {"epoch": trainer.epoch,
                   "train_loss": -train.elbo, "train_recon": train.recon, "train_kl": train.kl,
                   "train_objective": train.total,
                   "test_loss": -test.elbo, "test_recon": test.recon, "test_kl": test.kl,
                   "kl_weight": float(train.kl_weight), "seconds": time.perf_counter() - t0,
                   "samples_per_s": x_train.shape[0] / seconds}
            if cfg.kl_target is not None:   # F = E_q log p(x|z) - beta (KL - delta), beta as it now is
                row["train_lagrangian"] = float(lagrangian(-train.recon, train.kl, trainer.objective.beta,
                                                           cfg.kl_target))
            rows = rows + [row]
            arrays, meta = trainer.state()
            meta.update(config=cfg.to_dict(), metrics=rows, image_shape=list(dataset.image_shape))
            snapshot = (arrays, meta)                    # the epoch's checkpoint and rows: one unit
            runs.save_checkpoint(run_dir, arrays, meta)
            saved_epoch = trainer.epoch
            runs.write_views(run_dir, meta)
            samples += x_train.shape[0]
            step_seconds += seconds
            log(_format_row(row))
    except KeyboardInterrupt:
        # the interrupt may have hit between an epoch's end and its writes: finish them
        if snapshot is not None:
            if saved_epoch != snapshot[1]["epoch"]:
                runs.save_checkpoint(run_dir, *snapshot)
                saved_epoch = snapshot[1]["epoch"]
            runs.write_views(run_dir, snapshot[1])
        kept = (f"the checkpoint of epoch {saved_epoch} is kept; continue with 'tinyvae train --resume "
                f"{run_dir} --epochs {cfg.epochs}'" if saved_epoch
                else "no epoch had finished, so nothing was kept")
        raise Interrupted(f"interrupted: {kept}") from None
    except DivergenceError as err:
        kept = (f"the checkpoint of epoch {saved_epoch} in {run_dir} is kept" if saved_epoch
                else "no checkpoint was written")
        raise DivergenceError(f"training diverged: {err}; {kept}; {_divergence_advice(cfg, trainer.t)}") from None

    throughput = samples / step_seconds if step_seconds > 0 else 0.0
    return run_dir, trainer, dataset, throughput


def _divergence_advice(cfg, steps_taken):
    """What to change after a divergence.  A loss that is not finite before the first update
    (or settings far out of the usual range) comes from the objective, not the step size."""
    suspects = []
    if cfg.model == "vae" and cfg.likelihood == "gaussian" and (steps_taken == 0 or cfg.sigma < 1e-3):
        suspects.append(f"a larger --sigma than {cfg.sigma:g} (1/sigma^2 scales the loss)")
    if cfg.model == "vae" and (steps_taken == 0 or cfg.beta > 1e3) and cfg.beta > 1:
        suspects.append(f"a smaller --beta than {cfg.beta:g}")
    if suspects:
        return "try " + " or ".join(suspects)
    if steps_taken == 0:
        return "the loss was not finite before the first update, so check the data and the settings"
    return f"try a smaller --lr than {cfg.lr:g}"


def _progress(total, epoch, epochs):
    # disable=None: a bar on a terminal, nothing in a log file or a pipe
    return tqdm(total=total, desc=f"epoch {epoch}/{epochs}", leave=False, file=sys.stderr,
                unit="step", mininterval=0.2, disable=None)
