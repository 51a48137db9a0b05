"""The student's process: it runs a student copy's code for the grader, and nothing else.

The grader (:mod:`.remote`) starts it as a script, with the interpreter's isolated mode::

    python -I sandbox.py STUDENT_FOLDER REFERENCE_DIR SCRATCH_DIR MEMORY_MB CPU_SECONDS FD_IN FD_OUT

It imports nothing of tinyvae: only the standard library and NumPy.  Before it runs a line of
the student's code it

* limits itself (``resource.setrlimit``): MEMORY_MB of address space beyond what Python and
  NumPy took at start, CPU_SECONDS of CPU time, files of at most 64 MB, no core files, and no
  new processes (RLIMIT_NPROC, which binds only a user other than root);
* keeps only the standard import finders (the editable install's finder, which would find
  the reference, is dropped), takes the reference's folders off ``sys.path`` and puts the
  student's folder first, so ``import tinyvae`` is the student's copy; writes no ``.pyc``;
* loads the extension modules a student may use (math, numpy's parts), then removes
  ``_imp.create_dynamic``, so no other C extension can be loaded (``_posixsubprocess`` by path);
* works in SCRATCH_DIR, a fresh folder the grader made and removes;
* installs an audit hook (PEP 578, :func:`refuse`) that refuses: opening any file under the
  reference package (its sources and ``.pyc`` cannot be read, however they are named), reading
  anything outside the Python installation, the student's folder and SCRATCH_DIR; writing,
  renaming, deleting, linking or changing the mode of anything outside SCRATCH_DIR; starting
  processes (fork, exec, spawn, system, subprocess); sending signals (the grader is one kill
  away); ctypes; sockets; raising a resource limit.  Whatever it refused during a
  request is reported with the answer, so code that catches the refusal still fails.

Audit hooks are not a sandbox (PEP 578 says so): they see what Python's own functions announce,
not what C code does.  A C extension already loaded could call the C library directly; NumPy's
own functions are not audited (``np.memmap`` opens through Python's ``open``, which is).  The
grader's guarantees are the process boundary (the expected values never enter this process;
only numbers and arrays leave it, and the grader judges them), the limits, and its timeout.
README's "Teach with it" says what that does not stop.

The messages, both ways, are one NumPy ``.npz`` each (a JSON document stored as an array of
bytes, beside the arrays it names), framed as one ``.npy`` array of bytes (NumPy's own file
format, which states its length in its header) on a pipe of its own, so nothing the student
prints can corrupt them.  The grader loads an answer with ``allow_pickle=False``: nothing from
this process is ever unpickled.  What this process answers is plain data, by value (None,
bools, numbers, strings, arrays, and lists, tuples, dicts and named tuples of them); any other
object stays here and crosses as a handle, a number the grader names it by.
"""
import importlib
import importlib.machinery
import inspect
import io
import json
import os
import signal
import sys
import traceback
import warnings
from copy import deepcopy

import numpy as np

#: the largest message either side accepts (a bigger one is a broken protocol, not an answer)
MAX_MESSAGE = 256 * 2 ** 20
FILE_LIMIT = 64 * 2 ** 20
#: modules the student's code may not load (most would need a refused event anyway)
REFUSED_MODULES = {"subprocess", "_posixsubprocess", "ctypes", "_ctypes", "socket", "_socket", "multiprocessing",
                   "_multiprocessing", "pty", "mmap", "concurrent", "asyncio"}
#: extension modules loaded before ``_imp.create_dynamic`` is removed: what a student may use
EXTENSIONS = ("math", "cmath", "_random", "_bisect", "_heapq", "_json", "_struct", "binascii", "zlib",
              "_statistics", "_datetime", "array", "unicodedata", "numpy.linalg", "numpy.fft", "numpy.random")


# --- the messages --------------------------------------------------------------------------------
def encode(value, handle=None):
    """``value`` as one message (bytes): an ``.npz`` of the JSON document and its arrays.

    ``handle(obj) -> int`` keeps an object that is not plain data and names it; without it
    (the grader's side) such an object is an error, but a :class:`Handle` crosses as itself."""
    arrays = []

    def doc(v):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)) and type(v) in (int, float, bool):
            return v
        if isinstance(v, Handle):
            return {"__h": v._hid}
        if isinstance(v, type) and issubclass(v, np.generic) or isinstance(v, np.dtype):
            return {"__dtype": np.dtype(v).str}
        if isinstance(v, (np.ndarray, np.generic)) and not np.asarray(v).dtype.hasobject:
            arrays.append(np.asarray(v))
            return {"__a": len(arrays) - 1, "scalar": isinstance(v, np.generic)}
        if type(v) in (list, tuple):
            return [doc(x) for x in v] if type(v) is list else {"__t": [doc(x) for x in v]}
        if isinstance(v, tuple) and hasattr(v, "_fields"):
            return {"__nt": type(v).__name__, "fields": list(v._fields), "values": [doc(x) for x in v]}
        if type(v) is dict:
            return {"__d": [[doc(k), doc(x)] for k, x in v.items()]}
        if handle is None:
            raise TypeError(f"cannot send a {type(v).__name__} to the student's process")
        return {"__h": handle(v), "type": type(v).__name__}

    text = json.dumps(doc(value)).encode()
    buffer = io.BytesIO()
    np.savez(buffer, doc=np.frombuffer(text, dtype=np.uint8), **{f"a{i}": a for i, a in enumerate(arrays)})
    return buffer.getvalue()


