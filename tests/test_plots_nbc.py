"""plots.unrolled_diagram (notebook 08): the backward pass drawn as two messages per gap."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lstm_teach import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _arrows(ax, color):
    """Arrows (annotations) of one colour, as (x_from, x_to, y_from, y_to)."""
    out = []
    for a in ax.texts:
        props = getattr(a, "arrowprops", None)
        if props and props.get("color") == color:
            (x0, y0), (x1, y1) = a.xyann, a.xy
            out.append((x0, x1, y0, y1))
    return out


@pytest.mark.parametrize("T", [1, 3, 4])
def test_unrolled_diagram_sends_two_messages_back_per_gap(T):
    fig = plots.unrolled_diagram(T=T)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "dh and dc" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("delta c" in t for t in legend) and any("delta h" in t for t in legend)
    dh_back = [a for a in _arrows(ax, "#de2d26") if a[0] > a[1]]      # pointing left
    dc_back = [a for a in _arrows(ax, "#67000d") if a[0] > a[1]]
    assert len(dh_back) == T and len(dc_back) == T       # one of each into every gap, and h0, c0


def test_unrolled_diagram_final_state_adds_the_next_chunks_messages():
    ax_without = plots.unrolled_diagram(T=2).axes[0]
    ax_with = plots.unrolled_diagram(T=2, final_state=True).axes[0]
    assert len(_arrows(ax_with, "#67000d")) == len(_arrows(ax_without, "#67000d")) + 1
    assert len(_arrows(ax_with, "#de2d26")) == len(_arrows(ax_without, "#de2d26")) + 1
    assert any("next chunk" in t.get_text() for t in ax_with.texts)
    assert not any("next chunk" in t.get_text() for t in ax_without.texts)
