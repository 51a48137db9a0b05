"""The grader's side of a student's process: start it, ask it to run the student's code, and
judge only the numbers it sends back.

A :class:`Student` is the student copy as the checks see it: ``S.layers.Linear(...)`` looks like
the student's class, but every attribute read, call and assignment is a request to the
student's process (:mod:`.sandbox`), which answers with plain data (numbers, arrays, and
lists, tuples and dicts of them) or, for any other object, a :class:`Remote` that names it
there.  Nothing the student's code makes ever runs here, and nothing of the grader or of the
reference runs there.

A call's array arguments are sent by value, so the student's code can never write into the
grader's arrays; the student's process compares each with its copy and says which it wrote
into, and such a call fails (:meth:`Student.writing` lets a check allow it, as for an
in-place ReLU).  The student's objects keep their arrays there: a check reads them by value
(``layer.params``), writes one in place with :meth:`Student.put`, and asks whether an
attribute is still the same array with :meth:`Student.id`.

Each exercise has ``seconds`` of the student's time (the time spent waiting for answers).
When it is up, the process gets SIGUSR1, which raises inside the student's code and says where
it was; a second later it is killed with its process group.  A process that dies, hangs or
answers with something that is not a message costs the exercise running, and the next
exercise starts a new process.
"""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import sandbox
from .checks import Fail

SANDBOX = Path(sandbox.__file__).resolve()
#: how long a new student process may take to start (Python and NumPy's imports, on a busy machine)
START_SECONDS = 60.0
#: the environment of a student's process: no variable of the teacher's beyond these
KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "SYSTEMROOT")


class StudentError(Exception):
    """The student's code raised (``kind``, ``message``, ``where``: "layers.py line 12"), or a
    module of the copy did not import (``importing`` is its file)."""

    def __init__(self, kind, message, where, importing=None):
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.where, self.importing = kind, message, where, importing


class Gone(Exception):
    """The student's process ended, hung or broke the protocol; ``str`` says which, in one line."""


class CouldNotStart(Exception):
    """The student's process did not start (before any of the student's code ran): the grader's
    environment, not the student's work, is at fault."""


class Remote(sandbox.Handle):
    """An object in the student's process: attribute reads, calls and assignments go there."""

    def __init__(self, student, hid, htype=""):
        object.__setattr__(self, "_student", student)
        super().__init__(hid, htype)

    def __setattr__(self, name, value):
        if name in ("_hid", "_htype"):
            object.__setattr__(self, name, value)
        else:
            self._student.request("set", obj=self, name=name, value=value)

    def __getattr__(self, name):
        if name.startswith("__"):                     # numpy's probes (__array__, ...): not the student's
            raise AttributeError(name)
        return self._student.request("get", obj=self, path=[name])

    def __getitem__(self, key):
        return self._student.request("get", obj=self, path=[key])

    def __call__(self, *args, **kwargs):
        return self._student.request("call", obj=self, args=list(args), kwargs=kwargs)

    def __repr__(self):
        return f"<the student's {self._htype or 'object'}>"


