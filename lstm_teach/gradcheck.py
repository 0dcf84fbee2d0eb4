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


def check_cell(p: LSTMParams, x, h_prev, c_prev, seed: int = 0, eps: float = 1e-3,
               order: int = 4):
    """Check cell_backward against central differences for the 12 parameters, h_prev, c_prev.

    The loss is E = sum(h * dh) + sum(c * dc) with dh, dc (B, H) drawn from seed, so that
    dE/dh = dh and dE/dc = dc are upstream gradients as in a real network. Everything in
    float64; eps and order go to numerical_gradient.
    """
    p = check_params(p).astype(np.float64)
    x, h_prev, c_prev = (np.asarray(a, dtype=np.float64) for a in (x, h_prev, c_prev))
    rng = np.random.default_rng(seed)
    dh = rng.standard_normal(h_prev.shape)
    dc = rng.standard_normal(c_prev.shape)

    def loss(params, hp, cp):
        h, c, _ = cell_forward(x, hp, cp, params)
        return np.sum(h * dh) + np.sum(c * dc)

    _, _, cache = cell_forward(x, h_prev, c_prev, p)
    grads, dh_prev, dc_prev = cell_backward(dh.copy(), dc.copy(), cache)
    analytic = dict(grads._asdict(), h_prev=dh_prev, c_prev=dc_prev)
    numeric = _numeric_params(lambda params: loss(params, h_prev, c_prev), p, eps, order)
    numeric["h_prev"] = numerical_gradient(lambda hp: loss(p, hp, c_prev), h_prev, eps, order)
    numeric["c_prev"] = numerical_gradient(lambda cp: loss(p, h_prev, cp), c_prev, eps, order)
    return GradcheckReport(analytic, numeric)


def check_sequence(p: LSTMParams, xs, h0=None, c0=None, seed: int = 0, eps: float = 1e-3,
                   order: int = 4, truncate=None):
    """Check lstm_backward against central differences for the 12 parameters, h0 and c0.

    The loss is E = sum over t of sum(h_t * dhs[t]), dhs (T, B, H) drawn from seed. With
    truncate=k the analytic side is truncated BPTT, which matches only when k >= T: the check
    then shows how far truncation is from the true gradient.
    """
    p = check_params(p).astype(np.float64)
    xs = np.asarray(xs, dtype=np.float64)
    T, B = xs.shape[:2]
    H = p.hidden_size
    h0 = np.zeros((B, H)) if h0 is None else np.asarray(h0, dtype=np.float64)
    c0 = np.zeros((B, H)) if c0 is None else np.asarray(c0, dtype=np.float64)
    dhs = np.random.default_rng(seed).standard_normal((T, B, H))

    def loss(params, h_init, c_init):
        hs, _ = lstm_forward(xs, params, h_init, c_init)
        return np.sum(hs * dhs)

    _, cache = lstm_forward(xs, p, h0, c0)
    grads, dh0, dc0 = lstm_backward(dhs.copy(), cache, truncate=truncate)
    analytic = dict(grads._asdict(), h0=dh0, c0=dc0)
    numeric = _numeric_params(lambda params: loss(params, h0, c0), p, eps, order)
    numeric["h0"] = numerical_gradient(lambda h: loss(p, h, c0), h0, eps, order)
    numeric["c0"] = numerical_gradient(lambda c: loss(p, h0, c), c0, eps, order)
    return GradcheckReport(analytic, numeric)


def _numeric_params(loss, p: LSTMParams, eps: float, order: int) -> dict:
    """Central differences of loss(params) for each of the 12 arrays, one at a time."""
    numeric = {}
    for name in LSTMParams._fields:
        def loss_of(value, name=name):
            return loss(p._replace(**{name: value}))
        numeric[name] = numerical_gradient(loss_of, getattr(p, name), eps, order)
    return numeric
