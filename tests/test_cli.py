"""Bad input: every invalid flag, folder or file ends with one line on stderr and a non-zero exit.

No traceback, and nothing written to --out.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from tinyvae.app import cli

SMALL = ["--hidden", "16", "--latent", "2"]


def run_cli(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exc:                       # argparse exits for usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("flags, mentions", [
    (["--latent", "0"], "--latent"),
    (["--beta", "-1"], "--beta"),
    (["--batch-size", "0"], "--batch-size"),
    (["--epochs", "-3"], "--epochs"),
    (["--lr", "abc"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--model", "gan"], "--model"),
    (["--data", "cifar"], "--data"),
    (["--hidden", "0"], "--hidden"),
    (["--noise-level", "1.5"], "--noise-level"),
    (["--kl-target", "6", "--capacity", "5"], "--kl-target"),
    (["--model", "ae", "--kl-target", "6"], "--kl-target"),
    (["--data", "digits", "--data-dir", "/tmp"], "data-dir"),
    (["--threads", "0"], "--threads"),
])
def test_bad_training_flags_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, flags, mentions):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(["train", "--out", str(out), *flags], capsys)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyvae: error:") and mentions in lines[0], stderr
    assert "Traceback" not in stderr
    assert not out.exists()


def test_a_missing_data_directory_is_named(tmp_path, capsys):
    out, missing = tmp_path / "run", tmp_path / "no-such-dir"
    code, _, stderr = run_cli(["train", "--data", "mnist", "--data-dir", str(missing), "--out", str(out)], capsys)
    assert code == 1 and str(missing) in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_damaged_data_file_is_named(tmp_path, capsys):
    from tinyvae.data.idx import write_idx
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 5).astype(np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (5, 28, 28)).astype(np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 5).astype(np.uint8))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    out = tmp_path / "run"
    code, _, stderr = run_cli(["train", "--data", "mnist", "--data-dir", str(tmp_path), "--out", str(out)], capsys)
    assert code == 1 and "train-images-idx3-ubyte.gz" in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("command", [["train", "--resume"], ["eval"], ["sample"]])
def test_a_run_folder_that_does_not_exist_is_named(tmp_path, capsys, command):
    missing = tmp_path / "nope"
    code, _, stderr = run_cli([*command, str(missing)], capsys)
    assert code == 1 and "does not exist" in stderr and len(stderr.strip().splitlines()) == 1


@pytest.fixture
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae"
    assert cli.main(["train", "--epochs", "2", "--out", str(out), *SMALL]) == 0
    return out


@pytest.mark.parametrize("damage", [b"", b"garbage", b"PK\x03\x04 truncated zip"])
@pytest.mark.parametrize("command", [["eval"], ["sample"], ["train", "--epochs", "3", "--resume"]])
def test_a_corrupt_checkpoint_is_named(trained_run, capsys, damage, command):
    (trained_run / "model.npz").write_bytes(damage)
    capsys.readouterr()
    code, _, stderr = run_cli([*command, str(trained_run)], capsys)
    assert code == 1 and "model.npz" in stderr and "damaged" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1


def test_a_corrupt_config_is_named(trained_run, capsys):
    (trained_run / "config.json").write_text("{ not json")
    capsys.readouterr()
    code, _, stderr = run_cli(["eval", str(trained_run)], capsys)
    assert code == 1 and "config.json" in stderr and len(stderr.strip().splitlines()) == 1


def test_eval_writes_the_test_metrics(trained_run, capsys):
    code, stdout, _ = run_cli(["eval", str(trained_run), "--iw-samples", "50"], capsys)
    assert code == 0
    result = json.loads((trained_run / "eval.json").read_text())
    for key in ("neg_elbo", "recon", "kl", "iw_nll", "active_units", "kl_per_dim"):
        assert key in result and key in stdout
    assert result["iw_nll"] <= result["neg_elbo"]              # log p(x) >= IW bound >= ELBO
    assert result["recon"] + result["kl"] == pytest.approx(result["neg_elbo"])
    assert len(result["kl_per_dim"]) == 2 and sum(result["kl_per_dim"]) == pytest.approx(result["kl"])
    assert 0 <= result["active_units"] <= 2


@pytest.mark.slow
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_eval_prints_an_autoencoders_loss_in_its_own_unit(tmp_path, likelihood):
    # the real command, as a user runs it: an AE on L_AE scores a squared error, not nats
    from tinyvae.app.runs import load_data, load_run

    out = tmp_path / "ae"
    tinyvae = [sys.executable, "-m", "tinyvae"]
    subprocess.run([*tinyvae, "train", "--model", "ae", "--likelihood", likelihood, "--epochs", "2", *SMALL,
                    "--out", str(out)], check=True, capture_output=True)
    proc = subprocess.run([*tinyvae, "eval", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    recon = [line.split(":", 1)[1] for line in proc.stdout.splitlines() if line.strip().startswith("recon:")]
    assert len(recon) == 1, proc.stdout
    printed, unit = float(recon[0].split()[0]), recon[0][recon[0].index("(") + 1:-1]   # "  13.4833  (unit)"
    assert json.loads((out / "eval.json").read_text())["units"] == {"recon": unit}
    # the number is what its unit says, recomputed here from the checkpoint without evaluate.py
    model, cfg, meta = load_run(str(out))
    x = np.asarray(load_data(cfg, str(out), D=meta["D"]).x_test, np.float64)
    x_hat = model.astype(np.float64).reconstruct(x)                                 # (N, D)
    if likelihood == "gaussian":
        assert unit.startswith("squared error") and "nats" not in proc.stdout      # nor on a line of its own
        expected = np.mean(np.sum((x_hat - x) ** 2, axis=1))
    else:
        assert unit.startswith("nats")
        expected = np.mean(-np.sum(x * np.log(x_hat) + (1 - x) * np.log1p(-x_hat), axis=1))
    assert printed == pytest.approx(expected, abs=1e-4)                             # printed to 4 decimals


def test_eval_refuses_zero_importance_samples(trained_run, capsys):
    code, _, stderr = run_cli(["eval", str(trained_run), "--iw-samples", "0"], capsys)
    assert code == 2 and "--iw-samples" in stderr


def test_sample_writes_a_png_grid(trained_run, capsys):
    code, stdout, _ = run_cli(["sample", str(trained_run), "-n", "16"], capsys)
    png = trained_run / "samples-n16-seed0.png"
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sample_needs_a_vae(tmp_path, capsys):
    out = tmp_path / "ae"
    assert cli.main(["train", "--model", "ae", "--epochs", "1", "--out", str(out), *SMALL]) == 0
    capsys.readouterr()
    code, _, stderr = run_cli(["sample", str(out)], capsys)
    assert code == 2 and "no prior" in stderr


def test_the_installed_command_reports_usage_errors_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyvae", "train", "--latent", "0", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "tinyvae", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "train" in proc.stdout and "gradcheck" in proc.stdout


@pytest.mark.slow
def test_plot_draws_every_figure_of_a_run(trained_run, capsys):
    code, stdout, _ = run_cli(["plot", str(trained_run)], capsys)
    written = [line.split(" ", 1)[1] for line in stdout.splitlines() if line.startswith("wrote ")]
    assert code == 0 and len(written) >= 4
    for path in written:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_eval_on_shapes_reports_disentanglement_on_every_image_with_per_factor_gaps(tmp_path, capsys):
    out = tmp_path / "shapes"
    assert cli.main(["train", "--data", "shapes", "--epochs", "1", "--hidden", "32", "--latent", "4",
                     "--out", str(out)]) == 0
    code, stdout, _ = run_cli(["eval", str(out), "--iw-samples", "2"], capsys)
    result = json.loads((out / "eval.json").read_text())
    assert code == 0 and "mig" in stdout and "factorvae" in stdout
    assert 0 <= result["mig"] <= 1 and 0 <= result["factorvae"] <= 1
    assert result["factor_names"] == ["shape", "scale", "rotation", "x", "y"]
    assert result["mig_examples"] == 6912                        # MIG from all images, not the test split
    assert len(result["mig_gap"]) == 5 and all(0 <= g <= 1 for g in result["mig_gap"])
    assert np.isclose(np.mean(result["mig_gap"]), result["mig"])  # MIG is the mean gap
    assert all(j in range(4) for j in result["mig_best_latent"])


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    # `tinyvae train | head -1`: once the reader has gone, printing fails with EPIPE
    proc = subprocess.Popen([sys.executable, "-m", "tinyvae", "train", "--epochs", "300", "--hidden", "8",
                             "--latent", "2", "--out", str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err.decode(), err.decode()
    assert proc.returncode == 1
