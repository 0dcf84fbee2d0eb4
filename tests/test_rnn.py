"""The vanilla RNN of lstm_teach.rnn: gradients against central differences, shapes, validation."""

import numpy as np
import pytest

from lstm_teach.rnn import (
    RNNCache,
    RNNGrads,
    init_rnn_params,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
)

T, B, I, H = 5, 3, 4, 6


def _problem(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    wx, wh, b = init_rnn_params(I, H, seed=seed, dtype=dtype, scale=0.6)
    xs = rng.standard_normal((T, B, I)).astype(dtype)
    h0 = rng.uniform(-0.5, 0.5, (B, H)).astype(dtype)
    # a random linear loss E = sum(w * hs): its upstream gradient dE/dhs = w is dense at every t
    w = rng.standard_normal((T, B, H)).astype(dtype)
    return xs, wx, wh, b, h0, w


def _numeric(f, x, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of x (changed in place)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        plus = f()
        x[idx] = old - eps
        minus = f()
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def _rel_err(a, b):
    # norm-wise: entrywise ratios blow up on entries near zero, where eps-rounding dominates
    return np.linalg.norm(a - b) / max(1e-300, np.linalg.norm(a) + np.linalg.norm(b))


def test_biases_are_nonzero_so_their_gradient_is_tested():
    _, _, _, b, _, _ = _problem()
    assert np.all(b != 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_match_central_differences(seed):
    xs, wx, wh, b, h0, w = _problem(seed)

    def loss():
        hs, _ = rnn_forward(xs, wx, wh, b, h0)
        return float(np.sum(w * hs))

    hs, cache = rnn_forward(xs, wx, wh, b, h0)
    grads, dh0 = rnn_backward(w.copy(), cache)
    assert isinstance(grads, RNNGrads)
    for name, analytic, array in [("wx", grads.dwx, wx), ("wh", grads.dwh, wh),
                                  ("b", grads.db, b), ("h0", dh0, h0)]:
        numeric = _numeric(loss, array)
        err = _rel_err(analytic, numeric)
        assert err < 1e-7, f"d{name}: relative error {err:.2e}"


def test_gradient_from_a_single_late_error_reaches_h0():
    # only the last step carries an error: everything reaching h0 came back through time
    xs, wx, wh, b, h0, w = _problem(3)
    w[:-1] = 0.0

    def loss():
        hs, _ = rnn_forward(xs, wx, wh, b, h0)
        return float(np.sum(w * hs))

    _, cache = rnn_forward(xs, wx, wh, b, h0)
    _, dh0 = rnn_backward(w.copy(), cache)
    assert np.abs(dh0).max() > 1e-4
    assert _rel_err(dh0, _numeric(loss, h0)) < 1e-7


def test_forward_matches_the_recurrence_written_out():
    xs, wx, wh, b, h0, _ = _problem(4)
    hs, cache = rnn_forward(xs, wx, wh, b, h0)
    h = h0
    for t in range(T):
        h = np.tanh(xs[t] @ wx.T + h @ wh.T + b)
        np.testing.assert_allclose(hs[t], h, rtol=0, atol=1e-14)
    assert isinstance(cache, RNNCache)
    assert hs.shape == (T, B, H)


def test_default_h0_is_zeros():
    xs, wx, wh, b, _, _ = _problem(5)
    hs_default, cache = rnn_forward(xs, wx, wh, b)
    hs_zero, _ = rnn_forward(xs, wx, wh, b, np.zeros((B, H)))
    np.testing.assert_array_equal(hs_default, hs_zero)
    assert cache.h0.shape == (B, H)
    assert not cache.h0.any()


def test_step_backward_loop_equals_rnn_backward():
    xs, wx, wh, b, h0, w = _problem(6)
    _, cache = rnn_forward(xs, wx, wh, b, h0)
    grads, dh0 = rnn_backward(w, cache)
    dwx, dwh, db = np.zeros_like(wx), np.zeros_like(wh), np.zeros_like(b)
    dh = np.zeros_like(h0)
    for t in reversed(range(T)):
        a, c, d, dh = rnn_step_backward(w[t] + dh, t, cache)
        dwx, dwh, db = dwx + a, dwh + c, db + d
    np.testing.assert_allclose(grads.dwx, dwx, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(grads.dwh, dwh, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(grads.db, db, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(dh0, dh, rtol=1e-13, atol=1e-14)


def test_inputs_are_not_mutated():
    xs, wx, wh, b, h0, w = _problem(7)
    originals = [a.copy() for a in (xs, wx, wh, b, h0, w)]
    _, cache = rnn_forward(xs, wx, wh, b, h0)
    rnn_backward(w, cache)
    for before, after in zip(originals, (xs, wx, wh, b, h0, w), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    xs, wx, wh, b, h0, w = _problem(8, dtype=dtype)
    hs, cache = rnn_forward(xs, wx, wh, b, h0)
    grads, dh0 = rnn_backward(w, cache)
    assert hs.dtype == dtype
    assert dh0.dtype == dtype
    assert all(g.dtype == dtype for g in grads)


def test_float32_agrees_with_float64():
    xs, wx, wh, b, h0, w = _problem(9)
    hs64, c64 = rnn_forward(xs, wx, wh, b, h0)
    g64, _ = rnn_backward(w, c64)
    f32 = [a.astype(np.float32) for a in (xs, wx, wh, b, h0, w)]
    hs32, c32 = rnn_forward(*f32[:5])
    g32, _ = rnn_backward(f32[5], c32)
    np.testing.assert_allclose(hs32, hs64, atol=1e-5)
    np.testing.assert_allclose(g32.dwh, g64.dwh, atol=1e-4)


def test_init_rnn_params_shapes_and_seed():
    wx, wh, b = init_rnn_params(3, 7, seed=11)
    assert (wx.shape, wh.shape, b.shape) == ((7, 3), (7, 7), (7,))
    assert np.abs(wh).max() <= 1 / np.sqrt(7)
    again = init_rnn_params(3, 7, seed=11)
    for a, c in zip((wx, wh, b), again, strict=True):
        np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match="hidden_size"):
        init_rnn_params(3, 0)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(xs=np.zeros((T, B))), r"xs must have shape \(T, B, 4\)"),
        (dict(xs=np.zeros((T, B, I + 1))), r"xs must have shape \(T, B, 4\).*got \(5, 3, 5\)"),
        (dict(wh=np.zeros((H, H + 1))), r"wh must have shape \(6, 6\).*got \(6, 7\)"),
        (dict(b=np.zeros(H + 1)), r"b must have shape \(6,\).*got \(7,\)"),
        (dict(h0=np.zeros((B + 1, H))), r"h0 must have shape \(3, 6\).*got \(4, 6\)"),
        (dict(wx=np.zeros(H)), r"wx must have shape \(H, I\)"),
        (dict(xs=np.zeros((T, B, I), dtype=int)), r"xs must have dtype float64 .*; got int"),
        (dict(xs=np.zeros((0, B, I))), r"at least one time step"),
    ],
)
def test_bad_forward_input_raises_clear_value_error(change, match):
    xs, wx, wh, b, h0, _ = _problem()
    args = dict(xs=xs, wx=wx, wh=wh, b=b, h0=h0) | change
    with pytest.raises(ValueError, match=match):
        rnn_forward(**args)


def test_bad_backward_input_raises_clear_value_error():
    xs, wx, wh, b, h0, w = _problem()
    _, cache = rnn_forward(xs, wx, wh, b, h0)
    with pytest.raises(ValueError, match=r"dhs must have shape \(5, 3, 6\).*got \(4, 3, 6\)"):
        rnn_backward(w[:-1], cache)
    with pytest.raises(ValueError, match="cache must be the RNNCache"):
        rnn_backward(w, (xs, h0))


def test_bad_step_backward_input_raises_clear_value_error():
    xs, wx, wh, b, h0, w = _problem()
    _, cache = rnn_forward(xs, wx, wh, b, h0)
    with pytest.raises(ValueError, match=r"t must be a step index in 0..4; got 5"):
        rnn_step_backward(w[0], T, cache)
    with pytest.raises(ValueError, match=r"dh must have shape \(3, 6\).*got \(6,\)"):
        rnn_step_backward(w[0, 0], 0, cache)
