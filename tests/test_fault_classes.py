"""Every class of fault ends in one line and loses nothing, shown on the real ``tinyvae`` command.

Each test runs ``python -m tinyvae ...`` in a subprocess, as a user would, and checks the
exit code, that stderr is one line naming the problem (never a traceback), and that the
run's files are whole afterwards.  The classes: concurrent runs, writing over a run's files,
unwritable or full destinations, extreme values, damaged run files, Ctrl-C, and the dead
ends a user could be sent round.
"""
import gzip
import http.server
import json
import os
import shutil
import signal
import struct
import subprocess
import threading
import time

import numpy as np
import pytest

from subprocess_cli import TINY, start, tinyvae, file_bytes, run_dir, template  # noqa: F401 (fixtures)

# every test here runs the real command (or the browser) end to end, a second or more each: the
# battery runs in CI and with --slow, so README's command stays within its stated time
pytestmark = pytest.mark.slow

LONG = [*TINY, "--batch-size", "256", "--epochs", "60"]     # about a second of training


def _epochs(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line)["epoch"] for line in f]


def _wait_for(predicate, timeout=30):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def _temporary_files(folder):
    return [n for n in os.listdir(folder) if n.startswith(".tinyvae-tmp-")]


# --- data loss: one writer per run folder ---------------------------------------------------
def _paused_after(proc, ready):
    """Wait for ``ready()``, then SIGSTOP ``proc``: it holds its claim, mid-run, for as long as the test needs."""
    _wait_for(ready)
    proc.send_signal(signal.SIGSTOP)


def test_a_second_training_into_a_busy_folder_is_refused_in_one_line(tmp_path):
    out = tmp_path / "run"
    first = start("train", *LONG, "--out", out)
    _paused_after(first, lambda: (out / "model.npz").exists())
    second = tinyvae("train", *TINY, "--epochs", "2", "--out", out)
    first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=120) == 0
    assert second.fails_in_one_line(str(out), "in use", code=1), second.err
    assert tinyvae("eval", out, "--iw-samples", "2").code == 0          # config and checkpoint agree
    assert _epochs(out) == list(range(1, 61))


def test_two_trainings_started_together_into_one_folder_leave_one_whole_run(tmp_path):
    out = tmp_path / "run"
    procs = [start("train", *TINY, "--epochs", "3", "--seed", str(seed), "--out", out) for seed in (1, 2)]
    codes = [p.wait(timeout=120) for p in procs]
    errors = [p.stderr.read() for p in procs]
    assert codes.count(0) == 1 and set(codes) - {0} <= {1, 2}, errors   # "in use" 1, "holds files" 2
    loser = errors[1 - codes.index(0)].strip().splitlines()
    assert len(loser) == 1 and ("in use" in loser[0] or "already holds files" in loser[0]), loser
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == (1, 2)[codes.index(0)]                    # the winner's settings ...
    assert tinyvae("eval", out, "--iw-samples", "2").code == 0          # ... with the winner's checkpoint
    assert _epochs(out) == [1, 2, 3]


def test_two_runs_without_out_started_in_the_same_second_get_two_folders(tmp_path):
    procs = [start("train", *TINY, "--epochs", "1", cwd=tmp_path) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    folders = sorted(os.listdir(tmp_path / "runs"))
    assert len(folders) == 2, folders
    for name in folders:
        assert _epochs(tmp_path / "runs" / name) == [1]
        assert json.loads((tmp_path / "runs" / name / "config.json").read_text())["epochs"] == 1


def test_a_second_resume_of_a_running_resume_is_refused_and_no_row_is_repeated(run_dir):
    first = start("train", "--resume", run_dir, "--epochs", "30")
    _paused_after(first, lambda: len(_epochs(run_dir)) > 3)
    second = tinyvae("train", "--resume", run_dir, "--epochs", "40")
    first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=120) == 0
    assert second.fails_in_one_line("in use", code=1), second.err
    assert _epochs(run_dir) == list(range(1, 31))


@pytest.mark.parametrize("command, target", [(["sample", "-n", "4"], "model.npz"), (["sample"], "config.json"),
                                             (["sample"], "metrics.jsonl"), (["sample"], "notes.png"),
                                             (["explore"], "model.npz"), (["explore"], "notes.html")])
