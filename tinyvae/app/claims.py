"""Who may write what in a run folder: one trainer at a time, and no command over what it did not write.

* **One writer.**  ``tinyvae train`` claims its folder (:func:`claim_new_run`,
  :func:`claim_run`) with an exclusive ``flock`` on the folder itself, held for the run's
  life and released by the kernel when the process ends, however it ends.  A second
  training of the same folder is refused with one line.  Each claim first removes the
  temporary files a killed writer left behind (:func:`tinyvae.base.atomic.remove_dead_temporary_files`).
* **One worker per study model.**  ``benchmarks/disentanglement.py`` claims each model's folder
  the same way (:func:`claim_free`) for as long as it trains and scores it; a second study that
  shares the folder skips a model another holds.  Its record of the whole folder is rewritten
  under a short hold that waits its turn (:func:`holding`).
* **No overwriting.**  Every other command writes a new file, or over an earlier file of the
  same kind that tinyvae wrote and marked (:func:`check_output`,
  :func:`tinyvae.base.atomic.written_by_tinyvae`); none writes over a run's own files.
"""
import contextlib
import errno
import os

try:
    import fcntl                                # POSIX: the claim is a flock the kernel drops at exit
except ImportError:                             # Windows has no flock: the claim is then only the
    fcntl = None                                # atomic mkdir / empty-folder check, and is not held

from ..base.atomic import remove_dead_temporary_files, temporary_name, written_by_tinyvae
from ..base.errors import CheckpointError, UsageError, command, path_word
from .runs import CHECKPOINT, OWN_FILES, free_name, require_run_dir


# --- what other commands may write ---------------------------------------------------------------
#: the first bytes of an explorer page (templates/explorer.html), its mark; PNGs and JSON files
#: carry theirs inside (:func:`tinyvae.base.atomic.written_by_tinyvae`)
SIGNATURES = {".html": b"<!DOCTYPE html>\n<!-- The tinyvae latent-space explorer."}


def check_output(path, ext, flag="--out"):
    """Refuse, in one line, an output path that is neither a new file nor a ``ext`` file that
    tinyvae wrote and marked: no command but the trainer writes over a run's own files, and
    none over a file of the user's.  ``flag`` names where the path came from (None: the
    command's default path)."""
    said = f"{flag} {path}" if flag else path
    if flag and not path.lower().endswith(ext):
        raise UsageError(f"{said} must name a {ext} file")
    if os.path.isdir(path):
        raise UsageError(f"{said} is a folder; name a {ext} file in it")
    if os.path.basename(path) in OWN_FILES or (os.path.lexists(path) and
                                               not written_by_tinyvae(path, SIGNATURES.get(ext))):
        fix = "choose a new file name" if flag else "move it away and run the command again"
        raise UsageError(f"{said} exists and is not a {ext} file tinyvae wrote; {fix}")
    return path


# --- claiming a folder: one trainer at a time ------------------------------------------------
class Claim:
    """An exclusive hold on a run folder, for as long as the trainer runs (a context manager)."""

    def __init__(self, run_dir, fd, created):
        self.run_dir, self.fd, self.created = run_dir, fd, created

    def release(self, remove_if_empty=False):
        """Let go of the folder; ``remove_if_empty`` removes a folder this claim created."""
        if self.fd is not None:
            os.close(self.fd)                      # closing the descriptor drops the flock
            self.fd = None
        if remove_if_empty and self.created:
            remove_dead_temporary_files(self.run_dir)
            if not os.listdir(self.run_dir):
                os.rmdir(self.run_dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _lock(run_dir, created, busy=None, wait=False):
    """flock the folder itself, or refuse: the kernel drops the lock when the process ends.

    ``busy`` is the message when another process holds it (default: a training's); ``wait``
    waits for the holder to let go instead."""
    if fcntl is None:
        return Claim(run_dir, None, created)
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise CheckpointError(busy or f"{run_dir} is in use by another 'tinyvae train'; wait for it to "
                                          f"finish, or train into another --out") from None
        raise
    except BaseException:                      # (Ctrl-C while waiting)
        os.close(fd)
        raise
    return Claim(run_dir, fd, created)


def claim_free(folder):
    """Claim ``folder`` (made if need be) without waiting: a :class:`Claim`, or None when another
    process holds it.  A study's worker claims each model's folder so; the ``tinyvae train``
    it starts claims the run folder inside it."""
    os.makedirs(folder, exist_ok=True)
    try:
        return _lock(folder, created=False, busy="held")
    except CheckpointError:
        return None


@contextlib.contextmanager
def holding(folder):
    """Hold ``folder`` for one short step, waiting while another process holds it (two studies
    sharing a folder rewrite its record one at a time, each from what is on disk)."""
    claim = _lock(folder, created=False, wait=True)
    try:
        yield claim
    finally:
        claim.release()


def claim_new_run(out=None, default_base=None):
    """Create (or take an empty) folder for a new run, claim it, and check it can be written.

    ``out`` is the folder the user named; without it, the first free one of ``default_base``,
    ``default_base-2``, ... is made with ``os.mkdir``, which fails if the name is taken, so two
    runs started in the same second get two folders.  Returns a :class:`Claim`.
    """
    if out is None:
        os.makedirs(os.path.dirname(default_base) or ".", exist_ok=True)
        k = 1
        while True:
            run_dir = default_base if k == 1 else f"{default_base}-{k}"
            try:
                os.mkdir(run_dir)
                break
            except FileExistsError:
                k += 1
        claim = _lock(run_dir, created=True)
    else:
        run_dir = out
        if not run_dir.strip():
            raise UsageError("--out needs a folder name")
        if os.path.exists(run_dir) and not os.path.isdir(run_dir):
            raise UsageError(f"--out {run_dir} is a file, not a folder; choose another --out")
        created = not os.path.exists(run_dir)
        os.makedirs(run_dir, exist_ok=True)
        claim = _lock(run_dir, created)
    try:
        remove_dead_temporary_files(run_dir)
        if os.listdir(run_dir):
            if os.path.lexists(os.path.join(run_dir, CHECKPOINT)):
                raise UsageError(f"--out {run_dir} already holds a run; choose another --out (such as "
                                 f"{path_word(free_name(run_dir))}), or continue this run with: "
                                 f"{command('tinyvae', 'train', '--resume', run_dir)}")
            raise UsageError(f"--out {run_dir} already holds files that are not a run; train into another "
                             f"folder: {command('tinyvae', 'train', '--out', free_name(run_dir))}")
        probe = temporary_name(os.path.join(run_dir, CHECKPOINT))
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # the folder takes new files:
        os.unlink(probe)                                                       # checked before training
    except BaseException:
        claim.release(remove_if_empty=True)
        raise
    return claim


def claim_run(run_dir):
    """Claim an existing run folder for ``--resume`` and remove a killed run's temporary files."""
    require_run_dir(run_dir)
    claim = _lock(run_dir, created=False)
    try:
        remove_dead_temporary_files(run_dir)
    except BaseException:
        claim.release()
        raise
    return claim
