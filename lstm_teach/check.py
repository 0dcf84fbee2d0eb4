"""Self-checks for the exercises: is my function right, and if not, what did I get wrong?

Each check calls your function on small random inputs chosen so that the usual mistakes
show (a batch of B > 1, non-square weights, nonzero biases, a nonzero dc from the future),
compares every quantity it returns with lstm_teach's reference, and returns a CheckResult:

    result = check_cell_backward(cell_backward)
    result.passed     # True when every returned quantity matches
    result.wrong      # e.g. ['wxf', 'whf', 'bf', 'dh_prev']
    result.report     # expected and got for each wrong quantity, and the likely cause

A likely cause is found by running the catalogue of known mistakes (MISTAKES) on the same
inputs: when your wrong value equals what a known mistake produces, the report names it.

Credit is per quantity: result.correct("dx") asks about dx alone (a group name such as
"params" stands for all the parameter gradients). A function that calls others the student
wrote is checked inside `with reference_upstream(globals(), "local_gradients", ...):`, which
puts the reference in their place, so one bug shows (and costs) only where it is made.

The same comparison, without the values, is what `lstm-teach grade` writes as feedback.
"""

import contextlib
import copy
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import gru
from ._returns import PARAM_NAMES, UnpackError, unpack
from .activations import sigmoid
from .cell import CellGrads, cell_backward, cell_forward
from .losses import mse_loss
from .params import GATES, LSTMParams
from .sequence import SeqGrads, lstm_backward, lstm_forward

RTOL, ATOL = 1e-6, 1e-9


class Mistake(NamedTuple):
    key: str
    cause: str


_CATALOGUE = [
    # found on any quantity, without running a mistaken variant
    Mistake("sign_flipped", "a sign flipped: you got exactly minus the expected value"),
    Mistake("transposed", "transposed: you got the transpose of the expected matrix"),
    Mistake("not_summed_over_batch", "not summed over the batch: one row per example came "
                                     "back; E sums over the batch, so do its gradients"),
    Mistake("all_zeros", "all zeros: is the function finished, or an accumulation missing?"),
    Mistake("not_finite", "NaN or infinity in the result: an overflow, or an array never "
                          "filled in"),
    # cell_forward
    Mistake("tanh_c_forgotten", "h = o * c: the output is o * tanh(c), not o * c"),
    Mistake("g_sigmoid", "the candidate g squashed with sigmoid; g = tanh(zg) lies in (-1, 1)"),
    Mistake("input_gate_forgotten", "c = f * c_prev + g: the candidate g must be scaled by "
                                    "the input gate i"),
    Mistake("forget_input_swapped", "the forget and input gates swapped: f scales c_prev, "
                                    "i scales g"),
    Mistake("h_prev_for_c_prev", "h_prev used where c_prev belongs in c = f * c_prev + i * g"),
    # local gradients
    Mistake("dc_from_future_ignored", "the dc arriving from step t+1 left out: dE/dc_t is "
                                      "dc + dh * o * (1 - tanh(c)^2)"),
    Mistake("tanh_c_derivative_forgotten", "the derivative of tanh(c) left out of dE/dc_t: "
                                           "h = o * tanh(c) gives dh * o * (1 - tanh(c)^2)"),
    Mistake("c_for_c_prev", "c_t used where c_(t-1) belongs: dE/df = dE/dc_t * c_(t-1)"),
    Mistake("sigmoid_derivative_on_z", "the sigmoid's derivative taken on z instead of on "
                                       "sigmoid(z): it is s * (1 - s) with s = sigmoid(z)"),
    Mistake("sigmoid_applied_twice", "sigmoid applied to the gate a second time in its "
                                     "derivative: use i * (1 - i), not sigmoid(i) * (1 - "
                                     "sigmoid(i))"),
    Mistake("tanh_derivative_on_z", "tanh's derivative taken on z instead of on tanh(z): "
                                    "it is 1 - g^2"),
    Mistake("di_dg_swapped", "dE/di and dE/dg swapped: dE/di = dE/dc_t * g and "
                             "dE/dg = dE/dc_t * i"),
    Mistake("dc_prev_from_incoming_only", "dc_prev built from the incoming dc alone; it is the "
                                          "total dE/dc_t (incoming dc plus the part through "
                                          "h_t) times f"),
    # weight gradients
    Mistake("weight_gradient_transposed", "a transposed weight gradient: dE/dwx = dz.T @ x has "
                                          "the shape of wx, (H, I)"),
    Mistake("batch_averaged", "the batch averaged instead of summed: E sums over the batch, "
                              "so do its gradients"),
    Mistake("first_example_only", "only the first example of the batch used: sum over "
                                  "all B examples"),
    # hidden gradient
    Mistake("gate_missing_in_dh_prev", "a gate's contribution to dh_prev forgotten: h_prev "
                                       "feeds all four gates, so dh_prev sums four terms"),
    Mistake("wh_transposed_in_dh_prev", "a transposed recurrent weight in dh_prev: z = h_prev "
                                        "@ wh.T + ... gives dh_prev = dz @ wh"),
    # input gradient
    Mistake("gate_missing_in_dx", "a gate's contribution to dx forgotten: x feeds all four "
                                  "gates, so dx sums four terms"),
    Mistake("wh_for_wx_in_dx", "a recurrent weight wh used in dx: x enters the gates through "
                               "wx, so dx = dzi @ wxi + dzg @ wxg + dzf @ wxf + dzo @ wxo"),
    Mistake("wx_transposed_in_dx", "a transposed input weight in dx: z = x @ wx.T + ... gives "
                                   "dx = dz @ wx"),
    # lstm_backward
    Mistake("no_sum_over_time", "no sum over time: the weights are shared by every step, so "
                                "their gradients add up over t"),
    Mistake("dc_not_carried", "the dc arriving from the future left out: pass dc_prev of step "
                              "t on to step t-1"),
    Mistake("dh_not_carried", "dh_prev not carried back: step t-1 receives dhs[t-1] plus the "
                              "dh_prev of step t"),
    Mistake("time_order_reversed", "the steps visited in the wrong order: BPTT runs from the "
                                   "last step back to the first"),
    Mistake("truncate_ignored", "the truncate argument ignored: with truncate=k the error from "
                                "step t passes through at most k cells"),
    Mistake("dxs_order_reversed", "dxs stored in the order the steps were visited (last step "
                                  "first): dxs[t] must be dE/dx_t"),
    Mistake("dxs_overwritten", "with truncation, a step's dx overwritten instead of added: every "
                               "error that passes through step s adds its part to dxs[s]"),
    Mistake("final_state_ignored", "dhT and dcT left out: they arrive from beyond the last step, "
                                   "so the sweep starts from dh = dhT and dc = dcT, not zeros"),
    Mistake("final_state_swapped", "dhT and dcT swapped: dhT joins dhs[T-1] as the gradient of "
                                   "h, dcT is the dc of the last step"),
    # the GRU (exercise 5): h = (1 - z) * n + z * h_prev, n = tanh(zn),
    # zn = x wxn + bxn + r * zhn, zhn = h_prev whn + bhn
    Mistake("gru_z_swapped", "z and 1 - z swapped: h = (1 - z) * n + z * h_prev, so dE/dn = dh * "
                             "(1 - z) and h_prev's direct share is dh * z"),
    Mistake("gru_dz_sign", "the sign of dE/dz: h = n + z * (h_prev - n), so dE/dz = dh * "
                           "(h_prev - n), not dh * (n - h_prev)"),
    Mistake("gru_r_factor_missing", "r's gradient without its factor: zn holds r * (whn h_prev "
                                    "+ bhn), so dE/dr = dE/dzn * (whn h_prev + bhn)"),
    Mistake("gru_bhn_outside_r", "bhn treated like bxn, outside r: torch's n is tanh(wxn x + bxn "
                                 "+ r * (whn h_prev + bhn)), so dE/dr = dE/dzn * (whn h_prev + "
                                 "bhn) and dE/dbhn sums dE/dzn * r"),
    Mistake("gru_r_missing_on_hidden_path", "r left out on the recurrent path of n: whn h_prev + "
                                            "bhn is multiplied by r, so whn, bhn and h_prev "
                                            "receive dE/dzn * r"),
    Mistake("gru_direct_path_forgotten", "the direct path to h_prev forgotten: h = ... + z * "
                                         "h_prev, so dh_prev has the term dh * z besides the "
                                         "three gates' terms"),
    Mistake("gru_sigmoid_applied_twice", "sigmoid applied to a gate a second time in its "
                                         "derivative: dr/dzr = r * (1 - r) with r the gate "
                                         "itself, not sigmoid(r) * (1 - sigmoid(r))"),
    Mistake("gru_sigmoid_derivative_on_preactivation", "the sigmoid's derivative written with "
                                                       "the pre-activation: dr/dzr = r * (1 - "
                                                       "r), not zr * (1 - zr)"),
    Mistake("gru_tanh_derivative_on_preactivation", "tanh's derivative written with the "
                                                    "pre-activation: dn/dzn = 1 - n^2, not "
                                                    "1 - zn^2"),
    Mistake("gru_tanh_derivative_forgotten", "tanh's derivative left out: dE/dzn = dE/dn * "
                                             "(1 - n^2)"),
    Mistake("gru_gate_missing_in_dh_prev", "a gate's term missing from dh_prev: h_prev feeds "
                                           "r, z and n (through r * (whn h_prev + bhn)) and h "
                                           "directly, four terms in all"),
    Mistake("gru_gate_missing_in_dx", "a gate's term missing from dx: x feeds r, z and n, so "
                                      "dx = dzr @ wxr + dzz @ wxz + dzn @ wxn"),
    Mistake("gru_wh_for_wx_in_dx", "a recurrent weight wh used in dx: x enters the gates "
                                   "through wxr, wxz and wxn"),
    Mistake("dhT_ignored", "dhT left out: it arrives from beyond the last step, so the sweep "
                           "starts from dh = dhT, not zeros"),
    # training
    Mistake("gradient_ascent", "the step goes uphill: gradient descent subtracts lr * grad"),
    Mistake("sum_instead_of_mean", "the loss summed instead of averaged: use "
                                   "mse_loss(..., reduction='mean')"),
]
MISTAKES = {m.key: m for m in _CATALOGUE}


