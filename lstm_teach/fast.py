"""The LSTM of sequence.py, fused and vectorised for training: same signatures, same numbers.

lstm_teach.sequence is written to be read: one cell and twelve small products per step.
This module computes the same forward pass and the same BPTT gradients (float64 agreement
about 1e-15; tests/test_fast.py asserts 1e-12) with the work reorganised for numpy and the
BLAS. Each choice was timed on a 2-core AMD EPYC with OpenBLAS, 1 thread (benchmarks/RESULTS.md
has the numbers), rather than assumed:

- One fused weight for the four gates, rows in the order o, i, f, g (not torch's i, f, g, o):
  the three sigmoid gates are one block of columns and the three gates that dE/dc_t feeds
  (i, f, g) another, so each element-wise step is one numpy call over a block.
- The input part xs @ wx.T + b of all T steps is one matrix product before the loop, and the
  weight gradients are single products over all T B rows after the backward loop
  (dZ.T @ xs, dZ.T @ h_prev): 5 to 15 % faster than the same products step by step.
- The sigmoid rows of the fused weights are negated (exact), so the product gives -z and
  three in-place calls (exp, + 1, reciprocal) give sigmoid(z) = 1 / (1 + exp(-z)) for the
  three sigmoid gates at once: relative accuracy as good as the reference's for z << 0
  (sigmoid(-30) ~ 9e-14 to the last digits). An earlier tanh form, 1/2 + tanh(z/2)/2, was
  about as fast but lost relative accuracy below z ~ -20 and gave 0 below -37, where the
  reference gives 1e-17. Below z ~ -709 (float64; -88 in float32), where the reference
  itself returns a denormal number under 1e-308 (1e-38), this gives 0.
- The factors of dZ that do not depend on dh or dc (o (1 - o) tanh c_t, g i (1 - i), ...) are
  computed in the forward loop while the step's arrays are in cache; the backward loop then
  does 6 element-wise calls and one product per step.
- Large arrays are reused between calls (_BufferPool): a fresh np.empty of several MB costs a
  page fault per 4 kB page at first write, about a third of a forward pass at
  (T, B, I, H) = (100, 32, 64, 128).
- The recurrent weight of the backward loop is kept in Fortran order: dz @ wh ran at 55
  instead of 46 GFLOP/s in float64.

- The input gradient dxs is one more product after the loop, dZ (T B, 4H) @ wx (4H, I);
  benchmarks/RESULTS.md has its cost.
- Truncated BPTT keeps the (at most k) error streams alive at once as one (k, B, H) stack, so
  each step is one batched product: O(T k) arithmetic like the reference, but in T calls.

The cache is a FastCache (a NamedTuple, below). Like SeqCache it has xs, hs, cs, h0, c0 and p:
cache.cs (T, B, H) holds the cell states, and cache.hs[-1], cache.cs[-1] are the final state,
which a training loop carries into the next chunk of a long sequence. The cache holds its own
copies: the hs that lstm_forward returns, the xs, h0, c0 and p it was given are not in it, so
changing them in place (hs -= ys) never changes what lstm_backward reads.
"""

import sys
import threading
from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_int, check_state
from .params import LSTMParams, check_params
from .sequence import SeqGrads

# Internal gate order of the fused arrays: sigmoid gates first, then g.
_ORDER = ("o", "i", "f", "g")