def test_no_command_but_train_writes_over_a_run_file_or_a_file_of_another_kind(run_dir, command, target):
    (run_dir / "notes.png").write_text("my notes, not a figure")
    (run_dir / "notes.html").write_text("<p>my notes, not tinyvae's page</p>")
    before = file_bytes(run_dir / target)
    result = tinyvae(command[0], run_dir, *command[1:], "--out", run_dir / target)
    assert result.fails_in_one_line("--out", code=2), result.err
    assert file_bytes(run_dir / target) == before


def test_sample_may_replace_its_own_figure(run_dir):
    assert tinyvae("sample", run_dir, "-n", "4", "--out", run_dir / "samples.png").code == 0


# --- unwritable or full destinations ----------------------------------------------------------
@pytest.mark.parametrize("make_out, mentions", [
    (lambda tmp: tmp / "file" / "run", "file"),
    (lambda tmp: "/proc/tinyvae-run", "/proc/tinyvae-run"),
    (lambda tmp: tmp / ("x" * 300), "shorter name"),
])
def test_an_out_that_cannot_be_made_fails_in_one_line_before_training(tmp_path, make_out, mentions):
    (tmp_path / "file").write_text("a regular file")
    result = tinyvae("train", *TINY, "--epochs", "2", "--out", make_out(tmp_path))
    assert result.fails_in_one_line(mentions), result.err
    assert "epoch" not in result.out                         # refused before any training


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs; yields a function that (re)mounts it with options.  Needs root."""
    point = tmp_path / "mnt"
    point.mkdir()

    def mount(*options):
        action = ["-o", ",".join(("remount",) + options)] if os.path.ismount(point) else \
                 ["-t", "tmpfs", "-o", ",".join(options), "tmpfs"]
        done = subprocess.run(["mount", *action, str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); CI runs as root")
        return point

    yield mount
    if os.path.ismount(point):
        subprocess.run(["umount", "-l", str(point)], check=True)


def test_a_read_only_file_system_fails_in_one_line_for_every_command(run_dir, tmpfs):
    mnt = tmpfs("size=4m")
    shutil.copytree(run_dir, mnt / "run")
    before = file_bytes(mnt / "run" / "model.npz")
    tmpfs("ro")
    train = tinyvae("train", *TINY, "--epochs", "1", "--out", mnt / "new")
    resume = tinyvae("train", "--resume", mnt / "run", "--epochs", "3")
    sample = tinyvae("sample", mnt / "run", "-n", "4")
    plot = tinyvae("plot", mnt / "run")
    ev = tinyvae("eval", mnt / "run", "--iw-samples", "2")
    for result in (train, resume, sample, plot, ev):
        assert result.fails_in_one_line(str(mnt), "read-only", code=1), result.err
    assert "neg_elbo" in ev.out                              # eval's result still reaches stdout
    assert file_bytes(mnt / "run" / "model.npz") == before


def test_a_full_disk_during_the_first_checkpoint_leaves_nothing_behind(tmpfs):
    mnt = tmpfs("size=16k")                                  # the checkpoint needs about 35 kB
    result = tinyvae("train", *TINY, "--epochs", "2", "--out", mnt / "run")
    assert result.fails_in_one_line(str(mnt / "run" / "model.npz"), "No space", code=1), result.err
    assert not (mnt / "run").exists()                        # nothing was checkpointed: no folder left


def test_a_full_disk_while_resuming_keeps_the_last_good_checkpoint(run_dir, tmpfs):
    mnt = tmpfs("size=1m")
    shutil.copytree(run_dir, mnt / "run")
    before = file_bytes(mnt / "run" / "model.npz")
    fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)   # fill the disk to the last block
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    result = tinyvae("train", "--resume", mnt / "run", "--epochs", "4")
    assert result.fails_in_one_line(str(mnt / "run"), "No space", code=1), result.err
    assert file_bytes(mnt / "run" / "model.npz") == before and not _temporary_files(mnt / "run")


def test_a_full_disk_while_drawing_the_figures_keeps_the_checkpoint(tmpfs):
    mnt = tmpfs("size=64k")                # the checkpoint fits; the code snapshots or the figures do not
    result = tinyvae("train", *TINY, "--epochs", "1", "--out", mnt / "run")
    assert result.fails_in_one_line("No space", code=1), result.err
    assert ".png" in result.error_lines[0] or "snapshots.npz" in result.error_lines[0], result.err
    assert tinyvae("eval", mnt / "run", "--iw-samples", "2").out.count("neg_elbo") == 1
    assert not _temporary_files(mnt / "run") and not list((mnt / "run").glob("*.png"))   # all or none


@pytest.mark.parametrize("command", [["train", *TINY, "--epochs", "2"], ["eval", "RUN", "--iw-samples", "2"]])
def test_stdout_to_dev_full_fails_in_one_line(run_dir, tmp_path, command):
    argv = [str(run_dir) if a == "RUN" else a for a in command]
    if command[0] == "train":
        argv += ["--out", str(tmp_path / "new")]
    with open("/dev/full", "w") as full:
        result = tinyvae(*argv, stdout=full)
    assert result.fails_in_one_line("standard output", code=1), result.err


def test_a_closed_stdout_is_no_error(run_dir):
    proc = start("eval", run_dir, "--iw-samples", "2", stdout=None, preexec_fn=lambda: os.close(1))   # `>&-`
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and not err, err
    assert json.loads((run_dir / "eval.json").read_text())["iw_samples"] == 2


# --- extreme values ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv, mentions", [
    (["train", "--seed", "-1"], "--seed"),
    (["eval", "RUN", "--seed", "-1"], "--seed"),
    (["sample", "RUN", "--seed", "99999999999999999999"], "--seed"),
    (["train", "--likelihood", "gaussian", "--sigma", "1e-30"], "--sigma"),
    (["train", "--lr", "1e39"], "--lr"),
    (["train", "--hidden", "1000000000"], "memory"),
    (["train", "--latent", "1000000000"], "memory"),
    (["sample", "RUN", "-n", "1000000000000"], "memory"),
    (["eval", "RUN", "--iw-samples", "1000000000000"], "memory"),
])
def test_an_extreme_value_is_refused_up_front_in_one_line(run_dir, tmp_path, argv, mentions):
    argv = [str(run_dir) if a == "RUN" else a for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "new")]
    result = tinyvae(*argv)
    assert result.fails_in_one_line(mentions, code=2), result.err
    assert not (tmp_path / "new").exists()
    if mentions == "memory":                                  # the figure and the limit
        assert "would need about" in result.err and "free" in result.err


def test_a_batch_larger_than_the_data_trains_on_the_whole_set_at_once(tmp_path):
    result = tinyvae("train", *TINY, "--batch-size", "1000000000000", "--epochs", "1", "--out", tmp_path / "run")
    assert result.code == 0, result.err
    assert _epochs(tmp_path / "run") == [1]


@pytest.mark.parametrize("flags, culprit", [
    (["--likelihood", "gaussian", "--sigma", "1e-18"], "--sigma"),
    (["--beta", "1e37"], "--beta"),
])
def test_a_divergence_caused_by_sigma_or_beta_names_it_not_the_learning_rate(tmp_path, flags, culprit):
    out = tmp_path / "run"
    result = tinyvae("train", *TINY, "--epochs", "2", *flags, "--out", out)
    assert result.fails_in_one_line("diverged", culprit, code=1), result.err
    assert "--lr" not in result.err
    assert not out.exists()                                  # no dead end: --out takes the name again
    assert tinyvae("train", *TINY, "--epochs", "1", "--out", out).code == 0


# --- damaged run files ------------------------------------------------------------------------
@pytest.mark.parametrize("field, value, command", [("lr", "0.001", "resume"), ("hidden", 16, "eval"),
                                                   ("seed", -1, "eval"), ("latent", True, "eval")])
def test_a_bad_value_in_config_json_names_the_file_and_the_field_not_a_flag(run_dir, field, value, command):
    config = json.loads((run_dir / "config.json").read_text())
    config[field] = value
    (run_dir / "config.json").write_text(json.dumps(config))
    before = file_bytes(run_dir / "model.npz")
    argv = ["eval", run_dir, "--iw-samples", "2"] if command == "eval" else ["train", "--resume", run_dir]
    result = tinyvae(*argv)
    assert result.fails_in_one_line("config.json", repr(field), code=1), result.err
    assert "--" + field not in result.err
    assert file_bytes(run_dir / "model.npz") == before


def _rewrite_checkpoint(run_dir, change_meta):
    with np.load(run_dir / "model.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    change_meta(meta)
    np.savez(run_dir / "model.npz", meta=np.array(json.dumps(meta)), **arrays)


@pytest.mark.parametrize("key", ["t", "D", "metrics", "config", "image_shape"])
def test_a_checkpoint_meta_missing_a_key_names_the_file_and_the_key(run_dir, key):
    _rewrite_checkpoint(run_dir, lambda meta: meta.pop(key))
    for argv in (["eval", run_dir], ["train", "--resume", run_dir, "--epochs", "3"]):
        result = tinyvae(*argv)
        assert result.fails_in_one_line("model.npz", repr(key), code=1), result.err


def test_a_checkpoint_whose_training_state_cannot_be_restored_names_the_file(run_dir):
    _rewrite_checkpoint(run_dir, lambda meta: meta.__setitem__("rng", {}))     # not a PCG64 state
    result = tinyvae("train", "--resume", run_dir, "--epochs", "3")
    assert result.fails_in_one_line("model.npz", "damaged", code=1), result.err


@pytest.mark.parametrize("line", ['[1, 2]', '{"epoch": "one"}'])
def test_a_damaged_metrics_row_is_restored_from_the_checkpoint(run_dir, line):
    (run_dir / "metrics.jsonl").write_text(line + "\n")
    assert tinyvae("train", "--resume", run_dir, "--epochs", "3").code == 0
    assert _epochs(run_dir) == [1, 2, 3]


# --- Ctrl-C -----------------------------------------------------------------------------------
def test_ctrl_c_during_eval_ends_in_one_line_with_130_and_writes_nothing(run_dir):
    proc = start("eval", run_dir, "--iw-samples", "100000")
    time.sleep(1.5)                                          # past start-up, inside the estimate
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (run_dir / "eval.json").exists() and not _temporary_files(run_dir)


def test_ctrl_c_during_plot_ends_in_one_line_with_130_and_writes_no_figure(run_dir, tmp_path):
    for attempt in range(3):            # on a busy machine the plot may finish before the signal lands
        figures = tmp_path / f"figures{attempt}"
        proc = start("plot", run_dir, "--out", figures)
        _wait_for(figures.exists)                             # the run is loaded; drawing begins
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            break
    assert proc.returncode == 130 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert os.listdir(figures) == []                          # all figures or none, and no temporary file


def test_ctrl_c_before_the_first_epoch_ends_leaves_no_dead_end(tmp_path):
    out = tmp_path / "run"
    proc = start("train", "--batch-size", "1", "--hidden", "1000", "1000", "--epochs", "1", "--out", out)
    assert proc.stdout.readline().startswith("training")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "no epoch had finished" in err, err
    assert not out.exists()
    assert tinyvae("train", *TINY, "--epochs", "1", "--out", out).code == 0


def test_a_kill_before_the_first_checkpoint_leaves_a_folder_that_out_takes(tmp_path):
    out = tmp_path / "run"
    proc = start("train", "--batch-size", "1", "--hidden", "1000", "1000", "--epochs", "1", "--out", out)
    assert proc.stdout.readline().startswith("training")
    proc.kill()
    proc.communicate()
    resume = tinyvae("train", "--resume", out)
    assert resume.fails_in_one_line(f"--out {out}", code=1), resume.err    # points to --out ...
    assert tinyvae("train", *TINY, "--epochs", "1", "--out", out).code == 0  # ... which takes it


# --- a stalled download ---------------------------------------------------------------------
@pytest.fixture
def dribbling_mirror():
    """A mirror on 127.0.0.1 that promises 10 kB and sends one byte every 0.1 s."""
    class Dribble(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "10000")
            self.end_headers()
            try:
                for _ in range(10000):
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:                                   # the client gave up: good
                pass

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Dribble)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_a_mirror_that_sends_a_byte_at_a_time_is_given_up_naming_it_and_leaving_no_file(tmp_path, dribbling_mirror):
    cache = tmp_path / "cache"
    env = {"TINYVAE_MNIST_MIRROR": dribbling_mirror, "TINYVAE_DATA_DIR": str(cache), "TINYVAE_DOWNLOAD_STALL": "1"}
    t0 = time.time()
    result = tinyvae("train", "--data", "mnist", "--out", tmp_path / "run", env=env, timeout=60)
    assert result.fails_in_one_line(dribbling_mirror, "stalled", "TINYVAE_MNIST_MIRROR", "--data-dir", code=1), \
        result.err
    assert time.time() - t0 < 20                                   # 1 s of stall, not for ever
    assert not [f for f in cache.rglob("*") if f.is_file()]        # nothing in the cache
    assert not (tmp_path / "run").exists()


def test_a_killed_downloads_partial_file_is_removed_by_the_next_start(tmp_path, dribbling_mirror):
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()                                                    # a process id that no longer runs
    partial = cache / "mnist" / f".tinyvae-tmp-{dead.pid}-0123456789abcdef-train-images-idx3-ubyte.gz"
    partial.write_bytes(b"\x1f\x8b half a download")
    env = {"TINYVAE_MNIST_MIRROR": dribbling_mirror, "TINYVAE_DATA_DIR": str(cache), "TINYVAE_DOWNLOAD_STALL": "0.5"}
    assert tinyvae("train", "--data", "mnist", "--out", tmp_path / "run", env=env, timeout=60).code == 1
    assert not partial.exists()


# --- dead ends and wrong advice ---------------------------------------------------------------
def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _idx_folder(folder, n_train=40, n_test=10, shape=(4, 4)):
    """Four tiny IDX files in the MNIST names: random images of ``shape``."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, *shape)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    return folder


