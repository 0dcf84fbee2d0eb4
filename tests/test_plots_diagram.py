"""The course's one picture (lstm_teach.diagram, shown through plots.cell_diagram): its labels,
the highlighted parts in colour and the rest grey, the backward version's gradients, bad names."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lstm_teach import diagram, plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def _by_gid(fig, gid):
    """Every artist of the diagram with this gid (a patch, a line, an arrow annotation)."""
    ax = fig.axes[0]
    found = [a for a in (*ax.patches, *ax.lines, *ax.texts) if a.get_gid() == gid]
    assert found, f"nothing drawn with gid {gid!r}"
    return found


def _face(fig, gid):
    return to_hex(_by_gid(fig, gid)[0].get_facecolor())


def _edge_colour(fig, gid):
    art = _by_gid(fig, gid)[-1]
    if hasattr(art, "arrow_patch") and art.arrow_patch is not None:
        return to_hex(art.arrow_patch.get_edgecolor())
    return to_hex(art.get_color())


def test_forward_diagram_has_every_label_title_and_legend():
    fig = plots.cell_diagram()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel()
    assert ax.get_ylabel() == "", "the diagram carries no rotated y-label"
    texts = _texts(fig)
    for label in ("$i$\n$\\sigma$", "$g$\ntanh", "$f$\n$\\sigma$", "$o$\n$\\sigma$",
                  r"$x_t$", r"$h_{t-1}$", r"$c_{t-1}$", r"$c_t$", r"$h_t$",
                  r"$f\odot c_{t-1}$", r"$i\odot g$", r"$h_t = o\odot\tanh(c_t)$"):
        assert label in texts, f"{label!r} missing"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "cell state path" in legend
    assert not any(t.startswith("$\\partial") for t in texts), "forward shows no gradients"


def test_f_times_c_prev_label_sits_on_the_segment_between_times_and_plus():
    fig = plots.cell_diagram()
    label = next(t for t in fig.axes[0].texts if t.get_text() == r"$f\odot c_{t-1}$")
    x, y = label.get_position()
    times = _by_gid(fig, "node:f_times_c_prev")[0].center
    plus = _by_gid(fig, "node:plus")[0].center
    assert times[0] < x < plus[0], "label not between the x node and the + node"
    assert abs(y - times[1]) < 0.5, "label not beside the cell-state line"


def test_whole_cell_is_in_colour_when_nothing_is_highlighted():
    fig = plots.cell_diagram()
    for gate in "igfo":
        assert _face(fig, f"box:{gate}") != diagram.GREY_FACE
    assert _edge_colour(fig, "edge:c") == diagram.C_COLOUR


@pytest.mark.parametrize("gate", ["i", "g", "f", "o"])
def test_a_highlighted_gate_is_in_colour_and_the_others_are_grey(gate):
    fig = plots.cell_diagram(highlight=gate)
    assert _face(fig, f"box:{gate}") != diagram.GREY_FACE
    for other in set("igfo") - {gate}:
        assert _face(fig, f"box:{other}") == diagram.GREY_FACE, other
        assert _face(fig, f"box:{other}") != _face(fig, f"box:{gate}")
    assert _edge_colour(fig, f"edge:z{gate}") == diagram.H_COLOUR
    assert _edge_colour(fig, "edge:c_next") == diagram.GREY_LINE
    assert gate in fig.axes[0].get_title()


def test_highlighting_c_and_h_colours_the_cell_state_and_the_output_only():
    fig = plots.cell_diagram(highlight={"c", "h"})
    assert _edge_colour(fig, "edge:c") == diagram.C_COLOUR
    assert _edge_colour(fig, "edge:h") == diagram.H_COLOUR
    assert _face(fig, "box:tanh_c") == diagram.TANH_COLOUR
    assert _face(fig, "box:g") == diagram.GREY_FACE
    assert _edge_colour(fig, "edge:zi") == diagram.GREY_LINE
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("greyed" in t for t in legend)


def test_backward_diagram_puts_every_gradient_on_its_edge_and_reverses_arrows():
    fig = plots.cell_diagram(backward=True)
    texts = _texts(fig)
    for key in ("dh", "do", "dc", "dc_next", "di", "dg", "df", "dc_prev", "dh_prev", "dx"):
        assert diagram.GRADIENT_LABELS[key] in texts, key
    for gate in "igfo":
        assert rf"$\partial E/\partial z_{gate}$" in texts
    assert _edge_colour(fig, "edge:h") == diagram.GRAD_COLOUR
    assert _edge_colour(fig, "edge:c_next") == diagram.GRAD_C_COLOUR
    # The arrow on h_t's edge points back into the cell (leftwards) instead of out of it.
    fwd = _by_gid(plots.cell_diagram(), "edge:h")[-1]
    bwd = _by_gid(fig, "edge:h")[-1]
    assert fwd.xy[0] > fwd.xyann[0] and bwd.xy[0] < bwd.xyann[0]
    # The x_t arrow points up into the cell forward, down out of it backward.
    fwd = _by_gid(plots.cell_diagram(), "edge:x")[-1]
    bwd = _by_gid(fig, "edge:x")[-1]
    assert fwd.xy[1] > fwd.xyann[1] and bwd.xy[1] < bwd.xyann[1]


def test_backward_highlight_greys_the_other_gradients():
    fig = plots.cell_diagram(backward=True, highlight="o")
    colours = {t.get_text(): to_hex(t.get_color()) for t in fig.axes[0].texts}
    assert colours[diagram.GRADIENT_LABELS["do"]] == diagram.GRAD_COLOUR
    assert colours[diagram.GRADIENT_LABELS["df"]] == diagram.GREY_TEXT
    assert _edge_colour(fig, "edge:o") == diagram.GRAD_COLOUR
    assert _edge_colour(fig, "edge:f") == diagram.GREY_LINE


def test_draws_into_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    out = plots.cell_diagram(highlight="c", ax=axes[1], title="c only")
    assert out is fig
    assert axes[1].get_title() == "c only" and axes[1].texts and not axes[0].texts


@pytest.mark.parametrize("bad", ["z", "forget", {"i", "q"}, set(), 3, ["c", None]])
def test_bad_highlight_names_raise_value_error(bad):
    with pytest.raises(ValueError, match="highlight"):
        plots.cell_diagram(highlight=bad)


# --- NB-A's other figure changes: legends clear of the curves, every input channel drawn ---

def test_activation_legends_leave_the_derivative_peaks_visible():
    import numpy as np

    fig = plots.activation_curves()
    fig.canvas.draw()
    for ax, peak in zip(fig.axes[:2], ((0.0, 0.25), (0.0, 1.0)), strict=True):
        box = ax.get_legend().get_window_extent()
        assert not box.contains(*ax.transData.transform(peak)), ax.get_title()
        # and no drawn point of either curve lies under the legend
        for line in ax.lines[:2]:
            pts = ax.transData.transform(np.column_stack(line.get_data()))
            inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1)
                      & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1))
            assert not inside.any(), f"{line.get_label()} under the legend of {ax.get_title()}"


def test_cell_state_plot_draws_every_input_channel_and_keeps_input():
    import numpy as np

    rng = np.random.default_rng(0)
    cs, hs, xs = rng.normal(size=(10, 3)), rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    before = xs.copy()
    fig = plots.cell_state_plot(cs, hs, xs, x_labels=["sine", "pulses"])
    np.testing.assert_array_equal(xs, before)
    lines = {ln.get_label(): ln.get_ydata() for ln in fig.axes[2].lines}
    np.testing.assert_array_equal(lines["sine"], xs[:, 0])
    np.testing.assert_array_equal(lines["pulses"], xs[:, 1])
    fig = plots.cell_state_plot(cs, hs, xs[:, 0])
    assert [ln.get_label() for ln in fig.axes[2].lines] == ["input $x_t$"]
    with pytest.raises(ValueError, match="x_labels"):
        plots.cell_state_plot(cs, hs, xs, x_labels=["only one"])
