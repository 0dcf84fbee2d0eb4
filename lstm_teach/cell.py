"""Steps 2 to 4 of the seed at one time step: the cell's forward pass and its backward pass.

Maths is written for column vectors (z = W x + b); the code holds a batch of B examples as
rows, so the same line reads z = x @ W.T + b. Every quantity of the seed has its own name:

    zi = wxi x + whi h_prev + bi     i = sigmoid(zi)      input gate
    zg = wxg x + whg h_prev + bg     g = tanh(zg)         candidate
    zf = wxf x + whf h_prev + bf     f = sigmoid(zf)      forget gate
    zo = wxo x + who h_prev + bo     o = sigmoid(zo)      output gate
    c  = f * c_prev + i * g          h = o * tanh(c)
"""

from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_state
from .activations import sigmoid, tanh
from .params import GATES, LSTMParams, check_params


class CellCache(NamedTuple):
    """What cell_backward needs from cell_forward; every array (B, H) except x (B, I), p."""

    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    zi: np.ndarray
    zg: np.ndarray
    zf: np.ndarray
    zo: np.ndarray
    i: np.ndarray
    g: np.ndarray
    f: np.ndarray
    o: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    p: LSTMParams


class CellGrads(NamedTuple):
    """The local gradients of one step, each (B, H); d* means dE/d*.

    do      dE/do       = dh * tanh(c)
    dc      dE/dc_t     = dc_next + dh * o * (1 - tanh(c)^2): the total, via h_t AND step t+1
    di      dE/di       = dc * g
    dg      dE/dg       = dc * i
    df      dE/df       = dc * c_prev
    dc_prev dE/dc_(t-1) = dc * f
    dz*     dE/dz*      the same, through each gate's activation: the gradients of the
                        pre-activations, from which the weight gradients follow
    """

    do: np.ndarray
    dc: np.ndarray
    di: np.ndarray
    dg: np.ndarray
    df: np.ndarray
    dc_prev: np.ndarray
    dzi: np.ndarray
    dzg: np.ndarray
    dzf: np.ndarray
    dzo: np.ndarray


def gate_preactivation(x, h_prev, wx, wh, b):
    """z = wx x + wh h_prev + b for a batch: x (B, I), h_prev (B, H), wx (H, I), wh (H, H),
    b (H,) -> z (B, H)."""
    return x @ wx.T + h_prev @ wh.T + b


def _check_state(x, h_prev, c_prev, p):
    """Validate one step's inputs; None for h_prev or c_prev means zeros."""
    p = check_params(p)
    H, I = p.wxi.shape
    x = check_array("x", x, ("B", I), dtype=p.dtype, why=f"to match p.wxi {p.wxi.shape}")
    B = x.shape[0]
    why = f"to match x {x.shape} and p.whi {p.whi.shape}"
    return (p, x, check_state("h_prev", h_prev, (B, H), p.dtype, why),
            check_state("c_prev", c_prev, (B, H), p.dtype, why))


def cell_forward(x, h_prev, c_prev, p: LSTMParams):
    """One LSTM step.

    x (B, I), h_prev (B, H), c_prev (B, H): this step's input and the previous state
    (None for h_prev or c_prev means zeros); p: LSTMParams with wx* (H, I).
    Returns h (B, H), c (B, H) and a CellCache holding every intermediate by the seed's name.
    The cache keeps its own copies of x, h_prev, c_prev and c: changing the arrays given or
    returned in place does not change what cell_backward reads. It holds p itself (a copy
    per step would cost a whole parameter set per step; lstm_forward copies p once).
    """
    p, x, h_prev, c_prev = _check_state(x, h_prev, c_prev, p)
    x, h_prev, c_prev = x.copy(), h_prev.copy(), c_prev.copy()
    zi = gate_preactivation(x, h_prev, p.wxi, p.whi, p.bi)
    i = sigmoid(zi)
    zg = gate_preactivation(x, h_prev, p.wxg, p.whg, p.bg)
    g = tanh(zg)
    zf = gate_preactivation(x, h_prev, p.wxf, p.whf, p.bf)
    f = sigmoid(zf)
    zo = gate_preactivation(x, h_prev, p.wxo, p.who, p.bo)
    o = sigmoid(zo)
    c = f * c_prev + i * g
    tanh_c = tanh(c)
    h = o * tanh_c
    return h, c.copy(), CellCache(x, h_prev, c_prev, zi, zg, zf, zo, i, g, f, o, c, tanh_c, p)


