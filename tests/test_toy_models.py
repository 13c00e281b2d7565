"""Tests for course_utils.elbo.toy_models: the linear-Gaussian model and Gaussian KL.

Exact identities (ELBO = log p(x) at the posterior, log p(x) = ELBO + KL) are checked
to 1e-6 absolute in float64; Monte Carlo estimates within 4 standard errors.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.elbo.toy_models import LinearGaussianModel, diagonal_covariance, gaussian_kl

N_SE = 4.0
EXACT = 1e-6


def _mvn_log_density(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Textbook multivariate normal log-density with slogdet and a linear solve."""
    sign, log_det = np.linalg.slogdet(cov)
    assert sign > 0
    residual = x - mean
    quadratic = np.einsum("ni,ni->n", residual, np.linalg.solve(cov, residual.T).T)
    return -0.5 * (quadratic + log_det + len(mean) * math.log(2 * math.pi))


@pytest.fixture
def general_model() -> LinearGaussianModel:
    return LinearGaussianModel.random(data_dim=5, latent_dim=3, noise_std=0.7,
                                      orthogonal=False, seed=3)


@pytest.fixture
def orthogonal_model() -> LinearGaussianModel:
    return LinearGaussianModel.random(data_dim=6, latent_dim=2, noise_std=0.4, seed=4)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(77)


def _random_q(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=(n, k)), rng.normal(scale=0.8, size=(n, k))


# ----------------------------------------------------------------- exact evidence


def test_log_evidence_is_the_density_of_n_b_wwt_plus_sigma2_i(general_model, rng):
    w, b, sigma = general_model.weights, general_model.bias, general_model.noise_std
    x = rng.normal(size=(8, 5)) * 2
    expected = _mvn_log_density(x, b, w @ w.T + sigma**2 * np.eye(5))
    np.testing.assert_allclose(general_model.log_evidence(x), expected, rtol=1e-12)


def test_log_evidence_in_one_dimension_by_hand():
    model = LinearGaussianModel(weights=[[2.0]], bias=[1.0], noise_std=0.5)
    x = np.array([[0.0], [1.0], [3.5]])
    variance = 2.0**2 + 0.5**2
    expected = -0.5 * ((x[:, 0] - 1.0) ** 2 / variance + math.log(2 * math.pi * variance))
    np.testing.assert_allclose(model.log_evidence(x), expected, rtol=1e-13)


def test_log_evidence_matches_importance_sampling_from_the_prior():
    model = LinearGaussianModel.random(data_dim=2, latent_dim=1, noise_std=1.0, seed=5)
    x, _ = model.sample(3, seed=6)
    z = np.random.default_rng(7).standard_normal((200_000, 1, 1))
    log_likelihood = model.log_joint(x, np.broadcast_to(z, (200_000, 3, 1)))
    log_likelihood = log_likelihood + 0.5 * (z[:, :, 0] ** 2 + math.log(2 * math.pi))
    weights = np.exp(log_likelihood)  # p(x|z), z ~ p(z)
    estimate = weights.mean(axis=0)
    standard_error = weights.std(axis=0, ddof=1) / math.sqrt(len(weights))
    exact = np.exp(model.log_evidence(x))
    assert np.all(np.abs(estimate - exact) < N_SE * standard_error)


def test_samples_follow_the_marginal(general_model):
    x, z = general_model.sample(100_000, seed=1)
    assert x.shape == (100_000, 5) and z.shape == (100_000, 3)
    mean, cov = general_model.marginal()
    standard_error = np.sqrt(np.diag(cov) / len(x))
    assert np.all(np.abs(x.mean(axis=0) - mean) < N_SE * standard_error)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05 * np.max(np.abs(cov)))


# --------------------------------------------------------------------- posterior


def test_posterior_matches_gaussian_conditioning(general_model, rng):
    # Joint of (z, x): cov(z, x) = W^T, cov(x) = C; p(z|x) = N(W^T C^-1 (x - b),
    # I - W^T C^-1 W). A different formula from the precision form used by the model.
    w, b = general_model.weights, general_model.bias
    _, c = general_model.marginal()
    x = rng.normal(size=(4, 5))
    mean, cov = general_model.posterior(x)
    np.testing.assert_allclose(mean, (x - b) @ np.linalg.solve(c, w), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cov, np.eye(3) - w.T @ np.linalg.solve(c, w), atol=1e-12)