class Handle:
    """An object that lives in the student's process, named by a number (the grader's side
    wraps it in :class:`.remote.Remote`)."""

    def __init__(self, hid, htype=""):
        self._hid, self._htype = hid, htype


def decode(data, resolve=None):
    """A message back into a value; ``resolve(id)`` turns a handle into its object (here), or,
    without it, into a :class:`Handle` (the grader's side).  Never unpickles."""
    from collections import namedtuple

    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    tree = json.loads(arrays.pop("doc").tobytes().decode())

    def value(d):
        if isinstance(d, list):
            return [value(x) for x in d]
        if not isinstance(d, dict):
            return d
        if "__a" in d:
            a = arrays[f"a{int(d['__a'])}"]
            return a[()] if d.get("scalar") else a
        if "__t" in d:
            return tuple(value(x) for x in d["__t"])
        if "__nt" in d:
            return namedtuple(str(d["__nt"]), [str(f) for f in d["fields"]])(*[value(x) for x in d["values"]])
        if "__d" in d:
            return {value(k): value(x) for k, x in d["__d"]}
        if "__dtype" in d:
            return np.dtype(str(d["__dtype"]))
        if "__h" in d:
            return resolve(int(d["__h"])) if resolve else Handle(int(d["__h"]), str(d.get("type", "")))
        raise ValueError(f"an unknown entry in a message: {sorted(d)}")

    return value(tree)


class Pipe:
    """One direction of a pipe, read or written whole messages at a time: each message is one
    ``.npy`` array of bytes (``numpy.lib.format``), whose header states its length."""

    def __init__(self, fd):
        self.fd = fd

    def read(self, n):                                # what numpy.lib.format reads through
        chunks = []
        while n > 0:
            chunk = os.read(self.fd, min(n, 2 ** 20))
            if not chunk:
                raise EOFError("the other side closed the pipe")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def send(self, message):
        framed = io.BytesIO()
        np.lib.format.write_array(framed, np.frombuffer(message, dtype=np.uint8), allow_pickle=False)
        view = memoryview(framed.getvalue())
        while view:
            view = view[os.write(self.fd, view):]

    def receive(self, limit=MAX_MESSAGE):
        version = np.lib.format.read_magic(self)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(self)
        if dtype != np.uint8 or len(shape) != 1 or shape[0] > limit:
            raise ValueError(f"a message of shape {shape} and dtype {dtype}, not bytes of at most {limit}")
        return self.read(shape[0])


# --- the student's process -------------------------------------------------------------------------
def under(path, folders):
    return any(path == f or path.startswith(f + os.sep) for f in folders)


#: what the hook refused during the current request, reported with its answer: code that tried and
#: caught the error still fails its exercise
REFUSED = []


