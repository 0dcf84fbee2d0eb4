"""Property tests: random shapes and seeds (hypothesis)."""

import numpy as np
from conftest import random_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import lstm_teach as lt

sizes = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


@settings(max_examples=25, deadline=None)
@given(T=sizes, B=sizes, I=sizes, H=sizes, seed=seeds)
def test_sequence_gradients_are_right_for_any_shape(T, B, I, H, seed):
    p, xs, h0, c0, _ = random_problem(T, B, I, H, seed=seed % 10_000)
    report = lt.gradcheck.check_sequence(p, xs, h0, c0, seed=seed)
    assert report.max_error < 1e-7, str(report)


@settings(max_examples=40, deadline=None)
@given(T=sizes, B=sizes, I=sizes, H=sizes, seed=seeds, k=st.integers(1, 6))
def test_bptt_identities_for_any_shape(T, B, I, H, seed, k):
    p, xs, h0, c0, dhs = random_problem(T, B, I, H, seed=seed % 10_000)
    before = [a.copy() for a in (*p, xs, h0, c0, dhs)]
    hs, cache = lt.lstm_forward(xs, p, h0, c0)
    assert hs.shape == (T, B, H) and np.all(np.abs(hs) < 1)
    full = lt.lstm_backward(dhs, cache)
    # backward is linear in the upstream gradient
    doubled = lt.lstm_backward(2 * dhs, cache)
    for a, b in zip((*full.params, *full[1:]), (*doubled.params, *doubled[1:])):
        assert np.allclose(2 * a, b, rtol=1e-12, atol=1e-13)
    # truncation: k >= T is exactly full BPTT; below T, the errors of steps t >= k never
    # reach the initial state
    truncated = lt.lstm_backward(dhs, cache, truncate=k)
    if k >= T:
        assert all(np.array_equal(a, b) for a, b in zip(full[0], truncated[0]))
    else:
        late = dhs.copy()
        late[:k] = 0
        _, _, dh0, dc0 = lt.lstm_backward(late, cache, truncate=k)
        assert not np.any(dh0) and not np.any(dc0)
    for a, b in zip(before, (*p, xs, h0, c0, dhs)):
        assert np.array_equal(a, b)


@settings(max_examples=30, deadline=None)
@given(B=sizes, I=sizes, H=sizes, seed=seeds)
def test_cell_state_update_identity(B, I, H, seed):
    p, xs, h0, c0, _ = random_problem(1, B, I, H, seed=seed % 10_000)
    h, c, cache = lt.cell_forward(xs[0], h0, c0, p)
    assert np.allclose(c, cache.f * c0 + cache.i * cache.g, rtol=0, atol=1e-15)
    assert np.allclose(h, cache.o * np.tanh(c), rtol=0, atol=1e-15)
    for gate in lt.GATES:
        wx, wh, b = p.gate(gate)
        assert np.allclose(getattr(cache, "z" + gate), xs[0] @ wx.T + h0 @ wh.T + b)
    assert np.all((cache.i > 0) & (cache.i < 1) & (cache.f > 0) & (cache.o < 1))
