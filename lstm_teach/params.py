"""Step 1 of the seed: the twelve parameters of an LSTM cell, and how to initialise them.

Each of the four gates (input i, candidate g, forget f, output o) has an input weight wx*,
a recurrent weight wh* and a bias b*. Shapes follow torch.nn.LSTM: wx* (H, I), wh* (H, H),
b* (H,), so that a gate's pre-activation for a batch of row vectors x (B, I) is
x @ wx*.T + h_prev @ wh*.T + b*.
"""

from typing import NamedTuple

import numpy as np

from ._validate import check_array, check_int

GATES = ("i", "g", "f", "o")  # the seed's order
TORCH_GATES = ("i", "f", "g", "o")  # torch.nn.LSTM's order of the four blocks in its fused weights


class LSTMParams(NamedTuple):
    """The 12 arrays of one LSTM layer, named as in the seed. Also used for their gradients.

    wx* : (H, I)   input-to-gate weights
    wh* : (H, H)   hidden-to-gate (recurrent) weights
    b*  : (H,)     gate biases
    """

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

    @property
    def input_size(self) -> int:
        return self.wxi.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.wxi.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.wxi.dtype

    def gate(self, name: str) -> tuple:
        """(wx, wh, b) of gate name ('i', 'g', 'f' or 'o')."""
        if name not in GATES:
            raise ValueError(f"gate must be one of {GATES}; got {name!r}")
        return getattr(self, "wx" + name), getattr(self, "wh" + name), getattr(self, "b" + name)

    def copy(self) -> "LSTMParams":
        return LSTMParams(*(a.copy() for a in self))

    def zeros_like(self) -> "LSTMParams":
        return LSTMParams(*(np.zeros_like(a) for a in self))

    def astype(self, dtype) -> "LSTMParams":
        return LSTMParams(*(a.astype(dtype) for a in self))

    def map(self, fn, *others: "LSTMParams") -> "LSTMParams":
        """Apply fn field by field: p.map(lambda a, b: a - lr * b, grads)."""
        return LSTMParams(*(fn(*arrays) for arrays in zip(self, *others)))

    def norm(self) -> float:
        """Global L2 norm over all 12 arrays (what gradient clipping looks at)."""
        return float(np.sqrt(sum(float(np.sum(a.astype(np.float64) ** 2)) for a in self)))


def check_params(p, name: str = "p") -> LSTMParams:
    """Check that p is an LSTMParams of consistent shapes, one float dtype and finite values.

    Returns p with every field a plain ndarray (lists and np.matrix fields converted, without
    copying arrays): use the returned value.
    """
    if not isinstance(p, LSTMParams):
        raise ValueError(f"{name} must be an lstm_teach.LSTMParams; got {type(p).__name__}")
    wxi = check_array(f"{name}.wxi", p.wxi, ("H", "I"))
    H, I = wxi.shape
    arrays = []
    for field, value in zip(LSTMParams._fields, p):
        kind = field[:2]
        expected = (H, I) if kind == "wx" else (H, H) if kind == "wh" else (H,)
        arrays.append(check_array(f"{name}.{field}", value, expected, dtype=wxi.dtype,
                                  why=f"to match {name}.wxi {wxi.shape}"))
    return LSTMParams(*arrays)


def init_params(input_size: int, hidden_size: int, seed: int = 0, dtype=np.float64,
                scheme: str = "uniform", forget_bias: float | None = 1.0) -> LSTMParams:
    """Draw the 12 parameters of an LSTM cell.

    input_size I, hidden_size H: sizes of x (B, I) and h (B, H).
    seed: for numpy's default_rng; the same seed gives the same parameters.
    dtype: np.float64 (gradient checks) or np.float32 (speed).
    scheme:
      "uniform"    every entry U(-1/sqrt(H), 1/sqrt(H)), biases included: torch.nn.LSTM's default.
      "xavier"     wx* and wh* Glorot-uniform, biases 0.
      "orthogonal" wx* Glorot-uniform, wh* orthogonal (eigenvalues of modulus 1, so the
                   recurrent product neither shrinks nor grows h at the start), biases 0.
    forget_bias: value every entry of bf is set to (None keeps the scheme's draw). 1.0 keeps
      f = sigmoid(1) ~ 0.73 at the start, so the cell state, and its gradient, survive several
      steps before training has learned anything.
    """
    I = check_int("input_size", input_size)
    H = check_int("hidden_size", hidden_size)
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64; got {np.dtype(dtype)}")
    if forget_bias is not None and (isinstance(forget_bias, bool) or not isinstance(
            forget_bias, (int, float, np.integer, np.floating)) or not np.isfinite(forget_bias)):
        raise ValueError(f"forget_bias must be a finite number or None; got {forget_bias!r}")
    rng = np.random.default_rng(seed)

    def glorot(shape):
        limit = np.sqrt(6.0 / (shape[0] + shape[1]))
        return rng.uniform(-limit, limit, size=shape)

    def orthogonal(n):
        q, r = np.linalg.qr(rng.standard_normal((n, n)))
        return q * np.sign(np.diag(r))  # the sign fix makes q uniformly distributed

    arrays = {}
    for gate in GATES:
        if scheme == "uniform":
            k = 1.0 / np.sqrt(H)
            wx, wh, b = (rng.uniform(-k, k, size=s) for s in ((H, I), (H, H), (H,)))
        elif scheme == "xavier":
            wx, wh, b = glorot((H, I)), glorot((H, H)), np.zeros(H)
        elif scheme == "orthogonal":
            wx, wh, b = glorot((H, I)), orthogonal(H), np.zeros(H)
        else:
            raise ValueError(
                f"scheme must be 'uniform', 'xavier' or 'orthogonal'; got {scheme!r}")
        arrays["wx" + gate], arrays["wh" + gate], arrays["b" + gate] = wx, wh, b
    if forget_bias is not None:
        arrays["bf"] = np.full(H, float(forget_bias))
    return LSTMParams(**{k: np.asarray(v, dtype=dtype) for k, v in arrays.items()})


