"""Tests for course_utils.elbo.estimators.

Monte Carlo results are compared with exact values within 4 standard errors (a fixed
seed makes each comparison deterministic; for a correct estimator a 4-SE miss has
probability about 6e-5 per seed). Exact expectations of polynomials of a standard
normal are computed independently with Gauss-Hermite quadrature.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils.elbo.estimators import (
    Gradient,
    analytic_gradient,
    expected_squared_distance,
    kl_monte_carlo,
    pathwise_gradient,
    score_function_gradient,
)

N_SE = 4.0


def _normal_expectation(g) -> float:
    """E[g(eps)], eps ~ N(0, 1), exact for polynomials of degree < 80."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    return float(np.sum(weights * g(nodes)) / math.sqrt(2 * math.pi))


def _kl_closed_form(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    return -0.5 * np.sum(1.0 + log_var - mean**2 - np.exp(log_var), axis=-1)


def _standard_error(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values)))


# ------------------------------------------------------------------------------ KL


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kl_monte_carlo_agrees_with_closed_form_within_4_standard_errors(seed):
    rng = np.random.default_rng(100 + seed)
    mean = rng.normal(size=(6, 3))
    log_var = rng.normal(scale=1.0, size=(6, 3))
    estimate, standard_error = kl_monte_carlo(mean, log_var, n_samples=20_000, seed=seed)
    assert estimate.shape == standard_error.shape == (6,)
    assert np.all(standard_error > 0)
    error = np.abs(estimate - _kl_closed_form(mean, log_var))
    assert np.all(error < N_SE * standard_error), error / standard_error


def test_kl_monte_carlo_standard_error_matches_the_spread_of_repeated_estimates():
    mean, log_var = np.array([[0.5, -1.0]]), np.array([[0.3, -0.7]])
    repeats = np.array([kl_monte_carlo(mean, log_var, 400, seed=s)[0][0] for s in range(200)])
    _, standard_error = kl_monte_carlo(mean, log_var, 400, seed=999)
    assert repeats.std(ddof=1) == pytest.approx(standard_error[0], rel=0.2)


def test_kl_monte_carlo_is_exact_at_the_prior():
    estimate, standard_error = kl_monte_carlo(np.zeros((2, 3)), np.zeros((2, 3)), 50, seed=0)
    np.testing.assert_allclose(estimate, 0.0, atol=1e-15)
    np.testing.assert_allclose(standard_error, 0.0, atol=1e-15)


def test_kl_monte_carlo_is_reproducible_and_seed_dependent():
    mean, log_var = np.ones((2, 2)), -np.ones((2, 2))
    first = kl_monte_carlo(mean, log_var, 100, seed=7)
    again = kl_monte_carlo(mean, log_var, 100, seed=7)
    other = kl_monte_carlo(mean, log_var, 100, seed=8)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


def test_kl_monte_carlo_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"z_mean and z_log_var\b.*same "
                                         r"shape.*got \(2, 3\) and \(2, 2\)"):
        kl_monte_carlo(np.zeros((2, 3)), np.zeros((2, 2)), 10)
    with pytest.raises(ValueError, match=r"z_mean\b.*2 dimension.*got "
                                         r"shape \(3,\)"):
        kl_monte_carlo(np.zeros(3), np.zeros(3), 10)
    with pytest.raises(ValueError, match=r"n_samples\b.*>= 2.*got 1\b"):
        kl_monte_carlo(np.zeros((1, 1)), np.zeros((1, 1)), 1)
    with pytest.raises(TypeError, match=r"n_samples\b.*whole number.*got "
                                        r"float 10\.0"):
        kl_monte_carlo(np.zeros((1, 1)), np.zeros((1, 1)), 10.0)
    with pytest.raises(TypeError, match=r"z_mean\b.*numeric array.*got str"):
        kl_monte_carlo("zeros", np.zeros((1, 1)), 10)
    with pytest.raises(ValueError, match=r"z_log_var\b.*finite.*got NaN"):
        kl_monte_carlo(np.zeros((1, 1)), np.full((1, 1), np.nan), 10)
    with pytest.raises(ValueError, match=r"seed\b.*>= 0.*got -1\b"):
        kl_monte_carlo(np.zeros((1, 1)), np.zeros((1, 1)), 10, seed=-1)


