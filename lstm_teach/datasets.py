"""Two small tasks for the training notebook: a sine wave to continue, and a text to imitate.

Both are small enough to train in seconds on a laptop, and both ship with the package: the
text is lstm_teach/data/fables.txt (Aesop's fables, public domain, retold for this project;
see lstm_teach/data/README.md), read with importlib.resources, so nothing is downloaded.
"""

from importlib import resources
from typing import NamedTuple

import numpy as np

from ._validate import check_int

FLOAT_DTYPES = (np.float32, np.float64)


def _check_dtype(dtype):
    if np.dtype(dtype) not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be np.float32 or np.float64; got {np.dtype(dtype)}")
    return np.dtype(dtype)


# ------------------------------------------------------------------------ the sine wave

def sine_wave(T: int = 50, B: int = 16, period: float = 20.0, seed: int = 0,
              dtype=np.float64):
    """Next-value prediction on sine waves with random phases.

    xs[t] = sin(2 pi (t + phase) / period) and ys[t] = xs[t + 1]: the network sees the wave
    up to step t and predicts the next value. One value does not tell whether the wave is
    rising or falling, so the task needs memory of at least one earlier step.

    T: steps per sequence; B: sequences (each its own random phase); period: in steps.
    Returns xs (T, B, 1) and ys (T, B, 1) of the given dtype.
    """
    T, B = check_int("T", T), check_int("B", B)
    if not np.isfinite(period) or period <= 0:
        raise ValueError(f"period must be a positive number of steps; got {period!r}")
    dtype = _check_dtype(dtype)
    phase = np.random.default_rng(seed).uniform(0, period, size=B)
    t = np.arange(T + 1)[:, None] + phase[None, :]  # (T + 1, B)
    wave = np.sin(2 * np.pi * t / period)[..., None].astype(dtype)
    return wave[:-1], wave[1:]


# ------------------------------------------------------------------------ text

def load_text(name: str = "fables.txt") -> str:
    """The text of a file shipped in lstm_teach/data (default: the fables corpus)."""
    files = resources.files("lstm_teach") / "data"
    available = sorted(p.name for p in files.iterdir() if p.name.endswith(".txt"))
    if name not in available:
        raise ValueError(f"name must be one of the shipped texts {available}; got {name!r}")
    return (files / name).read_text(encoding="utf-8")


class Vocab(NamedTuple):
    """The characters of a text, sorted; a character's index is its class for the model."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        if not isinstance(text, str) or not text:
            raise ValueError(f"text must be a non-empty str; got {text!r:.40}")
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """str of length N -> int64 array (N,) of character indices."""
        index = {ch: k for k, ch in enumerate(self.chars)}
        missing = sorted(set(text) - set(index))
        if missing:
            raise ValueError(f"text must only use the vocabulary's {self.size} characters; "
                             f"got {missing[:5]}")
        return np.array([index[ch] for ch in text], dtype=np.int64)

    def decode(self, ids) -> str:
        """Indices, any int array-like of shape (N,) -> str of length N."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"ids must be a 1-d integer array; got shape {ids.shape}, "
                             f"dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids must lie in [0, {self.size}); got {ids.min()} to {ids.max()}")
        return "".join(self.chars[k] for k in ids)

    def one_hot(self, ids, dtype=np.float64) -> np.ndarray:
        """Indices (...) -> one-hot vectors (..., V) of the given dtype: the LSTM's input."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"ids must be integer indices; got dtype {ids.dtype}")
        return np.eye(self.size, dtype=_check_dtype(dtype))[ids]


class CharTask(NamedTuple):
    """A text cut into B parallel streams for truncated BPTT with the state carried along.

    streams (B, N) int64: stream b is the b-th slice of the encoded text, so chunk k of every
    stream continues chunk k - 1 of the same stream, and the final (h, c) of one chunk is the
    right initial state for the next. vocab: the Vocab. text: the text used.
    """

    streams: np.ndarray
    vocab: Vocab
    text: str

    def chunks(self, T: int):
        """Yield (inputs (T, B), targets (T, B)) int arrays over the streams, in order.

        targets are the inputs shifted by one character: the character that comes next.
        """
        T = check_int("T", T)
        N = self.streams.shape[1]
        if N < T + 1:
            raise ValueError(f"T must be smaller than the stream length {N}; got {T}")
        for start in range(0, N - T, T):
            block = self.streams[:, start: start + T + 1].T  # (T + 1, B)
            yield block[:-1], block[1:]


def char_task(B: int = 16, text: str | None = None, lower: bool = True) -> CharTask:
    """The shipped fables (or text) as a CharTask with B parallel streams.

    lower=True lower-cases the text first: fewer classes to learn, so the samples start to
    look like words sooner.
    """
    B = check_int("B", B)
    text = load_text() if text is None else text
    if not isinstance(text, str):
        raise ValueError(f"text must be a str; got {type(text).__name__}")
    if lower:
        text = text.lower()
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    N = len(ids) // B
    if N < 2:
        raise ValueError(f"text must have at least 2 characters per stream (B = {B}); "
                         f"got {len(ids)} characters")
    return CharTask(ids[: B * N].reshape(B, N).copy(), vocab, text)


# ------------------------------------------------------------------------ the adding problem

def adding_problem(T: int = 100, B: int = 32, seed: int = 0, dtype=np.float64):
    """The adding problem of Hochreiter and Schmidhuber (1997), in its common modern form.

    Each sequence has T steps of two inputs: a value drawn U(0, 1), and a marker that is 1 at
    exactly two steps (one in the first half, one in the second) and 0 elsewhere. The target,
    given after the last step, is the sum of the two marked values. Predicting the mean sum
    (1) always scores a mean squared error of Var(u1 + u2) = 2/12 ~ 0.167: a model beats that
    only if it carries the first marked value across at least T/2 steps.

    Returns xs (T, B, 2) (channel 0 the values, channel 1 the markers) and ys (B, 1).
    """
    T, B = check_int("T", T, minimum=2), check_int("B", B)
    dtype = _check_dtype(dtype)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(T, B))
    first = rng.integers(0, T // 2, size=B)
    second = rng.integers(T // 2, T, size=B)
    markers = np.zeros((T, B))
    batch = np.arange(B)
    markers[first, batch] = 1.0
    markers[second, batch] = 1.0
    xs = np.stack([values, markers], axis=-1).astype(dtype)
    ys = (values[first, batch] + values[second, batch])[:, None].astype(dtype)
    return xs, ys
