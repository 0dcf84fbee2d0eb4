"""Gradient checking: compare a backward pass with central differences.

    dE/dw[k] ~ (E(w + eps e_k) - E(w - eps e_k)) / (2 eps)

The error of this estimate is O(eps^2) from the Taylor series plus O(u / eps) from rounding
(u ~ 1e-16 in float64, 6e-8 in float32), so it is only worth doing in float64, where eps ~ 1e-6
makes both small. A five-point stencil (order=4) cancels the eps^2 term too. The comparison
uses the relative error of each array as a whole,

    ||a - n|| / (||a|| + ||n||),

which is 0 for a perfect match, 1 for a gradient of the wrong sign, and does not blow up at
entries where the true gradient happens to be 0 (where an entry-by-entry ratio would).
"""

from typing import NamedTuple

import numpy as np

from . import gru as _gru
from . import peephole as _peephole
from . import stack as _stack
from ._validate import check_array
from .cell import cell_backward, cell_forward
from .params import LSTMParams, check_params
from .sequence import lstm_backward, lstm_forward


def relative_error(a, b) -> float:
    """||a - b|| / (||a|| + ||b||) over all entries; 0 when both are zero."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error needs arrays of one shape; got {a.shape} and {b.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def numerical_gradient(f, x, eps: float = 1e-6, order: int = 2):
    """Central-difference gradient of a scalar function f at x (any shape, float64).

    order=2: (f(x + eps) - f(x - eps)) / (2 eps), error O(eps^2), the formula of the course.
    order=4: (8 (f(x + eps) - f(x - eps)) - (f(x + 2 eps) - f(x - 2 eps))) / (12 eps), error
      O(eps^4), so a larger eps (1e-3) can be used and rounding matters less: what the
      automatic checks use, since they also meet gradients as small as 1e-4.
    f is called with a perturbed COPY of x, one entry at a time; x itself is never changed.
    Returns an array of x's shape.
    """
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4; got {order!r}")
    x = check_array("x", x, tuple("?" for _ in np.shape(x)), dtype=np.float64)
    work = x.copy()
    grad = np.zeros_like(work)

    def at(k, value):
        work[k] = value
        return float(f(work))

    for k in np.ndindex(work.shape):
        saved = work[k]
        diff1 = at(k, saved + eps) - at(k, saved - eps)
        if order == 2:
            grad[k] = diff1 / (2 * eps)
        else:
            diff2 = at(k, saved + 2 * eps) - at(k, saved - 2 * eps)
            grad[k] = (8 * diff1 - diff2) / (12 * eps)
        work[k] = saved
    return grad


class Entry(NamedTuple):
    """One compared array: its relative error and its worst entry."""

    name: str
    shape: tuple
    error: float
    index: tuple
    analytic: float
    numeric: float


class GradcheckReport:
    """Per-array relative errors of an analytic gradient against a numerical one.

    str(report) is a table, worst entry of each array included; report.errors maps each name
    to its relative error; report.passed(tol) says whether every error is below tol.
    """

    def __init__(self, analytic: dict, numeric: dict):
        if set(analytic) != set(numeric):
            raise ValueError(f"analytic and numeric must name the same arrays; got "
                             f"{sorted(analytic)} and {sorted(numeric)}")
        self.entries = []
        for name in analytic:
            a = np.asarray(analytic[name], dtype=np.float64)
            n = np.asarray(numeric[name], dtype=np.float64)
            error = relative_error(a, n)
            index = np.unravel_index(int(np.argmax(np.abs(a - n))), a.shape) if a.size else ()
            self.entries.append(Entry(name, a.shape, error, tuple(int(k) for k in index),
                                      float(a[index]) if a.size else 0.0,
                                      float(n[index]) if a.size else 0.0))

    @property
    def errors(self) -> dict:
        return {e.name: e.error for e in self.entries}

    @property
    def max_error(self) -> float:
        return max((e.error for e in self.entries), default=0.0)

    @property
    def worst(self) -> Entry:
        return max(self.entries, key=lambda e: e.error)

    def passed(self, tol: float = 1e-7) -> bool:
        return self.max_error < tol

    def __str__(self) -> str:
        lines = [f"{'name':<8} {'shape':<10} {'rel. error':>10}   worst entry: analytic vs numeric"]
        for e in self.entries:
            flag = "" if e.error < 1e-7 else "   <-- check this one"
            lines.append(f"{e.name:<8} {str(e.shape):<10} {e.error:10.1e}   {str(e.index):<8} "
                         f"{e.analytic: .6e} vs {e.numeric: .6e}{flag}")
        lines.append(f"largest relative error: {self.max_error:.1e} ({self.worst.name})")
        return "\n".join(lines)

    __repr__ = __str__


def check_gradients(loss, arrays: dict, analytic: dict, eps: float = 1e-3,
                    order: int = 4) -> GradcheckReport:
    """The general check: central differences of loss for every named array, against analytic.

    loss(arrays) -> float takes a dict name -> array; arrays: the point (float64) at which to
    differentiate; analytic: name -> the gradient a backward pass gave, for the same names.
    Each array is perturbed in a copy of the dict, one entry at a time.
    """
    numeric = {}
    for name, value in arrays.items():
        def loss_of(v, name=name):
            return loss({**arrays, name: v})
        numeric[name] = numerical_gradient(loss_of, value, eps, order)
    return GradcheckReport(analytic, numeric)


def _upstream(rng, shape):
    """An upstream gradient: what the layers above would send back (random, float64)."""
    return rng.standard_normal(shape)


def _flat(params, prefix: str = "") -> dict:
    """A NamedTuple of parameters as a dict {prefix + field: array}."""
    return {prefix + k: np.asarray(v, dtype=np.float64) for k, v in params._asdict().items()}


def _unflat(template, arrays: dict, prefix: str = ""):
    return type(template)(**{k: arrays[prefix + k] for k in template._fields})


def check_cell(p: LSTMParams, x, h_prev, c_prev, seed: int = 0, eps: float = 1e-3,
               order: int = 4) -> GradcheckReport:
    """Check cell_backward against central differences: the 12 parameters, x, h_prev, c_prev.

    x (B, I), h_prev, c_prev (B, H). The loss is E = sum(h * dh) + sum(c * dc) with dh, dc
    (B, H) drawn from seed, so that dE/dh = dh and dE/dc = dc are upstream gradients as in a
    real network. Everything in float64; eps and order go to numerical_gradient.
    """
    p = check_params(p).astype(np.float64)
    x, h_prev, c_prev = (np.asarray(a, dtype=np.float64) for a in (x, h_prev, c_prev))
    rng = np.random.default_rng(seed)
    dh, dc = _upstream(rng, h_prev.shape), _upstream(rng, c_prev.shape)

    def loss(a):
        h, c, _ = cell_forward(a["x"], a["h_prev"], a["c_prev"], _unflat(p, a))
        return np.sum(h * dh) + np.sum(c * dc)

    _, _, cache = cell_forward(x, h_prev, c_prev, p)
    grads, dx, dh_prev, dc_prev = cell_backward(dh.copy(), dc.copy(), cache)
    arrays = dict(_flat(p), x=x, h_prev=h_prev, c_prev=c_prev)
    analytic = dict(grads._asdict(), x=dx, h_prev=dh_prev, c_prev=dc_prev)
    return check_gradients(loss, arrays, analytic, eps, order)


def check_sequence(p: LSTMParams, xs, h0=None, c0=None, seed: int = 0, eps: float = 1e-3,
                   order: int = 4, truncate=None, final: bool = True,
                   backend=None) -> GradcheckReport:
    """Check lstm_backward against central differences: the 12 parameters, xs, h0 and c0.

    xs (T, B, I); h0, c0 (B, H) or None (zeros). The loss is E = sum over t of
    sum(h_t * dhs[t]), dhs (T, B, H) drawn from seed; with final=True (the default) also
    + sum(h_T * dhT) + sum(c_T * dcT) with random dhT, dcT (B, H), which lstm_backward
    receives as dhT, dcT: what arrives from the next chunk of a long sequence.
    With truncate=k the analytic side is truncated BPTT, which matches only when k >= T: the
    check then shows how far truncation is from the true gradient.
    backend: a module with lstm_forward / lstm_backward (default lstm_teach.sequence; pass
    lstm_teach.fast to check that).
    """
    forward = lstm_forward if backend is None else backend.lstm_forward
    backward = lstm_backward if backend is None else backend.lstm_backward
    p = check_params(p).astype(np.float64)
    xs = np.asarray(xs, dtype=np.float64)
    T, B = xs.shape[:2]
    H = p.hidden_size
    h0 = np.zeros((B, H)) if h0 is None else np.asarray(h0, dtype=np.float64)
    c0 = np.zeros((B, H)) if c0 is None else np.asarray(c0, dtype=np.float64)
    rng = np.random.default_rng(seed)
    dhs = _upstream(rng, (T, B, H))
    dhT, dcT = (_upstream(rng, (B, H)) if final else np.zeros((B, H)) for _ in range(2))

    def loss(a):
        hs, cache = lstm_forward(a["xs"], _unflat(p, a), a["h0"], a["c0"])
        return np.sum(hs * dhs) + np.sum(hs[-1] * dhT) + np.sum(cache.cs[-1] * dcT)

    _, cache = forward(xs, p, h0, c0)
    grads, dxs, dh0, dc0 = backward(dhs.copy(), cache, truncate=truncate, dhT=dhT.copy(),
                                    dcT=dcT.copy())
    arrays = dict(_flat(p), xs=xs, h0=h0, c0=c0)
    analytic = dict(grads._asdict(), xs=dxs, h0=dh0, c0=dc0)
    return check_gradients(loss, arrays, analytic, eps, order)


def check_gru_cell(p, x, h_prev, seed: int = 0, eps: float = 1e-3,
                   order: int = 4) -> GradcheckReport:
    """Check gru.gru_cell_backward: the 10 GRUParams arrays, x (B, I) and h_prev (B, H).

    The loss is E = sum(h * dh), dh (B, H) drawn from seed.
    """
    p = _gru.check_gru_params(p).astype(np.float64)
    x, h_prev = (np.asarray(a, dtype=np.float64) for a in (x, h_prev))
    dh = _upstream(np.random.default_rng(seed), h_prev.shape)

    def loss(a):
        h, _ = _gru.gru_cell_forward(a["x"], a["h_prev"], _unflat(p, a))
        return np.sum(h * dh)

    _, cache = _gru.gru_cell_forward(x, h_prev, p)
    grads, dx, dh_prev = _gru.gru_cell_backward(dh.copy(), cache)
    return check_gradients(loss, dict(_flat(p), x=x, h_prev=h_prev),
                           dict(grads._asdict(), x=dx, h_prev=dh_prev), eps, order)


def check_gru_sequence(p, xs, h0=None, seed: int = 0, eps: float = 1e-3, order: int = 4,
                       final: bool = True) -> GradcheckReport:
    """Check gru.gru_backward: the 10 GRUParams arrays, xs (T, B, I) and h0 (B, H) or None.

    The loss is E = sum over t of sum(h_t * dhs[t]) (+ sum(h_T * dhT) with final=True), with
    dhs (T, B, H) and dhT (B, H) drawn from seed.
    """
    p = _gru.check_gru_params(p).astype(np.float64)
    xs = np.asarray(xs, dtype=np.float64)
    T, B = xs.shape[:2]
    h0 = np.zeros((B, p.hidden_size)) if h0 is None else np.asarray(h0, dtype=np.float64)
    rng = np.random.default_rng(seed)
    dhs = _upstream(rng, (T, B, p.hidden_size))
    dhT = _upstream(rng, h0.shape) if final else np.zeros_like(h0)

    def loss(a):
        hs, _ = _gru.gru_forward(a["xs"], _unflat(p, a), a["h0"])
        return np.sum(hs * dhs) + np.sum(hs[-1] * dhT)

    _, cache = _gru.gru_forward(xs, p, h0)
    grads, dxs, dh0 = _gru.gru_backward(dhs.copy(), cache, dhT=dhT.copy())
    return check_gradients(loss, dict(_flat(p), xs=xs, h0=h0),
                           dict(grads._asdict(), xs=dxs, h0=dh0), eps, order)


def _stack_flat(layers) -> dict:
    """{"l0.wxi": ..., "l1_reverse.bo": ...}: a stack's arrays under torch-like names."""
    arrays = {}
    for k, layer in enumerate(layers):
        for d, p in enumerate(_stack._directions(layer)):
            arrays.update(_flat(p, _stack._suffix(k, d) + "."))
    return arrays