class CheckResult:
    """The outcome of one check: .passed, .wrong (names), .report (text), .causes."""

    def __init__(self, exercise, passed, wrong=(), causes=None, error=None, mutated=(),
                 details=None, setting=""):
        self.exercise = exercise
        self.passed = bool(passed)
        self.wrong = list(wrong)
        self.causes = dict(causes or {})  # quantity -> list of mistake keys / generic notes
        self.error = error
        self.mutated = list(mutated)
        self.details = dict(details or {})  # quantity -> "expected ... got ..." text
        self.setting = setting
        self.groups = {}  # name -> quantity names, e.g. "params" -> the 12 parameters

    def correct(self, *names) -> bool:
        """Are these quantities right? Credit per quantity: a test cell that grades dx asks
        correct("dx"), and a wrong dh_prev does not cost it its points. A group name (e.g.
        "params") stands for all its quantities. An exception, a result of the wrong
        structure, or an input written into fails every quantity."""
        if self.error or self.mutated:
            return False
        wanted = set()
        for name in names:
            wanted.update(self.groups.get(name, (name,)))
        return not wanted & set(self.wrong)

    @property
    def mistakes(self) -> list:
        """The catalogued mistakes that explain at least one wrong quantity."""
        keys = []
        for found in self.causes.values():
            keys += [k for k in found if k in MISTAKES and k not in keys]
        return keys

    def _cause_text(self, name):
        texts = [MISTAKES[k].cause if k in MISTAKES else k for k in self.causes.get(name, [])]
        return "; or ".join(texts)

    @property
    def report(self) -> str:
        head = f"check_{self.exercise} ({self.setting})" if self.setting else \
            f"check_{self.exercise}"
        if self.passed:
            return f"{head}: passed, every returned quantity matches the reference."
        lines = [f"{head}: FAILED"]
        if self.error:
            lines.append(f"  {self.error}")
        if self.mutated:
            lines.append(f"  your function changed arrays it was given ({', '.join(self.mutated)}):"
                         " compute new arrays instead of writing into the inputs")
        if self.wrong:
            lines.append(f"  wrong: {', '.join(self.wrong)}")
        for name in self.wrong:
            lines.append(f"  {name}: {self.details.get(name, '')}")
            cause = self._cause_text(name)
            if cause:
                lines.append(f"      likely cause: {cause}")
        return "\n".join(lines)

    def feedback(self) -> str:
        """What failed, without any values (safe to show for hidden inputs)."""
        if self.passed:
            return "passed"
        parts = []
        if self.error:
            parts.append(self.error)
        if self.mutated:
            parts.append("changed the arrays it was given")
        if self.wrong:
            parts.append("wrong: " + ", ".join(self.wrong))
        causes = []
        for name in self.wrong:
            for key in self.causes.get(name, []):
                text = MISTAKES[key].cause if key in MISTAKES else key
                if text not in causes:
                    causes.append(text)
        if causes:
            parts.append("likely cause: " + "; ".join(causes))
        return "; ".join(parts)

    def __repr__(self):
        return self.report


