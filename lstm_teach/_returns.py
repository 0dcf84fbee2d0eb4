"""What a graded function returned, as named arrays: shared by lstm_teach.check (students'
self-checks) and lstm_teach.grading (the instructor's grader), which both compare a returned
structure quantity by quantity with the reference."""

PARAM_NAMES = ("wxi", "whi", "bi", "wxg", "whg", "bg", "wxf", "whf", "bf", "wxo", "who", "bo")
CELL_GRAD_NAMES = ("do", "dc", "di", "dg", "df", "dc_prev", "dzi", "dzg", "dzf", "dzo")
GRU_PARAM_NAMES = ("wxr", "whr", "br", "wxz", "whz", "bz", "wxn", "whn", "bxn", "bhn")


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
    if kind == "input_gradient":  # dx
        return {"dx": _array("dx", returned)}
    if kind == "cell_backward":  # StepGrads(params, dx, dh_prev, dc_prev)
        grads, dx, dh_prev, dc_prev = _sequence(returned, 4, "(grads, dx, dh_prev, dc_prev)")
        out = _fields("grads", grads, PARAM_NAMES)
        out.update(dx=_array("dx", dx), dh_prev=_array("dh_prev", dh_prev),
                   dc_prev=_array("dc_prev", dc_prev))
        return out
    if kind == "lstm_backward":  # SeqGrads(params, dxs, dh0, dc0)
        grads, dxs, dh0, dc0 = _sequence(returned, 4, "(grads, dxs, dh0, dc0)")
        out = _fields("grads", grads, PARAM_NAMES)
        out.update(dxs=_array("dxs", dxs), dh0=_array("dh0", dh0), dc0=_array("dc0", dc0))
        return out
    if kind == "gru_cell_backward":  # GRUStepGrads(params, dx, dh_prev)
        grads, dx, dh_prev = _sequence(returned, 3, "(grads, dx, dh_prev)")
        out = _fields("grads", grads, GRU_PARAM_NAMES)
        out.update(dx=_array("dx", dx), dh_prev=_array("dh_prev", dh_prev))
        return out
    if kind == "gru_backward":  # GRUSeqGrads(params, dxs, dh0)
        grads, dxs, dh0 = _sequence(returned, 3, "(grads, dxs, dh0)")
        out = _fields("grads", grads, GRU_PARAM_NAMES)
        out.update(dxs=_array("dxs", dxs), dh0=_array("dh0", dh0))
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
