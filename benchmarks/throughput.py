"""throughput.py: samples per second of one full VAE training step, tinyvae against PyTorch and JAX.

What is timed, for each batch size B:

* ``tinyvae``: ``tinyvae.train.Trainer.train_epoch``, the loop ``tinyvae train`` runs (gather
  the minibatch by index, ``model.forward``, ``objective.loss``, ``model.backward``, ``Adam.step``),
  on the 784-400-20 VAE (Bernoulli, beta 1, Adam lr 1e-3, float32), in one process.  The
  time is the one the trainer itself reports: its training steps, not the epoch's shuffle.
* ``torch`` (if it imports): PyTorch eager, the same architecture with ``nn.Linear``,
  ``binary_cross_entropy_with_logits(reduction="sum") / B`` + KL, ``torch.optim.Adam``
  (its default CPU implementation), ``loss.item()`` every step as pytorch/examples does.
* ``jax`` (if it imports): one ``jax.jit`` function per step (forward, ``value_and_grad``,
  a hand-written Adam, eps drawn with ``jax.random``), parameters and moments donated, no
  host sync inside a round (JAX's best case); the minibatch is gathered on the host.
* ``limit``: the GEMM-bound limit.  A step's matrix products are, for each Linear
  (B, in) @ (in, out): forward 2*B*in*out FLOPs, and in backward dW and dX the same again
  each, except that the first layer needs no dX.  For 784-400-40 / 20-400-784 that is
  3.28 MFLOP per example.  The limit runs exactly those products (np.matmul, float32, same
  shapes and transposes, out= buffers) and nothing else, so B * steps / its time is the
  throughput of a step that did nothing but its GEMMs at the rate BLAS reaches on them.

Data: synthetic binary MNIST-shaped data, 60,000 x 784 float32 (about 13% ones), made once
per process; each round trains on the next ``steps * B`` rows of it.

Method: every contender runs in its own worker process (PyTorch's OpenMP threads and
OpenBLAS's threads must not share a process), and the rounds are interleaved: round r runs
every (B, contender) once, in an order rotated each round, so slow spells of a shared machine
fall on all contenders alike.  Each (B, contender) gets ``--warmup`` steps first (JAX
compiles then).  Before each round the driver waits (up to ``--max-wait`` s) for a second
in which other processes used less than 10% of one core (read from /proc/stat), and a round
during which they used more is run again, up to 4 times (at most ``--max-total-wait`` s of
waiting in all; rounds still contended are flagged); the reported figure is the median of
the ``--rounds`` rounds.

Threads: ``--threads N`` (default: every core, 2 here) is given to every contender:
``threadpoolctl.threadpool_limits(N)`` in each worker process (NumPy's BLAS, whichever it
is), ``torch.set_num_threads(N)``, and for N = 1 XLA's single-threaded Eigen; with N >= 2
XLA keeps its default (all cores).  ``--threads 1 2`` runs every contender at each thread
count, each in its own worker, all interleaved in the same rounds, and adds a table of how
much faster each contender is on N threads than on the first count given, per round: the
scaling, measured under the same conditions for both.

Run::

    python benchmarks/throughput.py                                   # tinyvae + limit
    benchmarks/.venv-frameworks/bin/python benchmarks/throughput.py   # + torch and jax
    ... throughput.py --batch-size 32 128 512 --rounds 7 --steps 100
    ... throughput.py --threads 1 2 --only tinyvae torch limit        # and the 2-thread scaling

It prints one line per contender, thread count and batch size, ``tinyvae threads=<T> B=<B>
samples/s <N>`` (and ``torch ...``, ``jax ...``, ``limit ...``), the ratios, then for each
thread count a Markdown table headed by the
machine: the CPU model (from /proc/cpuinfo), the core count, NumPy's version and its BLAS's
name, version and kernel as threadpoolctl reports them (a ratio means little without them).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

D, H, Z = 784, 400, 20                        # the pytorch/examples VAE
LR = 1e-3
N_DATA = 60_000                                # rows of synthetic data per worker
LAYERS = [(D, H), (H, 2 * Z), (Z, H), (H, D)]  # (in, out) of the four Linear layers
CONTENDERS = ("tinyvae", "torch", "jax", "limit")
QUIET = 0.10                                   # foreign CPU allowed during a round, in cores
RETRIES = 4                                    # re-runs of a round that was not quiet


def flops_per_example():
    """Matmul FLOPs of one training step, per example: forward, dW, and dX but for layer 1."""
    fwd = sum(2 * i * o for i, o in LAYERS)
    dW = fwd
    dX = sum(2 * i * o for i, o in LAYERS[1:])
    return fwd + dW + dX


def synthetic_binary_mnist(n, seed=0):
    """(n, 784) float32 of 0s and 1s, about 13% ones (MNIST's mean intensity)."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, D), dtype=np.float32) < 0.13).astype(np.float32)


# --- the contenders, each run inside its own worker process -------------------------------------
class TinyvaeBench:
    """The real path: Trainer.train_epoch over the round's rows."""

    def __init__(self, threads):
        from tinyvae.models import VAE
        from tinyvae.train import Trainer
        self.VAE, self.Trainer = VAE, Trainer
        self.x = synthetic_binary_mnist(N_DATA)
        self.trainers = {}

    def setup(self, B):
        model = self.VAE(D, (H,), Z, likelihood="bernoulli", rng=np.random.default_rng(0))
        self.trainers[B] = self.Trainer(model, np.random.default_rng(1), batch_size=B, lr=LR)

    def run(self, B, steps, start):
        xr = self.x[start:start + steps * B]                 # a view: the trainer gathers from it
        _, seconds = self.trainers[B].train_epoch(xr)        # seconds in training steps
        return seconds


class TorchBench:
    """PyTorch eager: nn.Linear, BCE-with-logits + KL, torch.optim.Adam."""

    def __init__(self, threads):
        import torch
        from compare_torch import make_torch_vae, torch_loss
        self.torch, self.make, self.loss = torch, make_torch_vae, torch_loss
        if threads:
            torch.set_num_threads(threads)
        torch.manual_seed(0)
        self.x = torch.from_numpy(synthetic_binary_mnist(N_DATA))
        self.state = {}

    def setup(self, B):
        net = self.make(D, H, Z)
        self.state[B] = (net, self.torch.optim.Adam(net.parameters(), lr=LR))

    def run(self, B, steps, start):
        torch = self.torch
        net, opt = self.state[B]
        perm = torch.randperm(steps * B) + start
        t0 = time.perf_counter()
        for s in range(steps):
            xb = self.x[perm[s * B:(s + 1) * B]]             # (B, D) gathered by index
            eps = torch.randn(B, Z)
            opt.zero_grad()
            logits, mu, logvar = net(xb, eps)
            loss, _, _ = self.loss(logits, xb, mu, logvar)
            loss.backward()
            opt.step()
            loss.item()
        return time.perf_counter() - t0


class JaxBench:
    """jax.jit of the whole step: forward, value_and_grad, hand-written Adam."""

    def __init__(self, threads):
        import jax
        import jax.numpy as jnp
        self.jax, self.jnp = jax, jnp
        self.x = synthetic_binary_mnist(N_DATA)
        self.rng = np.random.default_rng(2)
        self.state, self.steps = {}, {}

    def setup(self, B):
        jax, jnp = self.jax, self.jnp
        rng = np.random.default_rng(0)
        params = []
        for i, o in LAYERS:                                  # nn.Linear's U(-1/sqrt(in), 1/sqrt(in))
            bound = 1 / np.sqrt(i)
            params += [rng.uniform(-bound, bound, (i, o)).astype(np.float32),
                       rng.uniform(-bound, bound, (o,)).astype(np.float32)]
        params = [jnp.asarray(p) for p in params]
        zeros = [jnp.zeros_like(p) for p in params]
        self.state[B] = (params, zeros, [jnp.zeros_like(p) for p in params],
                         jnp.zeros((), jnp.int32), jax.random.PRNGKey(0))

        def loss_fn(p, x, eps):
            W1, b1, W2, b2, W3, b3, W4, b4 = p
            h = jnp.maximum(x @ W1 + b1, 0) @ W2 + b2        # (B, 2Z)
            mu, logvar = h[:, :Z], h[:, Z:]
            z = mu + jnp.exp(0.5 * logvar) * eps
            logits = jnp.maximum(z @ W3 + b3, 0) @ W4 + b4   # (B, D)
            recon = jnp.sum(jnp.maximum(logits, 0) - logits * x + jnp.log1p(jnp.exp(-jnp.abs(logits))))
            kl = 0.5 * jnp.sum(mu * mu + jnp.exp(logvar) - 1 - logvar)
            return (recon + kl) / x.shape[0]

        def step(p, m, v, t, key, x):
            key, sub = jax.random.split(key)
            eps = jax.random.normal(sub, (x.shape[0], Z), jnp.float32)
            loss, g = jax.value_and_grad(loss_fn)(p, x, eps)
            t = t + 1
            b1, b2, e = 0.9, 0.999, 1e-8
            bc1 = 1 - b1 ** t.astype(jnp.float32)
            bc2 = 1 - b2 ** t.astype(jnp.float32)
            m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
            v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
            p = [pi - (LR / bc1) * mi / (jnp.sqrt(vi) / jnp.sqrt(bc2) + e) for pi, mi, vi in zip(p, m, v)]
            return p, m, v, t, key, loss

        self.steps[B] = jax.jit(step, donate_argnums=(0, 1, 2))

    def run(self, B, steps, start):
        step = self.steps[B]
        p, m, v, t, key = self.state[B]
        perm = self.rng.permutation(steps * B) + start
        t0 = time.perf_counter()
        for s in range(steps):
            xb = self.x[perm[s * B:(s + 1) * B]]             # (B, D) gathered on the host
            p, m, v, t, key, loss = step(p, m, v, t, key, xb)
        self.jax.block_until_ready((p, loss))
        seconds = time.perf_counter() - t0
        self.state[B] = (p, m, v, t, key)
        return seconds


class LimitBench:
    """Only the step's matmuls, at its exact shapes, into preallocated outputs."""

    def __init__(self, threads):
        self.ops = {}

    def setup(self, B):
        rng = np.random.default_rng(0)
        f32 = lambda *s: rng.standard_normal(s, dtype=np.float32)  # noqa: E731
        ops = []
        for k, (i, o) in enumerate(LAYERS):
            x, W, dout = f32(B, i), f32(i, o), f32(B, o)
            ops.append((x, W, np.empty((B, o), np.float32)))          # forward  x @ W
            ops.append((x.T, dout, np.empty((i, o), np.float32)))     # dW = x^T dout
            if k != 0:
                ops.append((dout, W.T, np.empty((B, i), np.float32)))  # dX = dout W^T
        self.ops[B] = ops

    def run(self, B, steps, start):
        ops = self.ops[B]
        t0 = time.perf_counter()
        for _ in range(steps):
            for a, b, out in ops:
                np.matmul(a, b, out=out)
        return time.perf_counter() - t0


BENCHES = {"tinyvae": TinyvaeBench, "torch": TorchBench, "jax": JaxBench, "limit": LimitBench}


def worker(name, threads):
    """Serve commands on stdin: 'warmup B steps' and 'round B steps start'; answer '@@ json'."""
    def reply(obj):
        sys.stdout.write("@@ " + json.dumps(obj) + "\n")
        sys.stdout.flush()

    if threads:
        threadpool_limits(limits=threads)                    # NumPy's BLAS, for the whole process
    try:
        bench = BENCHES[name](threads)
    except ImportError as err:
        reply({"error": f"{name} unavailable ({err})"})
        return 0
    reply({"ready": True})
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "quit":
            break
        B, steps = int(args[0]), int(args[1])
        if cmd == "warmup":
            bench.setup(B)
            bench.run(B, steps, 0)
            reply({"ok": True})
        else:
            reply({"seconds": bench.run(B, steps, int(args[2]))})
    return 0


# --- the driver ---------------------------------------------------------------------------------
def cpu_busy_jiffies():
    """Busy time of all CPUs (user, nice, system, irq, softirq, steal) in clock ticks."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return sum(fields[:3]) + sum(fields[5:8])


def process_jiffies(pid):
    """utime + stime of a process (all its threads) and of its live descendants, in clock ticks."""
    total = 0
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        total += int(rest[11]) + int(rest[12])
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                total += sum(process_jiffies(int(child)) for child in f.read().split())
    except (FileNotFoundError, ProcessLookupError):   # it ended meanwhile
        pass
    return total


def wait_for_quiet(max_wait=120.0, window=1.0):
    """Wait (at most ``max_wait`` s) for a ``window`` s in which other processes used < QUIET cores.

    Returns the seconds waited.  Nothing of ours runs meanwhile: the workers are idle.
    """
    tick, t_start = os.sysconf("SC_CLK_TCK"), time.perf_counter()
    while time.perf_counter() - t_start < max_wait:
        busy0, t0 = cpu_busy_jiffies(), time.perf_counter()
        time.sleep(window)
        if (cpu_busy_jiffies() - busy0) / tick / (time.perf_counter() - t0) <= QUIET:
            break
    return time.perf_counter() - t_start


class Worker:
    def __init__(self, name, threads):
        env = dict(os.environ)
        if threads:
            if threads == 1:
                env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                                    " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
        env["PYTHONPATH"] = os.path.dirname(os.path.abspath(__file__)) + os.pathsep + env.get("PYTHONPATH", "")
        self.name, self.threads = name, threads
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", name,
                                      "--threads", str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.status = self._read()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("@@ "):
                return json.loads(line[3:])
        raise RuntimeError(f"worker {self.name} exited without answering")

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def timed_round(self, B, steps, start):
        """(seconds, foreign CPU in cores) of one round."""
        tick = os.sysconf("SC_CLK_TCK")
        busy0, own0, t0 = cpu_busy_jiffies(), process_jiffies(self.proc.pid), time.perf_counter()
        seconds = self.ask(f"round {B} {steps} {start}")["seconds"]
        busy1, own1, t1 = cpu_busy_jiffies(), process_jiffies(self.proc.pid), time.perf_counter()
        foreign = max(0, (busy1 - busy0) - (own1 - own0)) / tick / (t1 - t0)
        return seconds, foreign

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        self.proc.wait(timeout=60)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo ("unknown" where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_line():
    """CPU model, core count, NumPy with the SIMD levels it dispatches to, its BLAS (name,
    version, kernel) as threadpoolctl reports them, and any override of NumPy's or PyTorch's
    CPU dispatch in the environment (``NPY_DISABLE_CPU_FEATURES``, ``ATEN_CPU_CAPABILITY``:
    with them an AVX-512 machine runs the AVX2 code an AVX2-only CPU would)."""
    from threadpoolctl import threadpool_info
    blas = [f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    simd = np.show_config(mode="dicts").get("SIMD Extensions", {}).get("found") or ["not reported"]
    forced = [f"{k}={os.environ[k]}" for k in ("NPY_DISABLE_CPU_FEATURES", "ATEN_CPU_CAPABILITY")
              if os.environ.get(k)]
    return (f"CPU {cpu_model()}, {os.cpu_count()} cores; NumPy {np.__version__} (SIMD {' '.join(simd)}), "
            f"BLAS {', '.join(blas) or 'not reported'}" + "".join(f"; {f}" for f in forced))


def main(argv=None):
    p = argparse.ArgumentParser(description="Samples/s of a full VAE training step: tinyvae, torch, jax, GEMM limit.")
    p.add_argument("--batch-size", type=int, nargs="+", default=[32, 128, 512], metavar="B")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per (B, contender); the median is reported")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per round (default: 16384 / B, at least 20)")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps before the first round")
    p.add_argument("--threads", type=int, nargs="+", default=[os.cpu_count()], metavar="N",
                   help="threads for every contender (default: all cores; 0 = each library's default); "
                        "several counts run side by side, with the scaling from the first to the others")
    p.add_argument("--max-wait", type=float, default=120.0,
                   help="seconds to wait for other processes to go quiet before a round (0: don't wait)")
    p.add_argument("--max-total-wait", type=float, default=1800.0,
                   help="seconds of waiting in all; after that rounds run (and are flagged) whatever the load")
    p.add_argument("--verbose", action="store_true", help="print every round's figure on stderr")
    p.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    p.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.threads[0])
    if any(t < 0 for t in args.threads) or len(set(args.threads)) != len(args.threads):
        p.error("--threads takes distinct counts >= 0")

    workers = []
    for threads in args.threads:
        for name in args.only:
            w = Worker(name, threads)
            if "error" in w.status:
                print(f"# {w.status['error']}: skipped", file=sys.stderr)
                w.close()
            else:
                workers.append(w)
    names = [n for n in args.only if any(w.name == n for w in workers)]
    steps_of = {B: args.steps or max(20, 16384 // B) for B in args.batch_size}
    thread_text = lambda t: str(t) if t else "library default"        # noqa: E731
    print(f"# {machine_line()}", file=sys.stderr)
    print(f"# 784-400-20 VAE, float32, Adam {LR:g}; threads {', '.join(map(thread_text, args.threads))}; "
          f"{args.rounds} rounds; steps/round {steps_of}; load average {os.getloadavg()[0]:.2f}",
          file=sys.stderr)

    for B in args.batch_size:
        for w in workers:
            w.ask(f"warmup {B} {args.warmup}")

    times = {(w.name, w.threads, B): [] for w in workers for B in args.batch_size}
    noisy = {key: 0 for key in times}
    waited = 0.0
    for r in range(args.rounds):
        for B in args.batch_size:
            steps = steps_of[B]
            start = (r * steps * B) % (N_DATA - steps * B + 1)
            order = workers[r % len(workers):] + workers[:r % len(workers)]
            for w in order:
                for attempt in range(RETRIES + 1):
                    budget = min(args.max_wait, max(0.0, args.max_total_wait - waited))
                    waited += wait_for_quiet(budget) if budget > 0 else 0.0
                    seconds, foreign = w.timed_round(B, steps, start)
                    if foreign <= QUIET or waited >= args.max_total_wait:
                        break
                key = (w.name, w.threads, B)
                if foreign > QUIET:
                    noisy[key] += 1
                times[key].append(B * steps / seconds)
                if args.verbose:
                    print(f"#   round {r + 1} B={B} {w.name} threads={w.threads}: {B * steps / seconds:.0f} "
                          f"samples/s (other processes: {foreign:.2f} cores, attempt {attempt + 1})",
                          file=sys.stderr)
        print(f"# round {r + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}, "
              f"{waited:.0f} s waited so far for a quiet machine", file=sys.stderr)
    for w in workers:
        w.close()

    med = {key: statistics.median(v) for key, v in times.items() if v}
    per_round = lambda a, b: statistics.median(x / y for x, y in zip(times[a], times[b]))   # noqa: E731
    fpe = flops_per_example()
    for T in args.threads:
        for B in args.batch_size:
            here = [n for n in names if (n, T, B) in med]
            for name in here:
                print(f"{name} threads={T} B={B} samples/s {med[(name, T, B)]:.0f}")
            ratios = []
            if "tinyvae" in here:
                for other in ("torch", "jax", "limit"):
                    if other in here:
                        ratios.append(f"tinyvae/{other} {med[('tinyvae', T, B)] / med[(other, T, B)]:.2f} "
                                      f"(per-round {per_round(('tinyvae', T, B), (other, T, B)):.2f})")
            if "limit" in here:
                gflops = med[("limit", T, B)] * fpe / 1e9
                ratios.append(f"(limit = {fpe / 1e6:.2f} MFLOP/example at {gflops:.0f} GFLOP/s)")
            if ratios:
                print(f"ratios threads={T} B={B}: " + "  ".join(ratios))

    labels = {"tinyvae": "tinyvae (Trainer.train_epoch)", "torch": "PyTorch eager",
              "jax": "JAX jit, whole step", "limit": "GEMM-bound limit"}
    header = " | ".join(f"B={B}" for B in args.batch_size)
    for T in args.threads:
        print(f"\n{machine_line()}; threads {thread_text(T)}")
        print(f"\n| samples/s (median of {args.rounds} rounds) | {header} |")
        print("|---|" + "---|" * len(args.batch_size))
        for name in names:
            cells = []
            for B in args.batch_size:
                v = times.get((name, T, B))
                if not v:
                    cells.append("-")
                    continue
                flag = "*" if noisy[(name, T, B)] else ""
                cells.append(f"{med[(name, T, B)] / 1e3:.1f}k ({min(v) / 1e3:.1f}-{max(v) / 1e3:.1f}){flag}")
            print(f"| {labels[name]} | " + " | ".join(cells) + " |")
        for other in ("torch", "jax", "limit"):
            if "tinyvae" in names and other in names:
                print(f"| tinyvae / {other}, median (per-round) | " + " | ".join(
                    f"{med[('tinyvae', T, B)] / med[(other, T, B)]:.2f} "
                    f"({per_round(('tinyvae', T, B), (other, T, B)):.2f})"
                    if (other, T, B) in med and ("tinyvae", T, B) in med else "-"
                    for B in args.batch_size) + " |")
    if len(args.threads) > 1:
        base = args.threads[0]
        print(f"\n| scaling: samples/s on N threads / on {thread_text(base)}, median (per-round) | {header} |")
        print("|---|" + "---|" * len(args.batch_size))
        for T in args.threads[1:]:
            for name in names:
                print(f"| {labels[name]}, {thread_text(T)} / {thread_text(base)} | " + " | ".join(
                    f"{med[(name, T, B)] / med[(name, base, B)]:.2f} "
                    f"({per_round((name, T, B), (name, base, B)):.2f})"
                    if (name, T, B) in med and (name, base, B) in med else "-"
                    for B in args.batch_size) + " |")
    print("\n(median, with the range over rounds in brackets; * = some rounds stayed contended "
          "by other processes after retries.  'per-round' ratios are the median of the ratios "
          "within each round, which cancels slow spells that hit a whole round.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
