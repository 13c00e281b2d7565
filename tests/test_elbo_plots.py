import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils.elbo.plots import plot_elbo_versus_mean, plot_estimator_histograms

MEANS = np.linspace(-1.0, 1.0, 11)
CURVE = -1.0 - MEANS**2


def test_plot_elbo_versus_mean_draws_each_curve_and_the_reference_lines():
    figure = plot_elbo_versus_mean(MEANS, {"a": CURVE, "b": CURVE - 1.0}, -1.0, best_mean=0.0)
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 4  # two curves, log p(x), posterior mean
    np.testing.assert_array_equal(lines[1].get_ydata(), CURVE - 1.0)
    np.testing.assert_array_equal(lines[2].get_ydata(), [-1.0, -1.0])
    np.testing.assert_array_equal(lines[3].get_xdata(), [0.0, 0.0])
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[:2] == ["a", "b"]


def test_plot_elbo_versus_mean_uses_given_axes_and_skips_the_optional_line():
    figure = Figure()
    ax = figure.subplots()
    assert plot_elbo_versus_mean(MEANS, {"a": CURVE}, 0.0, ax=ax) is figure
    assert len(ax.get_lines()) == 2


def test_plot_elbo_versus_mean_rejects_bad_input():
    with pytest.raises(ValueError, match="one value per mean"):
        plot_elbo_versus_mean(MEANS, {"a": CURVE[:-1]}, 0.0)
    with pytest.raises(ValueError, match="non-empty"):
        plot_elbo_versus_mean(MEANS, {}, 0.0)
    with pytest.raises(ValueError, match="finite"):
        plot_elbo_versus_mean(MEANS, {"a": CURVE}, float("nan"))
    with pytest.raises(TypeError, match="Axes"):
        plot_elbo_versus_mean(MEANS, {"a": CURVE}, 0.0, ax="not axes")


def test_plot_estimator_histograms_shares_bins_and_reports_moments():
    rng = np.random.default_rng(0)
    narrow, wide = rng.normal(0.0, 1.0, 5000), rng.normal(0.0, 5.0, 5000)
    figure = plot_estimator_histograms({"narrow": narrow, "wide": wide}, 0.0, bins=30)
    ax = figure.axes[0]
    assert len(ax.patches) == 2
    spans = [(patch.get_xy()[:, 0].min(), patch.get_xy()[:, 0].max()) for patch in ax.patches]
    assert spans[0] == spans[1]  # one shared set of bins
    assert spans[0][0] <= np.quantile(np.r_[narrow, wide], 0.01)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0].startswith("narrow: mean") and f"{narrow.var(ddof=1):.3g}" in labels[0]
    assert f"{wide.var(ddof=1):.3g}" in labels[1]
    assert "exact gradient 0" in labels[2]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [0.0, 0.0])


def test_plot_estimator_histograms_handles_constant_estimates_and_given_axes():
    figure = Figure()
    ax = figure.subplots()
    assert plot_estimator_histograms({"constant": np.full(10, 2.0)}, 2.0, ax=ax) is figure
    low, high = ax.get_xlim()
    assert low < 2.0 < high


def test_plot_estimator_histograms_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        plot_estimator_histograms({"one": [1.0]}, 0.0)
    with pytest.raises(ValueError, match="bins"):
        plot_estimator_histograms({"a": [1.0, 2.0]}, 0.0, bins=1)
    with pytest.raises(TypeError, match="bins"):
        plot_estimator_histograms({"a": [1.0, 2.0]}, 0.0, bins=2.5)
    with pytest.raises(ValueError, match="non-empty"):
        plot_estimator_histograms({}, 0.0)
