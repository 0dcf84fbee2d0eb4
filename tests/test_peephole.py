"""lstm_teach.peephole: central differences (torch has no peepholes), and its relation to the
plain LSTM (zero peepholes give cell.py's numbers)."""

import numpy as np
import pytest
from conftest import SHAPES, random_problem

import lstm_teach as lt
from lstm_teach import peephole as ph
from lstm_teach.gradcheck import check_peephole_cell, check_peephole_sequence

NAMES = set(ph.PeepholeParams._fields)
IDS = ["T{}-B{}-I{}-H{}".format(*s) for s in SHAPES]


def peephole_problem(T, B, I, H, seed=0, dtype=np.float64):
    """random_problem's LSTM, inputs, states and dhs, with nonzero peepholes."""
    p, xs, h0, c0, dhs = random_problem(T, B, I, H, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    peep = (rng.uniform(-1, 1, H).astype(dtype) for _ in range(3))
    return ph.PeepholeParams(*p, *peep), xs, h0, c0, dhs


@pytest.mark.parametrize("shape", SHAPES[:5], ids=IDS[:5])
def test_cell_matches_central_differences(shape):
    p, xs, h0, c0, _ = peephole_problem(*shape, seed=sum(shape))
    report = check_peephole_cell(p, xs[0], h0, c0, seed=1)
    assert set(report.errors) == NAMES | {"x", "h_prev", "c_prev"}
    assert report.max_error < 1e-7, str(report)


@pytest.mark.parametrize("shape", SHAPES[:5], ids=IDS[:5])
def test_sequence_matches_central_differences(shape):
    p, xs, h0, c0, _ = peephole_problem(*shape, seed=sum(shape))
    report = check_peephole_sequence(p, xs, h0, c0, seed=2, eps=1e-6, order=2)
    assert set(report.errors) == NAMES | {"xs", "h0", "c0"}
    assert report.max_error < 1e-7, str(report)


def test_gradcheck_catches_a_forgotten_peephole_path(monkeypatch):
    """Leave out o's view of the new cell in dc (the easy mistake): the check must fail."""
    p, xs, h0, c0, _ = peephole_problem(3, 2, 3, 4, seed=5)
    real = ph.peephole_local_gradients

    def without_po(dh, dc, cache):
        return real(dh, dc, cache._replace(p=cache.p._replace(po=np.zeros_like(cache.p.po))))

    monkeypatch.setattr(ph, "peephole_local_gradients", without_po)
    report = check_peephole_sequence(p, xs, h0, c0, eps=1e-6, order=2)
    assert report.errors["c0"] > 1e-3 and report.errors["whf"] > 1e-4


def test_zero_peepholes_are_the_plain_lstm():
    p, xs, h0, c0, dhs = peephole_problem(5, 2, 3, 4, seed=6)
    p = p._replace(pi=np.zeros(4), pf=np.zeros(4), po=np.zeros(4))
    hs, cache = ph.peephole_forward(xs, p, h0, c0)
    ref, ref_cache = lt.lstm_forward(xs, p.lstm, h0, c0)
    assert np.allclose(hs, ref, rtol=0, atol=1e-15)
    got = ph.peephole_backward(dhs, cache)
    want = lt.lstm_backward(dhs, ref_cache)
    for a, b in zip(got.params.lstm, want.params):
        assert np.allclose(a, b, rtol=0, atol=1e-14)
    assert np.allclose(got.dxs, want.dxs, atol=1e-14) and np.allclose(got.dc0, want.dc0,
                                                                       atol=1e-14)
    assert np.any(got.params.po != 0)  # the peepholes still get a gradient at zero


def test_the_output_gate_sees_the_new_cell():
    p, xs, h0, c0, _ = peephole_problem(1, 2, 3, 4, seed=7)
    h, c, cache = ph.peephole_cell_forward(xs[0], h0, c0, p)
    assert np.allclose(cache.zo, xs[0] @ p.wxo.T + h0 @ p.who.T + p.bo + p.po * c)
    assert np.allclose(cache.zi, xs[0] @ p.wxi.T + h0 @ p.whi.T + p.bi + p.pi * c0)
    assert np.allclose(h, cache.o * np.tanh(c))


def test_chunks_equal_one_pass():
    p, xs, h0, c0, dhs = peephole_problem(8, 2, 3, 4, seed=8)
    _, cache = ph.peephole_forward(xs, p, h0, c0)
    whole = ph.peephole_backward(dhs, cache)
    hs1, c1 = ph.peephole_forward(xs[:3], p, h0, c0)
    _, c2 = ph.peephole_forward(xs[3:], p, hs1[-1], c1.cs[-1])
    g2 = ph.peephole_backward(dhs[3:], c2)
    g1 = ph.peephole_backward(dhs[:3], c1, dhT=g2.dh0, dcT=g2.dc0)
    for a, b, c in zip(whole.params, g1.params, g2.params):
        assert np.allclose(a, b + c, rtol=0, atol=1e-13)
    assert np.allclose(whole.dxs, np.concatenate([g1.dxs, g2.dxs]), rtol=0, atol=1e-13)


def test_returned_arrays_are_the_callers_own():
    p, xs, h0, c0, dhs = peephole_problem(4, 2, 3, 4, seed=9)
    hs, cache = ph.peephole_forward(xs, p, h0, c0)
    expected = ph.peephole_backward(hs - 1.0, cache)
    d = hs
    d -= 1.0
    xs *= 2.0
    c0 *= 2.0
    got = ph.peephole_backward(d, cache)
    assert all(np.array_equal(a, b) for a, b in zip(expected.params, got.params))
    assert np.array_equal(expected.dc0, got.dc0)


def test_init_and_bad_input():
    p = ph.init_peephole_params(3, 4, seed=1)
    assert p.po.shape == (4,) and np.any(p.po != 0) and np.all(p.bf == 1.0)
    assert p.lstm == lt.LSTMParams(*p[:12])
    with pytest.raises(ValueError, match=r"p.po must have shape \(4,\) to match p.wxi"):
        ph.peephole_forward(np.zeros((2, 1, 3)), p._replace(po=np.zeros(3)))
    with pytest.raises(ValueError, match=r"p must be an lstm_teach.peephole.PeepholeParams"):
        ph.peephole_forward(np.zeros((2, 1, 3)), p.lstm)
    with pytest.raises(ValueError, match=r"xs must have shape \(T, B, 3\)"):
        ph.peephole_forward(np.zeros((2, 1, 4)), p)
    with pytest.raises(ValueError, match=r"cache must be the PeepholeCache"):
        ph.peephole_cell_backward(np.zeros((1, 4)), None, lt.cell_forward(
            np.zeros((1, 3)), None, None, p.lstm)[2])


def test_is_a_submodule_of_the_package():
    assert lt.peephole is ph