def test_resume_with_data_of_another_image_size_blames_the_data_not_the_run(tmp_path):
    out = tmp_path / "run"
    right, wrong = _idx_folder(tmp_path / "right"), _idx_folder(tmp_path / "wrong", shape=(5, 5))
    assert tinyvae("train", "--data", "mnist", "--data-dir", right, *TINY, "--epochs", "1", "--out", out).code == 0
    result = tinyvae("train", "--resume", out, "--epochs", "2", "--data-dir", wrong)
    assert result.fails_in_one_line("intact", "--data-dir", code=1), result.err
    assert "delete" not in result.err


def test_eval_after_the_data_moved_says_what_to_do_and_takes_data_dir(tmp_path):
    out = tmp_path / "run"
    data = _idx_folder(tmp_path / "data")
    assert tinyvae("train", "--data", "mnist", "--data-dir", data, *TINY, "--epochs", "1", "--out", out).code == 0
    data.rename(tmp_path / "moved")
    result = tinyvae("eval", out, "--iw-samples", "2")
    assert result.fails_in_one_line(str(data), "--data-dir", code=1), result.err
    assert tinyvae("eval", out, "--iw-samples", "2", "--data-dir", tmp_path / "moved").code == 0
    assert tinyvae("plot", out).fails_in_one_line(str(data), "--data-dir", code=1)        # README: plot too
    assert tinyvae("plot", out, "--data-dir", tmp_path / "moved").code == 0