def _stack_unflat(layers, arrays: dict) -> tuple:
    out = []
    for k, layer in enumerate(layers):
        pair = tuple(_unflat(p, arrays, _stack._suffix(k, d) + ".")
                     for d, p in enumerate(_stack._directions(layer)))
        out.append(pair[0] if isinstance(layer, LSTMParams) else pair)
    return tuple(out)


def check_stack(layers, xs, h0=None, c0=None, seed: int = 0, eps: float = 1e-3,
                order: int = 4, final: bool = True, backend=None) -> GradcheckReport:
    """Check stack.stack_backward: every layer's arrays (named "l0.wxi", "l1_reverse.bo", ...),
    xs (T, B, I), h0 and c0 (L*D, B, H) or None (zeros).

    The loss is E = sum over t of sum(h_t * dhs[t]) on the top output (T, B, D*H), plus with
    final=True sum(hn * dhn) + sum(cn * dcn) on the final states, all drawn from seed.
    backend: passed to stack_forward for both sides (None: lstm_teach.sequence; lstm_teach.fast
    computes the same function several times faster, which a check of a deep stack welcomes).
    """
    layers = _stack.check_stack(layers)
    L, D, I, H = _stack.sizes(layers)
    layers = tuple(tuple(q.astype(np.float64) for q in layer) if not isinstance(
        layer, LSTMParams) else layer.astype(np.float64) for layer in layers)
    xs = np.asarray(xs, dtype=np.float64)
    T, B = xs.shape[:2]
    h0, c0 = (np.zeros((L * D, B, H)) if s is None else np.asarray(s, dtype=np.float64)
              for s in (h0, c0))
    rng = np.random.default_rng(seed)
    dhs = _upstream(rng, (T, B, D * H))
    dhn, dcn = (_upstream(rng, (L * D, B, H)) if final else np.zeros((L * D, B, H))
                for _ in range(2))

    def loss(a):
        hs, cache = _stack.stack_forward(a["xs"], _stack_unflat(layers, a), a["h0"], a["c0"],
                                         backend=backend)
        return np.sum(hs * dhs) + np.sum(cache.hn * dhn) + np.sum(cache.cn * dcn)

    _, cache = _stack.stack_forward(xs, layers, h0, c0, backend=backend)
    grads, dxs, dh0, dc0 = _stack.stack_backward(dhs.copy(), cache, dhn.copy(), dcn.copy())
    return check_gradients(loss, dict(_stack_flat(layers), xs=xs, h0=h0, c0=c0),
                           dict(_stack_flat(grads), xs=dxs, h0=dh0, c0=dc0), eps, order)