class Exercise(NamedTuple):
    name: str
    args: tuple  # input names passed positionally, in order
    kwargs: tuple  # input names passed by keyword
    unpack: str  # what the function returns (see _returns.unpack)
    make_inputs: Callable  # (rng, **options) -> dict of inputs
    reference: Callable  # (inputs, mistake_key or None) -> dict name -> array
    mistakes: tuple  # catalogue keys that may explain a wrong answer
    setting: Callable  # inputs -> short description
    groups: dict = {}  # name -> quantity names that CheckResult.correct(name) stands for


# ---------------------------------------------------------------- inputs

def _random_params(rng, I, H):
    """Every entry nonzero, biases included, so no term of a gradient can vanish."""
    shapes = {"wx": (H, I), "wh": (H, H), "b": (H,)}
    return LSTMParams(**{name: rng.normal(0.0, 0.6, shapes[name[:2] if name[0] == "w" else "b"])
                         for name in PARAM_NAMES})


def _cell_inputs(rng, batch=3, input_size=4, hidden_size=5):
    p = _random_params(rng, input_size, hidden_size)
    x = rng.normal(0.0, 1.0, (batch, input_size))
    h_prev = rng.normal(0.0, 0.5, (batch, hidden_size))
    c_prev = rng.normal(0.0, 1.0, (batch, hidden_size))
    return p, x, h_prev, c_prev


def _inputs_cell_forward(rng, **opts):
    p, x, h_prev, c_prev = _cell_inputs(rng, **opts)
    return {"x": x, "h_prev": h_prev, "c_prev": c_prev, "p": p}


def _inputs_cell_backward(rng, **opts):
    p, x, h_prev, c_prev = _cell_inputs(rng, **opts)
    _, _, cache = cell_forward(x, h_prev, c_prev, p)
    return {"dh": rng.normal(0.0, 1.0, h_prev.shape), "dc": rng.normal(0.0, 1.0, h_prev.shape),
            "cache": cache}


def _inputs_weight_gradients(rng, batch=3, input_size=4, hidden_size=5):
    return {"dz": rng.normal(0.0, 1.0, (batch, hidden_size)),
            "x": rng.normal(0.0, 1.0, (batch, input_size)),
            "h_prev": rng.normal(0.0, 1.0, (batch, hidden_size))}


def _inputs_hidden_gradient(rng, **opts):
    inputs = _inputs_cell_backward(rng, **opts)
    local = _local_gradients(inputs["dh"], inputs["dc"], inputs["cache"])
    return {"local": local, "p": inputs["cache"].p}


def _inputs_lstm_backward(rng, seq_len=4, batch=3, input_size=4, hidden_size=5, truncate=None,
                          final_state=False):
    """final_state=True adds nonzero dhT, dcT (gradients from beyond the last step)."""
    p = _random_params(rng, input_size, hidden_size)
    xs = rng.normal(0.0, 1.0, (seq_len, batch, input_size))
    h0 = rng.normal(0.0, 0.5, (batch, hidden_size))
    c0 = rng.normal(0.0, 1.0, (batch, hidden_size))
    _, cache = lstm_forward(xs, p, h0, c0)
    out = {"dhs": rng.normal(0.0, 1.0, (seq_len, batch, hidden_size)), "cache": cache,
           "truncate": truncate, "dhT": None, "dcT": None}
    if final_state:
        out["dhT"] = rng.normal(0.0, 1.0, (batch, hidden_size))
        out["dcT"] = rng.normal(0.0, 1.0, (batch, hidden_size))
    return out


def _inputs_sgd_step(rng, input_size=3, hidden_size=4):
    return {"p": _random_params(rng, input_size, hidden_size),
            "grads": _random_params(rng, input_size, hidden_size), "lr": 0.1}


# The training task of exercise 4: from sin(0.6 t + phase), predict half the next value
# (every hidden unit gets the same target). A plain SGD run of SINE["steps"] steps reaches a
# mean loss below 0.01 from about 0.08 (30 random starts); the stated target leaves a margin.
SINE = {"seq_len": 12, "batch": 8, "hidden": 3, "lr": 10.0, "steps": 150, "target_loss": 0.02}


def sine_task(rng, seq_len=12, batch=8, hidden=3):
    """xs (T, B, 1) = sin(0.6 t + phase_b); ys (T, B, hidden) = sin(0.6 (t + 1) + phase_b) / 2."""
    phase = rng.uniform(0.0, 2 * np.pi, (1, batch, 1))
    t = np.arange(seq_len).reshape(seq_len, 1, 1)
    xs = np.sin(0.6 * t + phase)
    ys = np.repeat(0.5 * np.sin(0.6 * (t + 1) + phase), hidden, axis=2)
    return xs, ys


def _inputs_train(rng, steps=12, lr=SINE["lr"]):
    xs, ys = sine_task(rng, SINE["seq_len"], SINE["batch"], SINE["hidden"])
    p = _random_params(rng, 1, SINE["hidden"]).map(lambda a: 0.5 * a)
    return {"xs": xs, "ys": ys, "p": p, "lr": lr, "steps": steps}


def _inputs_train_to_loss(rng):
    from .params import init_params

    xs, ys = sine_task(rng, SINE["seq_len"], SINE["batch"], SINE["hidden"])
    p = init_params(1, SINE["hidden"], seed=int(rng.integers(2**31)))
    return {"xs": xs, "ys": ys, "p": p, "lr": SINE["lr"], "steps": SINE["steps"]}


# ---------------------------------------------------------------- references and mistakes

def _cell_forward(x, h_prev, c_prev, p, m=None):
    gates = {}
    for gate in GATES:
        wx, wh, b = p.gate(gate)
        gates[gate] = x @ wx.T + h_prev @ wh.T + b
    i, f, o = sigmoid(gates["i"]), sigmoid(gates["f"]), sigmoid(gates["o"])
    g = sigmoid(gates["g"]) if m == "g_sigmoid" else np.tanh(gates["g"])
    if m == "forget_input_swapped":
        i, f = f, i
    keep = h_prev if m == "h_prev_for_c_prev" else c_prev
    c = f * keep + (g if m == "input_gate_forgotten" else i * g)
    h = o * (c if m == "tanh_c_forgotten" else np.tanh(c))
    return {"h": h, "c": c}


