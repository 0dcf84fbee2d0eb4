"""Layers: what torch.nn.LSTM(num_layers=L, bidirectional=...) computes, built from sequence.py.

A stack feeds the hidden states of one layer, as a sequence, into the next: layer 0 reads
xs (T, B, I), layer l > 0 reads the (T, B, D*H) output of layer l-1. A bidirectional layer
(D = 2) runs a second LSTM with its own parameters over the time-reversed sequence and
concatenates the two hidden states at each step, forward first: h_t = [h_t_fwd, h_t_rev].

Backward, the same in reverse: the gradient of the top output is split between the two
directions (the reverse one time-reversed again), each direction is an ordinary BPTT, and
the dxs of the two directions, which read the same input, are added: that sum is the dhs of
the layer below. This is why lstm_backward returns dxs.

Shapes and order as torch: h0, c0 and the final states hn, cn are (L*D, B, H), entry l*D + d
for layer l and direction d (0 forward, 1 reverse).
"""

from typing import NamedTuple

import numpy as np

from . import sequence
from ._validate import check_array, check_int
from .params import LSTMParams, check_params, from_fused, init_params, to_fused


def init_stack(input_size: int, hidden_size: int, num_layers: int = 1,
               bidirectional: bool = False, seed: int = 0, dtype=np.float64) -> tuple:
    """Parameters of an L-layer stack: a tuple of L layers, each an LSTMParams, or a
    (forward, reverse) pair of LSTMParams when bidirectional.

    Layer 0 reads input_size inputs, later layers hidden_size (one direction) or
    2 * hidden_size (bidirectional). Each LSTM is init_params(..., seed=seed + its index
    l*D + d): torch's uniform draw, forget-gate bias 1.
    """
    I = check_int("input_size", input_size)
    H = check_int("hidden_size", hidden_size)
    L = check_int("num_layers", num_layers)
    D = 2 if bidirectional else 1
    layers = []
    for layer in range(L):
        inputs = I if layer == 0 else D * H
        pair = tuple(init_params(inputs, H, seed=seed + layer * D + d, dtype=dtype)
                     for d in range(D))
        layers.append(pair if bidirectional else pair[0])
    return tuple(layers)


def _directions(layer) -> tuple:
    """(p,) for a one-direction layer, (p_forward, p_reverse) for a bidirectional one."""
    return (layer,) if isinstance(layer, LSTMParams) else tuple(layer)


def sizes(layers) -> tuple:
    """(L, D, I, H) of a checked stack: layers, directions, input size, hidden size."""
    first = _directions(layers[0])[0]
    return len(layers), len(_directions(layers[0])), first.input_size, first.hidden_size


def check_stack(layers, name: str = "layers") -> tuple:
    """Check a stack's structure and shapes; return it with plain ndarrays (use the result)."""
    if isinstance(layers, LSTMParams) or not isinstance(layers, (tuple, list)) or not layers:
        raise ValueError(f"{name} must be a non-empty tuple of layers (LSTMParams, or "
                         f"(forward, reverse) pairs of LSTMParams); got {type(layers).__name__}")
    first = layers[0]
    D = 1 if isinstance(first, LSTMParams) else 2
    I, H, dtype = None, None, None
    checked = []
    for k, layer in enumerate(layers):
        if D == 1 and not isinstance(layer, LSTMParams) or D == 2 and not (
                isinstance(layer, (tuple, list)) and len(layer) == 2
                and all(isinstance(q, LSTMParams) for q in layer)):
            kind = "an LSTMParams" if D == 1 else "a (forward, reverse) pair of LSTMParams"
            raise ValueError(f"{name}[{k}] must be {kind} like {name}[0]; got "
                             f"{type(layer).__name__}")
        pair = []
        for d, p in enumerate(_directions(layer)):
            where = f"{name}[{k}]" + (f"[{d}]" if D == 2 else "")
            p = check_params(p, where)
            pair.append(p)
            if H is None:
                I, H, dtype = p.input_size, p.hidden_size, p.dtype
            inputs = I if k == 0 else D * H
            if p.wxi.shape != (H, inputs) or p.dtype != dtype:
                raise ValueError(
                    f"{where}.wxi must have shape {(H, inputs)} and dtype {dtype} (layer "
                    f"{k} reads {'the input' if k == 0 else f'{D} x {H} hidden units'}); "
                    f"got {p.wxi.shape} {p.dtype}")
        checked.append(pair[0] if D == 1 else tuple(pair))
    return tuple(checked)


