"""Fuzz every reader of a run folder: damage model.npz, config.json and metrics.jsonl at random,
run a command on the folder, and check that it ends as tinyvae promises.

    python tools/fuzz_checkpoints.py --count 2000            # about 15 minutes on 2 cores
    python tools/fuzz_checkpoints.py --count 50 --subprocess  # each case a real `python -m tinyvae`
    python tools/fuzz_checkpoints.py --replay 1234            # one case again, by its number

Each case copies a small trained run (a VAE, an AE, a DAE, a constrained VAE or a Gaussian VAE,
two epochs on the digits), applies one to three mutations drawn from:

* the zip: a flipped byte anywhere, a cut, bytes appended, a member renamed or dropped;
* a ``.npy`` header: one character of one member's header dict changed (shape, dtype, order);
* the JSON ``meta``: a field set to an odd value (None, -1, 2**200, 1e30, NaN, a string, a deep
  list, ...), dropped, or added, at any depth, then saved as a valid npz;
* the arrays: parameters as strings, of another dtype or shape, NaN, +-1e30, inf; Adam's sums
  negative;
* config.json and metrics.jsonl: flipped bytes, a cut, deep nesting, an edited value, rows
  without their loss columns, a FIFO in the file's place, the file deleted;

then runs one of ``eval``, ``sample``, ``plot``, ``explore`` and ``train --resume`` on it.  A
case passes when the command exits 0, or 1 or 2 with exactly one line on stderr that starts
with "tinyvae"; never with a traceback, never after a timeout, never with ``nan`` or ``inf``
in what it printed, and never having changed model.npz unless it resumed the run.

By default each case runs ``tinyvae.app.cli.main`` in a child made by ``fork`` after the
imports (a real process, its own exit code and stderr, about 20 times cheaper than a fresh
interpreter); an exception escaping ``main`` is printed as Python prints one.  ``--subprocess``
runs ``python -m tinyvae`` instead.  The random draws are seeded by ``--seed`` and the case's
number, so ``--replay N`` repeats case N exactly.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")     # before numpy: a forked child must not wait on
os.environ.setdefault("OMP_NUM_THREADS", "1")          # BLAS threads its parent had
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

TEMPLATES = {
    "vae": ["--hidden", "16", "--latent", "2"],
    "ae": ["--model", "ae", "--hidden", "16", "--latent", "2"],
    "dae": ["--model", "dae", "--noise", "gaussian", "--hidden", "12", "--latent", "3"],
    "kl-target": ["--kl-target", "2", "--hidden", "16", "--latent", "3"],
    "gaussian": ["--likelihood", "gaussian", "--sigma", "0.3", "--hidden", "16", "--latent", "2"],
}
ODD_VALUES = [None, -1, 0, 1, 2 ** 200, -(2 ** 70), 1e30, -1e30, 1e308, 0.5, "x", "", "NaN", [], {}, [0, 0],
              [1, 2, 3], True, False, [[[[[[[[1]]]]]]]], "\udcff", "a" * 300]
TIMEOUT = 60


# --- making the damage ----------------------------------------------------------------------------
def _read_npz(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    return arrays, meta


def _write_npz(path, arrays, meta):
    text = meta if isinstance(meta, str) else json.dumps(meta)
    np.savez(path, meta=np.array(text), **arrays)


def _paths(obj, prefix=()):
    """Every path into a JSON value: (key, key, ...)."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:6]):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value, delete=False):
    for key in path[:-1]:
        obj = obj[key]
    if delete and isinstance(obj, dict):
        obj.pop(path[-1], None)
    else:
        obj[path[-1]] = value


def mutate_meta(rng, run):
    arrays, meta = _read_npz(run / "model.npz")
    paths = list(_paths(meta))[1:]
    for _ in range(rng.randint(1, 2)):
        path = rng.choice(paths)
        kind = rng.random()
        try:
            if kind < 0.15:
                _set(meta, path, None, delete=True)
            elif kind < 0.25:
                _set(meta, path[:-1] + ("nonsense",) if isinstance(path[-1], str) else path, rng.choice(ODD_VALUES))
            else:
                _set(meta, path, rng.choice(ODD_VALUES))
        except (KeyError, IndexError, TypeError):
            pass
    text = json.dumps(meta)
    if rng.random() < 0.1:
        text = text.replace("0", "NaN", 1) if rng.random() < 0.5 else "[" * 100000 + "]" * 100000
    _write_npz(run / "model.npz", arrays, text)
    return f"meta {path}"


