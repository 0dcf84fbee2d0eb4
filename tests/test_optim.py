"""Optimisers and clipping against steps computed by hand."""

import numpy as np
import pytest

import lstm_teach as lt
from lstm_teach.optim import SGD, Adam, clip_by_global_norm, global_norm, tree_map


def small_params():
    """An LSTMParams with H = 1, I = 1 (12 scalars) and a read-out dict."""
    p = lt.LSTMParams(*(np.array([[0.5 + k]]) if f[0] == "w" else np.array([0.1 * k])
                        for k, f in enumerate(lt.LSTMParams._fields)))
    return p, {"wy": np.array([[1.0, -2.0]]), "by": np.array([0.25])}


def test_sgd_step_by_hand():
    w = {"a": np.array([1.0, 2.0]), "b": np.array([[3.0]])}
    g = {"a": np.array([0.5, -1.0]), "b": np.array([[2.0]])}
    new = SGD(lr=0.1).step(w, g)
    assert np.allclose(new["a"], [0.95, 2.1]) and np.allclose(new["b"], [[2.8]])
    assert np.array_equal(w["a"], [1.0, 2.0]) and np.array_equal(g["a"], [0.5, -1.0])


def test_sgd_momentum_by_hand():
    opt = SGD(lr=0.5, momentum=0.9)
    w = {"a": np.array([1.0])}
    w = opt.step(w, {"a": np.array([2.0])})  # v = 2, w = 1 - 1 = 0
    assert np.allclose(w["a"], [0.0])
    w = opt.step(w, {"a": np.array([1.0])})  # v = 0.9 * 2 + 1 = 2.8, w = 0 - 1.4
    assert np.allclose(w["a"], [-1.4])


def test_adam_first_two_steps_by_hand():
    opt = Adam(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    w = {"a": np.array([1.0, -1.0])}
    g1 = {"a": np.array([2.0, -0.5])}
    w1 = opt.step(w, g1)
    # step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps) ~ lr * sign(g)
    assert np.allclose(w1["a"], [1.0 - 0.1 * 2 / (2 + 1e-8), -1.0 + 0.1 * 0.5 / (0.5 + 1e-8)])
    g2 = {"a": np.array([1.0, 1.0])}
    w2 = opt.step(w1, g2)
    m = 0.9 * 0.1 * np.array([2.0, -0.5]) + 0.1 * np.array([1.0, 1.0])
    v = 0.999 * 0.001 * np.array([4.0, 0.25]) + 0.001 * np.array([1.0, 1.0])
    m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.999 ** 2)
    assert np.allclose(w2["a"], w1["a"] - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)


def test_optimisers_work_on_lstm_params_and_readout_and_keep_dtype():
    p, readout = small_params()
    p32 = p.astype(np.float32)
    for opt in (SGD(0.1), SGD(0.1, momentum=0.5), Adam(0.01)):
        new_p, new_r = opt.step((p, readout), (p.map(np.ones_like), tree_map(np.ones_like,
                                                                             readout)))
        assert isinstance(new_p, lt.LSTMParams)
        assert new_p.wxi.shape == p.wxi.shape and set(new_r) == {"wy", "by"}
        assert np.all(new_p.wxi < p.wxi) and np.all(new_r["wy"] < readout["wy"])
        new32 = type(opt)(0.1).step(p32, p32.map(np.ones_like))
        assert all(a.dtype == np.float32 for a in new32)


def test_optimisers_do_not_modify_their_arguments():
    p, readout = small_params()
    grads = (p.map(lambda a: a * 0 + 0.3), tree_map(lambda a: a * 0 - 0.2, readout))
    before = [a.copy() for a in (*p, *readout.values(), *grads[0], *grads[1].values())]
    for opt in (SGD(0.1), SGD(0.1, momentum=0.9), Adam(0.1)):
        opt.step((p, readout), grads)
        opt.step((p, readout), grads)
    after = [*p, *readout.values(), *grads[0], *grads[1].values()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_global_norm_and_clipping_by_hand():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert global_norm(grads) == pytest.approx(5.0)
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    assert np.allclose(clipped["a"], [0.6, 0.0]) and np.allclose(clipped["b"], [[0.8]])
    assert global_norm(clipped) == pytest.approx(1.0)
    assert np.array_equal(grads["a"], [3.0, 0.0])  # the caller's arrays are untouched
    same, norm = clip_by_global_norm(grads, 10.0)  # below the threshold: unchanged copies
    assert norm == pytest.approx(5.0) and np.array_equal(same["b"], grads["b"])
    assert same["b"] is not grads["b"]


def test_clipping_keeps_the_direction_of_lstm_gradients():
    p, _ = small_params()
    clipped, norm = clip_by_global_norm(p, 0.5)
    assert norm == pytest.approx(p.norm())
    ratios = [float((c / a).ravel()[0]) for c, a in zip(clipped, p) if np.all(a != 0)]
    assert np.allclose(ratios, 0.5 / norm)


@pytest.mark.parametrize("call, match", [
    (lambda: SGD(lr=0), "lr must be a positive number"),
    (lambda: SGD(lr=0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
    (lambda: Adam(lr=-1), "lr must be a positive number"),
    (lambda: Adam(beta2=1.0), r"beta2 must be in \[0, 1\)"),
    (lambda: clip_by_global_norm({"a": np.ones(2)}, 0), "max_norm must be a positive number"),
    (lambda: clip_by_global_norm({"a": np.array([np.inf])}, 1.0), "gradients must be finite"),
    (lambda: SGD(0.1).step({"a": np.ones(2)}, {"b": np.ones(2)}), "must have the same keys"),
    (lambda: SGD(0.1).step({"a": np.ones(2)}, {"a": np.ones(3)}), r"parameter's shape \(2,\)"),
    (lambda: SGD(0.1).step({"a": [1.0]}, {"a": [1.0]}), "parameters must be numpy arrays"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_clipping_keeps_any_namedtuple():
    from lstm_teach import rnn

    grads = rnn.RNNGrads(np.full((2, 2), 3.0), np.full((2, 2), 4.0), np.ones(2))
    clipped, norm = clip_by_global_norm(grads, max_norm=1.0)
    assert isinstance(clipped, rnn.RNNGrads)
    assert norm == pytest.approx(np.sqrt(4 * 9 + 4 * 16 + 2))
    assert global_norm(clipped) == pytest.approx(1.0)
    assert np.all(grads.dwx == 3.0)
