from statistics import NormalDist

import numpy as np
import pytest
from exercise_contract import (
    assert_incorrect,
    contract_tests,
)

from course_utils.exercises import ____
from course_utils.exercises import lesson06 as ex
from course_utils.latent.decoding import pca_2d
from course_utils.latent.sampling import hole_fraction, nearest_code_distance

QUESTIONS = (ex.q1, ex.q2, ex.q3)


test_exercise_contract, test_graded_copies_refuse_every_shortcut = contract_tests(QUESTIONS)


# --- prediction 6.1 --------------------------------------------------------------------

def test_p1_reveals_the_measured_length_and_explains_it():
    measured = float(np.linalg.norm(np.random.default_rng(0).standard_normal((20_000, 8)),
                                    axis=1).mean())
    assert measured == pytest.approx(2.74, abs=0.02)  # the chi_8 mean
    assert ex.p1.record(____).status == "not_attempted"
    assert ex.p1.record(2.8).status == "recorded"
    assert ex.p1.reveal(2.8, measured).status == "held"
    assert ex.p1.reveal(8.0, measured).status == "missed"  # the squared length
    assert ex.p1.reveal(1.0, measured).status == "missed"  # one coordinate's spread
    assert "sqrt(8)" in ex.p1.reveal(____, measured).message


# --- 6.1 -------------------------------------------------------------------------------

def test_q1_reference_gives_the_47_percent_of_the_unit_box():
    assert ex.box_prior_mass(1.0, 2) == pytest.approx(0.4661, abs=1e-4)
    # Monte Carlo, independently
    z = np.random.default_rng(0).standard_normal((200_000, 2))
    assert np.mean(np.all(np.abs(z) <= 1, axis=1)) == pytest.approx(0.4661, abs=0.005)


def test_q1_rejects_one_axis_one_sided_and_wrong_answers():
    def one_axis(h, d):
        return NormalDist().cdf(h) - NormalDist().cdf(-h)

    def one_sided(h, d):
        return NormalDist().cdf(h) ** d

    def union_bound(h, d):  # 1 - P(some coordinate outside), counted as if disjoint
        return 1 - d * 2 * (1 - NormalDist().cdf(h))

    def summed(h, d):  # the coordinates' masses added instead of multiplied
        return d * (NormalDist().cdf(h) - NormalDist().cdf(-h))

    assert_incorrect(ex.q1, one_axis, "ONE coordinate")
    assert_incorrect(ex.q1, one_sided, "lower end")
    assert_incorrect(ex.q1, union_bound, "not right")
    assert_incorrect(ex.q1, summed, "not a probability")
    assert_incorrect(ex.q1, lambda h, d: 2.0, "probability")


def test_q1_rejects_a_monte_carlo_estimate_that_cannot_see_a_tiny_mass():
    def monte_carlo(h, d):
        z = np.random.default_rng(0).standard_normal((100_000, d))
        return float(np.mean(np.all(np.abs(z) <= h, axis=1)))

    # right to within sampling error in low dimensions, 0 at d = 50 (true mass ~5e-9)
    assert ex.box_prior_mass(1.0, 50) == pytest.approx(5.2e-9, rel=0.05)
    message = assert_incorrect(ex.q1, monte_carlo)
    assert "not right" in message or "returned 0" in message


# --- 6.2 -------------------------------------------------------------------------------

def _pairwise(a, b):
    return np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))


def _holes(samples, codes, *, quantile=0.99, keep_self=False, count=False,
           near=False, centre=False, squared_samples=False):
    """A hole share as the typical mistakes compute it (each flag is one mistake)."""
    self_distance = 0.0 if keep_self else np.inf
    spacing = np.where(np.eye(len(codes), dtype=bool), self_distance, _pairwise(codes, codes))
    radius = np.quantile(spacing.min(axis=1), quantile)
    targets = codes.mean(axis=0, keepdims=True) if centre else codes
    distance = _pairwise(samples, targets).min(axis=1) ** (2 if squared_samples else 1)
    inside = (distance > radius) != near
    return float(inside.sum() if count else inside.mean())


def test_q2_accepts_a_loop_a_percentile_and_a_float32_answer():
    def loop(samples, codes):
        spacing = [min(np.linalg.norm(c - o) for j, o in enumerate(codes) if j != i)
                   for i, c in enumerate(codes)]
        radius = np.percentile(spacing, 99)
        return np.mean([np.linalg.norm(codes - s, axis=1).min() > radius for s in samples])

    def float32(samples, codes):
        return _holes(np.float32(samples), np.float32(codes))

    def sorted_index(samples, codes):  # the 99th percentile by position in the sorted list
        between = _pairwise(codes, codes)
        np.fill_diagonal(between, np.inf)
        spacing = np.sort(between.min(axis=1))
        radius = spacing[int(0.99 * len(spacing))]
        return float(np.mean(_pairwise(samples, codes).min(axis=1) > radius))

    for answer in (loop, float32, sorted_index):
        assert ex.q2.check(answer).passed, answer.__name__


