"""Cross-check against torch.nn.LSTM's autograd in float64: outputs and every gradient."""

import numpy as np
import pytest
import torch
from conftest import SHAPES, random_problem

import lstm_teach as lt
from lstm_teach import fast

IMPLEMENTATIONS = {"reference": lt, "fast": fast}  # the same signatures, the same numbers



def torch_reference(p, xs, h0, c0, dhs, dhT, dcT):
    """Outputs and gradients of torch.nn.LSTM for E = sum(hs * dhs) + sum(h_T * dhT)
    + sum(c_T * dcT): (hs, c_T, grads as LSTMParams, dxs, dh0, dc0)."""
    lstm = torch.nn.LSTM(p.input_size, p.hidden_size).double()
    lstm.load_state_dict(lt.to_torch_state_dict(p))
    x = torch.from_numpy(xs.copy()).requires_grad_(True)
    h = torch.from_numpy(h0.copy())[None].requires_grad_(True)
    c = torch.from_numpy(c0.copy())[None].requires_grad_(True)
    out, (h_last, c_last) = lstm(x, (h, c))
    ((out * torch.from_numpy(dhs.copy())).sum() + (h_last[0] * torch.from_numpy(dhT)).sum()
     + (c_last[0] * torch.from_numpy(dcT)).sum()).backward()
    sd = {k: v.grad.numpy() for k, v in lstm.named_parameters()}
    assert max_diff(sd["bias_ih_l0"], sd["bias_hh_l0"]) < 1e-13  # two biases, one gradient
    grads = lt.from_fused(sd["weight_ih_l0"], sd["weight_hh_l0"], sd["bias_ih_l0"])
    return (out.detach().numpy(), c_last.detach().numpy()[0], grads, x.grad.numpy(),
            h.grad.numpy()[0], c.grad.numpy()[0])


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.mark.parametrize("final", [False, True], ids=["no-dhT", "dhT-dcT"])
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}-B{}-I{}-H{}".format(*s))
def test_matches_torch_autograd(shape, impl, final):
    """Every output and gradient, dxs and the final state's gradients (dhT, dcT) included."""
    T, B, I, H = shape
    p, xs, h0, c0, dhs = random_problem(T, B, I, H, seed=sum(shape))
    rng = np.random.default_rng(2)
    dhT, dcT = (rng.standard_normal((B, H)) * final for _ in range(2))
    out, c_last, t_grads, t_dxs, t_dh0, t_dc0 = torch_reference(p, xs, h0, c0, dhs, dhT, dcT)
    hs, cache = IMPLEMENTATIONS[impl].lstm_forward(xs, p, h0, c0)
    grads, dxs, dh0, dc0 = IMPLEMENTATIONS[impl].lstm_backward(
        dhs.copy(), cache, dhT=dhT.copy() if final else None, dcT=dcT.copy() if final else None)
    assert max_diff(hs, out) < 1e-10
    assert max_diff(cache.cs[-1], c_last) < 1e-10
    for name in lt.LSTMParams._fields:
        assert max_diff(getattr(grads, name), getattr(t_grads, name)) < 1e-10, name
    assert max_diff(dxs, t_dxs) < 1e-10
    assert max_diff(dh0, t_dh0) < 1e-10
    assert max_diff(dc0, t_dc0) < 1e-10


def test_state_dict_round_trip():
    p = lt.init_params(3, 5, seed=4)
    lstm = torch.nn.LSTM(3, 5).double()
    lstm.load_state_dict(lt.to_torch_state_dict(p))
    back = lt.from_torch_state_dict(lstm.state_dict())
    for a, b in zip(p, back):
        assert np.array_equal(a, b)


def test_from_torch_sums_the_two_biases():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 3).double()
    p = lt.from_torch_state_dict(lstm.state_dict())
    sd = lstm.state_dict()
    b = (sd["bias_ih_l0"] + sd["bias_hh_l0"]).numpy()
    assert np.allclose(np.concatenate([p.bi, p.bf, p.bg, p.bo]), b)
    xs = np.random.default_rng(0).standard_normal((4, 2, 2))
    hs, _ = lt.lstm_forward(xs, p)
    out, _ = lstm(torch.from_numpy(xs))
    assert max_diff(hs, out.detach().numpy()) < 1e-12


def test_from_torch_rejects_a_wrong_state_dict():
    with pytest.raises(ValueError, match="weight_ih_l0"):
        lt.from_torch_state_dict({"weight": np.zeros((4, 2))})
