"""Every lesson runs with --quick, writes its figures, and shows the number it claims.

Each lesson runs once, as a subprocess (as a student runs it), into a temporary folder;
its key numbers come back through the ``summary.json`` it writes there, and the printed
lines are checked against them.  All nine quick runs take about 50 seconds together on 2 cores (lesson 02 about 15).
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tinyvae.studies import disentanglement
from tinyvae.app import reference
from tinyvae.data import shapes
from tinyvae.train import Trainer

LESSONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lessons")
LESSONS = sorted(f[:-3] for f in os.listdir(LESSONS_DIR) if re.match(r"\d\d_.*\.py$", f))
_runs = {}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """run(name, *args) -> (stdout, summary dict, out folder), running each lesson (with those
    extra arguments, e.g. "--seed", "3") only once."""
    def _run(name, *args):
        if (name, args) not in _runs:
            out = tmp_path_factory.mktemp(name)
            env = dict(os.environ, MPLBACKEND="Agg")              # each lesson takes one BLAS thread
            proc = subprocess.run([sys.executable, os.path.join(LESSONS_DIR, f"{name}.py"), "--quick",
                                   "--out", str(out), *args], capture_output=True, text=True, env=env,
                                  cwd=LESSONS_DIR, timeout=300)
            assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            with open(out / "summary.json") as f:
                summary = json.load(f)
            _runs[(name, args)] = (proc.stdout, summary, out)
        return _runs[(name, args)]
    return _run


def test_there_are_lessons_00_to_08():
    assert [name[:2] for name in LESSONS] == [f"{i:02d}" for i in range(9)]


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_quick_exits_zero_and_writes_its_figures(run, name):
    stdout, summary, out = run(name)
    assert summary["quick"] is True and summary["figures"], summary
    for figure in summary["figures"]:
        with open(out / figure, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", figure          # a real PNG
    assert "--- 1. " in stdout and "key numbers: " in stdout


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_opens_with_its_lecture_section_how_to_run_and_how_long(name):
    with open(os.path.join(LESSONS_DIR, f"{name}.py")) as f:
        text = f.read()
    doc = text.split('"""')[1]
    assert doc.startswith(f"Lesson {name[:2]}:")
    for part in ("Lecture:", "Run:", f"python lessons/{name}.py", "Takes:", "--quick"):
        assert part in doc, part
    assert "# %%" in text                                          # opens as a notebook


def test_gradient_check_lesson_passes_every_gradient_and_catches_the_planted_bug(run):
    numbers = run("00_gradient_check")[1]["numbers"]
    assert numbers["max_rel_error"] < 1e-6
    assert numbers["planted_bug_error"] > 1e-3
    assert numbers["best_error_float64"] < 1e-9 < numbers["best_error_float32"]


def test_autoencoder_lesson_reconstructs_better_with_a_wider_bottleneck(run):
    numbers = run("01_autoencoder")[1]["numbers"]
    assert numbers["test_sq_error_Z8"] < numbers["test_sq_error_Z2"]


def test_autoencoder_lesson_train_test_gap_grows_with_the_hidden_width(run):
    numbers = run("01_autoencoder")[1]["numbers"]
    # --quick, tuning seeds 0 and 10-19: the gap 0.04-0.07 at H = 16, 0.11-0.16 at H = 512; the
    # smallest difference seen was 0.047, and the test error of 299 digits moves by about 0.01
    # between seeds, so 0.03 leaves room for a seed's noise and none for the direction to flip
    assert numbers["train_test_gap_hidden512"] > numbers["train_test_gap_hidden16"] + 0.03


