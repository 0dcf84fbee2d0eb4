"""Losses: values, the gradient convention, and gradient checks."""

import numpy as np
import pytest

import lstm_teach as lt
from lstm_teach.gradcheck import numerical_gradient, relative_error


def test_mse_convention_gradient_is_h_minus_y():
    rng = np.random.default_rng(0)
    hs, ys = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 3))
    E, dhs = lt.mse_loss(hs, ys)
    assert E == pytest.approx(0.5 * np.sum((hs - ys) ** 2))
    assert np.allclose(dhs, hs - ys)
    numeric = numerical_gradient(lambda h: lt.mse_loss(h, ys)[0], hs)
    assert relative_error(dhs, numeric) < 1e-8
    E_mean, d_mean = lt.mse_loss(hs, ys, reduction="mean")
    assert E_mean == pytest.approx(E / hs.size) and np.allclose(d_mean, dhs / hs.size)


def test_the_seeds_e_delta_is_the_negative_gradient():
    hs, ys = np.array([[0.2, -0.4]]), np.array([[1.0, 1.0]])
    _, dhs = lt.mse_loss(hs, ys)
    seed_e_delta = ys - hs
    assert np.allclose(seed_e_delta, -dhs)
    # one step along -dE/dh lowers the loss; one along the seed's E_delta taken as a gradient
    # (h -= lr * E_delta) raises it
    assert lt.mse_loss(hs - 0.1 * dhs, ys)[0] < lt.mse_loss(hs, ys)[0]
    assert lt.mse_loss(hs - 0.1 * seed_e_delta, ys)[0] > lt.mse_loss(hs, ys)[0]


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_cross_entropy_value_and_gradient(reduction):
    rng = np.random.default_rng(1)
    logits, targets = rng.standard_normal((3, 2, 5)), rng.integers(0, 5, (3, 2))
    E, d = lt.softmax_cross_entropy(logits, targets, reduction=reduction)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = -np.sum(np.log(np.take_along_axis(probs, targets[..., None], -1)))
    assert E == pytest.approx(expected / (6 if reduction == "mean" else 1))
    numeric = numerical_gradient(lambda z: lt.softmax_cross_entropy(z, targets, reduction)[0],
                                 logits)
    assert relative_error(d, numeric) < 1e-8


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    E, d = lt.softmax_cross_entropy(np.array([[1e4, 0.0, -1e4]]), np.array([0]))
    assert E == pytest.approx(0.0) and np.all(np.isfinite(d))
    assert np.allclose(lt.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])


def test_linear_readout_gradients():
    rng = np.random.default_rng(2)
    hs, wy, by = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 4)), rng.normal(size=5)
    targets = rng.integers(0, 5, (3, 2))

    def loss(hs_, wy_, by_):
        return lt.softmax_cross_entropy(lt.linear_forward(hs_, wy_, by_), targets)[0]

    _, dlogits = lt.softmax_cross_entropy(lt.linear_forward(hs, wy, by), targets)
    dhs, dwy, dby = lt.linear_backward(dlogits, hs, wy)
    assert relative_error(dhs, numerical_gradient(lambda h: loss(h, wy, by), hs)) < 1e-8
    assert relative_error(dwy, numerical_gradient(lambda w: loss(hs, w, by), wy)) < 1e-8
    assert relative_error(dby, numerical_gradient(lambda b: loss(hs, wy, b), by)) < 1e-8
