"""disentanglement.py: does the beta-VAE separate the shapes' factors, and which form of it does?

One recipe (``RECIPE``) fixes the data, the architecture, the optimiser, the training
length and the latent size; only the objective changes (``OBJECTIVES``):

* ``vae``:       beta = 1, the plain VAE;
* ``beta4``:     the loss form with a fixed beta = 4;
* ``kl-target``: the constrained form, KL < delta, with beta a Lagrange multiplier found by
  dual ascent (``tinyvae.objectives.KLTarget``);
* ``capacity``:  the constrained form with its budget raised slowly, gamma |KL - C(t)|
  (Burgess et al. 2018; ``tinyvae.objectives.Capacity``).

Each (objective, seed) is trained by the real command line, ``python -m tinyvae train``,
into its own run folder, and scored by ``python -m tinyvae eval``: MIG from the posterior
means of all 6,912 images, the FactorVAE score, test reconstruction and KL (eval.json).
The script prints one line per model::

    objective=<name> seed=<s> mig <m> factorvae <f> recon <r> kl <k>

then the mean of each objective over its seeds, and for each factor the latent that
follows it (MIG's best latent, 1-based as in the figures) and its normalised gap.

Run::

    python benchmarks/disentanglement.py                      # every objective, seeds 0 1 2
    python benchmarks/disentanglement.py --objectives vae beta4 --seeds 10 11 --jobs 2
    python benchmarks/disentanglement.py --tiny               # a few steps: what CI runs

Each model takes about 3-6 minutes on one core (``--jobs 2`` runs two at once on two
cores). Run folders go to ``--out`` (default a temporary folder); ``results.json`` there
keeps every number printed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tinyvae.app.reference import export

#: what every model shares: `tinyvae train` flags
RECIPE = ["--data", "shapes", "--latent", "10", "--hidden", "256", "--batch-size", "64",
          "--lr", "1e-3", "--epochs", "600"]
#: what the objectives change
OBJECTIVES = {
    "vae": ["--beta", "1"],
    "beta4": ["--beta", "4"],
    "kl-target": ["--kl-target", "8"],
    "capacity": ["--capacity", "8", "--capacity-steps", "50000", "--gamma", "100"],
}
#: the tiny mode CI runs: the same commands, a few steps of a small model
TINY = ["--epochs", "1", "--hidden", "16"]


def train_and_eval(objective, seed, out, tiny=False, threads=1):
    """Train one model with `tinyvae train`, score it with `tinyvae eval`; eval.json as a dict."""
    run_dir = os.path.join(out, f"{objective}-seed{seed}")
    tinyvae = [sys.executable, "-m", "tinyvae"]
    train = (tinyvae + ["train"] + RECIPE + OBJECTIVES[objective] + (TINY if tiny else [])
             + ["--seed", str(seed), "--threads", str(threads), "--out", run_dir])
    evaluate = tinyvae + ["eval", run_dir, "--iw-samples", "1" if tiny else "20"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    for cmd in (train, evaluate):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    with open(os.path.join(run_dir, "eval.json")) as f:
        result = json.load(f)
    result.update(objective=objective, seed=seed, run_dir=run_dir, seconds=time.perf_counter() - t0)
    return result


def model_line(r):
    return (f"objective={r['objective']} seed={r['seed']} mig {r['mig']:.3f} factorvae {r['factorvae']:.3f} "
            f"recon {r['recon']:.2f} kl {r['kl']:.2f}")


def summary(results, objectives):
    """The means per objective, and per factor each model's best latent and gap, as lines."""
    lines = ["", "means over seeds:"]
    for name in objectives:
        rs = [r for r in results if r["objective"] == name]
        mean = {k: float(np.mean([r[k] for r in rs])) for k in ("mig", "factorvae", "recon", "kl")}
        sd = float(np.std([r["mig"] for r in rs]))
        lines.append(f"  {name:<10} mig {mean['mig']:.3f} (sd {sd:.3f}) factorvae {mean['factorvae']:.3f} "
                     f"recon {mean['recon']:.2f} kl {mean['kl']:.2f}  [{len(rs)} seeds, "
                     f"{np.mean([r['seconds'] for r in rs]):.0f} s per model]")
    names = results[0]["factor_names"]
    lines += ["", "per factor, the latent that follows it (MIG's best latent) and its gap:",
              "  " + f"{'model':<20}" + "".join(f"{n:>12}" for n in names)]
    for r in results:
        cells = "".join(f"{'z%d %.2f' % (j + 1, g):>12}" for j, g in zip(r["mig_best_latent"], r["mig_gap"]))
        lines.append(f"  {r['objective'] + ' seed ' + str(r['seed']):<20}{cells}")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=1, help="models trained at once, one core each (default 1)")
    p.add_argument("--out", help="folder for the run folders and results.json (default: a temporary one)")
    p.add_argument("--tiny", action="store_true", help="one epoch of a small model: checks the path, not the claim")
    p.add_argument("--export", metavar="DIR", help="write each objective's first-seed model to DIR/08_<name>.npz "
                                                 "(lesson 08's reference checkpoints)")
    args = p.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="tinyvae-disentanglement-")
    os.makedirs(out, exist_ok=True)
    print(f"recipe: tinyvae train {' '.join(RECIPE + (TINY if args.tiny else []))}")
    for name in args.objectives:
        print(f"  {name:<10} {' '.join(OBJECTIVES[name])}")
    print(f"seeds {args.seeds}; run folders in {out}", flush=True)
    jobs = [(name, seed) for name in args.objectives for seed in args.seeds]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(train_and_eval, name, seed, out, args.tiny) for name, seed in jobs]
        results = []
        for future in futures:                      # in job order, each as soon as it is done
            results.append(future.result())
            print(model_line(results[-1]), flush=True)
    for line in summary(results, args.objectives):
        print(line)
    print(f"\n{len(results)} models in {time.perf_counter() - t0:.0f} s")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"recipe": RECIPE, "objectives": {n: OBJECTIVES[n] for n in args.objectives},
                   "tiny": args.tiny, "results": results}, f, indent=1)
    if args.export:
        for name in args.objectives:
            first = next(r for r in results if r["objective"] == name)
            print(f"exported {export(first['run_dir'], os.path.join(args.export, f'08_{name}.npz'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