def _local_gradients(dh, dc, cache, m=None):
    tanh_c, i, g, f, o = cache.tanh_c, cache.i, cache.g, cache.f, cache.o
    through_h = dh * o * (1.0 if m == "tanh_c_derivative_forgotten" else 1 - tanh_c**2)
    dc_t = through_h if m == "dc_from_future_ignored" else dc + through_h
    do = dh * tanh_c
    di, dg = (dc_t * i, dc_t * g) if m == "di_dg_swapped" else (dc_t * g, dc_t * i)
    df = dc_t * (cache.c if m == "c_for_c_prev" else cache.c_prev)
    dc_prev = (dc if m == "dc_prev_from_incoming_only" else dc_t) * f

    def dsig(s, z):
        if m == "sigmoid_derivative_on_z":
            return z * (1 - z)
        if m == "sigmoid_applied_twice":
            s = sigmoid(s)
        return s * (1 - s)

    dzg = dg * (1 - (cache.zg**2 if m == "tanh_derivative_on_z" else g**2))
    return CellGrads(do, dc_t, di, dg, df, dc_prev, di * dsig(i, cache.zi), dzg,
                     df * dsig(f, cache.zf), do * dsig(o, cache.zo))


def _weight_gradients(dz, x, h_prev, m=None):
    if m == "weight_gradient_transposed":
        return x.T @ dz, h_prev.T @ dz, dz.sum(axis=0)
    if m == "batch_averaged":
        return dz.T @ x / len(dz), dz.T @ h_prev / len(dz), dz.mean(axis=0)
    if m == "first_example_only":
        return np.outer(dz[0], x[0]), np.outer(dz[0], h_prev[0]), dz[0].copy()
    return dz.T @ x, dz.T @ h_prev, dz.sum(axis=0)


def _hidden_gradient(local, p, m=None):
    total = 0
    for gate in GATES:
        if m == f"gate_missing_in_dh_prev:{gate}":
            continue
        wh = getattr(p, "wh" + gate)
        total = total + getattr(local, "dz" + gate) @ (wh.T if m == "wh_transposed_in_dh_prev"
                                                       else wh)
    return total


def _input_gradient(local, p, m=None):
    """dx = sum over the gates of dz @ wx; None where a mistake cannot be made at these shapes."""
    if m == "wx_transposed_in_dx" and p.input_size != p.hidden_size:
        return None  # dz @ wx.T raises: the student sees the error itself
    total = 0
    for gate in GATES:
        if m == f"gate_missing_in_dx:{gate}":
            continue
        w = getattr(p, ("wh" if m == "wh_for_wx_in_dx" else "wx") + gate)
        total = total + getattr(local, "dz" + gate) @ (w.T if m == "wx_transposed_in_dx" else w)
    return total


def _cell_backward(dh, dc, cache, m=None):
    local = _local_gradients(dh, dc, cache, m)
    out = {}
    for gate in GATES:
        dwx, dwh, db = _weight_gradients(getattr(local, "dz" + gate), cache.x, cache.h_prev, m)
        out["wx" + gate], out["wh" + gate], out["b" + gate] = dwx, dwh, db
    dx = _input_gradient(local, cache.p, m)
    if dx is not None:
        out["dx"] = dx
    out["dh_prev"] = _hidden_gradient(local, cache.p, m)
    out["dc_prev"] = local.dc_prev
    return out


_FULL_ONLY = ("no_sum_over_time", "dc_not_carried", "dh_not_carried", "time_order_reversed")


def _lstm_backward(dhs, cache, truncate=None, m=None, dhT=None, dcT=None):
    """The reference's SeqGrads as a dict, or what mistake m gives ({} where m cannot occur:
    a truncation mistake without truncation, or a full sweep's mistake with it)."""
    T = len(cache.caches)
    full = truncate is None or truncate >= T
    if m is None:
        out = lstm_backward(dhs, cache, truncate=truncate, dhT=dhT, dcT=dcT)
    elif m == "truncate_ignored":
        if full:
            return {}
        out = lstm_backward(dhs, cache, dhT=dhT, dcT=dcT)
    elif m == "dxs_order_reversed":
        out = lstm_backward(dhs, cache, truncate=truncate, dhT=dhT, dcT=dcT)
        out = out._replace(dxs=out.dxs[::-1].copy())
    elif m in ("final_state_ignored", "final_state_swapped"):
        if dhT is None and dcT is None:
            return {}
        zero = np.zeros_like(dhs[0])
        dhT, dcT = (None, None) if m == "final_state_ignored" else (
            zero if dcT is None else dcT, zero if dhT is None else dhT)
        out = lstm_backward(dhs, cache, truncate=truncate, dhT=dhT, dcT=dcT)
    elif m in _FULL_ONLY and full:
        out = _bptt_full(dhs, cache, dhT, dcT, m)
    elif m == "dxs_overwritten" and not full:
        out = _bptt_truncated(dhs, cache, truncate, dhT, dcT, m)
    else:
        return {}
    result = dict(zip(PARAM_NAMES, out.params))
    result.update(dxs=out.dxs, dh0=out.dh0, dc0=out.dc0)
    return result


def _bptt_full(dhs, cache, dhT, dcT, m):
    """One sweep written out, with a full-BPTT mistake m switched in."""
    T = len(cache.caches)
    zero = np.zeros_like(dhs[0])
    dh = zero if dhT is None else dhT
    dc = zero if dcT is None else dcT
    grads = cache.p.zeros_like()
    dxs = np.zeros(cache.xs.shape)
    for t in (range(T) if m == "time_order_reversed" else reversed(range(T))):
        upstream = dhs[t] if m == "dh_not_carried" else dhs[t] + dh
        step, dxs[t], dh, dc = cell_backward(upstream, zero if m == "dc_not_carried" else dc,
                                             cache.caches[t])
        grads = step if m == "no_sum_over_time" else grads.map(np.add, step)
    return SeqGrads(grads, dxs, dh, dc)


def _bptt_truncated(dhs, cache, k, dhT, dcT, m):
    """Each error through at most k cells, written out, with a truncation mistake m."""
    T = len(cache.caches)
    zero = np.zeros_like(dhs[0])
    grads = cache.p.zeros_like()
    dxs = np.zeros(cache.xs.shape)
    dh0, dc0 = zero, zero
    for t in range(T):
        dh, dc = dhs[t], zero
        if t == T - 1:
            dh = dh + (zero if dhT is None else dhT)
            dc = zero if dcT is None else dcT
        for s in range(t, max(t - k, -1), -1):
            step, dx, dh, dc = cell_backward(dh, dc, cache.caches[s])
            grads = grads.map(np.add, step)
            dxs[s] = dx if m == "dxs_overwritten" else dxs[s] + dx
        if t - k < 0:
            dh0, dc0 = dh0 + dh, dc0 + dc
    return SeqGrads(grads, dxs, dh0, dc0)


