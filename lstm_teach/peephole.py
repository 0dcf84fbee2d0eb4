"""The peephole LSTM (Gers & Schmidhuber 2000): the gates also look at the cell state.

In cell.py the gates see only x and h_prev = o_prev * tanh(c_prev); a closed output gate
hides the cell from them. Peephole connections give each gate a direct, diagonal view of the
cell, one weight per unit (elementwise products, not matrices):

    zi = wxi x + whi h_prev + pi * c_prev + bi      i = sigmoid(zi)
    zf = wxf x + whf h_prev + pf * c_prev + bf      f = sigmoid(zf)
    zg = wxg x + whg h_prev + bg                    g = tanh(zg)
    c  = f * c_prev + i * g
    zo = wxo x + who h_prev + po * c + bo           o = sigmoid(zo)    (o sees the NEW cell)
    h  = o * tanh(c)

Backward, what changes against cell.py: c now also reaches the loss through zo, and c_prev
through zi and zf as well as through f * c_prev:

    dzo = dh * tanh(c) * o (1 - o)           (first: dc needs it)
    dc  = dc_next + dh * o * (1 - tanh(c)^2) + dzo * po
    dzi, dzg, dzf as in cell.py, from this dc
    dc_prev = dc * f + dzi * pi + dzf * pf
    dpi = sum over the batch of dzi * c_prev, dpf of dzf * c_prev, dpo of dzo * c

torch.nn.LSTM has no peepholes, so these gradients are checked by central differences only
(lstm_teach.gradcheck.check_peephole_cell / check_peephole_sequence).
"""

from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_state
from .activations import sigmoid, tanh
from .cell import (
    CellGrads,
    StepGrads,
    gate_preactivation,
    hidden_gradient,
    input_gradient,
    weight_gradients,
)
from .params import GATES, LSTMParams, check_params, init_params
from .sequence import SeqGrads


class PeepholeParams(NamedTuple):
    """The 12 arrays of LSTMParams, shapes as there, and three peephole weights pi, pf, po
    (H,) each: diagonal, so c enters a gate as p* * c."""

    wxi: np.ndarray
    whi: np.ndarray
    bi: np.ndarray
    wxg: np.ndarray
    whg: np.ndarray
    bg: np.ndarray
    wxf: np.ndarray
    whf: np.ndarray
    bf: np.ndarray
    wxo: np.ndarray
    who: np.ndarray
    bo: np.ndarray
    pi: np.ndarray
    pf: np.ndarray
    po: np.ndarray

    @property
    def lstm(self) -> LSTMParams:
        """The 12 arrays without the peepholes, as an LSTMParams (cell.py's functions take it)."""
        return LSTMParams(*self[:12])

    @property
    def input_size(self) -> int:
        return self.wxi.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.wxi.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.wxi.dtype

    def copy(self) -> "PeepholeParams":
        return PeepholeParams(*(np.array(a, copy=True) for a in self))

    def zeros_like(self) -> "PeepholeParams":
        return PeepholeParams(*(np.zeros_like(a) for a in self))

    def astype(self, dtype) -> "PeepholeParams":
        return PeepholeParams(*(a.astype(dtype) for a in self))

    def map(self, fn, *others: "PeepholeParams") -> "PeepholeParams":
        return PeepholeParams(*(fn(*arrays) for arrays in zip(self, *others)))


def check_peephole_params(p, name: str = "p") -> PeepholeParams:
    """Check the 12 LSTM arrays as check_params does, and pi, pf, po (H,)."""
    if not isinstance(p, PeepholeParams):
        raise ValueError(f"{name} must be an lstm_teach.peephole.PeepholeParams; "
                         f"got {type(p).__name__}")
    lstm = check_params(LSTMParams(*p[:12]), name)
    peep = [check_array(f"{name}.{field}", getattr(p, field), (lstm.hidden_size,),
                        dtype=lstm.dtype, why=f"to match {name}.wxi {lstm.wxi.shape}")
            for field in ("pi", "pf", "po")]
    return PeepholeParams(*lstm, *peep)  # plain ndarrays: use this


