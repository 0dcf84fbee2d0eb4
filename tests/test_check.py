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


def student_input(local, p, bug=None):
    dx = 0
    for gate, dz in zip("igfo", (local.dzi, local.dzg, local.dzf, local.dzo)):
        if bug == f"missing_{gate}":
            continue
        w = getattr(p, ("wh" if bug == "wh_for_wx_in_dx" else "wx") + gate)
        dx = dx + (dz @ w.T if bug == "wx_transposed_in_dx" else dz @ w)
    if bug == "dx_transposed":
        dx = dx.T
    return dx


def student_cell_backward(dh, dc, cache, bug=None):
    local = student_local(dh, dc, cache, bug)
    grads = {}
    for gate in "igfo":
        w = student_weights(getattr(local, "dz" + gate), cache.x, cache.h_prev, bug)
        grads["wx" + gate], grads["wh" + gate], grads["b" + gate] = w
    dx = student_input(local, cache.p, "wh_for_wx_in_dx" if bug == "wh_for_wx_in_dx" else None)
    return lt.LSTMParams(**grads), dx, student_hidden(local, cache.p, bug), local.dc_prev


def student_bptt(dhs, cache, truncate=None, dhT=None, dcT=None, bug=None):
    """Written from scratch for each bug: truncation by windows, full BPTT by one sweep."""
    T, B, _ = dhs.shape
    zero = np.zeros_like(dhs[0])
    dhT = zero if dhT is None or bug == "final_state_ignored" else dhT
    dcT = zero if dcT is None or bug == "final_state_ignored" else dcT
    if bug == "final_state_swapped":
        dhT, dcT = dcT, dhT
    total = [np.zeros_like(a) for a in cache.p]
    dxs = [np.zeros((B, cache.p.input_size)) for _ in range(T)]
    if truncate is not None and truncate < T and bug != "truncate_ignored":
        dh0, dc0 = zero, zero
        for t in range(T):
            dh, dc = dhs[t] + (dhT if t == T - 1 else 0), dcT if t == T - 1 else zero
            for s in range(t, max(t - truncate, -1), -1):
                step, dx, dh, dc = lt.cell_backward(dh, dc, cache.caches[s])
                total = [a + b for a, b in zip(total, step)]
                dxs[s] = dx if bug == "dxs_overwritten" else dxs[s] + dx
            if t < truncate:
                dh0, dc0 = dh0 + dh, dc0 + dc
        return lt.LSTMParams(*total), np.stack(dxs), dh0, dc0
    dh, dc = dhT, dcT
    order = range(T) if bug == "time_order_reversed" else range(T - 1, -1, -1)
    visited = []
    for t in order:
        upstream = dhs[t] if bug == "dh_not_carried" else dhs[t] + dh
        step, dx, dh, dc = lt.cell_backward(upstream, zero if bug == "dc_not_carried" else dc,
                                            cache.caches[t])
        total = (list(step) if bug == "no_sum_over_time"
                 else [a + b for a, b in zip(total, step)])
        dxs[t] = dx
        visited.append(dx)
    if bug == "dxs_order_reversed":  # appended while going back, never put in time order
        dxs = visited
    return lt.LSTMParams(*total), np.stack(dxs), dh, dc


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
        p = student_sgd(p, lt.lstm_backward(dhs, cache).params, lr)
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
    (check.check_input_gradient, student_input),
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


