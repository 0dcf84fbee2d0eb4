"""The figures of notebooks 01-06 and 12: each returns a Figure with a title, axis labels and a
legend (or colour bars), and none writes into the arrays it is given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lstm_teach import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _main_axes(fig):
    """The axes that draw data (colour bars are axes too, but carry no title)."""
    return [ax for ax in fig.axes if ax.get_title() or ax.get_legend() is not None]


def _assert_labelled(fig, need_legend=True):
    assert isinstance(fig, Figure)
    axes = _main_axes(fig)
    assert axes, "no titled axes"
    for ax in axes:
        assert ax.get_title(), "an axes has no title"
        assert ax.get_xlabel() and ax.get_ylabel(), f"axes {ax.get_title()!r} lacks labels"
    if need_legend:
        assert any(ax.get_legend() is not None for ax in axes), "no legend"


def test_cell_diagram_draws_every_gate_with_legend():
    fig = plots.cell_diagram()
    # A diagram has no y-axis to label (issue 11: the rotated y-label was stray); the rest of
    # its labelling is tested in test_plots_diagram.py.
    assert fig.axes[0].get_title() and fig.axes[0].get_xlabel()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for gate in ("$i$", "$f$", "$g$", "$o$"):
        assert gate in texts, f"gate {gate} missing from the diagram"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("cell state" in t for t in legend)


def test_activation_curves_match_the_functions_and_keep_input():
    z = np.linspace(-3, 3, 13)
    before = z.copy()
    fig = plots.activation_curves(z)
    _assert_labelled(fig)
    np.testing.assert_array_equal(z, before)
    sig_ax, tanh_ax = fig.axes[:2]
    lines = {ln.get_label(): ln.get_ydata() for ln in sig_ax.lines + tanh_ax.lines}
    np.testing.assert_allclose(lines["sigmoid(z)"], 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(lines["tanh(z)"], np.tanh(z), rtol=1e-12)
    derivs = [v for k, v in lines.items() if k.startswith("derivative")]
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(derivs[0], s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(derivs[1], 1 - np.tanh(z) ** 2, rtol=1e-12)


def test_activation_curves_default_range():
    fig = plots.activation_curves()
    _assert_labelled(fig)
    assert len(fig.axes[0].lines[0].get_xdata()) == 241


def test_forget_bias_plot_one_line_per_curve():
    steps = np.arange(10)
    curves = {"b_f = 0": 0.5 ** steps, "b_f = 1": 0.73 ** steps}
    copies = {k: v.copy() for k, v in curves.items()}
    fig = plots.forget_bias_plot(steps, curves)
    _assert_labelled(fig)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(curves)
    for k in curves:
        np.testing.assert_array_equal(curves[k], copies[k])


def test_gate_heatmaps_one_panel_and_colour_bar_per_gate():
    rng = np.random.default_rng(0)
    gates = {"i": rng.uniform(0, 1, (7, 3)), "f": rng.uniform(0, 1, (7, 3)),
             "g": rng.uniform(-1, 1, (7, 3)), "o": rng.uniform(0, 1, (7, 3))}
    copies = {k: v.copy() for k, v in gates.items()}
    fig = plots.gate_heatmaps(gates)
    _assert_labelled(fig, need_legend=False)
    assert fig._suptitle is not None and fig._suptitle.get_text()
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    # Time runs along x: the image is (H, T) after the transpose.
    assert panels[0].images[0].get_array().shape == (3, 7)
    colorbars = [ax for ax in fig.axes if not ax.images and ax.get_ylabel().startswith("value")]
    assert len(colorbars) == 4
    assert panels[2].images[0].get_clim() == (-1, 1)
    assert panels[0].images[0].get_clim() == (0, 1)
    for k in gates:
        np.testing.assert_array_equal(gates[k], copies[k])


def test_cell_state_plot_with_and_without_input():
    rng = np.random.default_rng(1)
    cs, hs, xs = rng.normal(size=(6, 2)), rng.normal(size=(6, 2)), rng.normal(size=6)
    before = (cs.copy(), hs.copy(), xs.copy())
    fig = plots.cell_state_plot(cs, hs)
    _assert_labelled(fig)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_ydata(), cs[:, 1])
    fig = plots.cell_state_plot(cs, hs, xs)
    _assert_labelled(fig)
    assert len(fig.axes) == 3
    for a, b in zip(before, (cs, hs, xs), strict=True):
        np.testing.assert_array_equal(a, b)


def test_descent_plot():
    losses = {"h - y": np.array([1.0, 0.5, 0.25]), "y - h": np.array([1.0, 2.0, 4.0])}
    fig = plots.descent_plot(losses)
    _assert_labelled(fig)
    assert len(fig.axes[0].lines) == 2
    np.testing.assert_array_equal(losses["y - h"], [1.0, 2.0, 4.0])


def test_error_bars_groups_and_pass_mark():
    names = ["wxi", "whi", "bi"]
    errors = {"seed": np.array([0.3, 0.0, 1.0]), "BPTT": np.array([1e-10, 1e-11, 1e-9])}
    copies = {k: v.copy() for k, v in errors.items()}
    fig = plots.error_bars(names, errors, tol=1e-7)
    _assert_labelled(fig)
    ax = fig.axes[0]
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    # A zero error is still drawn (at the floor of the log axis) rather than vanishing.
    assert min(p.get_height() for p in ax.patches) == pytest.approx(1e-16)
    for k in errors:
        np.testing.assert_array_equal(errors[k], copies[k])
