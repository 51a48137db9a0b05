"""``tinyvae train``: the Trainer (:mod:`tinyvae.train`) inside a run folder.

:func:`run` adds what a command needs around the in-memory Trainer: the run folder, claimed
for the whole run (:mod:`.claims`); a checkpoint with its settings and metrics rows, written
atomically after every epoch (:mod:`.runs`); the per-epoch report; exact resume; and a
clear end to Ctrl-C and to a diverging run.

Resume is exact: the checkpoint holds everything :meth:`tinyvae.train.Trainer.state` returns,
so a run resumed at epoch k produces bit-for-bit the model of an uninterrupted run.
"""
import contextlib
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from ..base.errors import DivergenceError, Interrupted, UsageError, command, stopped_by
from ..iwae import IWAE
from ..objectives import TCVAE, Capacity, FixedBeta, KLTarget, lagrangian
from ..train import Trainer
from . import claims, memory, runs, snapshots
from .config import DEFAULTS, TrainConfig, flag


def make_objective(cfg, steps_per_epoch, dataset_size=None):
    """The objective a run's settings name: fixed beta (+ warm-up), KL target, capacity,
    beta-TCVAE (whose TC estimate needs the number of training examples, ``dataset_size``), or
    the importance-weighted bound with K draws."""
    if cfg.model != "vae":
        return FixedBeta(0.0)                       # an AE or DAE has no KL term to weigh
    if cfg.kl_target is not None:
        return KLTarget(cfg.kl_target, eta=cfg.beta_lr, beta=cfg.beta)
    if cfg.capacity is not None:
        return Capacity(cfg.capacity, cfg.capacity_steps, gamma=cfg.gamma)
    if cfg.tc_weight is not None:
        return TCVAE(cfg.tc_weight, dataset_size)
    if cfg.iwae is not None:
        return IWAE(cfg.iwae)
    return FixedBeta(cfg.beta, warmup_steps=cfg.warmup_epochs * steps_per_epoch)


def _format_row(r):
    return (f"epoch {r['epoch']:>4} | train recon {r['train_recon']:8.3f} kl {r['train_kl']:7.3f} "
            f"-elbo {r['train_loss']:8.3f} | test recon {r['test_recon']:8.3f} kl {r['test_kl']:7.3f} "
            f"-elbo {r['test_loss']:8.3f} | kl weight {r['kl_weight']:.3f} | {r['seconds']:.2f} s")


def run(cfg=None, out=None, resume=None, epochs=None, data_dir=None, threads=None, log=print,
        progress_bars=True, finish=None):
    """``tinyvae train``: train per ``cfg`` into a new run folder, or ``resume`` one.

    On resume the run's own settings are used; only ``epochs`` (train on to this epoch),
    ``data_dir`` (where its MNIST files are now) and ``threads`` may be given.  ``threads``
    is the number of BLAS threads; a new run records the number it ran with, and a resume
    runs with the recorded number unless given another (:func:`_blas_threads`).
    ``finish(run_dir, trainer, dataset)``, if given, runs after the last epoch when some epoch
    was trained (``tinyvae train`` draws the figures there).  The folder is claimed until it
    returns, so nothing else trains in the folder while anything of this run is still being
    written (:mod:`.claims`); a new folder in which no epoch finished is removed.

    Returns ``(run_dir, trainer, dataset, throughput)``.  Raises TinyVAEError subclasses for
    anything the user can fix; Ctrl-C or SIGTERM raises :class:`Interrupted` once the last
    finished epoch's checkpoint is safely on disk.
    """
    if resume is None:
        cfg = (cfg or TrainConfig()).validate(new=True)
        base = os.path.join("runs", f"{cfg.model}-{cfg.data}-{time.strftime('%Y%m%d-%H%M%S')}")
        claim = claims.claim_new_run(out, default_base=base)
    else:
        claim = claims.claim_run(resume)
    try:
        with contextlib.ExitStack() as stack:
            result = _run_claimed(claim.run_dir, cfg, resume, epochs, data_dir, threads, stack, log, progress_bars)
            run_dir, trainer, dataset, throughput = result
            if finish is not None and throughput:
                try:
                    finish(run_dir, trainer, dataset)
                except KeyboardInterrupt as interrupt:     # the checkpoint is complete; only figures are missing
                    what, code = stopped_by(interrupt)
                    raise Interrupted(f"{what} while drawing the figures; the run is complete: draw them with: "
                                      f"{command('tinyvae', 'plot', run_dir)}", code) from None
        return result
    except KeyboardInterrupt as interrupt:    # outside the epochs (loading, setting up): nothing half-done
        what, code = stopped_by(interrupt)
        kept = (f"the checkpoint in {claim.run_dir} is kept as it was; continue with: "
                f"{command('tinyvae', 'train', '--resume', claim.run_dir)}"
                if os.path.exists(os.path.join(claim.run_dir, runs.CHECKPOINT))
                else "no epoch had finished, so nothing was kept")
        raise Interrupted(f"{what}: {kept}", code) from None
    finally:
        claim.release(remove_if_empty=True)