def mutate_arrays(rng, run):
    arrays, meta = _read_npz(run / "model.npz")
    name = rng.choice(sorted(arrays))
    a = arrays[name]
    choice = rng.randrange(9)
    if choice == 0:
        arrays[name] = a.astype(str)
    elif choice == 1:
        arrays[name] = a.astype(np.float64)
    elif choice == 2:
        arrays[name] = a.ravel()[: max(0, a.size - 1)]
    elif choice == 3:
        arrays[name] = np.full_like(a, np.nan) if a.dtype.kind == "f" else a
    elif choice == 4:
        b = a.copy()
        if b.size:
            b.flat[rng.randrange(b.size)] = rng.choice([1e30, -1e30, np.inf]) if b.dtype.kind == "f" else 2 ** 40
        arrays[name] = b
    elif choice == 5:
        arrays[name] = a * np.float32(1e30) if a.dtype.kind == "f" else a
    elif choice == 6:
        arrays[name] = -np.abs(a) - 1 if a.dtype.kind in "fi" else a
    elif choice == 7:
        arrays[name] = a.reshape(1, -1) if a.ndim == 1 else a.reshape(-1)
    else:
        arrays[rng.choice(["extra", "theta2", "opt_x"])] = np.zeros(3)
    _write_npz(run / "model.npz", arrays, meta)
    return f"array {name} #{choice}"


def mutate_npy_header(rng, run):
    path = run / "model.npz"
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    name = rng.choice(sorted(members))
    raw = bytearray(members[name])
    end = raw.index(b"\n") if b"\n" in raw[:4096] else min(len(raw), 128)
    start = 10 if raw[6:7] == b"\x01" else 12
    if end > start:
        i = rng.randrange(start, end)
        raw[i] = ord(rng.choice("0123456789()[]{},:'\" <>|fiuU?xX\\\n"))
    members[name] = bytes(raw)
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return f"npy header {name}"


def mutate_zip(rng, run):
    path = run / "model.npz"
    raw = bytearray(path.read_bytes())
    choice = rng.randrange(6)
    if choice == 0:
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    elif choice == 1:
        raw = raw[: rng.randrange(len(raw))]
    elif choice == 2:
        raw += bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    elif choice == 3:                                   # a byte of the central directory or a local header
        for marker in (b"PK\x01\x02", b"PK\x03\x04"):
            spots = [m.start() for m in re.finditer(re.escape(marker), bytes(raw))]
            if spots:
                at = rng.choice(spots) + rng.randrange(4, 46)
                if at < len(raw):
                    raw[at] = rng.randrange(256)
    else:
        with zipfile.ZipFile(path) as z:
            members = {i.filename: z.read(i.filename) for i in z.infolist()}
        name = rng.choice(sorted(members))
        if choice == 4:
            members.pop(name)
        else:
            members[rng.choice(["x.npy", "meta", name.upper(), "theta.npy"])] = members.pop(name)
        with zipfile.ZipFile(path, "w") as z:
            for n, b in members.items():
                z.writestr(n, b)
        return f"zip members #{choice}"
    path.write_bytes(bytes(raw))
    return f"zip bytes #{choice}"


