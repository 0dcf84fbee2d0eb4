"""lstm_teach.stack against torch.nn.LSTM(num_layers=L, bidirectional=...) and central
differences, for the reference and the fast backend."""

import numpy as np
import pytest
from conftest import SHAPES

import lstm_teach as lt
from lstm_teach import fast
from lstm_teach.gradcheck import check_stack

torch = pytest.importorskip("torch")
CONFIGS = [(2, False), (1, True), (3, True)]  # (num_layers, bidirectional)
BACKENDS = {"reference": None, "fast": fast}


def stack_problem(T, B, I, H, L, bidirectional, seed=0):
    """A stack with every array perturbed (nonzero biases), inputs, states, upstream grads."""
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(seed)
    layers = lt.init_stack(I, H, L, bidirectional, seed=seed + 1)
    layers = tuple(tuple(q.map(lambda a: a + 0.1 * rng.standard_normal(a.shape)) for q in lay)
                   if bidirectional else lay.map(lambda a: a + 0.1 * rng.standard_normal(a.shape))
                   for lay in layers)
    xs = rng.standard_normal((T, B, I))
    h0, c0, dhn, dcn = (0.5 * rng.standard_normal((L * D, B, H)) for _ in range(4))
    dhs = rng.standard_normal((T, B, D * H))
    return layers, xs, h0, c0, dhs, dhn, dcn


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def torch_lstm(layers, L, bidirectional):
    p = layers[0] if not bidirectional else layers[0][0]
    module = torch.nn.LSTM(p.input_size, p.hidden_size, num_layers=L,
                           bidirectional=bidirectional).double()
    module.load_state_dict({k: torch.from_numpy(v)
                            for k, v in lt.stack_to_torch_state_dict(layers).items()})
    return module


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"L{c[0]}-{'bi' if c[1] else 'uni'}")
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[2], SHAPES[4]],
                         ids=lambda s: "T{}-B{}-I{}-H{}".format(*s))
def test_matches_torch_autograd(shape, config, backend):
    L, bidirectional = config
    layers, xs, h0, c0, dhs, dhn, dcn = stack_problem(*shape, L, bidirectional, seed=sum(shape))
    module = torch_lstm(layers, L, bidirectional)
    x, h, c = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (xs, h0, c0))
    out, (hn, cn) = module(x, (h, c))
    loss = ((out * torch.from_numpy(dhs)).sum() + (hn * torch.from_numpy(dhn)).sum()
            + (cn * torch.from_numpy(dcn)).sum())
    loss.backward()

    hs, cache = lt.stack_forward(xs, layers, h0, c0, backend=BACKENDS[backend])
    grads, dxs, dh0, dc0 = lt.stack_backward(dhs.copy(), cache, dhn.copy(), dcn.copy())
    assert max_diff(hs, out.detach().numpy()) < 1e-10
    assert max_diff(cache.hn, hn.detach().numpy()) < 1e-10
    assert max_diff(cache.cn, cn.detach().numpy()) < 1e-10
    assert max_diff(dxs, x.grad.numpy()) < 1e-10
    assert max_diff(dh0, h.grad.numpy()) < 1e-10
    assert max_diff(dc0, c.grad.numpy()) < 1e-10
    ours = lt.stack_to_torch_state_dict(grads, gradient=True)
    assert set(ours) == {name for name, _ in module.named_parameters()}
    for name, param in module.named_parameters():
        assert max_diff(ours[name], param.grad.numpy()) < 1e-10, name


@pytest.mark.parametrize("config, backend", [((2, False), None), ((1, True), None),
                                             ((2, True), fast)],
                         ids=["L2-uni-reference", "L1-bi-reference", "L2-bi-fast"])
def test_matches_central_differences(config, backend):
    layers, xs, h0, c0, *_ = stack_problem(3, 2, 2, 2, *config, seed=3)
    report = check_stack(layers, xs, h0, c0, seed=1, eps=1e-6, order=2, backend=backend)
    assert report.max_error < 1e-7, str(report)
    assert {"xs", "h0", "c0", "l0.wxi", f"l{config[0] - 1}.bo"} <= set(report.errors)
    assert ("l0_reverse.whf" in report.errors) == config[1]


def test_gradcheck_catches_a_dropped_direction(monkeypatch):
    """Forget the reverse direction's share of dxs: the check of a bidirectional stack fails."""
    layers, xs, h0, c0, *_ = stack_problem(2, 1, 2, 2, 1, True, seed=4)
    real = lt.stack.stack_backward

    def only_forward_dxs(dhs, cache, dhn=None, dcn=None):
        half = dhs.copy()
        half[..., 2:] = 0  # the reverse direction gets no gradient
        return real(half, cache, dhn, dcn)

    monkeypatch.setattr(lt.stack, "stack_backward", only_forward_dxs)
    assert check_stack(layers, xs, h0, c0, eps=1e-6, order=2, backend=fast).max_error > 1e-3