# ---------------------------------------------------------------- the GRU (exercise 5)

def _random_gru_params(rng, I, H):
    """Every entry nonzero, bhn included, so bhn inside r is told from bhn outside it."""
    return gru.GRUParams(*(rng.normal(0.0, 0.6, (H, I) if f[:2] == "wx" else (H, H)
                                      if f[:2] == "wh" else (H,))
                           for f in gru.GRUParams._fields))


def _inputs_gru_cell_backward(rng, batch=3, input_size=4, hidden_size=5):
    p = _random_gru_params(rng, input_size, hidden_size)
    x = rng.normal(0.0, 1.0, (batch, input_size))
    h_prev = rng.normal(0.0, 0.5, (batch, hidden_size))
    _, cache = gru.gru_cell_forward(x, h_prev, p)
    return {"dh": rng.normal(0.0, 1.0, h_prev.shape), "cache": cache}


def _inputs_gru_backward(rng, seq_len=4, batch=3, input_size=4, hidden_size=5,
                         final_state=False):
    p = _random_gru_params(rng, input_size, hidden_size)
    xs = rng.normal(0.0, 1.0, (seq_len, batch, input_size))
    h0 = rng.normal(0.0, 0.5, (batch, hidden_size))
    _, cache = gru.gru_forward(xs, p, h0)
    dhT = rng.normal(0.0, 1.0, (batch, hidden_size)) if final_state else None
    return {"dhs": rng.normal(0.0, 1.0, (seq_len, batch, hidden_size)), "cache": cache,
            "dhT": dhT}


_GRU_PARAMS = tuple(gru.GRUParams._fields)
_GRU_GATE_MISTAKES = ("gru_z_swapped", "gru_dz_sign", "gru_r_factor_missing", "gru_bhn_outside_r",
                      "gru_r_missing_on_hidden_path", "gru_sigmoid_applied_twice",
                      "gru_sigmoid_derivative_on_preactivation",
                      "gru_tanh_derivative_on_preactivation", "gru_tanh_derivative_forgotten",
                      "weight_gradient_transposed", "batch_averaged", "first_example_only")
_GRU_MISTAKES = _GRU_GATE_MISTAKES + ("gru_direct_path_forgotten", "gru_wh_for_wx_in_dx") + tuple(
    f"gru_gate_missing_in_{q}:{g}" for q in ("dh_prev", "dx") for g in "rzn")


def _gru_cell_backward(dh, cache, m=None):
    """The reference's GRU step backward as a dict (params, dx, dh_prev), or mistake m's.

    m="written_out" runs the written-out version without a mistake (tested equal to the
    reference, so that each variant differs from it by its mistake alone)."""
    if m is None:
        step = gru.gru_cell_backward(dh, cache)
        out = dict(zip(_GRU_PARAMS, step.params))
        out.update(dx=step.dx, dh_prev=step.dh_prev)
        return out
    x, h_prev, r, z, n, p = cache.x, cache.h_prev, cache.r, cache.z, cache.n, cache.p
    swapped = m == "gru_z_swapped"
    dn = dh * (z if swapped else 1 - z)
    dz = dh * (n - h_prev if swapped or m == "gru_dz_sign" else h_prev - n)
    direct = dh * (1 - z if swapped else z)
    if m == "gru_tanh_derivative_forgotten":
        dzn = dn
    else:
        dzn = dn * (1 - (cache.zn if m == "gru_tanh_derivative_on_preactivation" else n) ** 2)
    factor = {"gru_r_factor_missing": 1.0, "gru_bhn_outside_r": h_prev @ p.whn.T}.get(m,
                                                                                    cache.zhn)
    dr = dzn * factor
    dzhn = dzn if m == "gru_r_missing_on_hidden_path" else dzn * r

    def dsig(s, pre):
        if m == "gru_sigmoid_derivative_on_preactivation":
            return pre * (1 - pre)
        if m == "gru_sigmoid_applied_twice":
            s = sigmoid(s)
        return s * (1 - s)

    dzr, dzz = dr * dsig(r, cache.zr), dz * dsig(z, cache.zz)
    out = {}
    for gate, dzg in (("r", dzr), ("z", dzz)):
        out["wx" + gate], out["wh" + gate], out["b" + gate] = _weight_gradients(dzg, x, h_prev, m)
    out["wxn"], _, out["bxn"] = _weight_gradients(dzn, x, h_prev, m)
    _, out["whn"], out["bhn"] = _weight_gradients(dzhn, x, h_prev, m)
    if m == "gru_bhn_outside_r":
        out["bhn"] = out["bxn"]
    dzs = {"r": dzr, "z": dzz, "n": dzn}
    dx = 0
    for gate in "rzn":
        if m != f"gru_gate_missing_in_dx:{gate}":
            dx = dx + dzs[gate] @ getattr(p, ("wh" if m == "gru_wh_for_wx_in_dx" else "wx") + gate)
    dzs["n"] = dzhn
    dh_prev = 0 if m == "gru_direct_path_forgotten" else direct
    for gate in "rzn":
        if m != f"gru_gate_missing_in_dh_prev:{gate}":
            dh_prev = dh_prev + dzs[gate] @ getattr(p, "wh" + gate)
    out.update(dx=dx, dh_prev=dh_prev)
    return out


def _gru_backward(dhs, cache, dhT=None, m=None):
    """The reference's GRUSeqGrads as a dict, or what mistake m gives ({} where m cannot occur)."""
    if m is None:
        out = gru.gru_backward(dhs, cache, dhT=dhT)
    elif m == "dxs_order_reversed":
        out = gru.gru_backward(dhs, cache, dhT=dhT)
        out = out._replace(dxs=out.dxs[::-1].copy())
    elif m == "dhT_ignored":
        if dhT is None:
            return {}
        out = gru.gru_backward(dhs, cache)
    elif m in ("no_sum_over_time", "dh_not_carried", "time_order_reversed", "written_out"):
        T = len(cache.caches)
        dh = np.zeros_like(dhs[0]) if dhT is None else dhT
        grads, dxs = cache.p.zeros_like(), np.zeros(cache.xs.shape)
        for t in (range(T) if m == "time_order_reversed" else reversed(range(T))):
            upstream = dhs[t] if m == "dh_not_carried" else dhs[t] + dh
            step, dxs[t], dh = gru.gru_cell_backward(upstream, cache.caches[t])
            grads = step if m == "no_sum_over_time" else grads.map(np.add, step)
        out = gru.GRUSeqGrads(grads, dxs, dh)
    else:
        return {}
    result = dict(zip(_GRU_PARAMS, out.params))
    result.update(dxs=out.dxs, dh0=out.dh0)
    return result