def mutate_text(rng, run):
    name = rng.choice(["config.json", "metrics.jsonl"])
    path = run / name
    if not path.is_file():                              # an earlier mutation deleted it or made it a FIFO
        return f"{name} left as it was"
    choice = rng.randrange(8)
    if choice == 7:
        if rng.random() < 0.5:
            path.unlink()
            return f"{name} deleted"
        path.unlink()
        os.mkfifo(path)
        return f"{name} FIFO"
    raw = bytearray(path.read_bytes())
    if choice == 0:
        for _ in range(rng.randint(1, 3)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif choice == 1:
        raw = raw[: rng.randrange(len(raw))]
    elif choice == 2:
        raw = bytearray(b"[" * 100000 + b"]" * 100000)
    elif choice in (3, 4):
        if name == "config.json":
            config = json.loads(raw)
            config[rng.choice(sorted(config))] = rng.choice(ODD_VALUES)
            raw = bytearray(json.dumps(config).encode())
        else:
            rows = [json.loads(line) for line in raw.decode().splitlines()]
            for row in rows:
                for key in [k for k in row if "loss" in k or "recon" in k]:
                    row.pop(key)
            raw = bytearray("".join(json.dumps(r) + "\n" for r in rows).encode())
    elif choice == 5:
        raw += b'{"epoch": NaN}\n[1, 2]\n'
    else:
        raw = bytearray(b"\xff\xfe" + bytes(raw))
    path.write_bytes(bytes(raw))
    return f"{name} #{choice}"


MUTATIONS = [(mutate_meta, 3), (mutate_arrays, 2), (mutate_npy_header, 2), (mutate_zip, 3), (mutate_text, 2)]


def make_case(rng, templates, scratch):
    """A damaged copy of a template run in ``scratch``; returns (run folder, what was done, argv)."""
    kind = rng.choice(sorted(templates))
    run = scratch / "run"
    shutil.copytree(templates[kind], run)
    done = [kind]
    functions = [f for f, weight in MUTATIONS for _ in range(weight)]
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        try:
            done.append(rng.choice(functions)(rng, run))
        except Exception as err:                        # an earlier mutation left a file this one cannot parse
            done.append(f"(mutation skipped: {type(err).__name__})")
    command = rng.choice(["eval", "eval", "sample", "plot", "resume", "resume", "explore"])
    argv = {"eval": ["eval", str(run), "--iw-samples", "3"],
            "sample": ["sample", str(run), "-n", "4"],
            "plot": ["plot", str(run)],
            "explore": ["explore", str(run)],
            "resume": ["train", "--resume", str(run), "--epochs", str(rng.choice([2, 3]))]}[command]
    return run, done, argv


# --- running a case ---------------------------------------------------------------------------------
def run_forked(argv, cwd):
    """Run ``tinyvae.app.cli.main(argv)`` in a forked child; returns (exit code, stdout, stderr)."""
    out_path, err_path = os.path.join(cwd, ".out"), os.path.join(cwd, ".err")
    pid = os.fork()
    if pid == 0:                                        # the child: a real process with its own streams
        code = 1
        try:
            os.chdir(cwd)
            for fd, path in ((1, out_path), (2, err_path)):
                f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(f, fd)
                os.close(f)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            from tinyvae.app import cli
            code = cli.main(argv)
        except SystemExit as exit:                      # argparse
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:                           # what Python would print: a traceback
            traceback.print_exc()
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    deadline = time.monotonic() + TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, "", f"timed out after {TIMEOUT} s"
        time.sleep(0.005)
    code = os.waitstatus_to_exitcode(status)
    with open(out_path, errors="replace") as f_out, open(err_path, errors="replace") as f_err:
        return code, f_out.read(), f_err.read()


def run_subprocess(argv, cwd):
    proc = subprocess.run([sys.executable, "-m", "tinyvae", *argv], cwd=cwd, capture_output=True, text=True,
                          errors="replace", timeout=TIMEOUT + 30)
    return proc.returncode, proc.stdout, proc.stderr


def judge(code, out, err, argv, before, run):
    """None if the case ended as promised, else what went wrong."""
    lines = err.strip().splitlines()
    if code is None:
        return err
    if "Traceback" in err:
        return "traceback: " + (lines[-1] if lines else "")
    if code not in (0, 1, 2):
        return f"exit code {code}"
    if code != 0 and not (len(lines) == 1 and lines[0].startswith("tinyvae")):
        return f"exit {code} with {len(lines)} stderr lines: {err.strip()[:300]!r}"
    if code == 0 and re.search(r"\b(nan|inf)\b", out, re.IGNORECASE):
        return f"exit 0 printing nan or inf: {out.strip()[:300]!r}"
    after = (run / "model.npz").read_bytes() if (run / "model.npz").is_file() else None
    if argv[0] != "train" and after != before:
        return "model.npz changed"
    return None


def make_templates(folder):
    """Train the template runs (two epochs each) with the real command."""
    templates = {}
    for kind, flags in TEMPLATES.items():
        out = folder / kind
        proc = subprocess.run([sys.executable, "-m", "tinyvae", "train", *flags, "--epochs", "2", "--out", str(out)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"cannot train the template {kind}: {proc.stderr.strip()}")
        templates[kind] = out
    return templates


def fuzz(count, seed=0, subprocesses=False, replay=None, log=print):
    """Run ``count`` cases (or case ``replay`` alone); returns (cases run, list of failures)."""
    from pathlib import Path

    run_case = run_subprocess if subprocesses else run_forked
    failures, outcomes = [], {}
    with tempfile.TemporaryDirectory(prefix="tinyvae-fuzz-") as tmp:
        tmp = Path(tmp)
        templates = make_templates(tmp / "templates")
        numbers = [replay] if replay is not None else range(count)
        t0 = time.time()
        for n in numbers:
            rng = random.Random(f"{seed}-{n}")
            scratch = tmp / f"case-{n}"
            scratch.mkdir()
            run, done, argv = make_case(rng, templates, scratch)
            before = (run / "model.npz").read_bytes() if (run / "model.npz").is_file() else None
            code, out, err = run_case(argv, str(scratch))
            problem = judge(code, out, err, argv, before, run)
            outcomes[code] = outcomes.get(code, 0) + 1
            if problem or replay is not None:
                log(f"case {n}: {' + '.join(done)}; {' '.join(argv[:1])}: exit {code}; {problem or 'ok'}"
                    + (f"\n{err}" if replay is not None else ""))
            if problem:
                failures.append((n, done, argv[0], problem))
            shutil.rmtree(scratch, ignore_errors=True)
            if replay is None and (n + 1) % 100 == 0:
                log(f"{n + 1} cases, {len(failures)} failures, {time.time() - t0:.0f} s, exit codes {outcomes}")
    return len(numbers), failures, outcomes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=200, help="how many cases (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seeds every case's draws (default 0)")
    p.add_argument("--subprocess", action="store_true", help="run each case as `python -m tinyvae`")
    p.add_argument("--replay", type=int, metavar="N", help="run case N alone, and print its stderr")
    args = p.parse_args(argv)
    t0 = time.time()
    n, failures, outcomes = fuzz(args.count, args.seed, args.subprocess, args.replay)
    print(f"{n} cases ({'subprocesses' if args.subprocess else 'forked children'}, seed {args.seed}) in "
          f"{time.time() - t0:.0f} s: {n - len(failures)} ended as promised, {len(failures)} did not; exit codes "
          f"{dict(sorted(outcomes.items(), key=str))}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
