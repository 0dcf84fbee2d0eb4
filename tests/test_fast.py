"""lstm_teach.fast against the reference (lstm_teach.sequence); tests/test_torch.py checks it
against torch.nn.LSTM."""

import numpy as np
import pytest
from conftest import SHAPES, random_problem

import lstm_teach as lt
from lstm_teach import fast

TRUNCATES = [None, 1, 2, 3, 5, 100]


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, np.float64))))


def rel_diff(a, b):
    """Largest difference relative to the largest entry (1 when both are zero)."""
    scale = max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return max_diff(a, b) / scale


def both(xs, p, h0, c0, dhs, truncate, dhT=None, dcT=None):
    """(hs, cache, SeqGrads) of the reference, then of fast."""
    out = []
    for module in (lt, fast):
        hs, cache = module.lstm_forward(xs, p, h0, c0)
        out.append((hs, cache, module.lstm_backward(dhs, cache, truncate=truncate, dhT=dhT,
                                                    dcT=dcT)))
    return out


@pytest.mark.parametrize("final", [False, True], ids=["no-dhT", "dhT-dcT"])
@pytest.mark.parametrize("truncate", TRUNCATES, ids=lambda k: f"k{k}")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}-B{}-I{}-H{}".format(*s))
def test_matches_reference_float64(shape, truncate, final):
    p, xs, h0, c0, dhs = random_problem(*shape, seed=sum(shape))
    rng = np.random.default_rng(1)
    dhT, dcT = (rng.standard_normal(h0.shape) if final else None for _ in range(2))
    ref, fst = both(xs, p, h0, c0, dhs, truncate, dhT, dcT)
    assert rel_diff(ref[0], fst[0]) < 1e-12
    assert rel_diff(ref[1].cs, fst[1].cs) < 1e-12
    for name in lt.LSTMParams._fields:
        assert rel_diff(getattr(ref[2].params, name), getattr(fst[2].params, name)) < 1e-12, name
    assert fst[2].dxs.shape == xs.shape
    assert rel_diff(ref[2].dxs, fst[2].dxs) < 1e-12
    assert rel_diff(ref[2].dh0, fst[2].dh0) < 1e-12
    assert rel_diff(ref[2].dc0, fst[2].dc0) < 1e-12


@pytest.mark.parametrize("module", [lt, fast], ids=["reference", "fast"])
def test_chunks_equal_one_pass(module):
    """A long sequence in chunks, (h, c) carried forward and (dhT, dcT) carried back, gives
    the gradients of one full BPTT pass over the whole sequence."""
    p, xs, h0, c0, dhs = random_problem(12, 2, 3, 4, seed=21)
    _, cache = module.lstm_forward(xs, p, h0, c0)
    whole = module.lstm_backward(dhs, cache)
    bounds = [0, 5, 6, 12]  # chunks of 5, 1 and 6 steps
    caches, h, c = [], h0, c0
    for a, b in zip(bounds, bounds[1:]):
        hs, chunk_cache = module.lstm_forward(xs[a:b], p, h, c)
        caches.append(chunk_cache)
        h, c = hs[-1], chunk_cache.cs[-1]
    total, dxs, dhT, dcT = p.zeros_like(), [], None, None
    for (a, b), chunk_cache in reversed(list(zip(zip(bounds, bounds[1:]), caches))):
        g = module.lstm_backward(dhs[a:b], chunk_cache, dhT=dhT, dcT=dcT)
        total = total.map(np.add, g.params)
        dxs.insert(0, g.dxs)
        dhT, dcT = g.dh0, g.dc0
    for name in lt.LSTMParams._fields:
        assert max_diff(getattr(total, name), getattr(whole.params, name)) < 1e-13, name
    assert max_diff(np.concatenate(dxs), whole.dxs) < 1e-13
    assert max_diff(dhT, whole.dh0) < 1e-13 and max_diff(dcT, whole.dc0) < 1e-13


def test_truncation_changes_the_gradient():
    """Guard against a truncate argument that is accepted and ignored."""
    p, xs, h0, c0, dhs = random_problem(6, 2, 3, 4, seed=5)
    _, cache = fast.lstm_forward(xs, p, h0, c0)
    full = fast.lstm_backward(dhs, cache).params
    one = fast.lstm_backward(dhs, cache, truncate=1).params
    assert max_diff(full.whf, one.whf) > 1e-3


