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


def one_line(err):
    """An exception's text squeezed onto one line, to quote inside a TinyVAEError."""
    return " ".join(str(err).split())


class Interrupted(TinyVAEError):
    """Ctrl-C: the message says what was kept (exit 130, as a shell reports SIGINT)."""

    exit_code = 130


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
