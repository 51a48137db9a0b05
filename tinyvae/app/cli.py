"""The ``tinyvae`` command line.

    tinyvae train [flags]             train a model (a VAE on the embedded digits by default)
    tinyvae train --resume RUN_DIR --epochs N
    tinyvae eval RUN_DIR [--iw-samples K]
    tinyvae sample RUN_DIR [-n 64]
    tinyvae plot RUN_DIR              every figure that applies to a run
    tinyvae explore RUN_DIR [RUN_B]   one offline web page: decode the latent plane under the pointer
    tinyvae gradcheck                 check every hand-derived gradient by finite differences
    tinyvae exercises make DIR        a student copy: the hand-derived lines become exercises
    tinyvae exercises check [DIR]     grade a student copy (without DIR: the package itself)
    tinyvae exercises grade CLASS_DIR --out OUT_DIR --seed S    grade a class: grades.csv, results.json, feedback/

Every user error ends with one line on stderr and a non-zero exit (2 for usage errors),
never a traceback.

Each command imports what it uses inside its own function: ``tinyvae --help`` then loads
neither the trainer nor matplotlib, and stays fast (``benchmarks/startup.py``).
"""
import argparse
import dataclasses
import os
import sys
import typing

from ..base import choices
from ..base.choices import SEED_MAX
from ..base.errors import CheckpointError, TinyVAEError, UsageError, command, describe_os_error, stopped_by
from .terminal import fail, interrupt_behind, memory_fix, signals_as_interrupts, silence_stdout, steady_streams

#: the settings a resume may change: how long, and where the data now are; the rest describe the run
RESUMABLE = ("epochs", "data_dir")
#: the most BLAS threads a run may ask for (a checkpoint records at most this many, runs._check_meta)
THREADS_MAX = 4096
#: eval's importance samples when --iw-samples is not given
IW_SAMPLES = 200
#: the flags that name a file or folder: none may be empty (an empty --out would mean the default)
PATH_ARGS = {"run_dir": "RUN_DIR", "run_b": "RUN_B", "dir": "DIR", "out": "--out", "resume": "--resume",
             "data_dir": "--data-dir"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2), without the usage dump."""

    def error(self, message):
        self.exit(2, f"tinyvae: error: {message} (see '{self.prog} --help')\n")


def _cmd_gradcheck(args):
    from .. import gradcheck

    rows = gradcheck.run_all(seed=args.seed)
    print(gradcheck.format_table(rows))
    return 0 if max(err for _, err in rows) <= gradcheck.TOLERANCE else 1


def _cmd_exercises(args):
    if args.action == "make":
        from ..course.catalogue import make_command
        return make_command(args.dir)
    from ..course import grade
    if args.action == "check":
        return grade.check(args.dir, time_limit=args.time_limit, seed=args.seed, memory_mb=args.memory_limit)

    def progress(name, rows):
        shown = "no tinyvae/ package" if rows is None else \
            grade.summary([(None, verdict, detail) for _, verdict, detail in rows])
        print(f"{name}: {shown}", flush=True)

    code = grade.grade_class(args.class_dir, args.out, args.seed, time_limit=args.time_limit,
                             memory_mb=args.memory_limit, jobs=args.jobs, progress=progress)
    print(f"gradebook: {os.path.join(args.out, 'grades.csv')}, with results.json and feedback/ beside it")
    if code == grade.EXIT["could not grade"]:
        print("tinyvae: some exercises could not be graded (verdict 'error' in results.json); see their feedback",
              file=sys.stderr)
    return code


def _cmd_train(args):
    from .config import TrainConfig, flag
    from .training import run

    names = [f.name for f in dataclasses.fields(TrainConfig)] + ["out"]
    given = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.resume is not None:
        fixed = sorted(k for k in given if k not in RESUMABLE)
        if fixed:
            flags = ", ".join(flag(k) for k in fixed)
            raise UsageError(f"{flags} cannot change when resuming; pass only --epochs (and --data-dir) with --resume")
        run_args = dict(resume=args.resume, epochs=args.epochs, data_dir=args.data_dir)
    else:
        out = given.pop("out", None)
        run_args = dict(cfg=TrainConfig(**given), out=out)
    # the figures are drawn inside the run's claim: nothing else trains in the folder until the last byte
    run_dir, trainer, dataset, throughput = run(**run_args, threads=args.threads, finish=_draw_run_figures)
    print(f"run folder: {run_dir}")
    print(f"throughput: {throughput:.0f} samples/s")
    print(f"explore its latent space: {command('tinyvae', 'explore', run_dir)}")
    return 0


def _draw_run_figures(run_dir, trainer, dataset):
    """The figures every run gets, written at the end of training over tinyvae's own only."""
    from ..studies import plots
    from ..base.atomic import written_by_tinyvae
    from .run_figures import run_figures

    figs = {os.path.join(run_dir, name): fig for name, fig in run_figures(trainer.model, dataset).items()}
    for path in figs:
        if os.path.lexists(path) and not written_by_tinyvae(path):
            for fig in figs.values():
                plots.plt.close(fig)
            raise UsageError(f"the run is complete, but {path} is not a figure tinyvae wrote, so it is left as it "
                             f"is; move it away and draw the figures with: {command('tinyvae', 'plot', run_dir)}")
    plots.save_figures(figs, own_only=True)


