"""The grading child: runs one student's notebook code inside the sandbox, then calls the graded
functions on the inputs the parent drew, and reports what they returned.

It runs as a script in a fresh interpreter inside bubblewrap, so it imports only the standard
library, numpy and the student edition of lstm_teach (the graded functions and their private
helpers removed). Nothing it sends is trusted: the parent decodes plain data (JSON, no pickle),
keeps an exception's type and line only, and compares arrays with values it computed itself.

stdin: one JSON message a line. First the header (sys_path, the lstm_teach types to decode),
then one message a phase: the student edition's modules (imported afresh, from memory), the
notebook's cells to run, code that provides the reference's upstream functions, and the
graded calls. The parent sends the next phase only after it holds a result for every call of
this one, so nothing a later phase reveals (e.g. the reference's helpers) can reach a result
already sent.
fd 1 at start: the channel, one line per record:
    C id        cell id starts             P id      graded call id starts
    R {json}    result of a cell or call   E p       phase p is over
    D           done
The student's own output goes to /dev/null.
"""

import base64
import importlib
import importlib.util
import json
import os
import sys
import traceback

MAX_ARRAY_BYTES = 16 * 2**20


def _encode(v, depth=0):
    """Plain data for a returned value: arrays, NamedTuples (by field), lists, dicts, numbers."""
    import numpy as np

    if depth > 6:
        return {"o": "nested too deep"}
    if isinstance(v, np.ndarray) or isinstance(v, np.generic):
        a = np.ascontiguousarray(v)
        if a.dtype.kind not in "fiub":
            return {"o": f"array of {a.dtype.name}"}
        if a.nbytes > MAX_ARRAY_BYTES:
            return {"o": "array larger than 16 MB"}
        if a.dtype.kind == "f" and a.dtype.itemsize > 8:
            a = a.astype(np.float64)
        return {"a": a.dtype.str, "s": list(a.shape), "d": base64.b64encode(a.tobytes()).decode()}
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return {"nt": [str(f) for f in v._fields],
                "v": [_encode(x, depth + 1) for x in tuple(v)[:64]]}
    if isinstance(v, (list, tuple)):
        return {"l": [_encode(x, depth + 1) for x in list(v)[:100000]]}
    if isinstance(v, dict):
        return {"m": {str(k): _encode(x, depth + 1) for k, x in list(v.items())[:64]}}
    if v is None or isinstance(v, (bool, int, float)):
        return v if not isinstance(v, int) or abs(v) < 2**53 else float(v)
    try:  # an object with the fields of a NamedTuple, or anything array-like
        return _encode(np.asarray(v), depth + 1) if hasattr(v, "__array__") else {
            "o": type(v).__name__[:40]}
    except Exception:
        return {"o": type(v).__name__[:40]}


def _decode(v, types):
    import numpy as np

    if isinstance(v, dict):
        if "a" in v:
            raw = base64.b64decode(v["d"])
            return np.frombuffer(raw, dtype=np.dtype(v["a"])).reshape(v["s"]).copy()
        if "nt" in v:
            cls = types.get(v["nt"])
            values = {k: _decode(x, types) for k, x in v["f"].items()}
            if cls is None:
                from collections import namedtuple

                cls = namedtuple(v["nt"], list(values))
            return cls(**values)
        if "l" in v:
            return [_decode(x, types) for x in v["l"]]
    return v


def _arrays_in(value, prefix=""):
    import numpy as np

    if isinstance(value, np.ndarray):
        yield prefix, value
    elif isinstance(value, (list, tuple)):
        names = getattr(value, "_fields", None) or [str(k) for k in range(len(value))]
        for name, item in zip(names, value):
            yield from _arrays_in(item, f"{prefix}.{name}" if prefix else name)


