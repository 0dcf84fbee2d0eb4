"""The course's one picture: the LSTM cell at step t, forward or backward, with the part under
discussion in colour and the rest greyed (the device of Olah's "Understanding LSTM Networks").

    from lstm_teach import plots
    fig = plots.cell_diagram()                       # the whole cell, in colour
    fig = plots.cell_diagram(highlight="f")          # the forget gate; everything else grey
    fig = plots.cell_diagram(highlight={"c", "h"})   # several parts at once
    fig = plots.cell_diagram(backward=True, highlight="o")  # gradients on the edges, reversed

The parts (PARTS) are the inputs x, h_prev, c_prev, the gates i, g, f, o, the cell state c and
the output h. An arrow or a label that belongs to several parts (the i*g product belongs to i, g
and c) is in colour when any of them is highlighted.
"""

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyBboxPatch, Patch

PARTS = ("x", "h_prev", "c_prev", "i", "g", "f", "o", "c", "h")

# The gradients the backward picture writes on its edges, under the names notebooks use.
GRADIENT_LABELS = {
    "dh": r"$\partial E/\partial h_t$",
    "dc_next": r"$\partial E/\partial c_t$ from $t{+}1$",
    "dc": r"$\partial E/\partial c_t$ (total)",
    "do": r"$\partial E/\partial o$",
    "di": r"$\partial E/\partial i$",
    "dg": r"$\partial E/\partial g$",
    "df": r"$\partial E/\partial f$",
    "dc_prev": r"$\partial E/\partial c_{t-1}$",
    "dh_prev": r"$\partial E/\partial h_{t-1}$",
    "dx": r"$\partial E/\partial x_t$",
}

SIGMOID_COLOUR, TANH_COLOUR = "#9ecae1", "#fdae6b"
C_COLOUR, H_COLOUR = "#31a354", "#636363"
GRAD_COLOUR, GRAD_C_COLOUR = "#de2d26", "#a50f15"
GREY_LINE, GREY_FACE, GREY_TEXT = "#d9d9d9", "#f2f2f2", "#bdbdbd"

_GATES = ("i", "g", "f", "o")
# Everything that reads the bus [h_prev, x_t]: highlighting a gate colours its inputs too.
_BUS = frozenset({"x", "h_prev", *_GATES})


def _parse_highlight(highlight):
    """None (everything in colour) or a non-empty frozenset of valid part names."""
    if highlight is None:
        return None
    names = {highlight} if isinstance(highlight, str) else highlight
    try:
        names = frozenset(names)
    except TypeError:
        raise ValueError(f"highlight must be None, a part name or a set of part names from "
                         f"{PARTS}; got {highlight!r}") from None
    unknown = sorted(str(n) for n in names if n not in PARTS)
    if unknown or not names:
        raise ValueError(f"highlight must name parts of the cell from {PARTS}; "
                         f"got {highlight!r}" + (f" (unknown: {unknown})" if unknown else ""))
    return names


class _Painter:
    """Draws each element in its colour when one of its parts is highlighted, grey otherwise."""

    def __init__(self, ax, lit, backward):
        self.ax, self.lit, self.backward = ax, lit, backward

    def on(self, parts):
        return self.lit is None or bool(self.lit & frozenset(parts))

    def edge(self, pts, parts, cell=False, head=True, head_back=True, gid=None):
        """A path through pts, drawn forward (arrowhead at the end) or backward (at the start)."""
        if self.backward:
            pts, head = pts[::-1], head_back
            colour = GRAD_C_COLOUR if cell else GRAD_COLOUR
        else:
            colour = C_COLOUR if cell else H_COLOUR
        if not self.on(parts):
            colour = GREY_LINE
        lw = 3.0 if cell else 1.6
        xs, ys = zip(*pts, strict=True)
        if head:
            if len(pts) > 2:
                self.ax.plot(xs[:-1], ys[:-1], color=colour, lw=lw, solid_capstyle="round",
                             gid=gid, zorder=1)
            self.ax.annotate("", xy=pts[-1], xytext=pts[-2], gid=gid, zorder=1,
                             arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw,
                                         "shrinkA": 0, "shrinkB": 0, "mutation_scale": 14})
        else:
            self.ax.plot(xs, ys, color=colour, lw=lw, solid_capstyle="round", gid=gid, zorder=1)

    def box(self, x, y, label, colour, parts, gid):
        on = self.on(parts)
        self.ax.add_patch(FancyBboxPatch((x - 0.45, y - 0.42), 0.9, 0.84,
                                         boxstyle="round,pad=0.05", gid=gid, zorder=2,
                                         facecolor=colour if on else GREY_FACE,
                                         edgecolor="black" if on else GREY_TEXT,
                                         lw=1.6 if on and self.lit else 1.0))
        self.ax.text(x, y, label, ha="center", va="center", fontsize=10, zorder=3,
                     color="black" if on else GREY_TEXT)

    def node(self, x, y, label, parts, gid):
        on = self.on(parts)
        self.ax.add_patch(Circle((x, y), 0.3, facecolor="white", gid=gid, zorder=3,
                                 edgecolor="black" if on else GREY_TEXT))
        self.ax.text(x, y, label, ha="center", va="center", fontsize=12, zorder=4,
                     color="black" if on else GREY_TEXT)

    def label(self, x, y, text, parts, grad=False, **kw):
        colour = (GRAD_COLOUR if grad else "black") if self.on(parts) else GREY_TEXT
        self.ax.text(x, y, text, color=colour, **{"fontsize": 10, "zorder": 4, **kw})


