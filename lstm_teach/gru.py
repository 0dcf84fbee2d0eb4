"""The GRU (Cho et al. 2014), with torch.nn.GRU's equations, forward and backward by hand.

Two gates instead of the LSTM's three, and no separate cell state:

    zr = wxr x + whr h_prev + br            r = sigmoid(zr)     reset gate
    zz = wxz x + whz h_prev + bz            z = sigmoid(zz)     update gate
    zhn = whn h_prev + bhn                                      the recurrent part of n ...
    zn = wxn x + bxn + r * zhn              n = tanh(zn)        ... which r gates
    h  = (1 - z) * n + z * h_prev

r multiplies (whn h_prev + bhn), bias included, so n has two biases that do not merge into
one: bxn outside the product, bhn inside it (torch's b_in and b_hn). The biases of r and z
do merge (torch's b_ir + b_hr, b_iz + b_hz). Shapes: x (B, I), h (B, H), wx* (H, I),
wh* (H, H), b* (H,); code rows are batch entries, so wxr x reads x @ p.wxr.T.

The backward pass of one step, for dh = dE/dh (all of it: the loss and the next step):

    dn = dh * (1 - z)      dz = dh * (h_prev - n)      dh_prev gets dh * z directly
    dzn = dn * (1 - n^2)   dr = dzn * zhn              dzhn = dzn * r
    dzz = dz * z (1 - z)   dzr = dr * r (1 - r)
    dx = dzr wxr + dzz wxz + dzn wxn       dh_prev = dh * z + dzr whr + dzz whz + dzhn whn
"""

from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_int, check_state
from .activations import sigmoid, tanh

TORCH_GATES = ("r", "z", "n")  # torch.nn.GRU's order of the three blocks in its fused weights


class GRUParams(NamedTuple):
    """The 10 arrays of one GRU layer (also used for their gradients).

    wxr, wxz, wxn : (H, I)   input-to-gate weights of the reset gate r, update gate z, candidate n
    whr, whz, whn : (H, H)   hidden-to-gate weights
    br, bz        : (H,)     biases of r and z (torch's two biases of each, summed)
    bxn, bhn      : (H,)     n's input bias (torch's b_in) and recurrent bias (b_hn, inside r *)
    """

    wxr: np.ndarray
    whr: np.ndarray
    br: np.ndarray
    wxz: np.ndarray
    whz: np.ndarray
    bz: np.ndarray
    wxn: np.ndarray
    whn: np.ndarray
    bxn: np.ndarray
    bhn: np.ndarray

    @property
    def input_size(self) -> int:
        return self.wxr.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.wxr.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.wxr.dtype

    def copy(self) -> "GRUParams":
        return GRUParams(*(np.array(a, copy=True) for a in self))

    def zeros_like(self) -> "GRUParams":
        return GRUParams(*(np.zeros_like(a) for a in self))

    def astype(self, dtype) -> "GRUParams":
        return GRUParams(*(a.astype(dtype) for a in self))

    def map(self, fn, *others: "GRUParams") -> "GRUParams":
        """Apply fn field by field: p.map(lambda a, b: a - lr * b, grads)."""
        return GRUParams(*(fn(*arrays) for arrays in zip(self, *others)))


def check_gru_params(p, name: str = "p") -> GRUParams:
    """Check that p is a GRUParams of consistent shapes, one float dtype and finite values."""
    if not isinstance(p, GRUParams):
        raise ValueError(f"{name} must be an lstm_teach.gru.GRUParams; got {type(p).__name__}")
    wxr = check_array(f"{name}.wxr", p.wxr, ("H", "I"))
    H, I = wxr.shape
    arrays = []
    for field, value in zip(GRUParams._fields, p):
        expected = (H, I) if field[:2] == "wx" else (H, H) if field[:2] == "wh" else (H,)
        arrays.append(check_array(f"{name}.{field}", value, expected, dtype=wxr.dtype,
                                  why=f"to match {name}.wxr {wxr.shape}"))
    return GRUParams(*arrays)  # plain ndarrays (lists, np.matrix converted): use this


def init_gru_params(input_size: int, hidden_size: int, seed: int = 0,
                    dtype=np.float64) -> GRUParams:
    """Every entry U(-1/sqrt(H), 1/sqrt(H)), biases included: torch.nn.GRU's default.

    input_size I, hidden_size H; seed for numpy's default_rng; dtype np.float32 or np.float64.
    """
    I = check_int("input_size", input_size)
    H = check_int("hidden_size", hidden_size)
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64; got {np.dtype(dtype)}")
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    shapes = {"wx": (H, I), "wh": (H, H), "b": (H,)}
    return GRUParams(*(rng.uniform(-k, k, size=shapes["b" if f[0] == "b" else f[:2]])
                       .astype(dtype) for f in GRUParams._fields))


# ------------------------------------------------------------------------ one step

