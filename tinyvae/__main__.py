"""``python -m tinyvae`` and the ``tinyvae`` script: the command line, guarded from its first line.

A Ctrl-C (or SIGTERM) that comes before :func:`tinyvae.app.cli.main` has set its own handlers,
while the command's modules are still being imported, ends the process with one line and exit
code 128 + the signal's number: nothing has been written yet.  (Python's own start-up, before
this module runs, is beyond any package's reach.)
"""
import os
import signal
import sys


def _interrupted_while_starting(signum, frame):
    try:
        os.write(2, b"tinyvae: interrupted while starting; nothing was written\n")
    finally:
        os._exit(128 + signum)


def main():
    """The ``tinyvae`` command (the entry point of the script and of ``python -m tinyvae``)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _interrupted_while_starting)
    from .app.cli import main as run_command        # cli.main sets the handlers of the running command

    return run_command()


if __name__ == "__main__":
    sys.exit(main())
