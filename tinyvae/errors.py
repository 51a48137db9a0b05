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
