"""Data-parallel training steps: each core runs forward and backward on its own rows.

A minibatch loss is a mean over examples, so its gradient is the weighted mean of the
gradients of any split of the rows::

    x = [x_1; ...; x_W],  n_k rows each      g = sum_k (n_k / N) g_k

(``docs/derivations.md``, "Splitting a minibatch over cores").

:class:`DataParallel` cuts each minibatch into W near-equal row blocks.  Block 0 runs in
this process; block k >= 1 in worker process k, which holds its own copy of the same model
(built from ``model.config()``).  Every worker then combines the W gradients on its slice
of the flat parameter vector and runs the optimizer's update there.  So each core does
1/W of the matrix products, of the elementwise work and of Adam, with BLAS at one thread.

The parameters, the W gradients, the optimizer's state and each worker's input rows live
in one shared-memory file (:class:`SharedArrays`) that every process maps, so nothing is
copied between processes except each worker's rows.  Why processes and not threads: with
threads, every NumPy call on a small array waits for the GIL, and each wait puts a thread
to sleep and wakes it again, some 50 us per wake-up on the 2-core VM this was measured on
(15-18 per step); the threaded version measured no faster than one thread at B = 128.

Nothing in the model changes: the workers run the model's own ``loss_and_grad`` and the
optimizer's own ``update``, and the randomness (eps, the corruption) is drawn here for the
whole minibatch from the trainer's Generator exactly as ``loss_and_grad(x, rng)`` draws
it, so the two paths differ only by the rounding of the sum over rows
(``tests/test_parallel.py``).

**The hand-shake.** Each worker has a control block ``ctrl`` of float64 slots.  This
process writes the worker's rows and arguments, then a new sequence number into
``ctrl[SEQ]``; the worker, which polls ``ctrl[SEQ]`` (a busy loop while training, naps of
a millisecond when idle longer than ``SPIN_SECONDS``), does the work and writes the number
back into ``ctrl[DONE]``, which this process polls.  Polling shared memory costs well under
a microsecond per hand-over, where a sleep and wake-up cost some 50.  The protocol relies
on stores becoming visible in program order, which x86-64 guarantees; elsewhere
:func:`supported` is False and training stays on one core.

Not split: a minibatch of fewer than ``W * MIN_ROWS`` rows, and the capacity objective,
whose KL weight gamma * sign(KL - C) depends on the KL of the *whole* minibatch.

A worker ends when :meth:`DataParallel.close` asks it to, and by itself when this process
ends however it ends (it watches its stdin pipe, which closes with this process).
"""
import json
import math
import mmap
import os
import platform
import subprocess
import sys
import tempfile
import time
import weakref

import numpy as np

from .errors import TinyVAEError
from .models import Loss

#: the fewest rows per block worth a worker; a smaller minibatch runs whole in this process
MIN_ROWS = 8

#: how long a waiting worker polls without pause before it naps between polls (1 ms naps,
#: then 10 ms naps once idle for LONG_IDLE_SECONDS, so an idle worker costs next to nothing)
SPIN_SECONDS = 0.02
NAP_SECONDS = 0.001
LONG_IDLE_SECONDS = 0.5

# slots of a control block (float64): commands, hand-shake, the step's numbers
SEQ, CMD, DONE, STATUS, ROWS = 0, 1, 2, 3, 4
LOSS = 5                                              # 5..8: recon, kl, beta, total
ARGS = 9                                              # 9..10: the optimizer's update arguments
N_ARGS = 11
SETTINGS = 12                                         # 12..15: the model's STEP_SETTINGS
CTRL_SLOTS = 16
FORWARD, UPDATE, STOP = 1.0, 2.0, 3.0
STARTING, READY, FAILED = 0.0, 1.0, 2.0


class WorkerError(TinyVAEError):
    """A data-parallel worker could not start, failed or died."""


def supported():
    """True where the data-parallel step can run: Linux on x86-64 with a BLAS whose
    threads can be set (:mod:`tinyvae.blas`)."""
    from . import blas
    return (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")
            and blas.available())


