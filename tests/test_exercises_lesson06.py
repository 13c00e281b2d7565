from statistics import NormalDist

import numpy as np
import pytest
from exercise_contract import assert_exercise_contract, assert_graded_contract

from course_utils.exercises import lesson06 as ex
from course_utils.latent_space import interpolate, normal_quantile_grid, pca_2d

QUESTIONS = (ex.q1, ex.q2, ex.q3, ex.q4)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.title[:12])
def test_exercise_contract(question):
    assert_exercise_contract(question)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.title[:12])
def test_graded_copies_refuse_every_shortcut(question):
    assert_graded_contract(question)


# --- 6.1 -------------------------------------------------------------------------------

def test_q1_accepts_the_library_grid_in_its_own_order():
    assert ex.q1.check(lambda n, low, high: normal_quantile_grid(n, (low, high))).passed


def test_q1_rejects_probabilities_and_the_minus_one_one_box():
    def probabilities(n, low, high):
        v = np.linspace(low, high, n)
        return np.stack(np.meshgrid(v, v), -1).reshape(-1, 2)

    def box(n, low, high):
        v = np.linspace(-1, 1, n)
        return np.stack(np.meshgrid(v, v), -1).reshape(-1, 2)

    def diagonal(n, low, high):
        v = np.array([NormalDist().inv_cdf(p) for p in np.linspace(low, high, n)])
        return np.stack([v, v], 1)

    def endpoint_missing(n, low, high):
        v = np.array([NormalDist().inv_cdf(p)
                      for p in np.linspace(low, high, n, endpoint=False)])
        return np.stack(np.meshgrid(v, v), -1).reshape(-1, 2)

    assert "probabilities" in ex.q1.check(probabilities).message
    assert "[-1, 1]" in ex.q1.check(box).message
    assert "Every value of z1 pairs" in ex.q1.check(diagonal).message
    assert "both included" in ex.q1.check(endpoint_missing).message


# --- 6.2 -------------------------------------------------------------------------------

def test_q2_accepts_the_library_interpolation():
    assert ex.q2.check(lambda a, b, steps: interpolate(a, b, steps)).passed


def test_q2_rejects_missing_endpoint_transposed_and_swapped_paths():
    def no_end(a, b, steps):
        t = np.arange(steps)[:, None] / steps
        return (1 - t) * a + t * b

    def transposed(a, b, steps):
        return ex.lerp(a, b, steps).T

    def swapped(a, b, steps):
        t = np.linspace(0, 1, steps)[:, None]
        return t * a + (1 - t) * b

    def squared(a, b, steps):
        t = np.linspace(0, 1, steps)[:, None] ** 2
        return (1 - t) * a + t * b

    assert "include both ends" in ex.q2.check(no_end).message
    assert "one row per dimension" in ex.q2.check(transposed).message
    assert "first code should be z_a" in ex.q2.check(swapped).message
    assert "evenly spaced" in ex.q2.check(squared).message


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


def test_q3_rejects_uncentred_unsquared_and_unnormalised_answers():
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

    assert "Subtract the mean" in ex.q3.check(uncentred).message
    assert "square" in ex.q3.check(unsquared).message
    assert "add up to 1" in ex.q3.check(variances).message
    assert "sorted" in ex.q3.check(ascending).message


# --- 6.4 -------------------------------------------------------------------------------

def test_q4_reference_gives_the_47_percent_of_the_unit_box():
    assert ex.box_prior_mass(1.0, 2) == pytest.approx(0.4661, abs=1e-4)
    # Monte Carlo, independently
    z = np.random.default_rng(0).standard_normal((200_000, 2))
    assert np.mean(np.all(np.abs(z) <= 1, axis=1)) == pytest.approx(0.4661, abs=0.005)


def test_q4_rejects_one_axis_one_sided_and_wrong_answers():
    def one_axis(h, d):
        return NormalDist().cdf(h) - NormalDist().cdf(-h)

    def one_sided(h, d):
        return NormalDist().cdf(h) ** d

    def union_bound(h, d):  # 1 - P(some coordinate outside), counted as if disjoint
        return 1 - d * 2 * (1 - NormalDist().cdf(h))

    assert "ONE coordinate" in ex.q4.check(one_axis).message
    assert "lower end" in ex.q4.check(one_sided).message
    assert "not right" in ex.q4.check(union_bound).message
    assert "probability" in ex.q4.check(lambda h, d: 2.0).message


def test_messages_do_not_contain_the_solution_code():
    wrong_answers = {ex.q1: lambda n, lo, hi: np.zeros((n * n, 2)) + 0.5,
                     ex.q2: lambda a, b, s: np.zeros((s, len(a))),
                     ex.q3: lambda c: np.ones(c.shape[1]),
                     ex.q4: lambda h, d: 0.3}
    for question, wrong in wrong_answers.items():
        message = question.check(wrong).message
        assert not question.check(wrong).passed
        for fragment in ("inv_cdf(", "meshgrid(", "linspace(", "svd(", "** latent_dim",
                         "cdf(half_width)", "(1.0 - t)"):
            assert fragment not in message, (question.title, message)
