"""The training loop, the progress bar and the two tasks (small budgets: a few seconds)."""

import re

import numpy as np
import pytest

from lstm_teach import datasets, train
from lstm_teach.optim import SGD


def test_sine_task_reaches_its_loss():
    result = train.train_sine(steps=150, hidden_size=8, seed=0, progress=False)
    assert len(result.losses) == 150
    assert result.losses[0] > 0.1
    assert np.mean(result.losses[-10:]) < 0.01
    xs, ys = datasets.sine_wave(T=50, B=4, seed=99)
    assert train.sine_loss(result.params, xs, ys) < 0.01  # on waves it never saw


def test_char_model_reaches_its_loss_and_its_samples_improve():
    result = train.train_chars(steps=300, hidden_size=32, seed=0, progress=False,
                               sample_at=(0, 300), sample_length=80)
    V = result.vocab.size
    assert abs(result.losses[0] - np.log(V)) < 0.1  # an untrained model guesses uniformly
    assert np.mean(result.losses[-10:]) < 2.2
    known = set(datasets.load_text().lower().split())

    def share_known(text):
        words = text.split()[1:]
        return sum(w in known for w in words) / max(len(words), 1)

    assert set(result.samples) == {0, 300}
    assert all(s.startswith("the ") and len(s) == 84 for s in result.samples.values())
    assert share_known(result.samples[300]) > share_known(result.samples[0]) + 0.2


def test_float32_training_keeps_float32():
    result = train.train_sine(steps=5, hidden_size=4, dtype=np.float32, progress=False)
    p, readout = result.params
    assert p.dtype == np.float32 and readout["wy"].dtype == np.float32


def test_char_loss_of_untrained_model_is_near_log_v():
    task = datasets.char_task(B=4)
    params = train.init_model(task.vocab.size, 8, task.vocab.size, seed=0)
    assert abs(train.char_loss(params, task, T=50) - np.log(task.vocab.size)) < 0.1


def test_sampling_is_seeded():
    task = datasets.char_task(B=4)
    params = train.init_model(task.vocab.size, 8, task.vocab.size, seed=0)
    a = train.sample_chars(params, task.vocab, prime="a fox", length=30, seed=1)
    b = train.sample_chars(params, task.vocab, prime="a fox", length=30, seed=1)
    c = train.sample_chars(params, task.vocab, prime="a fox", length=30, seed=2)
    assert a == b != c and a.startswith("a fox") and len(a) == 35
    assert set(a) <= set(task.vocab.chars)


def test_progress_bar_text_is_deterministic(capsys):
    bar = train.ProgressBar(50, label="demo", updates=5, width=10)
    for step in range(1, 51):
        bar.update(step, 1.0 / step)
    bar.close(0.02)
    out = capsys.readouterr().out
    # the elapsed time is the only part that changes from run to run
    masked = re.sub(r"\d+(\.\d+)?\s?s elapsed", "N s elapsed", out)
    assert masked == (
        "\rdemo [##........]  20% step 10/50  loss 0.1000"
        "\rdemo [####......]  40% step 20/50  loss 0.0500"
        "\rdemo [######....]  60% step 30/50  loss 0.0333"
        "\rdemo [########..]  80% step 40/50  loss 0.0250"
        "\rdemo [##########] 100% step 50/50  loss 0.0200  (N s elapsed)\n")


def test_fit_clips_steps_and_records_losses():
    """A quadratic: loss 1/2 |w|^2, gradient w; clipping caps every step at lr * max_norm."""
    w0 = {"w": np.array([30.0, 40.0])}  # norm 50

    def loss_and_grads(params, step):
        return 0.5 * float(params["w"] @ params["w"]), {"w": params["w"].copy()}

    calls = []
    params, losses, _ = train.fit(loss_and_grads, w0, SGD(lr=0.1), steps=3, clip=1.0,
                                  progress=False, callback=lambda s, p: calls.append(s))
    assert losses[0] == pytest.approx(1250.0)
    # each step moves 0.1 along -w/|w| (the clipped gradient has norm 1)
    assert np.allclose(params["w"], w0["w"] * (50 - 0.3) / 50)
    assert calls == [1, 2, 3] and np.array_equal(w0["w"], [30.0, 40.0])


def test_fit_stops_on_a_diverging_loss():
    def loss_and_grads(params, step):
        return float("nan"), params

    with pytest.raises(FloatingPointError, match="the loss became nan at step 0"):
        train.fit(loss_and_grads, {"w": np.ones(2)}, SGD(0.1), steps=2, progress=False)


@pytest.mark.parametrize("call, match", [
    (lambda: train.train_sine(steps=0), "steps must be an integer >= 1"),
    (lambda: train.ProgressBar(0), "total must be an integer >= 1"),
    (lambda: train.init_model(2, 3, 0), "output_size must be an integer >= 1"),
    (lambda: train.sample_chars(train.init_model(3, 2, 3), datasets.Vocab("abc"), prime=""),
     "prime must be a non-empty str"),
    (lambda: train.sample_chars(train.init_model(3, 2, 3), datasets.Vocab("abc"), prime="a",
                                temperature=0), "temperature must be positive"),
    (lambda: train.sample_chars(train.init_model(3, 2, 3), datasets.Vocab("abc"), prime="az"),
     "text must only use the vocabulary"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_two_layer_model_trains_on_the_fast_path():
    """num_layers=2: a stack trained with lstm_teach.fast, same gradients as the reference."""
    import lstm_teach as lt
    from lstm_teach import fast

    params = train.init_model(1, 6, 1, seed=3, num_layers=2)
    assert len(params[0]) == 2 and params[0][1].wxi.shape == (6, 6)
    xs, ys = datasets.sine_wave(T=12, B=3, seed=1)
    pred, hs, cache = train._model_forward(params, xs)
    assert cache.backend is fast
    _, dpred = lt.mse_loss(pred, ys, reduction="mean")
    grads, readout_grads = train._model_backward(dpred, params, hs, cache)
    _, ref_cache = lt.stack_forward(xs, params[0])
    dhs, _, _ = lt.linear_backward(dpred, hs, params[1]["wy"])
    ref = lt.stack_backward(dhs, ref_cache).params
    for layer, ref_layer in zip(grads, ref):
        assert all(np.allclose(a, b, rtol=0, atol=1e-13) for a, b in zip(layer, ref_layer))

    result = train.train_sine(steps=150, hidden_size=8, seed=0, progress=False, num_layers=2)
    assert result.losses[0] > 0.1 and np.mean(result.losses[-10:]) < 0.02


def test_two_layer_char_model_carries_its_state():
    result = train.train_chars(steps=3, hidden_size=8, seed=0, progress=False, num_layers=2,
                               sample_at=(3,), sample_length=10)
    assert len(result.params[0]) == 2 and len(result.samples[3]) == 14
    assert np.isfinite(train.char_loss(result.params, datasets.char_task(2), T=16))
