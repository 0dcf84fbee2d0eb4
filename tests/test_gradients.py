"""Every gradient of the reference against central differences, and BPTT's own identities."""

import numpy as np
import pytest
from conftest import random_problem

import lstm_teach as lt
from lstm_teach.gradcheck import check_cell, check_sequence, numerical_gradient, relative_error

NAMES_CELL = set(lt.LSTMParams._fields) | {"x", "h_prev", "c_prev"}
NAMES_SEQ = set(lt.LSTMParams._fields) | {"xs", "h0", "c0"}


@pytest.mark.parametrize("seed,B,I,H", [(0, 3, 5, 4), (1, 1, 2, 3), (2, 4, 1, 1), (3, 2, 4, 6)])
def test_cell_gradients_match_central_differences(seed, B, I, H):
    p, xs, h0, c0, _ = random_problem(1, B, I, H, seed=seed)
    assert all(np.any(b != 0) for b in (p.bi, p.bg, p.bf, p.bo))
    report = check_cell(p, xs[0], h0, c0, seed=seed)
    assert set(report.errors) == NAMES_CELL
    assert report.max_error < 1e-7, str(report)


@pytest.mark.parametrize("seed,T,B,I,H", [(0, 4, 3, 5, 4), (1, 1, 1, 2, 3), (2, 6, 2, 3, 2),
                                          (3, 3, 2, 1, 5)])
def test_sequence_gradients_match_central_differences(seed, T, B, I, H):
    p, xs, h0, c0, _ = random_problem(T, B, I, H, seed=seed)
    report = check_sequence(p, xs, h0, c0, seed=seed)
    assert set(report.errors) == NAMES_SEQ
    assert report.max_error < 1e-7, str(report)


def test_gradcheck_catches_a_wrong_gradient():
    """The checker itself must fail a wrong backward pass, or it proves nothing."""
    p, xs, h0, c0, _ = random_problem(3, 2, 3, 4, seed=5)
    report = check_sequence(p, xs, h0, c0, truncate=1)  # the seed's one-step gradient
    assert report.max_error > 1e-2
    assert "check this one" in str(report)


def test_numerical_gradient_of_a_known_function_leaves_x_alone():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    grad = numerical_gradient(lambda a: np.sum(a**3), x)
    assert np.allclose(grad, 3 * x**2, rtol=1e-8)
    assert np.array_equal(x, before)


def test_relative_error():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_step_by_step_equals_the_sequence_functions(problem):
    p, xs, h0, c0, dhs = problem
    hs, cache = lt.lstm_forward(xs, p, h0, c0)
    h, c, caches = h0, c0, []
    for t in range(len(xs)):
        h, c, step = lt.cell_forward(xs[t], h, c, p)
        assert np.array_equal(h, hs[t])
        assert np.array_equal(c, cache.cs[t])
        caches.append(step)
    grads, dxs, dh0, dc0 = lt.lstm_backward(dhs, cache)
    total = p.zeros_like()
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(len(xs))):
        step_grads, dx, dh, dc = lt.cell_backward(dhs[t] + dh, dc, caches[t])
        total = total.map(np.add, step_grads)
        assert np.allclose(dxs[t], dx, rtol=0, atol=1e-14)
    for a, b in zip(grads, total):
        assert np.allclose(a, b, rtol=0, atol=1e-14)
    assert np.allclose(dh0, dh, rtol=0, atol=1e-14)
    assert np.allclose(dc0, dc, rtol=0, atol=1e-14)


@pytest.mark.parametrize("k", [4, 5, 100])
def test_truncation_of_at_least_T_is_full_bptt(problem, k):
    p, xs, h0, c0, dhs = problem
    assert len(xs) == 4
    _, cache = lt.lstm_forward(xs, p, h0, c0)
    full = lt.lstm_backward(dhs, cache)
    truncated = lt.lstm_backward(dhs, cache, truncate=k)
    for a, b in zip(full.params, truncated.params):
        assert np.array_equal(a, b)
    assert all(np.array_equal(a, b) for a, b in zip(full[1:], truncated[1:]))


def test_truncation_just_below_T_equals_full_bptt_via_the_general_path():
    """k = T - 1 through the O(T k) path; with T - 1 cells from the last step it differs from
    full BPTT only by the path of the last step's error into step 0, so check that k = T
    computed the slow way (each error through every cell) agrees with the fast sweep."""
    p, xs, h0, c0, dhs = random_problem(5, 2, 3, 4, seed=11)
    _, cache = lt.lstm_forward(xs, p, h0, c0)
    full = lt.lstm_backward(dhs, cache)
    zeros = np.zeros_like(dhs[0])
    slow = lt.sequence._backward_truncated(dhs, cache.caches, 5, zeros, zeros)
    for a, b in zip(full.params, slow.params):
        assert np.allclose(a, b, rtol=0, atol=1e-13)
    assert all(np.allclose(a, b, rtol=0, atol=1e-13) for a, b in zip(full[1:], slow[1:]))
    shorter = lt.lstm_backward(dhs, cache, truncate=4)
    assert relative_error(shorter[0].whf, full[0].whf) > 1e-6