def cell_diagram(highlight=None, backward=False, ax=None, title=None):
    """The LSTM cell at step t: x_t, h_(t-1), c_(t-1) in; the gates i, g, f, o;
    c_t = f*c_(t-1) + i*g along the top; h_t = o*tanh(c_t) out on the right.

    highlight: None (all in colour), a part name or a set of them, from PARTS: "x", "h_prev",
    "c_prev", "i", "g", "f", "o", "c", "h". The highlighted parts keep their colour; the rest
    is drawn grey. Any other name raises ValueError.
    backward: draw the backward pass: every arrow reversed, each edge labelled with the gradient
    it carries (GRADIENT_LABELS: dE/dh_t and dE/dc_t in from the right, dE/do, dE/di, dE/dg,
    dE/df on the gates' edges, dE/dc_(t-1), dE/dh_(t-1) and dE/dx_t out on the left).
    ax: an Axes to draw into (default: a new figure); title: overrides the default title.
    Returns the Figure.
    """
    lit = _parse_highlight(highlight)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.4, 5.0))
    else:
        fig = ax.figure
    pt = _Painter(ax, lit, bool(backward))
    bw = pt.backward

    ax.add_patch(FancyBboxPatch((0.6, 0.1), 10.4, 5.8, boxstyle="round,pad=0.1",
                                facecolor="#fafafa", edgecolor="#d9d9d9", zorder=0))

    # Coordinates: the cell-state line on top, the gates in the middle, the bus at the bottom.
    cy, my, gy, by = 5.2, 3.75, 2.2, 0.8
    xf, xi, xg, xo, xp, xh = 2.5, 4.2, 5.9, 7.6, 5.05, 9.4

    # The cell state: c_(t-1) -> (x f) -> (+ i*g) -> c_t, branching down to tanh(c_t).
    pt.edge([(-0.4, cy), (xf - 0.3, cy)], {"c_prev", "c"}, cell=True, gid="edge:c_prev")
    pt.edge([(xf + 0.3, cy), (xp - 0.3, cy)], {"f", "c"}, cell=True, gid="edge:f_c_prev")
    pt.edge([(xp + 0.3, cy), (xh, cy)], {"c"}, cell=True, head=False, gid="edge:c")
    pt.edge([(xh, cy), (12.2, cy)], {"c"}, cell=True, gid="edge:c_next")
    pt.node(xf, cy, r"$\times$", {"f", "c"}, "node:f_times_c_prev")
    pt.node(xp, cy, "+", {"c"}, "node:plus")

    # The bus [h_(t-1), x_t] feeds every gate.
    pt.edge([(-0.4, by), (xo, by)], _BUS, head=False, gid="edge:h_prev")
    pt.edge([(1.2, -0.9), (1.2, by)], {"x", *_GATES}, gid="edge:x")
    colours = {"i": SIGMOID_COLOUR, "g": TANH_COLOUR, "f": SIGMOID_COLOUR, "o": SIGMOID_COLOUR}
    for x, name in ((xf, "f"), (xi, "i"), (xg, "g"), (xo, "o")):
        pt.edge([(x, by), (x, gy - 0.47)], {name}, gid=f"edge:z{name}")
        act = "tanh" if name == "g" else r"$\sigma$"
        pt.box(x, gy, f"${name}$\n{act}", colours[name], {name}, f"box:{name}")
        zlabel = rf"$\partial E/\partial z_{name}$" if bw else f"$z_{name}$"
        pt.label(x + 0.08, by + 0.18, zlabel, {name}, grad=bw, fontsize=8)

    # f multiplies c_(t-1); i * g is added to it.
    pt.edge([(xf, gy + 0.47), (xf, cy - 0.3)], {"f", "c"}, gid="edge:f")
    pt.edge([(xi, gy + 0.47), (xi, my), (xp - 0.3, my)], {"i"}, head=False, gid="edge:i")
    pt.edge([(xg, gy + 0.47), (xg, my), (xp + 0.3, my)], {"g"}, head=False, gid="edge:g")
    pt.node(xp, my, r"$\times$", {"i", "g", "c"}, "node:i_times_g")
    pt.edge([(xp, my + 0.3), (xp, cy - 0.3)], {"i", "g", "c"}, gid="edge:i_g")

    # o * tanh(c_t) gives h_t.
    pt.edge([(xh, cy), (xh, my + 0.47)], {"c", "h"}, head=False, gid="edge:c_to_tanh")
    pt.box(xh, my, r"tanh", TANH_COLOUR, {"h"}, "box:tanh_c")
    pt.edge([(xh, my - 0.47), (xh, gy + 0.3)], {"h"}, gid="edge:tanh_c")
    pt.node(xh, gy, r"$\times$", {"o", "h"}, "node:o_times_tanh_c")
    pt.edge([(xo + 0.5, gy), (xh - 0.3, gy)], {"o"}, gid="edge:o")
    pt.edge([(xh + 0.3, gy), (12.2, gy)], {"h"}, gid="edge:h")

    if bw:
        lab = GRADIENT_LABELS
        pt.label(12.2, cy + 0.22, lab["dc_next"], {"c"}, grad=True, ha="right")
        pt.label(7.25, cy + 0.22, lab["dc"], {"c"}, grad=True, ha="center")
        pt.label(12.2, gy + 0.22, lab["dh"], {"h"}, grad=True, ha="right")
        pt.label(xo + 0.55, gy + 0.22, lab["do"], {"o"}, grad=True, fontsize=9)
        pt.label(xf + 0.1, 3.55, lab["df"], {"f"}, grad=True, fontsize=9)
        pt.label(xi - 0.1, my + 0.15, lab["di"], {"i"}, grad=True, fontsize=9, ha="center",
                 va="bottom")
        pt.label(xg + 0.1, my + 0.15, lab["dg"], {"g"}, grad=True, fontsize=9, ha="center",
                 va="bottom")
        pt.label(-0.4, cy + 0.22, lab["dc_prev"], {"c_prev", "c"}, grad=True)
        pt.label(-0.4, by - 0.45, lab["dh_prev"], _BUS, grad=True)
        pt.label(1.35, -0.8, lab["dx"], {"x", *_GATES}, grad=True)
    else:
        pt.label(-0.4, cy + 0.22, r"$c_{t-1}$", {"c_prev", "c"}, fontsize=12)
        pt.label(11.6, cy + 0.22, r"$c_t$", {"c"}, fontsize=12)
        pt.label(-0.4, by - 0.5, r"$h_{t-1}$", _BUS, fontsize=12)
        pt.label(1.35, -0.8, r"$x_t$", {"x", *_GATES}, fontsize=12)
        pt.label(11.6, gy + 0.22, r"$h_t$", {"h"}, fontsize=12)
        pt.label((xf + xp) / 2, cy + 0.22, r"$f\odot c_{t-1}$", {"f", "c"}, fontsize=9,
                 ha="center")
        pt.label(xp + 0.12, 4.35, r"$i\odot g$", {"i", "g", "c"}, fontsize=9)
        pt.label(xh + 0.15, 1.55, r"$h_t = o\odot\tanh(c_t)$", {"o", "h"}, fontsize=9)
        pt.label(xh + 0.55, my - 0.05, r"$\tanh(c_t)$", {"h"}, fontsize=8)

    ax.set_xlim(-0.8, 12.4)
    ax.set_ylim(-1.2, 6.3)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)

    shown = "" if lit is None else ": " + ", ".join(p for p in PARTS if p in lit)
    if title is None:
        title = ("The backward pass at step t: each gradient on its edge" if bw
                 else "The LSTM cell at step t") + shown
    ax.set_title(title)
    ax.set_xlabel(r"gradients arrive from the right ($h_t$ and $c_t$), leave on the left "
                  r"($h_{t-1}$, $c_{t-1}$, $x_t$)" if bw else
                  r"$x_t$ and $h_{t-1}$ enter bottom left; $c_t$ and $h_t$ leave on the right")
    if bw:
        handles = [Line2D([], [], color=GRAD_C_COLOUR, lw=3, label="gradient along the cell state"),
                   Line2D([], [], color=GRAD_COLOUR, lw=1.6, label="gradient along other paths")]
    else:
        handles = [Line2D([], [], color=C_COLOUR, lw=3, label="cell state path"),
                   Line2D([], [], color=H_COLOUR, lw=1.6, label="input / hidden path")]
    handles += [Patch(facecolor=SIGMOID_COLOUR, edgecolor="black",
                      label=r"sigmoid gate: $i, f, o$"),
                Patch(facecolor=TANH_COLOUR, edgecolor="black",
                      label=r"tanh: $g$, $\tanh(c_t)$"),
                Line2D([], [], marker="o", ls="", markerfacecolor="white",
                       markeredgecolor="black", markersize=10, label=r"pointwise $\times$, $+$")]
    if lit is not None:
        handles.append(Patch(facecolor=GREY_FACE, edgecolor=GREY_TEXT,
                             label="greyed: not under discussion"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3,
              fontsize=8, frameon=False)
    if ax is fig.axes[0] and len(fig.axes) == 1:
        fig.tight_layout()
    return fig