def test_autoencoder_lesson_overfits_on_100_digits_test_error_turns_up_while_training_error_falls(run):
    stdout, summary, _ = run("01_autoencoder")
    n = summary["numbers"]
    # --quick (300 epochs on 100 digits), tuning seeds 0 and 10-13: the lowest test error at epochs
    # 93-137, then a rise of 0.20-0.31, the training error ending at 0.11-0.15; the lowest test error
    # itself moves by 0.07 between seeds (1.53-1.60), so a rise of 0.1 is more than a seed's noise
    assert n["overfit_best_epoch"] < 250                             # the turn is inside the run, not at its end
    assert n["overfit_test_error_rise"] > 0.1
    assert n["overfit_train_error_end"] < 0.5 * n["overfit_lowest_test_error"]   # memorised: train far below test
    # with all 1,498 digits and the same updates the test error is still falling (rise 0.000 on those seeds)
    assert n["full_set_test_error_rise"] < 0.05
    m = re.search(r"lowest at epoch (\d+) \(([\d.]+)\) and then rises by ([\d.]+)", stdout)
    assert m, "the lesson must print where the test error turns up and by how much"
    assert int(m.group(1)) == n["overfit_best_epoch"]
    assert float(m.group(3)) == pytest.approx(n["overfit_test_error_rise"], abs=5e-4)


def _printed_hole_scores(stdout):
    m = re.search(r"hole score: AE ([0-9.]+)\s+VAE ([0-9.]+)", stdout)
    assert m, "the lesson must print 'hole score: AE <s>  VAE <s>'"
    return float(m.group(1)), float(m.group(2))


@pytest.mark.parametrize("name", ["02_latent_holes", "07_vae"])
def test_hole_score_of_the_ae_is_clearly_above_the_vaes(run, name):
    stdout, summary, _ = run(name)
    ae, vae = _printed_hole_scores(stdout)
    assert ae == pytest.approx(summary["numbers"]["hole_score_ae"], abs=1e-3)
    assert vae == pytest.approx(summary["numbers"]["hole_score_vae"], abs=1e-3)
    assert ae > 2 * vae, (ae, vae)


@pytest.mark.parametrize("name, pages", [("02_latent_holes", ["explorer_ae.html", "explorer_vae.html"]),
                                         ("07_vae", ["explorer.html"])])
def test_the_holes_and_vae_lessons_end_with_an_explorer_page_to_open(run, name, pages):
    stdout, _, out = run(name)
    for page in pages:
        assert (out / page).stat().st_size > 0 and str(out / page) in stdout
    assert "open" in stdout.split("explore")[-1]


# --- lesson 02: the holes; decodes judged by precision against the real digits, and by a classifier ---
# The --quick margins below come from --quick runs on seeds 0 and 10-13 (the smallest difference
# seen there is in each comment), against the standard errors of shares of --quick's 5,000 draws;
# the default run's goals are issue 32's, checked by the slow test.
HOLES_KEYS = ("precision_in_holes_ae", "precision_outside_holes_ae", "precision_samples_ae", "precision_samples_vae",
              "precision_samples_ae_z8", "precision_samples_vae_z8", "recall_samples_ae", "recall_samples_vae",
              "classifier_test_accuracy", "nn_distance_test_digits", "nn_distance_in_holes_ae",
              "nn_distance_outside_holes_ae", "nn_distance_samples_ae", "nn_distance_samples_vae")


def _sampling_row(stdout, model, Z):
    """(in a hole, precision, recall, valid, median distance) from the lesson's printed table of samples."""
    row = re.search(rf"^\s+{model}, Z = {Z}\s+\S.*?\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$",
                    stdout, re.M)
    assert row, f"the lesson must print the '{model}, Z = {Z}' row of its table of samples"
    return tuple(float(v) for v in row.groups())


def test_holes_lesson_records_every_precision_key_and_prints_the_numbers_it_records(run):
    stdout, summary, _ = run("02_latent_holes")
    numbers = summary["numbers"]
    assert set(HOLES_KEYS) <= set(numbers), set(HOLES_KEYS) - set(numbers)
    # 0.957-0.970 on the tuning seeds; 299 test digits give a standard error of 0.011
    assert numbers["classifier_test_accuracy"] > 0.93
    assert f"test accuracy {numbers['classifier_test_accuracy']:.3f}" in stdout
    row = re.search(r"^\s+in a hole\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", stdout, re.M)
    assert row, "the lesson must print the 'in a hole' row of its table of judged decodes"
    assert float(row.group(2)) == pytest.approx(numbers["precision_in_holes_ae"], abs=5e-4)
    assert float(row.group(4)) == pytest.approx(numbers["nn_distance_in_holes_ae"], abs=5e-3)
    for model, suffix in (("AE", "ae"), ("VAE", "vae")):
        _, precision, recall, _, _ = _sampling_row(stdout, model, 2)
        assert precision == pytest.approx(numbers[f"precision_samples_{suffix}"], abs=5e-4)
        assert recall == pytest.approx(numbers[f"recall_samples_{suffix}"], abs=5e-4)
        assert _sampling_row(stdout, model, 8)[1] == pytest.approx(numbers[f"precision_samples_{suffix}_z8"], abs=5e-4)
    assert {"judged_plane.png", "samples_judged.png", "samples_judged_z8.png", "overconfident.png"} <= set(
        summary["figures"])