def local_gradients(dh, dc, cache: CellCache) -> CellGrads:
    """Step 4 of the seed, corrected: the gradients of every quantity of one step.

    dh (B, H): dE/dh_t, everything that reaches h_t (the loss at t and, in a sequence, step t+1).
    dc (B, H): dE/dc_t arriving from step t+1 through c_(t+1) = f_(t+1) * c_t + ... (zeros at
      the last step). The seed leaves this term out.
    """
    do = dh * cache.tanh_c
    dc = dc + dh * cache.o * (1 - cache.tanh_c**2)
    di = dc * cache.g
    dg = dc * cache.i
    df = dc * cache.c_prev
    dc_prev = dc * cache.f
    # Each activation's derivative, written with the activation we already hold.
    dzi = di * cache.i * (1 - cache.i)
    dzg = dg * (1 - cache.g**2)
    dzf = df * cache.f * (1 - cache.f)
    dzo = do * cache.o * (1 - cache.o)
    return CellGrads(do, dc, di, dg, df, dc_prev, dzi, dzg, dzf, dzo)


def weight_gradients(dz, x, h_prev):
    """A gate's three parameter gradients from its pre-activation gradient.

    dz (B, H), x (B, I), h_prev (B, H) -> dwx (H, I), dwh (H, H), db (H,).
    z = wx x + ... for each example, so dE/dwx is the outer product dz x^T; the products
    dz.T @ x sum these outer products over the batch.
    """
    return dz.T @ x, dz.T @ h_prev, dz.sum(axis=0)


def hidden_gradient(local: CellGrads, p: LSTMParams):
    """dE/dh_(t-1) (B, H): h_prev enters all four gates, so all four contribute."""
    return local.dzi @ p.whi + local.dzg @ p.whg + local.dzf @ p.whf + local.dzo @ p.who


def input_gradient(local: CellGrads, p: LSTMParams):
    """dE/dx (B, I): x enters all four gates as h_prev does, through wx* instead of wh*."""
    return local.dzi @ p.wxi + local.dzg @ p.wxg + local.dzf @ p.wxf + local.dzo @ p.wxo


class StepGrads(NamedTuple):
    """What cell_backward returns: params (an LSTMParams of dE/dparameter, shapes as p),
    dx (B, I), dh_prev (B, H) and dc_prev (B, H): the gradients sent to the step's inputs."""

    params: LSTMParams
    dx: np.ndarray
    dh_prev: np.ndarray
    dc_prev: np.ndarray


def cell_backward(dh, dc, cache: CellCache):
    """Backward pass of one step.

    dh (B, H): dE/dh_t; dc (B, H) or None: dE/dc_t arriving from step t+1 (None means zeros);
    cache: the CellCache of cell_forward.
    Returns a StepGrads(params, dx, dh_prev, dc_prev): params an LSTMParams of dE/dparameter
    (shapes as p), dx (B, I), dh_prev (B, H), dc_prev (B, H).
    """
    if not isinstance(cache, CellCache):
        raise ValueError(f"cache must be the CellCache returned by cell_forward; "
                         f"got {type(cache).__name__}")
    B, H = cache.c.shape
    dtype = cache.c.dtype
    dh = check_array("dh", dh, (B, H), dtype=dtype, why=f"to match h {cache.c.shape}")
    if dc is None:
        dc = np.zeros((B, H), dtype=dtype)
    dc = check_array("dc", dc, (B, H), dtype=dtype, why=f"to match c {cache.c.shape}")
    local = local_gradients(dh, dc, cache)
    dz = {"i": local.dzi, "g": local.dzg, "f": local.dzf, "o": local.dzo}
    grads = {}
    for gate in GATES:
        grads["wx" + gate], grads["wh" + gate], grads["b" + gate] = weight_gradients(
            dz[gate], cache.x, cache.h_prev)
    return StepGrads(LSTMParams(**grads), input_gradient(local, cache.p),
                     hidden_gradient(local, cache.p), local.dc_prev)
