"""memory.py: peak resident memory of training on full-MNIST-sized data, against the budget.

The budget (issue 7): peak RSS <= 2 x the float32 data size + 150 MB, where the data are
60,000 x 784 float32 = 188.2 MB, so 526.4 MB.  Two measurements, each in a fresh process:

* ``trainer``: synthetic binary data of that size (made in chunks, so that making it costs
  no temporary), then one epoch of ``tinyvae.train.Trainer.train_epoch`` on the 784-400-20
  VAE at batch 128: the training loop alone.
* ``cli``: the whole ``tinyvae train --data mnist --data-dir DIR --epochs 1``, on four
  synthetic IDX files (60,000 + 10,000 images) written to a temporary folder: reading and
  converting the data, the epoch, the test evaluation, the checkpoint and the figures.

Peak RSS is ``resource.getrusage(...).ru_maxrss`` (the high-water mark of the process).  In
``cli`` mode it is the peak of the ``tinyvae train`` process.

Run::

    python benchmarks/memory.py                  # both
    python benchmarks/memory.py --mode trainer   # one of them
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile

import numpy as np

N, D = 60_000, 784
N_TEST = 10_000
MB = 1e6
DATA_BYTES = N * D * 4                        # float32 training data, 188.2 MB
BUDGET = 2 * DATA_BYTES + 150 * MB


def rss_now():
    """Current resident set size in bytes (VmRSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss(who=resource.RUSAGE_SELF):
    """High-water mark of the resident set in bytes (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(who).ru_maxrss * 1024


def trainer_child(batch_size):
    """Runs in a fresh process: make the data, train one epoch, print the figures."""
    from tinyvae.models import VAE
    from tinyvae.train import Trainer

    after_import = rss_now()
    rng = np.random.default_rng(0)
    x = np.empty((N, D), dtype=np.float32)                 # (N, D) 188.2 MB
    for start in range(0, N, 5000):                        # in chunks: no full-size temporary
        x[start:start + 5000] = rng.random((min(5000, N - start), D), dtype=np.float32) < 0.13
    after_data = rss_now()
    model = VAE(D, (400,), 20, likelihood="bernoulli", rng=np.random.default_rng(0))
    trainer = Trainer(model, np.random.default_rng(1), batch_size=batch_size, lr=1e-3)
    loss, seconds = trainer.train_epoch(x)
    after_epoch = rss_now()
    peak = peak_rss()
    print(f"RSS after import {after_import / MB:.1f} MB, after making the data {after_data / MB:.1f} MB, "
          f"after the epoch {after_epoch / MB:.1f} MB (epoch: {seconds:.1f} s, train -ELBO {loss.total:.1f}); "
          f"peak {peak / MB:.1f} MB")
    print(f"PEAK {peak}")


def measure_trainer(batch_size):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--batch-size", str(batch_size)],
                         capture_output=True, text=True, check=True).stdout
    detail = [line for line in out.splitlines() if not line.startswith("PEAK")][0]
    peak = int([line for line in out.splitlines() if line.startswith("PEAK")][0].split()[1])
    return peak, detail


def measure_cli(batch_size):
    from tinyvae.data.idx import write_idx

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for prefix, n in (("train", N), ("t10k", N_TEST)):
            images = (rng.random((n, 28, 28)) < 0.13).astype(np.uint8) * 255   # (n, 28, 28)
            write_idx(os.path.join(tmp, f"{prefix}-images-idx3-ubyte.gz"), images)
            write_idx(os.path.join(tmp, f"{prefix}-labels-idx1-ubyte.gz"),
                      rng.integers(0, 10, n).astype(np.uint8))
        del images
        cmd = [sys.executable, "-m", "tinyvae", "train", "--data", "mnist", "--data-dir", tmp,
               "--epochs", "1", "--batch-size", str(batch_size), "--out", os.path.join(tmp, "run")]
        before = peak_rss(resource.RUSAGE_CHILDREN)
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"tinyvae train failed:\n{result.stderr[-2000:]}")
        peak = peak_rss(resource.RUSAGE_CHILDREN)
        if peak <= before:
            raise SystemExit("could not read the peak RSS of tinyvae train (an earlier child was larger)")
        last = result.stdout.strip().splitlines()[-1]
    return peak, f"'{' '.join(cmd[1:4])} --data mnist --epochs 1': {last}"


def main(argv=None):
    p = argparse.ArgumentParser(description="Peak RSS of training on 60,000 x 784 float32 data.")
    p.add_argument("--mode", choices=("trainer", "cli", "both"), default="both")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        trainer_child(args.batch_size)
        return 0

    print(f"data: {N} x {D} float32 = {DATA_BYTES / MB:.1f} MB; budget 2 x data + 150 MB = {BUDGET / MB:.1f} MB")
    ok = True
    modes = ("trainer", "cli") if args.mode == "both" else (args.mode,)
    for mode in modes:
        peak, detail = measure_trainer(args.batch_size) if mode == "trainer" else measure_cli(args.batch_size)
        within = peak <= BUDGET
        ok &= within
        print(f"{mode:>8}: peak RSS {peak / MB:.1f} MB = {peak / BUDGET:.0%} of the budget "
              f"({'within' if within else 'OVER'}); {detail}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