def install_guard(reference, readable, scratch):
    """The audit hook: see the module's docstring for what it refuses."""
    refused_events = ("os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "os.startfile",
                      "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
                      "resource.setrlimit", "resource.prlimit", "ctypes.", "socket.",
                      "winreg.", "sys.remote_exec")
    # {event: (how many of its first arguments are paths, the positions of its dir_fd arguments)}
    writes = {"os.remove": (1, (1,)), "os.rmdir": (1, (1,)), "os.mkdir": (1, (2,)), "os.rename": (2, (2, 3)),
              "os.replace": (2, (2, 3)), "os.link": (2, (2, 3)), "os.symlink": (2, (2,)), "os.chmod": (1, (2,)),
              "os.chown": (1, (3,)), "os.truncate": (1, ()), "os.utime": (1, (3,)), "os.chflags": (1, ()),
              "os.lchflags": (1, ()), "os.mkfifo": (1, (2,)), "os.mknod": (1, (3,)), "shutil.rmtree": (1, (1,)),
              "shutil.move": (2, ()), "shutil.copyfile": (2, ()), "shutil.copymode": (2, ()),
              "shutil.copystat": (2, ()), "shutil.copytree": (2, ())}
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    realpath, fspath = os.path.realpath, os.fspath

    def where(path):
        path = fspath(path)
        return realpath(path.decode(errors="replace") if isinstance(path, bytes) else path)

    def refuse(event, args):
        try:
            check(event, args)
        except (PermissionError, ImportError) as err:
            REFUSED.append(str(err).replace("the grader's sandbox refuses to ", "").replace(
                "the grader's sandbox refuses ", ""))
            raise

    def check(event, args):
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int):                 # an open file descriptor: nothing new
                return
            full = where(path)
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & write_flags)
            if under(full, [reference]) or (writing and not under(full, [scratch])) or \
                    not (under(full, readable) or full.startswith("/dev/")):
                raise PermissionError(f"the grader's sandbox refuses to {'write' if writing else 'read'} {full}")
        elif event in writes:
            n, fds = writes[event]
            paths, dir_fds = args[:n], [args[i] for i in fds if i < len(args) and args[i] is not None]
            if any(isinstance(p, int) for p in paths) or dir_fds or not all(under(where(p), [scratch]) for p in paths):
                raise PermissionError(f"the grader's sandbox refuses {event} {' '.join(str(p) for p in paths)}")
        elif event == "import" and (args[0] in REFUSED_MODULES or args[0].split(".")[0] in REFUSED_MODULES):
            raise ImportError(f"the grader's sandbox refuses to import {args[0]}")
        elif event.startswith(refused_events):
            raise PermissionError(f"the grader's sandbox refuses {event}")

    sys.addaudithook(refuse)


class TimeLimit(BaseException):
    """Raised into the student's code when the grader's time for the exercise is up (SIGUSR1)."""


def _limit(which, value):
    import resource

    try:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):                     # (RLIMIT_NPROC below the current count, ...)
        pass


def confine(folder, reference, scratch, memory_mb, cpu_seconds):
    """Everything before the student's first line: limits, imports, paths, the hook."""
    import resource

    for name in EXTENSIONS:
        importlib.import_module(name)
    status = open("/proc/self/status").read() if os.path.exists("/proc/self/status") else ""
    vm = int(status.split("VmSize:")[1].split()[0]) * 1024 if "VmSize:" in status else 0
    _limit(resource.RLIMIT_AS, vm + memory_mb * 2 ** 20)
    _limit(resource.RLIMIT_CPU, cpu_seconds)
    _limit(resource.RLIMIT_FSIZE, FILE_LIMIT)
    _limit(resource.RLIMIT_CORE, 0)
    if hasattr(resource, "RLIMIT_NPROC"):
        _limit(resource.RLIMIT_NPROC, 0)
    standard = (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter,
                importlib.machinery.PathFinder)
    sys.meta_path[:] = [f for f in sys.meta_path if f in standard]
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [folder] + [p for p in sys.path if p and os.path.realpath(p) not in
                              (here, reference, os.path.dirname(reference))]
    sys.path_importer_cache.clear()
    for name in [m for m in sys.modules if m.split(".")[0] in REFUSED_MODULES]:
        del sys.modules[name]                         # (so that importing one asks the hook)
    sys.dont_write_bytecode = True
    os.chdir(scratch)
    readable = [os.path.realpath(p) for p in sys.path if p] + [os.path.realpath(p) for p in
                                                               (sys.prefix, sys.base_prefix, scratch, folder)]
    install_guard(os.path.realpath(reference), readable, os.path.realpath(scratch))
    import _imp

    del _imp.create_dynamic                           # no further C extension (see the docstring)


def _where(err, folder):
    """``layers.py line 71``: where ``err`` arose in the student's package (its last frame there)."""
    root = os.path.join(folder, "tinyvae")
    if isinstance(err, SyntaxError) and err.filename and under(os.path.realpath(err.filename), [root]):
        return f"{os.path.relpath(err.filename, root)} line {err.lineno}"
    frames = traceback.StackSummary.extract(traceback.walk_tb(err.__traceback__), lookup_lines=False)
    for frame in reversed(frames):                    # (no source line is read: the hook would refuse ours)
        if under(os.path.realpath(frame.filename), [root]):
            return f"{os.path.relpath(frame.filename, root)} line {frame.lineno}"
    return ""


def _described(err, folder):
    try:
        message = " ".join(str(err.msg if isinstance(err, SyntaxError) else err).split())[:300]
    except BaseException:
        message = "(a message that cannot be shown)"
    return {"type": type(err).__name__, "message": message, "where": _where(err, folder)}


def _call(fn, args, kwargs):
    """``fn(*args, **kwargs)``, and the names of the array arguments it wrote into."""
    try:
        named = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        named = {**{f"argument {i + 1}": a for i, a in enumerate(args)}, **kwargs}
    before = {k: v.copy() for k, v in named.items() if isinstance(v, np.ndarray)}
    result = fn(*args, **kwargs)
    return result, [k for k, v in before.items() if not _same(named[k], v)]