def test_eval_json_records_the_epoch_it_evaluated(run_dir):
    assert tinyvae("eval", run_dir, "--iw-samples", "2").code == 0
    assert json.loads((run_dir / "eval.json").read_text())["epoch"] == 2


# --- degenerate data --------------------------------------------------------------------------
@pytest.mark.parametrize("n_train, n_test, shape, named", [
    (0, 10, (4, 4), "train-images"), (40, 0, (4, 4), "t10k-images"), (40, 10, (0, 4), "train-images")])
def test_unusable_idx_data_is_refused_at_load_naming_the_file(tmp_path, n_train, n_test, shape, named):
    data = _idx_folder(tmp_path / "data", n_train, n_test, shape)
    result = tinyvae("train", "--data", "mnist", "--data-dir", data, *TINY, "--out", tmp_path / "run")
    assert result.fails_in_one_line(named, code=1), result.err
    assert not (tmp_path / "run").exists()


def test_a_run_on_one_image_of_non_square_size_samples_and_plots_skipping_what_cannot_be_drawn(tmp_path):
    data, out = _idx_folder(tmp_path / "data", 1, 1, (4, 6)), tmp_path / "run"
    assert tinyvae("train", "--data", "mnist", "--data-dir", data, *TINY, "--epochs", "1", "--out", out).code == 0
    assert tinyvae("sample", out, "-n", "4").code == 0                   # 4x6 samples, not a square guess
    plot = tinyvae("plot", out)
    assert plot.code == 0 and "Traceback" not in plot.err, plot.err
    assert "skipped holes_map.png" in plot.err and not (out / "holes_map.png").exists()
    assert (out / "manifold.png").exists()
    assert tinyvae("explore", out).fails_in_one_line("two or more", code=2)