def test_bayes_rule_log_joint_minus_log_posterior_is_the_evidence(general_model, rng):
    x = rng.normal(size=(4, 5))
    mean, cov = general_model.posterior(x)
    z = rng.normal(size=(4, 3))
    log_posterior = np.array([_mvn_log_density(z[i:i + 1], mean[i], cov)[0] for i in range(4)])
    np.testing.assert_allclose(general_model.log_joint(x, z) - log_posterior,
                               general_model.log_evidence(x), atol=EXACT)


def test_orthogonal_columns_give_a_diagonal_posterior(orthogonal_model, rng):
    w = orthogonal_model.weights
    gram = w.T @ w
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-12)
    x = rng.normal(size=(3, 6))
    mean, log_var = orthogonal_model.posterior_diagonal(x)
    full_mean, cov = orthogonal_model.posterior(x)
    np.testing.assert_allclose(mean, full_mean)
    np.testing.assert_allclose(np.exp(log_var), np.broadcast_to(np.diag(cov), (3, 2)))


def test_posterior_diagonal_refuses_a_correlated_posterior(general_model):
    with pytest.raises(ValueError, match=r"posterior covariance must be diagonal .*; got "
                                         r"off-diagonal entries\. Build"):
        general_model.posterior_diagonal(np.zeros((1, 5)))


# -------------------------------------------------------------------------- ELBO


def test_elbo_equals_log_evidence_at_the_exact_posterior(orthogonal_model, rng):
    x, _ = orthogonal_model.sample(10, seed=8)
    q_mean, q_log_var = orthogonal_model.posterior_diagonal(x)
    np.testing.assert_allclose(orthogonal_model.elbo(x, q_mean, q_log_var),
                               orthogonal_model.log_evidence(x), rtol=0, atol=EXACT)


@pytest.mark.parametrize("model_name", ["general_model", "orthogonal_model"])
def test_elbo_is_below_log_evidence_for_a_wrong_q(model_name, request, rng):
    model = request.getfixturevalue(model_name)
    x, _ = model.sample(10, seed=9)
    q_mean, q_log_var = _random_q(rng, 10, model.latent_dim)
    assert np.all(model.elbo(x, q_mean, q_log_var) < model.log_evidence(x))


def test_best_diagonal_q_stays_below_a_correlated_posterior(general_model):
    x, _ = general_model.sample(4, seed=2)
    mean, cov = general_model.posterior(x)
    # The diagonal q closest in KL(q || p) has variances 1 / diag(precision).
    log_var = np.broadcast_to(-np.log(np.diag(np.linalg.inv(cov))), mean.shape)
    gap = general_model.log_evidence(x) - general_model.elbo(x, mean, log_var)
    assert np.all(gap > 1e-3)


def test_log_evidence_is_elbo_plus_kl_to_the_posterior(general_model, rng):
    x, _ = general_model.sample(12, seed=10)
    q_mean, q_log_var = _random_q(rng, 12, 3)
    post_mean, post_cov = general_model.posterior(x)
    kl = gaussian_kl(q_mean, diagonal_covariance(q_log_var), post_mean, post_cov)
    np.testing.assert_allclose(general_model.elbo(x, q_mean, q_log_var) + kl,
                               general_model.log_evidence(x), rtol=0, atol=EXACT)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-3, 3), log_scale=st.floats(-3, 2))
def test_elbo_never_exceeds_log_evidence(seed, shift, log_scale):
    model = LinearGaussianModel.random(4, 2, noise_std=0.6, orthogonal=False, seed=seed)
    x, _ = model.sample(3, seed=seed)
    mean, cov = model.posterior(x)
    q_log_var = np.broadcast_to(np.log(np.diag(cov)) + log_scale, mean.shape)
    elbo = model.elbo(x, mean + shift, q_log_var)
    assert np.all(elbo <= model.log_evidence(x) + 1e-9)


