import numpy as np
import pytest

from course_utils.latent.sampling import (
    hole_fraction,
    nearest_code_distance,
    sample_box,
    sample_fitted_gaussian,
)


@pytest.fixture
def codes():
    return np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32) * [3.0, 0.5]


def test_sample_box_stays_inside_bounding_box_and_is_seeded(codes):
    points = sample_box(codes, 1000, seed=4)
    assert points.shape == (1000, 2) and points.dtype == np.float32
    assert np.all(points >= codes.min(axis=0)) and np.all(points <= codes.max(axis=0))
    np.testing.assert_array_equal(points, sample_box(codes, 1000, seed=4))
    assert not np.array_equal(points, sample_box(codes, 1000, seed=5))


def test_sample_fitted_gaussian_matches_mean_and_covariance(codes):
    points = sample_fitted_gaussian(codes, 20000, seed=1)
    np.testing.assert_allclose(points.mean(axis=0), codes.mean(axis=0), atol=0.06)
    np.testing.assert_allclose(np.cov(points, rowvar=False), np.cov(codes, rowvar=False),
                               rtol=0.05, atol=0.02)


def test_nearest_code_distance_matches_brute_force_across_chunks(codes):
    points = np.random.default_rng(2).normal(size=(37, 2)) * 4
    expected = [min(np.hypot(*(p - c)) for c in codes) for p in points]
    np.testing.assert_allclose(nearest_code_distance(points, codes, chunk=5), expected,
                               rtol=1e-5)


def test_hole_fraction_low_for_data_like_points_and_one_for_far_points(codes):
    like_data = np.random.default_rng(9).normal(size=(400, 2)) * [3.0, 0.5]
    assert hole_fraction(like_data, codes) < 0.1
    assert hole_fraction(codes[:250] + 100.0, codes) == 1.0


def test_latent_helpers_validate_inputs(codes):
    with pytest.raises(ValueError, match="same dimension"):
        nearest_code_distance(np.zeros((3, 3)), codes)
    with pytest.raises(ValueError, match="2 dimensions"):
        sample_box(np.zeros(5), 3)
    with pytest.raises(ValueError, match="quantile"):
        hole_fraction(codes, codes, quantile=1.0)
    with pytest.raises(ValueError, match=r"\bn\b.*>= 1"):
        sample_fitted_gaussian(codes, 0)


def test_latent_helpers_refuse_non_finite_codes_and_empty_points(codes):
    broken = codes.copy()
    broken[7, 1] = np.nan
    for call in (lambda: sample_box(broken, 3), lambda: sample_fitted_gaussian(broken, 3),
                 lambda: nearest_code_distance(codes[:3], broken),
                 lambda: hole_fraction(codes[:3], broken)):
        with pytest.raises(ValueError, match=r"codes must hold finite numbers; got 1 NaN"):
            call()
    with pytest.raises(ValueError, match=r"points must hold finite numbers"):
        hole_fraction(broken, codes)
    with pytest.raises(ValueError, match=r"points must hold at least one code; got 0"):
        hole_fraction(codes[:0], codes)
    with pytest.raises(ValueError, match=r"codes must hold at least 2 codes; got 1"):
        sample_box(codes[:1], 3)
