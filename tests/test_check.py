"""lstm_teach.check: every catalogued mistake, made on purpose by a student-style function,
is caught, named in .wrong, and diagnosed in .report.

The broken functions here are written the way a student would write them (not taken from
check.py's own variants), so a diagnosis that only matched its own code would fail here.
"""

import numpy as np
import pytest

import lstm_teach as lt
from lstm_teach import check
from lstm_teach.activations import sigmoid_deriv

PARAMS = list(lt.LSTMParams._fields)
LOCAL = list(lt.CellGrads._fields)


# ---------------------------------------------------------------- student-style functions

def student_forward(x, h_prev, c_prev, p, bug=None):
    def z(wx, wh, b):
        return x @ wx.T + h_prev @ wh.T + b

    zi, zg, zf, zo = z(p.wxi, p.whi, p.bi), z(p.wxg, p.whg, p.bg), z(p.wxf, p.whf, p.bf), \
        z(p.wxo, p.who, p.bo)
    i, f, o = lt.sigmoid(zi), lt.sigmoid(zf), lt.sigmoid(zo)
    g = lt.sigmoid(zg) if bug == "g_sigmoid" else np.tanh(zg)
    if bug == "forget_input_swapped":
        c = i * c_prev + f * g
    elif bug == "input_gate_forgotten":
        c = f * c_prev + g
    elif bug == "h_prev_for_c_prev":
        c = f * h_prev + i * g
    else:
        c = f * c_prev + i * g
    h = o * c if bug == "tanh_c_forgotten" else o * np.tanh(c)
    if bug == "all_zeros":
        h, c = np.zeros_like(h), np.zeros_like(c)
    if bug == "not_finite":
        h = h.copy()
        h[0, 0] = np.nan
    cache = lt.CellCache(x, h_prev, c_prev, zi, zg, zf, zo, i, g, f, o, c, np.tanh(c), p)
    return h, c, cache


def student_local(dh, dc, cache, bug=None):
    i, g, f, o, tc = cache.i, cache.g, cache.f, cache.o, cache.tanh_c
    if bug == "dc_from_future_ignored":
        dct = dh * o * (1 - tc * tc)
    elif bug == "tanh_c_derivative_forgotten":
        dct = dc + dh * o
    else:
        dct = dc + dh * o * (1 - tc * tc)
    do = dh * tc
    di, dg = (dct * i, dct * g) if bug == "di_dg_swapped" else (dct * g, dct * i)
    df = dct * (cache.c if bug == "c_for_c_prev" else cache.c_prev)
    dc_prev = (dc if bug == "dc_prev_from_incoming_only" else dct) * f
    if bug == "sigmoid_derivative_on_z":
        si, sf, so = cache.zi * (1 - cache.zi), cache.zf * (1 - cache.zf), cache.zo * (1 - cache.zo)
    elif bug == "sigmoid_applied_twice":
        si, sf, so = sigmoid_deriv(i), sigmoid_deriv(f), sigmoid_deriv(o)
    else:
        si, sf, so = sigmoid_deriv(cache.zi), sigmoid_deriv(cache.zf), sigmoid_deriv(cache.zo)
    tg = 1 - cache.zg**2 if bug == "tanh_derivative_on_z" else 1 - np.tanh(cache.zg) ** 2
    out = lt.CellGrads(do, dct, di, dg, df, dc_prev, di * si, dg * tg, df * sf, do * so)
    if bug == "sign_flipped":
        out = lt.CellGrads(*(-a for a in out))
    return out


def student_weights(dz, x, h_prev, bug=None):
    B = dz.shape[0]
    dwx = np.zeros((dz.shape[1], x.shape[1]))
    dwh = np.zeros((dz.shape[1], h_prev.shape[1]))
    for b in range(1 if bug == "first_example_only" else B):
        dwx += np.outer(dz[b], x[b])
        dwh += np.outer(dz[b], h_prev[b])
    db = dz[0].copy() if bug == "first_example_only" else dz.sum(axis=0)
    if bug == "batch_averaged":
        dwx, dwh, db = dwx / B, dwh / B, db / B
    if bug == "weight_gradient_transposed":
        dwx, dwh = dwx.T, dwh.T
    if bug == "not_summed_over_batch":
        db = dz.copy()
    return dwx, dwh, db