def test_monte_carlo_elbo_agrees_with_closed_form_within_4_standard_errors(general_model, rng):
    x, _ = general_model.sample(6, seed=11)
    q_mean, q_log_var = _random_q(rng, 6, 3)
    estimate, standard_error = general_model.elbo_monte_carlo(x, q_mean, q_log_var,
                                                              n_samples=20_000, seed=12)
    assert estimate.shape == standard_error.shape == (6,)
    error = np.abs(estimate - general_model.elbo(x, q_mean, q_log_var))
    assert np.all(error < N_SE * standard_error)


def test_monte_carlo_elbo_has_zero_variance_at_the_exact_posterior(orthogonal_model):
    x, _ = orthogonal_model.sample(3, seed=13)
    q_mean, q_log_var = orthogonal_model.posterior_diagonal(x)
    estimate, standard_error = orthogonal_model.elbo_monte_carlo(x, q_mean, q_log_var, 100)
    np.testing.assert_allclose(estimate, orthogonal_model.log_evidence(x), atol=EXACT)
    np.testing.assert_allclose(standard_error, 0.0, atol=EXACT)


# -------------------------------------------------------------------- Gaussian KL


def test_gaussian_kl_reduces_to_the_standard_normal_closed_form(rng):
    mean, log_var = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=1)
    result = gaussian_kl(mean, diagonal_covariance(log_var), np.zeros(3), np.eye(3))
    np.testing.assert_allclose(result, expected, rtol=1e-12)


def _random_covariance(rng: np.random.Generator, k: int) -> np.ndarray:
    a = rng.normal(size=(k, k))
    return a @ a.T + 0.5 * np.eye(k)


def test_gaussian_kl_matches_monte_carlo_for_full_covariances(rng):
    k = 3
    mean_q, mean_p = rng.normal(size=k), rng.normal(size=k)
    cov_q, cov_p = _random_covariance(rng, k), _random_covariance(rng, k)
    z = mean_q + rng.standard_normal((100_000, k)) @ np.linalg.cholesky(cov_q).T
    log_ratio = _mvn_log_density(z, mean_q, cov_q) - _mvn_log_density(z, mean_p, cov_p)
    standard_error = log_ratio.std(ddof=1) / math.sqrt(len(z))
    result = gaussian_kl(mean_q, cov_q, mean_p, cov_p)
    assert np.shape(result) == ()
    assert abs(result - log_ratio.mean()) < N_SE * standard_error


def test_gaussian_kl_is_zero_for_equal_and_positive_for_different_gaussians(rng):
    cov = _random_covariance(rng, 4)
    mean = rng.normal(size=4)
    assert gaussian_kl(mean, cov, mean, cov) == pytest.approx(0.0, abs=1e-12)
    assert gaussian_kl(mean, cov, mean + 0.1, cov) > 0
    assert gaussian_kl(mean, cov, mean, 2 * cov) > 0


def test_gaussian_kl_broadcasts_one_gaussian_against_a_batch(rng):
    means = rng.normal(size=(4, 2))
    covs = np.stack([_random_covariance(rng, 2) for _ in range(4)])
    cov_p = _random_covariance(rng, 2)
    batched = gaussian_kl(means, covs, np.zeros(2), cov_p)
    one_by_one = [gaussian_kl(means[i], covs[i], np.zeros(2), cov_p) for i in range(4)]
    assert batched.shape == (4,)
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-12)


def test_diagonal_covariance_shape_and_values():
    cov = diagonal_covariance(np.log([[1.0, 4.0], [9.0, 0.25]]))
    assert cov.shape == (2, 2, 2)
    np.testing.assert_allclose(cov[0], np.diag([1.0, 4.0]))
    np.testing.assert_allclose(cov[1], np.diag([9.0, 0.25]))


# -------------------------------------------------------------------- validation


