"""Bad input gets a clear ValueError; good input is never written into; dtypes are kept."""

import warnings

import numpy as np
import pytest
from conftest import random_problem

import lstm_teach as lt


def snapshot(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def assert_unchanged(before, after):
    for a, b in zip(before, after):
        assert np.array_equal(a, b)


# --- the documented messages: argument, expected shape, given shape ------------------------

def test_message_of_the_design_example():
    p = lt.init_params(3, 4)
    xs = np.zeros((5, 2, 4))
    with pytest.raises(ValueError) as err:
        lt.lstm_forward(xs, p)
    assert str(err.value) == "xs must have shape (T, B, 3) to match p.wxi (4, 3); got (5, 2, 4)"


@pytest.mark.parametrize("call,message", [
    (lambda p: lt.cell_forward(np.zeros(3), np.zeros((1, 4)), np.zeros((1, 4)), p),
     r"x must have shape \(B, 3\) to match p.wxi \(4, 3\); got \(3,\)"),
    (lambda p: lt.cell_forward(np.zeros((2, 3)), np.zeros((1, 4)), np.zeros((2, 4)), p),
     r"h_prev must have shape \(2, 4\) .*; got \(1, 4\)"),
    (lambda p: lt.cell_forward(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 5)), p),
     r"c_prev must have shape \(2, 4\) .*; got \(2, 5\)"),
    (lambda p: lt.lstm_forward(np.zeros((2, 3)), p),
     r"xs must have shape \(T, B, 3\) .*; got \(2, 3\)"),
    (lambda p: lt.lstm_forward(np.zeros((2, 2, 3)), p, h0=np.zeros((3, 4))),
     r"h0 must have shape \(2, 4\) .*; got \(3, 4\)"),
    (lambda p: lt.lstm_forward(np.zeros((2, 2, 3)), p, c0=np.zeros((2,))),
     r"c0 must have shape \(2, 4\) .*; got \(2,\)"),
    (lambda p: lt.lstm_forward(np.zeros((0, 2, 3)), p),
     r"xs must hold at least one time step; got shape \(0, 2, 3\)"),
    (lambda p: lt.lstm_forward(np.zeros((2, 2, 3), dtype=np.float32), p),
     r"xs must have dtype float64 like the parameters; got float32"),
    (lambda p: lt.lstm_forward(np.full((2, 2, 3), np.nan), p),
     r"xs must be finite; got 12 NaN or inf entries"),
    (lambda p: lt.cell_forward(np.array([[np.inf, 0, 0]]), None, None, p),
     r"x must be finite; got 1 NaN or inf entries"),
    (lambda p: lt.lstm_forward(np.zeros((2, 2, 3), dtype=int), p),
     r"xs must have dtype float64 like the parameters; got int"),
    (lambda p: lt.lstm_forward(np.zeros((2, 2, 3)), p._replace(whf=np.zeros((4, 3)))),
     r"p.whf must have shape \(4, 4\) to match p.wxi \(4, 3\); got \(4, 3\)"),
    (lambda p: lt.lstm_forward(np.zeros((2, 2, 3)), p._replace(bo=np.zeros(4, np.float32))),
     r"p.bo must have dtype float64 like the parameters; got float32"),
    (lambda p: lt.lstm_forward(np.zeros((2, 2, 3)), p._replace(bi=np.array([0, np.nan, 0, 0]))),
     r"p.bi must be finite; got 1 NaN or inf entries"),
    (lambda p: lt.lstm_forward(np.zeros((2, 2, 3)), {"wxi": 1}),
     r"p must be an lstm_teach.LSTMParams; got dict"),
    (lambda p: lt.init_params(0, 4), r"input_size must be an integer >= 1; got 0"),
    (lambda p: lt.init_params(3, 2.5), r"hidden_size must be an integer >= 1; got 2.5"),
    (lambda p: lt.init_params(3, 4, dtype=np.int32),
     r"dtype must be np.float32 or np.float64; got int32"),
    (lambda p: lt.init_params(3, 4, scheme="he"), r"scheme must be .*; got 'he'"),
])
def test_bad_input_is_named(call, message):
    p = lt.init_params(3, 4)
    with pytest.raises(ValueError, match=message):
        call(p)


def test_backward_messages():
    p, xs, h0, c0, dhs = random_problem(3, 2, 3, 4)
    hs, cache = lt.lstm_forward(xs, p, h0, c0)
    with pytest.raises(ValueError, match=r"dhs must have shape \(3, 2, 4\) .*; got \(3, 4\)"):
        lt.lstm_backward(dhs[:, 0], cache)
    with pytest.raises(ValueError, match=r"dhs must have dtype float64 .*; got float32"):
        lt.lstm_backward(dhs.astype(np.float32), cache)
    with pytest.raises(ValueError, match=r"truncate must be an integer >= 1; got 0"):
        lt.lstm_backward(dhs, cache, truncate=0)
    with pytest.raises(ValueError, match=r"dhT must have shape \(2, 4\) to match the final "
                                         r"state \(2, 4\); got \(3, 4\)"):
        lt.lstm_backward(dhs, cache, dhT=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"dcT must be finite"):
        lt.lstm_backward(dhs, cache, dcT=np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match=r"cache must be the SeqCache returned by lstm_forward"):
        lt.lstm_backward(dhs, cache.caches[0])
    _, _, step = lt.cell_forward(xs[0], h0, c0, p)
    with pytest.raises(ValueError, match=r"dh must have shape \(2, 4\) .*; got \(4, 2\)"):
        lt.cell_backward(dhs[0].T, None, step)
    with pytest.raises(ValueError, match=r"dc must be finite"):
        lt.cell_backward(dhs[0], np.full((2, 4), np.inf), step)
    with pytest.raises(ValueError, match=r"cache must be the CellCache returned by cell_forward"):
        lt.cell_backward(dhs[0], None, cache)