def _cmd_eval(args):
    from .. import evaluate
    from ..studies import disentanglement
    from ..base.atomic import save_json
    from ..models import VAE
    from . import memory
    from .claims import check_output
    from .config import _a
    from .runs import load_data, load_run

    path = os.path.join(args.run_dir, "eval.json")
    model, cfg, meta = load_run(args.run_dir)
    if args.iw_samples is not None and not isinstance(model, VAE):
        raise UsageError(f"--iw-samples weighs a VAE's posterior samples, and {args.run_dir} holds {_a(cfg.model)}, "
                         f"which has none; drop --iw-samples")
    args.iw_samples = IW_SAMPLES if args.iw_samples is None else args.iw_samples
    check_output(path, ".json", flag=None)           # before the work: only over an eval.json of tinyvae's
    data = load_data(cfg, args.run_dir, D=meta["D"], data_dir=args.data_dir)
    if isinstance(model, VAE):
        def iw(k):
            return memory.iw_bytes(k, min(500, len(data.x_test)), model.D, model.hidden, model.Z)
        memory.require(iw(args.iw_samples), f"--iw-samples {args.iw_samples}",
                       lambda free: _fewer("--iw-samples", memory.largest(iw, free // 2), IW_SAMPLES))
        result = evaluate.evaluate_vae(model, data.x_test, K=args.iw_samples, seed=args.seed)
        units = {key: "nats per example" for key in ("neg_elbo", "recon", "kl", "iw_nll")}   # evaluate.py's
        units["kl_per_dim"] = "nats per example, each latent"
    else:
        result = evaluate.evaluate_autoencoder(model, data.x_test, seed=args.seed)
        units = result.pop("units")                # squared error or nats: the AE's own loss
    if data.factors_test is not None:
        result.update(disentanglement.disentanglement_scores(model, data, seed=args.seed))
    _require_finite(result, f"evaluating {args.run_dir}")
    result = dict(written_by="tinyvae eval", model=cfg.model, data=cfg.data, epoch=meta["epoch"], split="test",
                  **result, units=units)
    for key, value in result.items():              # stdout first: the result survives a failed write
        if key == "units":
            continue                               # each unit is printed beside its number
        if isinstance(value, list):
            value = "[" + ", ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in value) + "]"
        elif isinstance(value, float):
            value = f"{value:.4f}"
        print(f"{key:>16}: {value}" + (f"  ({units[key]})" if key in units else ""))
    if sys.stdout is not None:
        sys.stdout.flush()
    save_json(path, result)
    print(f"written to {path}")
    return 0


def _fewer(flag, most, default):
    """The advice of a memory error whose size is one flag's: the default, or the most that fits."""
    if most < 1:
        return "free some memory (close other programs) and run it again"
    if most < default:
        return f"choose {flag} {most} or fewer (what fits in half the free memory)"
    return f"choose fewer, such as {flag} {default} (the default); at most about {most:,} fit in half the free memory"


def _require_finite(values, what):
    """Refuse numbers that are not finite (``values``: a dict of numbers and lists of them, or
    an array): a model whose parameters are finite but extreme (a damaged file, a run that
    diverged) must not end in a result of NaN with exit 0."""
    import numpy as np

    if isinstance(values, dict):
        values = [v for value in values.values() for v in (value if isinstance(value, list) else [value])
                  if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not np.all(np.isfinite(np.asarray(values, dtype=np.float64))):
        raise CheckpointError(f"{what} gave numbers that are not finite; its checkpoint is damaged or comes from a "
                              f"run that diverged: train the run again into a new folder")


def _cmd_sample(args):
    import numpy as np

    from ..models import VAE
    from . import memory
    from .claims import check_output
    from .runs import load_run

    if args.n < 1:
        raise UsageError(f"-n must be >= 1, not {args.n}")
    path = (check_output(args.out, ".png") if args.out else
            os.path.join(args.run_dir, f"samples-n{args.n}-seed{args.seed}.png"))
    model, cfg, meta = load_run(args.run_dir)
    check_output(path, ".png", flag="--out" if args.out else None)
    if not isinstance(model, VAE):
        raise UsageError(f"{args.run_dir} holds an {cfg.model}, which has no prior to sample; "
                         f"train with --model vae")
    shape = meta["image_shape"]
    def sampling(n):
        return memory.sampling_bytes(n, model.D, model.hidden, model.Z)
    memory.require(sampling(args.n), f"-n {args.n}",
                   lambda free: _fewer("-n", memory.largest(sampling, free // 2), 64))
    from ..studies import plots
    with np.errstate(all="ignore"):
        samples = model.sample(args.n, np.random.default_rng(args.seed))
    _require_finite(samples, f"sampling {args.run_dir}")
    plots.save_figure(plots.plot_grid(samples, tuple(shape), f"{args.n} samples from the prior"), path, own_only=True)
    print(f"wrote {path}")
    return 0


def _cmd_plot(args):
    from .run_figures import plot_run

    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file; name a folder for the figures")
    for path in plot_run(args.run_dir, out_dir=args.out, seed=args.seed, data_dir=args.data_dir):
        print(f"wrote {path}")
    return 0


def _cmd_explore(args):
    from . import explore, snapshots
    from .claims import check_output
    from .runs import load_data, load_run

    dirs = [args.run_dir] + ([args.run_b] if args.run_b else [])
    default = (os.path.join(args.run_dir, "explorer.html") if len(dirs) == 1 else
               os.path.join(args.run_dir, f"explorer-vs-{os.path.basename(os.path.normpath(args.run_b))}.html"))
    path = check_output(args.out or default, ".html")                       # before the work
    loaded = [load_run(d) for d in dirs]                                    # [(model, cfg, meta)]
    explore.check_comparable([(d, cfg.data, meta["image_shape"]) for d, (_, cfg, meta) in zip(dirs, loaded)])
    data = [load_data(cfg, d, D=meta["D"], data_dir=args.data_dir) for d, (_, cfg, meta) in zip(dirs, loaded)]
    for d, ds in zip(dirs, data):
        if len(ds.x_train) < 2:                    # the page is built on the hole radius of the codes
            raise UsageError(f"explore finds the holes between training codes, and {d} was trained on "
                             f"{len(ds.x_train)} image; train on two or more")
    replays = [snapshots.for_page(d, len(ds.x_train), m.Z, meta["epoch"]) for d, ds, (m, _, meta)
               in zip(dirs, data, loaded)]
    print("finding the holes among " + " and ".join(f"the {len(ds.x_train)} training codes of {d}" for d, ds in
                                                   zip(dirs, data)) + " ...", flush=True)
    compare = (loaded[1][0], data[1]) if len(dirs) == 2 else None
    explore.write_explorer(loaded[0][0], data[0], path, axes=args.axes, seed=args.seed, compare=compare,
                           names=[os.path.normpath(d) for d in dirs], replays=replays,
                           epochs=[meta["epoch"] for _, _, meta in loaded],
                           say=lambda line: print(line, file=sys.stderr))
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB); open it in a browser (double-click works, offline)")
    return 0


def build_parser():
    p = _Parser(prog="tinyvae", description="Autoencoders, DAEs, VAEs and the beta-VAE in NumPy, "
                                            "with hand-derived gradients.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train a model (a VAE on the embedded digits by default)",
                       description="Train an AE, DAE or (beta-)VAE. With no flags: a VAE on the embedded "
                                   "UCI digits, written to runs/<name>.")
    _add_settings(t)
    t.add_argument("--threads", type=_whole(1, THREADS_MAX), metavar="N",
                   help="BLAS threads for the matrix products (default: BLAS's own, usually every core); "
                        "1 keeps small models fast on a busy machine")
    where = t.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="RUN_DIR", help="new run folder (default runs/<model>-<data>-<time>)")
    where.add_argument("--resume", metavar="RUN_DIR", help="continue this run to --epochs")
    t.set_defaults(func=_cmd_train)

    e = _run_command(sub, "eval", "test ELBO, importance-weighted log p(x), active units", _cmd_eval)
    e.add_argument("--iw-samples", type=_whole(1, None), metavar="K",
                   help="importance samples of a VAE's log p(x), default 200")

    s = _run_command(sub, "sample", "a PNG grid of samples from the prior", _cmd_sample, data_dir=False)
    s.add_argument("-n", type=int, default=64, help="how many samples, default 64")
    s.add_argument("--out", metavar="PNG", help="default RUN_DIR/samples-n<N>-seed<S>.png")

    pl = _run_command(sub, "plot", "draw every figure that applies to a run", _cmd_plot)
    pl.add_argument("--out", metavar="DIR", help="default: the run folder")

    x = _run_command(sub, "explore", "write one offline web page that explores the latent space "
                     "(of one run, or of two side by side)", _cmd_explore,
                     seed_help="seeds the codes of the holes and the subsample")
    x.add_argument("run_b", metavar="RUN_B", nargs="?", help="a second run of the same data, shown beside the first")
    x.add_argument("--out", metavar="FILE.html",
                   help="default RUN_DIR/explorer.html (two runs: RUN_DIR/explorer-vs-<RUN_B's name>.html)")
    x.add_argument("--axes", type=int, nargs=2, metavar=("I", "J"),
                   help="the two latents on the plane (from 0), for Z > 2; default: most KL (VAE) "
                        "or most variance of the codes (AE)")

    g = sub.add_parser("gradcheck", help="check every gradient against central differences")
    g.add_argument("--seed", type=seed_type, default=0, help="seed of the random inputs (default 0)")
    g.set_defaults(func=_cmd_gradcheck)

    ex = sub.add_parser("exercises", help="derive the gradients yourself: a student copy, and its grader",
                        description="The lecture's hand-derived lines as exercises: 'make DIR' writes a student "
                                    "copy of the package to DIR; 'check DIR' grades it; 'grade CLASS_DIR --out "
                                    "OUT_DIR --seed S' grades a class.  Each student's code runs in a process of "
                                    "its own.  Exit codes: 0 graded (check: every exercise passed), 1 (check) some "
                                    "exercise not passed, 2 usage error, 3 could not grade.")
    actions = ex.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    mk = actions.add_parser("make", help="write a student copy of the package to DIR (a new folder)")
    mk.add_argument("dir", metavar="DIR")
    ck = actions.add_parser("check", help="grade the student copy in DIR (without DIR: the package itself)")
    ck.add_argument("dir", metavar="DIR", nargs="?")
    gr = actions.add_parser("grade", help="grade every student folder of CLASS_DIR; write OUT_DIR/grades.csv, "
                                          "results.json and feedback/<student>.txt")
    gr.add_argument("class_dir", metavar="CLASS_DIR", help="one folder per student, each a copy 'make' wrote")
    gr.add_argument("--out", metavar="OUT_DIR", required=True,
                    help="a new or empty folder, or a gradebook this command wrote before")
    gr.add_argument("--jobs", type=_whole(1, None), metavar="J",
                    help="students graded at once (default and at most: the cores)")
    for parser, seed_help in ((ck, "seed of the sizes and inputs (default 0, the student's self-check)"),
                              (gr, "seed of the sizes and inputs: the teacher's own, which no copy can know")):
        parser.add_argument("--seed", type=seed_type, required=parser is gr, default=0 if parser is ck else None,
                            help=seed_help)
        parser.add_argument("--time-limit", type=_seconds, default=10.0, metavar="S",
                            help="seconds of the student's code per exercise (default 10)")
        parser.add_argument("--memory-limit", type=_whole(64, None), default=1024, metavar="MB",
                            help="memory of the student's process beyond Python's and NumPy's (default 1024)")
    ex.set_defaults(func=_cmd_exercises)
    return p


def _run_command(sub, name, help, func, data_dir=True, seed_help=None):
    """A command that reads a run folder: ``tinyvae NAME RUN_DIR [--seed S] [--data-dir DIR]``."""
    c = sub.add_parser(name, help=help)
    c.add_argument("run_dir", metavar="RUN_DIR")
    c.add_argument("--seed", type=seed_type, default=0, help=seed_help)
    if data_dir:
        c.add_argument("--data-dir", metavar="DIR", help="where the run's MNIST files are now, if they moved")
    c.set_defaults(func=func)
    return c


def _add_settings(parser):
    """One flag per run setting, its help and default written from :class:`TrainConfig`'s fields
    (every default is None here: a flag that is not given is told apart from one that is)."""
    from .config import TrainConfig, default_text, flag

    for f in dataclasses.fields(TrainConfig):
        kind = f.type.__args__[0] if getattr(f.type, "__origin__", None) is typing.Union else f.type
        extra = {"nargs": "+", "type": int} if kind == typing.List[int] else {"type": seed_type if f.name == "seed" else kind}
        if f.metadata["choices"]:
            extra = {"choices": f.metadata["choices"]}
        parser.add_argument(flag(f.name), metavar=f.metadata["metavar"], help=f.metadata["help"] + default_text(f),
                            **extra)


def _whole(low, high):
    """argparse type of a flag's whole number from ``low`` to ``high`` (None: no upper end); argparse
    names the flag in the one line it fails with."""
    def whole(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            to = f"from {low} to {high:,}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be a whole number {to}, not {text!r}")
        return value
    return whole


def _seconds(text):
    """argparse type of --time-limit: a finite number of seconds, up to an hour."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0 and at most 3600, not {text!r}")
    return value


def seed_type(text):
    """argparse type of every --seed (tinyvae's and the study runner's): a whole number numpy's
    generators and config.json take."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {SEED_MAX}, not {text!r}")
    return value


def main(argv=None):
    """Run one command.  Every way it can fail ends here, in one line on stderr and an exit code:
    the user's own errors (1, or 2 for usage), a file or standard output that cannot be written
    (1), memory that runs out (1), Ctrl-C (130) and SIGTERM (143).  Files are written whole or
    not at all (:func:`tinyvae.base.atomic.atomic_write`), so none of these leaves a half-written one.

    Before anything else, the three standard streams are made safe to use and SIGTERM and SIGHUP
    are turned into Ctrl-C's path (:mod:`tinyvae.app.terminal`); the
    parsing of the flags and every import of a command run inside the ``try``, so a Ctrl-C at
    any moment of start-up ends in one line too."""
    restore = signals_as_interrupts(in_process=argv is not None)
    args = None
    try:
        steady_streams()
        args = build_parser().parse_args(argv)
        for name, said in PATH_ARGS.items():
            if isinstance(getattr(args, name, None), str) and not getattr(args, name).strip():
                raise UsageError(f"{said} needs a file or folder name, not an empty one")
        code = args.func(args)
        if sys.stdout is not None:                 # (None when the shell closed it: `>&-`)
            sys.stdout.flush()                     # a full stdout (/dev/full) fails here, not at exit
        return code
    except TinyVAEError as err:
        return fail(str(err), err.exit_code)
    except NotImplementedError as err:             # an exercise of a student copy (tinyvae exercises make)
        from ..course.catalogue import is_not_done
        if not is_not_done(err):
            raise
        return fail(f"{err} is not done yet; 'tinyvae exercises check DIR' grades the copy in DIR", 1)
    except KeyboardInterrupt as interrupt:         # (train says what it kept, as an Interrupted)
        what, code = stopped_by(interrupt)
        return fail(f"{what}; no file was left half-written", code)
    except ImportError as err:                     # Ctrl-C inside numpy's import surfaces as an ImportError
        if interrupt_behind(err) is None:
            raise
        what, code = stopped_by(interrupt_behind(err))
        code = fail(f"{what} while starting; nothing was written", code)
        if argv is None:                           # a half-imported numpy can crash Python's own clean-up
            os._exit(code)                         # (seen once in 100 Ctrl-Cs): leave without it
        return code
    except BrokenPipeError:                        # `tinyvae train | head`: the reader left early
        silence_stdout()
        return 1
    except MemoryError:
        return fail(f"ran out of memory; {memory_fix(args)}", 1)
    except OSError as err:
        return fail(describe_os_error(err), 1)
    finally:
        restore()


if __name__ == "__main__":
    sys.exit(main())