def test_gaussian_kl_rejects_bad_covariances():
    with pytest.raises(ValueError, match=r"cov_p must be positive definite; got a "
                                         r"matrix with a non-positive eigenvalue\. Add"):
        gaussian_kl(np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"cov_q must be symmetric; got a "
                                         r"non-symmetric matrix\. Symmetrise"):
        gaussian_kl(np.zeros(2), [[1.0, 0.5], [0.0, 1.0]], np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"cov_q must hold square matrices; got "
                                         r"shape \(2, 3\)\. Pass"):
        gaussian_kl(np.zeros(2), np.ones((2, 3)), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"cov_p must have last dimension 2 \(the "
                                         r"size of mean_q\); got shape \(3, 3\)\. Use"):
        gaussian_kl(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match=r"batch shapes must broadcast; got means "
                                         r".*\. Pass"):
        gaussian_kl(np.zeros((2, 2)), np.eye(2), np.zeros((3, 2)), np.eye(2))
    with pytest.raises(TypeError, match=r"mean_q must be a numeric array; got str"):
        gaussian_kl("zero", np.eye(2), np.zeros(2), np.eye(2))


def test_model_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\) to match weights "
                                         r"of shape \(3, 2\); got shape \(2,\)\. Give"):
        LinearGaussianModel(np.ones((3, 2)), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match=r"noise_std must be > 0; got 0\.0\. Pass"):
        LinearGaussianModel(np.ones((3, 2)), np.zeros(3), 0.0)
    with pytest.raises(TypeError, match=r"noise_std must be a real number; got str"):
        LinearGaussianModel(np.ones((3, 2)), np.zeros(3), "1")
    with pytest.raises(ValueError, match=r"weights must have 2 dimensions; got shape "
                                         r"\(3,\)\. Reshape"):
        LinearGaussianModel(np.ones(3), np.zeros(3), 1.0)
    with pytest.raises(ValueError, match=r"data_dim must be >= latent_dim for orthogonal "
                                         r"columns; got data_dim=2, latent_dim=3\. Raise"):
        LinearGaussianModel.random(2, 3)


