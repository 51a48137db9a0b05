"""The command's process and its terminal: the standard streams, signals, and the one line it ends with.

:func:`tinyvae.app.cli.main` calls these first and last:

* :func:`steady_streams`: a closed stdin, stdout or stderr (``2>&-``) is opened on the null
  device, and a file name that is not UTF-8 prints as its own bytes;
* :func:`signals_as_interrupts`: SIGTERM and SIGHUP take Ctrl-C's path (a KeyboardInterrupt,
  :class:`tinyvae.base.errors.Terminated`), so every ``except KeyboardInterrupt`` that keeps a
  checkpoint or removes a temporary file runs for them too;
* :func:`fail`: the one line on stderr, and the exit code.
"""
import contextlib
import os
import signal
import sys

from ..base.errors import Terminated


def memory_fix(args):
    """What to change after a MemoryError, in the flags of the command that ran out."""
    name = getattr(args, "command", None)
    if name == "train" and args.resume is None:
        return "choose smaller sizes (--hidden, --latent or --batch-size)"
    fix = {"eval": "choose fewer --iw-samples", "sample": "draw fewer samples (-n)"}
    return fix.get(name, "free some memory (close other programs) and run the command again")


#: the name of the signal that interrupted this process, once one has: an error raised because of
#: it (numpy turns an import that Ctrl-C cuts short into an ImportError) is then reported as the
#: interrupt it is (:func:`interrupt_behind`)
interrupted_by = None


def signals_as_interrupts(in_process):
    """Make Ctrl-C raise KeyboardInterrupt and SIGTERM and SIGHUP :class:`tinyvae.base.errors.Terminated`
    (a KeyboardInterrupt), so that all three end as Ctrl-C does: the checkpoint kept, no
    temporary file left, one line; and remember which signal came (:data:`interrupted_by`).
    A signal the shell set to be ignored (``nohup``, a background job) stays ignored.
    Returns the function that puts the previous handlers back when ``main`` was called
    ``in_process`` (with its argv, by a test or a script); the ``tinyvae`` command keeps them
    to its end, so that a signal while it exits cannot print a traceback."""
    def handler(signum, frame):
        global interrupted_by
        interrupted_by = signal.Signals(signum).name
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(interrupted_by, 128 + signum)

    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:
            try:
                previous[sig] = signal.signal(sig, handler)
            except ValueError:                     # not the main thread: only it may set a handler
                return lambda: None
    previous.setdefault(signal.SIGINT, signal.getsignal(signal.SIGINT))   # (:func:`ignore_interrupts` sets it)

    def restore():
        for sig, old in previous.items():
            if old is not None:
                signal.signal(sig, old)
    return restore if in_process else (lambda: None)


def interrupt_behind(err):
    """The KeyboardInterrupt behind ``err`` when a signal came before it (else None): a signal
    that lands inside an import can surface as that import's error instead."""
    if interrupted_by is None:
        return None
    return KeyboardInterrupt() if interrupted_by == "SIGINT" else Terminated(interrupted_by,
                                                                             128 + signal.Signals[interrupted_by])


def steady_streams():
    """Make the standard streams safe: a closed descriptor 0, 1 or 2 (``2>&-``) is opened on
    the null device, so that no file the command opens can take its number and receive a
    message meant for the terminal; and a name that is not UTF-8 (a folder's, on Linux) is
    written as its own bytes, never failing the line that prints it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)   # the lowest free number: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w"))
        elif hasattr(stream, "reconfigure"):
            utf8 = (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
            try:
                stream.reconfigure(errors="surrogateescape" if utf8 else "backslashreplace")
            except (ValueError, OSError, TypeError):
                pass


def fail(message, code):
    """Print the one line (stderr) and return the exit code; stdout keeps what was printed."""
    ignore_interrupts()                           # a second Ctrl-C cannot cut the line short
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        silence_stdout()                          # stdout itself failed: it cannot fail again at exit
    try:
        print(f"tinyvae: {message}" if code >= 128 else f"tinyvae: error: {message}", file=sys.stderr)
    except OSError:
        pass
    return code


def ignore_interrupts():
    """Ignore Ctrl-C and SIGTERM from here on (``main`` puts the handlers back when it was called
    in process, by a test)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):      # (only the main thread may set a handler)
            signal.signal(sig, signal.SIG_IGN)


def silence_stdout():
    """Point stdout at /dev/null, so that nothing fails again when Python flushes it at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
