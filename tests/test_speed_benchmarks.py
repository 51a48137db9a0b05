"""benchmarks/throughput.py and benchmarks/profile_step.py in a few steps: their code paths
keep working and print what they promise.  No time is asserted (speed belongs to the
benchmarks, not to tests); what is checked is that they measure the real step.
"""
import os
import re
import subprocess
import sys

import pytest

# every test here runs the real command (or the browser) end to end, a second or more each: the
# battery runs in CI and with --slow, so README's command stays within its stated time
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")


def run(script, *args):
    return subprocess.run([sys.executable, os.path.join(BENCH, script), *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def test_profile_step_wraps_every_part_of_the_real_step_with_its_call_count():
    proc = run("profile_step.py", "--threads", "1", "--batch-size", "16", "--steps", "3")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = dict(re.findall(r"^\| ([^|]+?) \| ([\d.]*) \| [\d.]+ \| -?\d+% \|$", proc.stdout, re.M))
    # a VAE 784-400-20 step: 4 Linear layers, 2 ReLUs, one loss, KL, trick, eps, zeroing, Adam;
    # a part whose function the step no longer calls would read 0 here
    expected = {"Linear forward (matmul + bias)": "4", "ReLU forward": "2", "reparameterization": "1",
                "eps ~ N(0, I)": "1", "Bernoulli loss and its gradient": "1", "KL and its gradient": "1",
                "zero the gradient": "1",
                "Linear backward (matmuls, bias sum, += into the gradient)": "4",
                "ReLU backward": "2", "reparameterization backward": "1", "Adam": "1"}
    assert {k: rows.get(k) for k in expected} == expected
    assert "the step (Trainer.train_epoch's own time)" in rows
    assert re.search(r"^matrix products alone: forward [\d.]+, backward [\d.]+ ms per step", proc.stdout, re.M)


def test_throughput_runs_two_thread_counts_side_by_side_and_prints_the_scaling():
    proc = run("throughput.py", "--threads", "1", "2", "--only", "tinyvae", "limit", "--batch-size", "16",
               "--rounds", "2", "--steps", "2", "--warmup", "1", "--max-wait", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for threads in ("1", "2"):
        for name in ("tinyvae", "limit"):
            assert re.search(rf"^{name} threads={threads} B=16 samples/s \d+$", proc.stdout, re.M)
        assert re.search(rf"; threads {threads}$", proc.stdout, re.M)
    scaling = re.findall(r"^\| (tinyvae \(Trainer.train_epoch\)|GEMM-bound limit), 2 / 1 \| "
                         r"(\d+\.\d\d) \((\d+\.\d\d)\) \|$", proc.stdout, re.M)
    assert [name for name, *_ in scaling] == ["tinyvae (Trainer.train_epoch)", "GEMM-bound limit"]


def test_throughput_refuses_a_thread_count_given_twice():
    proc = run("throughput.py", "--threads", "1", "1", "--only", "limit")
    assert proc.returncode == 2 and "--threads takes distinct counts" in proc.stderr