class GRUCache(NamedTuple):
    """What gru_cell_backward needs; every array (B, H) except x (B, I) and p.

    zr, r: reset gate; zz, z: update gate; zhn = whn h_prev + bhn (what r multiplies);
    zn, n: candidate; p: the parameters used.
    """

    x: np.ndarray
    h_prev: np.ndarray
    zr: np.ndarray
    r: np.ndarray
    zz: np.ndarray
    z: np.ndarray
    zhn: np.ndarray
    zn: np.ndarray
    n: np.ndarray
    p: GRUParams


class GRUStepGrads(NamedTuple):
    """What gru_cell_backward returns: params (a GRUParams of gradients), dx (B, I),
    dh_prev (B, H)."""

    params: GRUParams
    dx: np.ndarray
    dh_prev: np.ndarray


def _check_step(x, h_prev, p):
    p = check_gru_params(p)
    H, I = p.wxr.shape
    x = check_array("x", x, ("B", I), dtype=p.dtype, why=f"to match p.wxr {p.wxr.shape}")
    if h_prev is None:
        h_prev = np.zeros((x.shape[0], H), dtype=p.dtype)
    h_prev = check_array("h_prev", h_prev, (x.shape[0], H), dtype=p.dtype,
                         why=f"to match x {x.shape} and p.whr {p.whr.shape}")
    return x, h_prev, p


def gru_cell_forward(x, h_prev, p: GRUParams):
    """One GRU step: x (B, I), h_prev (B, H) or None (zeros), p a GRUParams.

    Returns h (B, H) and a GRUCache holding every intermediate by name (its own copies).
    """
    x, h_prev, p = _check_step(x, h_prev, p)
    x, h_prev = x.copy(), h_prev.copy()  # the cache must not see later changes to them
    zr = x @ p.wxr.T + h_prev @ p.whr.T + p.br
    r = sigmoid(zr)
    zz = x @ p.wxz.T + h_prev @ p.whz.T + p.bz
    z = sigmoid(zz)
    zhn = h_prev @ p.whn.T + p.bhn
    zn = x @ p.wxn.T + p.bxn + r * zhn
    n = tanh(zn)
    h = (1 - z) * n + z * h_prev
    return h, GRUCache(x, h_prev, zr, r, zz, z, zhn, zn, n, p)


def gru_cell_backward(dh, cache: GRUCache) -> GRUStepGrads:
    """Backward pass of one step: dh (B, H) = dE/dh, the whole of it; cache from
    gru_cell_forward. Returns GRUStepGrads(params, dx (B, I), dh_prev (B, H))."""
    if not isinstance(cache, GRUCache):
        raise ValueError("cache must be the GRUCache returned by gru_cell_forward; "
                         f"got {type(cache).__name__}")
    dh = check_array("dh", dh, cache.n.shape, dtype=cache.n.dtype,
                     why=f"to match h {cache.n.shape}")
    x, h_prev, r, z, n, p = cache.x, cache.h_prev, cache.r, cache.z, cache.n, cache.p
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dzn = dn * (1 - n**2)
    dr = dzn * cache.zhn
    dzhn = dzn * r
    dzz = dz * z * (1 - z)
    dzr = dr * r * (1 - r)
    grads = GRUParams(
        wxr=dzr.T @ x, whr=dzr.T @ h_prev, br=dzr.sum(axis=0),
        wxz=dzz.T @ x, whz=dzz.T @ h_prev, bz=dzz.sum(axis=0),
        wxn=dzn.T @ x, whn=dzhn.T @ h_prev, bxn=dzn.sum(axis=0), bhn=dzhn.sum(axis=0),
    )
    dx = dzr @ p.wxr + dzz @ p.wxz + dzn @ p.wxn
    # h_prev reaches h directly (through z * h_prev) and through all three pre-activations.
    dh_prev = dh * z + dzr @ p.whr + dzz @ p.whz + dzhn @ p.whn
    return GRUStepGrads(grads, dx, dh_prev)


# ------------------------------------------------------------------------ a sequence

class GRUSeqCache(NamedTuple):
    """What gru_backward needs: xs (T, B, I), hs (T, B, H) (the cache's own copy), one
    GRUCache per step, h0 (B, H), p."""

    xs: np.ndarray
    hs: np.ndarray
    caches: list
    h0: np.ndarray
    p: GRUParams


class GRUSeqGrads(NamedTuple):
    """What gru_backward returns: params (a GRUParams summed over t), dxs (T, B, I), dh0 (B, H)."""

    params: GRUParams
    dxs: np.ndarray
    dh0: np.ndarray