def _sgd_step(p, grads, lr, m=None):
    sign = 1.0 if m == "gradient_ascent" else -1.0
    return LSTMParams(*(a + sign * lr * g for a, g in zip(p, grads)))


def _train(xs, ys, p, lr, steps, m=None):
    """Full-batch gradient descent on mse_loss(..., reduction='mean'); losses before each step."""
    losses = []
    for _ in range(steps):
        hs, cache = lstm_forward(xs, p)
        loss, dhs = mse_loss(hs, ys, reduction="sum" if m == "sum_instead_of_mean" else "mean")
        p = _sgd_step(p, lstm_backward(dhs, cache).params, lr)
        losses.append(loss)
    return p, losses


def _train_outputs(inputs, m=None):
    p, losses = _train(inputs["xs"], inputs["ys"], inputs["p"], inputs["lr"], inputs["steps"], m)
    out = dict(zip(PARAM_NAMES, p))
    out["losses"] = np.asarray(losses)
    return out


def final_loss(p_arrays: dict, xs, ys) -> float:
    """The mean MSE of parameters given as a dict of the 12 arrays, on one data set."""
    p = LSTMParams(**{k: np.asarray(p_arrays[k], dtype=np.float64) for k in PARAM_NAMES})
    hs, _ = lstm_forward(xs, p)
    return mse_loss(hs, ys, reduction="mean")[0]


def _only(name, value) -> dict:
    return {} if value is None else {name: value}


_DX_MISTAKES = tuple(f"gate_missing_in_dx:{g}" for g in GATES) + ("wh_for_wx_in_dx",
                                                                   "wx_transposed_in_dx")


def _cell_setting(p, B):
    return f"batch {B}, input {p.input_size}, hidden {p.hidden_size}"


EXERCISES = {
    ex.name: ex for ex in [
        Exercise("cell_forward", ("x", "h_prev", "c_prev", "p"), (), "cell_forward",
                 _inputs_cell_forward,
                 lambda d, m=None: _cell_forward(d["x"], d["h_prev"], d["c_prev"], d["p"], m),
                 ("tanh_c_forgotten", "g_sigmoid", "input_gate_forgotten",
                  "forget_input_swapped", "h_prev_for_c_prev"),
                 lambda d: _cell_setting(d["p"], len(d["x"])) + ", nonzero h_prev and c_prev"),
        Exercise("local_gradients", ("dh", "dc", "cache"), (), "local_gradients",
                 _inputs_cell_backward,
                 lambda d, m=None: _local_gradients(d["dh"], d["dc"], d["cache"], m)._asdict(),
                 ("dc_from_future_ignored", "tanh_c_derivative_forgotten", "c_for_c_prev",
                  "sigmoid_derivative_on_z", "sigmoid_applied_twice", "tanh_derivative_on_z",
                  "di_dg_swapped", "dc_prev_from_incoming_only"),
                 lambda d: _cell_setting(d["cache"].p, len(d["dh"])) + ", nonzero dc"),
        Exercise("weight_gradients", ("dz", "x", "h_prev"), (), "weight_gradients",
                 _inputs_weight_gradients,
                 lambda d, m=None: dict(zip(("dwx", "dwh", "db"),
                                            _weight_gradients(d["dz"], d["x"], d["h_prev"], m))),
                 ("weight_gradient_transposed", "batch_averaged", "first_example_only"),
                 lambda d: f"batch {len(d['x'])}, input {d['x'].shape[1]}, "
                           f"hidden {d['dz'].shape[1]}"),
        Exercise("hidden_gradient", ("local", "p"), (), "hidden_gradient",
                 _inputs_hidden_gradient,
                 lambda d, m=None: {"dh_prev": _hidden_gradient(d["local"], d["p"], m)},
                 tuple(f"gate_missing_in_dh_prev:{g}" for g in GATES)
                 + ("wh_transposed_in_dh_prev",),
                 lambda d: _cell_setting(d["p"], len(d["local"].dzi))),
        Exercise("input_gradient", ("local", "p"), (), "input_gradient",
                 _inputs_hidden_gradient,
                 lambda d, m=None: _only("dx", _input_gradient(d["local"], d["p"], m)),
                 _DX_MISTAKES, lambda d: _cell_setting(d["p"], len(d["local"].dzi))),
        Exercise("cell_backward", ("dh", "dc", "cache"), (), "cell_backward",
                 _inputs_cell_backward,
                 lambda d, m=None: _cell_backward(d["dh"], d["dc"], d["cache"], m),
                 ("dc_from_future_ignored", "tanh_c_derivative_forgotten", "c_for_c_prev",
                  "sigmoid_derivative_on_z", "sigmoid_applied_twice", "tanh_derivative_on_z",
                  "di_dg_swapped", "dc_prev_from_incoming_only", "weight_gradient_transposed",
                  "batch_averaged", "first_example_only", "wh_transposed_in_dh_prev")
                 + tuple(f"gate_missing_in_dh_prev:{g}" for g in GATES) + _DX_MISTAKES,
                 lambda d: _cell_setting(d["cache"].p, len(d["dh"])) + ", nonzero dc",
                 {"params": PARAM_NAMES}),
        Exercise("lstm_backward", ("dhs", "cache"), ("truncate", "dhT", "dcT"), "lstm_backward",
                 _inputs_lstm_backward,
                 lambda d, m=None: _lstm_backward(d["dhs"], d["cache"], d["truncate"], m,
                                                  d["dhT"], d["dcT"]),
                 ("no_sum_over_time", "dc_not_carried", "dh_not_carried",
                  "time_order_reversed", "truncate_ignored", "dxs_order_reversed",
                  "dxs_overwritten", "final_state_ignored", "final_state_swapped"),
                 lambda d: f"T {len(d['dhs'])}, " + _cell_setting(d["cache"].p, d["dhs"].shape[1])
                 + f", truncate={d['truncate']}"
                 + (", nonzero dhT and dcT" if d["dhT"] is not None else ""),
                 {"params": PARAM_NAMES, "initial_state": ("dh0", "dc0")}),
        Exercise("gru_cell_backward", ("dh", "cache"), (), "gru_cell_backward",
                 _inputs_gru_cell_backward,
                 lambda d, m=None: _gru_cell_backward(d["dh"], d["cache"], m), _GRU_MISTAKES,
                 lambda d: _cell_setting(d["cache"].p, len(d["dh"])) + ", nonzero bhn",
                 {"params": _GRU_PARAMS, "reset_gate": ("wxr", "whr", "br"),
                  "update_gate": ("wxz", "whz", "bz"),
                  "candidate": ("wxn", "whn", "bxn", "bhn")}),
        Exercise("gru_backward", ("dhs", "cache"), ("dhT",), "gru_backward",
                 _inputs_gru_backward,
                 lambda d, m=None: _gru_backward(d["dhs"], d["cache"], d["dhT"], m),
                 ("no_sum_over_time", "dh_not_carried", "time_order_reversed",
                  "dxs_order_reversed", "dhT_ignored"),
                 lambda d: f"T {len(d['dhs'])}, " + _cell_setting(d["cache"].p, d["dhs"].shape[1])
                 + (", nonzero dhT" if d["dhT"] is not None else ""),
                 {"params": _GRU_PARAMS}),
        Exercise("sgd_step", ("p", "grads", "lr"), (), "params", _inputs_sgd_step,
                 lambda d, m=None: dict(zip(PARAM_NAMES, _sgd_step(d["p"], d["grads"], d["lr"],
                                                                   m))),
                 ("gradient_ascent",), lambda d: f"lr {d['lr']}"),
        Exercise("train", ("xs", "ys", "p", "lr", "steps"), (), "train", _inputs_train,
                 _train_outputs, ("sum_instead_of_mean",),
                 lambda d: f"sine task, lr {d['lr']}, {d['steps']} steps"),
        Exercise("train_to_loss", ("xs", "ys", "p", "lr", "steps"), (), "train",
                 _inputs_train_to_loss, None, (),
                 lambda d: f"sine task, lr {d['lr']}, {d['steps']} steps, "
                           f"target mean loss {SINE['target_loss']}"),
    ]
}


