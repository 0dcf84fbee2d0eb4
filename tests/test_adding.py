"""The adding problem (datasets.adding_problem) and its training helpers in lstm_teach.train."""

import numpy as np
import pytest

from lstm_teach import datasets, optim, train
from lstm_teach.gradcheck import numerical_gradient, relative_error
from lstm_teach.params import LSTMParams

# ------------------------------------------------------------------------ the data


def test_adding_problem_has_two_markers_one_per_half_and_their_sum_as_target():
    T, B = 12, 50
    xs, ys = datasets.adding_problem(T, B, seed=3)
    assert xs.shape == (T, B, 2) and ys.shape == (B, 1) and xs.dtype == np.float64
    values, markers = xs[..., 0], xs[..., 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers[: T // 2].sum(axis=0) == 1) and np.all(markers[T // 2:].sum(axis=0) == 1)
    np.testing.assert_allclose(ys[:, 0], (values * markers).sum(axis=0), rtol=1e-15)


def test_adding_problem_is_seeded_and_keeps_its_dtype():
    a = datasets.adding_problem(8, 4, seed=1, dtype=np.float32)
    b = datasets.adding_problem(8, 4, seed=1, dtype=np.float32)
    c = datasets.adding_problem(8, 4, seed=2, dtype=np.float32)
    assert all(x.dtype == np.float32 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_always_answering_the_mean_scores_one_sixth():
    _, ys = datasets.adding_problem(20, 200_000, seed=0)
    assert abs(np.mean((ys - 1.0) ** 2) - 1 / 6) < 0.003


@pytest.mark.parametrize("kwargs, match", [
    ({"T": 1}, "T must be an integer >= 2"),
    ({"T": 10, "B": 0}, "B must be"),
    ({"T": 10, "dtype": np.int32}, "dtype must be"),
])
def test_adding_problem_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.adding_problem(**kwargs)


# ------------------------------------------------------------------------ the models


@pytest.mark.parametrize("model", ["lstm", "rnn"])
def test_both_models_start_with_orthogonal_recurrent_weights(model):
    core, readout = train.init_adding_model(model, hidden_size=6, seed=0, dtype=np.float64)
    if model == "lstm":
        assert isinstance(core, LSTMParams)
        whs = [core.whi, core.whf, core.whg, core.who]
        assert np.all(core.bf == 1.0) and not np.any(core.bi) and not np.any(core.bo)
    else:
        wx, wh, b = core
        whs = [wh]
        assert wx.shape == (6, 2) and not np.any(b)
    for wh in whs:
        np.testing.assert_allclose(wh.T @ wh, np.eye(6), atol=1e-12)
    assert readout["wy"].shape == (1, 6) and readout["by"].shape == (1,)


def test_init_adding_model_rejects_an_unknown_model():
    with pytest.raises(ValueError, match="model must be 'lstm' or 'rnn'; got 'gru'"):
        train.init_adding_model("gru")


def _with_nonzero_biases(params, rng):
    # The start has zero biases; a gradient check must exercise them.
    core, readout = params
    if isinstance(core, LSTMParams):
        core = core._replace(**{b: rng.uniform(-0.5, 0.5, core.bi.shape)
                                for b in ("bi", "bg", "bf", "bo")})
    else:
        core = (core[0], core[1], rng.uniform(-0.5, 0.5, core[2].shape))
    return core, {"wy": readout["wy"], "by": np.array([0.3])}


@pytest.mark.parametrize("model", ["lstm", "rnn"])
def test_adding_gradients_match_central_differences(model):
    rng = np.random.default_rng(0)
    params = _with_nonzero_biases(train.init_adding_model(model, 3, seed=1, dtype=np.float64), rng)
    xs, ys = datasets.adding_problem(5, 3, seed=2)
    before = [a.copy() for a in optim.leaves(params)]
    loss, grads = train.adding_loss_and_grads(params, xs, ys)
    assert all(np.array_equal(a, b) for a, b in zip(optim.leaves(params), before))  # not written
    pred = train._adding_forward(params, xs)[0]
    assert np.isclose(loss, np.mean((pred - ys) ** 2))
    leaves, analytic = optim.leaves(params), optim.leaves(grads)
    assert len(leaves) == len(analytic)
    for k, (leaf, g) in enumerate(zip(leaves, analytic)):
        def f(x, k=k):
            changed = [x if j == k else a for j, a in enumerate(optim.leaves(params))]
            it = iter(changed)
            rebuilt = optim.tree_map(lambda _: next(it), params)
            return train.adding_loss_and_grads(rebuilt, xs, ys)[0]
        numeric = numerical_gradient(f, leaf, eps=1e-3, order=4)
        assert relative_error(g, numeric) < 1e-7, (model, k)


def test_adding_mse_of_a_constant_answer_is_about_one_sixth():
    core, readout = train.init_adding_model("lstm", 4, seed=0, dtype=np.float64)
    constant = (core, {"wy": np.zeros((1, 4)), "by": np.array([1.0])})
    assert abs(train.adding_mse(constant, T=10, n=20_000) - 1 / 6) < 0.01


# ------------------------------------------------------------------------ training


def test_an_lstm_learns_the_adding_problem_at_a_short_length():
    result = train.train_adding("lstm", T=10, steps=300, hidden_size=8, seed=0, progress=False)
    assert len(result.losses) == 300 and np.mean(result.losses[:20]) > 0.1
    assert train.adding_mse(result.params, T=10) < (1 / 6) / 10


def test_train_adding_keeps_float32_for_the_rnn():
    result = train.train_adding("rnn", T=6, steps=3, hidden_size=4, seed=0, progress=False)
    core, readout = result.params
    assert len(result.losses) == 3
    assert all(a.dtype == np.float32 for a in (*core, *readout.values()))


def test_train_chars_calls_its_callback_before_and_after_every_step():
    # notebook 10 measures the held-out loss through this callback
    seen = []
    train.train_chars(steps=3, hidden_size=4, seed=0, progress=False,
                      callback=lambda step, params: seen.append((step, len(params))))
    assert seen == [(0, 2), (1, 2), (2, 2), (3, 2)]
