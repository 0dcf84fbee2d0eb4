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

The same comparison, without the values, is what `lstm-teach grade` writes as feedback.
"""

import copy
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._sandbox import PARAM_NAMES, UnpackError, unpack
from .activations import sigmoid
from .cell import CellGrads, cell_backward, cell_forward
from .losses import mse_loss
from .params import GATES, LSTMParams
from .sequence import lstm_backward, lstm_forward

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
    unpack: str  # what the function returns (see _sandbox.unpack)
    make_inputs: Callable  # (rng, **options) -> dict of inputs
    reference: Callable  # (inputs, mistake_key or None) -> dict name -> array
    mistakes: tuple  # catalogue keys that may explain a wrong answer
    setting: Callable  # inputs -> short description


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


def _inputs_lstm_backward(rng, seq_len=4, batch=3, input_size=4, hidden_size=5, truncate=None):
    p = _random_params(rng, input_size, hidden_size)
    xs = rng.normal(0.0, 1.0, (seq_len, batch, input_size))
    h0 = rng.normal(0.0, 0.5, (batch, hidden_size))
    c0 = rng.normal(0.0, 1.0, (batch, hidden_size))
    _, cache = lstm_forward(xs, p, h0, c0)
    return {"dhs": rng.normal(0.0, 1.0, (seq_len, batch, hidden_size)), "cache": cache,
            "truncate": truncate}


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


def _cell_backward(dh, dc, cache, m=None):
    local = _local_gradients(dh, dc, cache, m)
    out = {}
    for gate in GATES:
        dwx, dwh, db = _weight_gradients(getattr(local, "dz" + gate), cache.x, cache.h_prev, m)
        out["wx" + gate], out["wh" + gate], out["b" + gate] = dwx, dwh, db
    out["dh_prev"] = _hidden_gradient(local, cache.p, m)
    out["dc_prev"] = local.dc_prev
    return out


def _lstm_backward(dhs, cache, truncate=None, m=None):
    if m is None or (m == "truncate_ignored" and truncate is None):
        grads, dh0, dc0 = lstm_backward(dhs, cache, truncate=truncate)
    elif m == "truncate_ignored":
        grads, dh0, dc0 = lstm_backward(dhs, cache)
    else:
        T = len(cache.caches)
        grads = cache.p.zeros_like()
        dh, dc = np.zeros_like(dhs[0]), np.zeros_like(dhs[0])
        for t in (range(T) if m == "time_order_reversed" else reversed(range(T))):
            upstream = dhs[t] if m == "dh_not_carried" else dhs[t] + dh
            step, dh, dc = cell_backward(upstream, None if m == "dc_not_carried" else dc,
                                         cache.caches[t])
            grads = step if m == "no_sum_over_time" else grads.map(np.add, step)
        dh0, dc0 = dh, dc
    out = dict(zip(PARAM_NAMES, grads))
    out.update(dh0=dh0, dc0=dc0)
    return out


def _sgd_step(p, grads, lr, m=None):
    sign = 1.0 if m == "gradient_ascent" else -1.0
    return LSTMParams(*(a + sign * lr * g for a, g in zip(p, grads)))


def _train(xs, ys, p, lr, steps, m=None):
    """Full-batch gradient descent on mse_loss(..., reduction='mean'); losses before each step."""
    losses = []
    for _ in range(steps):
        hs, cache = lstm_forward(xs, p)
        loss, dhs = mse_loss(hs, ys, reduction="sum" if m == "sum_instead_of_mean" else "mean")
        grads, _, _ = lstm_backward(dhs, cache)
        p = _sgd_step(p, grads, lr)
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
        Exercise("cell_backward", ("dh", "dc", "cache"), (), "cell_backward",
                 _inputs_cell_backward,
                 lambda d, m=None: _cell_backward(d["dh"], d["dc"], d["cache"], m),
                 ("dc_from_future_ignored", "tanh_c_derivative_forgotten", "c_for_c_prev",
                  "sigmoid_derivative_on_z", "sigmoid_applied_twice", "tanh_derivative_on_z",
                  "di_dg_swapped", "dc_prev_from_incoming_only", "weight_gradient_transposed",
                  "batch_averaged", "first_example_only", "wh_transposed_in_dh_prev")
                 + tuple(f"gate_missing_in_dh_prev:{g}" for g in GATES),
                 lambda d: _cell_setting(d["cache"].p, len(d["dh"])) + ", nonzero dc"),
        Exercise("lstm_backward", ("dhs", "cache"), ("truncate",), "lstm_backward",
                 _inputs_lstm_backward,
                 lambda d, m=None: _lstm_backward(d["dhs"], d["cache"], d["truncate"], m),
                 ("no_sum_over_time", "dc_not_carried", "dh_not_carried",
                  "time_order_reversed", "truncate_ignored"),
                 lambda d: f"T {len(d['dhs'])}, " + _cell_setting(d["cache"].p, d["dhs"].shape[1])
                 + f", truncate={d['truncate']}"),
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


def _generic_causes(got, expected, inputs_batch):
    """Diagnoses that need no catalogue: sign, transpose, batch scaling, zeros, NaN."""
    if got.shape != expected.shape:
        if got.shape == expected.shape[::-1]:
            return ["weight_gradient_transposed"]
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
    return CheckResult(exercise.name, passed, wrong, causes, mutated=mutated, details=details,
                       setting=setting)


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
    found = _generic_causes(have.astype(np.float64), want, _batch_of(inputs))
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


def run_check(name: str, fn, seed=0, **options) -> CheckResult:
    """Call fn in this process on inputs drawn with seed, and compare with the reference."""
    exercise = EXERCISES[name]
    inputs = exercise.make_inputs(np.random.default_rng(seed), **options)
    given = copy.deepcopy(inputs)
    setting = exercise.setting(inputs)
    try:
        returned = fn(*[given[a] for a in exercise.args],
                      **{k: given[k] for k in exercise.kwargs})
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


def check_cell_backward(fn, seed=0, **options) -> CheckResult:
    """fn(dh, dc, cache) -> (grads, dh_prev, dc_prev); the 12 gradients and both states."""
    return run_check("cell_backward", fn, seed, **options)


def check_lstm_backward(fn, seed=0, **options) -> CheckResult:
    """fn(dhs, cache, truncate=None) -> (grads, dh0, dc0); options may set truncate=k."""
    return run_check("lstm_backward", fn, seed, **options)


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
           "check_hidden_gradient", "check_local_gradients", "check_lstm_backward",
           "check_sgd_step", "check_train", "check_train_to_loss", "check_weight_gradients",
           "compare", "sine_task", "run_check"]