# ---------------------------------------------------------------- comparison

def _fmt(a) -> str:
    return np.array2string(np.asarray(a), precision=4, suppress_small=True, threshold=10,
                           edgeitems=2, max_line_width=88).replace("\n", "")


def _is_weight(name) -> bool:
    return name.startswith(("w", "dw"))


def _generic_causes(got, expected, inputs_batch, name=""):
    """Diagnoses that need no catalogue: sign, transpose, batch scaling, zeros, NaN."""
    if got.shape != expected.shape:
        if got.shape == expected.shape[::-1] and got.ndim == 2:
            return ["weight_gradient_transposed" if _is_weight(name) else "transposed"]
        if inputs_batch and got.shape == (inputs_batch,) + expected.shape:
            return ["not_summed_over_batch"]
        return []
    if not np.all(np.isfinite(got)):
        return ["not_finite"]
    if np.allclose(got, 0.0) and not np.allclose(expected, 0.0):
        return ["all_zeros"]
    if np.allclose(got, -expected, RTOL, ATOL):
        return ["sign_flipped"]
    if got.ndim == 2 and got.shape[0] == got.shape[1] and np.allclose(got, expected.T, RTOL,
                                                                      ATOL):
        return ["transposed"]
    if inputs_batch and inputs_batch > 1 and np.allclose(got * inputs_batch, expected, RTOL,
                                                         ATOL):
        return ["batch_averaged"]
    return []


def _batch_of(inputs) -> int | None:
    for key in ("x", "dh", "dz"):
        if key in inputs:
            return len(inputs[key])
    if "dhs" in inputs:
        return inputs["dhs"].shape[1]
    if "local" in inputs:
        return len(inputs["local"].dzi)
    return None


def compare(exercise: Exercise, inputs: dict, got: dict, mutated=()) -> CheckResult:
    """Compare a function's returned arrays with the reference on the same inputs.

    Runs in whichever process holds the reference; got holds arrays only (the grader
    decodes them from the student's process). Values never come from the student's code.
    """
    setting = exercise.setting(inputs)
    if exercise.name == "train_to_loss":
        return _judge_train_to_loss(inputs, got, setting)
    with np.errstate(all="ignore"):  # a mistake's overflow must not reach stderr (nbgrader)
        expected = exercise.reference(inputs, None)
        variants = {}
        wrong, details, causes = [], {}, {}
        for name, want in expected.items():
            diagnosis = _diagnose(exercise, inputs, name, np.asarray(want), got.get(name),
                                  variants)
            if diagnosis is not None:
                wrong.append(name)
                details[name], causes[name] = diagnosis
    passed = not wrong and not mutated
    result = CheckResult(exercise.name, passed, wrong, causes, mutated=mutated, details=details,
                         setting=setting)
    result.groups = dict(exercise.groups)
    return result


def _diagnose(exercise, inputs, name, want, have, variants):
    """None when have matches want; else (what differs, [likely causes])."""
    if have is None:
        return "missing from what your function returned", []
    have = np.asarray(have)
    if have.shape == want.shape and np.all(np.isfinite(have)) and np.allclose(
            have.astype(np.float64), want, RTOL, ATOL):
        return None
    if have.shape != want.shape:
        detail = f"expected shape {want.shape}, got shape {have.shape}"
    else:
        diff = np.abs(have.astype(np.float64) - want)
        worst = np.unravel_index(np.argmax(np.where(np.isnan(diff), np.inf, diff)), diff.shape)
        detail = (f"largest difference at index {[int(k) for k in worst]}\n"
                  f"      expected {_fmt(want)}\n      got      {_fmt(have)}")
    found = _generic_causes(have.astype(np.float64), want, _batch_of(inputs), name)
    gates = []
    for key in exercise.mistakes:
        if key not in variants:  # each known mistake, run once on these inputs
            variants[key] = exercise.reference(inputs, key)
        alt = np.asarray(variants[key].get(name, want))
        if alt.shape != have.shape or (alt.shape == want.shape and np.allclose(alt, want, RTOL,
                                                                                ATOL)):
            continue  # this mistake does not change this quantity
        if np.allclose(have, alt, RTOL, ATOL):
            base, _, gate = key.partition(":")
            if base not in found:
                found.append(base)
            if gate:
                gates.append(gate)
    if gates:
        detail = f"the term of gate {'/'.join(gates)} is missing; " + detail
    return detail, found


def _judge_train_to_loss(inputs, got, setting):
    target = SINE["target_loss"]
    try:
        loss = final_loss(got, inputs["xs"], inputs["ys"])
    except (KeyError, ValueError) as exc:
        return CheckResult("train_to_loss", False, ["p"], error=f"cannot evaluate p: {exc}",
                           setting=setting)
    if np.isfinite(loss) and loss < target:
        return CheckResult("train_to_loss", True, setting=setting)
    return CheckResult("train_to_loss", False, ["final loss"],
                       details={"final loss": f"the trained parameters give a mean loss of "
                                              f"{loss:.5f}; it must be below {target}"},
                       causes={"final loss": ["is train's update the plain SGD step, with lr "
                                              "and steps as given?"]},
                       setting=setting)