def to_fused(p: LSTMParams) -> tuple:
    """The 12 arrays as three, gate blocks stacked in torch's order i, f, g, o.

    Returns wx (4H, I), wh (4H, H), b (4H,): the layout of torch.nn.LSTM's weight_ih_l0,
    weight_hh_l0 and bias (one product x @ wx.T then computes all four gates at once).
    """
    p = check_params(p)
    wx = np.concatenate([p.gate(g)[0] for g in TORCH_GATES])
    wh = np.concatenate([p.gate(g)[1] for g in TORCH_GATES])
    b = np.concatenate([p.gate(g)[2] for g in TORCH_GATES])
    return wx, wh, b


def from_fused(wx, wh, b) -> LSTMParams:
    """Inverse of to_fused: wx (4H, I), wh (4H, H), b (4H,) in torch's gate order i, f, g, o."""
    wx = np.asarray(wx)
    if wx.ndim != 2 or wx.shape[0] % 4:
        raise ValueError(f"wx must have shape (4H, I); got {wx.shape}")
    H, I = wx.shape[0] // 4, wx.shape[1]
    wx = check_array("wx", wx, (4 * H, I))
    wh = check_array("wh", wh, (4 * H, H), dtype=wx.dtype, why=f"to match wx {wx.shape}")
    b = check_array("b", b, (4 * H,), dtype=wx.dtype, why=f"to match wx {wx.shape}")
    arrays = {}
    for k, gate in enumerate(TORCH_GATES):
        rows = slice(k * H, (k + 1) * H)
        arrays["wx" + gate] = wx[rows].copy()
        arrays["wh" + gate] = wh[rows].copy()
        arrays["b" + gate] = b[rows].copy()
    return LSTMParams(**arrays)


def to_torch_state_dict(p: LSTMParams) -> dict:
    """A state_dict for torch.nn.LSTM(I, H) (one layer): imports torch only when called.

    torch keeps two bias vectors that are always added; the whole bias goes into bias_ih_l0
    and bias_hh_l0 is zero. The gradient of either torch bias equals our gradient of b*.
    """
    import torch

    wx, wh, b = to_fused(p)
    return {
        "weight_ih_l0": torch.from_numpy(wx.copy()),
        "weight_hh_l0": torch.from_numpy(wh.copy()),
        "bias_ih_l0": torch.from_numpy(b.copy()),
        "bias_hh_l0": torch.zeros(b.shape, dtype=torch.from_numpy(b).dtype),
    }


def from_torch_state_dict(state_dict) -> LSTMParams:
    """LSTMParams from torch.nn.LSTM(I, H).state_dict() (layer 0); the two biases are summed."""
    def get(key):
        if key not in state_dict:
            raise ValueError(f"state_dict must have the key {key!r} of a torch.nn.LSTM layer 0; "
                             f"got keys {sorted(state_dict)}")
        value = state_dict[key]
        return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)

    b = get("bias_ih_l0") + get("bias_hh_l0") if "bias_ih_l0" in state_dict else None
    if b is None:  # an LSTM built with bias=False
        wx = get("weight_ih_l0")
        b = np.zeros(wx.shape[0], dtype=wx.dtype)
    return from_fused(get("weight_ih_l0"), get("weight_hh_l0"), b)
