"""The sine-wave task and the shipped text."""

import numpy as np
import pytest

from lstm_teach import datasets


def test_sine_targets_are_the_next_input():
    xs, ys = datasets.sine_wave(T=30, B=4, period=10.0, seed=3)
    assert xs.shape == ys.shape == (30, 4, 1) and xs.dtype == np.float64
    assert np.array_equal(xs[1:], ys[:-1])
    # one period later the wave repeats
    assert np.allclose(xs[10:], xs[:-10], atol=1e-12)
    assert np.max(np.abs(xs)) <= 1.0
    xs32, _ = datasets.sine_wave(dtype=np.float32)
    assert xs32.dtype == np.float32
    a, _ = datasets.sine_wave(seed=1)
    b, _ = datasets.sine_wave(seed=1)
    c, _ = datasets.sine_wave(seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_shipped_text_loads_offline():
    text = datasets.load_text()
    assert 5_000 <= len(text.encode()) <= 20_000
    assert "THE TORTOISE AND THE HARE" in text and text.isascii()


def test_vocab_round_trip_and_one_hot():
    vocab = datasets.Vocab.from_text("hello world")
    assert vocab.chars == " dehlorw" and vocab.size == 8
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64 and vocab.decode(ids) == "hello"
    onehot = vocab.one_hot(ids, dtype=np.float32)
    assert onehot.shape == (5, 8) and onehot.dtype == np.float32
    assert np.array_equal(onehot.argmax(axis=1), ids) and np.all(onehot.sum(axis=1) == 1)


def test_char_task_streams_and_chunks_continue_each_other():
    task = datasets.char_task(B=4)
    text = datasets.load_text().lower()
    assert task.text == text
    B, N = task.streams.shape
    assert B == 4 and N == len(text) // 4
    assert task.vocab.decode(task.streams[1]) == text[N: 2 * N]
    chunks = list(task.chunks(10))
    assert len(chunks) == (N - 1) // 10
    (x0, y0), (x1, _) = chunks[0], chunks[1]
    assert x0.shape == y0.shape == (10, 4)
    assert np.array_equal(y0[:-1], x0[1:])  # targets: the next character
    assert np.array_equal(x1[0], y0[-1])  # chunk 1 starts where chunk 0 stopped
    assert task.vocab.decode(x0[:, 0]) == text[:10]


@pytest.mark.parametrize("call, match", [
    (lambda: datasets.sine_wave(T=0), "T must be an integer >= 1"),
    (lambda: datasets.sine_wave(period=-1.0), "period must be a positive number"),
    (lambda: datasets.sine_wave(dtype=np.int32), "dtype must be np.float32 or np.float64"),
    (lambda: datasets.load_text("missing.txt"), "name must be one of the shipped texts"),
    (lambda: datasets.Vocab("ab").encode("abc"), "text must only use the vocabulary"),
    (lambda: datasets.Vocab("ab").decode([0, 2]), r"ids must lie in \[0, 2\)"),
    (lambda: datasets.Vocab.from_text(""), "text must be a non-empty str"),
    (lambda: datasets.char_task(B=0), "B must be an integer >= 1"),
    (lambda: datasets.char_task(B=4, text="abc"), "at least 2 characters per stream"),
    (lambda: list(datasets.char_task(B=2, text="abcdef").chunks(5)), "T must be smaller"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
