"""Tests of course_utils.evaluation.rate_distortion: the sweep summary and the plot."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure
from synthetic import blob_images

from course_utils.evaluation.rate_distortion import plot_rate_distortion, rate_distortion_point
from course_utils.latent.usage import kl_per_dimension
from course_utils.models.vae import build_dense_vae


@pytest.fixture(scope="module")
def vae():
    keras.utils.set_random_seed(0)
    model = build_dense_vae(3, hidden=(16,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def test_point_adds_up_repeats_and_matches_the_encoder(vae):
    images = blob_images(40)
    point = rate_distortion_point(vae, images, samples=2, seed=3, batch_size=16)
    again = rate_distortion_point(vae, images, samples=2, seed=3, batch_size=7)
    assert point["distortion"] == pytest.approx(again["distortion"], rel=1e-5)
    z_mean, z_log_var = vae.encode(images)
    np.testing.assert_allclose(point["kl_per_dimension"], kl_per_dimension(z_mean, z_log_var))
    assert point["rate"] == pytest.approx(point["kl_per_dimension"].sum())
    assert point["negative_elbo"] == pytest.approx(point["rate"] + point["distortion"])
    assert isinstance(point["active_units"], int) and 0 <= point["active_units"] <= 3
    # The distortion is the Monte Carlo reconstruction term: close to the model's own
    # estimate with many samples.
    many = rate_distortion_point(vae, images, samples=64, seed=0)
    own = vae.evaluate_nelbo(images)
    assert many["distortion"] == pytest.approx(own["reconstruction_loss"], rel=0.02)
    assert many["rate"] == pytest.approx(own["kl_loss"], rel=1e-4)


def test_point_refuses_bad_inputs(vae):
    with pytest.raises(TypeError, match="VAE"):
        rate_distortion_point("model", blob_images(4))
    with pytest.raises(ValueError, match="samples"):
        rate_distortion_point(vae, blob_images(4), samples=0)
    with pytest.raises(ValueError, match="pixel"):
        rate_distortion_point(vae, blob_images(4) * 255)


def test_plot_draws_one_point_per_model_and_returns_the_figure():
    figure = plot_rate_distortion([0.0, 5.0, 20.0], [200.0, 150.0, 120.0],
                                  ["beta = 16", "beta = 4", "beta = 1"])
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    xs, ys = ax.lines[0].get_data()
    np.testing.assert_array_equal(xs, [0.0, 5.0, 20.0])
    np.testing.assert_array_equal(ys, [200.0, 150.0, 120.0])
    assert [t.get_text() for t in ax.texts] == ["beta = 16", "beta = 4", "beta = 1"]
    assert len(ax.lines) == 3  # the curve and two lines of equal negative ELBO
    existing = Figure().subplots()
    assert plot_rate_distortion([1.0], [2.0], ax=existing, elbo_lines=False) is existing.figure


@pytest.mark.parametrize("rates, distortions, labels, error", [
    ([1.0, 2.0], [3.0], None, ValueError),
    ([-1.0], [3.0], None, ValueError),
    ([float("nan")], [3.0], None, ValueError),
    ([1.0], [3.0], ["a", "b"], ValueError),
])
def test_plot_refuses_bad_inputs(rates, distortions, labels, error):
    with pytest.raises(error):
        plot_rate_distortion(rates, distortions, labels)