# ---------------------------------------------------------------- exact references


@pytest.mark.parametrize(("mean", "log_var", "target"),
                         [(0.0, 0.0, 3.0), (1.5, -1.0, 0.5), (-2.0, 0.7, 1.0)])
def test_objective_and_gradient_match_quadrature_and_finite_differences(mean, log_var,
                                                                        target):
    sigma = math.exp(0.5 * log_var)
    by_quadrature = _normal_expectation(lambda e: (mean + sigma * e - target) ** 2)
    assert expected_squared_distance(mean, log_var, target) == pytest.approx(by_quadrature,
                                                                             rel=1e-12)
    h = 1e-5
    d_mean = (expected_squared_distance(mean + h, log_var, target)
              - expected_squared_distance(mean - h, log_var, target)) / (2 * h)
    d_log_var = (expected_squared_distance(mean, log_var + h, target)
                 - expected_squared_distance(mean, log_var - h, target)) / (2 * h)
    gradient = analytic_gradient(mean, log_var, target)
    assert isinstance(gradient, Gradient)
    assert gradient.mean == pytest.approx(d_mean, rel=1e-7)
    assert gradient.log_var == pytest.approx(d_log_var, rel=1e-7)


# ------------------------------------------------------------ gradient estimators

_CASES = [(0.0, 0.0, 3.0), (1.5, -1.0, 0.5), (-2.0, 0.7, 1.0)]


@pytest.mark.parametrize(("mean", "log_var", "target"), _CASES)
@pytest.mark.parametrize("estimator", [score_function_gradient, pathwise_gradient])
def test_both_estimators_are_unbiased_within_4_standard_errors(estimator, mean, log_var,
                                                               target):
    estimates = estimator(mean, log_var, target, n_estimates=50_000, seed=11)
    exact = analytic_gradient(mean, log_var, target)
    for name in ("mean", "log_var"):
        values = getattr(estimates, name)
        assert values.shape == (50_000,)
        error = abs(values.mean() - getattr(exact, name))
        assert error < N_SE * _standard_error(values), (name, error)


def _one_sample_estimates(mean: float, log_var: float, target: float, baseline: float = 0.0):
    """Textbook one-sample estimators as functions of eps, written out independently."""
    sigma = math.exp(0.5 * log_var)

    def f(e):
        return (mean + sigma * e - target) ** 2

    return {
        ("score", "mean"): lambda e: (f(e) - baseline) * (sigma * e) / sigma**2,
        ("score", "log_var"): lambda e: (f(e) - baseline) * 0.5 * (e**2 - 1),
        ("pathwise", "mean"): lambda e: 2 * (mean + sigma * e - target),
        ("pathwise", "log_var"): lambda e: 2 * (mean + sigma * e - target) * 0.5 * sigma * e,
    }


def _assert_variance_within_4_se(values: np.ndarray, g) -> float:
    """Sample variance of ``values`` vs the exact variance of g(eps); returns the latter.

    The standard error of a sample variance is sqrt((mu4 - var^2) / n), with mu4 the
    fourth central moment, both computed exactly by quadrature.
    """
    mean = _normal_expectation(g)
    variance = _normal_expectation(lambda e: (g(e) - mean) ** 2)
    fourth = _normal_expectation(lambda e: (g(e) - mean) ** 4)
    standard_error = math.sqrt((fourth - variance**2) / len(values))
    assert abs(values.var(ddof=1) - variance) < N_SE * standard_error, (
        values.var(ddof=1), variance, standard_error)
    return variance


def test_score_function_variance_is_far_larger_at_the_documented_point():
    # mean 0, log_var 0, target 3; one sample per estimate; d/dmean.
    score = score_function_gradient(0.0, 0.0, 3.0, n_estimates=40_000, seed=3).mean
    pathwise = pathwise_gradient(0.0, 0.0, 3.0, n_estimates=40_000, seed=4).mean
    formulas = _one_sample_estimates(0.0, 0.0, 3.0)
    exact_score = _assert_variance_within_4_se(score, formulas["score", "mean"])
    exact_pathwise = _assert_variance_within_4_se(pathwise, formulas["pathwise", "mean"])
    # By hand: E[(eps - 3)^4 eps^2] - 6^2 = 258 - 36 and Var(2 (eps - 3)) = 4.
    assert (exact_score, exact_pathwise) == (pytest.approx(222.0), pytest.approx(4.0))
    assert score.var(ddof=1) > 20 * pathwise.var(ddof=1)


