"""IDX files (tinyvae.data.idx): what write_idx writes read_idx reads back, and every damage is one line."""
import gzip

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvae.base.errors import DataError
from tinyvae.data.idx import read_idx, write_idx


def idx_bytes(array):
    """A valid raw IDX file for a uint8 array, built by hand (independently of write_idx)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


# --- round trip --------------------------------------------------------------------------

idx_arrays = st.one_of(
    st.tuples(st.integers(0, 20), st.integers(1, 9), st.integers(1, 9)),   # images (n, h, w)
    st.tuples(st.integers(0, 50)),                                          # labels (n,)
).flatmap(lambda shape: st.tuples(st.just(shape), st.integers(0, 2**32 - 1)))


@settings(deadline=None, max_examples=60)
@given(shape_seed=idx_arrays, gz=st.booleans())
def test_write_idx_then_read_idx_gives_back_the_array(tmp_path_factory, shape_seed, gz):
    shape, seed = shape_seed
    array = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz           # gzipped exactly when named .gz
    back = read_idx(path, ndim=len(shape))
    assert back.dtype == np.uint8 and back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_write_idx_writes_the_standard_header(tmp_path):
    # Compare with a header built by hand from the IDX spec: 00 00 08 03, then the sizes.
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a", array)
    assert (tmp_path / "a").read_bytes() == bytes.fromhex("00000803 00000002 00000003 00000004") + bytes(range(24))


def test_write_idx_leaves_no_temporary_file(tmp_path):
    write_idx(tmp_path / "a.gz", np.zeros(3, np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["a.gz"]


def test_write_idx_refuses_non_uint8_arrays(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "a", np.zeros(3, np.float32))
    assert not (tmp_path / "a").exists()


def test_read_idx_reads_a_raw_idx_file_even_under_a_gz_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    (tmp_path / "labels.gz").write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels.gz"), array)


# --- damaged IDX files: each gets its own one-line DataError -----------------------------

GOOD_IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)     # 24 bytes of pixels
GOOD = idx_bytes(GOOD_IMAGES)                                            # 16-byte header + 24

DAMAGE = {
    # kind: (file name, bytes written or None for no file, words the message must contain)
    "missing": ("gone-idx3-ubyte", None, "does not exist"),
    "empty": ("empty-idx3-ubyte.gz", b"", "is empty"),
    "truncated magic": ("short-idx3-ubyte", GOOD[:3], "stops after 3 of 4 magic bytes"),
    "truncated header": ("short-idx3-ubyte", GOOD[:10], "header needs 16 bytes, found 10"),
    "truncated payload": ("short-idx3-ubyte", GOOD[:-4], "expected 24 bytes of pixels, found 20"),
    "truncated gzip": ("short-idx3-ubyte.gz", gzip.compress(GOOD)[:-12], "gzip stream stops"),
    "corrupt gzip": ("bad-idx3-ubyte.gz", gzip.compress(GOOD)[:-8] + b"\0" * 8, "damaged gzip"),
    "wrong magic (labels)": ("swap-idx3-ubyte", idx_bytes(np.arange(5, dtype=np.uint8)), "0x00000801"),
    "wrong magic (type)": ("float-idx3-ubyte", b"\x00\x00\x0d\x03" + GOOD[4:], "data type 0x0D"),
    "random bytes": ("noise-idx3-ubyte", b"\x89PNG\r\n\x1a\n" + bytes(64), "not an IDX file"),
    "random bytes named .gz": ("noise-idx3-ubyte.gz", b"\x89PNG\r\n\x1a\n" + bytes(64), "not gzip data"),
    "trailing bytes": ("long-idx3-ubyte", GOOD + b"\x07" * 5, "5 extra bytes after its 24 bytes"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_each_kind_of_damage_gives_its_own_one_line_data_error(tmp_path, kind):
    file_name, content, words = DAMAGE[kind]
    path = tmp_path / file_name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:            # any other exception fails the test
        read_idx(path, ndim=3)
    message = str(info.value)
    assert words in message
    assert str(path) in message and "\n" not in message
    assert "{" not in message                         # every placeholder was filled in
    # No other kind of damage produces this message.
    others = [w for k, (_, _, w) in DAMAGE.items() if k != kind]
    assert not any(w in message for w in others)


@settings(deadline=None, max_examples=200)
@given(content=st.binary(max_size=64), name=st.sampled_from(["f-idx3-ubyte", "f-idx3-ubyte.gz"]))
def test_read_idx_on_arbitrary_bytes_returns_an_array_or_raises_data_error(tmp_path_factory, content, name):
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(content)
    try:
        out = read_idx(path)
    except DataError as err:
        assert "\n" not in str(err)
    else:
        assert out.dtype == np.uint8


@settings(deadline=None, max_examples=100)
@given(cut=st.integers(0, 200), gz=st.booleans())
def test_any_cut_of_a_good_file_raises_data_error(tmp_path_factory, cut, gz):
    content = gzip.compress(GOOD, mtime=0) if gz else GOOD
    cut = cut % len(content)                          # keep strictly fewer bytes than the whole
    path = tmp_path_factory.mktemp("cut") / ("f.gz" if gz else "f")
    path.write_bytes(content[:cut])
    with pytest.raises(DataError):
        read_idx(path, ndim=3)
