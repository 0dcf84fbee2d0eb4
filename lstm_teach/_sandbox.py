"""The grading child: runs one student's notebook code and calls their functions.

lstm_teach.grading copies this file into a scratch folder and runs it as a script in a fresh
interpreter, with resource limits, that scratch folder as working directory, and a "student
edition" of lstm_teach first on sys.path (the functions being graded are switched off in it).
So this file imports only the standard library and numpy, and never the real lstm_teach.

The parent writes job.json; the child answers on its standard output, one JSON object per
line (the student's own prints and errors go to a log file instead):

    {"event": "ready", "landlock": true}
    {"event": "cell_start", "index": k}   {"event": "cell_end", "index": k, "error": null}
    {"event": "part_start", "part": id}   {"event": "part_end", "part": id, ...}
    {"event": "done"}

Nothing the child sends is trusted: the parent only decodes arrays from it (never pickles)
and compares them with values it computed itself. The helpers `unpack`, `encode_value`,
`decode_value` are shared with lstm_teach.check and lstm_teach.grading.
"""

import base64
import ctypes
import hashlib
import json
import os
import sys

PARAM_NAMES = ("wxi", "whi", "bi", "wxg", "whg", "bg", "wxf", "whf", "bf", "wxo", "who", "bo")
CELL_GRAD_NAMES = ("do", "dc", "di", "dg", "df", "dc_prev", "dzi", "dzg", "dzf", "dzo")
ARRAY_DTYPES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "bool")
MAX_ARRAY_BYTES = 16 * 2**20


class UnpackError(ValueError):
    """A function returned something that does not have the expected structure."""


# ---------------------------------------------------------------- returned values -> arrays

def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    return type(value).__name__


def _array(name, value):
    import numpy as np

    if value is None:
        raise UnpackError(f"{name} is None: is the function finished?")
    try:
        a = np.asarray(value)
    except Exception as exc:  # an object whose conversion fails
        raise UnpackError(f"{name} is not an array: got {_describe(value)} ({exc})") from None
    if a.dtype.kind not in "fiub":
        raise UnpackError(f"{name} is not an array of numbers: got {_describe(value)}")
    return a


def _sequence(value, n, what):
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise UnpackError(f"must return {what}; got {_describe(value)}")
    return value


def _fields(name, value, names):
    """Arrays by name from a NamedTuple (or any object with those attributes), a dict, or a
    sequence in the reference's field order."""
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing:
            raise UnpackError(f"{name} has no entries {', '.join(missing)}")
        return {n: _array(n, value[n]) for n in names}
    if all(hasattr(value, n) for n in names):
        return {n: _array(n, getattr(value, n)) for n in names}
    if isinstance(value, (tuple, list)) and len(value) == len(names):
        return {n: _array(n, v) for n, v in zip(names, value)}
    raise UnpackError(f"{name} must hold the {len(names)} arrays {', '.join(names)}; "
                      f"got {_describe(value)}")


def unpack(kind: str, returned) -> dict:
    """The named arrays a graded function returned; kind says what it should return."""
    if kind == "cell_forward":  # (h, c, cache)
        h, c, _ = _sequence(returned, 3, "(h, c, cache)")
        return {"h": _array("h", h), "c": _array("c", c)}
    if kind == "local_gradients":  # CellGrads
        return _fields("the result", returned, CELL_GRAD_NAMES)
    if kind == "weight_gradients":  # (dwx, dwh, db)
        dwx, dwh, db = _sequence(returned, 3, "(dwx, dwh, db)")
        return {"dwx": _array("dwx", dwx), "dwh": _array("dwh", dwh), "db": _array("db", db)}
    if kind == "hidden_gradient":  # dh_prev
        return {"dh_prev": _array("dh_prev", returned)}
    if kind == "cell_backward":  # (grads, dh_prev, dc_prev)
        grads, dh_prev, dc_prev = _sequence(returned, 3, "(grads, dh_prev, dc_prev)")
        out = _fields("grads", grads, PARAM_NAMES)
        out.update(dh_prev=_array("dh_prev", dh_prev), dc_prev=_array("dc_prev", dc_prev))
        return out
    if kind == "lstm_backward":  # (grads, dh0, dc0)
        grads, dh0, dc0 = _sequence(returned, 3, "(grads, dh0, dc0)")
        out = _fields("grads", grads, PARAM_NAMES)
        out.update(dh0=_array("dh0", dh0), dc0=_array("dc0", dc0))
        return out
    if kind == "params":  # LSTMParams
        return _fields("the result", returned, PARAM_NAMES)
    if kind == "train":  # (p, losses)
        p, losses = _sequence(returned, 2, "(p, losses)")
        out = _fields("p", p, PARAM_NAMES)
        try:
            out["losses"] = _array("losses", [float(v) for v in losses])
        except (TypeError, ValueError):
            raise UnpackError(f"losses must be a list of numbers; got {_describe(losses)}"
                              ) from None
        return out
    raise ValueError(f"unknown kind {kind!r}")


