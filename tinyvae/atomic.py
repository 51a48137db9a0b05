"""Files written whole or not at all: a leaf that any module of tinyvae may use.

Every file tinyvae writes goes to a temporary name in the same folder first, is flushed to
disk, and is then moved into place with ``os.replace``, which is atomic: a crash, a full
disk or Ctrl-C mid-write leaves the previous version of the file intact, never half of one.

The temporary name is ``.tmp-PID-RANDOM`` + the file's name, so a later run can tell a
killed writer's leftovers (:func:`remove_dead_temporary_files`) from a live writer's file.
"""
import contextlib
import json
import os
import secrets

TMP_PREFIX = ".tmp-"            # atomic_write writes to .tmp-PID-XXXXXXXXNAME, then renames


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
            folder = os.path.dirname(os.path.abspath(path))
            tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{os.path.basename(path)}")
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
    except ProcessLookupError:
        return False
    except OSError:
        return True                            # alive, but another user's
    return True


def remove_dead_temporary_files(folder):
    """Remove the ``.tmp-PID-*`` files in ``folder`` whose writer no longer runs (a kill -9).

    A live writer's file is left alone: ``tinyvae plot`` may be writing a figure into a run
    folder while a training claims it.
    """
    for name in os.listdir(folder):
        if name.startswith(TMP_PREFIX):
            pid = name[len(TMP_PREFIX):].split("-", 1)[0]
            if not (pid.isdigit() and process_running(int(pid))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, name))
