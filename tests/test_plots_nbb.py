"""error_bars as notebook 06 uses it: NaN entries mean "this slip does not apply"."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lstm_teach import plots  # noqa: E402


def _heights(fig, label):
    ax = fig.axes[0]
    for container in ax.containers:
        if container.get_label() == label:
            return np.array([bar.get_height() for bar in container])
    raise AssertionError(f"no bar series labelled {label!r}")


def test_error_bars_nan_draws_no_bar_and_zero_is_floored():
    errors = {"right": [1e-10, 0.0, 2e-9], "slip": [np.nan, 0.3, np.nan]}
    given = {k: list(v) for k, v in errors.items()}
    fig = plots.error_bars(["a", "b", "c"], errors, tol=1e-7)
    try:
        right, slip = _heights(fig, "right"), _heights(fig, "slip")
        assert np.allclose(right, [1e-10, 1e-16, 2e-9])        # a zero is drawn at 1e-16
        assert np.isnan(slip[0]) and np.isnan(slip[2]) and np.isclose(slip[1], 0.3)
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert "right" in labels and "slip" in labels and "pass mark 1e-07" in labels
    finally:
        plt.close(fig)
    for k in errors:  # the caller's lists are not modified
        assert np.array_equal(errors[k], given[k], equal_nan=True)