def test_holes_lesson_decodes_in_holes_are_less_often_inside_the_data_manifold(run):
    numbers = run("02_latent_holes")[1]["numbers"]
    # smallest gap seen 0.11; about 450 decodes in holes give their share a standard error of 0.02
    assert numbers["precision_outside_holes_ae"] > numbers["precision_in_holes_ae"] + 0.05
    # median pixel distance of the clipped decodes, in a hole against outside: smallest gap seen 0.14
    assert numbers["nn_distance_in_holes_ae"] > numbers["nn_distance_outside_holes_ae"] + 0.05


def test_holes_lesson_paths_between_two_digits_cross_holes_more_often_than_within_one(run):
    numbers = run("02_latent_holes")[1]["numbers"]
    # smallest gap seen 0.14; the difference of two shares of 400 paths has a standard error of about 0.025
    assert numbers["path_crosses_hole_different_digits"] > numbers["path_crosses_hole_same_digit"] + 0.05


def test_holes_lesson_the_vaes_samples_are_more_often_inside_the_data_manifold_than_the_aes(run):
    numbers = run("02_latent_holes")[1]["numbers"]
    # Z = 2: 0.008-0.045 apart, where the difference of two shares of 5,000 draws near 0.97 and 0.99
    # has a standard error of about 0.0025, so only the direction is asserted
    assert numbers["precision_samples_vae"] > numbers["precision_samples_ae"]
    # Z = 8: hole scores 0.35-0.52 against 0.014-0.025; precision 0.19-0.22 apart
    assert numbers["hole_score_ae_z8"] > 5 * numbers["hole_score_vae_z8"]
    assert numbers["precision_samples_vae_z8"] > numbers["precision_samples_ae_z8"] + 0.1


def test_holes_lesson_classifier_calls_most_decodes_outside_the_data_manifold_valid(run):
    numbers = run("02_latent_holes")[1]["numbers"]
    # the classifier calls 70-87% of the decodes outside the data manifold valid (p >= 0.9), and the
    # farthest decode it gives p >= 0.99 lies 1.85-2.35 times as far from every training digit as a
    # median real test digit does
    assert numbers["valid_outside_manifold_ae"] > 0.5
    assert numbers["blob_p"] >= 0.99 and numbers["blob_distance"] > 1.5 * numbers["nn_distance_test_digits"]


