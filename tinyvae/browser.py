"""A headless Chromium for the explorer's tests and the gallery's screenshots.

We drive the system's Chromium (Debian's ``chromium`` package, at ``/usr/bin/chromium``)
with playwright, a well-kept library that already does this job: it starts the browser,
speaks its DevTools protocol, moves the mouse, reads the console and blocks requests.
Playwright is chosen over selenium because it needs no separate driver binary
(``chromium-driver`` must match the browser's version exactly) and it can observe and block
every network request from Python, which the offline test needs.  Playwright's own browser
download is not used: ``executable_path`` points it at the system browser.

playwright is a development dependency (``pip install -e ".[dev]"``), not a runtime one:
``import tinyvae`` never imports this module.
"""
import contextlib
import os
import shutil
import tempfile

from .errors import UsageError

try:
    from playwright.sync_api import sync_playwright
except ImportError:                      # a runtime install: only the tests and gallery need it
    sync_playwright = None

CHROMIUM = os.environ.get("TINYVAE_CHROMIUM", "/usr/bin/chromium")

#: flags that keep a headless Chromium quiet and self-contained on a CI machine
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium():
    """A headless Chromium with a fresh profile, closed on exit: ``with chromium() as browser:``."""
    if sync_playwright is None:
        raise UsageError("the browser needs playwright; install the dev extras: pip install -e \".[dev]\"")
    if not os.path.exists(CHROMIUM):
        raise UsageError(f"no Chromium at {CHROMIUM}; install it with 'apt-get install chromium' "
                         f"or set TINYVAE_CHROMIUM to its path")
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