def test_q2_reference_agrees_with_the_library_definition_of_a_hole():
    # the library keeps half the codes apart instead of excluding each code itself:
    # on many codes the two agree to within a few per cent of the samples
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(2000, 2)) * 0.5 + [1.0, 0.0]
    samples = rng.normal(size=(1000, 2))
    assert ex.hole_share(samples, codes) == pytest.approx(hole_fraction(samples, codes),
                                                          abs=0.05)
    np.testing.assert_allclose(_pairwise(samples, codes).min(axis=1),
                               nearest_code_distance(samples, codes), atol=1e-6)


def test_q2_rejects_the_typical_mistakes_with_advice_on_the_wrong_part():
    assert_incorrect(ex.q2, lambda s, c: _holes(s, c, keep_self=True), "is itself", "radius")
    assert_incorrect(ex.q2, lambda s, c: _holes(s, c, count=True), "count")
    assert_incorrect(ex.q2, lambda s, c: _holes(s, c, near=True), "NEAR the codes")
    assert_incorrect(ex.q2, lambda s, c: _holes(s, c, centre=True), "nearest code")
    assert_incorrect(ex.q2, lambda s, c: _holes(s, c, quantile=0.5), "50 %", "99 %")
    assert_incorrect(ex.q2, lambda s, c: _holes(s, c, quantile=1.0), "100 %")
    assert_incorrect(ex.q2, lambda s, c: _holes(s, c, squared_samples=True), "Euclidean")
    assert_incorrect(ex.q2, lambda s, c: np.zeros(len(s)), "one number")
    assert_incorrect(ex.q2, lambda s, c: float("nan"), "returned nan")


def test_q2_checks_more_than_two_dimensions():
    def first_two_coordinates(samples, codes):
        return _holes(samples[:, :2], codes[:, :2])

    assert_incorrect(ex.q2, first_two_coordinates, "3-D")


# --- 6.3 -------------------------------------------------------------------------------

def test_q3_accepts_an_eigenvalue_solution():
    def by_covariance(codes):
        eigenvalues = np.linalg.eigvalsh(np.cov(codes, rowvar=False))[::-1]
        return eigenvalues / eigenvalues.sum()

    assert ex.q3.check(by_covariance).passed
    # the first two agree with the library's PCA
    codes = np.random.default_rng(0).normal(size=(100, 3)) * [2.0, 1.0, 0.1]
    np.testing.assert_allclose(ex.explained_variance_ratio(codes)[:2],
                               pca_2d(codes).explained_variance_ratio)


def test_q3_rejects_uncentred_unsquared_per_axis_and_unnormalised_answers():
    def uncentred(codes):
        s = np.linalg.svd(codes, compute_uv=False) ** 2
        return s / s.sum()

    def unsquared(codes):
        s = np.linalg.svd(codes - codes.mean(0), compute_uv=False)
        return s / s.sum()

    def variances(codes):
        return np.linalg.svd(codes - codes.mean(0), compute_uv=False) ** 2

    def ascending(codes):
        return ex.explained_variance_ratio(codes)[::-1]

    def per_axis(codes):  # the coordinates' variances, not the principal directions'
        v = np.sort(codes.var(axis=0))[::-1]
        return v / v.sum()

    assert_incorrect(ex.q3, uncentred, "Subtract the mean")
    assert_incorrect(ex.q3, unsquared, "square")
    assert_incorrect(ex.q3, variances, "add up to 1")
    assert_incorrect(ex.q3, ascending, "not sorted")
    assert_incorrect(ex.q3, per_axis, "coordinate axis")
    assert_incorrect(ex.q3, lambda c: np.full(c.shape[1], np.nan), "not all finite")


def test_messages_do_not_contain_the_solution_code():
    wrong_answers = {ex.q1: lambda h, d: 0.3,
                     ex.q2: lambda s, c: 0.3,
                     ex.q3: lambda c: np.ones(c.shape[1])}
    for question, wrong in wrong_answers.items():
        message = question.check(wrong).message
        assert not question.check(wrong).passed
        for fragment in ("fill_diagonal(", "quantile(", "svd(", "** latent_dim",
                         "cdf(half_width)", "[:, None, :]"):
            assert fragment not in message, (question.title, message)
