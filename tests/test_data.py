"""Tests for tinyvae.data (MNIST from a folder, names and binarization) and tinyvae.data.download.

No test touches the internet: downloads come from a loopback HTTP server that serves small
IDX files made here, and an autouse fixture points the cache and the mirror at places that
cannot reach the real data.
"""
import functools
import hashlib
import http.server
import re
import socket
import threading
import time
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvae import data
from tinyvae.data import download
from tinyvae.data.dataset import Dataset
from tinyvae.base.errors import DataError, UsageError
from tinyvae.noise import binarize
from tinyvae.data.idx import write_idx

from download_server import mirror

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# --- helpers and fixtures ---------------------------------------------------------------

def closed_port():
    """A loopback port with nothing listening (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Keep every test away from the real cache and the real mirrors."""
    monkeypatch.setenv("TINYVAE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TINYVAE_MNIST_MIRROR", f"http://127.0.0.1:{closed_port()}/")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")     # urllib must not send loopback to a proxy


def fake_idx_files(folder, n_train=12, n_test=5, H=6, W=4, gz=True, seed=0):
    """Write four small, consistent IDX files into ``folder``; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        FILES[0]: rng.integers(0, 256, (n_train, H, W), dtype=np.uint8),
        FILES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        FILES[2]: rng.integers(0, 256, (n_test, H, W), dtype=np.uint8),
        FILES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for base, array in arrays.items():
        write_idx(folder / (base + ".gz" if gz else base), array)
    return arrays


def assert_loaded(ds, arrays, name="mnist"):
    """``ds`` holds ``arrays`` flattened and scaled by 1/255, labels as int64."""
    train_images, train_labels, test_images, test_labels = (arrays[f] for f in FILES)
    N, H, W = train_images.shape
    assert ds.name == name and ds.image_shape == (H, W)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(ds.x_train, train_images.reshape(N, H * W) / np.float32(255))
    np.testing.assert_array_equal(ds.x_test, test_images.reshape(len(test_images), H * W) / np.float32(255))
    np.testing.assert_array_equal(ds.y_train, train_labels)
    np.testing.assert_array_equal(ds.y_test, test_labels)


# --- MNIST and Fashion-MNIST from a folder ----------------------------------------------

def test_data_dir_with_the_four_gzipped_files_loads(tmp_path):
    arrays = fake_idx_files(tmp_path)
    assert_loaded(data.load("mnist", data_dir=tmp_path), arrays)


def test_data_dir_with_unzipped_files_loads(tmp_path):
    arrays = fake_idx_files(tmp_path, gz=False)
    assert_loaded(data.load("mnist", data_dir=str(tmp_path)), arrays)


def test_torchvision_mnist_raw_layout_loads(tmp_path):
    arrays = fake_idx_files(tmp_path / "MNIST" / "raw", n_train=7, n_test=3, H=28, W=28)
    assert_loaded(data.load("mnist", data_dir=tmp_path), arrays)


def test_torchvision_fashion_mnist_raw_layout_loads(tmp_path):
    arrays = fake_idx_files(tmp_path / "FashionMNIST" / "raw", gz=False)
    assert_loaded(data.load("fashion-mnist", data_dir=tmp_path), arrays, name="fashion-mnist")


def test_missing_data_dir_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match="does not exist") as info:
        data.load("mnist", data_dir=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_data_dir_without_one_file_names_that_file(tmp_path):
    fake_idx_files(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="cannot find t10k-labels-idx1-ubyte.gz"):
        data.load("mnist", data_dir=tmp_path)


def test_image_and_label_count_mismatch_is_a_data_error(tmp_path):
    arrays = fake_idx_files(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", arrays[FILES[1]][:-1])   # one label short
    with pytest.raises(DataError, match="holds 12 images but .* holds 11 labels"):
        data.load("mnist", data_dir=tmp_path)


def test_train_and_test_images_of_different_sizes_are_a_data_error(tmp_path):
    fake_idx_files(tmp_path, H=6, W=4)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 4, 6), np.uint8))
    with pytest.raises(DataError, match="different data sets"):
        data.load("mnist", data_dir=tmp_path)


# --- downloading from a loopback server -------------------------------------------------

@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www over HTTP on 127.0.0.1; yield (base URL, folder, list of paths hit)."""
    www = tmp_path / "www"
    www.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path.startswith("/cut/"):           # promise 1000 bytes, send 10, hang up
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"\x1f\x8b" + bytes(8))
                self.close_connection = True
                return
            super().do_GET()

        def log_message(self, *args):               # keep the test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", www, hits
    httpd.shutdown()
    httpd.server_close()


