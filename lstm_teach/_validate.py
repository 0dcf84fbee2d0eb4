"""Input checks shared by every public function.

A learner's first mistake is usually a shape. numpy would report it as a broadcasting error
deep inside a matrix product; these checks report it at the door instead, naming the argument,
the shape expected and the shape given.
"""

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def shape_str(shape) -> str:
    """(5, 2, 4) -> '(5, 2, 4)'; names such as 'T' stay as they are."""
    parts = [str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def as_array(name: str, value) -> np.ndarray:
    """Return value as a plain ndarray without copying it, or raise a ValueError naming it.

    A masked array is refused: numpy would compute with the values under its mask as they
    are (NaN or garbage), silently. Other ndarray subclasses are viewed as plain arrays: for
    np.matrix, `*` is a matrix product, which gives wrong numbers without an error whenever
    the shapes happen to allow it (B == H).
    """
    if isinstance(value, np.ma.MaskedArray):
        raise ValueError(
            f"{name} must be a plain numpy array; got a masked array of shape "
            f"{shape_str(value.shape)} (its masked entries would be used as they are: pass "
            f"{name}.filled(0.0), or np.asarray({name}) if they are meant)")
    if isinstance(value, np.ndarray):
        return value if type(value) is np.ndarray else np.asarray(value)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # a ragged list, an object that is no array at all
        raise ValueError(f"{name} must be a numpy array; got {type(value).__name__}") from exc
    if arr.dtype == object:
        raise ValueError(f"{name} must be a numeric numpy array; got {type(value).__name__}")
    return arr


def check_array(name: str, value, expected: tuple, dtype=None, why: str = "") -> np.ndarray:
    """Check ndim, shape, dtype and finiteness of one argument.

    expected: the expected shape; an entry None matches any size, a str names a free size
    that is only used in the message (e.g. "T"), an int must match exactly.
    dtype: the dtype the array must have (so that float32 and float64 never mix), or None
    for "any float dtype".
    why: appended to the message, e.g. "to match p.wxi (4, 3)".
    """
    arr = as_array(name, value)
    shown = tuple("?" if e is None else e for e in expected)
    suffix = f" {why}" if why else ""
    if arr.ndim != len(expected) or any(
        isinstance(e, int) and e != s for e, s in zip(expected, arr.shape)
    ):
        raise ValueError(
            f"{name} must have shape {shape_str(shown)}{suffix}; got {shape_str(arr.shape)}"
        )
    if dtype is None:
        if arr.dtype not in FLOAT_DTYPES:
            raise ValueError(f"{name} must be float32 or float64; got {arr.dtype}")
    elif arr.dtype != dtype:
        raise ValueError(
            f"{name} must have dtype {np.dtype(dtype)} like the parameters; got {arr.dtype} "
            "(mixing float32 and float64 would silently change precision)"
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; got {bad} NaN or inf entries")
    return arr


def check_int(name: str, value, minimum: int = 1) -> int:
    """A positive integer argument such as hidden_size or truncate."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def check_state(name: str, value, shape: tuple, dtype, why: str = "") -> np.ndarray:
    """A state or a gradient into one (h0, c_prev, dhT, ...): None means zeros of shape."""
    if value is None:
        return np.zeros(shape, dtype)
    return check_array(name, value, shape, dtype=dtype, why=why)
