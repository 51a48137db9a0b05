"""benchmarks/disentanglement.py in its tiny mode: every objective's command line trains, evaluates,
prints its line in the promised format, and exports a checkpoint that loads.

The full benchmark (3 seeds, 300 epochs per model) is a benchmark, not a test; this only keeps
its code path from rotting.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np

from tinyvae.app import reference
from tinyvae.app.runs import load_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^objective=(\S+) seed=(\d+) mig (\d\.\d+) factorvae (\d\.\d+) recon (\S+) kl (\S+)$", re.M)


def test_tiny_benchmark_prints_one_line_per_model_then_means_and_exports_loadable_checkpoints(tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "disentanglement.py"), "--tiny",
                           "--seeds", "0", "--jobs", "2", "--out", str(tmp_path / "runs"),
                           "--export", str(tmp_path / "ref")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = LINE.findall(proc.stdout)
    assert [name for name, *_ in lines] == ["vae", "beta4", "kl-target", "capacity"]
    for name, seed, mig, fvae, recon, kl in lines:
        assert 0 <= float(mig) <= 1 and 0 <= float(fvae) <= 1 and float(kl) >= 0
    assert "means over seeds:" in proc.stdout and "per factor" in proc.stdout
    results = json.loads((tmp_path / "runs" / "results.json").read_text())["results"]
    assert [f"{r['mig']:.3f}" for r in results] == [mig for _, _, mig, *_ in lines]
    for r in results:                                     # each printed number came from tinyvae eval
        with open(os.path.join(r["run_dir"], "eval.json")) as f:
            assert json.load(f)["mig"] == r["mig"]
    for name in ("vae", "beta4", "kl-target", "capacity"):
        model, cfg = reference.load(str(tmp_path / "ref" / f"08_{name}.npz"))
        run_model, _, _ = load_run(os.path.join(tmp_path, "runs", f"{name}-seed0"))
        assert cfg.hidden == [16] and model.theta.dtype == np.float32
        assert np.allclose(model.theta, run_model.theta, rtol=1e-3, atol=1e-4)   # float16 rounding only
