"""disentanglement.py: does the beta-VAE separate the shapes' factors, and which form of it does?

One recipe (``RECIPE``) fixes the architecture, the optimiser, the number of steps and the
latent size; only the data set (``--data``: ``shapes``, y on half x's range, or
``shapes-equal``, x and y on one range as in dSprites) and the objective change
(``OBJECTIVES``):

* ``vae``:       beta = 1, the plain VAE;
* ``beta4``:     the loss form with a fixed beta = 4;
* ``kl-target``: the constrained form, KL < delta, with beta a Lagrange multiplier found by
  dual ascent (``tinyvae.objectives.KLTarget``);
* ``capacity``:  the constrained form with its budget raised slowly, gamma |KL - C(t)|
  (Burgess et al. 2018; ``tinyvae.objectives.Capacity``);
* ``tcvae``:     beta-TCVAE, recon + KL + (w - 1) TC with w = 6 (Chen et al. 2018's dSprites
  setting, fixed before any run; ``tinyvae.objectives.TCVAE``).

Each (data, objective, seed) is trained by the real command line, ``python -m tinyvae train``,
into its own run folder, and scored by ``python -m tinyvae eval``: MIG from the posterior
means of every image, the FactorVAE score at 10,000 / 5,000 votes (disentanglement_lib's
rule, and with the dead latents dropped), the KL's three terms, test reconstruction and KL
(eval.json).  The script prints one line per model::

    data=<name> objective=<name> seed=<s> mig <m> factorvae <f> recon <r> kl <k>

then per data set the mean and sd of each objective over its seeds, and each objective's
mean MIG over the VAE's with the ratio's standard error (delta method).

**Resumable.** Each model's result is written to ``OUT/<data>/<objective>-seed<s>/result.json``
the moment it is done; a rerun with the same ``--out`` skips the models that have one, and
resumes (``tinyvae train --resume``) a model whose training was cut short.

**Dispatch.** Models go through joblib (``--jobs N`` processes on this machine), or with
``--cluster ADDRESS`` to a Dask scheduler (``pip install tinyvae[cluster]``): each model is one
task, trained on whichever worker takes it (the workers need tinyvae installed and ``--out``
on a shared disk).

Run::

    python benchmarks/disentanglement.py --data shapes shapes-equal --objectives vae beta4 capacity tcvae \\
        --seeds 20 21 22 23 24 --jobs 2 --out study21 --export-study lessons/reference/08_study.json
    python benchmarks/disentanglement.py --tiny --seeds 0          # a few steps: what CI runs

Each model takes about 3-6 minutes on one core.  ``results.json`` in ``--out`` keeps every
finished model's numbers.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

#: what every model shares: `tinyvae train` flags (the epochs are per data set, below)
RECIPE = ["--latent", "10", "--hidden", "256", "--batch-size", "64", "--lr", "1e-3"]
#: epochs per data set: the same number of steps (about 58,400) on both, so the same
#: capacity schedule; shapes-equal has twice the images
EPOCHS = {"shapes": 600, "shapes-equal": 300}
#: what the objectives change
OBJECTIVES = {
    "vae": ["--beta", "1"],
    "beta4": ["--beta", "4"],
    "kl-target": ["--kl-target", "8"],
    "capacity": ["--capacity", "8", "--capacity-steps", "50000", "--gamma", "100"],
    "tcvae": ["--tc-weight", "6"],
}
DATA = tuple(EPOCHS)
#: the tiny mode CI runs: the same commands, a few steps of a small model
TINY = ["--epochs", "1", "--hidden", "16"]
KEYS = ("mig", "factorvae", "factorvae_active", "active_latents", "recon", "kl", "kl_mi", "kl_tc", "kl_dimwise")


def train_command(data, objective, seed, run_dir, tiny=False, threads=1):
    """The `tinyvae train` command line of one model (without the interpreter)."""
    epochs = TINY if tiny else ["--epochs", str(EPOCHS[data])]
    return (["train", "--data", data] + RECIPE + OBJECTIVES[objective] + epochs
            + ["--seed", str(seed), "--threads", str(threads), "--out", run_dir])


def result_path(out, data, objective, seed):
    return os.path.join(out, data, f"{objective}-seed{seed}", "result.json")


def train_and_eval(data, objective, seed, out, tiny=False, threads=1):
    """Train one model with `tinyvae train` (or resume it), score it with `tinyvae eval`, and
    write its result.json at once (atomically); returns the result as a dict."""
    run_dir = os.path.dirname(result_path(out, data, objective, seed))
    tinyvae = [sys.executable, "-m", "tinyvae"]
    if os.path.exists(os.path.join(run_dir, "model.npz")):            # cut short last time: go on
        train = tinyvae + ["train", "--resume", run_dir, "--epochs", "1" if tiny else str(EPOCHS[data])]
    else:
        train = tinyvae + train_command(data, objective, seed, run_dir, tiny, threads)
    evaluate = tinyvae + ["eval", run_dir, "--iw-samples", "1" if tiny else "20"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), MPLBACKEND="Agg")
    t0 = time.perf_counter()
    for cmd in (train, evaluate):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    with open(os.path.join(run_dir, "eval.json")) as f:
        result = json.load(f)
    result.update(data=data, objective=objective, seed=seed, run_dir=run_dir, seconds=time.perf_counter() - t0)
    path = result_path(out, data, objective, seed)
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)                                    # whole, or not there
    return result


def model_line(r):
    return (f"data={r['data']} objective={r['objective']} seed={r['seed']} mig {r['mig']:.3f} "
            f"factorvae {r['factorvae']:.3f} recon {r['recon']:.2f} kl {r['kl']:.2f}")


def ratio_and_se(a, b):
    """mean(a) / mean(b) and its standard error by the delta method (independent samples):
    se(r) = r sqrt((se_a / mean_a)^2 + (se_b / mean_b)^2), se = sd / sqrt(n).  NaN for n < 2."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    r = a.mean() / b.mean()
    if len(a) < 2 or len(b) < 2:
        return r, float("nan")
    se_a, se_b = a.std(ddof=1) / np.sqrt(len(a)), b.std(ddof=1) / np.sqrt(len(b))
    return r, abs(r) * np.hypot(se_a / a.mean(), se_b / b.mean())


