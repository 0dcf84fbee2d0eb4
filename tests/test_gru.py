"""lstm_teach.gru: central differences, torch.nn.GRU's outputs and autograd, its layout."""

import numpy as np
import pytest
from conftest import SHAPES

import lstm_teach as lt
from lstm_teach import gru
from lstm_teach.gradcheck import check_gru_cell, check_gru_sequence

torch = pytest.importorskip("torch")
IDS = ["T{}-B{}-I{}-H{}".format(*s) for s in SHAPES]
NAMES = set(gru.GRUParams._fields)


def gru_problem(T, B, I, H, seed=0, dtype=np.float64):
    """Parameters (nonzero biases, all ten drawn), inputs, a nonzero h0, dhs and dhT."""
    rng = np.random.default_rng(seed)
    p = gru.init_gru_params(I, H, seed=seed + 1, dtype=dtype)
    p = p.map(lambda a: (a + 0.1 * rng.standard_normal(a.shape)).astype(dtype))
    xs = rng.standard_normal((T, B, I)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    dhs = rng.standard_normal((T, B, H)).astype(dtype)
    dhT = rng.standard_normal((B, H)).astype(dtype)
    return p, xs, h0, dhs, dhT


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def torch_gru(p):
    module = torch.nn.GRU(p.input_size, p.hidden_size).double()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in gru.to_torch_state_dict(p).items()})
    return module


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_cell_matches_central_differences(shape):
    T, B, I, H = shape
    p, xs, h0, _, _ = gru_problem(*shape, seed=sum(shape))
    report = check_gru_cell(p, xs[0], h0, seed=1)
    assert set(report.errors) == NAMES | {"x", "h_prev"}
    assert report.max_error < 1e-7, str(report)


@pytest.mark.parametrize("shape", SHAPES[:5], ids=IDS[:5])
def test_sequence_matches_central_differences(shape):
    p, xs, h0, _, _ = gru_problem(*shape, seed=sum(shape))
    report = check_gru_sequence(p, xs, h0, seed=2)
    assert set(report.errors) == NAMES | {"xs", "h0"}
    assert report.max_error < 1e-7, str(report)


def test_gradcheck_catches_a_wrong_gru_gradient(monkeypatch):
    """Break one line of the backward pass (r's derivative forgotten): the check must fail."""
    p, xs, h0, _, _ = gru_problem(3, 2, 3, 4, seed=5)
    good = check_gru_sequence(p, xs, h0)
    real_cell = gru.gru_cell_forward

    def cache_without_r(x, h_prev, p):  # h is right, the backward pass reads r = 1
        h, cache = real_cell(x, h_prev, p)
        return h, cache._replace(r=np.ones_like(cache.r))

    monkeypatch.setattr(gru, "gru_cell_forward", cache_without_r)
    bad = check_gru_sequence(p, xs, h0)
    assert good.max_error < 1e-7 and bad.max_error > 1e-3


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_matches_torch_autograd(shape):
    p, xs, h0, dhs, dhT = gru_problem(*shape, seed=sum(shape))
    module = torch_gru(p)
    x = torch.from_numpy(xs.copy()).requires_grad_(True)
    h = torch.from_numpy(h0.copy())[None].requires_grad_(True)
    out, h_last = module(x, h)
    ((out * torch.from_numpy(dhs)).sum() + (h_last[0] * torch.from_numpy(dhT)).sum()).backward()

    hs, cache = gru.gru_forward(xs, p, h0)
    grads, dxs, dh0 = gru.gru_backward(dhs.copy(), cache, dhT=dhT.copy())
    assert max_diff(hs, out.detach().numpy()) < 1e-10
    assert max_diff(dxs, x.grad.numpy()) < 1e-10
    assert max_diff(dh0, h.grad.numpy()[0]) < 1e-10
    ours = gru.to_torch_state_dict(grads, gradient=True)
    for name, param in module.named_parameters():
        assert max_diff(ours[name], param.grad.numpy()) < 1e-10, name
    # and back: torch's gradients in our names
    back = gru.from_torch_state_dict({k: v.grad for k, v in module.named_parameters()})
    for name in ("wxr", "whn", "bxn", "bhn"):
        assert max_diff(getattr(back, name), getattr(grads, name)) < 1e-10


def test_torch_initialisation_into_ours():
    """torch's own random initialisation (two nonzero biases per gate), read into GRUParams."""
    torch.manual_seed(3)
    module = torch.nn.GRU(3, 5).double()
    p = gru.from_torch_state_dict(module.state_dict())
    sd = module.state_dict()
    assert max_diff(p.br, (sd["bias_ih_l0"] + sd["bias_hh_l0"])[:5].numpy()) < 1e-15
    assert max_diff(p.bhn, sd["bias_hh_l0"][10:].numpy()) == 0
    xs = np.random.default_rng(0).standard_normal((6, 2, 3))
    h0 = np.random.default_rng(1).standard_normal((2, 5))
    hs, _ = gru.gru_forward(xs, p, h0)
    out, _ = module(torch.from_numpy(xs), torch.from_numpy(h0)[None])
    assert max_diff(hs, out.detach().numpy()) < 1e-14
    # ours back into torch gives the same outputs again
    again = torch_gru(p)
    assert max_diff(again(torch.from_numpy(xs))[0].detach().numpy(),
                    module(torch.from_numpy(xs))[0].detach().numpy()) < 1e-14