# ---------------------------------------------------------------- values <-> JSON

def encode_array(a) -> dict:
    import numpy as np

    a = np.ascontiguousarray(a)
    if a.dtype.name not in ARRAY_DTYPES:
        a = a.astype(np.float64)
    return {"__array__": a.dtype.name, "shape": list(a.shape),
            "data": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(d):
    """An array from encode_array's dict, refusing anything malformed (untrusted input)."""
    import numpy as np

    if not isinstance(d, dict) or d.get("__array__") not in ARRAY_DTYPES:
        raise ValueError("not an encoded array")
    shape = d.get("shape")
    if not isinstance(shape, list) or len(shape) > 8 or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape):
        raise ValueError("bad shape")
    data = d.get("data")
    if not isinstance(data, str) or len(data) > MAX_ARRAY_BYTES * 4 // 3 + 4:
        raise ValueError("bad data")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    dtype = np.dtype(d["__array__"])
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(raw):
        raise ValueError("data does not match shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode_value(v):
    """Arrays, NamedTuples (by class name), lists, dicts of str keys, and scalars as JSON."""
    import numpy as np

    if isinstance(v, np.ndarray):
        return encode_array(v)
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return {"__namedtuple__": type(v).__name__,
                "fields": {k: encode_value(x) for k, x in zip(v._fields, v)}}
    if isinstance(v, (list, tuple)):
        return {"__list__": [encode_value(x) for x in v]}
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise TypeError(f"cannot encode {type(v).__name__}")


def decode_value(v, types: dict):
    """The inverse of encode_value; types maps NamedTuple class names to classes."""
    if isinstance(v, dict):
        if "__array__" in v:
            return decode_array(v)
        if "__namedtuple__" in v:
            cls = types[v["__namedtuple__"]]
            return cls(**{k: decode_value(x, types) for k, x in v["fields"].items()})
        if "__list__" in v:
            return [decode_value(x, types) for x in v["__list__"]]
        raise ValueError("unknown encoded value")
    return v


# ---------------------------------------------------------------- code fingerprints

def code_fingerprint(code) -> str:
    """A hash of a code object: its bytecode, names and constants (docstring included).

    File name and line numbers are left out, so a verbatim copy of a function (loaded from
    another file, or pasted into a notebook) has the same fingerprint. The docstring is kept:
    a one-line answer written in the exercise's own function, under the exercise's docstring,
    must not match the reference's one-liner by accident.
    """
    h = hashlib.sha256()
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)).encode())
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            h.update(code_fingerprint(const).encode())
        else:
            h.update(repr(const).encode())
    return h.hexdigest()


def _origin(fn) -> dict:
    """Where a graded function comes from, unwrapping functools.partial and decorators."""
    seen = 0
    while seen < 10:
        seen += 1
        inner = getattr(fn, "func", None) or getattr(fn, "__wrapped__", None)
        if inner is None or inner is fn:
            break
        fn = inner
    code = getattr(fn, "__code__", None)
    return {"module": str(getattr(fn, "__module__", "") or ""),
            "filename": str(getattr(code, "co_filename", "")) if code else "",
            "type": type(fn).__name__,
            "fingerprint": code_fingerprint(code) if code else ""}


# ---------------------------------------------------------------- Landlock (Linux >= 5.13)

