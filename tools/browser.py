"""A headless Chromium for the explorer's tests, its benchmark and the gallery's screenshots.

We drive the system's Chromium (Debian's ``chromium`` package, at ``/usr/bin/chromium``)
with playwright, a well-kept library that already does this job: it starts the browser,
speaks its DevTools protocol, moves the mouse, reads the console and blocks requests.
Playwright is chosen over selenium because it needs no separate driver binary
(``chromium-driver`` must match the browser's version exactly) and it can observe and block
every network request from Python, which the offline test needs.  Playwright's own browser
download is not used: ``executable_path`` points it at the system browser.

This is a development tool, outside the tinyvae package: playwright comes with the dev
extras (``pip install -e ".[dev]"``), and nothing in ``tinyvae/`` imports it.
"""
import contextlib
import os
import shutil
import tempfile

try:
    from playwright.sync_api import sync_playwright
except ImportError:                      # installed without the dev extras
    sync_playwright = None

CHROMIUM = os.environ.get("TINYVAE_CHROMIUM", "/usr/bin/chromium")

#: flags that keep a headless Chromium quiet and self-contained on a CI machine
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class BrowserMissing(RuntimeError):
    """Playwright or Chromium is not installed; the message says how to install it."""


def missing():
    """One line saying what is missing and how to install it, or None when both are here."""
    if sync_playwright is None:
        return 'playwright is not installed; install the dev extras: pip install -e ".[dev]"'
    if not os.path.exists(CHROMIUM):
        return (f"no Chromium at {CHROMIUM}; install it (Debian/Ubuntu: apt-get install chromium) "
                f"or set TINYVAE_CHROMIUM to its path")
    return None


@contextlib.contextmanager
def chromium():
    """A headless Chromium with a fresh profile, closed on exit: ``with chromium() as browser:``."""
    problem = missing()
    if problem:
        raise BrowserMissing(problem)
    profile = tempfile.mkdtemp(prefix="tinyvae-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