def summary(results, datas, objectives):
    """Per data set: mean (sd) of each objective over its finished seeds, and its MIG over the VAE's."""
    lines = []
    for data in datas:
        lines += ["", f"{data}: mean (sd) over the finished seeds"]
        vae = [r["mig"] for r in results if r["data"] == data and r["objective"] == "vae"]
        for name in objectives:
            rs = [r for r in results if r["data"] == data and r["objective"] == name]
            if not rs:
                lines.append(f"  {name:<10} no model finished")
                continue
            cells = " ".join(f"{k} {np.mean([r[k] for r in rs]):.3f} ({np.std([r[k] for r in rs], ddof=1) if len(rs) > 1 else float('nan'):.3f})"
                             for k in KEYS if all(k in r for r in rs))
            cells = cells.replace("factorvae_active", "factorvae(alive)").replace("active_latents", "alive")
            ratio = ""
            if vae and name != "vae":
                rat, se = ratio_and_se([r["mig"] for r in rs], vae)
                ratio = f" | mig / vae {rat:.2f} (se {se:.2f})"
            lines.append(f"  {name:<10} {cells}{ratio}  [{len(rs)} seeds: {sorted(r['seed'] for r in rs)}, "
                         f"{np.mean([r['seconds'] for r in rs]):.0f} s per model]")
    return lines


