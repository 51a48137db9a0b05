"""Reading and setting the BLAS thread count (tinyvae.blas), which the data-parallel step needs."""
import sys

import numpy as np

from tinyvae import blas


def numpy_uses_openblas():
    config = np.show_config(mode="dicts")
    return "openblas" in str(config["Build Dependencies"]["blas"]).lower()


def test_the_thread_count_is_found_where_numpy_bundles_openblas():
    # the PyPI wheels for Linux bundle OpenBLAS: there the setter must be found
    assert blas.available() == (sys.platform.startswith("linux") and numpy_uses_openblas())


def test_threads_sets_the_count_and_restores_it():
    before = blas.get_threads()
    with blas.threads(1) as previous:
        assert previous == before
        assert blas.get_threads() == (1 if blas.available() else None)
    assert blas.get_threads() == before


def test_matrix_products_are_the_same_on_one_thread():
    rng = np.random.default_rng(0)
    a, b = rng.random((300, 200)), rng.random((200, 100))
    many = a @ b
    with blas.threads(1):
        one = a @ b
    np.testing.assert_allclose(one, many, rtol=1e-12)
