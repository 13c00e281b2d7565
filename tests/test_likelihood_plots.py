"""Tests of course_utils.elbo.likelihood_plots."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils.elbo.plots import plot_pixel_losses
from course_utils.latent.plots import plot_kl_per_dimension


def test_plot_pixel_losses_draws_one_line_per_loss_and_the_target():
    p = np.linspace(0.01, 0.99, 50)
    figure = plot_pixel_losses(p, {"a": p**2, "b": 1 - p}, target=0.3)
    assert isinstance(figure, Figure)
    lines = figure.axes[0].get_lines()
    assert len(lines) == 3
    np.testing.assert_allclose(lines[0].get_ydata(), p**2)
    with pytest.raises(ValueError, match="one value per prediction"):
        plot_pixel_losses(p, {"a": p[:3]})
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_pixel_losses(p, {})


def test_plot_kl_per_dimension_draws_sorted_grouped_bars():
    kl = {"A": [0.1, 3.0, 1.0], "B": [0.0, 0.0, 0.5]}
    figure = plot_kl_per_dimension(kl)
    containers = figure.axes[0].containers
    assert len(containers) == 2
    heights = [[bar.get_height() for bar in c] for c in containers]
    assert heights == [[3.0, 1.0, 0.1], [0.5, 0.0, 0.0]]
    unsorted = plot_kl_per_dimension(kl, sort=False).axes[0].containers
    assert [bar.get_height() for bar in unsorted[0]] == [0.1, 3.0, 1.0]


def test_plot_kl_per_dimension_uses_given_axes_and_checks_sizes():
    figure = Figure()
    ax = figure.subplots()
    assert plot_kl_per_dimension({"A": [1.0, 2.0]}, ax=ax) is figure
    with pytest.raises(ValueError, match="same latent_dim"):
        plot_kl_per_dimension({"A": [1.0, 2.0], "B": [1.0]})
    with pytest.raises(TypeError, match="Axes"):
        plot_kl_per_dimension({"A": [1.0]}, ax="axes")