def test_loss_messages():
    with pytest.raises(ValueError, match=r"ys must have shape \(2, 3\) to match hs \(2, 3\); "
                                         r"got \(3, 2\)"):
        lt.mse_loss(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"reduction must be 'sum' or 'mean'; got 'avg'"):
        lt.mse_loss(np.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\) .*; got \(3,\)"):
        lt.softmax_cross_entropy(np.zeros((2, 5)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 5\)"):
        lt.softmax_cross_entropy(np.zeros((2, 5)), np.array([0, 5]))
    with pytest.raises(ValueError, match=r"targets must hold integer class indices"):
        lt.softmax_cross_entropy(np.zeros((2, 5)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"hs must have shape \(\?, 3\)"):
        lt.linear_forward(np.zeros((2, 4)), np.zeros((5, 3)), np.zeros(5))


# --- nothing is written into arguments --------------------------------------------------------

def test_no_function_writes_into_its_arguments():
    p, xs, h0, c0, dhs = random_problem(4, 3, 2, 5, seed=2)
    dc = np.random.default_rng(1).standard_normal(h0.shape)
    before = snapshot(*p, xs, h0, c0, dhs, dc)

    hs, cache = lt.lstm_forward(xs, p, h0, c0)
    lt.lstm_backward(dhs, cache)
    lt.lstm_backward(dhs, cache, truncate=2)
    h, c, step = lt.cell_forward(xs[0], h0, c0, p)
    lt.cell_backward(dhs[0], dc, step)
    lt.cell.local_gradients(dhs[0], dc, step)
    lt.mse_loss(hs, dhs)
    lt.gradcheck.check_cell(p, xs[0], h0, c0)
    lt.gradcheck.check_sequence(p, xs[:2], h0, c0)
    lt.to_fused(p)
    lt.sigmoid(dhs)
    assert_unchanged(before, [*p, xs, h0, c0, dhs, dc])

    cache_before = snapshot(*[a for a in cache[:3]])
    lt.lstm_backward(dhs, cache)
    assert_unchanged(cache_before, cache[:3])


def test_losses_do_not_write_into_their_arguments():
    rng = np.random.default_rng(0)
    logits, wy, by = rng.standard_normal((3, 2, 5)), rng.standard_normal((5, 4)), rng.normal(size=5)
    hs, targets = rng.standard_normal((3, 2, 4)), rng.integers(0, 5, (3, 2))
    before = snapshot(logits, wy, by, hs, targets)
    lt.softmax_cross_entropy(logits, targets)
    lt.linear_forward(hs, wy, by)
    lt.linear_backward(logits, hs, wy)
    assert_unchanged(before, [logits, wy, by, hs, targets])


# --- dtypes and overflow ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_everywhere(dtype):
    p, xs, h0, c0, dhs = random_problem(3, 2, 3, 4, dtype=dtype)
    hs, cache = lt.lstm_forward(xs, p, h0, c0)
    grads, dxs, dh0, dc0 = lt.lstm_backward(dhs, cache)
    grads_t, dxs_t, _, _ = lt.lstm_backward(dhs, cache, truncate=1)
    assert hs.dtype == dtype and cache.cs.dtype == dtype
    assert all(g.dtype == dtype for g in (*grads, *grads_t, dxs, dxs_t, dh0, dc0))
    _, dhs_mse = lt.mse_loss(hs, np.zeros_like(hs))
    assert dhs_mse.dtype == dtype


def test_float32_agrees_with_float64():
    p, xs, h0, c0, dhs = random_problem(5, 2, 3, 4)
    to32 = [a.astype(np.float32) for a in (xs, h0, c0, dhs)]
    hs64, cache64 = lt.lstm_forward(xs, p, h0, c0)
    hs32, cache32 = lt.lstm_forward(to32[0], p.astype(np.float32), to32[1], to32[2])
    g64 = lt.lstm_backward(dhs, cache64).params
    g32 = lt.lstm_backward(to32[3], cache32).params
    assert np.max(np.abs(hs64 - hs32)) < 1e-5
    for a, b in zip(g64, g32):
        assert np.max(np.abs(a - b)) < 1e-4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_does_not_overflow(dtype):
    z = np.array([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            s = lt.sigmoid(z)
            d = lt.activations.sigmoid_deriv(z)
            t = lt.tanh(z)
    assert s.dtype == dtype and d.dtype == dtype and t.dtype == dtype
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert np.all(np.isfinite(d)) and np.all(d >= 0)
    assert np.allclose(s[2:5], 1 / (1 + np.exp(-z[2:5].astype(np.float64))), rtol=1e-6)


def test_cell_runs_at_huge_inputs_without_warnings():
    p = lt.init_params(2, 3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h, c, _ = lt.cell_forward(np.full((1, 2), 1e4), None, None, p)
    assert np.all(np.abs(h) <= 1)