@pytest.mark.parametrize("options", [
    {"truncate": 1}, {"truncate": 2}, {"truncate": 3}, {"truncate": 4}, {"truncate": 9},
    {"final_state": True}, {"final_state": True, "truncate": 2},
    {"seq_len": 1, "batch": 1, "hidden_size": 1, "final_state": True},
])
def test_correct_bptt_passes_truncated_and_with_a_final_state(options):
    result = check.check_lstm_backward(student_bptt, seed=2, **options)
    assert result.passed, result.report


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
    ("input_gradient", student_input, "missing_g", "gate_missing_in_dx", ["dx"], {}),
    ("input_gradient", student_input, "missing_o", "gate_missing_in_dx", ["dx"], {}),
    ("input_gradient", student_input, "wh_for_wx_in_dx", "wh_for_wx_in_dx", ["dx"], {}),
    ("input_gradient", student_input, "wx_transposed_in_dx", "wx_transposed_in_dx", ["dx"],
     {"input_size": 5, "hidden_size": 5}),
    ("input_gradient", student_input, "dx_transposed", "transposed", ["dx"], {}),
    ("cell_backward", student_cell_backward, "wh_for_wx_in_dx", "wh_for_wx_in_dx", ["dx"], {}),
    ("cell_backward", student_cell_backward, "c_for_c_prev", "c_for_c_prev",
     ["wxf", "whf", "bf", "dx", "dh_prev"], {}),
    ("cell_backward", student_cell_backward, "missing_o", "gate_missing_in_dh_prev",
     ["dh_prev"], {}),
    ("cell_backward", student_cell_backward, "dc_from_future_ignored", "dc_from_future_ignored",
     [n for n in PARAMS if n[-1] != "o"] + ["dx", "dh_prev", "dc_prev"], {}),
    ("lstm_backward", student_bptt, "no_sum_over_time", "no_sum_over_time", PARAMS, {}),
    ("lstm_backward", student_bptt, "dc_not_carried", "dc_not_carried",
     PARAMS + ["dxs", "dh0", "dc0"], {}),
    ("lstm_backward", student_bptt, "dh_not_carried", "dh_not_carried",
     PARAMS + ["dxs", "dh0", "dc0"], {}),
    ("lstm_backward", student_bptt, "time_order_reversed", "time_order_reversed",
     PARAMS + ["dxs", "dh0", "dc0"], {}),
    ("lstm_backward", student_bptt, "truncate_ignored", "truncate_ignored",
     PARAMS + ["dxs", "dh0", "dc0"], {"truncate": 2}),
    ("lstm_backward", student_bptt, "dxs_order_reversed", "dxs_order_reversed", ["dxs"], {}),
    ("lstm_backward", student_bptt, "dxs_overwritten", "dxs_overwritten", ["dxs"],
     {"truncate": 2}),
    ("lstm_backward", student_bptt, "final_state_ignored", "final_state_ignored",
     PARAMS + ["dxs", "dh0", "dc0"], {"final_state": True}),
    ("lstm_backward", student_bptt, "final_state_swapped", "final_state_swapped",
     PARAMS + ["dxs", "dh0", "dc0"], {"final_state": True}),
    # with truncate=2 of T=4, the final state's error no longer reaches (h0, c0)
    ("lstm_backward", student_bptt, "final_state_ignored", "final_state_ignored",
     PARAMS + ["dxs"], {"final_state": True, "truncate": 2}),
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
    # every catalogue entry has a broken function
    keys |= {c[1] for c in GRU_CASES + GRU_SEQ_CASES}
    assert set(check.MISTAKES) - keys == set()


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
    result = check.check_cell_backward(lambda dh, dc, cache: (dict(wxi=dh), dh, dh, dc))
    assert not result.passed and "grads has no entries" in result.report
    result = check.check_cell_backward(lambda dh, dc, cache: (cache.p, dh, dc))
    assert not result.passed and "(grads, dx, dh_prev, dc_prev)" in result.report


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


# ---------------------------------------------------------------- credit per quantity

def test_correct_judges_each_quantity_on_its_own():
    result = check.check_cell_backward(with_bug(student_cell_backward, "wh_for_wx_in_dx"))
    assert not result.passed
    assert not result.correct("dx")
    assert result.correct("params") and result.correct("dh_prev", "dc_prev")
    assert not result.correct("params", "dx")
    seq = check.check_lstm_backward(with_bug(student_bptt, "dxs_order_reversed"))
    assert seq.correct("params") and seq.correct("initial_state") and not seq.correct("dxs")
    # an exception, or inputs written into, fail every quantity
    crashed = check.check_cell_backward(lambda dh, dc, cache: 1 / 0)
    assert not crashed.correct("dc_prev")

    def writes_dh(dh, dc, cache):
        out = student_cell_backward(dh, dc, cache)
        dh += 1
        return out

    mutated = check.check_cell_backward(writes_dh)
    assert mutated.wrong == [] and not mutated.correct("dx")


def test_reference_upstream_swaps_and_restores():
    def broken_local(dh, dc, cache):
        return student_local(dh, dc, cache, bug="c_for_c_prev")

    namespace = {"local_gradients": broken_local}

    def composed(dh, dc, cache):  # looks local_gradients up in namespace, as a notebook does
        local = namespace["local_gradients"](dh, dc, cache)
        return student_cell_backward(dh, dc, cache)[:1] + (
            student_input(local, cache.p), student_hidden(local, cache.p), local.dc_prev)

    assert not check.check_cell_backward(composed).correct("dx")
    with check.reference_upstream(namespace, "local_gradients", "input_gradient"):
        assert namespace["local_gradients"] is lt.cell.local_gradients
        assert namespace["input_gradient"] is lt.cell.input_gradient
        assert check.check_cell_backward(composed).correct("dx", "dh_prev", "dc_prev")
    assert namespace == {"local_gradients": broken_local}
    with pytest.raises(KeyError), check.reference_upstream(namespace, "local_gradients"):
        namespace["not defined"]()
    assert namespace["local_gradients"] is broken_local
    with pytest.raises(ValueError, match="no reference for nonsense"):
        with check.reference_upstream(namespace, "nonsense"):
            pass