@pytest.mark.parametrize("shape", [(9, 5, 7, 6), (3, 2, 4, 16)])
def test_matches_reference_float32(shape):
    p, xs, h0, c0, dhs = random_problem(*shape, seed=3, dtype=np.float32)
    ref, fst = both(xs, p, h0, c0, dhs, None)
    assert fst[0].dtype == np.float32 and fst[1].cs.dtype == np.float32
    assert all(g.dtype == np.float32 for g in fst[2].params)
    assert fst[2].dxs.dtype == fst[2].dh0.dtype == fst[2].dc0.dtype == np.float32
    assert rel_diff(ref[0], fst[0]) < 1e-5
    for name in lt.LSTMParams._fields:
        assert rel_diff(getattr(ref[2].params, name), getattr(fst[2].params, name)) < 1e-4, name
    assert rel_diff(ref[2].dxs, fst[2].dxs) < 1e-4


def test_default_initial_state_is_zero():
    p, xs, _, _, dhs = random_problem(4, 3, 2, 5, seed=8)
    zeros = np.zeros((3, 5))
    hs_a, cache_a = fast.lstm_forward(xs, p)
    hs_b, _ = fast.lstm_forward(xs, p, zeros, zeros)
    hs_r, _ = lt.lstm_forward(xs, p)
    assert max_diff(hs_a, hs_b) == 0
    assert rel_diff(hs_a, hs_r) < 1e-12
    assert np.all(cache_a.h0 == 0) and np.all(cache_a.c0 == 0)


def test_final_state_carries_over_chunks():
    """Two chunks with (h, c) carried equal one long sequence: what training relies on."""
    p, xs, h0, c0, _ = random_problem(10, 2, 3, 4, seed=11)
    hs_all, cache_all = fast.lstm_forward(xs, p, h0, c0)
    hs_1, cache_1 = fast.lstm_forward(xs[:6], p, h0, c0)
    hs_2, cache_2 = fast.lstm_forward(xs[6:], p, hs_1[-1], cache_1.cs[-1])
    assert max_diff(np.concatenate([hs_1, hs_2]), hs_all) < 1e-14
    assert max_diff(cache_2.cs[-1], cache_all.cs[-1]) < 1e-14


def test_cache_survives_later_calls():
    """Reused buffers must never be handed out while an earlier cache still holds them."""
    p, xs, h0, c0, dhs = random_problem(5, 3, 4, 6, seed=2)
    hs_1, cache_1 = fast.lstm_forward(xs, p, h0, c0)
    expected = fast.lstm_backward(dhs, cache_1)
    keep = hs_1.copy()
    del hs_1  # the caller drops its hs: its buffer may be handed out again, the cache's not
    for seed in range(3):  # same shapes, other numbers: would overwrite shared buffers
        other = random_problem(5, 3, 4, 6, seed=20 + seed)
        _, cache_2 = fast.lstm_forward(other[1], other[0], other[2], other[3])
        fast.lstm_backward(other[4], cache_2)
    assert max_diff(cache_1.hs, keep) == 0
    again = fast.lstm_backward(dhs, cache_1)
    for a, b in zip((*expected.params, *expected[1:]), (*again.params, *again[1:])):
        assert max_diff(a, b) == 0
    fast.clear_buffers()
    assert max_diff(fast.lstm_forward(xs, p, h0, c0)[0], keep) == 0


def test_inputs_are_not_modified():
    p, xs, h0, c0, dhs = random_problem(6, 3, 4, 5, seed=4)
    copies = [a.copy() for a in (*p, xs, h0, c0, dhs)]
    _, cache = fast.lstm_forward(xs, p, h0, c0)
    dhT, dcT = dhs[0] + 1, dhs[1] - 1
    copies += [dhT.copy(), dcT.copy()]
    fast.lstm_backward(dhs, cache, truncate=2, dhT=dhT, dcT=dcT)
    fast.lstm_backward(dhs, cache, dhT=dhT, dcT=dcT)
    for before, after in zip(copies, (*p, xs, h0, c0, dhs, dhT, dcT)):
        assert np.array_equal(before, after)