def check_peephole_cell(p, x, h_prev, c_prev, seed: int = 0, eps: float = 1e-3,
                        order: int = 4) -> GradcheckReport:
    """Check peephole.peephole_cell_backward: the 15 PeepholeParams arrays, x (B, I), h_prev
    and c_prev (B, H); loss E = sum(h * dh) + sum(c * dc), dh and dc drawn from seed."""
    p = _peephole.check_peephole_params(p).astype(np.float64)
    x, h_prev, c_prev = (np.asarray(a, dtype=np.float64) for a in (x, h_prev, c_prev))
    rng = np.random.default_rng(seed)
    dh, dc = _upstream(rng, h_prev.shape), _upstream(rng, c_prev.shape)

    def loss(a):
        h, c, _ = _peephole.peephole_cell_forward(a["x"], a["h_prev"], a["c_prev"],
                                                  _unflat(p, a))
        return np.sum(h * dh) + np.sum(c * dc)

    _, _, cache = _peephole.peephole_cell_forward(x, h_prev, c_prev, p)
    grads, dx, dh_prev, dc_prev = _peephole.peephole_cell_backward(dh.copy(), dc.copy(), cache)
    return check_gradients(loss, dict(_flat(p), x=x, h_prev=h_prev, c_prev=c_prev),
                           dict(grads._asdict(), x=dx, h_prev=dh_prev, c_prev=dc_prev),
                           eps, order)


