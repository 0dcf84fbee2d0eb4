"""The figures the notebooks show: matplotlib only, each with a title, axis labels and a legend.

Every function takes what it draws and returns the matplotlib Figure; the notebook shows it.
"""

import matplotlib.pyplot as plt
import numpy as np


def _finish(fig, ax, title, xlabel, ylabel, **legend):
    """Title, axis labels, a light grid and the legend (legend: ax.legend's options)."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(**{"fontsize": 8, **legend})
    fig.tight_layout()
    return fig


# --- notebooks 01-06 and 12: the cell, activations, gates over time ---

def cell_diagram(highlight=None, backward=False, ax=None, title=None):
    """The LSTM cell at one step, the course's one picture: see lstm_teach.diagram.

    highlight: None, or a part name or set of them from diagram.PARTS ("x", "h_prev",
    "c_prev", "i", "g", "f", "o", "c", "h"), drawn in colour with the rest greyed;
    backward=True: arrows reversed, each edge labelled with its gradient. Returns a Figure.
    """
    from . import diagram

    return diagram.cell_diagram(highlight=highlight, backward=backward, ax=ax, title=title)


def activation_curves(z=None):
    """sigmoid and tanh with their derivatives.

    z (N,): the points to draw at (default 241 points in [-6, 6]); not modified.
    Returns a Figure with two axes: sigmoid, sigmoid' and tanh, tanh'.
    """
    from .activations import sigmoid, sigmoid_deriv, tanh, tanh_deriv

    z = np.linspace(-6.0, 6.0, 241) if z is None else np.asarray(z, dtype=np.float64)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    panels = [(axes[0], "sigmoid", sigmoid, sigmoid_deriv, r"$\sigma(z)(1-\sigma(z))$", 0.25),
              (axes[1], "tanh", tanh, tanh_deriv, r"$1-\tanh^2(z)$", 1.0)]
    # Each legend goes where its curves leave room: sigmoid's top left (sigma ~ 0 there, its
    # derivative peaks at 0.25 in the middle), tanh's bottom right (tanh ~ 1, tanh' ~ 0 there).
    corners = {"sigmoid": "upper left", "tanh": "lower right"}
    for ax, name, fn, deriv, dlabel, peak in panels:
        ax.plot(z, fn(z), lw=2, label=f"{name}(z)")
        ax.plot(z, deriv(z), lw=2, ls="--", label=f"derivative {dlabel}")
        ax.axhline(peak, color="grey", lw=0.8, ls=":", label=f"largest slope = {peak:g}")
        ax.set_title(f"{name} and its derivative")
        ax.set_xlabel("pre-activation z")
        ax.set_ylabel("value")
        ax.legend(fontsize=8, loc=corners[name])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def forget_bias_plot(steps, curves, ylabel="fraction of $c_0$ kept", title=None):
    """Curves against the number of steps, one per forget-gate bias, on a log scale.

    steps (T,): x values; curves: dict label -> array (T,) of positive values (not modified).
    Returns the Figure.
    """
    steps = np.asarray(steps)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in curves.items():
        ax.semilogy(steps, np.asarray(values), marker="o", ms=3, label=label)
    return _finish(fig, ax, title or "Memory survives longer with a larger forget-gate bias",
                   "steps t", ylabel)


def gate_heatmaps(gates, title="Gate activations over time"):
    """One heatmap per gate: time along x, hidden unit along y.

    gates: dict name -> array (T, H), e.g. {"i": ..., "f": ..., "g": ..., "o": ...} for one
    example of the batch (not modified). Sigmoid gates share the colour scale [0, 1], tanh
    quantities [-1, 1]; each panel has its own colour bar as legend. Returns the Figure.
    """
    names = list(gates)
    cols = 2 if len(names) == 4 else len(names)
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols + 0.5, 2.6 * rows + 0.6),
                             squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        values = np.asarray(gates[name])
        signed = name in ("g", "tanh_c", "c", "h") or values.min() < 0
        lo, hi, cmap = (-1, 1, "RdBu_r") if signed else (0, 1, "viridis")
        im = ax.imshow(values.T, aspect="auto", origin="lower", cmap=cmap, vmin=lo, vmax=hi,
                       interpolation="nearest")
        ax.set_title(f"gate {name}" if name in ("i", "f", "g", "o") else name)
        ax.set_xlabel("time step t")
        ax.set_ylabel("hidden unit")
        fig.colorbar(im, ax=ax, label=f"value of {name}")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def cell_state_plot(cs, hs, xs=None, title="Cell state and output over time", x_labels=None):
    """Trajectories of c_t and h_t for each hidden unit of one example.

    cs (T, H), hs (T, H): cell states and outputs; xs (T,) or (T, I) optional input drawn under
    them, one line per input channel, named by x_labels (I strings; default "input x_t[k]")
    (none is modified). Returns the Figure (two or three stacked axes sharing time).
    """
    cs, hs = np.asarray(cs), np.asarray(hs)
    rows = 2 if xs is None else 3
    fig, axes = plt.subplots(rows, 1, figsize=(7.0, 1.6 * rows + 1), sharex=True)
    t = np.arange(cs.shape[0])
    panels = [(axes[0], cs, "$c_t$", "cell state $c_t$ (unbounded)"),
              (axes[1], hs, "$h_t$", r"output $h_t = o\odot\tanh(c_t)$, in (-1, 1)")]
    for ax, values, sym, name in panels:
        for k in range(values.shape[1]):
            ax.plot(t, values[:, k], lw=1.5, label=f"unit {k}")
        ax.set_ylabel(sym)
        ax.set_xlabel("time step t")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[:2]:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if xs is not None:
        xs = np.asarray(xs).reshape(len(t), -1)
        if x_labels is None:
            x_labels = (["input $x_t$"] if xs.shape[1] == 1 else
                        [f"input $x_t[{k}]$" for k in range(xs.shape[1])])
        if len(x_labels) != xs.shape[1]:
            raise ValueError(f"x_labels must name the {xs.shape[1]} input channels of xs "
                             f"{xs.shape}; got {len(x_labels)}")
        for k, label in enumerate(x_labels):
            axes[2].plot(t, xs[:, k], lw=1.5, label=label,
                         color="black" if k == 0 else f"C{k + 1}")
        axes[2].set_ylabel("$x_t$")
        axes[2].set_xlabel("time step t")
        axes[2].set_title("input", fontsize=10)
        axes[2].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        axes[2].grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def descent_plot(losses, title="Gradient descent: which sign goes downhill?"):
    """Loss against step for a few update rules.

    losses: dict label -> array (N,) of loss values (not modified). Returns the Figure.
    """
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in losses.items():
        values = np.asarray(values)
        ax.plot(np.arange(len(values)), values, marker="o", ms=3, label=label)
    ax.set_yscale("log")
    return _finish(fig, ax, title, "update step", "loss E")


def error_bars(names, errors, tol=1e-6, title="Relative error against central differences"):
    """Grouped bars of relative errors, log scale, one group per quantity.

    names (N,): the quantities (e.g. parameter names); errors: dict label -> array (N,) of
    relative errors (not modified); tol: a dashed line, the pass mark. Zeros are drawn at
    1e-16; NaN means "does not apply" and draws no bar. Returns the Figure.
    """
    names = list(names)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(names) + 2), 3.5))
    width = 0.8 / max(1, len(errors))
    x = np.arange(len(names))
    for k, (label, values) in enumerate(errors.items()):
        values = np.maximum(np.asarray(values, dtype=np.float64), 1e-16)
        ax.bar(x + (k - (len(errors) - 1) / 2) * width, values, width, label=label)
    ax.axhline(tol, color="black", ls="--", lw=1, label=f"pass mark {tol:g}")
    ax.set_yscale("log")
    ax.set_ylim(1e-16, 1e6)  # headroom above 1 keeps the legend off the bars
    ax.set_yticks([10.0**k for k in range(-15, 1, 3)])  # a relative error is at most 1
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45 if len(names) > 6 else 0)
    return _finish(fig, ax, title, "quantity", "relative error", fontsize=7,
                   loc="upper center", ncol=2)


# --- notebooks 07-09 and 11: gradients through time, vanishing and exploding ---

def outer_products(dz, x, title="A batch's weight gradient is a sum of outer products"):
    """One panel per example b with its outer product dz[b] x[b]^T, and a last panel with their
    sum dz.T @ x, the gradient of wx for the batch. dz (B, H), x (B, I). Returns the Figure."""
    dz, x = np.asarray(dz), np.asarray(x)
    mats = [np.outer(dz[b], x[b]) for b in range(dz.shape[0])] + [dz.T @ x]
    names = [f"example {b}: $dz_{b}\\,x_{b}^T$" for b in range(dz.shape[0])] + ["sum = dz.T @ x"]
    vmax = max(float(np.abs(m).max()) for m in mats) or 1.0
    fig, axes = plt.subplots(1, len(mats), figsize=(1.9 * len(mats), 2.6), squeeze=False)
    for ax, m, name in zip(axes[0], mats, names, strict=True):
        im = ax.imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("input k", fontsize=8)
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]))
    axes[0][0].set_ylabel("hidden unit j", fontsize=8)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="gradient entry")
    fig.suptitle(title, fontsize=10)
    return fig


def unrolled_diagram(T=4, final_state=False):
    """The LSTM unrolled over T steps: forward arrows (h, c) left to right, and the backward
    pass right to left as the TWO messages every cell sends to the one before it, dh and dc,
    plus dE_t/dh_t arriving from each loss and dx_t leaving for the input. final_state=True
    also draws dh_T, dc_T arriving from beyond the last step (the next chunk)."""
    from matplotlib.lines import Line2D

    grey, green, red, dark = "#636363", "#31a354", "#de2d26", "#67000d"

    def arrow(xy_from, xy_to, color, ls="-"):
        ax.annotate("", xy=xy_to, xytext=xy_from,
                    arrowprops={"arrowstyle": "-|>", "color": color, "ls": ls, "lw": 1.3})

    fig, ax = plt.subplots(figsize=(1.9 * T + 1.8, 3.8))
    for t in range(T):
        x0 = 1.0 + 1.9 * t
        ax.add_patch(plt.Rectangle((x0, 1.0), 1.0, 1.2, facecolor="#deebf7", edgecolor="#3182bd"))
        ax.text(x0 + 0.5, 1.6, f"cell\nt={t + 1}", ha="center", va="center", fontsize=9)
        arrow((x0 + 0.35, 0.3), (x0 + 0.35, 1.0), grey)                  # x_t in
        arrow((x0 + 0.65, 1.0), (x0 + 0.65, 0.3), red)                   # dx_t out
        ax.text(x0 + 0.5, 0.05, f"$x_{t + 1}$, $\\delta x_{t + 1}$", ha="center", fontsize=8)
        arrow((x0 + 0.35, 2.2), (x0 + 0.35, 2.9), grey)                  # h_t to the loss
        arrow((x0 + 0.65, 2.9), (x0 + 0.65, 2.2), red)                   # dE_t/dh_t back
        ax.text(x0 + 0.5, 3.0, f"$E_{t + 1}$", ha="center", fontsize=9)
        xl = x0 - 0.9  # the gap to the left of this cell
        arrow((xl, 2.05), (x0, 2.05), green)                             # c forward
        arrow((xl, 1.8), (x0, 1.8), grey)                                # h forward
        arrow((x0, 1.4), (xl, 1.4), red)                                 # dh backward
        arrow((x0, 1.15), (xl, 1.15), dark, "--")                        # dc backward
        if t == 0:
            ax.text(xl - 0.05, 1.9, "$h_0, c_0$", ha="right", va="center", fontsize=9)
            ax.text(xl - 0.05, 1.27, r"$\delta h_0, \delta c_0$", ha="right", va="center",
                    fontsize=9)
        else:
            ax.text(xl + 0.45, 1.47, r"$\delta h$", ha="center", fontsize=7, color=red)
            ax.text(xl + 0.45, 0.88, r"$\delta c$", ha="center", fontsize=7, color=dark)
    xr = 1.0 + 1.9 * (T - 1) + 1.0  # the right edge of the last cell
    if final_state:
        arrow((xr + 0.8, 1.4), (xr, 1.4), red)
        arrow((xr + 0.8, 1.15), (xr, 1.15), dark, "--")
        ax.text(xr + 0.85, 1.27, r"$\delta h_T, \delta c_T$" + "\n(next chunk)", va="center",
                fontsize=8)
    ax.set_xlim(-0.9, xr + (1.9 if final_state else 0.6))
    ax.set_ylim(-0.5, 3.3)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("time: forward left to right, backward right to left")
    ax.set_ylabel("input, cell, loss")
    ax.legend(handles=[Line2D([], [], color=green, label="c forward"),
                       Line2D([], [], color=grey, label="h, x forward"),
                       Line2D([], [], color=red, label=r"$\delta h$, $\delta x$, "
                              r"$\partial E_t/\partial h_t$ backward"),
                       Line2D([], [], color=dark, ls="--", label=r"$\delta c$ backward")],
              loc="upper center", fontsize=8, bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    ax.set_title("The LSTM unrolled through time: two messages, dh and dc, go back")
    fig.tight_layout()
    return fig


def step_contributions(norms, name="whf", title=None):
    """Bar chart of the norm of each time step's share of one parameter's gradient.
    norms (T,): ||dE/dw||, the part computed at step t (the shares add up to the gradient)."""
    norms = np.asarray(norms)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(np.arange(1, len(norms) + 1), norms, color="#6baed6",
           label=f"share of d{name} from step t")
    return _finish(fig, ax, title or f"The gradient of {name} is a sum over time steps",
                   "time step t", "norm of the share")


def truncation_plot(ks, errors, title="Truncated BPTT: how far from the true gradient?"):
    """Relative error of the truncated gradient against full BPTT, one line per parameter.
    ks: the truncation lengths k; errors: dict name -> relative errors, one per k."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, errs in errors.items():
        ax.plot(ks, errs, marker="o", label=name)
    ax.set_ylim(bottom=0)
    return _finish(fig, ax, title, "truncation length k (cells the error may cross)",
                   "relative error vs full BPTT", ncol=2)