def test_truncation_one_is_the_sum_of_single_step_gradients(problem):
    """k = 1: each step's error stays inside its own cell (no dh or dc from the future),
    which is what the seed's single-step formulas compute."""
    p, xs, h0, c0, dhs = problem
    _, cache = lt.lstm_forward(xs, p, h0, c0)
    grads, dxs, dh0, dc0 = lt.lstm_backward(dhs, cache, truncate=1)
    total = p.zeros_like()
    for t, step in enumerate(cache.caches):
        step_grads, dx, dh_prev, dc_prev = lt.cell_backward(dhs[t], None, step)
        total = total.map(np.add, step_grads)
        assert np.allclose(dxs[t], dx, rtol=0, atol=1e-14)
        if t == 0:
            assert np.allclose(dh0, dh_prev, atol=1e-14)
            assert np.allclose(dc0, dc_prev, atol=1e-14)
    for a, b in zip(grads, total):
        assert np.allclose(a, b, rtol=0, atol=1e-14)


def test_truncation_k_matches_central_differences_of_a_k_step_loss():
    """Truncated BPTT with k is the exact gradient when every error reaches back k cells only:
    for a loss on the last step alone, k cells from it is the gradient of a sequence that
    starts k steps before the end with the state held fixed."""
    T, k = 6, 3
    p, xs, h0, c0, dhs = random_problem(T, 2, 3, 4, seed=7)
    dhs[:-1] = 0.0  # only the last step's error
    _, cache = lt.lstm_forward(xs, p, h0, c0)
    grads = lt.lstm_backward(dhs, cache, truncate=k).params
    start = T - k
    h_start, c_start = cache.hs[start - 1], cache.cs[start - 1]
    sub = check_sequence(p, xs[start:], h_start, c_start)  # full BPTT on the last k steps
    _, sub_cache = lt.lstm_forward(xs[start:], p, h_start, c_start)
    sub_grads = lt.lstm_backward(dhs[start:], sub_cache).params
    assert sub.max_error < 1e-7
    for a, b in zip(grads, sub_grads):
        assert np.allclose(a, b, rtol=0, atol=1e-13)


def test_gradients_are_summed_over_the_batch():
    """A batch of two identical examples gives exactly twice the gradients of one."""
    p, xs, h0, c0, dhs = random_problem(3, 1, 2, 3, seed=3)
    _, one = lt.lstm_forward(xs, p, h0, c0)
    g1, dxs1, dh1, _ = lt.lstm_backward(dhs, one)
    twice = [np.concatenate([a, a], axis=1) for a in (xs, dhs)]
    _, two = lt.lstm_forward(twice[0], p, np.vstack([h0, h0]), np.vstack([c0, c0]))
    g2, dxs2, dh2, _ = lt.lstm_backward(twice[1], two)
    for a, b in zip(g1, g2):
        assert np.allclose(2 * a, b, rtol=1e-12, atol=1e-14)
    assert np.allclose(dh2[:1], dh1) and np.allclose(dh2[1:], dh1)
    # dx is per example, not summed: each copy gets the gradient of one
    assert np.allclose(dxs2[:, :1], dxs1) and np.allclose(dxs2[:, 1:], dxs1)


def test_local_gradients_name_the_seed_quantities():
    p, xs, h0, c0, dhs = random_problem(1, 2, 3, 4, seed=9)
    _, _, cache = lt.cell_forward(xs[0], h0, c0, p)
    dc_next = np.random.default_rng(0).standard_normal(h0.shape)
    local = lt.cell.local_gradients(dhs[0], dc_next, cache)
    total_dc = dc_next + dhs[0] * cache.o * (1 - np.tanh(cache.c) ** 2)
    assert np.allclose(local.do, dhs[0] * np.tanh(cache.c))
    assert np.allclose(local.dc, total_dc)
    assert np.allclose(local.di, total_dc * cache.g)
    assert np.allclose(local.dg, total_dc * cache.i)
    assert np.allclose(local.df, total_dc * c0)
    assert np.allclose(local.dc_prev, total_dc * cache.f)
    assert np.allclose(local.dzi, local.di * lt.activations.sigmoid_deriv(cache.zi))
    assert np.allclose(local.dzg, local.dg * lt.activations.tanh_deriv(cache.zg))
    assert np.allclose(local.dzf, local.df * lt.activations.sigmoid_deriv(cache.zf))
    assert np.allclose(local.dzo, local.do * lt.activations.sigmoid_deriv(cache.zo))


@pytest.mark.parametrize("order,eps,tol", [(2, 1e-6, 1e-8), (4, 1e-3, 1e-10)])
def test_both_stencils_are_accurate(order, eps, tol):
    x = np.array([0.3, -1.2, 2.0])
    grad = numerical_gradient(lambda a: np.sum(np.sin(a) * np.exp(a)), x, eps, order)
    assert relative_error(grad, np.exp(x) * (np.sin(x) + np.cos(x))) < tol


def test_numerical_gradient_rejects_an_unknown_order():
    with pytest.raises(ValueError, match="order must be 2 or 4; got 3"):
        numerical_gradient(np.sum, np.zeros(2), order=3)
