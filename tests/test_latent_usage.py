"""Tests of course_utils.latent.usage: KL per dimension and active units."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.latent.usage import active_units, kl_per_dimension, latent_activity


def test_kl_per_dimension_adds_up_to_the_closed_form_kl():
    rng = np.random.default_rng(0)
    z_mean = rng.normal(size=(50, 6))
    z_log_var = rng.normal(scale=1.5, size=(50, 6))
    per_dim = kl_per_dimension(z_mean, z_log_var)
    assert per_dim.shape == (6,) and np.all(per_dim >= 0)
    total = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)
    np.testing.assert_allclose(per_dim.sum(), total.mean(), rtol=1e-12)
    column = -0.5 * (1 + z_log_var[:, 2] - z_mean[:, 2] ** 2 - np.exp(z_log_var[:, 2]))
    np.testing.assert_allclose(per_dim[2], column.mean(), rtol=1e-12)


def test_a_dimension_at_the_prior_has_zero_kl():
    z_mean = np.zeros((10, 3))
    z_mean[:, 0] = 1.0
    per_dim = kl_per_dimension(z_mean, np.zeros((10, 3)))
    np.testing.assert_array_equal(per_dim[1:], 0.0)
    assert per_dim[0] == pytest.approx(0.5)


def test_active_units_count_columns_whose_variance_exceeds_the_threshold():
    signs = np.where(np.arange(100) % 2 == 0, 1.0, -1.0)[:, None]  # variance exactly 1
    spreads = np.array([1.0, 0.2, 0.11, 0.09, 0.0])  # variances 1, .04, .0121, .0081, 0
    z_mean = 3.0 + signs * spreads
    np.testing.assert_allclose(latent_activity(z_mean), spreads**2, atol=1e-15)
    assert active_units(z_mean) == 3
    assert active_units(z_mean, threshold=0.05) == 1
    assert active_units(z_mean, threshold=0.0) == 4


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="same shape"):
        kl_per_dimension(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="latent_dim"):
        latent_activity(np.zeros(5))
    with pytest.raises(ValueError, match="at least 2"):
        active_units(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="finite"):
        active_units(np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="threshold"):
        active_units(np.zeros((4, 2)), threshold=-1)


def test_empty_and_non_finite_encoder_outputs_are_refused_with_a_fix():
    with pytest.raises(ValueError, match=r"z_mean must hold at least one code; got 0"):
        kl_per_dimension(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"z_log_var must hold finite numbers; got 1 "
                                         r"infinite value.*training diverged"):
        kl_per_dimension(np.zeros((2, 2)), np.array([[0.0, np.inf], [0.0, 0.0]]))
    with pytest.raises(TypeError, match=r"z_mean must be a numeric array"):
        latent_activity([["a", "b"]])