def test_bptt_variants_without_their_mistake_equal_the_reference():
    """The written-out sweeps that the catalogue's variants use agree with lt.lstm_backward,
    so a variant differs from the reference only by its mistake."""
    inputs = check.EXERCISES["lstm_backward"].make_inputs(np.random.default_rng(7),
                                                         final_state=True)
    dhs, cache, dhT, dcT = inputs["dhs"], inputs["cache"], inputs["dhT"], inputs["dcT"]
    for got, k in ((check._bptt_full(dhs, cache, dhT, dcT, m=None), None),
                   (check._bptt_truncated(dhs, cache, 2, dhT, dcT, m=None), 2)):
        want = lt.lstm_backward(dhs, cache, truncate=k, dhT=dhT, dcT=dcT)
        for a, b in zip(list(got.params) + list(got[1:]), list(want.params) + list(want[1:])):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_full_sweep_mistakes_are_not_blamed_under_truncation():
    """A truncated BPTT that overwrites dxs is diagnosed as that, never as "no sum over time"
    (the full sweep's mistakes do not exist with truncate=k < T)."""
    result = check.check_lstm_backward(with_bug(student_bptt, "dxs_overwritten"), truncate=2)
    assert result.wrong == ["dxs"]
    assert result.causes["dxs"] == ["dxs_overwritten"]


def test_a_transposed_non_weight_is_not_called_a_weight_gradient():
    result = check.check_input_gradient(with_bug(student_input, "dx_transposed"))
    assert "transposed" in result.causes["dx"]
    assert "weight_gradient_transposed" not in result.causes["dx"]


# ---------------------------------------------------------------- the GRU (exercise 5)

GRU_PARAMS = list(lt.gru.GRUParams._fields)


def student_gru_step(dh, cache, bug=None):
    """A GRU step's backward as a student derives it from h = (1 - z) n + z h_prev."""
    x, hp, r, z, n, p = cache.x, cache.h_prev, cache.r, cache.z, cache.n, cache.p
    a = hp @ p.whn.T + p.bhn  # what r multiplies
    if bug == "z_swapped":  # from h = z n + (1 - z) h_prev
        d_n, d_z, d_direct = dh * z, dh * (n - hp), dh * (1 - z)
    else:
        d_n, d_z, d_direct = dh * (1 - z), dh * (hp - n), dh * z
    if bug == "dz_sign":
        d_z = -d_z
    if bug == "tanh_forgotten":
        d_an = d_n
    elif bug == "tanh_on_preactivation":
        d_an = d_n * (1 - cache.zn * cache.zn)
    else:
        d_an = d_n * (1 - n * n)
    if bug == "r_factor_missing":
        d_r = d_an
    elif bug == "bhn_outside_r":
        d_r = d_an * (hp @ p.whn.T)
    else:
        d_r = d_an * a
    d_a = d_an if bug == "r_missing_on_hidden_path" else d_an * r
    if bug == "sigmoid_twice":
        d_ar, d_az = d_r * lt.sigmoid(r) * (1 - lt.sigmoid(r)), d_z * lt.sigmoid(z) * (
            1 - lt.sigmoid(z))
    elif bug == "sigmoid_on_preactivation":
        d_ar, d_az = d_r * cache.zr * (1 - cache.zr), d_z * cache.zz * (1 - cache.zz)
    else:
        d_ar, d_az = d_r * r * (1 - r), d_z * z * (1 - z)

    def outer(d, v):
        if bug == "no_batch_sum":  # one example's outer product per row, never summed
            return np.einsum("bh,bi->bhi", d, v)
        w = np.einsum("bh,bi->hi", d, v)
        return w.T if bug == "weights_transposed" else w

    def bias(d):
        return d.copy() if bug == "no_batch_sum" else d.sum(axis=0)

    grads = lt.gru.GRUParams(
        wxr=outer(d_ar, x), whr=outer(d_ar, hp), br=bias(d_ar),
        wxz=outer(d_az, x), whz=outer(d_az, hp), bz=bias(d_az),
        wxn=outer(d_an, x), whn=outer(d_a, hp), bxn=bias(d_an),
        bhn=bias(d_an) if bug == "bhn_outside_r" else bias(d_a))
    terms_x = {"r": d_ar @ p.wxr, "z": d_az @ p.wxz, "n": d_an @ p.wxn}
    terms_h = {"r": d_ar @ p.whr, "z": d_az @ p.whz, "n": d_a @ p.whn}
    if bug == "wh_in_dx":
        terms_x = {"r": d_ar @ p.whr, "z": d_az @ p.whz, "n": d_an @ p.whn}
    dx = sum(v for k, v in terms_x.items() if bug != f"dx_missing_{k}")
    dh_prev = sum(v for k, v in terms_h.items() if bug != f"dh_prev_missing_{k}")
    if bug != "direct_path_forgotten":
        dh_prev = dh_prev + d_direct
    return grads, dx, dh_prev


