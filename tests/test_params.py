"""Step 1: the twelve parameters, their initialisation and their fused layout."""

import numpy as np
import pytest

import lstm_teach as lt


def test_twelve_named_arrays_in_torch_shapes():
    p = lt.init_params(input_size=3, hidden_size=5, seed=0)
    assert lt.LSTMParams._fields == ("wxi", "whi", "bi", "wxg", "whg", "bg",
                                     "wxf", "whf", "bf", "wxo", "who", "bo")
    for name, a in p._asdict().items():
        expected = {"wx": (5, 3), "wh": (5, 5)}.get(name[:2], (5,))
        assert a.shape == expected, name
        assert a.dtype == np.float64
    assert (p.input_size, p.hidden_size, p.dtype) == (3, 5, np.float64)


def test_seed_makes_parameters_reproducible():
    a, b, c = lt.init_params(2, 3, seed=7), lt.init_params(2, 3, seed=7), lt.init_params(2, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_uniform_scheme_is_torchs_range_and_forget_bias():
    H = 16
    p = lt.init_params(4, H, seed=1, forget_bias=1.0)
    bound = 1 / np.sqrt(H)
    for name, a in p._asdict().items():
        if name != "bf":
            assert np.all(np.abs(a) <= bound), name
    assert np.all(p.bf == 1.0)
    keep = lt.init_params(4, H, seed=1, forget_bias=None)
    assert np.all(np.abs(keep.bf) <= bound) and np.any(keep.bf != 0)


def test_orthogonal_scheme_has_orthogonal_recurrent_weights():
    p = lt.init_params(3, 6, seed=2, scheme="orthogonal")
    for w in (p.whi, p.whg, p.whf, p.who):
        assert np.allclose(w @ w.T, np.eye(6), atol=1e-12)
    assert np.all(p.bi == 0) and np.all(p.bf == 1.0)


def test_xavier_scheme_bounds():
    p = lt.init_params(3, 5, seed=3, scheme="xavier", forget_bias=0.0)
    assert np.all(np.abs(p.wxi) <= np.sqrt(6 / 8)) and np.all(np.abs(p.whi) <= np.sqrt(6 / 10))
    assert np.all(p.bf == 0.0)


def test_float32_parameters():
    p = lt.init_params(3, 4, dtype=np.float32)
    assert all(a.dtype == np.float32 for a in p)


def test_fused_layout_is_torchs_gate_order_and_round_trips():
    p = lt.init_params(3, 2, seed=5)
    wx, wh, b = lt.to_fused(p)
    assert wx.shape == (8, 3) and wh.shape == (8, 2) and b.shape == (8,)
    assert np.array_equal(wx[0:2], p.wxi) and np.array_equal(wx[2:4], p.wxf)
    assert np.array_equal(wx[4:6], p.wxg) and np.array_equal(wx[6:8], p.wxo)
    back = lt.from_fused(wx, wh, b)
    assert all(np.array_equal(x, y) for x, y in zip(p, back))
    wx[:] = 0  # from_fused copied: editing the fused array leaves the params alone
    assert np.any(back.wxi != 0)


def test_from_fused_messages():
    with pytest.raises(ValueError, match=r"wx must have shape \(4H, I\); got \(6, 3\)"):
        lt.from_fused(np.zeros((6, 3)), np.zeros((6, 6)), np.zeros(6))
    with pytest.raises(ValueError, match=r"wh must have shape \(8, 2\) .*; got \(8, 3\)"):
        lt.from_fused(np.zeros((8, 3)), np.zeros((8, 3)), np.zeros(8))


def test_helpers_of_lstmparams():
    p = lt.init_params(2, 3, seed=0)
    q = p.copy()
    q.wxi[0, 0] += 1
    assert p.wxi[0, 0] != q.wxi[0, 0]
    assert all(np.all(a == 0) for a in p.zeros_like())
    twice = p.map(lambda a, b: a + b, p)
    assert np.array_equal(twice.bo, 2 * p.bo)
    assert p.norm() == pytest.approx(np.sqrt(sum(np.sum(a**2) for a in p)))
    wx, wh, b = p.gate("f")
    assert wx is p.wxf and wh is p.whf and b is p.bf
    with pytest.raises(ValueError, match="gate must be one of"):
        p.gate("x")


def test_torch_is_imported_only_by_the_conversion():
    """torch is a test extra: the course runs without it until the cross-check is called."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, lstm_teach as lt\n"
            "p = lt.init_params(2, 3)\n"
            "hs, cache = lt.fast.lstm_forward(np.zeros((2, 1, 2)), p)\n"
            "lt.fast.lstm_backward(np.ones((2, 1, 3)), cache)\n"
            "assert 'torch' not in sys.modules, 'imported too early'\n"
            "lt.to_torch_state_dict(p)\n"
            "assert 'torch' in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