class StackCache(NamedTuple):
    """What stack_backward needs: caches[l][d], the cache of layer l, direction d (on the
    time-reversed sequence for d = 1); hn, cn (L*D, B, H): the final states, torch's order
    (for d = 1 the state after reading the sequence backwards, i.e. at t = 0); layers; and
    backend, the module whose lstm_forward / lstm_backward ran each layer."""

    caches: tuple
    hn: np.ndarray
    cn: np.ndarray
    layers: tuple
    backend: object


class StackGrads(NamedTuple):
    """What stack_backward returns: params (the structure of layers, gradients),
    dxs (T, B, I), dh0 and dc0 (L*D, B, H)."""

    params: tuple
    dxs: np.ndarray
    dh0: np.ndarray
    dc0: np.ndarray


def _states(name, value, L, D, B, H, dtype):
    if value is None:
        return np.zeros((L * D, B, H), dtype)
    return check_array(name, value, (L * D, B, H), dtype=dtype,
                       why=f"(num_layers * directions, B, H) for {L} layer(s), {D} direction(s)")


def stack_forward(xs, layers, h0=None, c0=None, backend=None):
    """Run the stack over a sequence.

    xs (T, B, I); layers from init_stack; h0, c0 (L*D, B, H) or None for zeros.
    backend: a module with lstm_forward / lstm_backward (default lstm_teach.sequence; pass
    lstm_teach.fast to train faster; stack_backward uses the same one).
    Returns hs (T, B, D*H), the top layer's hidden states (the caller's own array), and a
    StackCache (cache.hn, cache.cn (L*D, B, H): the final states, as torch's (h_n, c_n)).
    """
    layers = check_stack(layers)
    L, D, I, H = sizes(layers)
    backend = sequence if backend is None else backend
    dtype = _directions(layers[0])[0].dtype
    xs = check_array("xs", xs, ("T", "B", I), dtype=dtype,
                     why=f"to match layers[0]'s input size {I}")
    B = xs.shape[1]
    h0, c0 = (_states(n, v, L, D, B, H, dtype) for n, v in (("h0", h0), ("c0", c0)))
    caches, hn, cn, inputs = [], [], [], xs
    for k, layer in enumerate(layers):
        outs, layer_caches = [], []
        for d, p in enumerate(_directions(layer)):
            seq = inputs if d == 0 else inputs[::-1]  # the reverse LSTM reads t = T-1 first
            hs, cache = backend.lstm_forward(seq, p, h0[k * D + d], c0[k * D + d])
            outs.append(hs if d == 0 else hs[::-1])
            layer_caches.append(cache)
            hn.append(cache.hs[-1])
            cn.append(cache.cs[-1])
        inputs = outs[0] if D == 1 else np.concatenate(outs, axis=-1)
        caches.append(tuple(layer_caches))
    return inputs, StackCache(tuple(caches), np.stack(hn), np.stack(cn), tuple(layers), backend)