def _dispatch(jobs, out, tiny, n_jobs, cluster):
    """Each finished model's result, in the order they finish: joblib processes, or Dask."""
    import joblib                                   # the dev extra; Dask through joblib's backend
    tasks = (joblib.delayed(train_and_eval)(data, name, seed, out, tiny) for data, name, seed in jobs)
    if cluster:
        from dask.distributed import Client          # the cluster extra
        client = Client(cluster)
        try:
            with joblib.parallel_backend("dask"):
                yield from joblib.Parallel(n_jobs=-1, return_as="generator_unordered")(tasks)
        finally:
            client.close()
    else:
        yield from joblib.Parallel(n_jobs=max(1, n_jobs), return_as="generator_unordered")(tasks)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["shapes"], choices=DATA)
    p.add_argument("--objectives", nargs="+", default=["vae", "beta4", "capacity", "tcvae"], choices=list(OBJECTIVES))
    p.add_argument("--seeds", nargs="+", type=int, default=[20, 21, 22, 23, 24])
    p.add_argument("--jobs", type=int, default=1, help="models trained at once, one core each (default 1)")
    p.add_argument("--cluster", metavar="ADDRESS", help="a Dask scheduler (tcp://host:8786) to send the models to")
    p.add_argument("--out", help="folder for the run folders and results (default: a temporary one); "
                                 "rerun with the same folder to skip the finished models")
    p.add_argument("--tiny", action="store_true", help="one epoch of a small model: checks the path, not the claim")
    p.add_argument("--export", metavar="DIR", help="write each objective's first finished shapes model as "
                                                 "DIR/08_<name>.npz (lesson 08's reference checkpoints)")
    p.add_argument("--export-study", metavar="FILE", help="write every finished result's numbers to FILE "
                                                        "(lesson 08 reads lessons/reference/08_study.json)")
    args = p.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="tinyvae-disentanglement-")
    print(f"recipe: tinyvae train {' '.join(RECIPE + (TINY if args.tiny else []))}, epochs {EPOCHS}")
    for name in args.objectives:
        print(f"  {name:<10} {' '.join(OBJECTIVES[name])}")
    print(f"data {args.data}; seeds {args.seeds}; run folders in {out}", flush=True)
    jobs = [(data, name, seed) for data in args.data for seed in args.seeds for name in args.objectives]
    results, todo = [], []
    for job in jobs:
        path = result_path(out, *job)
        if os.path.exists(path):
            with open(path) as f:
                results.append(json.load(f))
            print(model_line(results[-1]) + "  (done before)", flush=True)
        else:
            os.makedirs(os.path.dirname(os.path.dirname(path)), exist_ok=True)
            todo.append(job)
    order = {job: i for i, job in enumerate(jobs)}

    def write_records():
        """results.json (and --export-study) with every result so far, rewritten after each model."""
        results.sort(key=lambda r: order[(r["data"], r["objective"], r["seed"])])
        record = {"recipe": RECIPE, "epochs": EPOCHS, "objectives": {n: OBJECTIVES[n] for n in args.objectives},
                  "tiny": args.tiny, "results": results}
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump(record, f, indent=1)
        if args.export_study:
            keep = ("data", "objective", "seed", "seconds", "mig", "factorvae", "factorvae_active", "active_latents",
                    "recon", "kl", "kl_mi", "kl_tc", "kl_dimwise", "mig_gap", "mig_best_latent", "factor_names")
            with open(args.export_study + ".tmp", "w") as f:
                json.dump(dict(record, results=[{k: r[k] for k in keep if k in r} for r in results]), f, indent=1)
            os.replace(args.export_study + ".tmp", args.export_study)

    t0 = time.perf_counter()
    for result in _dispatch(todo, out, args.tiny, args.jobs, args.cluster):
        results.append(result)
        print(model_line(result) + f"  ({result['seconds']:.0f} s)", flush=True)
        write_records()
    write_records()
    for line in summary(results, args.data, args.objectives):
        print(line)
    print(f"\n{len(todo)} models trained in {time.perf_counter() - t0:.0f} s; {len(results)} of {len(jobs)} done")
    if args.export_study:
        print(f"wrote {args.export_study}")
    if args.export:
        from tinyvae.app.reference import export
        for name in args.objectives:
            first = next((r for r in results if r["objective"] == name and r["data"] == "shapes"), None)
            if first:
                print(f"exported {export(first['run_dir'], os.path.join(args.export, f'08_{name}.npz'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
