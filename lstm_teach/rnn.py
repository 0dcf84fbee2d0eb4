"""A vanilla tanh RNN, forward and backward through time, to compare with the LSTM.

    h_t = tanh(x_t wx^T + h_(t-1) wh^T + b)          rows are batch entries, as in cell.py

The only path from h_t back to h_(t-1) goes through wh and tanh', so the gradient that
reaches h_k from an error at step t is a product of t-k Jacobians diag(1 - h^2) wh: it shrinks
or grows geometrically with the distance t-k. Notebook 11 sets this against the LSTM, whose
cell state carries the gradient back through the forget gate alone.

Shapes: T time steps, B batch entries, I inputs, H hidden units.
"""

from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_int


class RNNCache(NamedTuple):
    """What rnn_backward needs from rnn_forward.

    xs (T, B, I) inputs, hs (T, B, H) hidden states, h0 (B, H) initial state,
    wx (H, I), wh (H, H), b (H,) the parameters used.
    """

    xs: np.ndarray
    hs: np.ndarray
    h0: np.ndarray
    wx: np.ndarray
    wh: np.ndarray
    b: np.ndarray


class RNNGrads(NamedTuple):
    """Gradients of the loss: dwx (H, I), dwh (H, H), db (H,)."""

    dwx: np.ndarray
    dwh: np.ndarray
    db: np.ndarray


def init_rnn_params(input_size: int, hidden_size: int, seed: int = 0, dtype=np.float64,
                    scale: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random (wx (H, I), wh (H, H), b (H,)), uniform in [-scale, scale].

    The default scale 1/sqrt(H) is torch.nn.RNN's. b is drawn too (not zero) so that gradient
    checks exercise the bias.
    """
    input_size = check_int("input_size", input_size)
    hidden_size = check_int("hidden_size", hidden_size)
    if scale is None:
        scale = 1.0 / np.sqrt(hidden_size)
    rng = np.random.default_rng(seed)
    wx = rng.uniform(-scale, scale, (hidden_size, input_size)).astype(dtype)
    wh = rng.uniform(-scale, scale, (hidden_size, hidden_size)).astype(dtype)
    b = rng.uniform(-scale, scale, hidden_size).astype(dtype)
    return wx, wh, b


def rnn_forward(xs, wx, wh, b, h0=None) -> tuple[np.ndarray, RNNCache]:
    """Run the RNN over a sequence.

    xs (T, B, I) inputs; wx (H, I), wh (H, H), b (H,) parameters; h0 (B, H) or None for zeros.
    Returns hs (T, B, H), the hidden state at every step (the caller's own array), and an
    RNNCache for rnn_backward.
    Every array must have wx's dtype (float32 or float64), which the results keep.
    """
    wx = check_array("wx", wx, ("H", "I"))
    H, I = wx.shape
    why = f"to match wx {wx.shape}"
    wh = check_array("wh", wh, (H, H), dtype=wx.dtype, why=why)
    b = check_array("b", b, (H,), dtype=wx.dtype, why=why)
    xs = check_array("xs", xs, ("T", "B", I), dtype=wx.dtype, why=why)
    T, B, _ = xs.shape
    if T == 0 or B == 0:
        raise ValueError(f"xs must have at least one time step and one batch entry; got {xs.shape}")
    if h0 is None:
        h0 = np.zeros((B, H), dtype=wx.dtype)
    h0 = check_array("h0", h0, (B, H), dtype=wx.dtype,
                     why=f"to match xs {xs.shape} and wx {wx.shape}")
    dtype = wx.dtype

    hs = np.empty((T, B, H), dtype=dtype)
    h = h0
    for t in range(T):
        h = np.tanh(xs[t] @ wx.T + h @ wh.T + b)
        hs[t] = h
    # The cache keeps its own copies: a caller's `hs -= ys` must not change rnn_backward.
    return hs, RNNCache(xs=xs.copy(), hs=hs.copy(), h0=h0.copy(), wx=wx.copy(), wh=wh.copy(),
                        b=b.copy())


def rnn_step_backward(dh, t: int, cache: RNNCache):
    """Backward through the single step t, given dh (B, H) = total dE/dh_t.

    Returns (dwx (H, I), dwh (H, H), db (H,), dh_prev (B, H)): step t's share of the parameter
    gradients and the part of dE/dh_(t-1) that flows through step t.
    """
    T = cache.hs.shape[0]
    if not isinstance(t, (int, np.integer)) or not 0 <= t < T:
        raise ValueError(f"t must be a step index in 0..{T - 1}; got {t!r}")
    dh = check_array("dh", dh, cache.h0.shape, dtype=cache.hs.dtype,
                     why="to match h0 from rnn_forward")
    h = cache.hs[t]
    h_prev = cache.hs[t - 1] if t > 0 else cache.h0
    dz = dh * (1.0 - h * h)  # tanh'(z) written with the output h = tanh(z)
    return dz.T @ cache.xs[t], dz.T @ h_prev, dz.sum(axis=0), dz @ cache.wh


def rnn_backward(dhs, cache: RNNCache) -> tuple[RNNGrads, np.ndarray]:
    """Backpropagation through time for rnn_forward.

    dhs (T, B, H): dE/dh_t that the loss injects at every step (zeros where it has none).
    Returns (RNNGrads(dwx (H, I), dwh (H, H), db (H,)), dh0 (B, H)). Parameter gradients are
    summed over time steps and batch entries.
    """
    if not isinstance(cache, RNNCache):
        raise ValueError(f"cache must be the RNNCache that rnn_forward returned; got {type(cache)}")
    dhs = check_array("dhs", dhs, cache.hs.shape, dtype=cache.hs.dtype,
                      why="to match hs from rnn_forward")
    dwx = np.zeros_like(cache.wx, dtype=cache.hs.dtype)
    dwh = np.zeros_like(cache.wh, dtype=cache.hs.dtype)
    db = np.zeros_like(cache.b, dtype=cache.hs.dtype)
    dh_next = np.zeros_like(cache.h0, dtype=cache.hs.dtype)  # from step t+1 into h_t
    for t in reversed(range(dhs.shape[0])):
        dwx_t, dwh_t, db_t, dh_next = rnn_step_backward(dhs[t] + dh_next, t, cache)
        dwx += dwx_t
        dwh += dwh_t
        db += db_t
    return RNNGrads(dwx=dwx, dwh=dwh, db=db), dh_next
