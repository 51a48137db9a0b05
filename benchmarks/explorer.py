"""explorer.py: ``tinyvae explore`` and ``tinyvae plot`` at MNIST scale, and the page in Chromium.

Issues 19 and 27 ask that ``tinyvae explore`` and ``tinyvae plot`` each take under 5 s on 2 cores
with 60,000 training codes (before, 23 s and 38 s, nearly all of it the nearest-code search
of ``tinyvae/studies/holes.py``); issue 27 asks for a two-run page of two 784-400-20 MNIST runs
under 8 MB (the page's budget, ``tinyvae.app.explore_data.PAGE_BUDGET``), and issue 13 a decode under
the pointer "well under one frame" (16.7 ms at 60 Hz).  Nothing is downloaded:

* **the data** are MNIST-sized (60,000 training and 10,000 test images of 28 x 28 pixels,
  with labels), written as the four IDX files ``tinyvae train --data mnist --data-dir``
  reads.  Each image is one of the embedded 8 x 8 UCI digits, scaled 3x to 24 x 24, shifted
  by 0..4 pixels each way in the 28 x 28 frame, with its ink scaled and a little noise, so
  the codes have the clusters real digits give them;
* **the runs** are trained by ``tinyvae train`` for ``--epochs`` (default 1) epochs: a 2-D AE
  and a 2-D VAE (784-400-2, the case issue 19 timed) and two 784-400-20 VAEs (seeds 0 and 1), each
  with the code snapshots of its replay; the two-run page is of the two 784-400-20 VAEs;
* **the commands** are timed in this process (``tinyvae.app.cli.main``, so Python's start-up
  is not counted), each ``--repeat`` times; the median and the range are printed;
* **in Chromium** (``tools/browser.py``), the 784-400-20 page's own ``decode(z)`` is timed
  over ``--calls`` calls and compared with ``model.decode``.

It prints what it measured and asserts nothing.  The machine may be shared: the range over
repeats says how much the load moved the numbers.  Run::

    python benchmarks/explorer.py [--epochs 1] [--repeat 3] [--calls 500] [--no-browser]
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))   # for tools/
from tinyvae.app import cli, explore  # noqa: E402
from tinyvae.app.runs import load_run  # noqa: E402
from tinyvae.data import load  # noqa: E402
from tinyvae.data.idx import write_idx  # noqa: E402
from tinyvae.data.mnist import IDX_FILES  # noqa: E402

N_TRAIN, N_TEST, SIDE = 60_000, 10_000, 28


def mnist_like(n, rng):
    """n images of 28 x 28 uint8 and their labels, made from the embedded 8 x 8 digits."""
    digits = load("digits")
    pick = rng.integers(0, len(digits.x_train), n)
    small = digits.x_train[pick].reshape(n, 8, 8)                          # (n, 8, 8) in [0, 1]
    big = np.kron(small, np.ones((1, 3, 3), dtype=np.float32))             # (n, 24, 24)
    images = np.zeros((n, SIDE, SIDE), dtype=np.float32)
    dx, dy = rng.integers(0, 5, n), rng.integers(0, 5, n)                  # shifts of 0..4 pixels
    for sx in range(5):
        for sy in range(5):
            rows = np.flatnonzero((dx == sx) & (dy == sy))
            images[rows, sy:sy + 24, sx:sx + 24] = big[rows]
    images *= rng.uniform(0.7, 1.0, (n, 1, 1)).astype(np.float32)          # ink strength
    images += rng.uniform(0, 0.05, images.shape).astype(np.float32)        # a little noise
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8), digits.y_train[pick].astype(np.uint8)


def write_data(folder, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder)
    for part, n in (("train", N_TRAIN), ("test", N_TEST)):
        images, labels = mnist_like(n, rng)
        images_name, labels_name = IDX_FILES[part]
        write_idx(os.path.join(folder, images_name), images)
        write_idx(os.path.join(folder, labels_name), labels)


def quiet(argv):
    """cli.main(argv) with its output swallowed; its exit code."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = cli.main(argv)
    if code != 0:
        raise SystemExit(f"tinyvae {' '.join(argv)} failed: {err.getvalue().strip()}")
    return code