def init_peephole_params(input_size: int, hidden_size: int, seed: int = 0,
                         dtype=np.float64) -> PeepholeParams:
    """init_params(input_size, hidden_size, seed, dtype) (torch's uniform draw, forget bias 1)
    and peephole weights U(-1/sqrt(H), 1/sqrt(H))."""
    p = init_params(input_size, hidden_size, seed=seed, dtype=dtype)
    rng = np.random.default_rng([seed, 1])  # a stream of its own, apart from init_params'
    k = 1.0 / np.sqrt(hidden_size)
    peep = (rng.uniform(-k, k, hidden_size).astype(dtype) for _ in range(3))
    return PeepholeParams(*p, *peep)


# ------------------------------------------------------------------------ one step

class PeepholeCache(NamedTuple):
    """cell.CellCache's fields (every array (B, H) except x (B, I)), p a PeepholeParams."""

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
    p: PeepholeParams


def peephole_cell_forward(x, h_prev, c_prev, p: PeepholeParams):
    """One step: x (B, I), h_prev and c_prev (B, H) or None (zeros), p a PeepholeParams.

    Returns h (B, H), c (B, H) and a PeepholeCache (its own copies of x, h_prev, c_prev).
    """
    p = check_peephole_params(p)
    H, I = p.wxi.shape
    x = check_array("x", x, ("B", I), dtype=p.dtype, why=f"to match p.wxi {p.wxi.shape}")
    B = x.shape[0]
    why = f"to match x {x.shape} and p.whi {p.whi.shape}"
    states = [check_state(name, value, (B, H), p.dtype, why).copy()
              for name, value in (("h_prev", h_prev), ("c_prev", c_prev))]
    x, (h_prev, c_prev) = x.copy(), states
    zi = gate_preactivation(x, h_prev, p.wxi, p.whi, p.bi) + p.pi * c_prev
    i = sigmoid(zi)
    zf = gate_preactivation(x, h_prev, p.wxf, p.whf, p.bf) + p.pf * c_prev
    f = sigmoid(zf)
    zg = gate_preactivation(x, h_prev, p.wxg, p.whg, p.bg)
    g = tanh(zg)
    c = f * c_prev + i * g
    zo = gate_preactivation(x, h_prev, p.wxo, p.who, p.bo) + p.po * c
    o = sigmoid(zo)
    tanh_c = tanh(c)
    h = o * tanh_c
    return h, c.copy(), PeepholeCache(x, h_prev, c_prev, zi, zg, zf, zo, i, g, f, o, c, tanh_c, p)


def peephole_local_gradients(dh, dc, cache: PeepholeCache) -> CellGrads:
    """cell.local_gradients with the three peephole paths added (see the module docstring)."""
    p = cache.p
    do = dh * cache.tanh_c
    dzo = do * cache.o * (1 - cache.o)
    dc = dc + dh * cache.o * (1 - cache.tanh_c**2) + dzo * p.po  # c also reaches zo
    di, dg, df = dc * cache.g, dc * cache.i, dc * cache.c_prev
    dzi = di * cache.i * (1 - cache.i)
    dzg = dg * (1 - cache.g**2)
    dzf = df * cache.f * (1 - cache.f)
    dc_prev = dc * cache.f + dzi * p.pi + dzf * p.pf  # c_prev also reaches zi and zf
    return CellGrads(do, dc, di, dg, df, dc_prev, dzi, dzg, dzf, dzo)