@pytest.mark.slow
def test_holes_lesson_default_run_decodes_in_holes_and_the_aes_samples_are_less_often_realistic(tmp_path):
    # what held on the tuning seed and on every reporting seed (0, 20-24, README's lesson-02 row),
    # with room for another CPU's rounding: precision in holes at least 0.1 below outside them
    # (0.16-0.34 measured); the VAE's samples more often inside the data manifold at Z = 2 (by
    # 0.022-0.067) and by at least 0.15 at Z = 8 (0.195-0.239).  Issue 32's own goals (0.25, 0.05,
    # 0.2) were missed on some reporting seeds, and README says so.  Each share stands on 20,000
    # draws (about 3,700 in holes): standard errors below 0.01
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, os.path.join(LESSONS_DIR, "02_latent_holes.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=LESSONS_DIR, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(tmp_path / "summary.json") as f:
        numbers = json.load(f)["numbers"]
    assert numbers["precision_outside_holes_ae"] - numbers["precision_in_holes_ae"] >= 0.1
    assert numbers["precision_samples_vae"] - numbers["precision_samples_ae"] > 0
    assert numbers["precision_samples_vae_z8"] - numbers["precision_samples_ae_z8"] >= 0.15


def test_dae_beats_the_ae_on_corrupted_test_inputs(run):
    stdout, summary, _ = run("03_denoising")
    numbers = summary["numbers"]
    for kind in ("mask", "gaussian"):
        assert numbers[f"dae_{kind}"] < numbers[f"ae_{kind}"], kind
        assert f"corrupted test error ({kind}" in stdout


def test_overcomplete_ae_copies_the_masking_noise_that_the_dae_removes(run):
    stdout, summary, _ = run("03_denoising")
    numbers = summary["numbers"]
    # ||f(g(x~)) - x||^2 / ||x~ - x||^2 on --quick runs, tuning seeds 0 and 10-19: the AE
    # (Z = 128 > d = 64) 0.68-0.71, the DAE 0.33-0.35, a ratio of 2.0 or more every time
    assert numbers["noise_copied_overcomplete_ae"] > 1.5 * numbers["noise_copied_dae"]
    # Gaussian noise along the digits' 20 main directions is copied, along their 14 least used it
    # is not: 0.94-0.98 against 0.26-0.29
    assert numbers["copied_along_most_variance"] > 2 * numbers["copied_along_least_variance"]
    assert "L_DAE" in stdout and re.search(r"DAE \(mask\)\s+training loss [\d.]+ per image \(L_DAE", stdout)


def test_dae_trained_on_hidden_halves_restores_a_hidden_half_from_the_other_where_the_ae_cannot(run):
    stdout, summary, _ = run("03_denoising")
    n = summary["numbers"]
    # squared error on the hidden bottom half, per test digit; --quick, tuning seeds 0 and 10-13:
    # the training digits' average half 2.47 (it uses nothing of the visible half), the DAE trained
    # on hidden halves 1.46-1.49 (a ratio of 0.59-0.60), the AE 5.28-5.44
    assert n["hidden_half_error_dae_half"] < 0.8 * n["hidden_half_error_average"]   # reads the other half
    assert n["hidden_half_error_ae"] > n["hidden_half_error_average"]               # the AE does not
    assert n["hidden_half_error_ae"] > 2 * n["hidden_half_error_dae_half"]
    row = re.search(r"DAE, Z = 128 \(trained on hidden halves\)\s+([\d.]+)$", stdout, re.M)
    assert row and float(row.group(1)) == pytest.approx(n["hidden_half_error_dae_half"], abs=5e-4)


def test_kl_lesson_monte_carlo_matches_the_closed_form_and_kl_is_not_symmetric(run):
    numbers = run("04_kl_divergence")[1]["numbers"]
    assert numbers["max_abs_zscore"] < 4                                # the closed form, by Monte Carlo
    assert abs(numbers["kl_q_p"] - numbers["kl_p_q"]) > 0.5          # not symmetric


def test_elbo_lesson_shows_log_px_equals_elbo_plus_kl_to_1e3_nats(run):
    stdout, summary, _ = run("05_elbo")
    numbers = summary["numbers"]
    assert numbers["identity_error"] < 1e-3
    assert numbers["elbo_below_log_px"] == 1
    assert numbers["elbo_encoder"] < numbers["elbo_optimised"] <= numbers["log_px"]
    assert numbers["gap_optimised"] < numbers["gap_encoder"]         # the gap closes as q improves
    # the printed table: log p(x), ELBO, KL, ELBO + KL, |difference| per digit
    rows = re.findall(r"^\s+\d+\s+(-[\d.]+)\s+(-[\d.]+)\s+([\d.]+)\s+(-[\d.]+)\s+([\d.e+-]+)$", stdout, re.M)
    assert rows
    for log_px, elbo, kl, total, diff in rows:
        assert float(elbo) <= float(log_px)
        assert abs(float(log_px) - float(elbo) - float(kl)) < 1e-3 + 2e-4   # printed to 4 decimals


def test_importance_sampling_with_q_beats_sampling_the_prior_at_equal_budgets(run):
    numbers = run("05_elbo")[1]["numbers"]
    # relative SD of p_hat(x) at K = 100, median over the --quick run's 6 digits; tuning seeds 0 and
    # 10-19: naive 0.25-0.41, importance 0.04-0.10, a ratio of 3.3 or more every time
    assert numbers["log_px_rel_sd_naive"] > 2 * numbers["log_px_rel_sd_importance"]


def test_elbo_lesson_the_largest_gap_is_many_times_the_median_and_the_iw_bound_with_the_encoders_q_narrows_it(run):
    numbers = run("05_elbo")[1]["numbers"]
    # --quick, tuning seeds 0 and 10-19: largest 0.93-4.2 nats, median 0.11-0.19, ratio 7.3 or more
    assert numbers["largest_gap_nats"] > 5 * numbers["median_gap_nats"]
    # the importance-weighted bound with the encoder's q at the largest K is tighter than its ELBO
    assert numbers["worst_gap_iw_largest_k"] < 0.5 * numbers["largest_gap_nats"]
    # the grid at h and at 2h: at most 1.2e-3 apart on the tuning seeds; the midpoint rule over a
    # ReLU decoder (kinks) errs as h^2, so 5e-3 flags a grid some 2x too coarse for these posteriors
    assert numbers["grid_step_difference"] < 5e-3


def test_elbo_lesson_splits_the_largest_gap_into_amortization_and_approximation(run):
    stdout, summary, _ = run("05_elbo")
    n = summary["numbers"]
    amortization, approximation = n["amortization_gap_nats"], n["approximation_gap_nats"]
    # the two parts add up to the gap of step 5, which was computed independently (the ELBO on the z
    # grid there, by quadrature over eps here): they agree to two_elbos_differ, about 1e-4 nats, and
    # both quadratures have midpoint errors below 1e-3 (the identity test's tolerance)
    assert abs(amortization + approximation - n["largest_gap_nats"]) < 1e-3
    # approximation = KL(q* || p(z|x)) >= 0 and amortization = ELBO(q*) - ELBO(q_phi) >= 0 (q* is the
    # best of several Adam runs, one started at the encoder's q); no Monte Carlo enters either number,
    # only quadrature, so 1e-3 nats is their error
    assert approximation > -1e-3 and amortization > -1e-3
    # q*'s ELBO is the optimised one, and both parts are printed as recorded
    assert n["worst_gap_optimised_q"] == pytest.approx(approximation, abs=1e-3)
    line = re.search(r"^\s+([\d.]+) =\s+([\d.]+) \(approximation\)\s+\+\s+([\d.]+) \(amortization\)$", stdout, re.M)
    assert line, stdout[-2000:]
    assert float(line[2]) == pytest.approx(approximation, abs=6e-4)
    assert float(line[3]) == pytest.approx(amortization, abs=6e-4)
    larger = "amortization" if amortization > approximation else "approximation"
    assert f"the {larger} gap dominates" in stdout


def test_elbo_lesson_training_on_the_iw_bound_raises_log_px_and_the_encoders_gradient_snr_falls_with_k(run):
    stdout, summary, _ = run("05_elbo")
    n = summary["numbers"]
    # K = 1 through IWAE(1) is step 1's VAE to the bit (the same draws and the same gradient)
    assert n["iwae_k1_is_the_vae"] == 1
    assert "K = 1 through IWAE(1) gives step 1's VAE parameter for parameter: True" in stdout
    # --quick, seeds 0 and 1 at 10 epochs: K = 5 gains 0.19 and 0.33 nats of log p(x) (IW, K = 100) and
    # its ELBO is 0.09-0.15 lower; the sign on both seeds is the claim, not the size
    assert n["iwae_log_px_gain_min"] > 0 and n["iwae_log_px_k"] > n["iwae_log_px_k1"]
    assert n["iwae_elbo_k"] < n["iwae_elbo_k1"]
    # the ELBO <= L_K <= log p(x) ordering each row of the table prints: ELBO below the IW estimate
    rows = re.findall(r"^\s+\d+\s+[15]\s+(-[\d.]+)\s+(-[\d.]+)\s+(-[\d.]+)\s+[\d.]+\s+[\d.]+\s+\d$", stdout, re.M)
    assert len(rows) == 2 * n["iwae_seeds"]
    assert all(float(elbo) < float(log_px) for _, log_px, elbo in rows)
    # the median parameter's SNR from K = 1 to 16 (60 draws per K): Rainforth et al.'s rates give a 4-fold
    # fall and rise; seed 0 measures 2.2 and 3.3.  The decoder's (1.6 to 5.3) is far above the 0.10 that
    # 60 draws resolve (sqrt(2 / (pi 60)), a zero-mean gradient's score); the encoder's at K = 16 (0.13)
    # is near it, so only a clear fall is asserted for it; the default run (200 draws) is the slow test's
    assert n["snr_kmax"] == 16
    assert n["snr_decoder_rise"] > 2 and n["snr_encoder_fall"] > 1.5


def test_reparameterization_has_lower_variance_than_reinforce(run):
    numbers = run("06_reparameterization")[1]["numbers"]
    assert numbers["fd_error"] < 1e-6                                # matches central differences
    assert numbers["var_reparam"] < numbers["var_reinforce"]
    assert numbers["var_reparam"] < numbers["var_reinforce_baseline"]
    # the three estimators are unbiased: 12 means (3 estimators x 4 partials), each against the
    # quadrature gradient in units of its standard error; |z| > 5 has probability about 6e-7 each
    assert numbers["max_zscore_of_the_means"] < 5


def test_with_no_gradient_through_z_the_encoder_learns_nothing_from_the_reconstruction(run):
    numbers = run("06_reparameterization")[1]["numbers"]
    # the variant's gradient: central differences of recon(decoder(z0)) + KL with z0 frozen
    # (1e-6, a whole model's tolerance), and exactly the reparameterized gradient minus the
    # encoder's path term (float64 rounding of a sum of a few hundred terms: far below 1e-12)
    assert numbers["stop_gradient_fd_error"] < 1e-6
    assert numbers["stop_gradient_identity_error"] < 1e-12
    # --quick, tuning seeds 0 and 10-19: test -ELBO 27.29-27.38 against 25.31-25.80 nats, and the
    # spread of mu over the test digits 0.003-0.004 against 0.86-1.01
    assert numbers["neg_elbo_no_gradient_through_z"] > numbers["neg_elbo_reparameterized"] + 1.0
    assert numbers["spread_mu_no_gradient_through_z"] < 0.05 * numbers["spread_mu_reparameterized"]


def test_laplace_reparameterization_is_exact_samples_the_laplace_and_beats_reinforce(run):
    n = run("06_reparameterization")[1]["numbers"]
    # backward against central differences in float64 with a random upstream gradient: a layer's 1e-7
    assert n["laplace_fd_error"] < 1e-7
    # the sampler's statistics over 1e5 draws, in standard errors (mean: sqrt(2 b^2 / n); variance:
    # sqrt(20 b^4 / n), from the Laplace's fourth moment 24 b^4): |z| > 5 has probability about 6e-7
    assert abs(n["laplace_mean_zscore"]) < 5 and abs(n["laplace_var_zscore"]) < 5
    # three estimators x four partials against the quadrature gradient, each in its standard error
    assert n["laplace_max_zscore_of_the_means"] < 5
    # --quick, tuning seeds 0 and 10-12: REINFORCE's variance 610-1270 times the trick's, with a
    # baseline 5.3-6.2 times
    assert n["laplace_var_reinforce"] > 20 * n["laplace_var_reparam"]
    assert n["laplace_var_reinforce_baseline"] > n["laplace_var_reparam"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_autoencoder", "03_denoising", "05_elbo", "06_reparameterization"])
def test_default_runs_show_the_lectures_problems_with_the_numbers_they_print(tmp_path, name):
    """The default run of each lesson that shows a problem of the lecture, checked for its direction.
    The bounds are below the smallest values seen on the tuning seeds 10-19 (in the comments)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, os.path.join(LESSONS_DIR, f"{name}.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=LESSONS_DIR, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(tmp_path / "summary.json") as f:
        n = json.load(f)["numbers"]
    if name == "01_autoencoder":                                  # gaps -0.03-0.07, 0.11-0.16, 0.29-0.36, 0.43-0.50
        gaps = [n[f"train_test_gap_hidden{H}"] for H in (16, 64, 256, 1024)]
        assert gaps == sorted(gaps) and gaps[-1] > gaps[0] + 0.2, gaps
        # on 100 digits the test error turns up: seed 0 a rise of 0.66 after epoch 112 of 600
        # (seeds 20-24: 0.49-0.66 after epochs 112-146); with every digit it still falls (rise <= 0.009)
        assert n["overfit_test_error_rise"] > 0.25 and n["overfit_best_epoch"] < 300
        assert n["full_set_test_error_rise"] < 0.05
    elif name == "03_denoising":                                  # 0.84-0.87 against 0.22-0.24
        assert n["noise_copied_overcomplete_ae"] > 0.75 and n["noise_copied_dae"] < 0.35
        assert n["noise_copied_ae_Z128"] > n["noise_copied_ae_Z8"] + 0.1     # 0.84-0.87 against 0.67-0.69
        # the hidden bottom half: the half-trained DAE 1.08 against the average half's 2.47 and the AE's
        # 6.31 (seeds 20-24: 1.10-1.12, the AE 6.05-6.37)
        assert n["hidden_half_error_dae_half"] < 0.6 * n["hidden_half_error_average"] < n["hidden_half_error_ae"]
    elif name == "05_elbo":                                       # 1.9-10.1 nats; median 0.17-0.25
        assert n["largest_gap_nats"] > 1.0 and n["largest_gap_nats"] > 5 * n["median_gap_nats"]
        assert n["log_px_rel_sd_naive"] > 2 * n["log_px_rel_sd_importance"]    # 0.31-0.42 against 0.06-0.11
        assert n["identity_error"] < 1e-3
        # step 7, five seeds: K = 5 raises log p(x) on every seed (seed 0's run: +0.03 to +0.34 nats; seeds
        # 20-24: +0.17 to +0.37) and lowers the ELBO (-0.29 to -0.47; -0.24 to -0.50); the median parameter's
        # gradient SNR from K = 1 to 64: the encoder's falls 3.3-fold (seeds 20: 1.7), the decoder's rises 7.2
        assert n["iwae_k1_is_the_vae"] == 1 and n["iwae_log_px_gain_min"] > 0 and n["iwae_elbo_change_max"] < 0
        assert n["snr_encoder_fall"] > 1.3 and n["snr_decoder_rise"] > 2
    else:                                                         # 27.24-27.27 against 24.67-25.01 nats
        assert n["neg_elbo_no_gradient_through_z"] > n["neg_elbo_reparameterized"] + 1.5
        # the Laplace q: REINFORCE's variance 465 times the trick's on seed 0 (seeds 20-24: 573-2116)
        assert n["laplace_var_reinforce"] > 100 * n["laplace_var_reparam"]
        assert n["laplace_fd_error"] < 1e-7 and n["laplace_max_zscore_of_the_means"] < 5


def test_vae_lesson_draws_x_from_p_x_given_z_two_draws_differ_as_bernoulli_pixels_do(run):
    n = run("07_vae")[1]["numbers"]
    # two draws x ~ Bernoulli(p) of the same z differ in pixel d with probability 2 p_d (1 - p_d):
    # the mean count over 2,000 z within 5 standard errors of its expectation (|z| > 5: about 6e-7).
    # A draw from the logits, or the mean image shown as the draw, would miss it by far
    assert abs(n["draw_pixels_differing"] - n["draw_pixels_differing_expected"]) < 5 * n["draw_pixels_differing_se"]
    assert n["draw_pixels_differing_expected"] > 1                   # a draw is not its mean: p is grey


def test_vae_lesson_iw_bound_is_at_least_the_elbo(run):
    # (iw <= elbo holds for any log-weights by Jensen; the Z = 2 grid sum is the independent judge)
    n = run("07_vae")[1]["numbers"]
    iw_gap, elbo_gap = n["iw_nll_2d"] - n["exact_nll_2d"], n["neg_elbo_2d"] - n["exact_nll_2d"]
    assert -0.05 < iw_gap < 0.1                       # K importance weights: about log p(x) itself
    assert elbo_gap > 0.05 and elbo_gap > 2 * abs(iw_gap)   # the ELBO's gap is real, and the IW bound closes it


def test_beta_vae_lesson_trades_reconstruction_for_kl(run):
    numbers = run("08_beta_vae")[1]["numbers"]
    betas = ["0.5", "1", "4", "8"]
    kl = [numbers[f"kl_beta{b}"] for b in betas]
    recon = [numbers[f"recon_beta{b}"] for b in betas]
    assert kl == sorted(kl, reverse=True), kl                        # larger beta, smaller KL
    assert recon == sorted(recon), recon                             # and worse reconstruction
    assert numbers["constrained_beta"] > 0
    # dual ascent: a tighter delta needs a larger beta; below the VAE's KL beta > 1, far above it
    # beta < 1 (--quick: 1.89, 1.28, 0.94, 0.57 for delta 2, 3.5, 5, 8; the default run 4.84 ... 0.52)
    deltas, found = zip(*numbers["delta_sweep"])
    assert len(deltas) >= 4 and min(deltas) < numbers["kl_beta1"] < max(deltas)
    assert list(found) == sorted(found, reverse=True) and found[0] > 1 > found[-1], found


def test_beta_vae_lesson_reads_mig_by_beta_from_the_shipped_study(run):
    numbers = run("08_beta_vae")[1]["numbers"]
    with open(os.path.join(LESSONS_DIR, "reference", "08_study.json")) as f:
        results = [r for r in json.load(f)["results"] if r["seed"] in (20, 21, 22, 23, 24)]
    for key, data in (("mig_by_beta", "shapes"), ("mig_by_beta_equal", "shapes-equal")):
        for beta, objective in (("1", "vae"), ("4", "beta4")):
            shipped = [r["mig"] for r in results if r["data"] == data and r["objective"] == objective]
            assert numbers[key][beta] == pytest.approx(shipped, abs=0), (key, beta)


def test_beta_vae_lesson_reference_checkpoints_load_and_give_the_mig_it_prints(run):
    stdout, summary, _ = run("08_beta_vae")
    numbers = summary["numbers"]
    ds = shapes.load(seed=0)                                      # every image, in the lesson's order
    x, factors = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.factors_train, ds.factors_test])
    keys = {"vae": "beta1", "beta4": "beta4", "kl-target": "kl_target", "capacity": "capacity"}
    for name, key in keys.items():
        model, cfg = reference.load(os.path.join(LESSONS_DIR, "reference", f"08_{name}.npz"))
        mig, _ = disentanglement.mig(model.code(x), factors)
        assert abs(mig - numbers[f"mig_{key}"]) < 1e-9, name
        assert re.search(rf"^\s+{re.escape(name)}\s.*\s{mig:.3f}\s+\d\.\d{{3}}$", stdout, re.M), name
        assert cfg.epochs == 600 and cfg.hidden == [256] and cfg.latent == 10      # the benchmark's recipe
    best = max(("beta4", "kl_target", "capacity"), key=lambda k: numbers[f"mig_{k}"])
    assert numbers["mig_best"] == numbers[f"mig_{best}"]


@pytest.mark.slow
def test_beta_vae_lesson_evaluates_the_references_on_their_own_split_at_any_seed(run):
    # at --seed 3 the live models get another split, in which 89% of the test images are training
    # images of the references (trained on seed 0's split); the references must keep their own
    stdout, summary, _ = run("08_beta_vae", "--seed", "3")
    numbers = summary["numbers"]
    keys = {"vae": "beta1", "beta4": "beta4", "kl-target": "kl_target", "capacity": "capacity"}
    for name, key in keys.items():
        model, cfg = reference.load(os.path.join(LESSONS_DIR, "reference", f"08_{name}.npz"))
        own = shapes.load(seed=cfg.seed)                          # the split the reference was trained on
        test = Trainer(model, np.random.default_rng(0)).evaluate(own.x_test, seed=cfg.seed)
        # the same model, images and noise: equal up to float rounding
        assert numbers[f"reference_recon_{key}"] == pytest.approx(test.recon, abs=1e-9), name
        assert numbers[f"reference_kl_{key}"] == pytest.approx(test.kl, abs=1e-9), name
    assert numbers["reference_split_seed"] == 0 and numbers["reference_test_seen_in_training"] == 0
    assert "evaluated on the split it was trained on" in stdout
    assert re.search(r"--seed 3 split the live models' data differently: \d+% of", stdout)
