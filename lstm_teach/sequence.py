"""Backpropagation through time: the cell of cell.py run over a whole sequence, and back.

What the seed's single step leaves out, and this module adds:
- dh_(t-1): h_(t-1) feeds all four gates of step t, so its gradient gathers all four;
- dc_(t-1) = dE/dc_t * f_t is carried back, and added to the next (earlier) step's dE/dc;
- the weights are shared by every step, so their gradients are summed over t;
- the initial state (h0, c0) gets gradients too.
"""

from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_int, check_state
from .cell import CellCache, cell_backward, cell_forward
from .params import LSTMParams, check_params


class SeqCache(NamedTuple):
    """What lstm_backward needs: xs (T, B, I), hs and cs (T, B, H), one CellCache per step,
    the initial state h0, c0 (B, H) and the parameters p."""

    xs: np.ndarray
    hs: np.ndarray
    cs: np.ndarray
    caches: list
    h0: np.ndarray
    c0: np.ndarray
    p: LSTMParams


def lstm_forward(xs, p: LSTMParams, h0=None, c0=None):
    """Run the cell over a sequence.

    xs (T, B, I): inputs, time first; p: LSTMParams; h0, c0 (B, H) or None for zeros.
    Returns hs (T, B, H), the hidden state after each step, and a SeqCache (cache.cs holds
    the cell states; cache.hs[-1], cache.cs[-1] are the final state to carry on with). hs is
    the caller's own: the cache holds copies of it and of xs, h0, c0 and p.
    """
    p = check_params(p)
    H, I = p.wxi.shape
    xs = check_array("xs", xs, ("T", "B", I), dtype=p.dtype, why=f"to match p.wxi {p.wxi.shape}")
    T, B, _ = xs.shape
    if T == 0:
        raise ValueError(f"xs must hold at least one time step; got shape {xs.shape}")
    why = f"to match xs {xs.shape} and p.whi {p.whi.shape}"
    h = check_state("h0", h0, (B, H), p.dtype, why)
    c = check_state("c0", c0, (B, H), p.dtype, why)
    h_init, c_init = h.copy(), c.copy()
    p = p.copy()  # once, for every step's cache
    hs, cs, caches = [], [], []
    for t in range(T):
        h, c, cache = cell_forward(xs[t], h, c, p)
        hs.append(h)
        cs.append(c)
        caches.append(cache)
    hs, cs = np.stack(hs), np.stack(cs)
    return hs, SeqCache(xs.copy(), hs.copy(), cs, caches, h_init, c_init, p)


class SeqGrads(NamedTuple):
    """What lstm_backward returns: params (an LSTMParams of gradients, summed over t),
    dxs (T, B, I): dE/dx_t for every step, and dh0, dc0 (B, H): the initial state's gradients."""

    params: LSTMParams
    dxs: np.ndarray
    dh0: np.ndarray
    dc0: np.ndarray


def lstm_backward(dhs, cache: SeqCache, truncate=None, dhT=None, dcT=None):
    """Backpropagation through time.

    dhs (T, B, H): dE/dh_t for every t, from the loss alone (what the read-out sends back);
    cache: the SeqCache of lstm_forward.
    truncate: None for full BPTT, or k >= 1: the error injected at step t flows back through
      at most k cells (t, t-1, ..., t-k+1). k = 1 is the seed's one-step gradient; k >= T is
      full BPTT. Written to be read, this costs O(T k) cell backward passes: each error has
      its own sweep of k cells (34 s at T = 1000, k = 999 on the machine of
      benchmarks/RESULTS.md). lstm_teach.fast does the same arithmetic with the k sweeps
      stacked into one batched product per step, much faster but still O(T k); full BPTT
      (truncate=None) is one sweep, O(T).
    dhT, dcT (B, H) or None (zeros): dE/dh_T and dE/dc_T arriving from beyond the last step,
      e.g. from the next chunk of a long sequence. With truncation they are errors injected at
      the last step like dhs[-1], and flow back k cells as well.
    Returns a SeqGrads(params, dxs, dh0, dc0): params an LSTMParams summed over t, dxs (T, B, I),
    dh0 and dc0 (B, H).
    """
    if not isinstance(cache, SeqCache):
        raise ValueError(f"cache must be the SeqCache returned by lstm_forward; "
                         f"got {type(cache).__name__}")
    dhs = check_array("dhs", dhs, cache.hs.shape, dtype=cache.hs.dtype,
                      why=f"to match hs {cache.hs.shape}")
    T, B, H = dhs.shape
    dhT, dcT = (check_state(name, value, (B, H), dhs.dtype, f"to match the final state {(B, H)}")
                for name, value in (("dhT", dhT), ("dcT", dcT)))
    if truncate is None or check_int("truncate", truncate) >= T:
        return _backward_full(dhs, cache.caches, dhT, dcT)
    return _backward_truncated(dhs, cache.caches, truncate, dhT, dcT)


def _backward_full(dhs, caches: list[CellCache], dhT, dcT):
    """One sweep from t = T-1 down to 0, carrying dh and dc from each step to the one before."""
    p = caches[0].p
    grads = p.zeros_like()
    dxs = []
    dh_next, dc_next = dhT, dcT  # what arrives from beyond the last step
    for t in reversed(range(len(caches))):
        # h_t reaches the loss directly (dhs[t]) and through step t+1 (dh_next).
        step_grads, dx, dh_next, dc_next = cell_backward(dhs[t] + dh_next, dc_next, caches[t])
        grads = grads.map(np.add, step_grads)
        dxs.append(dx)
    return SeqGrads(grads, np.stack(dxs[::-1]), dh_next, dc_next)


def _backward_truncated(dhs, caches: list[CellCache], k: int, dhT, dcT):
    """Each step's error separately, through at most k cells: O(T k) cell backward passes."""
    T = len(caches)
    p = caches[0].p
    grads = p.zeros_like()
    dxs = np.zeros((T,) + caches[0].x.shape, dtype=dhs.dtype)
    dh0 = np.zeros_like(dhs[0])
    dc0 = np.zeros_like(dhs[0])
    for t in range(T):
        dh, dc = dhs[t], None
        if t == T - 1:  # the final state's gradients enter where dhs[-1] does
            dh, dc = dh + dhT, dcT
        for s in range(t, max(t - k, -1), -1):
            step_grads, dx, dh, dc = cell_backward(dh, dc, caches[s])
            grads = grads.map(np.add, step_grads)
            dxs[s] += dx
        if t - k < 0:  # the k cells reached back to step 0: the error arrives at (h0, c0)
            dh0 = dh0 + dh
            dc0 = dc0 + dc
    return SeqGrads(grads, dxs, dh0, dc0)