class SharedArrays:
    """Named NumPy arrays in one memory-mapped file that several processes map.

    The file is made with no name (``O_TMPFILE``, in /dev/shm when it exists), so it
    vanishes with the last process that maps it, whatever happens; the workers receive its
    file descriptor.  ``layout`` is a list of ``(name, shape, dtype)``.
    """

    ALIGN = 64                                        # one cache line

    def __init__(self, layout, fd=None):
        self.layout = [(name, tuple(int(n) for n in shape), np.dtype(dtype).str) for name, shape, dtype in layout]
        offsets, size = [], 0
        for _, shape, dtype in self.layout:
            offsets.append(size)
            size += -(-int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize // self.ALIGN) * self.ALIGN
        size = max(size, self.ALIGN)
        if fd is None:
            where = "/dev/shm" if os.path.isdir("/dev/shm") else None
            self.file = tempfile.TemporaryFile(dir=where)
            os.ftruncate(self.file.fileno(), size)
            fd = self.file.fileno()
        self.fd = fd
        self.map = mmap.mmap(fd, size)
        self.arrays = {}
        for (name, shape, dtype), offset in zip(self.layout, offsets):
            count = int(np.prod(shape, dtype=np.int64))
            self.arrays[name] = np.frombuffer(self.map, dtype, count, offset).reshape(shape)

    def __getitem__(self, name):
        return self.arrays[name]


class DataParallel:
    """One training step (loss, gradient and optimizer update) spread over ``workers`` processes.

    Making it moves ``model.theta``, ``model.grad`` and the optimizer's state into shared
    memory (their values are kept) and starts ``workers - 1`` worker processes.

    Parameters
    ----------
    model : Autoencoder, DenoisingAutoencoder or VAE
        Its ``theta`` and ``grad`` are the ones ``optimizer`` updates.
    optimizer : Adam or SGD
    workers : int >= 2
        Processes, one per core, this one included.
    max_rows : int
        The largest minibatch a step will be given (the trainer's batch size).
    """

    def __init__(self, model, optimizer, workers=2, max_rows=128):
        if workers < 2:
            raise ValueError(f"DataParallel needs at least 2 workers, got {workers}")
        if len(model.STEP_SETTINGS) > CTRL_SLOTS - SETTINGS:
            raise ValueError("too many STEP_SETTINGS for the control block")
        self.model, self.optimizer, self.workers = model, optimizer, int(workers)
        W, P, dtype = self.workers, model.theta.size, model.dtype
        self.block_rows = -(-int(max_rows) // W)      # rows of the largest block
        probe = model.draw_noise(np.zeros((1, model.D), dtype), np.random.default_rng(0))
        self.noise_shapes = {name: value.shape[1:] for name, value in probe.items()}
        layout = [("theta", (P,), dtype), ("scratch", (P,), dtype)]
        layout += [(f"grad{k}", (P,), dtype) for k in range(W)]
        layout += [(name, (P,), dtype) for name in optimizer.BUFFERS]
        layout += [("weights", (W,), np.float64)]
        for k in range(1, W):
            layout += [(f"ctrl{k}", (CTRL_SLOTS,), np.float64), (f"x{k}", (self.block_rows, model.D), dtype)]
            layout += [(f"{name}{k}", (self.block_rows, *shape), dtype)
                       for name, shape in self.noise_shapes.items()]
        self.shared = SharedArrays(layout)
        # the model and the optimizer now keep their arrays in shared memory, values unchanged
        model.use_buffers(self.shared["theta"], self.shared["grad0"])
        optimizer.theta, optimizer.grad = model.theta, model.grad
        for name in optimizer.BUFFERS:
            self.shared[name][...] = getattr(optimizer, name)
            setattr(optimizer, name, self.shared[name])
        bounds = np.linspace(0, P, W + 1).astype(int)
        self.slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]   # one per process
        self.seq = 0.0
        self.procs = []                               # the finalizer stops whatever has started
        self._finalizer = weakref.finalize(self, _stop, self.procs,
                                           [self.shared[f"ctrl{k}"] for k in range(1, W)])
        for k in range(1, W):
            self.procs.append(self._start(k))
        for k in range(1, W):
            self._wait(k, "started")

    def _start(self, k):
        spec = {"fd": self.shared.fd, "layout": self.shared.layout, "rank": k, "workers": self.workers,
                "slice": [int(self.slices[k].start), int(self.slices[k].stop)],
                "model": {"kind": model_kind(self.model), "config": self.model.config(),
                          "dtype": np.dtype(self.model.dtype).str},
                "optimizer": {"kind": type(self.optimizer).__name__,
                              "hyperparameters": self.optimizer.hyperparameters},
                "noise": list(self.noise_shapes), "settings": list(self.model.STEP_SETTINGS)}
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        # stdin: a pipe whose end tells the worker that this process is gone;
        # a session of its own: a Ctrl-C at the terminal reaches this process only
        return subprocess.Popen([sys.executable, "-m", "tinyvae.parallel", json.dumps(spec)],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env,
                                pass_fds=(self.shared.fd,), start_new_session=True)

    def splits(self, N):
        """Whether a minibatch of N rows is split (else it runs whole in this process)."""
        return (self.workers * MIN_ROWS <= N <= self.workers * self.block_rows
                and getattr(self.model, "capacity", None) is None)

    def step(self, x, rng):
        """``loss_and_grad(x, rng)`` then ``optimizer.step()``, on ``workers`` cores; returns the Loss.

        As on one core, a non-finite loss is returned *without* the optimizer step.
        """
        model, W, N = self.model, self.workers, x.shape[0]
        if not self.splits(N):
            loss = model.loss_and_grad(x, rng=rng)
            if math.isfinite(loss.total):
                self.optimizer.step()
            return loss
        noise = model.draw_noise(x, rng)              # drawn for all N rows, as loss_and_grad does
        bounds = np.linspace(0, N, W + 1).astype(int)
        rows = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        settings = [_as_slot(getattr(model, name)) for name in model.STEP_SETTINGS]
        self.seq += 1
        for k in range(1, W):                         # hand each worker its rows, then go
            n = rows[k].stop - rows[k].start
            self.shared[f"x{k}"][:n] = x[rows[k]]
            for name, value in noise.items():
                self.shared[f"{name}{k}"][:n] = value[rows[k]]
            ctrl = self.shared[f"ctrl{k}"]
            ctrl[ROWS] = n
            ctrl[SETTINGS:SETTINGS + len(settings)] = settings
            ctrl[CMD] = FORWARD
            ctrl[SEQ] = self.seq                      # last: the worker starts when it sees this
        losses = [model.loss_and_grad(x[rows[0]], **{name: value[rows[0]] for name, value in noise.items()})]
        for k in range(1, W):
            self._wait(k, "forward")
            losses.append(Loss(*(float(v) for v in self.shared[f"ctrl{k}"][LOSS:LOSS + 4])))
        weights = [(r.stop - r.start) / N for r in rows]   # n_k / N
        recon, kl, total = (sum(w * getattr(part, name) for w, part in zip(weights, losses))
                            for name in ("recon", "kl", "total"))   # each a mean over all N rows
        loss = Loss(recon, kl, losses[0].beta, total)
        if not math.isfinite(loss.total):
            return loss                               # diverged: the caller reports it; theta is kept
        args = self.optimizer.advance()
        self.shared["weights"][...] = weights
        self.seq += 1
        for k in range(1, W):
            ctrl = self.shared[f"ctrl{k}"]
            ctrl[N_ARGS] = len(args)
            ctrl[ARGS:ARGS + len(args)] = args
            ctrl[CMD] = UPDATE
            ctrl[SEQ] = self.seq
        combine_and_update(self.shared, self.optimizer, self.slices[0], weights, args)
        for k in range(1, W):
            self._wait(k, "update")
        return loss

    def _wait(self, k, what):
        """Poll until worker k has done the current command; raise WorkerError if it cannot."""
        ctrl, proc = self.shared[f"ctrl{k}"], self.procs[k - 1]
        target = self.seq if what != "started" else None
        polls = 0
        while True:
            if target is None:
                if ctrl[STATUS] != STARTING:
                    break
            elif ctrl[DONE] == target:
                break
            polls += 1
            if polls % 64 == 0:
                _yield()                              # a busy machine: let the worker have this core
            if polls % 4096 == 0:
                if proc.poll() is not None:
                    raise WorkerError(f"data-parallel worker {k} exited (code {proc.returncode}) during "
                                      f"{what}; train with --workers 1")
                if target is None:
                    time.sleep(NAP_SECONDS)           # starting: Python and NumPy load, no rush
        if ctrl[STATUS] == FAILED:
            raise WorkerError(f"data-parallel worker {k} failed during {what} (its error is printed "
                              f"above); train with --workers 1")

    def close(self):
        """Stop the workers (also done when this object is collected, and at exit)."""
        self._finalizer()


def combine_and_update(shared, optimizer, s, weights, args):
    """On the slice ``s`` of the flat vectors: g = sum_k w_k g_k into grad0, then the
    optimizer's update with the step's ``args`` (from its ``advance()``)."""
    g = shared["grad0"][s]
    others = [shared[f"grad{k}"][s] for k in range(1, len(weights))]
    if len(set(weights)) == 1:                        # equal blocks: (g_0 + ... + g_{W-1}) / W
        for gk in others:
            g += gk
        g *= weights[0]
    else:
        g *= weights[0]
        tmp = shared["scratch"][s]
        for w, gk in zip(weights[1:], others):
            np.multiply(gk, w, out=tmp)
            g += tmp
    optimizer.update(s, *args)


def model_kind(model):
    """"ae", "dae" or "vae": the key of ``model``'s class in :data:`tinyvae.models.MODELS`."""
    from .models import MODELS
    return next(kind for kind, cls in MODELS.items() if type(model) is cls)


def _yield():
    """Give the core to another runnable process, if one waits for it (polling never starves
    the process it waits for, even when the two share one core)."""
    if hasattr(os, "sched_yield"):
        os.sched_yield()


def _as_slot(value):
    return math.nan if value is None else float(value)


def _stop(procs, ctrls):
    """Ask every worker to stop; kill the ones that do not within a second."""
    for ctrl in ctrls:
        ctrl[CMD] = STOP
        ctrl[SEQ] = ctrl[SEQ] + 1
    for proc in procs:
        try:
            proc.stdin.close()
            proc.wait(timeout=1.0)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


# --- the worker process ------------------------------------------------------------------------
def _serve(spec):
    """The worker's loop: wait for a command in its control block, do it, say done."""
    import threading

    from . import optim
    from .models import build_model

    # this process ends with its parent: its stdin is a pipe from the parent, and reading
    # the raw descriptor returns b"" once the parent is gone, however it ended
    def end_with_parent():
        while os.read(0, 4096):
            pass
        os._exit(0)

    threading.Thread(target=end_with_parent, daemon=True).start()
    np.seterr(all="ignore")                           # a divergence is reported by the parent
    shared = SharedArrays(spec["layout"], fd=spec["fd"])
    k = spec["rank"]
    ctrl = shared[f"ctrl{k}"]
    try:
        m = spec["model"]
        model = build_model(m["kind"], m["config"], dtype=np.dtype(m["dtype"]))
        model.use_buffers(shared["theta"], shared[f"grad{k}"], copy=False)
        o = spec["optimizer"]
        optimizer = getattr(optim, o["kind"])(shared["theta"], shared["grad0"], **o["hyperparameters"])
        for name in optimizer.BUFFERS:
            setattr(optimizer, name, shared[name])
        s = slice(*spec["slice"])
        x, noise = shared[f"x{k}"], {name: shared[f"{name}{k}"] for name in spec["noise"]}
    except BaseException:
        ctrl[STATUS] = FAILED
        raise
    ctrl[STATUS] = READY
    seen, idle_since = ctrl[SEQ], time.perf_counter()
    polls = 0
    while True:
        if ctrl[SEQ] == seen:                         # nothing new: poll, and nap when long idle
            polls += 1
            if polls % 64 == 0:
                _yield()
            if polls % 1024 == 0:
                idle = time.perf_counter() - idle_since
                if idle > SPIN_SECONDS:
                    time.sleep(NAP_SECONDS if idle < LONG_IDLE_SECONDS else 10 * NAP_SECONDS)
            continue
        seen, cmd = ctrl[SEQ], ctrl[CMD]
        if cmd == STOP:
            return
        try:
            if cmd == FORWARD:
                for i, name in enumerate(spec["settings"]):
                    value = float(ctrl[SETTINGS + i])
                    setattr(model, name, None if math.isnan(value) else value)
                n = int(ctrl[ROWS])
                loss = model.loss_and_grad(x[:n], **{name: value[:n] for name, value in noise.items()})
                ctrl[LOSS:LOSS + 4] = loss
            elif cmd == UPDATE:
                args = [float(a) for a in ctrl[ARGS:ARGS + int(ctrl[N_ARGS])]]   # Python floats: see Adam.advance
                combine_and_update(shared, optimizer, s, [float(w) for w in shared["weights"]], args)
        except BaseException:
            ctrl[STATUS] = FAILED
            ctrl[DONE] = seen
            raise
        ctrl[DONE] = seen
        idle_since, polls = time.perf_counter(), 0


#: the least work per process, rows x parameters (about the multiply-adds of one forward),
#: at which splitting a step paid on the 2-core machine it was measured on
#: (benchmarks/README.md): the 784-400-20 VAE (P = 652,824) gained from B = 64 (32 rows a
#: process, 2.1e7) up, and a VAE for the 8x8 digits (P = 76,104) even at B = 512 (1.9e7)
#: gains too little to pay for the copies and hand-shakes
MIN_WORK = 2e7


def cores():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                            # not on Linux
        return os.cpu_count() or 1


def auto_workers(model, batch_size):
    """Processes for ``tinyvae train --workers 0``: one per core when each core's share of a
    minibatch is worth it (``MIN_WORK``) and :func:`supported`, else 1."""
    W = cores()
    if W < 2 or not supported():
        return 1
    return W if (batch_size // W) * model.theta.size >= MIN_WORK else 1


#: the first argument of ``python -m tinyvae.parallel`` is the worker's spec (JSON)
if __name__ == "__main__":
    import traceback
    code = 0
    try:
        _serve(json.loads(sys.argv[1]))
    except BaseException:                             # the parent names the worker and the fix
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)                                    # no interpreter shutdown: the reader thread blocks in os.read
