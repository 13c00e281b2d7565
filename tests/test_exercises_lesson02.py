"""Tests for the lesson 02 exercises: references pass, typical mistakes get specific advice.

Expected values of the references are computed here independently (hand-derived
numbers, Monte Carlo, the tested functions of ``course_utils.elbo.losses`` and
``course_utils.elbo.toy_models``), never by the reference itself.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
from exercise_contract import (
    assert_incorrect,
    contract_tests,
)

from course_utils.elbo.estimators import kl_monte_carlo
from course_utils.elbo.likelihoods import implied_kl_weight
from course_utils.elbo.losses import kl_divergence_standard_normal
from course_utils.elbo.toy_models import LinearGaussianModel, diagonal_covariance, gaussian_kl
from course_utils.exercises import ____
from course_utils.exercises import lesson02 as ex

QUESTIONS = (ex.q1, ex.q2, ex.q3, ex.q4, ex.q5)


SOLUTION_SNIPPETS = ("exp(0.5", "0.5 * log_var", "np.sum(", "axis=-1", "gaussian_kl(")
_assert_incorrect = partial(assert_incorrect, forbidden=SOLUTION_SNIPPETS)


# --------------------------------------------------------------------- every question

test_exercise_contract, test_graded_copies_refuse_every_shortcut = contract_tests(QUESTIONS)


# --- 2.1 the closed-form KL --------------------------------------------------------------

def test_q1_reference_matches_hand_computed_values():
    # KL(N(1, 1) || N(0, 1)) = 1/2; KL(N(0, 2) || N(0, 1)) = (2 - 1 - log 2) / 2.
    mean = np.array([[1.0, 0.0], [0.0, 0.0]])
    log_var = np.array([[0.0, math.log(2.0)], [0.0, 0.0]])
    expected = [0.5 + 0.5 * (1.0 - math.log(2.0)), 0.0]
    np.testing.assert_allclose(ex.kl_to_standard_normal(mean, log_var), expected, atol=1e-15)


def test_q1_reference_agrees_with_monte_carlo_and_the_course_loss():
    rng = np.random.default_rng(5)
    mean, log_var = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    estimate, error = kl_monte_carlo(mean, log_var, n_samples=50_000, seed=3)
    reference = ex.kl_to_standard_normal(mean, log_var)
    assert np.all(np.abs(reference - estimate) < 4 * error)
    np.testing.assert_allclose(reference, np.asarray(kl_divergence_standard_normal(mean, log_var)),
                               rtol=1e-12)


def test_q1_accepts_an_independent_loop_and_a_float32_answer():
    def loop_version(mean, log_var):
        out = []
        for m_row, v_row in zip(mean, log_var):
            out.append(sum(0.5 * (m * m + math.exp(v) - 1.0 - v) for m, v in zip(m_row, v_row)))
        return out

    def float32_version(mean, log_var):
        mean, log_var = np.float32(mean), np.float32(log_var)
        return -0.5 * (1 + log_var - mean**2 - np.exp(log_var)).sum(axis=1)

    assert ex.q1.check(loop_version).passed
    assert ex.q1.check(float32_version).passed


def test_q1_mean_over_latent_dims_is_called_out():
    _assert_incorrect(ex.q1, lambda m, v: -0.5 * np.mean(1 + v - m**2 - np.exp(v), axis=-1),
                      "scale with 1/latent_dim", "reduction did you use over the latent axis")


def test_q1_missing_minus_half_is_called_out():
    _assert_incorrect(ex.q1, lambda m, v: np.sum(1 + v - m**2 - np.exp(v), axis=-1),
                      "-2 times the KL", "constant")


def test_q1_wrong_sign_is_called_out():
    _assert_incorrect(ex.q1, lambda m, v: 0.5 * np.sum(1 + v - m**2 - np.exp(v), axis=-1),
                      "wrong sign", "never negative")


def test_q1_wrong_terms_are_called_out():
    _assert_incorrect(ex.q1, lambda m, v: -0.5 * np.sum(v - m**2 - np.exp(v), axis=-1),
                      "same constant")
    _assert_incorrect(ex.q1, lambda m, v: -0.5 * np.sum(1 + v - m**2 - np.exp(v / 2), axis=-1),
                      "standard deviation where the formula has the variance")
    _assert_incorrect(ex.q1, lambda m, v: -0.5 * np.sum(1 + np.log(np.abs(v)) - m**2 - v,
                                                        axis=-1))


def test_q1_wrong_reductions_are_called_out_by_shape():
    def kl_terms(m, v):
        return -0.5 * (1 + v - m**2 - np.exp(v))

    _assert_incorrect(ex.q1, lambda m, v: kl_terms(m, v).sum(), "one number for the whole batch")
    _assert_incorrect(ex.q1, lambda m, v: kl_terms(m, v).sum(axis=0), "batch axis")
    _assert_incorrect(ex.q1, kl_terms, "input's shape")


def test_q1_nan_from_log_of_log_var_is_called_out():
    with np.errstate(invalid="ignore"):
        _assert_incorrect(ex.q1, lambda m, v: -0.5 * np.sum(1 + np.log(v) - m**2 - v, axis=-1),
                          "NaN or inf")


# --- 2.2 the sampling bug ----------------------------------------------------------------

def test_q2_reference_draws_from_the_right_distribution():
    eps = np.random.default_rng(0).standard_normal((200_000, 2))
    mean, log_var = np.array([[1.0, -2.0]]), np.log([[4.0, 0.25]])
    z = ex.sample_z(mean, log_var, eps)
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(z.std(axis=0), [2.0, 0.5], rtol=0.01)


def test_q2_accepts_a_sqrt_of_the_variance():
    assert ex.q2.check(lambda m, v, e: m + np.sqrt(np.exp(v)) * e).passed


def test_q2_the_buggy_function_is_rejected_with_a_hint_at_the_scale():
    message = _assert_incorrect(ex.q2, ex.buggy_sample_z, "still has the bug", "variance 9")
    assert "9 away" in message


def test_q2_other_scales_and_a_forgotten_mean_are_called_out():
    _assert_incorrect(ex.q2, lambda m, v, e: m + v * e, "multiplied by log_var")
    _assert_incorrect(ex.q2, lambda m, v, e: m + np.exp(-0.5 * v) * e, "shrinks")
    _assert_incorrect(ex.q2, lambda m, v, e: np.sqrt(np.exp(v)) * e, "ignore `mean`")
    _assert_incorrect(ex.q2, lambda m, v, e: m + 0.5 * np.exp(v) * e, "Right shape, wrong values")


def test_q2_fresh_noise_instead_of_eps_is_called_out():
    rng = np.random.default_rng(0)
    _assert_incorrect(ex.q2, lambda m, v, e: m + np.sqrt(np.exp(v)) * rng.standard_normal(m.shape),
                      "same eps")


def test_q2_one_noise_draw_shared_by_the_batch_is_called_out():
    _assert_incorrect(ex.q2, lambda m, v, e: m + np.sqrt(np.exp(v)) * e[:1], "shares one draw")


def test_q2_wrong_shape_is_called_out():
    _assert_incorrect(ex.q2, lambda m, v, e: (m + np.sqrt(np.exp(v)) * e).sum(axis=1),
                      "shape (5, 3)")


# --- 2.3 the two bugs in a KL loss -------------------------------------------------------

def test_q3_reference_is_the_batch_mean_of_the_course_kl():
    rng = np.random.default_rng(6)
    mean, log_var = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    expected = float(np.mean(np.asarray(kl_divergence_standard_normal(mean, log_var))))
    assert ex.kl_loss(mean, log_var) == pytest.approx(expected, rel=1e-12)


def test_q3_unchanged_buggy_loss_gets_both_problems():
    message = _assert_incorrect(ex.q3, ex.buggy_kl_loss, "scale with 1/latent_dim",
                                "1000 times too small")
    assert "loss weight" in message


def test_q3_fixing_only_one_bug_names_the_other():
    only_factor_fixed = _assert_incorrect(
        ex.q3, lambda m, v: np.mean(-0.5 * np.mean(1 + v - m**2 - np.exp(v), axis=-1)),
        "scale with 1/latent_dim")
    assert "1000" not in only_factor_fixed
    only_reduction_fixed = _assert_incorrect(
        ex.q3, lambda m, v: np.mean(-5e-4 * np.sum(1 + v - m**2 - np.exp(v), axis=-1)),
        "1000 times too small")
    assert "latent_dim" not in only_reduction_fixed


def test_q3_dropping_the_factor_and_the_mean_over_everything_are_called_out():
    _assert_incorrect(ex.q3, lambda m, v: np.mean(np.sum(1 + v - m**2 - np.exp(v), axis=-1)),
                      "-2 times the KL")
    _assert_incorrect(ex.q3, lambda m, v: -0.5 * np.mean(1 + v - m**2 - np.exp(v)),
                      "scale with 1/latent_dim")


def test_q3_batch_sum_and_per_example_results_are_called_out():
    def per_example(m, v):
        return -0.5 * np.sum(1 + v - m**2 - np.exp(v), axis=-1)

    _assert_incorrect(ex.q3, lambda m, v: per_example(m, v).sum(), "SUM", "batch size")
    _assert_incorrect(ex.q3, per_example, "one number for the whole batch")


# --- 2.4 the KL weight the book's loss implies -------------------------------------------

def test_q4_reference_matches_the_book_loss_rescaled():
    # The book's whole loss (per-pixel mean BCE + its KL term), times D, minus the summed
    # NLL, divided by the true KL: that is beta. Computed from the losses themselves.
    rng = np.random.default_rng(12)
    for latent_dim in (2, 5, 20):
        mean, log_var = rng.normal(size=(2, 64, latent_dim))
        book_kl_term = ex.buggy_kl_loss(mean, log_var)
        true_kl = float(np.mean(np.asarray(kl_divergence_standard_normal(mean, log_var))))
        assert ex.implied_beta(latent_dim, 784) == pytest.approx(784 * book_kl_term / true_kl,
                                                               rel=1e-9)
    assert ex.implied_beta(2, 784) == pytest.approx(0.392)


def test_q4_reference_agrees_with_the_course_implied_kl_weight():
    for latent_dim, pixels in ((2, 784), (16, 3072)):
        assert ex.implied_beta(latent_dim, pixels) == pytest.approx(
            implied_kl_weight(pixels, reduction="mean", kl_weight=1e-3 / latent_dim))


def test_q4_accepts_an_independent_two_step_answer():
    def two_steps(latent_dim, pixel_count):
        kl_factor = -5e-4 / latent_dim / -0.5  # book's term = kl_factor * KL
        return kl_factor * pixel_count

    assert ex.q4.check(two_steps).passed


@pytest.mark.parametrize("answer, phrase", [
    (lambda k, d: 1e-3 / k, "averaged over pixels"),           # pixel mean not undone
    (lambda k, d: 1e-3 / (k * d), "other way round"),         # divided by D
    (lambda k, d: d * 1e-3, "one latent dimension only"),      # mean over K ignored
    (lambda k, d: d * 1e-3 / k**2, "once too often"),          # divided by K twice
    (lambda k, d: d * 5e-4 / k, "Half the right value"),       # 5e-4 taken as the factor
    (lambda k, d: 5e-4, "the book's constant"),
    (lambda k, d: -d * 1e-3 / k, "negative"),
    (lambda k, d: 784 * 1e-3 / k, "pixel_count"),
    (lambda k, d: d * 1e-3 / (k + 1), "Wrong values"),
])
def test_q4_typical_mistakes_get_specific_advice(answer, phrase):
    _assert_incorrect(ex.q4, answer, phrase)


def test_q4_an_array_is_refused_as_a_weight():
    _assert_incorrect(ex.q4, lambda k, d: np.full(k, d * 1e-3 / k), "one number")


# --- 2.5 the gap is a KL -----------------------------------------------------------------

def test_q5_reference_equals_log_evidence_minus_elbo():
    model = LinearGaussianModel.random(data_dim=6, latent_dim=2, orthogonal=False, seed=7)
    x, _ = model.sample(4, seed=8)
    rng = np.random.default_rng(9)
    q_mean, q_log_var = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    np.testing.assert_allclose(ex.elbo_gap(model, x, q_mean, q_log_var),
                               model.log_evidence(x) - model.elbo(x, q_mean, q_log_var),
                               rtol=1e-9)


def _posterior_kls(model, x, q_mean, q_log_var):
    posterior_mean, posterior_cov = model.posterior(x)
    return posterior_mean, posterior_cov, diagonal_covariance(q_log_var)


def test_q5_shortcut_through_the_evidence_is_refused():
    _assert_incorrect(ex.q5, lambda model, x, m, v: model.log_evidence(x) - model.elbo(x, m, v),
                      "without log_evidence, elbo")


def test_q5_reversed_kl_and_kl_to_the_prior_are_called_out():
    def reversed_kl(model, x, m, v):
        posterior_mean, posterior_cov, q_cov = _posterior_kls(model, x, m, v)
        return gaussian_kl(posterior_mean, posterior_cov, m, q_cov)

    def kl_to_prior(model, x, m, v):
        return 0.5 * np.sum(m**2 + np.exp(v) - 1 - v, axis=-1)

    _assert_incorrect(ex.q5, reversed_kl, "other direction")
    _assert_incorrect(ex.q5, kl_to_prior, "prior")


def test_q5_standard_deviations_as_covariance_and_sign_are_called_out():
    def std_covariance(model, x, m, v):
        posterior_mean, posterior_cov = model.posterior(x)
        return gaussian_kl(m, diagonal_covariance(0.5 * v), posterior_mean, posterior_cov)

    def negative(model, x, m, v):
        posterior_mean, posterior_cov, q_cov = _posterior_kls(model, x, m, v)
        return -gaussian_kl(m, q_cov, posterior_mean, posterior_cov)

    _assert_incorrect(ex.q5, std_covariance, "standard deviations")
    _assert_incorrect(ex.q5, negative, "negative")


def test_q5_diagonal_posterior_shortcut_reports_the_model_error():
    def diagonal_only(model, x, m, v):
        posterior_mean, posterior_log_var = model.posterior_diagonal(x)
        return gaussian_kl(m, diagonal_covariance(v), posterior_mean,
                           diagonal_covariance(posterior_log_var))

    _assert_incorrect(ex.q5, diagonal_only, "posterior()")


# --- prediction 2.1 ------------------------------------------------------------------------

def test_p1_wrong_sign_share_is_half_as_the_explanation_says():
    # The explanation's claim: the estimate's sign is the sign of eps, so half are positive.
    from course_utils.elbo.estimators import score_function_gradient

    score = score_function_gradient(0.0, 0.0, 3.0, n_estimates=200_000, seed=4)
    share = 100 * np.mean(score.mean > 0)
    assert share == pytest.approx(50, abs=0.5)
    assert ex.p1.reveal(50, share).status == "held"
    assert ex.p1.reveal(10, share).status == "missed"
    assert "coin flip" in ex.p1.reveal(____, share).message