def student_hidden(local, p, bug=None):
    dh = np.zeros_like(local.dzi)
    for gate, dz in zip("igfo", (local.dzi, local.dzg, local.dzf, local.dzo)):
        if bug == f"missing_{gate}":
            continue
        wh = getattr(p, "wh" + gate)
        dh = dh + (dz @ wh.T if bug == "wh_transposed_in_dh_prev" else dz @ wh)
    return dh


def student_cell_backward(dh, dc, cache, bug=None):
    local = student_local(dh, dc, cache, bug)
    grads = {}
    for gate in "igfo":
        w = student_weights(getattr(local, "dz" + gate), cache.x, cache.h_prev, bug)
        grads["wx" + gate], grads["wh" + gate], grads["b" + gate] = w
    return lt.LSTMParams(**grads), student_hidden(local, cache.p, bug), local.dc_prev


def student_bptt(dhs, cache, truncate=None, bug=None):
    T = len(cache.caches)
    if truncate is not None and bug != "truncate_ignored":
        return lt.lstm_backward(dhs, cache, truncate=truncate)
    total = [np.zeros_like(a) for a in cache.p]
    dh, dc = np.zeros_like(dhs[0]), np.zeros_like(dhs[0])
    order = range(T) if bug == "time_order_reversed" else range(T - 1, -1, -1)
    for t in order:
        upstream = dhs[t] if bug == "dh_not_carried" else dhs[t] + dh
        step, dh, dc = lt.cell_backward(upstream, np.zeros_like(dc) if bug == "dc_not_carried"
                                        else dc, cache.caches[t])
        total = list(step) if bug == "no_sum_over_time" else [a + b for a, b in zip(total, step)]
    return lt.LSTMParams(*total), dh, dc


def student_sgd(p, grads, lr, bug=None):
    if bug == "updated_in_place":
        for a, g in zip(p, grads):
            a -= lr * g
        return p
    sign = 1 if bug == "gradient_ascent" else -1
    return lt.LSTMParams(*(a + sign * lr * g for a, g in zip(p, grads)))


def student_train(xs, ys, p, lr, steps, bug=None):
    losses = []
    for _ in range(steps):
        hs, cache = lt.lstm_forward(xs, p)
        loss, dhs = lt.mse_loss(hs, ys, reduction="sum" if bug == "sum_instead_of_mean"
                                else "mean")
        grads, _, _ = lt.lstm_backward(dhs, cache)
        p = student_sgd(p, grads, lr)
        losses.append(loss)
    return p, losses


def with_bug(fn, bug):
    def broken(*args, **kwargs):
        return fn(*args, **kwargs, bug=bug)
    return broken


# ---------------------------------------------------------------- correct answers pass

@pytest.mark.parametrize("checker, fn", [
    (check.check_cell_forward, student_forward),
    (check.check_local_gradients, student_local),
    (check.check_weight_gradients, student_weights),
    (check.check_hidden_gradient, student_hidden),
    (check.check_cell_backward, student_cell_backward),
    (check.check_lstm_backward, student_bptt),
    (check.check_sgd_step, student_sgd),
    (check.check_train, student_train),
])
def test_correct_functions_pass(checker, fn):
    for seed in (0, 1):
        result = checker(fn, seed=seed)
        assert result.passed, result.report
        assert result.wrong == []
        assert "passed" in result.report