def test_overflow_free_for_huge_preactivations():
    p, xs, h0, c0, dhs = random_problem(3, 2, 3, 4, seed=6)
    xs = xs * 1e4  # pre-activations of order 1e4: exp(-z) would overflow
    with np.errstate(all="raise"):
        hs, cache = fast.lstm_forward(xs, p, h0, c0)
        fast.lstm_backward(dhs, cache)
    assert np.all(np.isfinite(hs))
    ref, _ = lt.lstm_forward(xs, p, h0, c0)
    assert max_diff(hs, ref) < 1e-12


@pytest.mark.parametrize("make_bad, match", [
    (lambda p, xs, h0, c0: (xs[:, :, :2], p, h0, c0), r"xs must have shape \(T, B, 3\)"),
    (lambda p, xs, h0, c0: (xs[0], p, h0, c0), r"xs must have shape"),
    (lambda p, xs, h0, c0: (xs[:0], p, h0, c0), r"at least one time step"),
    (lambda p, xs, h0, c0: (xs.astype(np.float32), p, h0, c0), r"xs must have dtype float64"),
    (lambda p, xs, h0, c0: (xs, p, h0[:1], c0), r"h0 must have shape \(2, 4\)"),
    (lambda p, xs, h0, c0: (xs, p, h0, c0.T), r"c0 must have shape \(2, 4\)"),
    (lambda p, xs, h0, c0: (xs, p._replace(whf=p.whf[:, :3]), h0, c0), r"p.whf must have"),
    (lambda p, xs, h0, c0: (xs, tuple(p), h0, c0), r"p must be an lstm_teach.LSTMParams"),
    (lambda p, xs, h0, c0: (np.where(xs > 0, np.nan, xs), p, h0, c0), r"xs must be finite"),
])
def test_forward_rejects_bad_input(make_bad, match):
    p, xs, h0, c0, _ = random_problem(5, 2, 3, 4, seed=1)
    with pytest.raises(ValueError, match=match):
        fast.lstm_forward(*make_bad(p, xs, h0, c0))


def test_backward_rejects_bad_input():
    p, xs, h0, c0, dhs = random_problem(5, 2, 3, 4, seed=1)
    _, cache = fast.lstm_forward(xs, p, h0, c0)
    _, ref_cache = lt.lstm_forward(xs, p, h0, c0)
    with pytest.raises(ValueError, match=r"dhs must have shape \(5, 2, 4\)"):
        fast.lstm_backward(dhs[:4], cache)
    with pytest.raises(ValueError, match=r"dhs must have dtype float64"):
        fast.lstm_backward(dhs.astype(np.float32), cache)
    with pytest.raises(ValueError, match=r"cache must be the FastCache"):
        fast.lstm_backward(dhs, ref_cache)
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=r"truncate must be an integer >= 1"):
            fast.lstm_backward(dhs, cache, truncate=k)
    with pytest.raises(ValueError, match=r"dhT must have shape \(2, 4\) to match the final "
                                         r"state \(2, 4\); got \(4, 2\)"):
        fast.lstm_backward(dhs, cache, dhT=dhs[0].T)
    with pytest.raises(ValueError, match=r"dcT must have dtype float64"):
        fast.lstm_backward(dhs, cache, dcT=dhs[0].astype(np.float32))


# -- torch's autograd: tests/test_torch.py checks fast and the reference alike

def test_non_contiguous_inputs():
    p, xs, h0, c0, dhs = random_problem(6, 3, 4, 5, seed=1)
    xs_f, h0_f, dhs_v = (np.asfortranarray(a) for a in (xs, h0, dhs))
    assert not xs_f.flags.c_contiguous and not dhs_v.flags.c_contiguous
    hs_ref, cache_ref = lt.lstm_forward(xs, p, h0, c0)
    hs, cache = fast.lstm_forward(xs_f, p, h0_f, c0)
    assert rel_diff(hs, hs_ref) < 1e-12
    grads, dxs, dh0, dc0 = fast.lstm_backward(dhs_v, cache)
    ref = lt.lstm_backward(dhs, cache_ref)
    for a, b in zip([*grads, dxs, dh0, dc0], [*ref.params, ref.dxs, ref.dh0, ref.dc0]):
        assert rel_diff(a, b) < 1e-12
