"""Test settings shared by every test module: the ``slow`` marker.

A test marked ``@pytest.mark.slow`` takes tens of seconds (a full default training run, a
lesson at its default size, a lesson as a notebook), or belongs to a battery of end-to-end
tests of the real command under faults and signals, or of the explorer in a browser, a second
or more each (their modules mark themselves with ``pytestmark``).  ``python -m pytest -q``
leaves them out, so README's command stays within the time README states; ``--slow`` runs
them too, and ``bash .ci/run`` runs them in a second pass (``-m slow --slow``), so CI runs
every test.
"""
import pytest


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow (CI does)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