def student_gru_seq(dhs, cache, dhT=None, bug=None):
    T = dhs.shape[0]
    carried = np.zeros_like(dhs[0]) if dhT is None or bug == "dhT_ignored" else dhT
    total = [np.zeros_like(a) for a in cache.p]
    dxs = []
    for t in (range(T) if bug == "time_order_reversed" else range(T - 1, -1, -1)):
        upstream = dhs[t] if bug == "dh_not_carried" else dhs[t] + carried
        g, dx, carried = student_gru_step(upstream, cache.caches[t])
        total = list(g) if bug == "no_sum_over_time" else [a + b for a, b in zip(total, g)]
        dxs.append((t, dx))
    if bug != "dxs_order_reversed":
        dxs.sort(key=lambda pair: pair[0])
    return lt.gru.GRUParams(*total), np.stack([dx for _, dx in dxs]), carried


def test_correct_gru_functions_pass():
    for seed in (0, 1):
        result = check.check_gru_cell_backward(student_gru_step, seed=seed)
        assert result.passed, result.report
    for options in ({}, {"final_state": True},
                    {"seq_len": 1, "batch": 1, "hidden_size": 1, "final_state": True}):
        result = check.check_gru_backward(student_gru_seq, seed=2, **options)
        assert result.passed, result.report


def test_gru_written_out_variant_equals_the_reference():
    inputs = check.EXERCISES["gru_cell_backward"].make_inputs(np.random.default_rng(5))
    want = check._gru_cell_backward(inputs["dh"], inputs["cache"])
    got = check._gru_cell_backward(inputs["dh"], inputs["cache"], "written_out")
    assert set(got) == set(want) == set(GRU_PARAMS) | {"dx", "dh_prev"}
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-14)
    seq = check.EXERCISES["gru_backward"].make_inputs(np.random.default_rng(5), final_state=True)
    want = check._gru_backward(seq["dhs"], seq["cache"], seq["dhT"])
    got = check._gru_backward(seq["dhs"], seq["cache"], seq["dhT"], "written_out")
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-14)


R, Z, N = ["wxr", "whr", "br"], ["wxz", "whz", "bz"], ["wxn", "whn", "bxn", "bhn"]
GRU_CASES = [
    # (student bug, catalogue key, expected wrong quantities, options)
    ("z_swapped", "gru_z_swapped", GRU_PARAMS + ["dx", "dh_prev"], {}),
    ("dz_sign", "gru_dz_sign", Z + ["dx", "dh_prev"], {}),
    ("r_factor_missing", "gru_r_factor_missing", R + ["dx", "dh_prev"], {}),
    ("bhn_outside_r", "gru_bhn_outside_r", R + ["bhn", "dx", "dh_prev"], {}),
    ("r_missing_on_hidden_path", "gru_r_missing_on_hidden_path", ["whn", "bhn", "dh_prev"], {}),
    ("direct_path_forgotten", "gru_direct_path_forgotten", ["dh_prev"], {}),
    ("sigmoid_twice", "gru_sigmoid_applied_twice", R + Z + ["dx", "dh_prev"], {}),
    ("sigmoid_on_preactivation", "gru_sigmoid_derivative_on_preactivation",
     R + Z + ["dx", "dh_prev"], {}),
    ("tanh_on_preactivation", "gru_tanh_derivative_on_preactivation",
     R + N + ["dx", "dh_prev"], {}),
    ("tanh_forgotten", "gru_tanh_derivative_forgotten", R + N + ["dx", "dh_prev"], {}),
    ("dh_prev_missing_r", "gru_gate_missing_in_dh_prev", ["dh_prev"], {}),
    ("dh_prev_missing_z", "gru_gate_missing_in_dh_prev", ["dh_prev"], {}),
    ("dh_prev_missing_n", "gru_gate_missing_in_dh_prev", ["dh_prev"], {}),
    ("dx_missing_n", "gru_gate_missing_in_dx", ["dx"], {}),
    ("wh_in_dx", "gru_wh_for_wx_in_dx", ["dx"], {}),
    ("weights_transposed", "weight_gradient_transposed",
     ["wxr", "whr", "wxz", "whz", "wxn", "whn"], {}),
    ("no_batch_sum", "not_summed_over_batch", GRU_PARAMS, {}),
]