def test_state_dict_round_trip_and_layout():
    p = gru.init_gru_params(2, 3, seed=4)
    sd = gru.to_torch_state_dict(p)
    assert sd["weight_ih_l0"].shape == (9, 2) and sd["weight_hh_l0"].shape == (9, 3)
    assert np.array_equal(sd["bias_hh_l0"][:6], np.zeros(6))
    assert np.array_equal(sd["bias_hh_l0"][6:], p.bhn)
    back = gru.from_torch_state_dict(sd)
    assert all(np.array_equal(a, b) for a, b in zip(p, back))
    with pytest.raises(ValueError, match="weight_ih_l0"):
        gru.from_torch_state_dict({"weight": np.zeros((3, 2))})


def test_step_by_step_equals_the_sequence_functions():
    p, xs, h0, dhs, _ = gru_problem(4, 2, 3, 5, seed=7)
    hs, cache = gru.gru_forward(xs, p, h0)
    h, steps = h0, []
    for t in range(4):
        h, step = gru.gru_cell_forward(xs[t], h, p)
        assert np.array_equal(h, hs[t])
        assert np.allclose(h, (1 - step.z) * step.n + step.z * step.h_prev, atol=1e-15)
        steps.append(step)
    total, dh = p.zeros_like(), np.zeros_like(h0)
    for t in reversed(range(4)):
        g, _, dh = gru.gru_cell_backward(dhs[t] + dh, steps[t])
        total = total.map(np.add, g)
    grads, _, dh0 = gru.gru_backward(dhs, cache)
    assert all(max_diff(a, b) < 1e-14 for a, b in zip(grads, total))
    assert max_diff(dh0, dh) < 1e-14


def test_chunks_equal_one_pass():
    """State carried forward and dhT carried back over chunks = one pass over the sequence."""
    p, xs, h0, dhs, _ = gru_problem(9, 2, 3, 4, seed=8)
    _, cache = gru.gru_forward(xs, p, h0)
    whole = gru.gru_backward(dhs, cache)
    hs1, c1 = gru.gru_forward(xs[:4], p, h0)
    _, c2 = gru.gru_forward(xs[4:], p, hs1[-1])
    g2 = gru.gru_backward(dhs[4:], c2)
    g1 = gru.gru_backward(dhs[:4], c1, dhT=g2.dh0)
    assert all(max_diff(a, b + c) < 1e-13 for a, b, c in zip(whole.params, g1.params, g2.params))
    assert max_diff(whole.dxs, np.concatenate([g1.dxs, g2.dxs])) < 1e-13
    assert max_diff(whole.dh0, g1.dh0) < 1e-13


def test_returned_arrays_are_the_callers_own():
    p, xs, h0, dhs, _ = gru_problem(5, 2, 3, 4, seed=9)
    ys = np.random.default_rng(0).standard_normal(dhs.shape)
    hs, cache = gru.gru_forward(xs, p, h0)
    expected = gru.gru_backward(hs - ys, cache)
    d = hs
    d -= ys  # in place on the returned array
    xs *= 2.0  # and on the inputs the cache was made from
    h0 *= 2.0
    p.wxr[...] *= 2.0
    got = gru.gru_backward(d, cache)
    for a, b in zip((*expected.params, expected.dxs, expected.dh0),
                    (*got.params, got.dxs, got.dh0)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("call, match", [
    (lambda p, xs: gru.gru_forward(xs[:, :, :2], p), r"xs must have shape \(T, B, 3\) to match "
                                                     r"p.wxr \(4, 3\); got \(5, 2, 2\)"),
    (lambda p, xs: gru.gru_forward(xs, p, np.zeros((3, 4))), r"h0 must have shape \(2, 4\)"),
    (lambda p, xs: gru.gru_forward(xs, tuple(p)), r"p must be an lstm_teach.gru.GRUParams"),
    (lambda p, xs: gru.gru_forward(xs, p._replace(bhn=np.zeros(3))), r"p.bhn must have shape"),
    (lambda p, xs: gru.gru_forward(xs.astype(np.float32), p), r"xs must have dtype float64"),
    (lambda p, xs: gru.gru_cell_forward(xs[0], np.zeros((2, 5)), p), r"h_prev must have shape"),
    (lambda p, xs: gru.gru_backward(np.zeros((5, 2, 4)), None), r"cache must be the GRUSeqCache"),
    (lambda p, xs: gru.gru_backward(np.zeros((5, 2, 3)), gru.gru_forward(xs, p)[1]),
     r"dhs must have shape \(5, 2, 4\)"),
    (lambda p, xs: gru.init_gru_params(0, 3), r"input_size must be an integer >= 1; got 0"),
])
def test_bad_input_is_named(call, match):
    p = gru.init_gru_params(3, 4)
    xs = np.zeros((5, 2, 3))
    with pytest.raises(ValueError, match=match):
        call(p, xs)


def test_float32_keeps_its_dtype():
    p, xs, h0, dhs, _ = gru_problem(4, 2, 3, 5, seed=1, dtype=np.float32)
    hs, cache = gru.gru_forward(xs, p, h0)
    grads, dxs, dh0 = gru.gru_backward(dhs, cache)
    assert hs.dtype == dxs.dtype == dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)
    ref = gru.gru_backward(dhs.astype(np.float64),
                           gru.gru_forward(xs.astype(np.float64), p.astype(np.float64),
                                           h0.astype(np.float64))[1])
    assert max_diff(dxs, ref.dxs) < 1e-5


def test_is_a_submodule_of_the_package():
    assert lt.gru is gru