@pytest.mark.parametrize(("mean", "log_var", "target"), _CASES)
def test_estimator_variances_match_their_exact_values(mean, log_var, target):
    score = score_function_gradient(mean, log_var, target, n_estimates=40_000, seed=5)
    pathwise = pathwise_gradient(mean, log_var, target, n_estimates=40_000, seed=6)
    formulas = _one_sample_estimates(mean, log_var, target)
    for (kind, name), g in formulas.items():
        estimates = score if kind == "score" else pathwise
        _assert_variance_within_4_se(getattr(estimates, name), g)
    for name in ("mean", "log_var"):
        assert getattr(score, name).var() > getattr(pathwise, name).var()


@pytest.mark.parametrize("estimator", [score_function_gradient, pathwise_gradient])
def test_averaging_n_samples_divides_the_variance_by_n(estimator):
    kind = "score" if estimator is score_function_gradient else "pathwise"
    g = _one_sample_estimates(0.5, 0.2, 2.0)[kind, "mean"]
    single = _normal_expectation(lambda e: g(e) ** 2) - _normal_expectation(g) ** 2
    ten = estimator(0.5, 0.2, 2.0, n_estimates=20_000, n_samples=10, seed=2).mean
    # An average of 10 has kurtosis close to a Gaussian's: relative SE of its sample
    # variance is about sqrt(2 / 20000) = 1%, so 5% is a generous 5 SE.
    assert ten.var(ddof=1) == pytest.approx(single / 10, rel=0.05)


def test_a_baseline_keeps_the_score_function_unbiased_and_lowers_its_variance():
    exact = analytic_gradient(0.0, 0.0, 3.0)
    baseline = expected_squared_distance(0.0, 0.0, 3.0)
    plain = score_function_gradient(0.0, 0.0, 3.0, n_estimates=40_000, seed=9)
    centred = score_function_gradient(0.0, 0.0, 3.0, n_estimates=40_000, seed=9,
                                      baseline=baseline)
    plain_formulas = _one_sample_estimates(0.0, 0.0, 3.0)
    centred_formulas = _one_sample_estimates(0.0, 0.0, 3.0, baseline=baseline)
    for name in ("mean", "log_var"):
        values = getattr(centred, name)
        assert abs(values.mean() - getattr(exact, name)) < N_SE * _standard_error(values)
        exact_plain = _assert_variance_within_4_se(getattr(plain, name),
                                                   plain_formulas["score", name])
        exact_centred = _assert_variance_within_4_se(values, centred_formulas["score", name])
        assert exact_centred < 0.6 * exact_plain


def test_estimators_are_reproducible():
    a = score_function_gradient(0.1, 0.2, n_estimates=10, seed=3)
    b = score_function_gradient(0.1, 0.2, n_estimates=10, seed=3)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.log_var, b.log_var)


def test_gradient_functions_reject_bad_inputs():
    with pytest.raises(TypeError, match=r"mean\b.*real number.*got str '0'"):
        pathwise_gradient("0", 0.0)
    with pytest.raises(ValueError, match=r"log_var\b.*finite.*got inf"):
        analytic_gradient(0.0, math.inf)
    with pytest.raises(TypeError, match=r"n_estimates\b.*whole number.*got "
                                        r"bool True"):
        score_function_gradient(0.0, 0.0, n_estimates=True)
    with pytest.raises(ValueError, match=r"n_samples\b.*>= 1.*got 0\b"):
        pathwise_gradient(0.0, 0.0, n_samples=0)
    with pytest.raises(TypeError, match=r"baseline\b.*real number"):
        score_function_gradient(0.0, 0.0, baseline=None)
    with pytest.raises(TypeError, match=r"seed\b.*whole number.*got float"):
        pathwise_gradient(0.0, 0.0, seed=1.5)