def serve_fake_mnist(monkeypatch, server, name="mnist", checksums_right=True):
    """Put four fake files on the server, point the mirror at it and set the checksums."""
    base, www, _ = server
    arrays = fake_idx_files(www)
    md5 = {f + ".gz": hashlib.md5((www / (f + ".gz")).read_bytes()).hexdigest() for f in FILES}
    if not checksums_right:
        md5 = {f: "0" * 32 for f in md5}
    monkeypatch.setitem(download.CHECKSUMS, name, md5)
    monkeypatch.setenv("TINYVAE_MNIST_MIRROR", base)
    return arrays


def test_download_with_good_checksums_loads_and_fills_the_cache(tmp_path, monkeypatch, server):
    arrays = serve_fake_mnist(monkeypatch, server)
    assert_loaded(data.load("mnist"), arrays)
    cached = sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir())
    assert cached == sorted(f + ".gz" for f in FILES)          # the four files, no leftovers
    for f in FILES:
        assert (tmp_path / "cache" / "mnist" / (f + ".gz")).read_bytes() == (server[1] / (f + ".gz")).read_bytes()


def test_second_load_uses_the_cache_without_asking_the_server(monkeypatch, server):
    arrays = serve_fake_mnist(monkeypatch, server)
    data.load("mnist")
    hits = server[2]
    assert len(hits) == 4
    assert_loaded(data.load("mnist"), arrays)
    assert len(hits) == 4