def timed(argv, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        quiet(argv)
        times.append(time.perf_counter() - t0)
    return np.array(times)


def browser_decode(page_path, model, calls):
    from tools import browser
    z = np.random.default_rng(0).standard_normal((calls, model.Z))
    with browser.chromium() as context:
        page = context.new_page()
        page.goto("file://" + os.path.abspath(page_path))
        page.wait_for_function("window.tinyvae && window.tinyvae.ready")
        out = page.evaluate("""zs => {
            const times = [], xs = [];
            for (const z of zs) {
                const t0 = performance.now();
                xs.push(window.tinyvae.decode(z));
                times.push(performance.now() - t0);
            }
            return {times, xs};
        }""", z.tolist())
    ms = np.array(out["times"])
    diff = np.max(np.abs(np.array(out["xs"]) - model.decode(z)))
    print(f"decode in Chromium (784-400-20 VAE): median {np.median(ms):.2f} ms, 95th percentile "
          f"{np.percentile(ms, 95):.2f} ms per call over {calls} calls (a frame is 16.7 ms; "
          f"performance.now() may be coarsened to 0.1 ms)")
    print(f"max |JavaScript - model.decode| over those z: {diff:.2e} (tolerance 1e-4)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each run (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timings of each command (default 3)")
    parser.add_argument("--calls", type=int, default=500, help="decode calls timed in Chromium (default 500)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = os.path.join(tmp, "mnist-like")
        write_data(data_dir)
        print(f"data: {N_TRAIN} training and {N_TEST} test images of {SIDE}x{SIDE} (MNIST-sized, "
              f"made from the embedded digits)")
        runs = {"AE 784-400-2": ["--model", "ae", "--latent", "2"],
                "VAE 784-400-2": ["--model", "vae", "--latent", "2"],
                "VAE 784-400-20": ["--model", "vae", "--latent", "20"],
                "VAE 784-400-20 seed 1": ["--model", "vae", "--latent", "20", "--seed", "1"]}
        for name, flags in runs.items():
            run = os.path.join(tmp, name.replace(" ", "-"))
            quiet(["train", "--data", "mnist", "--data-dir", data_dir, "--hidden", "400", "--epochs",
                   str(args.epochs), "--out", run, *flags])
            page = os.path.join(run, "explorer.html")
            t_explore = timed(["explore", run, "--out", page], args.repeat)
            t_plot = timed(["plot", run, "--out", os.path.join(tmp, "figures")], args.repeat)
            info = explore.read_page_data(open(page, encoding="utf-8").read())
            held = info["runs"][0]["train_codes_held"] if "runs" in info else info["n_train_codes"]
            print(f"{name}: explore {np.median(t_explore):.1f} s (range {t_explore.min():.1f}-"
                  f"{t_explore.max():.1f}), plot {np.median(t_plot):.1f} s (range {t_plot.min():.1f}-"
                  f"{t_plot.max():.1f}) over {args.repeat} runs each, {N_TRAIN} training codes; "
                  f"page {os.path.getsize(page) / 1e6:.2f} MB (budget 8 MB), {held} training codes on it")
            if name == "VAE 784-400-20" and not args.no_browser:
                browser_decode(page, load_run(run)[0], args.calls)
        pair = os.path.join(tmp, "pair.html")
        a, b = (os.path.join(tmp, n.replace(" ", "-")) for n in ("VAE 784-400-20", "VAE 784-400-20 seed 1"))
        t_pair = timed(["explore", a, b, "--out", pair], args.repeat)
        info = explore.read_page_data(open(pair, encoding="utf-8").read())
        print(f"two-run page of the two 784-400-20 VAEs, with their replays: {os.path.getsize(pair) / 1e6:.2f} MB "
              f"(budget 8 MB, reduction factor {info['budget']['scale']:.2f}), explore {np.median(t_pair):.1f} s "
              f"(range {t_pair.min():.1f}-{t_pair.max():.1f})")
    print(f"load average {os.getloadavg()[0]:.1f} at the end (2 cores: above 2 means others were busy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
