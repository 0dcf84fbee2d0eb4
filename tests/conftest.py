"""Shared helpers for the package tests."""

import numpy as np
import pytest

import lstm_teach as lt

# (T, B, I, H) for cross-checks: T = 1, B = 1, H = 1 and I != H among them
SHAPES = [
    (1, 1, 1, 1),
    (1, 3, 2, 4),
    (5, 1, 3, 2),
    (4, 2, 3, 1),
    (7, 3, 5, 4),
    (12, 4, 6, 8),
]


def random_problem(T=4, B=3, I=5, H=4, seed=0, dtype=np.float64):
    """Parameters with nonzero biases, inputs, a nonzero initial state and upstream gradients.

    Non-square shapes (I != H) and B > 1 so that a transposed weight or a missing batch sum
    cannot pass unnoticed.
    """
    rng = np.random.default_rng(seed)
    p = lt.init_params(I, H, seed=seed + 1, dtype=dtype)
    p = p.map(lambda a: (a + 0.1 * rng.standard_normal(a.shape)).astype(dtype))
    xs = rng.standard_normal((T, B, I)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    c0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    dhs = rng.standard_normal((T, B, H)).astype(dtype)
    return p, xs, h0, c0, dhs


@pytest.fixture
def problem():
    return random_problem()