def check_peephole_sequence(p, xs, h0=None, c0=None, seed: int = 0, eps: float = 1e-3,
                            order: int = 4, final: bool = True) -> GradcheckReport:
    """Check peephole.peephole_backward: the 15 arrays, xs (T, B, I), h0 and c0 (B, H) or None.

    Loss as in check_sequence: sum over t of sum(h_t * dhs[t]), with final=True also
    + sum(h_T * dhT) + sum(c_T * dcT); all drawn from seed.
    """
    p = _peephole.check_peephole_params(p).astype(np.float64)
    xs = np.asarray(xs, dtype=np.float64)
    T, B = xs.shape[:2]
    H = p.hidden_size
    h0, c0 = (np.zeros((B, H)) if s is None else np.asarray(s, dtype=np.float64)
              for s in (h0, c0))
    rng = np.random.default_rng(seed)
    dhs = _upstream(rng, (T, B, H))
    dhT, dcT = (_upstream(rng, (B, H)) if final else np.zeros((B, H)) for _ in range(2))

    def loss(a):
        hs, cache = _peephole.peephole_forward(a["xs"], _unflat(p, a), a["h0"], a["c0"])
        return np.sum(hs * dhs) + np.sum(hs[-1] * dhT) + np.sum(cache.cs[-1] * dcT)

    _, cache = _peephole.peephole_forward(xs, p, h0, c0)
    grads, dxs, dh0, dc0 = _peephole.peephole_backward(dhs.copy(), cache, dhT.copy(),
                                                       dcT.copy())
    return check_gradients(loss, dict(_flat(p), xs=xs, h0=h0, c0=c0),
                           dict(grads._asdict(), xs=dxs, h0=dh0, c0=dc0), eps, order)