def _same(now, before):
    try:
        return np.array_equal(now, before, equal_nan=before.dtype.kind in "fc")
    except Exception:                                 # (an argument the code made into another kind of thing)
        return False


class Counter(io.TextIOBase):
    """Standard output and error: the lines the student's code prints are counted, not kept."""

    lines = 0

    def writable(self):
        return True

    def write(self, text):
        Counter.lines += str(text).count("\n")
        return len(text)


class Stub:
    """A stand-in the grader puts where the exercise's code calls another exercise's code: a
    call of it, or of any method of it (``stub.backward(dh)``), is recorded in ``calls`` as
    ``[args, kwargs]`` (copies) and returns the value it was given."""

    def __init__(self, returns):
        self.returns, self.calls = returns, []

    def __call__(self, *args, **kwargs):
        copy = lambda v: v.copy() if isinstance(v, np.ndarray) else v      # noqa: E731
        self.calls.append([[copy(a) for a in args], {k: copy(v) for k, v in kwargs.items()}])
        return deepcopy(self.returns)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self


def serve(pipe_in, pipe_out, folder):
    """Answer the grader's requests until it closes the pipe."""
    objects = {}

    def keep(obj):
        objects[id(obj)] = obj
        return id(obj)

    def at(obj, path):
        for key in path:
            obj = obj[key] if isinstance(obj, dict) else getattr(obj, key)
        return obj

    while True:
        try:
            request = decode(pipe_in.receive(), objects.__getitem__)
        except EOFError:
            return
        op, writes = request["op"], []
        Counter.lines = 0
        REFUSED.clear()
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            try:
                if op == "fresh":                      # an exercise starts: the student's modules anew
                    for name in [m for m in sys.modules if m == "tinyvae" or m.startswith("tinyvae.")]:
                        del sys.modules[name]
                    objects.clear()
                    result = None
                elif op == "import":
                    try:
                        result = importlib.import_module("tinyvae." + request["module"])
                    except BaseException as err:
                        err.importing = True
                        raise
                elif op == "get":
                    result = at(request["obj"], request["path"])
                elif op == "set":
                    setattr(request["obj"], request["name"], request["value"])
                    result = None
                elif op == "put":                      # an array of the student's objects, written in place
                    at(request["obj"], request["path"])[...] = request["value"]
                    result = None
                elif op == "id":
                    result = id(at(request["obj"], request["path"]))
                elif op == "rng":
                    result = np.random.default_rng(request["seed"])
                elif op == "stub":
                    result = Stub(request["returns"])
                elif op == "call":
                    result, writes = _call(request["obj"], request["args"], request["kwargs"])
                elif op == "map":                      # many calls of one function in one request
                    result = []
                    for args, kwargs in request["calls"]:
                        value, wrote = _call(request["obj"], args, kwargs)
                        result.append(value)
                        writes += [w for w in wrote if w not in writes]
                else:
                    raise ValueError(f"unknown request {op!r}")
                reply = {"ok": result}
            except BaseException as err:              # SystemExit, MemoryError, TimeLimit included
                reply = {"error": {**_described(err, folder), "importing": getattr(err, "importing", False)}}
        try:
            name = str(request["obj"].__qualname__) if op in ("call", "map") else ""
        except BaseException:
            name = ""
        reply.update(printed=Counter.lines, wrote=writes, refused=REFUSED[:3], name=name,
                     warnings=[" ".join(str(w.message).split())[:200] for w in warned[:3]])
        try:
            message = encode(reply, keep)
        except BaseException as err:                  # an answer that cannot be sent, said so instead
            message = encode({"error": {**_described(err, folder), "importing": False}, "printed": Counter.lines,
                              "wrote": [], "warnings": [], "name": "", "refused": REFUSED[:3]})
        pipe_out.send(message)


def main(argv):
    folder, reference, scratch = (os.path.realpath(a) for a in argv[1:4])
    memory_mb, cpu_seconds, fd_in, fd_out = (int(a) for a in argv[4:8])
    pipe_in, pipe_out = Pipe(fd_in), Pipe(fd_out)

    def time_up(signum, frame):
        raise TimeLimit("the grader's time for this exercise is up")

    signal.signal(signal.SIGUSR1, time_up)
    confine(folder, reference, scratch, memory_mb, cpu_seconds)
    sys.stdout = sys.stderr = Counter()
    pipe_out.send(encode({"ok": "ready", "printed": 0, "wrote": [], "warnings": [], "name": "", "refused": []}))
    serve(pipe_in, pipe_out, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
