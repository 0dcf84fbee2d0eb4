"""Losses: each returns its value and its gradient, which is where backpropagation starts.

MSE follows the course's convention E = 1/2 * sum over t and units of (h_t - y_t)^2, so
dE/dh_t = h_t - y_t. The seed's E_delta = y - h is the NEGATIVE of this gradient: following
it with "w -= lr * grad" would climb the loss instead of descending it.

reduction="sum" (the default, the convention of the derivation) or "mean"; "mean" divides the
value and the gradient by the number of terms the docstring names.
"""

import numpy as np

from ._validate import check_array

REDUCTIONS = ("sum", "mean")


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'sum' or 'mean'; got {reduction!r}")


def mse_loss(hs, ys, reduction: str = "sum"):
    """E = 1/2 sum (hs - ys)^2 and dE/dhs = hs - ys.

    hs: predictions, any shape, e.g. (T, B, H); ys: targets, the same shape and dtype.
    reduction="mean" divides both by hs.size (the number of squared terms).
    Returns (E as a Python float, dhs with hs's shape and dtype).
    """
    _check_reduction(reduction)
    hs = check_array("hs", hs, tuple("?" for _ in np.shape(hs)))
    ys = check_array("ys", ys, hs.shape, dtype=hs.dtype, why=f"to match hs {hs.shape}")
    diff = hs - ys
    scale = 1.0 / diff.size if reduction == "mean" else 1.0
    return 0.5 * scale * float(np.sum(diff.astype(np.float64) ** 2)), (diff * scale).astype(
        hs.dtype)


def softmax(logits):
    """Softmax over the last axis, shifted by the maximum so exp never overflows."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits, targets, reduction: str = "sum"):
    """E = -sum log softmax(logits)[target] and dE/dlogits = softmax(logits) - onehot(target).

    logits (..., V), e.g. (T, B, V); targets: integer class indices of shape logits.shape[:-1].
    reduction="mean" divides both by the number of targets.
    Returns (E as a Python float, dlogits with logits's shape and dtype).
    """
    _check_reduction(reduction)
    logits = check_array("logits", logits, tuple("?" for _ in np.shape(logits)))
    if logits.ndim < 1:
        raise ValueError(f"logits must have shape (..., V); got {logits.shape}")
    targets = np.asarray(targets)
    V = logits.shape[-1]
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets must have shape {logits.shape[:-1]} to match logits "
                         f"{logits.shape}; got {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must hold integer class indices; got dtype {targets.dtype}")
    if targets.size and (targets.min() < 0 or targets.max() >= V):
        raise ValueError(f"targets must lie in [0, {V}) for logits with V = {V}; "
                         f"got values from {targets.min()} to {targets.max()}")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)
    scale = 1.0 / max(targets.size, 1) if reduction == "mean" else 1.0
    dlogits = np.exp(log_probs)
    np.put_along_axis(dlogits, targets[..., None],
                      np.take_along_axis(dlogits, targets[..., None], axis=-1) - 1, axis=-1)
    return -scale * float(np.sum(picked)), (dlogits * scale).astype(logits.dtype)


def linear_forward(hs, wy, by):
    """A read-out layer: logits = hs @ wy.T + by.

    hs (..., H), e.g. (T, B, H); wy (V, H); by (V,) -> logits (..., V).
    """
    wy = check_array("wy", wy, ("V", "H"))
    V, H = wy.shape
    by = check_array("by", by, (V,), dtype=wy.dtype, why=f"to match wy {wy.shape}")
    hs = check_array("hs", hs, tuple("?" for _ in np.shape(hs))[:-1] + (H,), dtype=wy.dtype,
                     why=f"(last axis H) to match wy {wy.shape}")
    return hs @ wy.T + by


def linear_backward(dlogits, hs, wy):
    """Gradients of the read-out: dlogits (..., V), hs (..., H), wy (V, H)
    -> dhs (..., H), dwy (V, H) (summed over every leading axis), dby (V,)."""
    wy = check_array("wy", wy, ("V", "H"))
    V, H = wy.shape
    hs = check_array("hs", hs, tuple("?" for _ in np.shape(hs))[:-1] + (H,), dtype=wy.dtype,
                     why=f"(last axis H) to match wy {wy.shape}")
    dlogits = check_array("dlogits", dlogits, hs.shape[:-1] + (V,), dtype=wy.dtype,
                          why=f"to match hs {hs.shape} and wy {wy.shape}")
    flat_d = dlogits.reshape(-1, V)
    return dlogits @ wy, flat_d.T @ hs.reshape(-1, H), flat_d.sum(axis=0)
