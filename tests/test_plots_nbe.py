"""plots.error_windows (notebook 13): one line per scheme, the caller's arrays untouched."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lstm_teach import plots  # noqa: E402


def test_error_windows_draws_each_scheme_and_leaves_inputs_alone():
    windows = {"full": np.arange(1, 9), "truncate=3": np.minimum(np.arange(1, 9), 3),
               "chunks of 4": np.arange(8) % 4 + 1}
    given = {k: v.copy() for k, v in windows.items()}
    fig = plots.error_windows(windows, chunk=4)
    try:
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == list(windows)
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        lines = [ln for ln in ax.get_lines() if ln.get_label() in windows]
        assert len(lines) == 3
        # each line holds its counts (offset by a small amount so that equal lines stay visible)
        for n, (label, counts) in enumerate(windows.items()):
            y = next(ln for ln in lines if ln.get_label() == label).get_ydata()
            assert np.allclose(np.asarray(y) - 0.08 * n, counts)
        assert sum(1 for ln in ax.get_lines() if ln.get_label().startswith("_")) == 1  # 1 boundary
    finally:
        plt.close(fig)
    for k in windows:
        assert np.array_equal(windows[k], given[k])
