"""benchmarks/disentanglement.py in its tiny mode: the command lines train, evaluate, print their
lines in the promised format, write each result at once, skip finished models on a rerun, export
checkpoints that load, and dispatch to a Dask cluster.

The full study (5 reporting seeds, 58,400 steps per model) is a benchmark, not a test; this only
keeps its code path from rotting.  The second half holds the runner to what ``tinyvae train``
promises, on the real script with real signals and a real local Dask cluster: every fault in one
line before any work; no result reused that another recipe made or that is damaged; no training
outliving the study; workers capped at the cores; two studies sharing a folder.
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinyvae.app import claims, reference
from tinyvae.app.runs import load_run

# the study runs real `tinyvae` trainings in subprocesses (and on a Dask cluster), seconds each:
# CI runs them in its slow pass (TINYVAE_REQUIRE_CLUSTER=1 there), README's command leaves them out
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "disentanglement.py")
LINE = re.compile(r"^data=(\S+) objective=(\S+) seed=(\d+) mig (\d\.\d+) factorvae (\d\.\d+) recon (\S+) kl (\S+)",
                  re.M)
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")


def study(*args, timeout=600):
    """The script, run to its end: the CompletedProcess."""
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def run(*args):
    proc = study("--tiny", *args)
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


def _distributed():
    # dask is the optional `cluster` extra: without it the cluster tests skip, but not under .ci/run,
    # which installs it and sets TINYVAE_REQUIRE_CLUSTER=1 so that CI always runs this path
    if os.environ.get("TINYVAE_REQUIRE_CLUSTER") == "1":
        import dask.distributed as distributed
    else:
        distributed = pytest.importorskip("dask.distributed", reason='the cluster extra: pip install -e ".[dev,cluster]"')
    return distributed


def test_models_go_to_a_dask_cluster_of_two_workers(tmp_path):
    distributed = _distributed()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1", dashboard_address=None) as cluster:
        out = run("--data", "shapes", "--objectives", "vae", "--seeds", "0", "1",
                  "--cluster", cluster.scheduler_address, "--out", str(tmp_path / "runs"))
    assert sorted(int(seed) for _, _, seed, *_ in LINE.findall(out)) == [0, 1]


# --- the runner promises what `tinyvae train` promises ---------------------------------------------
def fails_in_one_line(proc, code, *mentions):
    lines = proc.stderr.strip().splitlines()
    return (proc.returncode == code and len(lines) == 1 and "Traceback" not in proc.stderr
            and all(m in lines[0] for m in mentions))


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """One finished --tiny study of one model (the VAE, seed 0), for the tests to copy."""
    out = tmp_path_factory.mktemp("tiny") / "study"
    run("--objectives", "vae", "--seeds", "0", "--out", out)
    return out


@pytest.fixture
def finished(tiny_study, tmp_path):
    return shutil.copytree(tiny_study, tmp_path / "study")


def _a_file(tmp_path):
    (tmp_path / "file").write_text("mine")
    return tmp_path / "file"


@pytest.mark.parametrize("argv, code, mentions", [
    (["--seeds", "-1"], 2, ["--seeds", "-1"]),
    (["--seeds", "0", "0"], 2, ["--seeds", "twice"]),
    (["--seeds", "1e9999"], 2, ["--seeds"]),
    (["--jobs", "0"], 2, ["--jobs", ">= 1"]),
    (["--jobs", "two"], 2, ["--jobs"]),
    (["--out", "FILE"], 2, ["--out", "not a folder"]),
    (["--out", "FILE/under"], 2, ["--out", "not a folder"]),
    (["--out", ""], 2, ["--out"]),
    (["--out", "OUT", "--export-study", "OUT/no/such/folder/study.json"], 2, ["--export-study", "does not exist"]),
    (["--out", "OUT", "--export-study", "OUT"], 2, ["--export-study", "folder"]),
    (["--out", "OUT", "--export", "FILE"], 2, ["--export", "not a folder"]),
    (["--out", "OUT", "--cluster", "tcp://127.0.0.1:1"], 1, ["--cluster", "tcp://127.0.0.1:1", "cannot reach"]),
    (["--out", "OUT", "--cluster", "nonsense"], 2, ["--cluster", "not a scheduler's address"]),
    (["--out", "OUT", "--cluster", "gopher://host:70"], 2, ["--cluster", "unknown scheme"]),
    (["--out", "OUT", "--cluster", "tcp://127.0.0.1:1", "--jobs", "2"], 2, ["--jobs", "--cluster"]),
])
def test_every_bad_flag_path_or_address_fails_in_one_line_before_any_work(tmp_path, argv, code, mentions):
    argv = [str(_a_file(tmp_path)) + a[4:] if a.startswith("FILE") else
            str(tmp_path / "out") + a[3:] if a.startswith("OUT") else a for a in argv]
    proc = study("--tiny", "--objectives", "vae", *argv, timeout=60)
    assert fails_in_one_line(proc, code, *mentions), proc.stderr
    assert not (tmp_path / "out").exists()              # nothing made: not even the folder it would have made
    assert "data=" not in proc.stdout                   # and no model started


def test_a_tiny_studys_results_are_never_reused_by_a_real_study(finished):
    record = json.loads((finished / "results.json").read_text())
    result = json.loads((finished / "shapes" / "vae-seed0" / "result.json").read_text())
    assert record["tiny"] is True and record["recipe"]["tiny"] is True    # how they were made, said
    assert result["recipe"]["tiny"] is True and "16" in result["recipe"]["train"]
    real = study("--objectives", "vae", "--seeds", "0", "--out", finished, timeout=60)
    assert fails_in_one_line(real, 2, "--tiny study", "choose another --out"), real.stderr
    assert "(done before)" not in real.stdout
    # without results.json the run folder itself still says it is another recipe's
    (finished / "results.json").unlink()
    real = study("--objectives", "vae", "--seeds", "0", "--out", finished, timeout=60)
    assert fails_in_one_line(real, 2, "--hidden", "another --out"), real.stderr
    assert "(done before)" not in real.stdout


@pytest.mark.slow
def test_a_truncated_result_is_redone_not_a_traceback(finished):
    path = finished / "shapes" / "vae-seed0" / "result.json"
    whole = json.loads(path.read_text())
    path.write_bytes(path.read_bytes()[:40])
    out = run("--objectives", "vae", "--seeds", "0", "--out", finished)
    assert re.search(r"result.json: it cannot be read .*; the model is done again", out) and "(done before)" not in out
    again = json.loads(path.read_text())
    assert again["mig"] == whole["mig"] and again["recipe"] == whole["recipe"]      # the same model, scored again
    assert len((finished / "shapes" / "vae-seed0" / "run" / "metrics.jsonl").read_text().splitlines()) == 1


def test_workers_are_capped_at_the_cores(finished):
    out = run("--objectives", "vae", "--seeds", "0", "--jobs", "1000", "--out", finished)
    n = len(os.sched_getaffinity(0))
    assert f"--jobs 1000 is more than the {n} cores" in out and f"{n} at once" in out


def _processes_of(out):
    """The live processes whose command line names the folder ``out`` (the trainings of a study)."""
    psutil = pytest.importorskip("psutil")             # (a dependency of dask.distributed)
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(str(out) in a for a in p.info["cmdline"] or []) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            pass
    return found


def _wait_for(predicate, timeout=120):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def _start_real_study(out, *extra):
    """A real (600-epoch) study of one model, stopped by the test once its first epoch is on disk."""
    proc = subprocess.Popen([sys.executable, SCRIPT, "--objectives", "vae", "--seeds", "0", "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    _wait_for(lambda: (out / "shapes" / "vae-seed0" / "run" / "model.npz").exists() or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    return proc


def _folders_free(out):
    for folder in (out / "shapes" / "vae-seed0", out / "shapes" / "vae-seed0" / "run"):
        claim = claims.claim_free(str(folder))
        assert claim is not None, f"{folder} is still held"
        claim.release()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_the_study_ends_every_training_and_frees_its_folders(tmp_path, sig):
    out = tmp_path / "study"
    proc = _start_real_study(out)
    trainings = _processes_of(out)
    assert trainings                                     # a 600-epoch training is running
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "stopped" in err and "run the same command again" in err
    _wait_for(lambda: not _processes_of(out), timeout=10)
    _folders_free(out)
    model, cfg, meta = load_run(str(out / "shapes" / "vae-seed0" / "run"))     # its last checkpoint, whole
    assert 1 <= meta["epoch"] < 600 and cfg.hidden == [256]


def test_sigterm_to_a_study_on_a_dask_cluster_ends_the_trainings_on_its_workers(tmp_path):
    distributed = _distributed()
    out = tmp_path / "study"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        proc = _start_real_study(out, "--cluster", cluster.scheduler_address)
        assert _processes_of(out)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 143 and len(err.strip().splitlines()) == 1, err
        _wait_for(lambda: not _processes_of(out), timeout=30)      # the worker ended its training
        _folders_free(out)


@pytest.mark.slow
def test_two_studies_sharing_a_folder_train_each_model_once(tmp_path):
    out = tmp_path / "study"
    argv = [sys.executable, SCRIPT, "--tiny", "--objectives", "vae", "tcvae", "--seeds", "0", "1", "--out", str(out)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trained = [line for o, _ in outs for line in o.splitlines() if LINE.match(line) and re.search(r"\(\d+ s\)$", line)]
    assert sorted((m[2], m[3]) for m in map(LINE.match, trained)) == sorted(
        (name, seed) for name in ("vae", "tcvae") for seed in ("0", "1"))       # each model trained once
    record = json.loads((out / "results.json").read_text())
    assert len(record["results"]) == 4
    for name in ("vae", "tcvae"):
        for seed in (0, 1):
            rows = (out / "shapes" / f"{name}-seed{seed}" / "run" / "metrics.jsonl").read_text().splitlines()
            assert len(rows) == 1
    # each skipped what the other held; the one that ended last found all four on disk
    assert sum("held by another study" in o for o, _ in outs) >= 1
    assert any("4 of 4 done" in o for o, _ in outs), outs
