"""Optimisers and gradient clipping, for LSTMParams and for plain dicts of arrays.

"Parameters" here is any nesting of LSTMParams, dicts of arrays (a read-out layer such as
{"wy": (V, H), "by": (V,)}), tuples and lists: a training loop passes (lstm_params, readout)
and gets the same structure back. Every function RETURNS new arrays and never writes into the
arrays it is given, so a caller's parameters and gradients stay as they were; the optimisers
keep their own state (velocity, moments) between calls to step.
"""

import numpy as np


def tree_map(fn, tree, *others):
    """Apply fn leaf by leaf to tree (and to the matching leaves of others); same structure.

    Leaves are numpy arrays; nodes are NamedTuples (LSTMParams, rnn.RNNGrads, ...), dicts,
    tuples or lists.
    """
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # a NamedTuple takes fields one by one
        return type(tree)(*tree_map(fn, tuple(tree), *(tuple(o) for o in others)))
    if isinstance(tree, dict):
        for other in others:
            if not isinstance(other, dict) or set(other) != set(tree):
                got = sorted(other) if isinstance(other, dict) else type(other).__name__
                raise ValueError(f"parameters and gradients must have the same keys; got "
                                 f"{sorted(tree)} and {got}")
        return {k: tree_map(fn, tree[k], *(o[k] for o in others)) for k in tree}
    if isinstance(tree, (tuple, list)):
        for other in others:
            if not isinstance(other, (tuple, list)) or len(other) != len(tree):
                raise ValueError("parameters and gradients must have the same structure; got "
                                 f"a {type(tree).__name__} of {len(tree)} and "
                                 f"{type(other).__name__}")
        return type(tree)(tree_map(fn, *leaves) for leaves in zip(tree, *others))
    if isinstance(tree, np.ndarray):
        for other in others:
            if not isinstance(other, np.ndarray) or other.shape != tree.shape:
                raise ValueError(f"a gradient must have its parameter's shape {tree.shape}; "
                                 f"got {getattr(other, 'shape', type(other).__name__)}")
        return fn(tree, *others)
    raise ValueError("parameters must be numpy arrays inside LSTMParams, dicts, tuples or "
                     f"lists; got {type(tree).__name__}")


def leaves(tree) -> list:
    """The arrays of a parameter structure, in a fixed order."""
    out = []
    tree_map(lambda a: out.append(a) or a, tree)
    return out


def global_norm(grads) -> float:
    """sqrt of the sum of squares of every entry of every array (accumulated in float64)."""
    return float(np.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in
                             leaves(grads))))


def clip_by_global_norm(grads, max_norm: float):
    """Scale all gradients by one factor so that their global norm is at most max_norm.

    Returns (clipped grads, the norm before clipping). One common factor keeps the direction
    of the whole gradient; clipping each array on its own would turn it. Gradients whose norm
    is already <= max_norm come back as copies, unchanged.
    """
    if not np.isfinite(max_norm) or max_norm <= 0:
        raise ValueError(f"max_norm must be a positive number; got {max_norm!r}")
    norm = global_norm(grads)
    if not np.isfinite(norm):
        raise ValueError(f"gradients must be finite to be clipped; got global norm {norm}")
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return tree_map(lambda g: (g * scale).astype(g.dtype, copy=False), grads), norm


def _check_lr(lr):
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    return float(lr)


class SGD:
    """Stochastic gradient descent, with optional (heavy-ball) momentum.

    v <- momentum * v + g;   w <- w - lr * v      (v starts at 0; momentum=0 is plain SGD)
    step(params, grads) returns new parameters; params and grads are not written to.
    """

    def __init__(self, lr: float = 0.1, momentum: float = 0.0):
        self.lr = _check_lr(lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1); got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = None

    def step(self, params, grads):
        if self.momentum == 0:
            return tree_map(lambda w, g: (w - self.lr * g).astype(w.dtype, copy=False),
                            params, grads)
        if self.velocity is None:
            self.velocity = tree_map(np.zeros_like, params)
        self.velocity = tree_map(lambda v, g: self.momentum * v + g, self.velocity, grads)
        return tree_map(lambda w, v: (w - self.lr * v).astype(w.dtype, copy=False),
                        params, self.velocity)


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction.

    m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2;   t <- t + 1
    w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    step(params, grads) returns new parameters; params and grads are not written to.
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        self.lr = _check_lr(lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{name} must be in [0, 1); got {beta!r}")
        if not eps > 0:
            raise ValueError(f"eps must be positive; got {eps!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = self.v = None
        self.t = 0

    def step(self, params, grads):
        if self.m is None:
            self.m = tree_map(np.zeros_like, params)
            self.v = tree_map(np.zeros_like, params)
        b1, b2 = self.beta1, self.beta2
        self.t += 1
        self.m = tree_map(lambda m, g: b1 * m + (1 - b1) * g, self.m, grads)
        self.v = tree_map(lambda v, g: b2 * v + (1 - b2) * (g * g), self.v, grads)
        lr, eps, c1, c2 = self.lr, self.eps, 1 - b1 ** self.t, 1 - b2 ** self.t

        def update(w, m, v):
            return (w - lr * (m / c1) / (np.sqrt(v / c2) + eps)).astype(w.dtype, copy=False)

        return tree_map(update, params, self.m, self.v)