def stack_backward(dhs, cache: StackCache, dhn=None, dcn=None) -> StackGrads:
    """Backpropagation through the stack.

    dhs (T, B, D*H): dE/dh_t of the top layer's output at every t; cache from stack_forward;
    dhn, dcn (L*D, B, H) or None (zeros): gradients arriving into the final states (from the
    next chunk of a long sequence, or from a loss on torch's h_n).
    Returns StackGrads(params, dxs (T, B, I), dh0, dc0 (L*D, B, H)); params has the structure
    of layers.
    """
    if not isinstance(cache, StackCache):
        raise ValueError("cache must be the StackCache returned by stack_forward; "
                         f"got {type(cache).__name__}")
    L, D, B, H = len(cache.layers), cache.hn.shape[0] // len(cache.layers), *cache.hn.shape[1:]
    first = cache.caches[-1][0]
    T = first.hs.shape[0]
    dtype = cache.hn.dtype
    dhs = check_array("dhs", dhs, (T, B, D * H), dtype=dtype,
                      why=f"to match the stack's output {(T, B, D * H)}")
    dhn, dcn = (_states(n, v, L, D, B, H, dtype) for n, v in (("dhn", dhn), ("dcn", dcn)))
    grads, dh0, dc0 = [None] * L, [None] * (L * D), [None] * (L * D)
    dout = dhs
    for k in reversed(range(L)):
        layer_grads, dxs = [], 0
        for d, layer_cache in enumerate(cache.caches[k]):
            part = dout[..., d * H:(d + 1) * H]
            g = cache.backend.lstm_backward(part if d == 0 else part[::-1], layer_cache,
                                            dhT=dhn[k * D + d], dcT=dcn[k * D + d])
            layer_grads.append(g.params)
            dxs = dxs + (g.dxs if d == 0 else g.dxs[::-1])  # both directions read this input
            dh0[k * D + d], dc0[k * D + d] = g.dh0, g.dc0
        grads[k] = layer_grads[0] if D == 1 else tuple(layer_grads)
        dout = dxs
    return StackGrads(tuple(grads), dout, np.stack(dh0), np.stack(dc0))


# ------------------------------------------------------------------------ torch's layout

def _suffix(layer: int, direction: int) -> str:
    return f"l{layer}" + ("_reverse" if direction else "")


def stack_to_torch_state_dict(layers, gradient: bool = False) -> dict:
    """numpy arrays under torch.nn.LSTM's names (weight_ih_l0, ..., bias_hh_l1_reverse).

    The whole bias goes into bias_ih_l* and bias_hh_l* is zero; gradient=True converts
    gradients instead, putting the bias gradient in both (torch adds the two biases, so each
    gets the same gradient). Load with
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}).
    """
    layers = check_stack(layers)
    sd = {}
    for k, layer in enumerate(layers):
        for d, p in enumerate(_directions(layer)):
            wx, wh, b = to_fused(p)
            s = _suffix(k, d)
            sd[f"weight_ih_{s}"], sd[f"weight_hh_{s}"] = wx, wh
            sd[f"bias_ih_{s}"], sd[f"bias_hh_{s}"] = b, (b.copy() if gradient
                                                           else np.zeros_like(b))
    return sd


def stack_from_torch_state_dict(state_dict, num_layers: int, bidirectional: bool = False):
    """The layers of torch.nn.LSTM(..., num_layers, bidirectional).state_dict() (tensors or
    numpy arrays); each direction's bias_ih and bias_hh are summed."""
    L = check_int("num_layers", num_layers)
    D = 2 if bidirectional else 1

    def get(key):
        if key not in state_dict:
            raise ValueError(f"state_dict must have the key {key!r} of a torch.nn.LSTM with "
                             f"num_layers={L}, bidirectional={bool(bidirectional)}; got keys "
                             f"{sorted(state_dict)}")
        value = state_dict[key]
        return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)

    layers = []
    for k in range(L):
        pair = []
        for d in range(D):
            s = _suffix(k, d)
            wx = get(f"weight_ih_{s}")
            b = (get(f"bias_ih_{s}") + get(f"bias_hh_{s}") if f"bias_ih_{s}" in state_dict
                 else np.zeros(wx.shape[0], wx.dtype))  # an LSTM built with bias=False
            pair.append(from_fused(wx, get(f"weight_hh_{s}"), b))
        layers.append(tuple(pair) if bidirectional else pair[0])
    return check_stack(tuple(layers))