class _BufferPool:
    """Large arrays kept between calls and handed out again once nothing refers to them.

    A fresh multi-megabyte np.empty is new memory from the operating system on every call;
    the first write to each page then costs a page fault (about 2,800 per forward pass at
    T, B, H = 100, 32, 128, a third of its time on this machine). An array here is free again
    when only the pool holds it: CPython's reference count says so (a view, such as a field
    of a cache the caller still holds, keeps its base array referenced). Buffers for the
    `keep` most recently used shapes are kept; clear_buffers() drops them all.
    """

    def __init__(self, keep: int = 3):
        self.keep = keep
        self._pools: dict = {}  # (shape, dtype) -> list of arrays; insertion order = use order
        self._lock = threading.Lock()

    def take(self, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised array of this shape and dtype that nobody else refers to."""
        key = (tuple(shape), np.dtype(dtype).str)
        with self._lock:
            arrays = self._pools.pop(key, [])
            self._pools[key] = arrays  # most recently used last
            while len(self._pools) > self.keep:
                del self._pools[next(iter(self._pools))]
            for array in arrays:
                if sys.getrefcount(array) == _REFS_WHEN_FREE:
                    return array
            array = np.empty(shape, dtype)
            if len(arrays) < 8:
                arrays.append(array)
            return array

    def clear(self) -> None:
        with self._lock:
            self._pools.clear()


def _count_refs_when_free() -> int:
    """getrefcount of an array held only by a list, measured the way take() measures it.

    (The list, the loop variable and getrefcount's argument: 3 on CPython 3.10 to 3.13.
    Measuring instead of assuming keeps the test right if an interpreter counts differently.)
    """
    for array in [np.empty(0)]:
        return sys.getrefcount(array)


_REFS_WHEN_FREE = _count_refs_when_free()
_pool = _BufferPool()


def clear_buffers() -> None:
    """Release the memory that lstm_forward / lstm_backward keep for reuse between calls."""
    _pool.clear()


class FastCache(NamedTuple):
    """What lstm_backward needs, for T steps, batch B, input size I, hidden size H.

    xs (T, B, I): the inputs; hs (T, B, H): hidden states h_1..h_T; cs (T, B, H): cell states
    c_1..c_T (cs[-1] is the final cell state); h0, c0 (B, H): the initial state; p: the
    parameters. All are the cache's own copies. Internal to this module: acts (T, B, 4H) the
    gate activations o, i, f, g in that column order; ks (T, B, 4H) the factors
    [o (1 - o) tanh c, g i (1 - i), c_prev f (1 - f), i (1 - g^2)] that turn dh (first block)
    and dc (the others) into dZ; k_c (T, B, H) = o (1 - tanh^2 c); wh_t (H, 4H) the transposed
    fused recurrent weight; wx (4H, I) the fused input weight (for dxs).
    """

    xs: np.ndarray
    hs: np.ndarray
    cs: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    p: LSTMParams
    acts: np.ndarray
    ks: np.ndarray
    k_c: np.ndarray
    wh_t: np.ndarray
    wx: np.ndarray


def _fuse(p: LSTMParams):
    """wx (4H, I), wh (4H, H), b (4H,) with the gate blocks in the order o, i, f, g."""
    wx = np.concatenate([getattr(p, "wx" + g) for g in _ORDER])
    wh = np.concatenate([getattr(p, "wh" + g) for g in _ORDER])
    b = np.concatenate([getattr(p, "b" + g) for g in _ORDER])
    return wx, wh, b


def _unfuse(dwx, dwh, db) -> LSTMParams:
    """Inverse of _fuse for gradients: split the o, i, f, g blocks into the 12 named arrays."""
    H = dwh.shape[1]
    arrays = {}
    for k, g in enumerate(_ORDER):
        rows = slice(k * H, (k + 1) * H)
        arrays["wx" + g] = dwx[rows]
        arrays["wh" + g] = dwh[rows]
        arrays["b" + g] = db[rows]
    return LSTMParams(**arrays)


def _own(array):
    """A copy of array that nobody else holds, in a reused buffer (see _BufferPool)."""
    out = _pool.take(array.shape, array.dtype)
    np.copyto(out, array)
    return out


def lstm_forward(xs, p: LSTMParams, h0=None, c0=None):
    """Run the LSTM over a sequence; the same result as lstm_teach.sequence.lstm_forward.

    xs (T, B, I): inputs, time first, the dtype of p (float32 or float64); p: LSTMParams;
    h0, c0 (B, H) or None for zeros.
    Returns hs (T, B, H), the caller's own array, and a FastCache (cache.cs (T, B, H) are the
    cell states; cache.hs[-1], cache.cs[-1] the final state to carry on with). No argument is
    written to, and the cache shares no array with the arguments or with hs.
    """
    p = check_params(p)
    H, I = p.wxi.shape
    dtype = p.dtype
    xs = check_array("xs", xs, ("T", "B", I), dtype=dtype, why=f"to match p.wxi {p.wxi.shape}")
    T, B, _ = xs.shape
    if T == 0:
        raise ValueError(f"xs must hold at least one time step; got shape {xs.shape}")
    why = f"to match xs {xs.shape} and p.whi {p.whi.shape}"
    h0 = (np.zeros((B, H), dtype) if h0 is None
          else check_array("h0", h0, (B, H), dtype=dtype, why=why).copy())
    c0 = (np.zeros((B, H), dtype) if c0 is None
          else check_array("c0", c0, (B, H), dtype=dtype, why=why).copy())
    xs = _own(xs)

    wx, wh, b = _fuse(p)
    # Negating the sigmoid rows is exact: the product then gives -z, and
    # sigmoid(z) = 1 / (1 + exp(-z)) is three in-place calls, accurate for z << 0.
    scale = np.ones((4 * H, 1), dtype)
    scale[: 3 * H] = -1
    wx_s, wh_s, b_s = wx * scale, wh * scale, b * scale[:, 0]
    wh_s_t = wh_s.T

    # One product for the input part of every step's pre-activation; acts is filled in place.
    acts = _pool.take((T, B, 4 * H), dtype)
    np.matmul(xs.reshape(T * B, I), wx_s.T, out=acts.reshape(T * B, 4 * H))
    acts += b_s
    hs, cs, k_c, tanh_cs = (_pool.take((T, B, H), dtype) for _ in range(4))
    ks = _pool.take((T, B, 4 * H), dtype)
    rec = np.empty((B, 4 * H), dtype)
    ig = np.empty((B, H), dtype)

    h, c = h0, c0
    # exp(-z) overflows to inf for z < -709 (sigmoid 0, as it should be) and underflows to 0
    # for z > 745 (sigmoid 1): both are the right limits, not errors.
    with np.errstate(over="ignore", under="ignore"):
        for t in range(T):
            a = acts[t]
            np.matmul(h, wh_s_t, out=rec)
            a += rec
            sig = a[:, : 3 * H]
            np.exp(sig, out=sig)
            sig += 1
            np.reciprocal(sig, out=sig)
            o, i, f, g = a[:, :H], a[:, H: 2 * H], a[:, 2 * H: 3 * H], a[:, 3 * H:]
            np.tanh(g, out=g)
            c_new = cs[t]
            np.multiply(f, c, out=c_new)
            np.multiply(i, g, out=ig)
            c_new += ig
            tc = tanh_cs[t]
            np.tanh(c_new, out=tc)
            np.multiply(o, tc, out=hs[t])
            # The factors of dZ that do not depend on dh or dc, while the step is in cache:
            #   dzo = dh * [o (1 - o) tanh c],  dc += dh * [o (1 - tanh^2 c)],
            #   (dzi, dzf, dzg) = dc * [i (1 - i) g, f (1 - f) c_prev, i (1 - g^2)].
            kt = ks[t]
            ksig = kt[:, : 3 * H]
            np.subtract(1, sig, out=ksig)
            ksig *= sig
            kt[:, :H] *= tc
            kt[:, H: 2 * H] *= g
            kt[:, 2 * H: 3 * H] *= c
            kg = kt[:, 3 * H:]
            np.multiply(g, g, out=kg)
            np.subtract(1, kg, out=kg)
            kg *= i
            kc = k_c[t]
            np.multiply(tc, tc, out=kc)
            np.subtract(1, kc, out=kc)
            kc *= o
            h, c = hs[t], c_new
    cache = FastCache(xs, hs, cs, h0, c0, p.copy(), acts, ks, k_c, np.ascontiguousarray(wh.T),
                      wx)
    return _own(hs), cache


def lstm_backward(dhs, cache: FastCache, truncate=None, dhT=None, dcT=None):
    """BPTT; the same result as lstm_teach.sequence.lstm_backward.

    dhs (T, B, H): dE/dh_t for every t, from the loss alone; cache: the FastCache of
    lstm_forward. truncate: None for full BPTT, or k >= 1: the error injected at step t flows
    back through at most k cells (t, ..., t-k+1); k >= T is full BPTT.
    dhT, dcT (B, H) or None (zeros): dE/dh_T and dE/dc_T arriving from beyond the last step
    (from the next chunk of a long sequence); with truncation they start where dhs[-1] does.
    Returns a SeqGrads(params, dxs, dh0, dc0): params an LSTMParams summed over t,
    dxs (T, B, I), dh0 and dc0 (B, H). No argument is written to.
    """
    if not isinstance(cache, FastCache):
        raise ValueError("cache must be the FastCache returned by lstm_teach.fast.lstm_forward; "
                         f"got {type(cache).__name__}")
    hs = cache.hs
    dhs = check_array("dhs", dhs, hs.shape, dtype=hs.dtype, why=f"to match hs {hs.shape}")
    T, B, H = hs.shape
    final = [check_state(name, value, (B, H), hs.dtype, f"to match the final state {(B, H)}")
             for name, value in (("dhT", dhT), ("dcT", dcT))]
    if truncate is not None:
        truncate = check_int("truncate", truncate)

    f = cache.acts[..., 2 * H: 3 * H]
    k_o, k_ifg = cache.ks[..., :H], cache.ks[..., H:].reshape(T, B, 3, H)
    dz = _pool.take((T, B, 4 * H), hs.dtype)
    k_c = cache.k_c
    if truncate is None or truncate >= T:
        dh0, dc0 = _sweep_full(dhs, dz, k_o, k_c, k_ifg, f, cache.wh_t.T, *final)
    else:
        dh0, dc0 = _sweep_truncated(dhs, dz, k_o, k_c, k_ifg, f, cache.wh_t.T, truncate,
                                    *final)

    # The weights are shared by all steps: their gradients are single products over T*B rows,
    # and x_t enters the gates as h_(t-1) does: dxs is one more product.
    I = cache.xs.shape[2]
    dz2 = dz.reshape(T * B, 4 * H)
    dwx = dz2.T @ cache.xs.reshape(T * B, I)
    dwh = dz[0].T @ cache.h0
    if T > 1:
        dwh += dz2[B:].T @ hs[:-1].reshape((T - 1) * B, H)
    db = dz2.sum(axis=0)
    dxs = (dz2 @ cache.wx).reshape(T, B, I)
    return SeqGrads(_unfuse(dwx, dwh, db), dxs, dh0, dc0)


def _sweep_full(dhs, dz, k_o, k_c, k_ifg, f, wh, dhT, dcT):
    """Fill dz (T, B, 4H) from t = T-1 down to 0, carrying dh and dc; return (dh0, dc0)."""
    T, B, H = dhs.shape
    dh = np.empty((B, H), dhs.dtype)
    dc = np.empty((B, H), dhs.dtype)
    dh_rec = dhT.copy()  # what arrives from beyond the last step; written to below
    dc_rec = dcT.copy()
    for t in range(T - 1, -1, -1):
        # h_t reaches the loss directly (dhs[t]) and through step t+1 (dh_rec).
        np.add(dhs[t], dh_rec, out=dh)
        np.multiply(dh, k_o[t], out=dz[t, :, :H])
        np.multiply(dh, k_c[t], out=dc)
        dc += dc_rec
        np.multiply(dc[:, None, :], k_ifg[t], out=dz[t, :, H:].reshape(B, 3, H))
        np.multiply(dc, f[t], out=dc_rec)
        np.matmul(dz[t], wh, out=dh_rec)
    return dh_rec, dc_rec


def _sweep_truncated(dhs, dz, k_o, k_c, k_ifg, f, wh, k, dhT, dcT):
    """Truncated BPTT with k < T: each step's error is its own stream, at most k cells long.

    Up to k streams are alive at once; they are stacked (k, B, H) and pushed back together,
    stream of origin t in slot t % k. dz[t] is the sum over the streams at step t. The final
    state's gradients (dhT, dcT) join the stream of the last step.
    """
    T, B, H = dhs.shape
    dh = np.zeros((k, B, H), dhs.dtype)
    dc = np.zeros((k, B, H), dhs.dtype)
    dc[(T - 1) % k] = dcT
    dzs = np.empty((k, B, 4 * H), dhs.dtype)
    for t in range(T - 1, -1, -1):
        dh[t % k] = dhs[t]  # a new stream starts; its slot was emptied one step later
        if t == T - 1:
            dh[t % k] += dhT
        np.multiply(dh, k_o[t], out=dzs[:, :, :H])
        dc += dh * k_c[t]
        np.multiply(dc[:, :, None, :], k_ifg[t], out=dzs[:, :, H:].reshape(k, B, 3, H))
        dzs.sum(axis=0, out=dz[t])
        dc *= f[t]
        np.matmul(dzs, wh, out=dh)
        if t > 0:
            # The stream that started at t + k - 1 has now passed k cells: it stops here.
            dh[(t - 1) % k] = 0
            dc[(t - 1) % k] = 0
    return dh.sum(axis=0), dc.sum(axis=0)
