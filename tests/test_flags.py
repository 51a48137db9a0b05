"""Every flag changes the result or is refused; every number a flag takes is range-checked, and the
error names the flag; the advice after a divergence names the flag that caused it; and every command
tinyvae suggests works when pasted, even for a folder whose name starts with a dash.

Each test runs the real ``tinyvae`` command in a subprocess (tests/subprocess_cli.py), and a
suggested command is run through the shell as a user would paste it.
"""
import json
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

from subprocess_cli import ENV, TINY, tinyvae, run_dir, template  # noqa: F401 (fixtures)
from test_fault_classes import _idx_folder
from tinyvae.base.errors import command
from tinyvae.objectives import TCVAE, FixedBeta


def paste(suggested, cwd, *extra):
    """Run a command tinyvae suggested through the shell, as pasted (``tinyvae`` is this Python's)."""
    assert suggested.startswith(("tinyvae ", "rm ")), suggested
    line = suggested.replace("tinyvae", f"{shlex.quote(sys.executable)} -m tinyvae", 1) if suggested.startswith(
        "tinyvae") else suggested
    return subprocess.run(line + "".join(" " + shlex.quote(str(a)) for a in extra), shell=True, cwd=cwd,
                          capture_output=True, text=True, env=ENV, timeout=120)


def suggestion(text, after):
    """The command in ``text`` after ``after`` (to the end of its line)."""
    return text.split(after, 1)[1].strip().splitlines()[0]


# --- a flag that would change nothing is refused --------------------------------------------------
def test_the_total_correlation_of_one_latent_is_zero_so_tc_weight_changes_nothing():
    # the premise of the refusal below, on the objective itself: with Z = 1 the MWS estimate of the TC,
    # log q(z) - sum_j log q(z_j), subtracts a term from itself, so beta-TCVAE's extra term and its
    # gradients are exactly 0 and the step is the plain VAE's (recon + KL, weight 1)
    rng = np.random.default_rng(0)
    mu, logvar = rng.standard_normal((2, 64, 1))
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal((64, 1))
    tc, dz, dmu, dlogvar = TCVAE(6.0, dataset_size=1000).latent_term(mu, logvar, z)
    assert tc == 0 and not dz.any() and not dmu.any() and not dlogvar.any()
    assert TCVAE(6.0, 1000).loss(3.0, 2.0, 0) == FixedBeta(1.0).loss(3.0, 2.0, 0)
    tc2, *_ = TCVAE(6.0, dataset_size=1000).latent_term(*(np.hstack([a, a[::-1]]) for a in (mu, logvar, z)))
    assert tc2 != 0                                         # two latents: the weight matters


@pytest.mark.parametrize("flags, mentions", [
    (["--latent", "1", "--tc-weight", "6"], ["--tc-weight", "--latent 1"]),
    (["--beta", "0", "--warmup-epochs", "3"], ["--warmup-epochs", "--beta 0"]),
    (["--capacity", "0", "--capacity-steps", "5"], ["--capacity-steps", "--capacity 0"]),
])
def test_a_flag_that_would_change_nothing_is_refused_naming_it_and_the_flag_that_makes_it_so(tmp_path, flags,
                                                                                             mentions):
    result = tinyvae("train", "--hidden", "16", *flags, "--epochs", "1", "--out", tmp_path / "run")
    assert result.fails_in_one_line(*mentions, code=2), result.err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("flags", [["--latent", "2", "--tc-weight", "6"], ["--beta", "0.5", "--warmup-epochs", "3"],
                                   ["--capacity", "2", "--capacity-steps", "5"], ["--latent", "1", "--beta", "4"]])
def test_the_same_flags_where_they_change_the_run_are_taken(tmp_path, flags):
    assert tinyvae("train", *TINY[:2], *flags, "--epochs", "1", "--out", tmp_path / "run").code == 0


# --- the advice after a divergence names its cause ------------------------------------------------
@pytest.mark.slow
def test_a_divergence_from_an_absurd_tc_weight_advises_a_smaller_tc_weight_and_the_advice_trains(tmp_path):
    result = tinyvae("train", *TINY, "--tc-weight", "1e30", "--epochs", "2", "--out", tmp_path / "run")
    assert result.fails_in_one_line("diverged", "smaller --tc-weight", code=1), result.err
    advice = suggestion(result.err, "in a new run: ")
    assert "--lr" not in advice and "--tc-weight 6.0" in advice
    followed = paste(advice, tmp_path)
    assert followed.returncode == 0, (advice, followed.stderr)


# --- suggested commands work when pasted ----------------------------------------------------------
def test_command_writes_a_path_that_starts_with_a_dash_so_that_it_is_not_a_flag():
    assert command("tinyvae", "explore", "-x") == "tinyvae explore ./-x"
    assert command("tinyvae", "train", "--resume", "-x", "--epochs", 3) == "tinyvae train --resume ./-x --epochs 3"
    assert command("tinyvae", "train", "--out", "--x-2") == "tinyvae train --out ./--x-2"
    assert command("rm", "-x/config.json") == "rm ./-x/config.json"
    assert command("tinyvae", "sample", "/abs/-x", "-n", 4) == "tinyvae sample /abs/-x -n 4"
    assert command("tinyvae", "eval", "my run") == "tinyvae eval 'my run'"


