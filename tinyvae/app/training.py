"""``tinyvae train``: the Trainer (:mod:`tinyvae.train`) inside a run folder.

:func:`run` adds what a command needs around the in-memory Trainer: the run folder, claimed
for the whole run (:mod:`.claims`); a checkpoint with its settings and metrics rows, written
atomically after every epoch (:mod:`.runs`); the per-epoch report; exact resume; and a
clear end to Ctrl-C and to a diverging run.

Resume is exact: the checkpoint holds everything :meth:`tinyvae.train.Trainer.state` returns,
so a run resumed at epoch k produces bit-for-bit the model of an uninterrupted run.
"""
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from ..errors import CheckpointError, DivergenceError, Interrupted, UsageError, one_line
from ..models import make_model
from ..objectives import Capacity, FixedBeta, KLTarget, lagrangian
from ..train import Trainer
from . import claims, memory, runs
from .config import TrainConfig


def make_objective(cfg, steps_per_epoch):
    """The objective a run's settings name: fixed beta (+ warm-up), KL target, or capacity."""
    if cfg.model != "vae":
        return FixedBeta(0.0)                       # an AE or DAE has no KL term to weigh
    if cfg.kl_target is not None:
        return KLTarget(cfg.kl_target, eta=cfg.beta_lr, beta=cfg.beta)
    if cfg.capacity is not None:
        return Capacity(cfg.capacity, cfg.capacity_steps, gamma=cfg.gamma)
    return FixedBeta(cfg.beta, warmup_steps=cfg.warmup_epochs * steps_per_epoch)


def _format_row(r):
    return (f"epoch {r['epoch']:>4} | train recon {r['train_recon']:8.3f} kl {r['train_kl']:7.3f} "
            f"-elbo {r['train_loss']:8.3f} | test recon {r['test_recon']:8.3f} kl {r['test_kl']:7.3f} "
            f"-elbo {r['test_loss']:8.3f} | kl weight {r['kl_weight']:.3f} | {r['seconds']:.2f} s")


def run(cfg=None, out=None, resume=None, epochs=None, data_dir=None, log=print, progress_bars=True):
    """``tinyvae train``: train per ``cfg`` into a new run folder, or ``resume`` one.

    On resume the run's own settings are used; only ``epochs`` (train on to this epoch) and
    ``data_dir`` (where its MNIST files are now) may be given.  The folder is claimed for
    the whole run (:mod:`.claims`); a new folder in which no epoch finished is removed.

    Returns ``(run_dir, trainer, dataset, throughput)``.  Raises TinyVAEError subclasses for
    anything the user can fix; Ctrl-C raises :class:`Interrupted` once the last finished
    epoch's checkpoint is safely on disk.
    """
    if resume is None:
        cfg = (cfg or TrainConfig()).validate()
        base = os.path.join("runs", f"{cfg.model}-{cfg.data}-{time.strftime('%Y%m%d-%H%M%S')}")
        claim = claims.claim_new_run(out, default_base=base)
    else:
        claim = claims.claim_run(resume)
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
    dataset = runs.load_data(cfg, run_dir, D=meta and meta["D"])
    x_train, x_test = dataset.x_train, dataset.x_test
    memory.require(memory.training_bytes(cfg.model, dataset.D, cfg.hidden, cfg.latent,
                                         min(cfg.batch_size, len(x_train))),
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
        rows = [r for r in meta["metrics"] if r["epoch"] <= trainer.epoch]   # the checkpoint's own rows
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
