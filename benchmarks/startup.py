"""startup.py: how long ``import tinyvae`` and ``tinyvae --help`` take, and that matplotlib stays out.

Targets (issue 7): ``python -c "import tinyvae"`` under 0.3 s and ``tinyvae --help`` under
0.5 s, wall clock, each the median of ``--runs`` fresh processes.  For reference it also
times a bare ``python -c pass`` (the interpreter's own start-up), and it checks which heavy
modules ``import tinyvae`` pulls in: matplotlib must not be among them (it belongs to
``tinyvae.studies.plots`` alone).

Run with the Python whose environment has tinyvae installed::

    python benchmarks/startup.py [--runs 15]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from throughput import wait_for_quiet

TARGETS = {"import tinyvae": 0.3, "tinyvae --help": 0.5}
HEAVY = ("matplotlib", "tqdm", "scipy", "torch", "jax", "PIL")


def wall(cmd, runs, max_wait):
    """Median and minimum wall time of ``cmd`` over ``runs`` fresh processes."""
    times = []
    subprocess.run(cmd, capture_output=True, check=True)      # warm the file cache once
    for _ in range(runs):
        wait_for_quiet(max_wait)
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description="Start-up time of tinyvae.")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--max-wait", type=float, default=30.0,
                   help="seconds to wait for other processes to go quiet before each run")
    args = p.parse_args(argv)

    script = os.path.join(os.path.dirname(sys.executable), "tinyvae")
    script = script if os.path.exists(script) else shutil.which("tinyvae")
    if script is None:
        print("the tinyvae command is not installed in this environment (pip install -e .)", file=sys.stderr)
        return 2
    env_note = f"python {sys.executable}"
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "import tinyvae": [sys.executable, "-c", "import tinyvae"],
                "tinyvae --help": [script, "--help"]}
    ok = True
    base = None
    print(f"{env_note}; median (min) of {args.runs} runs each")
    for name, cmd in commands.items():
        median, best = wall(cmd, args.runs, args.max_wait)
        line = f"{name:>16}: {median:.3f} s (min {best:.3f} s)"
        if base is None:
            base = median
        else:
            line += f", {median - base:.3f} s above the bare interpreter"
        if name in TARGETS:
            passed = median < TARGETS[name]
            ok &= passed
            line += f"; target < {TARGETS[name]} s: {'ok' if passed else 'MISSED'}"
        print(line)

    probe = ("import sys, tinyvae; print(' '.join(sorted(m for m in %r if m in sys.modules)))" % (HEAVY,))
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    mpl_free = "matplotlib" not in heavy
    ok &= mpl_free
    print(f"modules 'import tinyvae' loads among {', '.join(HEAVY)}: {', '.join(heavy) or 'none'}; "
          f"matplotlib {'not imported: ok' if mpl_free else 'IMPORTED'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
