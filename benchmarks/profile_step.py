"""profile_step.py: where one training step's time goes, part by part, on the real path.

It runs ``Trainer.train_epoch`` (the loop ``tinyvae train`` runs) on the 784-400-20 VAE
(Bernoulli, beta 1, Adam 1e-3, float32) over synthetic binary MNIST-shaped data, with every
function the step calls wrapped by a timer: the Linear layers' forward and backward (matrix
products, bias, the addition into the gradient), the ReLUs, the Bernoulli loss, the KL, the
reparameterization, eps, zeroing the gradient and Adam.  What no wrapper covers (gathering
the minibatch, Python between the calls) is "the rest".  A wrapper costs about a microsecond
a call, some 20 calls a step.  The table counts each part's calls per step, so a part the
step stopped calling (renamed, moved) shows as 0 instead of vanishing.

Below the table it prints the step's matrix products timed alone, at the same shapes
(``np.matmul`` into preallocated outputs, as throughput.py's limit does), and so the time of
everything that is not a matrix product: the elementwise passes and the rest.

Run::

    python benchmarks/profile_step.py --threads 1 --batch-size 512
    python benchmarks/profile_step.py --threads 2 --batch-size 512 --steps 80

It prints the machine (CPU, NumPy, BLAS) and a Markdown table in ms per step.  Time on a
shared machine means little: run it when nothing else does.
"""
import argparse
import functools
import os
import sys
import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throughput import D, H, LAYERS, Z, LimitBench, machine_line, synthetic_binary_mnist  # noqa: E402


def wrap(owner, name, label, times, calls):
    """Replace ``owner.name`` by a copy that adds its wall time to ``times[label]`` and counts
    its calls in ``calls[label]``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            times[label] += time.perf_counter() - t0
            calls[label] += 1

    setattr(owner, name, timed)


def instrument(times, calls):
    """Wrap every function a VAE training step calls; returns the labels in step order."""
    from tinyvae import layers, models, optim
    parts = [
        (layers.Linear, "forward", "Linear forward (matmul + bias)"),
        (layers.ReLU, "forward", "ReLU forward"),
        (models, "reparameterize", "reparameterization"),
        (models, "draw_eps", "eps ~ N(0, I)"),
        (models, "bernoulli_nll_fused", "Bernoulli loss and its gradient"),
        (models, "kl_normal_std_normal", "KL and its gradient"),
        (models._EncoderDecoder, "zero_grad", "zero the gradient"),
        (layers.Linear, "backward", "Linear backward (matmuls, bias sum, += into the gradient)"),
        (layers.ReLU, "backward", "ReLU backward"),
        (models, "reparameterize_backward", "reparameterization backward"),
        (optim.FusedAdam, "step", "Adam"),
    ]
    for owner, name, label in parts:
        wrap(owner, name, label, times, calls)
    return [label for _, _, label in parts]


def matmul_seconds(B, steps):
    """Seconds of the step's products alone over ``steps`` steps: (forward, backward)."""
    bench = LimitBench(None)
    bench.setup(B)
    seconds = [0.0, 0.0]
    for _ in range(steps):
        for k, (a, b, out) in enumerate(bench.ops[B]):
            t0 = time.perf_counter()
            np.matmul(a, b, out=out)
            seconds[k not in FORWARD_INDEX] += time.perf_counter() - t0
    return tuple(seconds)


# LimitBench.setup appends, layer by layer: forward, dW, and dX for every layer but the first
FORWARD_INDEX = {3 * k - (k > 0) for k in range(len(LAYERS))}     # {0, 2, 5, 8}


def main(argv=None):
    p = argparse.ArgumentParser(description="Time each part of a tinyvae training step.")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--steps", type=int, default=60, help="timed steps (after 20 untimed)")
    args = p.parse_args(argv)
    threadpool_limits(args.threads)

    from tinyvae.models import VAE
    from tinyvae.train import Trainer
    B, steps = args.batch_size, args.steps
    x = synthetic_binary_mnist(max(B * (steps + 20), 2 * B))
    model = VAE(D, (H,), Z, likelihood="bernoulli", rng=np.random.default_rng(0))
    trainer = Trainer(model, np.random.default_rng(1), batch_size=B)
    trainer.train_epoch(x[:20 * B])                       # warm up, untimed
    times, calls = defaultdict(float), defaultdict(int)
    labels = instrument(times, calls)
    _, seconds = trainer.train_epoch(x[20 * B:20 * B + steps * B])
    mm_fwd, mm_bwd = matmul_seconds(B, steps)

    ms = lambda s: 1e3 * s / steps                        # noqa: E731
    print(f"# {machine_line()}; threads {args.threads}; B={B}; {steps} steps; "
          f"load average {os.getloadavg()[0]:.2f}")
    print()
    print("| part | calls per step | ms per step | share |")
    print("|---|---|---|---|")
    print(f"| the step (Trainer.train_epoch's own time) | 1 | {ms(seconds):.2f} | 100% |")
    for label in labels:
        print(f"| {label} | {calls[label] / steps:g} | {ms(times[label]):.2f} | {times[label] / seconds:.0%} |")
    rest = seconds - sum(times.values())
    print(f"| the rest (gather the minibatch, Python) | | {ms(rest):.2f} | {rest / seconds:.0%} |")
    fwd_ew = times["Linear forward (matmul + bias)"] - mm_fwd
    bwd_ew = times["Linear backward (matmuls, bias sum, += into the gradient)"] - mm_bwd
    elementwise = seconds - mm_fwd - mm_bwd
    print()
    print(f"matrix products alone: forward {ms(mm_fwd):.2f}, backward {ms(mm_bwd):.2f} ms per step; "
          f"so Linear forward's bias {ms(fwd_ew):.2f} and backward's bias sums and additions "
          f"{ms(bwd_ew):.2f} ms; everything but the products: {ms(elementwise):.2f} ms "
          f"({elementwise / seconds:.0%} of the step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
