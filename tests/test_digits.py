"""The embedded UCI digits (tinyvae.data.digits): 1,797 images, and a fixed split stratified by class."""
import gzip

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyvae import data
from tinyvae.data import digits as digits_lib


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def test_digits_have_1797_images_of_64_pixels_in_the_unit_interval(digits):
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert digits.D == 64 and digits.image_shape == (8, 8)
    x = np.concatenate([digits.x_train, digits.x_test])
    assert x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x * 16, np.round(x * 16))      # 0..16 counts divided by 16


def test_digits_have_ten_labels_in_both_halves(digits):
    assert digits.y_train.dtype == np.int64
    assert set(digits.y_train) == set(digits.y_test) == set(range(10))


def test_digits_split_is_stratified_with_a_sixth_of_each_class_in_test(digits):
    n_test = np.bincount(digits.y_test, minlength=10)
    n_all = n_test + np.bincount(digits.y_train, minlength=10)
    np.testing.assert_array_equal(n_all, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    assert np.all(np.abs(n_test / n_all - 1 / 6) < 0.01)
    assert (len(digits.x_train), len(digits.x_test)) == (1498, 299)


def test_digits_split_is_the_same_on_every_load(digits):
    again = data.load("digits", seed=123)             # seed must not move the split
    np.testing.assert_array_equal(again.x_train, digits.x_train)
    np.testing.assert_array_equal(again.x_test, digits.x_test)
    np.testing.assert_array_equal(again.y_test, digits.y_test)


def test_digits_train_and_test_are_a_partition_of_the_file(digits):
    # The split as indices: disjoint, and together every image exactly once.
    raw = np.frombuffer(gzip.decompress(digits_lib.DIGITS_FILE.read_bytes()), np.uint8).reshape(1797, 65)
    train, test = digits_lib.stratified_split(raw[:, 64].astype(np.int64), digits_lib.DIGITS_TEST_FRACTION,
                                        np.random.default_rng(digits_lib.DIGITS_SPLIT_SEED))
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(1797))
    # ... and they are the images load() returns.
    np.testing.assert_array_equal(digits.x_test, raw[test, :64] / np.float32(16))
    np.testing.assert_array_equal(digits.y_train, raw[train, 64])


@settings(deadline=None, max_examples=50)
@given(y=st.lists(st.integers(0, 4), min_size=0, max_size=60), fraction=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_stratified_split_sends_round_n_times_fraction_of_each_class_to_test(y, fraction, seed):
    y = np.array(y, dtype=np.int64)
    train, test = digits_lib.stratified_split(y, fraction, np.random.default_rng(seed))
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    for c in np.unique(y):
        assert np.sum(y[test] == c) == round(np.sum(y == c) * fraction)
