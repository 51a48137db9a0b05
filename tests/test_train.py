"""`tinyvae train`: run folders, metrics, exact resume, divergence and Ctrl-C."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinyvae.base import choices
from tinyvae.app import cli, runs
from tinyvae.app.runs import load_run
from tinyvae.data import load
from tinyvae.losses import bernoulli_nll, mse
from tinyvae.models import VAE
from tinyvae.train import Trainer

SMALL = ["--hidden", "32", "--latent", "2", "--batch-size", "64"]
METRIC_KEYS = {"epoch", "train_loss", "train_recon", "train_kl", "test_loss", "test_recon", "test_kl",
               "kl_weight", "seconds", "samples_per_s"}


def train(argv):
    """Run `tinyvae train ARGV` in process; returns the exit code."""
    return cli.main(["train", *argv])


def test_train_writes_config_metrics_checkpoint_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(["--epochs", "3", "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith("throughput: ") and printed[-2].endswith(" samples/s")
    assert float(printed[-2].split()[1]) > 0
    assert printed[-1] == f"explore its latent space: tinyvae explore {out}"
    assert sum(line.startswith("epoch ") for line in printed) == 3
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 3 and config["hidden"] == [32] and config["model"] == "vae"
    rows = runs.read_metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert METRIC_KEYS <= set(rows[0])
    for r in rows:
        assert r["train_loss"] == pytest.approx(r["train_recon"] + r["train_kl"])
    for png in ("reconstructions.png", "samples.png", "latent.png"):
        assert (out / png).stat().st_size > 1000
    arrays, meta = runs.load_checkpoint(out)
    assert meta["epoch"] == 3 and {"theta", "opt_m_sum", "opt_v_sum", "opt_t"} <= set(arrays)
    assert not [p for p in os.listdir(out) if p.startswith(".tinyvae-tmp-")]


def test_training_lowers_the_test_loss():
    data = load("digits")
    model = VAE(data.D, (64,), 4, rng=np.random.default_rng(0))
    trainer = Trainer(model, np.random.default_rng(0), batch_size=64)
    before = trainer.evaluate(data.x_test)
    for _ in range(15):
        trainer.train_epoch(data.x_train)
    after = trainer.evaluate(data.x_test)
    assert after.total < before.total - 5        # nats per example


def test_resume_is_bit_for_bit_identical_to_an_uninterrupted_run(tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    for flags in (["--model", "vae"], ["--model", "dae", "--noise", "gaussian"]):
        name = "-".join(flags[1::2])
        straight_dir, split_dir = straight / name, split / name
        assert train(["--epochs", "4", "--out", str(straight_dir), *SMALL, *flags]) == 0
        assert train(["--epochs", "2", "--out", str(split_dir), *SMALL, *flags]) == 0
        assert train(["--resume", str(split_dir), "--epochs", "4"]) == 0
        a, _ = runs.load_checkpoint(straight_dir)
        b, meta = runs.load_checkpoint(split_dir)
        assert meta["epoch"] == 4
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        rows_a, rows_b = runs.read_metrics(straight_dir), runs.read_metrics(split_dir)
        assert [r["epoch"] for r in rows_b] == [1, 2, 3, 4]
        assert [r["test_loss"] for r in rows_a] == [r["test_loss"] for r in rows_b]


@pytest.mark.slow
def test_resume_with_the_constrained_objective_restores_beta(tmp_path, capsys):
    straight, split = tmp_path / "a", tmp_path / "b"
    flags = [*SMALL, "--kl-target", "3", "--beta-lr", "0.05"]
    assert train(["--epochs", "4", "--out", str(straight), *flags]) == 0
    assert train(["--epochs", "2", "--out", str(split), *flags]) == 0
    assert train(["--resume", str(split), "--epochs", "4"]) == 0
    np.testing.assert_array_equal(runs.load_checkpoint(straight)[0]["theta"], runs.load_checkpoint(split)[0]["theta"])
    assert runs.read_metrics(straight)[-1]["kl_weight"] == runs.read_metrics(split)[-1]["kl_weight"]


@pytest.mark.slow
def test_resume_refuses_to_change_the_run(tmp_path, capsys):
    out = tmp_path / "r"
    assert train(["--epochs", "1", "--out", str(out), *SMALL]) == 0
    capsys.readouterr()
    assert train(["--resume", str(out), "--epochs", "2", "--lr", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "--lr" in err and "resum" in err and len(err.strip().splitlines()) == 1


def test_divergence_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real = VAE.forward
    calls = {"n": 0}
    steps_per_epoch = -(-1498 // 64)

    def poisoned(self, x, rng=None, eps=None):
        calls["n"] += 1
        recon, kl = real(self, x, rng=rng, eps=eps)
        if calls["n"] == 2 * (steps_per_epoch + 1) + 3:    # epoch 3, step 3 (each epoch ends with 1 test call)
            return float("nan"), kl
        return recon, kl

    monkeypatch.setattr(VAE, "forward", poisoned)
    code = train(["--epochs", "5", "--out", str(out), *SMALL])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "epoch 3, step 3" in err[0] and "smaller --lr" in err[0]
    arrays, meta = runs.load_checkpoint(out)
    assert meta["epoch"] == 2 and np.all(np.isfinite(arrays["theta"]))
    assert [r["epoch"] for r in runs.read_metrics(out)] == [1, 2]


def test_a_real_divergence_from_a_huge_learning_rate_is_caught(tmp_path, capsys):
    out = tmp_path / "run"
    code = train(["--epochs", "3", "--out", str(out), "--lr", "1e6", "--likelihood", "gaussian", *SMALL])
    err = capsys.readouterr().err
    assert code == 1 and "diverged" in err and "smaller --lr" in err
    if (out / "model.npz").exists():
        assert np.all(np.isfinite(runs.load_checkpoint(out)[0]["theta"]))


def test_a_nan_is_never_written_to_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="non-finite"):
        runs.save_checkpoint(tmp_path, {"theta": np.array([1.0, np.nan])}, {})
    assert not os.listdir(tmp_path)


def test_ctrl_c_keeps_the_last_finished_epoch_and_exits_130(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "tinyvae", "train", "--epochs", "100000", "--out", str(out),
                             *SMALL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(runs.read_metrics(out) if (out / "metrics.jsonl").exists() else []) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    arrays, meta = runs.load_checkpoint(out)
    finished = runs.read_metrics(out)
    assert meta["epoch"] == finished[-1]["epoch"] >= 2
    assert not [p for p in os.listdir(out) if p.startswith(".tinyvae-tmp-")]
    model, _, _ = load_run(out)                      # and it loads back
    assert np.array_equal(model.theta, arrays["theta"])


def test_threads_flag_limits_blas_during_training_and_restores_it_after(tmp_path, monkeypatch, capsys):
    from threadpoolctl import threadpool_info, threadpool_limits
    from tinyvae.app import training as train_module

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    seen = []
    real_epoch = train_module.Trainer.train_epoch

    def recording_epoch(self, x, progress=None):
        seen.append(blas_threads())
        return real_epoch(self, x, progress)

    monkeypatch.setattr(train_module.Trainer, "train_epoch", recording_epoch)
    with threadpool_limits(limits=2, user_api="blas"):          # two before (whatever the environment)
        before = blas_threads()
        assert train(["--epochs", "2", "--threads", "1", "--out", str(tmp_path / "run"), *SMALL]) == 0
        after = blas_threads()
    assert set(before) == set(after) == {2}
    assert seen and all(threads and set(threads) == {1} for threads in seen)


def test_refuses_to_overwrite_an_existing_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(["--epochs", "1", "--out", str(out), *SMALL]) == 0
    before = (out / "model.npz").read_bytes()
    capsys.readouterr()
    assert train(["--epochs", "1", "--out", str(out), *SMALL]) == 2
    assert "--resume" in capsys.readouterr().err
    assert (out / "model.npz").read_bytes() == before


@pytest.mark.slow
def test_every_model_trains_from_the_command_line(tmp_path, capsys):
    for model in choices.MODELS:
        for lik in choices.LIKELIHOODS:
            out = tmp_path / f"{model}-{lik}"
            assert train(["--model", model, "--likelihood", lik, "--epochs", "1", "--out", str(out), *SMALL]) == 0
            assert load_run(out)[1].model == model


@pytest.mark.slow
def test_an_autoencoder_scores_with_the_lectures_mse_unless_told_bce(tmp_path, capsys):
    x = np.random.default_rng(0).uniform(0, 1, (3, 64)).astype(np.float32)
    for flags, likelihood, loss in (([], "gaussian", mse), (["--likelihood", "bernoulli"], "bernoulli", bernoulli_nll)):
        out = tmp_path / f"ae-{likelihood}"
        assert train(["--model", "ae", *flags, "--epochs", "1", "--out", str(out), *SMALL]) == 0
        model = load_run(out)[0]
        assert model.likelihood == likelihood
        assert runs.read_metrics(out)[-1]["kl_weight"] == 0.0           # an AE has no KL term to weigh
        # the reconstruction loss is the squared error (L_AE) or the cross-entropy from logits
        out_layer = model.decoder.forward(model.encode(x))
        assert model.forward_loss(x).recon == pytest.approx(loss(out_layer, x)[0], rel=1e-6)
    assert train(["--epochs", "1", "--out", str(tmp_path / "vae"), *SMALL]) == 0
    assert load_run(tmp_path / "vae")[0].likelihood == "bernoulli"     # the VAE's default


def test_dynamic_binarization_shows_the_model_fresh_zero_one_pixels_every_epoch(tmp_path, capsys):
    # what the model is fed: 0/1 pixels only, drawn anew each epoch, with the pixels' intensities
    # as their means; and the command line's --binarize dynamic reaches the trainer
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 12)).astype(np.float32)
    model = VAE(12, (8,), 2, rng=np.random.default_rng(1))
    seen, forward = [], model.forward
    model.forward = lambda batch, *a, **k: (seen.append(np.array(batch)), forward(batch, *a, **k))[1]
    trainer = Trainer(model, np.random.default_rng(2), batch_size=64, binarize_dynamic=True)
    for _ in range(200):
        trainer.train_epoch(x)
    assert all(set(np.unique(b)) <= {0.0, 1.0} for b in seen)
    assert not np.array_equal(seen[0], seen[1])
    pixel_means = np.mean([b.mean(axis=0) for b in seen], axis=0)          # (12,) over 200 fresh draws
    np.testing.assert_allclose(pixel_means, x.mean(axis=0), atol=0.02)     # s.e. about 0.004
    out = tmp_path / "bin"
    assert train(["--binarize", "dynamic", "--epochs", "2", "--out", str(out), *SMALL]) == 0
    assert load_run(out)[1].binarize == "dynamic" and len(runs.read_metrics(out)) == 2
