"""The errors tinyvae shows to a user.

Every problem a user can cause (a bad flag, a damaged file, a run that diverges) is raised
as a :class:`TinyVAEError` whose message is one line that names the problem and the fix.
The command line prints that line to stderr and exits non-zero, never with a traceback.
"""


class TinyVAEError(Exception):
    """A problem the user can fix; ``str(err)`` is the one line shown to them (exit 1)."""

    exit_code = 1


class UsageError(TinyVAEError):
    """A bad command-line value or combination of flags (exit 2, as argparse does)."""

    exit_code = 2


class DataError(TinyVAEError):
    """A data file that is missing, damaged or fails its checksum."""


class CheckpointError(TinyVAEError):
    """A run folder or checkpoint that is missing or damaged."""


class DivergenceError(TinyVAEError):
    """Training produced a non-finite loss."""


def one_line(err, limit=200):
    """An exception's text squeezed onto one line (and cut to ``limit`` characters), to quote
    inside a TinyVAEError."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value, limit=60):
    """A value read from a file, as JSON on one short line, to name it in a message."""
    import json

    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return one_line(text, limit)


class Interrupted(TinyVAEError):
    """Ctrl-C or SIGTERM: the message says what was kept.  The exit code is 128 + the signal's
    number, as a shell reports it: 130 for Ctrl-C (SIGINT), 143 for SIGTERM."""

    def __init__(self, message, exit_code=130):
        super().__init__(message)
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP), raised where the signal lands so that it takes Ctrl-C's path: every
    ``except KeyboardInterrupt`` that keeps a checkpoint or removes a temporary file runs."""

    def __init__(self, signal_name="SIGTERM", exit_code=143):
        super().__init__(signal_name)
        self.signal_name, self.exit_code = signal_name, exit_code


def stopped_by(interrupt):
    """``(what happened, exit code)`` of a KeyboardInterrupt: Ctrl-C's, or a Terminated's."""
    if isinstance(interrupt, Terminated):
        return f"interrupted by {interrupt.signal_name}", interrupt.exit_code
    return "interrupted (Ctrl-C)", 130


#: the flags whose value tinyvae's suggestions give as a path
PATH_FLAGS = ("--out", "--resume", "--data-dir")


def command(*argv):
    """A command to suggest in a message, written so that it works when pasted as it is: shell-quoted
    (``command("tinyvae", "eval", "my run")`` is ``tinyvae eval 'my run'``), and with a relative path
    that starts with a dash written ``./-x``, so that neither tinyvae nor ``rm`` reads it as a flag.

    A word is such a path when it follows one of :data:`PATH_FLAGS`, names a file or folder that
    exists, or starts with a dash without being a long flag (``--name``) or ``-n``: the only
    dashed words tinyvae suggests are its long flags and ``-n``."""
    import os
    import re
    import shlex

    words = [str(a) for a in argv]
    for i, word in enumerate(words[1:], 1):
        if word.startswith("-") and (words[i - 1] in PATH_FLAGS or os.path.lexists(word)
                                     or not (re.fullmatch(r"--[A-Za-z][A-Za-z0-9-]*", word) or word == "-n")):
            words[i] = os.path.join(".", word)
    return shlex.join(words)


def path_word(path):
    """A path as a word to paste after a flag in a message: ``./-x`` for ``-x``, shell-quoted."""
    import os
    import shlex

    path = str(path)
    return shlex.quote(os.path.join(".", path) if path.startswith("-") else path)


#: the fix for each way a file operation fails, by errno name
_OS_FIXES = {
    "ENOSPC": "free some space or write somewhere else",
    "EDQUOT": "free some space or write somewhere else",
    "EFBIG": "the file is larger than this system allows; free space or write somewhere else",
    "EROFS": "that file system is read-only; write somewhere else",
    "EACCES": "check its permissions, or write somewhere else",
    "EPERM": "check its permissions, or write somewhere else",
    "ENAMETOOLONG": "use a shorter name",
    "ENOTDIR": "a part of that path is a file, not a folder; choose another path",
    "EISDIR": "that is a folder; name a file",
    "ENOENT": "check that the path exists",
    "EEXIST": "choose a path that is free",
    "ENOMEM": "choose smaller sizes",
}


def describe_os_error(err):
    """One line for a failed file operation: the path, what the system said, and the fix."""
    import errno

    name = errno.errorcode.get(err.errno, "")
    said = err.strerror or name or str(err)
    if name == "ENOMEM":
        return f"ran out of memory ({said}); choose smaller sizes"
    if err.filename is not None:
        return f"cannot use {err.filename} ({said}); {_OS_FIXES.get(name, 'check the path and try again')}"
    if name in ("ENOSPC", "EFBIG", "EIO", "EDQUOT"):     # every file tinyvae writes is named: this is stdout
        return f"cannot write to standard output ({said}); send it to a file or terminal that can take it"
    return f"a system call failed ({said}); check the paths and devices the command uses"
