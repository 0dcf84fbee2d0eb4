"""The grading child: runs one student's notebook code inside the sandbox, then calls the graded
functions on the inputs the parent drew, and reports what they returned.

It runs as a script in a fresh interpreter inside bubblewrap, so it imports only the standard
library, numpy and the student edition of lstm_teach (the graded functions and their private
helpers removed). Nothing it sends is trusted: the parent decodes plain data (JSON, no pickle),
keeps an exception's type and line only, and compares arrays with values it computed itself.

stdin: the job (JSON). fd 1 at start: the channel, one line per record:
    C k            cell k starts            P k           graded call k starts
    R {json}       result of call k         D             done
The student's own output goes to /dev/null.
"""

import base64
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


def main():
    job = json.loads(sys.stdin.buffer.read())
    channel = _Channel(os.dup(1))
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.path[:] = job["sys_path"]
    import numpy as np

    import lstm_teach as lt

    types = {name: getattr(lt, name) for name in job["types"] if hasattr(lt, name)}
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    for index, cell in enumerate(job["cells"]):
        if index in job["skip_cells"]:
            continue
        channel.send(f"C {index}")
        try:
            exec(compile(cell["source"], f"<cell {index}>", "exec"), ns)
        except BaseException as exc:  # SystemExit too: the notebook goes on
            channel.send("R " + json.dumps({"cell": index, "exc": type(exc).__name__,
                                            "line": _where(exc, f"<cell {index}>")}))
    for k, part in enumerate(job["parts"]):
        if part.get("provide"):  # the reference's upstream functions: bugs do not cascade
            exec(compile(part["provide"], "<provided>", "exec"), ns)
        channel.send(f"P {k}")
        fn = ns.get(part["function"])
        if not callable(fn):
            channel.send("R " + json.dumps({"part": k, "status": "missing"}))
            continue
        args = [_decode(a, types) for a in part["args"]]
        kwargs = {key: _decode(v, types) for key, v in part["kwargs"].items()}
        before = [(name, a.copy()) for name, a in _arrays_in(args + list(kwargs.values()))]
        record = {"part": k, "status": "ok"}
        try:
            returned = fn(*args, **kwargs)
            record["ret"] = _encode(returned)
        except BaseException as exc:
            record.update(status="error", exc=type(exc).__name__,
                          line=_where(exc, "<cell "))
        after = dict(_arrays_in(args + list(kwargs.values())))
        record["mutated"] = [name for name, old in before
                             if name not in after or after[name].shape != old.shape
                             or not np.array_equal(after[name], old, equal_nan=True)]
        channel.send("R " + json.dumps(record))
    channel.send("D")
    os._exit(0)  # threads the student started must not keep the process alive


if __name__ == "__main__":
    main()