def _where(exc, prefix):
    """The line of the student's cell where exc was raised (0 if not in their code)."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(prefix):
            line = frame.lineno or 0
    return line


class _Channel:
    def __init__(self, fd):
        self.fd = fd

    def send(self, text):
        data = (text + "\n").encode()
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass


class _Edition:
    """Imports lstm_teach from the sources the parent sent (no files): a meta path finder.
    Code objects are kept by source, so a module that several editions share (a stub,
    activations.py) is compiled once."""

    def __init__(self):
        self.files, self.compiled = {}, {}

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if parts[0] != "lstm_teach" or len(parts) > 2:
            return None
        rel = "__init__.py" if len(parts) == 1 else f"{parts[1]}.py"
        if rel not in self.files:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, origin=f"lstm_teach/{rel}",
                                               is_package=len(parts) == 1)
        if len(parts) == 1:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        rel = module.__spec__.origin.partition("/")[2]
        source = self.files[rel]
        code = self.compiled.get(source)
        if code is None:
            code = self.compiled[source] = compile(source, module.__spec__.origin, "exec")
        exec(code, module.__dict__)


_EDITION = _Edition()


def _install(modules):
    """Make `import lstm_teach` load this phase's student edition afresh."""
    _EDITION.files = dict(modules)
    if _EDITION not in sys.meta_path:
        sys.meta_path.insert(0, _EDITION)
    for name in [m for m in sys.modules if m == "lstm_teach" or m.startswith("lstm_teach.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _types(wanted):
    out = {}
    for entry in wanted:
        module, _, name = entry.partition(":")
        try:
            mod = importlib.import_module("lstm_teach" + (f".{module}" if module else ""))
            out[name] = getattr(mod, name)
        except Exception:  # a stub module, or a student who broke the import system
            pass
    return out


def _call(channel, call, ns, types, np):
    channel.send(f"P {call['id']}")
    fn = ns.get(call["function"])
    if not callable(fn):
        channel.send("R " + json.dumps({"part": call["id"], "status": "missing"}))
        return
    args = [_decode(a, types) for a in call["args"]]
    kwargs = {key: _decode(v, types) for key, v in call["kwargs"].items()}
    before = [(name, a.copy()) for name, a in _arrays_in(args + list(kwargs.values()))]
    record = {"part": call["id"], "status": "ok"}
    try:
        returned = fn(*args, **kwargs)
        record["ret"] = _encode(returned)
    except BaseException as exc:
        record.update(status="error", exc=type(exc).__name__, line=_where(exc, "<cell "))
    after = dict(_arrays_in(args + list(kwargs.values())))
    record["mutated"] = [name for name, old in before
                         if name not in after or after[name].shape != old.shape
                         or not np.array_equal(after[name], old, equal_nan=True)]
    channel.send("R " + json.dumps(record))


def main():
    jobs = os.fdopen(os.dup(0), "rb")
    channel = _Channel(os.dup(1))
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    header = json.loads(jobs.readline())
    base_path = list(header["sys_path"])
    sys.path[:] = base_path
    import numpy as np

    ns, types = None, {}
    while True:
        line = jobs.readline()
        if not line:
            break
        msg = json.loads(line)
        if msg.get("end"):
            break
        if msg.get("modules") is not None:
            _install(msg["modules"])
            types = _types(header["types"])
        if msg.get("new_ns") or ns is None:
            ns = {"__name__": "__main__", "__builtins__": __builtins__}
        for cell in msg["cells"]:
            channel.send(f"C {cell['id']}")
            try:
                exec(compile(cell["source"], f"<cell {cell['id']}>", "exec"), ns)
            except BaseException as exc:  # SystemExit too: the notebook goes on
                channel.send("R " + json.dumps({"cell": cell["id"], "exc": type(exc).__name__,
                                                "line": _where(exc, f"<cell {cell['id']}>")}))
        if msg.get("provide"):  # the reference's upstream functions: bugs do not cascade
            try:
                exec(compile(msg["provide"], "<provided>", "exec"), ns)
            except BaseException:  # the student broke what it needs: their calls fail
                pass
        for call in msg["calls"]:
            _call(channel, call, ns, types, np)
        channel.send(f"E {msg['phase']}")
    channel.send("D")
    os._exit(0)  # threads the student started must not keep the process alive


if __name__ == "__main__":
    main()