def peephole_cell_backward(dh, dc, cache: PeepholeCache) -> StepGrads:
    """Backward pass of one step: dh (B, H) = dE/dh_t; dc (B, H) or None (zeros): dE/dc_t
    from step t+1. Returns cell.StepGrads(params, dx, dh_prev, dc_prev), params a
    PeepholeParams of gradients."""
    if not isinstance(cache, PeepholeCache):
        raise ValueError("cache must be the PeepholeCache returned by peephole_cell_forward; "
                         f"got {type(cache).__name__}")
    shape, dtype = cache.c.shape, cache.c.dtype
    dh = check_array("dh", dh, shape, dtype=dtype, why=f"to match h {shape}")
    dc = check_state("dc", dc, shape, dtype, f"to match c {shape}")
    local = peephole_local_gradients(dh, dc, cache)
    dz = {"i": local.dzi, "g": local.dzg, "f": local.dzf, "o": local.dzo}
    grads = {}
    for gate in GATES:
        grads["wx" + gate], grads["wh" + gate], grads["b" + gate] = weight_gradients(
            dz[gate], cache.x, cache.h_prev)
    peep = dict(pi=(local.dzi * cache.c_prev).sum(axis=0),
                pf=(local.dzf * cache.c_prev).sum(axis=0),
                po=(local.dzo * cache.c).sum(axis=0))
    lstm = cache.p.lstm
    return StepGrads(PeepholeParams(**grads, **peep), input_gradient(local, lstm),
                     hidden_gradient(local, lstm), local.dc_prev)


# ------------------------------------------------------------------------ a sequence

class PeepholeSeqCache(NamedTuple):
    """xs (T, B, I), hs and cs (T, B, H) (the cache's own), one PeepholeCache per step,
    h0, c0 (B, H), p."""

    xs: np.ndarray
    hs: np.ndarray
    cs: np.ndarray
    caches: list
    h0: np.ndarray
    c0: np.ndarray
    p: PeepholeParams


def peephole_forward(xs, p: PeepholeParams, h0=None, c0=None):
    """Run the peephole LSTM over xs (T, B, I); h0, c0 (B, H) or None (zeros).

    Returns hs (T, B, H), the caller's own, and a PeepholeSeqCache (cache.cs: cell states).
    """
    p = check_peephole_params(p)
    xs = check_array("xs", xs, ("T", "B", p.input_size), dtype=p.dtype,
                     why=f"to match p.wxi {p.wxi.shape}")
    if xs.shape[0] == 0:
        raise ValueError(f"xs must hold at least one time step; got shape {xs.shape}")
    p = p.copy()  # once: every step's cache holds these
    h, c, hs, cs, caches = h0, c0, [], [], []
    for t in range(xs.shape[0]):
        h, c, cache = peephole_cell_forward(xs[t], h, c, p)
        hs.append(h)
        cs.append(c)
        caches.append(cache)
    hs, cs = np.stack(hs), np.stack(cs)
    first = caches[0]
    return hs, PeepholeSeqCache(xs.copy(), hs.copy(), cs, caches, first.h_prev, first.c_prev, p)


def peephole_backward(dhs, cache: PeepholeSeqCache, dhT=None, dcT=None) -> SeqGrads:
    """BPTT: dhs (T, B, H) from the loss; dhT, dcT (B, H) or None: from beyond the last step.

    Returns sequence.SeqGrads(params, dxs (T, B, I), dh0, dc0 (B, H)), params a PeepholeParams.
    """
    if not isinstance(cache, PeepholeSeqCache):
        raise ValueError("cache must be the PeepholeSeqCache returned by peephole_forward; "
                         f"got {type(cache).__name__}")
    dhs = check_array("dhs", dhs, cache.hs.shape, dtype=cache.hs.dtype,
                      why=f"to match hs {cache.hs.shape}")
    shape = cache.h0.shape
    dh_next, dc_next = (check_state(n, v, shape, dhs.dtype, f"to match the final state {shape}")
                        for n, v in (("dhT", dhT), ("dcT", dcT)))
    grads, dxs = cache.p.zeros_like(), []
    for t in reversed(range(len(cache.caches))):
        step, dx, dh_next, dc_next = peephole_cell_backward(dhs[t] + dh_next, dc_next,
                                                            cache.caches[t])
        grads = grads.map(np.add, step)
        dxs.append(dx)
    return SeqGrads(grads, np.stack(dxs[::-1]), dh_next, dc_next)