def _changed(before, after) -> list:
    """Names of the arrays (searched inside tuples and lists) that the call changed."""
    out = []

    def walk(a, b, name):
        if isinstance(a, np.ndarray):
            if not isinstance(b, np.ndarray) or a.shape != b.shape or not np.array_equal(
                    a, b, equal_nan=True):
                out.append(name)
        elif isinstance(a, (list, tuple)):
            names = getattr(a, "_fields", None) or [str(k) for k in range(len(a))]
            for n, x, y in zip(names, a, b):
                walk(x, y, f"{name}.{n}")
    for key in before:
        walk(before[key], after[key], key)
    return out


# The reference of each function an exercise builds on, by the name the notebook gives it.
def _references() -> dict:
    from . import cell

    return {"local_gradients": cell.local_gradients, "weight_gradients": cell.weight_gradients,
            "hidden_gradient": cell.hidden_gradient, "input_gradient": cell.input_gradient,
            "cell_backward": cell.cell_backward, "gru_cell_backward": gru.gru_cell_backward,
            "sgd_step": _sgd_step}


@contextlib.contextmanager
def reference_upstream(namespace: dict, *names):
    """Within the block, namespace[name] is lstm_teach's reference for each name given.

    A test cell that grades cell_backward runs it with the reference local_gradients (and
    the others) in place of the student's own, so a bug in local_gradients costs the points
    of local_gradients only, not those of every function that calls it. Restored afterwards,
    even when the block raises.
    """
    references = _references()
    unknown = [n for n in names if n not in references]
    if unknown:
        raise ValueError(f"no reference for {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(references))}")
    missing = object()
    saved = {n: namespace.get(n, missing) for n in names}
    try:
        namespace.update({n: references[n] for n in names})
        yield
    finally:
        for n, value in saved.items():
            if value is missing:
                namespace.pop(n, None)
            else:
                namespace[n] = value


def run_check(name: str, fn, seed=0, **options) -> CheckResult:
    """Call fn in this process on inputs drawn with seed, and compare with the reference."""
    exercise = EXERCISES[name]
    inputs = exercise.make_inputs(np.random.default_rng(seed), **options)
    given = copy.deepcopy(inputs)
    setting = exercise.setting(inputs)
    try:
        returned = fn(*[given[a] for a in exercise.args],
                      **{k: given[k] for k in exercise.kwargs if given[k] is not None})
    except Exception as exc:
        return CheckResult(name, False, error=f"your function raised {type(exc).__name__}: "
                                              f"{exc}", setting=setting)
    try:
        got = unpack(exercise.unpack, returned)
    except UnpackError as exc:
        return CheckResult(name, False, error=f"your function's result: {exc}", setting=setting)
    return compare(exercise, inputs, got, mutated=_changed(inputs, given))


def check_cell_forward(fn, seed=0, **options) -> CheckResult:
    """fn(x, h_prev, c_prev, p) -> (h, c, cache); h and c are compared."""
    return run_check("cell_forward", fn, seed, **options)


def check_local_gradients(fn, seed=0, **options) -> CheckResult:
    """fn(dh, dc, cache) -> CellGrads (do, dc, di, dg, df, dc_prev, dzi, dzg, dzf, dzo)."""
    return run_check("local_gradients", fn, seed, **options)


def check_weight_gradients(fn, seed=0, **options) -> CheckResult:
    """fn(dz, x, h_prev) -> (dwx, dwh, db)."""
    return run_check("weight_gradients", fn, seed, **options)


def check_hidden_gradient(fn, seed=0, **options) -> CheckResult:
    """fn(local, p) -> dh_prev."""
    return run_check("hidden_gradient", fn, seed, **options)


def check_input_gradient(fn, seed=0, **options) -> CheckResult:
    """fn(local, p) -> dx."""
    return run_check("input_gradient", fn, seed, **options)


def check_cell_backward(fn, seed=0, **options) -> CheckResult:
    """fn(dh, dc, cache) -> (grads, dx, dh_prev, dc_prev); the 12 gradients, dx, both states.
    result.correct("params"), .correct("dx"), ... judge each quantity on its own."""
    return run_check("cell_backward", fn, seed, **options)


def check_lstm_backward(fn, seed=0, **options) -> CheckResult:
    """fn(dhs, cache, truncate=None, dhT=None, dcT=None) -> (grads, dxs, dh0, dc0).
    options: truncate=k; final_state=True passes nonzero dhT and dcT; seq_len, batch,
    input_size, hidden_size. result.correct("params"), .correct("dxs"),
    .correct("initial_state") judge each quantity on its own."""
    return run_check("lstm_backward", fn, seed, **options)


def check_gru_cell_backward(fn, seed=0, **options) -> CheckResult:
    """fn(dh, cache) -> (grads: gru.GRUParams, dx, dh_prev) for a gru.GRUCache.
    result.correct("reset_gate"), "update_gate", "candidate", "dx", "dh_prev" judge each part."""
    return run_check("gru_cell_backward", fn, seed, **options)


def check_gru_backward(fn, seed=0, **options) -> CheckResult:
    """fn(dhs, cache, dhT=None) -> (grads: gru.GRUParams, dxs, dh0) for a gru.GRUSeqCache;
    options: final_state=True passes a nonzero dhT; seq_len, batch, input_size, hidden_size."""
    return run_check("gru_backward", fn, seed, **options)


def check_sgd_step(fn, seed=0, **options) -> CheckResult:
    """fn(p, grads, lr) -> new LSTMParams; p must not be changed."""
    return run_check("sgd_step", fn, seed, **options)


def check_train(fn, seed=0, **options) -> CheckResult:
    """fn(xs, ys, p, lr, steps) -> (p, losses): compared step by step with plain SGD."""
    return run_check("train", fn, seed, **options)


def check_train_to_loss(fn, seed=0) -> CheckResult:
    """fn trained on a fresh sine task must reach the stated mean loss SINE['target_loss']."""
    return run_check("train_to_loss", fn, seed)


__all__ = ["MISTAKES", "CheckResult", "SINE", "check_cell_backward", "check_cell_forward",
           "check_gru_backward", "check_gru_cell_backward", "check_hidden_gradient",
           "check_input_gradient", "check_local_gradients",
           "check_lstm_backward", "reference_upstream",
           "check_sgd_step", "check_train", "check_train_to_loss", "check_weight_gradients",
           "compare", "sine_task", "run_check"]
