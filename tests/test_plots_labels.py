"""``plots.ceg_vs_compute``: the 1x/5x/20x labels stay inside their panels (issue #15)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import ceg  # noqa: E402
from ceg.dataset import load_dataset  # noqa: E402
from ceg.plots import ceg_vs_compute  # noqa: E402
from fakes import fake_fit  # noqa: E402


@pytest.fixture(scope="module")
def fit():
    reg = ceg.load_registries()
    return fake_fit(load_dataset(reg), seed=4, draws=20, chains=2, registries=reg)


def test_reference_labels_sit_inside_their_panels(fit):
    fig = ceg_vs_compute(fit)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labelled = 0
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)
        low, high = ax.get_ylim()
        labels = [t for t in ax.texts if t.get_gid() == "reference_label"]
        on_scale = [v for v in (1, 5, 20) if low <= v <= high]
        assert sorted(float(t.get_text().rstrip("x")) for t in labels) == on_scale
        for t in labels:
            ext = t.get_window_extent(renderer)
            assert box.x0 <= ext.x0 and ext.x1 <= box.x1 + 0.5, t.get_text()
            assert box.y0 <= ext.y0 and ext.y1 <= box.y1 + 0.5, t.get_text()
            labelled += 1
    assert labelled > 0
    plt.close(fig)