def test_cached_file_that_fails_its_checksum_is_downloaded_again(tmp_path, monkeypatch, server):
    arrays = serve_fake_mnist(monkeypatch, server)
    data.load("mnist")
    (tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    assert_loaded(data.load("mnist"), arrays)
    assert server[2][4:] == ["/t10k-labels-idx1-ubyte.gz"]    # only the damaged file again


def test_bad_checksum_is_a_data_error_and_leaves_the_cache_empty(tmp_path, monkeypatch, server):
    serve_fake_mnist(monkeypatch, server, checksums_right=False)
    with pytest.raises(DataError, match="checksum") as info:
        data.load("mnist")
    assert "\n" not in str(info.value)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []    # no file, no temporary leftover


def test_fashion_mnist_downloads_into_its_own_cache_folder(tmp_path, monkeypatch, server):
    arrays = serve_fake_mnist(monkeypatch, server, name="fashion-mnist")
    assert_loaded(data.load("fashion-mnist"), arrays, name="fashion-mnist")
    assert len(list((tmp_path / "cache" / "fashion-mnist").iterdir())) == 4
    assert not (tmp_path / "cache" / "mnist").exists()


def test_next_mirror_is_tried_when_the_first_fails(monkeypatch, server):
    arrays = serve_fake_mnist(monkeypatch, server)
    monkeypatch.delenv("TINYVAE_MNIST_MIRROR")
    monkeypatch.setitem(download.MIRRORS, "mnist", (server[0] + "missing/", server[0]))   # 404, then good
    assert_loaded(data.load("mnist"), arrays)


def test_connection_lost_mid_file_is_a_data_error_and_leaves_no_partial_file(tmp_path, monkeypatch, server):
    serve_fake_mnist(monkeypatch, server)
    monkeypatch.setenv("TINYVAE_MNIST_MIRROR", server[0] + "cut/")
    with pytest.raises(DataError, match="cannot download train-images-idx3-ubyte.gz") as info:
        data.load("mnist")
    assert "closed after 10 of 1000 bytes" in str(info.value)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_network_failure_is_a_data_error_suggesting_data_dir(tmp_path):
    # The autouse fixture points the mirror at a closed loopback port.
    with pytest.raises(DataError, match="--data-dir") as info:
        data.load("mnist")
    assert "cannot download" in str(info.value) and "\n" not in str(info.value)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_mirror_override_without_trailing_slash_still_works(monkeypatch, server):
    arrays = serve_fake_mnist(monkeypatch, server)
    monkeypatch.setenv("TINYVAE_MNIST_MIRROR", server[0].rstrip("/"))
    assert_loaded(data.load("mnist"), arrays)


# --- slow but steady, stalled and dying connections (tests/download_server.py) -----------

def serve_modes(monkeypatch, tmp_path, n_train=150, stall="1"):
    """Four fake files of which the training images are about 118 kB; checksums set, stall window
    ``stall`` seconds.  Returns the folder the mirror serves."""
    www = tmp_path / "www"
    fake_idx_files(www, n_train=n_train, H=28, W=28)
    md5 = {f + ".gz": hashlib.md5((www / (f + ".gz")).read_bytes()).hexdigest() for f in FILES}
    monkeypatch.setitem(download.CHECKSUMS, "mnist", md5)
    monkeypatch.setenv("TINYVAE_DOWNLOAD_STALL", stall)
    return www


@pytest.mark.slow
def test_a_slow_but_steady_mirror_is_never_cut_however_long_the_file_takes(tmp_path, monkeypatch):
    # 118 kB at 40 kB/s: three stall windows of 1 s, each well above MIN_RATE (10 KiB/s).  Before the
    # fix the byte count was reset every window and compared with Content-Length at the end.
    www = serve_modes(monkeypatch, tmp_path)
    assert (www / "train-images-idx3-ubyte.gz").stat().st_size > 100_000
    with mirror(www) as (base, hits):
        monkeypatch.setenv("TINYVAE_MNIST_MIRROR", base + "steady/40000/")
        t0 = time.monotonic()
        ds = data.load("mnist")
        assert time.monotonic() - t0 > 2.5                      # it did take several windows
    assert ds.x_train.shape == (150, 784)
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(f + ".gz" for f in FILES)


@pytest.mark.slow
@pytest.mark.parametrize("mode, said", [("stall/1000/", "timed out"), ("die/1000/", "closed after 1000 of"),
                                        ("dribble/", "stalled")])
def test_a_stalled_or_dying_or_dribbling_mirror_is_given_up_in_one_line_leaving_no_file(tmp_path, monkeypatch,
                                                                                           mode, said):
    www = serve_modes(monkeypatch, tmp_path, stall="0.5")
    with mirror(www) as (base, hits):
        monkeypatch.setenv("TINYVAE_MNIST_MIRROR", base + mode)
        t0 = time.monotonic()
        with pytest.raises(DataError, match="cannot download train-images-idx3-ubyte.gz") as info:
            data.load("mnist")
        assert time.monotonic() - t0 < 10                       # a window or two, not for ever
    assert said in str(info.value) and "\n" not in str(info.value)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_a_mirror_without_a_scheme_is_refused_naming_the_variable_and_the_fix_works(tmp_path, monkeypatch):
    www = serve_modes(monkeypatch, tmp_path, n_train=12)
    with mirror(www) as (base, hits):
        bare = base[len("http://"):] + "plain/"
        monkeypatch.setenv("TINYVAE_MNIST_MIRROR", bare)
        with pytest.raises(DataError, match="TINYVAE_MNIST_MIRROR") as info:
            data.load("mnist")
        assert "\n" not in str(info.value) and not hits          # refused before any connection
        fixed = re.search(r"'(http://[^']+)'", str(info.value))[1]   # the message's http:// form
        monkeypatch.setenv("TINYVAE_MNIST_MIRROR", fixed)
        assert data.load("mnist").x_train.shape == (12, 784)


def test_published_checksums_are_torchvisions():
    # The values torchvision.datasets.MNIST and FashionMNIST publish, copied independently.
    assert download.CHECKSUMS["mnist"]["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert download.CHECKSUMS["fashion-mnist"]["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"
    for sums in download.CHECKSUMS.values():
        assert sorted(sums) == sorted(f + ".gz" for f in FILES)
        assert all(len(s) == 32 and int(s, 16) >= 0 for s in sums.values())


# --- load(): names and binarization -----------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def test_unknown_data_set_is_a_usage_error_listing_the_choices():
    with pytest.raises(UsageError, match="digits, mnist, fashion-mnist, shapes"):
        data.load("cifar")


def test_unknown_binarization_is_a_usage_error_listing_the_choices():
    with pytest.raises(UsageError, match="none, static, dynamic"):
        data.load("digits", binarize="yes")


def test_data_dir_with_a_built_in_data_set_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="--data-dir"):
        data.load("digits", data_dir=tmp_path)


def test_shapes_is_dispatched_to_tinyvae_shapes_with_the_seed(monkeypatch):
    calls = []
    made = Dataset("shapes", np.zeros((2, 4), np.float32), np.zeros(2, np.int64),
                   np.zeros((1, 4), np.float32), np.zeros(1, np.int64), (2, 2))
    fake = types.SimpleNamespace(load=lambda seed=0: calls.append(seed) or made)
    monkeypatch.setattr(data, "shapes", fake)
    assert data.load("shapes", seed=7) is made
    assert calls == [7]


def test_binarize_none_returns_the_grey_levels(digits):
    np.testing.assert_array_equal(data.load("digits", binarize="none").x_train, digits.x_train)


def test_binarize_dynamic_returns_the_data_unchanged(digits):
    np.testing.assert_array_equal(data.load("digits", binarize="dynamic").x_test, digits.x_test)


def test_static_binarization_gives_only_zeros_and_ones_the_same_on_every_load(digits):
    a = data.load("digits", binarize="static", seed=3)
    b = data.load("digits", binarize="static", seed=3)
    c = data.load("digits", binarize="static", seed=4)
    for x in (a.x_train, a.x_test):
        assert x.dtype == np.float32 and set(np.unique(x)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_train, c.x_train)          # another seed, another sample
    np.testing.assert_array_equal(a.y_train, digits.y_train)
    # Pixels that are 0 stay 0 and pixels that are 1 stay 1.
    assert np.all(a.x_train[digits.x_train == 0] == 0) and np.all(a.x_train[digits.x_train == 1] == 1)
    # On average a sample keeps the intensity: |mean difference| within 5 standard errors.
    p = digits.x_train
    se = np.sqrt(np.sum(p * (1 - p))) / p.size
    assert abs(a.x_train.mean() - p.mean()) < 5 * se


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_dynamic_binarization_is_bernoulli_with_mean_equal_to_the_intensity(seed):
    # 100,000 draws of each intensity: the fraction of ones matches p within 5 standard errors.
    p = np.linspace(0, 1, 11, dtype=np.float32)              # (11,) intensities, 0 and 1 included
    x = np.tile(p, (100_000, 1))                              # (100000, 11)
    sample = binarize(x, np.random.default_rng(seed))
    assert sample.dtype == np.float32 and sample.shape == x.shape
    assert set(np.unique(sample)) <= {0.0, 1.0}
    se = np.sqrt(p * (1 - p) / len(x))
    assert np.all(np.abs(sample.mean(axis=0) - p) <= 5 * se + 1e-12)
    assert sample[:, 0].max() == 0 and sample[:, -1].min() == 1


def test_dynamic_binarization_draws_a_new_sample_each_call():
    rng = np.random.default_rng(0)
    x = np.full((50, 64), 0.5, np.float32)
    assert not np.array_equal(binarize(x, rng), binarize(x, rng))