def test_model_rejects_badly_shaped_data_and_q(general_model):
    with pytest.raises(ValueError, match=r"x must have shape \(n, 5\); got shape \(2, 4\)\. "
                                         r"Pass"):
        general_model.log_evidence(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"x must have 2 dimensions; got shape "
                                         r"\(5,\)\. Reshape"):
        general_model.posterior(np.zeros(5))
    with pytest.raises(ValueError, match=r"q_mean must have shape \(2, 3\); got shape "
                                         r"\(2, 2\)\. Pass"):
        general_model.elbo(np.zeros((2, 5)), np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"q_mean and q_log_var must have the same shape; "
                                         r"got \(2, 3\) and \(2, 2\)\. Pass"):
        general_model.elbo(np.zeros((2, 5)), np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., 2, 3\); got shape "
                                         r"\(3, 3\)\. Pass"):
        general_model.log_joint(np.zeros((2, 5)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"n_samples must be a whole number >= 2; got 1\. Pass"):
        general_model.elbo_monte_carlo(np.zeros((2, 5)), np.zeros((2, 3)), np.zeros((2, 3)), 1)


def test_model_is_frozen_and_its_arrays_read_only(general_model):
    with pytest.raises(dataclasses.FrozenInstanceError):
        general_model.noise_std = 2.0
    with pytest.raises(ValueError, match="read-only"):
        general_model.weights[0, 0] = 1.0


# ------------------------------------------- importance weights and the inference gaps

def test_log_importance_weights_average_to_the_closed_form_elbo():
    model = LinearGaussianModel.random(5, 2, orthogonal=False, seed=0)
    x, _ = model.sample(3, seed=1)
    mean, log_var = model.columnwise_encoder(x)
    log_w = model.log_importance_weights(x, mean, log_var, 200_000, seed=2)
    assert log_w.shape == (3, 200_000)
    error = log_w.std(axis=1) / np.sqrt(log_w.shape[1])
    assert np.all(np.abs(log_w.mean(axis=1) - model.elbo(x, mean, log_var)) < 4 * error)


def test_log_weights_of_the_exact_posterior_are_all_log_evidence():
    model = LinearGaussianModel.random(5, 2, seed=0)  # orthogonal: diagonal posterior
    x, _ = model.sample(2, seed=1)
    log_w = model.log_importance_weights(x, *model.posterior_diagonal(x), 7, seed=3)
    np.testing.assert_allclose(log_w, np.repeat(model.log_evidence(x)[:, None], 7, axis=1),
                               rtol=1e-10)


def test_importance_weighted_bound_converges_to_the_exact_log_evidence():
    """Done-when of issue 11: L_k tends to log p(x) within its Monte Carlo error."""
    from course_utils.evaluation.importance_weighting import bounds_by_k

    model = LinearGaussianModel.random(5, 2, orthogonal=False, seed=0)
    x, _ = model.sample(200, seed=1)
    exact = model.log_evidence(x)
    ks = (1, 16, 256, 2**14)
    log_w = model.log_importance_weights(x, *model.best_diagonal_q(x), 2**14, seed=2)
    gaps = bounds_by_k(log_w, ks)[0] - exact           # (len(ks), n)
    assert np.all(np.diff(gaps.mean(axis=1)) > 0)     # non-decreasing in k
    assert gaps[0].mean() == pytest.approx(-model.approximation_gap(), abs=0.01)
    error = gaps[-1].std(ddof=1) / np.sqrt(len(x))
    assert abs(gaps[-1].mean()) < 3 * error and error < 0.01
    # The imperfect encoder as proposal: the same limit, approached much more slowly.
    log_w = model.log_importance_weights(x, *model.columnwise_encoder(x), 2**14, seed=2)
    encoder_gaps = bounds_by_k(log_w, ks)[0] - exact
    assert np.all(np.diff(encoder_gaps.mean(axis=1)) > 0)
    assert encoder_gaps[0].mean() < 10 * gaps[0].mean()
    assert encoder_gaps[-1].mean() < gaps[-1].mean() - 0.05


def test_best_diagonal_q_maximises_the_elbo_and_leaves_the_approximation_gap():
    model = LinearGaussianModel.random(6, 3, orthogonal=False, seed=4)
    x, _ = model.sample(4, seed=5)
    mean, log_var = model.best_diagonal_q(x)
    best = model.elbo(x, mean, log_var)
    rng = np.random.default_rng(6)
    for _ in range(20):
        assert np.all(model.elbo(x, mean + 0.05 * rng.standard_normal(mean.shape),
                                 log_var + 0.05 * rng.standard_normal(mean.shape)) < best)
    np.testing.assert_allclose(model.log_evidence(x) - best, model.approximation_gap(),
                               rtol=1e-9)
    # = KL(q* || posterior), computed with the full-covariance KL
    post_mean, post_cov = model.posterior(x)
    kl = gaussian_kl(mean, diagonal_covariance(log_var), post_mean, post_cov)
    np.testing.assert_allclose(kl, model.approximation_gap(), rtol=1e-9)
    assert model.approximation_gap() > 0.01


def test_orthogonal_columns_close_both_gaps():
    model = LinearGaussianModel.random(5, 2, seed=0)
    x, _ = model.sample(3, seed=1)
    assert model.approximation_gap() == pytest.approx(0.0, abs=1e-12)
    exact_mean, exact_log_var = model.posterior_diagonal(x)
    for q in (model.best_diagonal_q(x), model.columnwise_encoder(x)):
        np.testing.assert_allclose(q[0], exact_mean, atol=1e-12)
        np.testing.assert_allclose(q[1], exact_log_var, atol=1e-12)


def test_columnwise_encoder_has_an_amortisation_gap_on_overlapping_columns():
    model = LinearGaussianModel.random(5, 2, orthogonal=False, seed=0)
    x, _ = model.sample(10, seed=1)
    gap = model.elbo(x, *model.best_diagonal_q(x)) - model.elbo(x, *model.columnwise_encoder(x))
    assert np.all(gap > 0)


def test_log_importance_weights_validates():
    model = LinearGaussianModel.random(5, 2, seed=0)
    x, _ = model.sample(2, seed=1)
    mean, log_var = model.posterior_diagonal(x)
    with pytest.raises(ValueError, match="k"):
        model.log_importance_weights(x, mean, log_var, 0)
    with pytest.raises(ValueError, match="q_mean"):
        model.log_importance_weights(x, mean[:1], log_var[:1], 3)
