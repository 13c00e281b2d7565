import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils.latent.decoding import normal_quantiles
from course_utils.latent.plots import plot_decoded_grid


def test_plot_decoded_grid_labels_columns_and_rows_with_their_codes():
    values = normal_quantiles(5)
    picture = np.random.default_rng(0).uniform(size=(5 * 28, 5 * 28))
    figure = plot_decoded_grid(picture, values, max_ticks=5)
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{v:.2f}" for v in values]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{v:.2f}" for v in values[::-1]]
    np.testing.assert_allclose(ax.get_xticks(), np.arange(5) * 28 + 13.5)
    np.testing.assert_allclose(ax.images[0].get_array(), picture, rtol=1e-6)


def test_plot_decoded_grid_thins_ticks_and_draws_on_given_axes():
    figure = Figure()
    ax = figure.subplots()
    returned = plot_decoded_grid(np.zeros((30 * 4, 30 * 4)), normal_quantiles(30), ax=ax)
    assert returned is figure
    assert len(ax.get_xticks()) == 7


def test_plot_decoded_grid_checks_inputs():
    with pytest.raises(ValueError):
        plot_decoded_grid(np.zeros((50, 50)), normal_quantiles(3))
    with pytest.raises(ValueError):
        plot_decoded_grid(np.zeros((3, 28, 28)), normal_quantiles(3))
    with pytest.raises(TypeError):
        plot_decoded_grid(np.zeros((84, 84)), normal_quantiles(3), ax="axes")


def test_plot_decoded_grid_refuses_non_finite_axis_values_and_an_empty_picture():
    values = normal_quantiles(3)
    with pytest.raises(ValueError, match=r"axis_values must hold finite numbers"):
        plot_decoded_grid(np.zeros((84, 84)), np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"picture must hold at least one row; got 0"):
        plot_decoded_grid(np.zeros((0, 0)), values)
