"""explorer.py: the explorer page of a 784-400-20 VAE: its size, and its decode in Chromium.

Issue 13 asks for a page under 5 MB for the MNIST model and a decode under the pointer "well
under one frame" (16.7 ms at 60 Hz).  This script builds the page exactly as ``tinyvae
explore`` does (``tinyvae.app.explore.explorer_page``), on a 784-400-20 VAE with random weights
and synthetic MNIST-sized data (60,000 training and 10,000 test images of 28 x 28 pixels, so
no download), then in headless Chromium (``tools/browser.py``):

* times the page's own ``decode(z)`` (the JavaScript forward pass) over ``--calls`` calls on
  random z, and prints the median and the 95th percentile per call;
* prints the largest |JavaScript decode - model.decode| over those z.

It prints what it measured; it asserts nothing.  Run::

    python benchmarks/explorer.py [--calls 500] [--n-train 60000]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))   # for tools/
from tinyvae.app import explore  # noqa: E402
from tools import browser  # noqa: E402
from tinyvae.data.dataset import Dataset  # noqa: E402
from tinyvae.models import VAE  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="decode calls timed (default 500)")
    parser.add_argument("--n-train", type=int, default=60000,
                        help="training images the holes are found among (default 60000, as MNIST)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    data = Dataset("synthetic-mnist", rng.random((args.n_train, 784), dtype=np.float32),
                   rng.integers(0, 10, args.n_train), rng.random((10000, 784), dtype=np.float32),
                   rng.integers(0, 10, 10000), (28, 28))
    model = VAE(784, (400,), 20, rng=np.random.default_rng(0))

    t0 = time.perf_counter()
    html = explore.explorer_page(model, data)
    built = time.perf_counter() - t0
    info = explore.read_page_data(html)
    print(f"page: {len(html.encode('utf-8')) / 1e6:.2f} MB (limit 5 MB), {info['n_shown']} of "
          f"{info['n_test']} test images, built in {built:.1f} s from {args.n_train} training codes")

    z = rng.standard_normal((args.calls, 20))
    with tempfile.TemporaryDirectory() as tmp, browser.chromium() as context:
        path = os.path.join(tmp, "explorer.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(html)
        page = context.new_page()
        page.goto("file://" + path)
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
    print(f"decode in Chromium: median {np.median(ms):.2f} ms, 95th percentile "
          f"{np.percentile(ms, 95):.2f} ms per call over {args.calls} calls (a frame is 16.7 ms; "
          f"performance.now() may be coarsened to 0.1 ms)")
    print(f"max |JavaScript - model.decode| over those z: {diff:.2e} (tolerance 1e-4)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
