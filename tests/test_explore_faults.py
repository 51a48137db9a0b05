"""`tinyvae explore` under faults, as a hostile user would try it: an --out that is not a new
page, data that moved or changed, a damaged or degenerate model, Ctrl-C while writing.  Each
ends in one line and a non-zero exit, or in a page that is still valid, and loses nothing."""
import json
import os
import shutil

import numpy as np
import pytest

from tinyvae.app import cli, explore, snapshots
from tinyvae.data import load
from tinyvae.data.mnist import IDX_FILES
from tinyvae.data.idx import write_idx
from tinyvae.models import Autoencoder
from tinyvae.app.runs import CHECKPOINT, OWN_FILES

# every test here runs the real command (or the browser) end to end, a second or more each: the
# battery runs in CI and with --slow, so README's command stays within its stated time
pytestmark = pytest.mark.slow

SMALL = ["--hidden", "16", "--latent", "2", "--epochs", "1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ae2"
    assert cli.main(["train", "--model", "ae", "--out", str(out), *SMALL]) == 0
    return out


def one_line_error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("name", OWN_FILES + ("notes.txt", "notes.html", "own-page.html"))
def test_explore_never_writes_over_the_runs_own_files_or_a_file_it_did_not_write(run_dir, capsys, name):
    target = run_dir / name
    if name == "own-page.html":                               # an HTML page, but not one tinyvae wrote
        target.write_text("<!DOCTYPE html>\n<html><body>a student's own page</body></html>\n")
    elif not target.exists():
        target.write_text("a student's own notes\n")
    before = snapshot(run_dir)
    code = cli.main(["explore", str(run_dir), "--out", str(target)])
    err = one_line_error(capsys)
    assert code == 2 and "--out" in err
    assert snapshot(run_dir) == before                        # nothing replaced, nothing left behind


def test_explore_refuses_an_out_that_is_not_a_regular_file(run_dir, tmp_path, capsys):
    fifo = tmp_path / "pipe.html"                             # stands for /dev/null and other devices
    os.mkfifo(fifo)
    code = cli.main(["explore", str(run_dir), "--out", str(fifo)])
    assert code == 2 and "--out" in one_line_error(capsys)
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["pipe.html"]


def test_explore_refuses_an_out_under_a_regular_file_naming_it(run_dir, capsys):
    code = cli.main(["explore", str(run_dir), "--out", str(run_dir / CHECKPOINT / "page.html")])
    err = one_line_error(capsys)
    assert code == 2 and "is a file" in err


def test_explore_writes_over_its_own_earlier_page(run_dir, capsys):
    page = run_dir / "again.html"
    assert cli.main(["explore", str(run_dir), "--out", str(page)]) == 0
    page.write_bytes(page.read_bytes()[:-100])               # an older page (here: a shorter one)
    assert cli.main(["explore", str(run_dir), "--out", str(page)]) == 0
    assert explore.read_page_data(page.read_text())["runs"][0]["Z"] == 2


def test_ctrl_c_while_writing_the_page_exits_130_and_keeps_the_old_page(run_dir, capsys, monkeypatch):
    page = run_dir / "explorer.html"
    assert cli.main(["explore", str(run_dir)]) == 0
    before = snapshot(run_dir)

    def half_then_ctrl_c(f):
        f.write(b"<!DOCTYPE html>")
        raise KeyboardInterrupt
    real_atomic_write = explore.atomic_write
    monkeypatch.setattr(explore, "atomic_write", lambda path, write: real_atomic_write(path, half_then_ctrl_c))
    assert cli.main(["explore", str(run_dir)]) == 130
    assert snapshot(run_dir) == before and page.exists()     # no partial file, no temporary file


def write_mnist_like(folder, side, seed=0):
    """Four IDX files of random side x side images with labels: an "MNIST" without a download."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for part, n in (("train", 200), ("test", 50)):
        images_name, labels_name = IDX_FILES[part]
        write_idx(folder / images_name, (rng.random((n, side, side)) * 255).astype(np.uint8))
        write_idx(folder / labels_name, rng.integers(0, 10, n).astype(np.uint8))


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    write_mnist_like(root / "data", 28)
    write_mnist_like(root / "small", 20, seed=1)               # the wrong image size
    run = root / "run"
    assert cli.main(["train", "--data", "mnist", "--data-dir", str(root / "data"), "--out", str(run),
                     "--model", "vae", *SMALL]) == 0
    return root, run


def test_explore_takes_data_dir_when_the_runs_data_moved(mnist_run, capsys):
    root, run = mnist_run
    (root / "data").rename(root / "moved")
    try:
        code = cli.main(["explore", str(run)])
        assert code == 1 and "--data-dir" in one_line_error(capsys)    # advice explore can follow
        assert cli.main(["explore", str(run), "--data-dir", str(root / "moved")]) == 0
    finally:
        (root / "moved").rename(root / "data")
    assert explore.read_page_data((run / "explorer.html").read_text())["runs"][0]["D"] == 784


def test_explore_on_images_of_the_wrong_size_is_one_line(mnist_run, capsys):
    root, run = mnist_run
    code = cli.main(["explore", str(run), "--data-dir", str(root / "small"), "--out", str(root / "w.html")])
    err = one_line_error(capsys)
    assert code == 1 and "400 pixels" in err and "784" in err
    assert not (root / "w.html").exists()


def test_a_checkpoint_of_nans_is_refused_in_one_line_not_written_as_a_broken_page(tmp_path, capsys):
    run = tmp_path / "nan"
    assert cli.main(["train", "--model", "ae", "--out", str(run), *SMALL]) == 0
    arrays = dict(np.load(run / CHECKPOINT, allow_pickle=False))
    arrays["theta"] = np.full_like(arrays["theta"], np.nan)
    np.savez(run / CHECKPOINT, **arrays)
    capsys.readouterr()
    code = cli.main(["explore", str(run)])
    err = one_line_error(capsys)
    assert code == 1 and "not finite" in err and CHECKPOINT in err
    assert not (run / "explorer.html").exists()


def test_an_ae_whose_codes_do_not_vary_still_gets_a_plane_of_finite_size():
    digits = load("digits")
    model = Autoencoder(digits.D, (16,), 2, rng=np.random.default_rng(0))
    model.encoder.layers[-1].params["W"][:] = 0.0              # every image has the same code
    html = explore.explorer_page(model, digits, bins=10)
    data = explore.read_page_data(html)["runs"][0]
    json.dumps(data, allow_nan=False)                         # JavaScript's JSON.parse takes no NaN
    lo1, hi1, lo2, hi2 = data["extent"]
    assert hi1 > lo1 and hi2 > lo2


@pytest.mark.parametrize("damage", ["cut", "flip", "foreign"])
def test_a_damaged_snapshots_file_costs_only_the_replay_with_one_line_naming_the_run(run_dir, tmp_path, capsys, damage):
    run = tmp_path / "copy"
    shutil.copytree(run_dir, run)
    path = run / snapshots.SNAPSHOTS
    data = path.read_bytes()
    if damage == "cut":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "flip":                                     # a byte of the codes' header
        path.write_bytes(data[:200] + bytes([data[200] ^ 0x55]) + data[201:])
    else:
        path.write_bytes(b"a student's own notes\n")
    capsys.readouterr()
    assert cli.main(["explore", str(run)]) == 0
    err = one_line_error(capsys)
    assert str(run) in err and "no training replay" in err
    assert explore.read_page_data((run / "explorer.html").read_text())["runs"][0]["replay"] is None
    assert path.exists()                                       # left as it was


def test_an_old_run_folder_without_snapshots_opens_without_the_replay(run_dir, tmp_path, capsys):
    run = tmp_path / "old"
    shutil.copytree(run_dir, run)
    (run / snapshots.SNAPSHOTS).unlink()                       # a run trained before the replay existed
    assert cli.main(["explore", str(run)]) == 0
    assert capsys.readouterr().err == ""
    assert explore.read_page_data((run / "explorer.html").read_text())["runs"][0]["replay"] is None