def eps_sweep_plot(eps, errors, title="Central differences: the choice of eps"):
    """Relative error of a central-difference gradient against eps, log-log.
    eps (n,); errors: dict label -> (n,) relative errors (e.g. one curve per dtype)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, errs in errors.items():
        ax.loglog(eps, np.maximum(np.asarray(errs, dtype=float), 1e-17), marker="o", label=label)
    return _finish(fig, ax, title, "eps", "relative error vs analytic")


def gradient_vs_distance(curves, title="How far back does the gradient reach?",
                         ylabel=r"$\|\partial E_T / \partial h_k\|$"):
    """Gradient norm against the distance T - k in time, log scale.
    curves: dict label -> norms (n,), where norms[d] belongs to distance d = 0, 1, ..."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, norms in curves.items():
        norms = np.maximum(np.asarray(norms, dtype=float), 1e-300)
        ax.semilogy(np.arange(len(norms)), norms, label=label)
    return _finish(fig, ax, title, "distance in time T - k (steps)", ylabel)


def clipping_plot(norms, max_norm, title="Clipping by global norm"):
    """Global gradient norm of several batches before and after clipping at max_norm.
    norms (n,): the norms before clipping."""
    norms = np.asarray(norms, dtype=float)
    clipped = np.minimum(norms, max_norm)
    n = np.arange(1, len(norms) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(n, norms, "o-", color="#de2d26", label="before clipping")
    ax.semilogy(n, clipped, "s-", color="#3182bd", label="after clipping")
    ax.axhline(max_norm, color="k", ls="--", lw=1, label=f"max_norm = {max_norm:g}")
    return _finish(fig, ax, title, "batch", "global gradient norm")


# --- notebook 10: training ---

def loss_curves(curves, title="Training loss", ylabel="loss", smooth=1, logy=True):
    """Loss against step, one line per run.

    curves: dict label -> sequence (N,) of losses (not modified); smooth: width of a moving
    average drawn over the raw curve (1 = none). Returns the Figure.
    """
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        steps = np.arange(1, len(values) + 1)
        if smooth > 1 and len(values) >= smooth:
            line, = ax.plot(steps, values, alpha=0.25, lw=0.8)
            avg = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
            ax.plot(steps[smooth - 1:], avg, color=line.get_color(),
                    label=f"{label} (mean of {smooth} steps)")
        else:
            ax.plot(steps, values, label=label)
    if logy:
        ax.set_yscale("log")
    return _finish(fig, ax, title, "training step", ylabel)


def sine_prediction_plot(xs, ys, preds, title="Continuing a sine wave, one step ahead"):
    """One sequence: the input wave, the next values to predict and the predictions.

    xs, ys (T,) input and target; preds: dict label -> (T,) predictions. Returns the Figure.
    """
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = np.arange(len(xs))
    ax.plot(steps, np.asarray(xs), color="0.7", lw=3, label="input $x_t$")
    ax.plot(steps, np.asarray(ys), "k--", lw=1.5, label="target $y_t = x_{t+1}$")
    for label, values in preds.items():
        ax.plot(steps, np.asarray(values), marker=".", ms=4, lw=1, label=label)
    return _finish(fig, ax, title, "time step t", "value", loc="lower left")


# --- notebook 13: how far back each error travels under each truncation ---

def error_windows(windows, chunk=None, title="How many cells does the error of step t cross?"):
    """One step line per scheme: the number of cells the error injected at step t runs back.

    windows: dict label -> (T,) cell counts, one per error (step t = 1..T); chunk: a chunk
    length K to mark the chunk boundaries with faint vertical lines (None: none). Returns the
    Figure; the arrays given are not modified.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    first = np.asarray(next(iter(windows.values())))
    steps = np.arange(1, len(first) + 1)
    if chunk:
        for edge in np.arange(chunk, len(first), chunk) + 0.5:
            ax.axvline(edge, color="0.85", lw=1, zorder=0)
    for n, (label, counts) in enumerate(windows.items()):
        ax.step(steps, np.asarray(counts, dtype=float) + 0.08 * n, where="mid", lw=2,
                label=label)
    ax.set_ylim(bottom=0)
    return _finish(fig, ax, title, "step t at which the error enters",
                   "cells crossed going back", loc="upper left")
