"""The defects found in issue 9, one test each; every test here failed before its fix.

- fast.lstm_forward returned hs that its cache also held: `d = hs; d -= ys` changed the
  gradients (dwhi off by 0.48);
- np.matrix arguments gave wrong numbers without an error when B == H (`*` multiplies
  matrices there);
- masked arrays passed, and the NaNs under the mask went into the results;
- parameters given as lists crashed with AttributeError;
- init_params(forget_bias=nan) was accepted;
- fast's sigmoid lost relative accuracy below z ~ -20 and gave 0 below -37.
"""

import numpy as np
import pytest
from conftest import random_problem

import lstm_teach as lt
from lstm_teach import fast
from lstm_teach import gru as lt_gru

IMPLEMENTATIONS = {"reference": lt, "fast": fast}


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_changing_the_returned_hs_in_place_leaves_the_gradients_right(impl):
    """The issue's own example: d = hs; d -= ys; lstm_backward(d, cache)."""
    module = IMPLEMENTATIONS[impl]
    p, xs, h0, c0, _ = random_problem(6, 3, 4, 5, seed=12)
    ys = np.random.default_rng(1).standard_normal((6, 3, 5))
    hs, cache = module.lstm_forward(xs, p, h0, c0)
    expected = module.lstm_backward(hs - ys, cache)  # a new array: the right answer
    d = hs
    d -= ys
    got = module.lstm_backward(d, cache)
    for name in lt.LSTMParams._fields:
        assert np.array_equal(getattr(got[0], name), getattr(expected[0], name)), name
    assert all(np.array_equal(a, b) for a, b in zip(got[1:], expected[1:]))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_the_cache_does_not_alias_the_arguments(impl):
    """xs, h0, c0 and p changed after the forward pass do not change the backward pass."""
    module = IMPLEMENTATIONS[impl]
    p, xs, h0, c0, dhs = random_problem(5, 2, 3, 4, seed=13)
    _, cache = module.lstm_forward(xs, p, h0, c0)
    expected = module.lstm_backward(dhs, cache)
    for a in (xs, h0, c0, *p):
        a *= 3.0
    got = module.lstm_backward(dhs, cache)
    assert all(np.array_equal(a, b) for a, b in zip(got[0], expected[0]))
    assert all(np.array_equal(a, b) for a, b in zip(got[1:], expected[1:]))


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_np_matrix_arguments_give_the_ndarray_numbers():
    B = H = 3  # the case where matrix * matrix is a matrix product, not an error
    p, xs, h0, c0, _ = random_problem(1, B, 2, H, seed=14)
    h, c, _ = lt.cell_forward(xs[0], h0, c0, p)
    hm, cm, _ = lt.cell_forward(np.asmatrix(xs[0]), np.asmatrix(h0), np.asmatrix(c0), p)
    assert type(hm) is np.ndarray and np.allclose(hm, h, rtol=0, atol=1e-15)
    assert np.allclose(cm, c, rtol=0, atol=1e-15)
    pm = lt.LSTMParams(*(np.asmatrix(a) if a.ndim == 2 else a for a in p))
    hs, _ = lt.lstm_forward(xs, p, h0, c0)
    for module in (lt, fast):
        hs_m, _ = module.lstm_forward(xs, pm, np.asmatrix(h0), np.asmatrix(c0))
        assert type(hs_m) is np.ndarray and np.allclose(hs_m, hs, rtol=0, atol=1e-14)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_masked_arrays_are_refused(impl):
    p, xs, h0, c0, dhs = random_problem(3, 2, 3, 4, seed=15)
    xs[0, 0, 0] = np.nan
    masked = np.ma.masked_invalid(xs)
    with pytest.raises(ValueError, match=r"xs must be a plain numpy array; got a masked array "
                                         r"of shape \(3, 2, 3\)"):
        IMPLEMENTATIONS[impl].lstm_forward(masked, p, h0, c0)
    with pytest.raises(ValueError, match=r"h0 must be a plain numpy array; got a masked array"):
        IMPLEMENTATIONS[impl].lstm_forward(np.nan_to_num(xs), p, np.ma.array(h0), c0)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_parameters_given_as_lists(impl):
    """Lists are converted (never AttributeError); the numbers are the ndarray ones."""
    module = IMPLEMENTATIONS[impl]
    p, xs, h0, c0, dhs = random_problem(3, 2, 3, 4, seed=16)
    as_lists = lt.LSTMParams(*(a.tolist() for a in p))
    hs, cache = module.lstm_forward(xs, as_lists, h0.tolist(), c0.tolist())
    ref, ref_cache = lt.lstm_forward(xs, p, h0, c0)
    assert np.allclose(hs, ref, rtol=0, atol=1e-14)
    grads = module.lstm_backward(dhs.tolist(), cache)
    assert np.allclose(grads[0].whf, lt.lstm_backward(dhs, ref_cache)[0].whf, atol=1e-13)
    with pytest.raises(ValueError, match=r"p.wxi must be float32 or float64; got int"):
        module.lstm_forward(xs, p._replace(wxi=[[1, 2, 3]] * 4), h0, c0)
    with pytest.raises(ValueError, match=r"p.whf must have shape \(4, 4\) .*; got \(4, 3\)"):
        module.lstm_forward(xs, p._replace(whf=[[0.0] * 3] * 4), h0, c0)