class Student:
    """The student copy in ``folder`` (the folder that holds its ``tinyvae/``), run in a process
    of its own; ``S.layers`` is the student's ``tinyvae.layers`` there."""

    def __init__(self, folder, reference, memory_mb=1024):
        self.folder, self.reference, self.memory_mb = str(Path(folder).resolve()), reference, memory_mb
        self.process = self.scratch = None
        self.seconds = self.limit = START_SECONDS
        self.printed, self.warned, self._allowed, self._modules = 0, [], set(), {}

    # --- the process ------------------------------------------------------------------------------
    def start(self, cpu_seconds):
        self.scratch = tempfile.mkdtemp(prefix="tinyvae-student-")
        to_child, from_parent = os.pipe()[::-1]
        from_child, to_parent = os.pipe()
        env = {k: os.environ[k] for k in KEPT_ENVIRONMENT if k in os.environ}
        env.update(HOME=self.scratch, TMPDIR=self.scratch, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        argv = [sys.executable, "-I", str(SANDBOX), self.folder, str(self.reference or ""), self.scratch,
                str(self.memory_mb), str(int(cpu_seconds)), str(from_parent), str(to_parent)]
        try:
            self.process = subprocess.Popen(argv, pass_fds=(from_parent, to_parent), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.scratch,
                                            env=env, start_new_session=True)
        finally:
            os.close(from_parent)
            os.close(to_parent)
        self.send, self.receive = sandbox.Pipe(to_child), sandbox.Pipe(from_child)
        self.seconds = self.limit = START_SECONDS
        try:
            self._answer()
        except (Gone, StudentError) as err:
            self.close()
            raise CouldNotStart(f"the student's process did not start ({err})") from None

    def close(self):
        """End the process (with anything it started) and remove its scratch folder."""
        if self.process is not None:
            for fd in (self.send.fd, self.receive.fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def begin(self, seconds, cpu_seconds):
        """Start an exercise with ``seconds`` of the student's time: the copy's modules are
        imported anew, in a new process if the last one ended."""
        if self.process is None:
            self.start(cpu_seconds)
        self.printed, self.warned, self._allowed, self._modules = 0, [], set(), {}
        self.seconds = self.limit = seconds
        self.request("fresh")

    # --- the requests ----------------------------------------------------------------------------
    def request(self, op, **fields):
        if self.process is None:
            raise Gone("the student's process had already ended")
        try:
            self.send.send(sandbox.encode({"op": op, **fields}))
        except OSError:
            raise self._gone() from None
        return self._answer()

    def _answer(self):
        started = time.monotonic()
        ready = _wait(self.receive.fd, self.seconds)
        if not ready:                                 # time is up: say so inside the code, then kill
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGUSR1)
            ready = _wait(self.receive.fd, 1.0)
            where = ""
            if ready:
                with contextlib.suppress(Exception):
                    where = sandbox.decode(self.receive.receive())["error"]["where"]
            self.close()
            raise Gone(f"did not finish within {self.limit:g} s (an endless loop?); stopped"
                       + (f" ({where})" if where else ""))
        self.seconds -= time.monotonic() - started
        try:
            reply = sandbox.decode(self.receive.receive())
            if not isinstance(reply, dict) or not ("ok" in reply) ^ ("error" in reply):
                raise ValueError("a message that is no answer")
            self.printed += int(reply["printed"])
            self.warned += [str(w) for w in reply["warnings"]]
            wrote, name = [str(w) for w in reply["wrote"]], str(reply["name"])
            refused = [str(r) for r in reply["refused"]]
        except EOFError:
            raise self._gone() from None
        except Exception as err:                      # whatever it sent, it is no answer
            self.close()
            raise Gone(f"the student's process broke the grader's protocol ({type(err).__name__}); "
                       f"did the code write to file descriptors it does not own?") from None
        if refused:                                   # even when the code caught the refusal
            raise Fail(f"the code tried to {refused[0]}, which the grader refuses; an exercise needs nothing but "
                       f"its arguments and NumPy")
        if "error" in reply:
            e = reply["error"]
            raise StudentError(str(e["type"]), str(e["message"]), str(e["where"]), e.get("importing") or None)
        written = [w for w in wrote if w not in self._allowed]
        if written:
            raise Fail(f"{name or 'the function'} wrote into {written[0]}, which belongs to the caller; "
                       f"compute into a new array")
        return self._wrap(reply["ok"])

    def _wrap(self, value):
        if isinstance(value, sandbox.Handle):
            return Remote(self, value._hid, value._htype)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        if isinstance(value, tuple):
            return type(value)(*map(self._wrap, value)) if hasattr(value, "_fields") else \
                tuple(self._wrap(v) for v in value)
        if isinstance(value, dict):
            return {k: self._wrap(v) for k, v in value.items()}
        return value

    def _gone(self):
        code = self.process.wait() if self.process is not None else None
        self.close()
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            why = "out of memory or CPU time?" if -code in (signal.SIGKILL, signal.SIGXCPU, signal.SIGSEGV) else ""
            return Gone(f"the student's process was killed by {name}{f' ({why})' if why else ''}")
        return Gone(f"the student's code ended its process (exit code {code}: os._exit, or a crash)")

    # --- what the checks use -----------------------------------------------------------------------
    def __getattr__(self, module):
        """``S.layers``: the student's ``tinyvae.layers``, imported in the student's process."""
        if module.startswith("_"):
            raise AttributeError(module)
        if module not in self._modules:
            try:
                self._modules[module] = self.request("import", module=module)
            except StudentError as err:
                err.importing = f"{module.replace('.', '/')}.py"
                raise
        return self._modules[module]

    def map(self, fn, calls):
        """``[fn(*args, **kwargs) for args, kwargs in calls]`` in one request (finite differences)."""
        return self.request("map", obj=fn, calls=[[list(args), dict(kwargs)] for args, kwargs in calls])

    def rng(self, seed):
        """A ``numpy.random.Generator`` made in the student's process."""
        return self.request("rng", seed=seed)

    def stub(self, returns=None):
        """A callable in the student's process that records its calls (``.calls``) and returns ``returns``."""
        return self.request("stub", returns=returns)

    def put(self, obj, path, value):
        """``obj.path[...] = value`` in the student's process (``path``: attribute names and keys)."""
        self.request("put", obj=obj, path=list(path), value=value)

    def id(self, obj, path):
        """The identity of ``obj.path`` there: the same number means the same array."""
        return self.request("id", obj=obj, path=list(path))

    @contextlib.contextmanager
    def writing(self, *names):
        """Allow the calls in the block to write into their arguments ``names``."""
        self._allowed = set(names)
        try:
            yield
        finally:
            self._allowed = set()


def _wait(fd, seconds):
    """Whether ``fd`` has something to read within ``seconds``."""
    import select

    return bool(select.select([fd], [], [], max(0.0, seconds))[0])