def gru_forward(xs, p: GRUParams, h0=None):
    """Run the GRU over a sequence: xs (T, B, I), p a GRUParams, h0 (B, H) or None (zeros).

    Returns hs (T, B, H), the caller's own array, and a GRUSeqCache (cache.hs[-1] is the
    final state).
    """
    p = check_gru_params(p)
    H, I = p.wxr.shape
    xs = check_array("xs", xs, ("T", "B", I), dtype=p.dtype, why=f"to match p.wxr {p.wxr.shape}")
    T, B, _ = xs.shape
    if T == 0:
        raise ValueError(f"xs must hold at least one time step; got shape {xs.shape}")
    h0 = check_state("h0", h0, (B, H), p.dtype, f"to match xs {xs.shape} and p.whr {p.whr.shape}")
    p = p.copy()  # once for all steps: the caches hold these parameters
    h, hs, caches = h0, [], []
    for t in range(T):
        h, cache = gru_cell_forward(xs[t], h, p)
        hs.append(h)
        caches.append(cache)
    hs = np.stack(hs)
    return hs, GRUSeqCache(xs.copy(), hs.copy(), caches, h0.copy(), p)


def gru_backward(dhs, cache: GRUSeqCache, dhT=None) -> GRUSeqGrads:
    """Backpropagation through time: dhs (T, B, H) dE/dh_t from the loss at every t; cache
    from gru_forward; dhT (B, H) or None (zeros): dE/dh_T arriving from beyond the last step.

    Returns GRUSeqGrads(params, dxs (T, B, I), dh0 (B, H)).
    """
    if not isinstance(cache, GRUSeqCache):
        raise ValueError("cache must be the GRUSeqCache returned by gru_forward; "
                         f"got {type(cache).__name__}")
    dhs = check_array("dhs", dhs, cache.hs.shape, dtype=cache.hs.dtype,
                      why=f"to match hs {cache.hs.shape}")
    T, B, H = dhs.shape
    dh_next = check_state("dhT", dhT, (B, H), dhs.dtype, f"to match the final state {(B, H)}")
    grads, dxs = cache.p.zeros_like(), []
    for t in reversed(range(T)):
        step, dx, dh_next = gru_cell_backward(dhs[t] + dh_next, cache.caches[t])
        grads = grads.map(np.add, step)
        dxs.append(dx)
    return GRUSeqGrads(grads, np.stack(dxs[::-1]), dh_next)


# ------------------------------------------------------------------------ torch's layout

def to_torch_state_dict(p: GRUParams, gradient: bool = False) -> dict:
    """torch.nn.GRU(I, H)'s state_dict keys (layer 0), as numpy arrays in torch's r, z, n order.

    Parameters: br, bz go into bias_ih_l0 with zeros in bias_hh_l0; bxn into bias_ih_l0 and bhn
    into bias_hh_l0. gradient=True converts gradients instead: torch's gradient of b_hr is the
    same as of b_ir (they are added), so dbr and dbz are put in both.
    To load into torch: gru.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}).
    """
    p = check_gru_params(p)
    zeros = np.zeros_like(p.br)
    return {
        "weight_ih_l0": np.concatenate([p.wxr, p.wxz, p.wxn]),
        "weight_hh_l0": np.concatenate([p.whr, p.whz, p.whn]),
        "bias_ih_l0": np.concatenate([p.br, p.bz, p.bxn]),
        "bias_hh_l0": np.concatenate([p.br if gradient else zeros, p.bz if gradient else zeros,
                                      p.bhn]),
    }


def from_torch_state_dict(state_dict, suffix: str = "l0") -> GRUParams:
    """GRUParams from torch.nn.GRU(I, H).state_dict() (tensors or numpy arrays); layer and
    direction by suffix ("l0", "l1_reverse", ...). The biases of r and z are summed."""
    def get(key):
        if key not in state_dict:
            raise ValueError(f"state_dict must have the key {key!r} of a torch.nn.GRU; "
                             f"got keys {sorted(state_dict)}")
        value = state_dict[key]
        return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)

    wx = get(f"weight_ih_{suffix}")
    if wx.ndim != 2 or wx.shape[0] % 3:
        raise ValueError(f"weight_ih_{suffix} must have shape (3H, I); got {wx.shape}")
    H = wx.shape[0] // 3
    wh = get(f"weight_hh_{suffix}")
    if f"bias_ih_{suffix}" in state_dict:
        b_ih, b_hh = get(f"bias_ih_{suffix}"), get(f"bias_hh_{suffix}")
    else:  # a GRU built with bias=False
        b_ih = b_hh = np.zeros(3 * H, dtype=wx.dtype)
    r, z, n = (slice(k * H, (k + 1) * H) for k in range(3))
    p = GRUParams(wxr=wx[r], whr=wh[r], br=b_ih[r] + b_hh[r],
                  wxz=wx[z], whz=wh[z], bz=b_ih[z] + b_hh[z],
                  wxn=wx[n], whn=wh[n], bxn=b_ih[n], bhn=b_hh[n]).copy()
    return check_gru_params(p)