_LL_READ_FILE, _LL_READ_DIR = 1 << 2, 1 << 3
_LL_WRITE_FILE, _LL_REMOVE_DIR, _LL_REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_LL_MAKE = sum(1 << k for k in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_LL_REFER, _LL_TRUNCATE = 1 << 13, 1 << 14


def readable_around(hidden: list) -> list:
    """Every top folder or file of the file system except the hidden paths: for each hidden
    path, the siblings of it and of each of its ancestors. Symbolic links are left out (what
    they point to is covered, or hidden, where it really lives)."""
    hidden = [os.path.realpath(h) for h in hidden]
    out = []

    def visit(folder):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return
        for name in names:
            path = os.path.join(folder, name)
            if path in hidden or os.path.islink(path):
                continue
            if any(h.startswith(path + os.sep) for h in hidden):
                visit(path)
            else:
                out.append(path)

    visit(os.sep)
    return out


def restrict(writable: list, hidden: list = ()) -> bool:
    """Let this process (and its children) write only below `writable`, and read nothing
    below `hidden`; everything else stays readable.

    Uses the kernel's Landlock (Linux >= 5.13); returns False, changing nothing, where it is
    unavailable. Landlock also stops the process from tracing or reading the memory of
    processes outside its sandbox, such as the grader.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
        syscall.restype = ctypes.c_long
        abi = syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # ruleset version
        if abi < 1:
            return False
        write = _LL_WRITE_FILE | _LL_REMOVE_DIR | _LL_REMOVE_FILE | _LL_MAKE
        if abi >= 2:
            write |= _LL_REFER
        if abi >= 3:
            write |= _LL_TRUNCATE
        read = (_LL_READ_FILE | _LL_READ_DIR) if hidden else 0
        handled = write | read
        file_rights = _LL_WRITE_FILE | _LL_TRUNCATE | _LL_READ_FILE
        rules = [(p, handled) for p in writable] + [("/dev/null", handled & file_rights)]
        if hidden:
            rules += [(p, read) for p in readable_around(list(hidden) + list(writable))]
        attr = ctypes.c_uint64(handled)
        fd = syscall(444, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
        if fd < 0:
            return False

        class PathBeneath(ctypes.Structure):
            _pack_ = 1
            _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

        for path, rights in rules:
            try:
                pfd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    rights &= file_rights
                rule = PathBeneath(rights, pfd)
                if rights and syscall(445, ctypes.c_int(fd), ctypes.c_int(1),
                                      ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    os.close(fd)
                    return False
            finally:
                os.close(pfd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required by Landlock
            return False
        ok = syscall(446, ctypes.c_int(fd), ctypes.c_uint32(0)) == 0
        os.close(fd)
        return ok
    except (OSError, AttributeError):
        return False


# ---------------------------------------------------------------- the child's main program

class _Channel:
    """The protocol: JSON lines on a private copy of the original standard output."""

    def __init__(self, fd):
        self.fd = fd

    def send(self, **event):
        data = (json.dumps(event) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]


def _arrays_in(value, prefix=""):
    import numpy as np

    if isinstance(value, np.ndarray):
        yield prefix, value
    elif isinstance(value, (list, tuple)):
        names = getattr(value, "_fields", None) or [str(k) for k in range(len(value))]
        for name, item in zip(names, value):
            yield from _arrays_in(item, f"{prefix}.{name}" if prefix else name)


def _run_part(part, ns, types, channel, lt_module):
    """Call one graded function on the inputs the parent sent, and report what it returned."""
    import numpy as np

    pid = part["id"]
    fn = ns.get(part["function"])
    if fn is None or not callable(fn):
        channel.send(event="part_end", part=pid, status="missing",
                     error=f"no function named {part['function']} was defined")
        return
    args = [decode_value(a, types) for a in part["args"]]
    kwargs = {k: decode_value(v, types) for k, v in part["kwargs"].items()}
    before = [(name, a.copy()) for name, a in _arrays_in(list(args) + list(kwargs.values()))]
    calls = getattr(lt_module, "_switched_off_calls", None)
    if isinstance(calls, list):
        del calls[:]
    codes = set()

    def profile(frame, event, arg):
        if event == "call":
            codes.add(frame.f_code)

    status, error, outputs = "ok", None, None
    sys.setprofile(profile)
    try:
        returned = fn(*args, **kwargs)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are the student's too
        status, error = "error", f"{type(exc).__name__}: {exc}"[:1000]
    tampered = sys.getprofile() is not profile
    sys.setprofile(None)
    if status == "ok":
        try:
            outputs = {k: encode_array(v) for k, v in unpack(part["unpack"], returned).items()}
        except UnpackError as exc:
            status, error = "bad_return", str(exc)[:1000]
        except BaseException as exc:
            status, error = "bad_return", f"{type(exc).__name__}: {exc}"[:1000]
    after = dict(_arrays_in(list(args) + list(kwargs.values())))
    mutated = [name for name, old in before
               if name not in after or after[name].shape != old.shape
               or not np.array_equal(after[name], old, equal_nan=True)]
    fingerprints = sorted({code_fingerprint(c) for c in list(codes)[:20000]})
    switched_off = list(calls) if isinstance(calls, list) else []
    channel.send(event="part_end", part=pid, status=status, error=error, outputs=outputs,
                 mutated=mutated, origin=_origin(fn), fingerprints=fingerprints,
                 switched_off=[str(s) for s in switched_off][:20], tampered=tampered)


def main():
    job_path = os.path.abspath(sys.argv[1])
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    channel = _Channel(os.dup(1))
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.path[:] = job["sys_path"]
    import numpy  # noqa: F401  (before the limits: the student edition needs it)

    import lstm_teach as lt_module

    types = {name: getattr(lt_module, name) for name in
             ("LSTMParams", "CellCache", "CellGrads", "SeqCache") if hasattr(lt_module, name)}
    landlock = restrict([os.getcwd()], job.get("hidden", [])) if job.get("landlock") else False
    os.remove(job_path)  # the student's code need not see the parts to come
    channel.send(event="ready", landlock=landlock)
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    skip = set(job["skip_cells"])
    for index, cell in enumerate(job["cells"]):
        if index in skip:
            continue
        channel.send(event="cell_start", index=index)
        error = None
        try:
            exec(compile(cell["source"], f"<cell {cell['label']}>", "exec"), ns)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        channel.send(event="cell_end", index=index, error=error)
    for part in job["parts"]:
        channel.send(event="part_start", part=part["id"])
        _run_part(part, ns, types, channel, lt_module)
    channel.send(event="done")
    os._exit(0)  # threads the student started must not keep the process alive


if __name__ == "__main__":
    main()
