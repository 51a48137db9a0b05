"""Files written whole or not at all: a leaf that any module of tinyvae may use.

Every file tinyvae writes goes to a temporary name in the same folder first, is flushed to
disk, and is then moved into place with ``os.replace``, which is atomic: a crash, a full
disk or Ctrl-C mid-write leaves the previous version of the file intact, never half of one.

The temporary name is ``.tinyvae-tmp-PID-RANDOM-NAME`` (:func:`temporary_name`), a pattern no
person would choose: a later run removes a killed writer's leftovers
(:func:`remove_dead_temporary_files`) only when a name matches it in full and its process no
longer runs, so a user's own ``.tmp-notes`` is never touched.
"""
import contextlib
import json
import os
import re
import secrets

TMP_PREFIX = ".tinyvae-tmp-"    # atomic_write writes to .tinyvae-tmp-PID-RANDOM-NAME, then renames
#: the whole temporary name, checked in full: the writer's process id, 16 hex digits, the final name
TMP_PATTERN = re.compile(r"\.tinyvae-tmp-(?P<pid>[1-9][0-9]{0,9})-[0-9a-f]{16}-(?P<name>.+)", re.DOTALL)


def temporary_name(path):
    """The temporary name next to ``path`` that a file is written under before it takes its name."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}-{name}")


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file, then move it to ``path`` atomically."""
    atomic_write_all([(path, write)])


def atomic_write_all(writes):
    """Write several files as one step: every ``(path, write)`` to its temporary file first, then
    all moved into place, so an error or Ctrl-C while writing leaves none of them changed.

    Each temporary name is chosen before the file is made, so an interrupt at any moment
    leaves no temporary file: the handler knows what to remove.
    """
    pending = []                                    # (tmp, path) written and not yet moved
    path = None
    try:
        for path, write in writes:
            tmp = temporary_name(path)
            pending.append((tmp, path))             # before the file exists, so the handler finds it
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # the umask gives the usual mode
            except FileExistsError:
                pending.pop()                       # that name is someone else's file
                raise
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        while pending:                              # renames only: the files change together
            path = pending[0][1]
            os.replace(*pending[0])
            pending.pop(0)
    except BaseException as err:                    # including KeyboardInterrupt: leave no debris
        for tmp, _ in pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, FileExistsError) and path is not None:
            raise OSError(err.errno, err.strerror, path) from None        # name the file asked for
        raise


def save_json(path, obj):
    """Write ``obj`` as indented JSON to ``path``, atomically."""
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def process_running(pid):
    """Whether process ``pid`` is alive (signal 0 checks without sending anything)."""
    if os.name == "nt":                        # there os.kill ends the process: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):   # (a number no process id can be)
        return False
    except OSError:
        return True                            # alive, but another user's
    return True


def is_temporary_name(name):
    """Whether ``name`` is, in full, a temporary name tinyvae writes under (:func:`temporary_name`)."""
    return TMP_PATTERN.fullmatch(name) is not None


def remove_dead_temporary_files(folder):
    """Remove the temporary files in ``folder`` whose writer no longer runs (a kill -9).

    Only a regular file whose whole name matches :data:`TMP_PATTERN` is removed; anything
    else (a user's ``.tmp-notes``, a folder, a link) is left alone.  A live writer's file is
    left alone too: ``tinyvae plot`` may be writing a figure into a run folder while a
    training claims it.
    """
    for name in os.listdir(folder):
        match = TMP_PATTERN.fullmatch(name)
        if match and not process_running(int(match["pid"])):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


# --- what tinyvae wrote: marks that prove it ------------------------------------------------------
#: the mark of what tinyvae writes: a PNG's tEXt chunk "Software" and a JSON file's "written_by" start with it
MARK = "tinyvae"
#: the mark in every JSON file a command writes beside a run (eval.json): its "written_by" field
JSON_MARK = "written_by"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_software(f):
    """The text of a PNG's "Software" tEXt chunk, read from the chunks before its image data
    (None if there is none, or the bytes are not a PNG)."""
    import struct

    if f.read(8) != PNG_SIGNATURE:
        return None
    for _ in range(64):                              # a PNG's text chunks come before its image data
        head = f.read(8)
        if len(head) < 8:
            return None
        size, kind = struct.unpack(">I4s", head)
        if kind in (b"IDAT", b"IEND") or size > 1 << 16:
            return None
        body = f.read(size + 4)[:size]               # (and the chunk's CRC)
        if kind == b"tEXt" and body.startswith(b"Software\0"):
            return body[len(b"Software\0"):].decode("latin-1")
    return None


def written_by_tinyvae(path, signature=None):
    """Whether the regular file at ``path`` carries tinyvae's mark: a PNG's "Software" text
    chunk, a JSON object's ``written_by`` field, or (for other kinds) its first bytes
    ``signature``.  A pipe, a device, a folder or a link is never tinyvae's."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        if path.lower().endswith(".png"):
            return (_png_software(f) or "").startswith(MARK + " ")
        if path.lower().endswith(".json"):
            try:
                obj = json.loads(f.read(1 << 20).decode("utf-8"))
            except (ValueError, RecursionError):
                return False
            return isinstance(obj, dict) and str(obj.get(JSON_MARK, "")).startswith(MARK + " ")
        return signature is not None and f.read(len(signature)) == signature