def test_other_parameters_given_as_lists():
    g = lt_gru.init_gru_params(2, 3)
    xs = np.random.default_rng(0).standard_normal((2, 1, 2))
    hs, _ = lt_gru.gru_forward(xs, lt_gru.GRUParams(*(a.tolist() for a in g)))
    assert np.array_equal(hs, lt_gru.gru_forward(xs, g)[0])
    p = lt.init_params(2, 3)
    assert np.array_equal(lt.to_fused(lt.LSTMParams(*(a.tolist() for a in p)))[0],
                          lt.to_fused(p)[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "1.0", True])
def test_init_params_refuses_a_bad_forget_bias(bad):
    with pytest.raises(ValueError, match=r"forget_bias must be a finite number or None; got"):
        lt.init_params(3, 4, forget_bias=bad)


def test_fast_sigmoid_keeps_the_references_relative_accuracy():
    """Gate values at very negative pre-activations: fast = reference to relative 1e-15."""
    z = np.array([-700.0, -400.0, -100.0, -60.0, -37.5, -30.0, -20.0, -5.0, 0.0, 5.0, 40.0])
    p = lt.init_params(1, 1)._replace(wxi=np.ones((1, 1)), whi=np.zeros((1, 1)),
                                      bi=np.zeros(1))
    _, cache = fast.lstm_forward(z[:, None, None], p)
    i_fast = cache.acts[:, 0, 1]  # the fused order is o, i, f, g
    i_ref = lt.sigmoid(z)
    assert np.all(i_ref > 0)
    assert np.max(np.abs(i_fast / i_ref - 1)) < 1e-15
    # and the hidden states, relative to each entry, at pre-activations around -40
    p, xs, h0, c0, dhs = random_problem(4, 2, 3, 4, seed=17)
    p = p._replace(bo=p.bo - 40.0)
    hs_f, _ = fast.lstm_forward(xs, p, h0, c0)
    hs_r, _ = lt.lstm_forward(xs, p, h0, c0)
    assert np.all(np.abs(hs_r) < 1e-12) and np.all(hs_r != 0)
    assert np.max(np.abs(hs_f / hs_r - 1)) < 1e-12


def test_the_vanilla_rnn_cache_does_not_alias_hs():
    """The same defect in rnn.py: rnn_backward read the hs it had returned."""
    from lstm_teach import rnn

    wx, wh, b = rnn.init_rnn_params(3, 4, seed=1)
    xs = np.random.default_rng(0).standard_normal((5, 2, 3))
    hs, cache = rnn.rnn_forward(xs, wx, wh, b)
    expected = rnn.rnn_backward(hs - 0.5, cache)
    d = hs
    d -= 0.5
    got = rnn.rnn_backward(d, cache)
    assert all(np.array_equal(a, b) for a, b in zip(got[0], expected[0]))
    assert np.array_equal(got[1], expected[1])
