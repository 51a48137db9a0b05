"""benchmarks/disentanglement.py in its tiny mode: the command lines train, evaluate, print their
lines in the promised format, write each result at once, skip finished models on a rerun, export
checkpoints that load, and dispatch to a Dask cluster.

The full study (5 reporting seeds, 58,400 steps per model) is a benchmark, not a test; this only
keeps its code path from rotting.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tinyvae.app import reference
from tinyvae.app.runs import load_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "disentanglement.py")
LINE = re.compile(r"^data=(\S+) objective=(\S+) seed=(\d+) mig (\d\.\d+) factorvae (\d\.\d+) recon (\S+) kl (\S+)",
                  re.M)
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")


def run(*args):
    proc = subprocess.run([sys.executable, SCRIPT, "--tiny", *args], capture_output=True, text=True, env=ENV,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def load_script():
    spec = importlib.util.spec_from_file_location("disentanglement_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_benchmark_prints_one_line_per_model_writes_each_result_and_skips_them_on_a_rerun(tmp_path):
    out = run("--data", "shapes", "--objectives", "vae", "tcvae", "--seeds", "0", "--jobs", "2",
              "--out", str(tmp_path / "runs"), "--export", str(tmp_path / "ref"),
              "--export-study", str(tmp_path / "study.json"))
    lines = LINE.findall(out)
    assert sorted(name for _, name, *_ in lines) == ["tcvae", "vae"]
    for data, name, seed, mig, fvae, recon, kl in lines:
        assert data == "shapes" and 0 <= float(mig) <= 1 and 0 <= float(fvae) <= 1 and float(kl) >= 0
    assert "mig / vae" in out
    for name in ("vae", "tcvae"):                       # each printed number came from tinyvae eval
        result_file = tmp_path / "runs" / "shapes" / f"{name}-seed0" / "result.json"
        result = json.loads(result_file.read_text())
        with open(os.path.join(result["run_dir"], "eval.json")) as f:
            evaluated = json.load(f)
        assert evaluated["mig"] == result["mig"] and evaluated["factorvae_votes"] == [10000, 5000]
        model, cfg = reference.load(str(tmp_path / "ref" / f"08_{name}.npz"))
        run_model, _, _ = load_run(result["run_dir"])
        assert np.allclose(model.theta, run_model.theta, rtol=1e-3, atol=1e-4)   # float16 rounding only
    study = json.loads((tmp_path / "study.json").read_text())
    assert len(study["results"]) == 2
    again = run("--data", "shapes", "--objectives", "vae", "tcvae", "--seeds", "0", "--out", str(tmp_path / "runs"))
    assert again.count("(done before)") == 2 and "0 models trained" in again


def test_ratio_standard_error_is_the_delta_method():
    bench = load_script()
    a, b = [0.4, 0.5, 0.6], [0.1, 0.12, 0.14]
    r, se = bench.ratio_and_se(a, b)
    se_a, se_b = np.std(a, ddof=1) / np.sqrt(3), np.std(b, ddof=1) / np.sqrt(3)
    assert r == pytest.approx(0.5 / 0.12)
    assert se == pytest.approx(r * np.sqrt((se_a / 0.5) ** 2 + (se_b / 0.12) ** 2))


def test_models_go_to_a_dask_cluster_of_two_workers(tmp_path):
    # dask is the optional `cluster` extra: without it this skips, but not under .ci/run, which
    # installs it and sets TINYVAE_REQUIRE_CLUSTER=1 so that CI always runs this path
    if os.environ.get("TINYVAE_REQUIRE_CLUSTER") == "1":
        import dask.distributed as distributed
    else:
        distributed = pytest.importorskip("dask.distributed", reason='the cluster extra: pip install -e ".[dev,cluster]"')
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1", dashboard_address=None) as cluster:
        out = run("--data", "shapes", "--objectives", "vae", "--seeds", "0", "1",
                  "--cluster", cluster.scheduler_address, "--out", str(tmp_path / "runs"))
    assert sorted(int(seed) for _, _, seed, *_ in LINE.findall(out)) == [0, 1]