def test_torch_initialisation_into_ours():
    """torch's own random init (nonzero bias_hh) read into our layers gives torch's outputs."""
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    layers = lt.stack_from_torch_state_dict(module.state_dict(), 2, bidirectional=True)
    assert len(layers) == 2 and all(len(layer) == 2 for layer in layers)
    assert layers[1][0].wxi.shape == (4, 8)
    xs = np.random.default_rng(0).standard_normal((5, 2, 3))
    hs, cache = lt.stack_forward(xs, layers)
    out, (hn, cn) = module(torch.from_numpy(xs))
    assert max_diff(hs, out.detach().numpy()) < 1e-14
    assert max_diff(cache.cn, cn.detach().numpy()) < 1e-14


def test_state_dict_round_trip_and_layout():
    layers = lt.init_stack(3, 4, num_layers=2, bidirectional=True, seed=2)
    sd = lt.stack_to_torch_state_dict(layers)
    assert sd["weight_ih_l1_reverse"].shape == (16, 8) and not np.any(sd["bias_hh_l0"])
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    back = lt.stack_from_torch_state_dict(sd, 2, bidirectional=True)
    for layer, again in zip(layers, back):
        for p, q in zip(layer, again):
            assert all(np.array_equal(a, b) for a, b in zip(p, q))
    with pytest.raises(ValueError, match="weight_ih_l2"):
        lt.stack_from_torch_state_dict(sd, 3, bidirectional=True)


def test_init_stack_shapes():
    uni = lt.init_stack(5, 3, num_layers=3)
    assert len(uni) == 3 and all(isinstance(p, lt.LSTMParams) for p in uni)
    assert [p.wxi.shape for p in uni] == [(3, 5), (3, 3), (3, 3)]
    bi = lt.init_stack(5, 3, num_layers=2, bidirectional=True, dtype=np.float32)
    assert [q.wxi.shape for layer in bi for q in layer] == [(3, 5), (3, 5), (3, 6), (3, 6)]
    assert bi[0][0].dtype == np.float32
    assert not np.array_equal(bi[0][0].wxi, bi[0][1].wxi)  # the two directions differ


def test_one_layer_is_lstm_forward():
    layers, xs, h0, c0, dhs, _, _ = stack_problem(4, 2, 3, 5, 1, False, seed=6)
    hs, cache = lt.stack_forward(xs, layers, h0[None, 0], c0[None, 0])
    ref, ref_cache = lt.lstm_forward(xs, layers[0], h0[0], c0[0])
    assert np.array_equal(hs, ref)
    got, want = lt.stack_backward(dhs[..., :5], cache), lt.lstm_backward(dhs[..., :5], ref_cache)
    assert all(np.array_equal(a, b) for a, b in zip(got.params[0], want.params))
    assert np.array_equal(got.dxs, want.dxs) and np.array_equal(got.dh0[0], want.dh0)


def test_returned_arrays_are_the_callers_own():
    layers, xs, h0, c0, dhs, _, _ = stack_problem(4, 2, 3, 5, 2, True, seed=7)
    for backend in BACKENDS.values():
        hs, cache = lt.stack_forward(xs, layers, h0, c0, backend=backend)
        ys = np.ones_like(hs)
        expected = lt.stack_backward(hs - ys, cache)
        d = hs
        d -= ys
        got = lt.stack_backward(d, cache)
        assert np.array_equal(expected.dxs, got.dxs)
        assert np.array_equal(expected.params[0][1].whf, got.params[0][1].whf)


@pytest.mark.parametrize("call, match", [
    (lambda layers, xs: lt.stack_forward(xs, layers[0][0]), r"layers must be a non-empty tuple"),
    (lambda layers, xs: lt.stack_forward(xs, (layers[0], layers[1][0])),
     r"layers\[1\] must be a \(forward, reverse\) pair"),
    (lambda layers, xs: lt.stack_forward(xs, (layers[0], (layers[0][0], layers[1][1]))),
     r"layers\[1\]\[0\].wxi must have shape \(4, 8\)"),
    (lambda layers, xs: lt.stack_forward(xs[..., :2], layers), r"xs must have shape \(T, B, 3\)"),
    (lambda layers, xs: lt.stack_forward(xs, layers, h0=np.zeros((2, 2, 4))),
     r"h0 must have shape \(4, 2, 4\)"),
    (lambda layers, xs: lt.stack_backward(np.zeros((5, 2, 4)), lt.stack_forward(xs, layers)[1]),
     r"dhs must have shape \(5, 2, 8\)"),
    (lambda layers, xs: lt.stack_backward(np.zeros((5, 2, 8)), None), r"cache must be the"),
    (lambda layers, xs: lt.stack_from_torch_state_dict({}, 0), r"num_layers must be an integer"),
])
def test_bad_input_is_named(call, match):
    layers = lt.init_stack(3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=match):
        call(layers, np.zeros((5, 2, 3)))