def test_training_reaches_the_stated_loss():
    result = check.check_train_to_loss(student_train, seed=5)
    assert result.passed, result.report
    slow = check.check_train_to_loss(lambda xs, ys, p, lr, steps: student_train(xs, ys, p, lr,
                                                                                steps // 10))
    assert not slow.passed and slow.wrong == ["final loss"]
    assert "must be below" in slow.report


# ---------------------------------------------------------------- the catalogue

DERIVED = ["dc", "di", "dg", "df", "dc_prev", "dzi", "dzg", "dzf"]
CASES = [
    # (checker, student function, bug, catalogue key, expected wrong names, options)
    ("cell_forward", student_forward, "tanh_c_forgotten", "tanh_c_forgotten", ["h"], {}),
    ("cell_forward", student_forward, "g_sigmoid", "g_sigmoid", ["h", "c"], {}),
    ("cell_forward", student_forward, "input_gate_forgotten", "input_gate_forgotten",
     ["h", "c"], {}),
    ("cell_forward", student_forward, "forget_input_swapped", "forget_input_swapped",
     ["h", "c"], {}),
    ("cell_forward", student_forward, "h_prev_for_c_prev", "h_prev_for_c_prev", ["h", "c"], {}),
    ("cell_forward", student_forward, "all_zeros", "all_zeros", ["h", "c"], {}),
    ("cell_forward", student_forward, "not_finite", "not_finite", ["h"], {}),
    ("local_gradients", student_local, "dc_from_future_ignored", "dc_from_future_ignored",
     DERIVED, {}),
    ("local_gradients", student_local, "tanh_c_derivative_forgotten",
     "tanh_c_derivative_forgotten", DERIVED, {}),
    ("local_gradients", student_local, "c_for_c_prev", "c_for_c_prev", ["df", "dzf"], {}),
    ("local_gradients", student_local, "sigmoid_derivative_on_z", "sigmoid_derivative_on_z",
     ["dzi", "dzf", "dzo"], {}),
    ("local_gradients", student_local, "sigmoid_applied_twice", "sigmoid_applied_twice",
     ["dzi", "dzf", "dzo"], {}),
    ("local_gradients", student_local, "tanh_derivative_on_z", "tanh_derivative_on_z",
     ["dzg"], {}),
    ("local_gradients", student_local, "di_dg_swapped", "di_dg_swapped",
     ["di", "dg", "dzi", "dzg"], {}),
    ("local_gradients", student_local, "dc_prev_from_incoming_only",
     "dc_prev_from_incoming_only", ["dc_prev"], {}),
    ("local_gradients", student_local, "sign_flipped", "sign_flipped", LOCAL, {}),
    ("weight_gradients", student_weights, "weight_gradient_transposed",
     "weight_gradient_transposed", ["dwx", "dwh"], {}),
    ("weight_gradients", student_weights, "batch_averaged", "batch_averaged",
     ["dwx", "dwh", "db"], {}),
    ("weight_gradients", student_weights, "first_example_only", "first_example_only",
     ["dwx", "dwh", "db"], {}),
    ("weight_gradients", student_weights, "not_summed_over_batch", "not_summed_over_batch",
     ["db"], {}),
    ("hidden_gradient", student_hidden, "missing_f", "gate_missing_in_dh_prev", ["dh_prev"], {}),
    ("hidden_gradient", student_hidden, "missing_g", "gate_missing_in_dh_prev", ["dh_prev"], {}),
    ("hidden_gradient", student_hidden, "wh_transposed_in_dh_prev", "wh_transposed_in_dh_prev",
     ["dh_prev"], {}),
    ("cell_backward", student_cell_backward, "c_for_c_prev", "c_for_c_prev",
     ["wxf", "whf", "bf", "dh_prev"], {}),
    ("cell_backward", student_cell_backward, "missing_o", "gate_missing_in_dh_prev",
     ["dh_prev"], {}),
    ("cell_backward", student_cell_backward, "dc_from_future_ignored", "dc_from_future_ignored",
     [n for n in PARAMS if n[-1] != "o"] + ["dh_prev", "dc_prev"], {}),
    ("lstm_backward", student_bptt, "no_sum_over_time", "no_sum_over_time", PARAMS, {}),
    ("lstm_backward", student_bptt, "dc_not_carried", "dc_not_carried",
     PARAMS + ["dh0", "dc0"], {}),
    ("lstm_backward", student_bptt, "dh_not_carried", "dh_not_carried",
     PARAMS + ["dh0", "dc0"], {}),
    ("lstm_backward", student_bptt, "time_order_reversed", "time_order_reversed",
     PARAMS + ["dh0", "dc0"], {}),
    ("lstm_backward", student_bptt, "truncate_ignored", "truncate_ignored",
     PARAMS + ["dh0", "dc0"], {"truncate": 2}),
    ("sgd_step", student_sgd, "gradient_ascent", "gradient_ascent", PARAMS, {}),
    ("train", student_train, "sum_instead_of_mean", "sum_instead_of_mean",
     PARAMS + ["losses"], {}),
]


@pytest.mark.parametrize("name, fn, bug, key, wrong, options", CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_each_catalogued_mistake_is_caught_and_named(name, fn, bug, key, wrong, options):
    assert key in check.MISTAKES
    result = check.run_check(name, with_bug(fn, bug), seed=3, **options)
    assert not result.passed
    assert sorted(result.wrong) == sorted(wrong), result.report
    assert key in result.mistakes, result.report
    assert check.MISTAKES[key].cause in result.report
    # the cause is attached to the quantities it explains, not merely somewhere
    assert all(key in result.causes[n] for n in wrong if n not in ("dh_prev", "dc0", "dh0")
               or len(wrong) <= 2), result.causes


def test_catalogue_is_large_and_every_entry_is_exercised():
    keys = {c[3] for c in CASES}
    assert len(keys) >= 10
    # every catalogue entry but the generic transpose (tested below) has a broken function
    assert set(check.MISTAKES) - keys == {"transposed"}


def test_missing_gate_names_the_gate():
    result = check.check_hidden_gradient(with_bug(student_hidden, "missing_f"), seed=2)
    assert "the term of gate f is missing" in result.report


def test_square_matrix_transposed_is_diagnosed():
    def dwh_transposed(dz, x, h_prev):
        dwx, dwh, db = student_weights(dz, x, h_prev)
        return dwx, dwh.T, db

    result = check.check_weight_gradients(dwh_transposed)
    assert result.wrong == ["dwh"]
    assert "transposed" in result.causes["dwh"]


def test_sgd_step_that_writes_into_p_fails_even_with_right_values():
    result = check.check_sgd_step(with_bug(student_sgd, "updated_in_place"))
    assert not result.passed
    assert result.wrong == []
    assert result.mutated and all(m.startswith("p.") for m in result.mutated)
    assert "changed arrays it was given" in result.report


def test_inputs_expose_the_mistakes():
    """B > 1, non-square weights, nonzero biases and a nonzero dc in every check's inputs."""
    inputs = check.EXERCISES["cell_backward"].make_inputs(np.random.default_rng(0))
    p = inputs["cache"].p
    assert inputs["dh"].shape[0] > 1 and p.wxi.shape[0] != p.wxi.shape[1]
    assert np.all(inputs["dc"] != 0) and all(np.all(b != 0) for b in (p.bi, p.bg, p.bf, p.bo))
    seq = check.EXERCISES["lstm_backward"].make_inputs(np.random.default_rng(0))
    assert np.all(seq["cache"].h0 != 0) and np.all(seq["cache"].c0 != 0)


def test_errors_and_wrong_structures_are_reported_not_raised():
    def raises(x, h_prev, c_prev, p):
        raise ValueError("shapes do not match")

    result = check.check_cell_forward(raises)
    assert not result.passed and "ValueError: shapes do not match" in result.report
    result = check.check_cell_forward(lambda x, h, c, p: (h, c))
    assert not result.passed and "(h, c, cache)" in result.report
    result = check.check_cell_backward(lambda dh, dc, cache: (dict(wxi=dh), dh, dc))
    assert not result.passed and "grads has no entries" in result.report


def test_feedback_names_what_failed_without_values():
    result = check.check_local_gradients(with_bug(student_local, "c_for_c_prev"))
    text = result.feedback()
    assert "df" in text and check.MISTAKES["c_for_c_prev"].cause in text
    assert "expected" not in text and "[" not in text
    assert "expected" in result.report  # the notebook's own report does show values


def test_checks_leave_the_inputs_of_other_checks_alone_and_are_seeded():
    a = check.check_cell_forward(with_bug(student_forward, "g_sigmoid"), seed=4).report
    b = check.check_cell_forward(with_bug(student_forward, "g_sigmoid"), seed=4).report
    assert a == b