def _run_claimed(run_dir, cfg, resume, epochs, data_dir, threads, stack, log, progress_bars):
    if resume is not None:
        arrays, meta = runs.load_checkpoint(run_dir)
        cfg = runs.load_settings(run_dir, meta)
        cfg.epochs = cfg.epochs if epochs is None else epochs
        cfg.data_dir = cfg.data_dir if data_dir is None else data_dir
        cfg.validate()                                   # the flags given with --resume
    else:
        meta = None
    blas = _blas_threads(stack, threads, meta and meta["blas"], run_dir)
    dataset = runs.load_data(cfg, run_dir, D=meta and meta["D"])
    x_train, x_test = dataset.x_train, dataset.x_test
    _require_memory(cfg, dataset, run_dir if resume is not None else None)
    steps_per_epoch = -(-x_train.shape[0] // cfg.batch_size)
    rng = np.random.default_rng(cfg.seed)
    model = runs.build_model(cfg, dataset.D, rng)
    trainer = Trainer(model, rng, cfg.batch_size, cfg.lr, make_objective(cfg, steps_per_epoch, x_train.shape[0]),
                      binarize_dynamic=cfg.binarize == "dynamic")

    rows = []
    if resume is not None:
        trainer.load_state(arrays, meta)                 # every field was checked by load_checkpoint
        if cfg.epochs < trainer.epoch:
            raise UsageError(f"{run_dir} is already at epoch {trainer.epoch}; pass --epochs "
                             f"{trainer.epoch} or more to continue it")
        rows = meta["metrics"]
        runs.write_views(run_dir, meta)                  # the copies, as the checkpoint has them
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
            if not np.isfinite([test.recon, test.kl]).all():
                raise DivergenceError(f"the test loss became {-test.elbo} after epoch {trainer.epoch}")
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
            meta.update(config=cfg.to_dict(), metrics=rows, image_shape=list(dataset.image_shape), blas=blas)
            snapshot = (arrays, meta)                    # the epoch's checkpoint and rows: one unit
            runs.save_checkpoint(run_dir, arrays, meta)
            saved_epoch = trainer.epoch
            runs.write_views(run_dir, meta)
            snapshots.keep(run_dir, model, x_train, cfg, trainer.epoch)   # the explorer's replay
            samples += x_train.shape[0]
            step_seconds += seconds
            log(_format_row(row))
    except KeyboardInterrupt as interrupt:
        # the interrupt may have hit between an epoch's end and its writes: finish them
        if snapshot is not None:
            if saved_epoch != snapshot[1]["epoch"]:
                runs.save_checkpoint(run_dir, *snapshot)
                saved_epoch = snapshot[1]["epoch"]
            runs.write_views(run_dir, snapshot[1])
        what, code = stopped_by(interrupt)
        kept = (f"the checkpoint of epoch {saved_epoch} is kept; continue with: "
                f"{command('tinyvae', 'train', '--resume', run_dir, '--epochs', cfg.epochs)}" if saved_epoch
                else "no epoch had finished, so nothing was kept")
        raise Interrupted(f"{what}: {kept}", code) from None
    except DivergenceError as err:
        kept = (f"the checkpoint of epoch {saved_epoch} in {run_dir} is kept" if saved_epoch
                else "no checkpoint was written")
        new_out = runs.free_name(run_dir) if saved_epoch else run_dir   # a folder with no epoch is removed
        raise DivergenceError(f"training diverged: {err}; {kept}; "
                              f"{_divergence_advice(cfg, trainer, new_out, resume is not None)}") from None

    throughput = samples / step_seconds if step_seconds > 0 else 0.0
    return run_dir, trainer, dataset, throughput


# --- BLAS threads: part of what makes a run exact -------------------------------------------------
def blas_state():
    """The BLAS threads in use now and the library that runs them: what a checkpoint records."""
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    library = ", ".join(sorted({f"{p['internal_api']} {p['version']} ({p.get('architecture')})" for p in pools}))
    return {"threads": max([p["num_threads"] for p in pools] or [1]), "library": library[:199] or "none"}


def _blas_threads(stack, threads, recorded, run_dir):
    """Set BLAS's threads for the run (in ``stack``) and return what the checkpoint records.

    BLAS splits a matrix product among its threads and so sums in another order with another
    count: a resume is bit-for-bit a straight run only under the run's own count and library.
    A resume therefore takes the recorded count unless ``threads`` says otherwise, and says in
    one line when its count or library differs from the recorded ones."""
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be >= 1, not {threads}")
    want = threads if threads is not None else recorded and recorded["threads"]
    if want is not None:
        from threadpoolctl import threadpool_limits
        stack.enter_context(threadpool_limits(limits=want, user_api="blas"))
    now = blas_state()
    if recorded is not None and now != recorded:
        print(f"note: {run_dir} trained with {recorded['threads']} BLAS thread(s) of {recorded['library']}, and "
              f"resumes with {now['threads']} of {now['library']}; the sums run in another order, so the result "
              f"will differ from a run never stopped by rounding ({DRIFT})"
              + ("; resume without --threads to keep it exact" if threads is not None else ""),
              file=sys.stderr)
        now = recorded if threads is None else now    # the run keeps its record unless told otherwise
    return now


#: how far a resume under another BLAS thread count drifts, as measured (seeds 0-2, split at epoch 2,
#: resumed at 1 thread to epoch 6; tests/test_reliability.py checks it on one seed)
DRIFT = ("on the digits' default VAE, about 4e-8 of the parameters' norm after 4 epochs and 1e-9 of the test "
         "loss; more for larger models and longer runs")


def _require_memory(cfg, dataset, resumed_dir):
    """Refuse sizes whose training would not fit in the free memory, before anything is made."""
    rows = min(cfg.batch_size, len(dataset.x_train)) * (cfg.iwae or 1)   # --iwae K: K draws of each example
    nbytes = memory.training_bytes(cfg.model, dataset.D, cfg.hidden, cfg.latent, rows)
    if resumed_dir is not None:                     # the sizes are the run's: only memory can change
        memory.require(nbytes, f"resuming {resumed_dir}", "free some memory (close other programs) and resume again")
        return
    plain = TrainConfig()
    sizes = {"hidden": (max(cfg.hidden), max(plain.hidden), " ".join(map(str, plain.hidden))),
             "latent": (cfg.latent, plain.latent, plain.latent),
             "batch_size": (cfg.batch_size, plain.batch_size, plain.batch_size)}
    big = [f"{flag(name)} {default}" for name, (now, largest, default) in sizes.items() if now > largest]
    memory.require(nbytes, f"training this {cfg.model} (D={dataset.D}, hidden {' '.join(map(str, cfg.hidden))}, "
                           f"latent {cfg.latent}, batch {cfg.batch_size})",
                   f"choose smaller sizes, such as the defaults {', '.join(big)}" if big else
                   "free some memory (close other programs), or train on a smaller data set")


#: the value to advise for a setting that has no default (it turns an objective on): the usual one
USUAL = {"tc_weight": 6.0}        # Chen et al. 2018's dSprites setting, benchmarks/disentanglement.py's


def _divergence_advice(cfg, trainer, new_out, resumed):
    """What to change after a divergence, as a command that trains a new run with the culprit
    at its default.  A loss that is not finite before the first update (or a setting far out
    of the usual range) comes from the objective, not the step size; a resume cannot change a
    setting, and would diverge again at the same step, so the advice is always a new run."""
    steps, weight = trainer.t, float(getattr(trainer.objective, "beta", getattr(trainer.objective, "gamma", 0)))
    vae, form = cfg.model == "vae", cfg.objective()
    culprits = [
        ("sigma", "larger", vae and cfg.likelihood == "gaussian" and (steps == 0 or cfg.sigma < 1e-3)),
        ("beta", "smaller", vae and form == "beta" and cfg.beta > 1 and (steps == 0 or cfg.beta > 1e3)),
        ("beta_lr", "smaller", form == "kl_target" and (weight > 1e3 or cfg.beta_lr > 1)),
        ("beta", "smaller", form == "kl_target" and cfg.beta > 1e3),
        ("gamma", "smaller", form == "capacity" and cfg.gamma > 1e3),
        ("tc_weight", "smaller", form == "tcvae" and cfg.tc_weight > 1 and (steps == 0 or cfg.tc_weight > 1e3)),
        ("noise_level", "smaller", cfg.model == "dae" and cfg.noise == "gaussian" and cfg.noise_level > 10),
        ("lr", "smaller", True)]
    name, way = next((name, way) for name, way, suspect in culprits if suspect)
    now, default = getattr(cfg, name), DEFAULTS.get(name, USUAL.get(name, getattr(TrainConfig(), name)))
    if way == "larger":
        value = default if default > now else now * 10
    else:
        value = default if default < now else now / 10
    why = f"the KL's weight grew to {weight:.3g}; " if name == "beta_lr" else ""
    stuck = "this run's settings cannot change on resume, so " if resumed else ""
    return (f"{why}{stuck}try a {way} {flag(name)} than {now:g} in a new run: "
            f"{command('tinyvae', 'train', '--out', new_out, *cfg.to_argv(**{name: value}))}")


def _progress(total, epoch, epochs):
    # disable=None: a bar on a terminal, nothing in a log file or a pipe
    return tqdm(total=total, desc=f"epoch {epoch}/{epochs}", leave=False, file=sys.stderr,
                unit="step", mininterval=0.2, disable=None)