@pytest.mark.parametrize("bug, key, wrong, options", GRU_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in GRU_CASES])
def test_each_gru_mistake_is_caught_and_named(bug, key, wrong, options):
    assert key in check.MISTAKES
    result = check.check_gru_cell_backward(with_bug(student_gru_step, bug), seed=3, **options)
    assert not result.passed
    assert sorted(result.wrong) == sorted(wrong), result.report
    assert key in result.mistakes, result.report
    assert check.MISTAKES[key].cause in result.report
    # named on every quantity it explains: the gate-level quantities at least
    assert all(key in result.causes[n] for n in wrong if n not in ("dx", "dh_prev")
               or len(wrong) <= 2), result.causes


def test_missing_gru_gate_is_named():
    result = check.check_gru_cell_backward(with_bug(student_gru_step, "dh_prev_missing_z"))
    assert "the term of gate z is missing" in result.report
    result = check.check_gru_cell_backward(with_bug(student_gru_step, "dx_missing_n"))
    assert "the term of gate n is missing" in result.report


GRU_SEQ_CASES = [
    ("no_sum_over_time", "no_sum_over_time", GRU_PARAMS, {}),
    ("dh_not_carried", "dh_not_carried", GRU_PARAMS + ["dxs", "dh0"], {}),
    ("time_order_reversed", "time_order_reversed", GRU_PARAMS + ["dxs", "dh0"], {}),
    ("dxs_order_reversed", "dxs_order_reversed", ["dxs"], {}),
    ("dhT_ignored", "dhT_ignored", GRU_PARAMS + ["dxs", "dh0"], {"final_state": True}),
]


@pytest.mark.parametrize("bug, key, wrong, options", GRU_SEQ_CASES,
                         ids=[c[0] for c in GRU_SEQ_CASES])
def test_each_gru_sequence_mistake_is_caught_and_named(bug, key, wrong, options):
    result = check.check_gru_backward(with_bug(student_gru_seq, bug), seed=3, **options)
    assert sorted(result.wrong) == sorted(wrong), result.report
    assert key in result.mistakes and check.MISTAKES[key].cause in result.report


def test_gru_catalogue_has_at_least_eight_named_mistakes_all_exercised():
    gru_keys = {k for k in check.MISTAKES if k.startswith("gru_")}
    assert len(gru_keys) >= 8
    assert gru_keys <= {c[1] for c in GRU_CASES}
    assert "dhT_ignored" in {c[1] for c in GRU_SEQ_CASES}


def test_gru_credit_per_part():
    result = check.check_gru_cell_backward(with_bug(student_gru_step, "direct_path_forgotten"))
    assert result.correct("reset_gate", "update_gate", "candidate", "dx")
    assert not result.correct("dh_prev")
    result = check.check_gru_cell_backward(with_bug(student_gru_step, "r_factor_missing"))
    assert result.correct("update_gate", "candidate") and not result.correct("reset_gate")


def test_mistake_variants_exist_only_where_the_mistake_can_be_made():
    """A full sweep's mistakes have no variant under truncation (its window loop has no such
    step), and truncation's mistakes none without it: no false diagnosis from either."""
    exercise = check.EXERCISES["lstm_backward"]
    truncated = exercise.make_inputs(np.random.default_rng(1), truncate=2)
    full = exercise.make_inputs(np.random.default_rng(1))
    for key in ("no_sum_over_time", "dc_not_carried", "dh_not_carried", "time_order_reversed"):
        assert exercise.reference(truncated, key) == {}
        assert set(exercise.reference(full, key)) == set(PARAMS) | {"dxs", "dh0", "dc0"}
    for key in ("truncate_ignored", "dxs_overwritten"):
        assert exercise.reference(full, key) == {}
        assert exercise.reference(truncated, key)
    for key in ("final_state_ignored", "final_state_swapped"):
        assert exercise.reference(full, key) == {}
    gru_seq = check.EXERCISES["gru_backward"]
    assert gru_seq.reference(gru_seq.make_inputs(np.random.default_rng(1)), "dhT_ignored") == {}