@pytest.mark.slow
def test_every_command_suggested_for_a_folder_named_with_a_dash_works_when_pasted(tmp_path):
    trained = tinyvae("train", *TINY, "--epochs", "1", "--out=-x", cwd=tmp_path)
    assert trained.code == 0, trained.err
    explore = suggestion(trained.out, "explore its latent space: ")
    assert paste(explore, tmp_path).returncode == 0, explore
    again = tinyvae("train", *TINY, "--epochs", "1", "--out=-x", cwd=tmp_path)       # the folder holds a run
    assert again.fails_in_one_line("already holds a run", code=2), again.err
    other = re.search(r"\(such as (\S+)\)", again.err)[1]
    assert other == "./-x-2"
    assert tinyvae("train", *TINY, "--epochs", "1", "--out", other, cwd=tmp_path).code == 0
    resumed = paste(suggestion(again.err, "continue this run with: "), tmp_path, "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr
    (tmp_path / "-x" / "config.json").write_text("{}")                              # a damaged copy: rm it
    refused = tinyvae("eval", "./-x", "--iw-samples", "2", cwd=tmp_path)
    removed = paste(suggestion(refused.err, "writes it again: "), tmp_path)
    assert removed.returncode == 0 and not (tmp_path / "-x" / "config.json").exists(), removed.stderr
    missing = tinyvae("eval", "./-y", cwd=tmp_path)                                # no run there: train one
    assert paste(suggestion(missing.err, "train one with: "), tmp_path, *TINY, "--epochs", "1").returncode == 0
    assert (tmp_path / "-y" / "model.npz").exists()


# --- a relative --data-dir is kept absolute -------------------------------------------------------
@pytest.mark.slow
def test_a_relative_data_dir_is_stored_absolute_so_eval_from_another_folder_finds_the_data(tmp_path):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    _idx_folder(here / "data")
    elsewhere.mkdir()
    trained = tinyvae("train", "--data", "mnist", "--data-dir", "data", *TINY, "--epochs", "1", "--out", "run",
                      cwd=here)
    assert trained.code == 0, trained.err
    config = json.loads((here / "run" / "config.json").read_text())
    assert config["data_dir"] == str(here / "data")
    assert tinyvae("eval", here / "run", "--iw-samples", "2", cwd=elsewhere).code == 0


# --- every number a flag takes is checked, and the error names the flag ----------------------------
@pytest.mark.parametrize("argv, flag", [
    (["train", "--threads", "0"], "--threads"),
    (["train", "--threads", "100000000000000000000"], "--threads"),
    (["train", "--epochs", "10000000000000000000000"], "--epochs"),
    (["train", "--warmup-epochs", "-1"], "--warmup-epochs"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--hidden", "16", "0"], "--hidden"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--data", "mnist", "--data-dir", ""], "--data-dir"),
    (["train", "--out", ""], "--out"),
    (["eval", "RUN", "--iw-samples", "0"], "--iw-samples"),
    (["eval", "RUN", "--seed", "4294967296"], "--seed"),
    (["eval", "RUN", "--data-dir", ""], "--data-dir"),
    (["sample", "RUN", "-n", "0"], "-n"),
    (["sample", "RUN", "--out", ""], "--out"),
    (["plot", "RUN", "--out", ""], "--out"),
    (["explore", "RUN", "--axes", "0", "5"], "--axes"),
    (["explore", "RUN", "--axes", "0", "0"], "--axes"),
    (["exercises", "check", "--time-limit", "nan"], "--time-limit"),
    (["exercises", "check", "--time-limit", "inf"], "--time-limit"),
    (["exercises", "check", "--time-limit", "0"], "--time-limit"),
    (["gradcheck", "--seed", "x"], "--seed"),
])
def test_every_number_or_name_a_flag_takes_is_checked_and_the_error_names_the_flag(run_dir, tmp_path, argv, flag):
    argv = [str(run_dir) if a == "RUN" else a for a in argv]
    if argv[0] == "train":                               # a tiny run unless the case gives the flag
        for name, value in (("--hidden", "16"), ("--latent", "2"), ("--epochs", "1"), ("--out", tmp_path / "new")):
            argv += [name, value] if name not in argv else []
    result = tinyvae(*argv)
    assert result.fails_in_one_line(flag, code=2), result.err
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_eval_refuses_iw_samples_for_an_autoencoder_which_has_no_posterior(tmp_path):
    assert tinyvae("train", "--model", "ae", *TINY, "--epochs", "1", "--out", tmp_path / "ae").code == 0
    result = tinyvae("eval", tmp_path / "ae", "--iw-samples", "5")
    assert result.fails_in_one_line("--iw-samples", "AE", code=2), result.err
    assert tinyvae("eval", tmp_path / "ae").code == 0
