"""Tests for the lesson 05 exercises: references pass, typical mistakes get specific advice.

Expected values of the references are computed here independently (the density written
out, hand-derived numbers, a grid search, the tested :mod:`course_utils.elbo.likelihoods`),
never by the reference itself.
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

from course_utils.elbo.likelihoods import bernoulli_entropy_floor
from course_utils.exercises import lesson05 as ex

QUESTIONS = (ex.q1, ex.q2, ex.q3, ex.q4)


SOLUTION_SNIPPETS = ("np.sqrt(", "np.log(", "np.mean(", "/ (2 * sigma", "log_w - top")
_assert_incorrect = partial(assert_incorrect, forbidden=SOLUTION_SNIPPETS)


# --------------------------------------------------------------------- every question

test_exercise_contract, test_graded_copies_refuse_every_shortcut = contract_tests(QUESTIONS)


# --- 5.1 the Gaussian NLL ----------------------------------------------------------------

def test_q1_reference_is_minus_the_log_of_the_density():
    rng = np.random.default_rng(0)
    x, mean = rng.uniform(size=(3, 4, 4, 1)), rng.uniform(size=(3, 4, 4, 1))
    for sigma in (0.2, 1.0, 3.0):
        density = np.exp(-((x - mean) ** 2) / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
        np.testing.assert_allclose(ex.gaussian_nll(x, mean, sigma),
                                   -np.log(density).reshape(3, -1).sum(axis=1), rtol=1e-12)


def test_q1_accepts_a_loop_and_a_float32_answer():
    def loop_version(x, mean, sigma):
        out = []
        for image, centre in zip(x, mean):
            total = 0.0
            for a, b in zip(np.ravel(image), np.ravel(centre)):
                total += (a - b) ** 2 / (2 * sigma * sigma) + math.log(sigma) \
                    + 0.5 * math.log(2 * math.pi)
            out.append(total)
        return out

    def float32_version(x, mean, sigma):
        x, mean = np.float32(x), np.float32(mean)
        per_pixel = 0.5 * ((x - mean) / np.float32(sigma)) ** 2 + np.log(
            np.float32(sigma) * np.sqrt(np.float32(2 * np.pi)))
        return per_pixel.reshape(len(x), -1).sum(axis=1)

    assert ex.q1.check(loop_version).passed
    assert ex.q1.check(float32_version).passed


def _per_image(values):
    return values.reshape(len(values), -1).sum(axis=1)


def test_q1_calls_out_the_typical_mistakes():
    _assert_incorrect(ex.q1, lambda x, m, s: _per_image(
        (x - m) ** 2 / (2 * s**2) + 0.5 * np.log(2 * np.pi * s**2)) / x[0].size,
        "784 times too small")
    _assert_incorrect(ex.q1, lambda x, m, s: -_per_image(
        (x - m) ** 2 / (2 * s**2) + 0.5 * np.log(2 * np.pi * s**2)), "wrong sign")
    _assert_incorrect(ex.q1, lambda x, m, s: _per_image((x - m) ** 2 / (2 * s**2)),
                      "normalising constant is missing")
    _assert_incorrect(ex.q1, lambda x, m, s: _per_image(
        (x - m) ** 2 / (2 * s) + 0.5 * np.log(2 * np.pi * s**2)), "variance were sigma")
    _assert_incorrect(ex.q1, lambda x, m, s: _per_image(
        (x - m) ** 2 / s**2 + 0.5 * np.log(2 * np.pi * s**2)), "twice too large")
    _assert_incorrect(ex.q1, lambda x, m, s: _per_image(
        (x - m) ** 2 / 2 + 0.5 * np.log(2 * np.pi * s**2)), "does not change with sigma")
    _assert_incorrect(ex.q1, lambda x, m, s: _per_image(
        (x - m) ** 2 / (2 * s**2) + 0.5 * np.log(2 * np.pi * s)), "normalising term is off")
    _assert_incorrect(ex.q1, lambda x, m, s: _per_image((x - m) ** 2 / (2 * s**2))
                      + 784 * 0.5 * math.log(2 * math.pi * s**2), "number of pixels")
    _assert_incorrect(ex.q1, lambda x, m, s: np.sum((x - m) ** 2), "one number per image")


def test_q1_refuses_a_log_of_the_density_that_underflows_for_a_small_sigma():
    """Right for sigma = 0.3 and 2, infinite for sigma = 0.01, where exp(-(x - m)^2 / ...) is 0."""
    def log_of_density(x, m, s):
        density = np.exp(-((x - m) ** 2) / (2 * s**2)) / np.sqrt(2 * np.pi * s**2)
        return _per_image(-np.log(density))

    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1))
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(log_of_density(x, x[::-1], 0.3),
                                   ex.gaussian_nll(x, x[::-1], 0.3), rtol=1e-9)
        assert np.all(np.isinf(log_of_density(x, x[::-1], 0.01)))
    _assert_incorrect(ex.q1, log_of_density, "sigma = 0.01", "inf", "log-density")

    def product_of_densities(x, m, s):
        density = np.exp(-((x - m) ** 2) / (2 * s**2)) / np.sqrt(2 * np.pi * s**2)
        return -np.log(np.prod(density.reshape(len(x), -1), axis=1))

    _assert_incorrect(ex.q1, product_of_densities, "inf", "product of 784")


# --- 5.2 the importance-weighted bound --------------------------------------------------

def test_q2_reference_is_the_log_of_the_mean_weight():
    rng = np.random.default_rng(3)
    log_w = rng.normal(size=(5, 7))
    np.testing.assert_allclose(ex.iw_bound(log_w), np.log(np.exp(log_w).mean(axis=1)),
                               rtol=1e-12)
    shifted = ex.iw_bound(log_w + 1000.0)  # exp(1000) overflows; the shift carries over
    np.testing.assert_allclose(shifted, np.log(np.exp(log_w).mean(axis=1)) + 1000.0,
                               rtol=1e-12)
    np.testing.assert_allclose(ex.iw_bound(log_w[:, :1]), log_w[:, 0])


def test_q2_accepts_logaddexp_and_float32():
    assert ex.q2.check(
        lambda w: np.logaddexp.reduce(w, axis=1) - math.log(w.shape[1])).passed

    def float32_version(w):
        w = np.float32(w)
        top = w.max(axis=1)
        return top + np.log(np.exp(w - top[:, None]).sum(axis=1) / np.float32(w.shape[1]))

    assert ex.q2.check(float32_version).passed


def test_q2_calls_out_the_typical_mistakes():
    def naive(w):
        return np.log(np.mean(np.exp(w), axis=1))

    def log_sum_exp(w):
        top = w.max(axis=1)
        return top + np.log(np.exp(w - top[:, None]).sum(axis=1))

    _assert_incorrect(ex.q2, naive, "inf or NaN", "overflows", "largest log weight")
    _assert_incorrect(ex.q2, lambda w: w.mean(axis=1), "ELBO", "average of the weights")
    _assert_incorrect(ex.q2, log_sum_exp, "log(50) too high")
    _assert_incorrect(ex.q2, lambda w: w.max(axis=1), "largest log weight")
    _assert_incorrect(ex.q2, lambda w: ex.iw_bound(np.asarray(w).T), "shape (6,)", "axis 1")
    _assert_incorrect(ex.q2, lambda w: log_sum_exp(w) - math.log(50), "k = 1")
    _assert_incorrect(ex.q2, lambda w: ex.iw_bound(w) + 0.5, "Not right yet")


# --- 5.3 the BCE floor -------------------------------------------------------------------

def test_q3_reference_is_the_bce_of_the_targets_with_themselves():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(3, 28, 28, 1))
    x[:, 0] = 0.0
    x[:, 1] = 1.0
    p = np.clip(x, 1e-300, 1 - 1e-16)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(ex.bce_floor(x), bce, rtol=1e-9)
    np.testing.assert_allclose(ex.bce_floor(x), bernoulli_entropy_floor(x), rtol=1e-12)


def test_q3_accepts_a_clipped_log():
    def clipped(images):
        x = np.asarray(images)
        p = np.clip(x, 1e-12, 1 - 1e-12)
        return -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).sum(axis=1)

    assert ex.q3.check(clipped).passed


def test_q3_calls_out_the_typical_mistakes():
    def naive(x):
        with np.errstate(all="ignore"):
            return _per_image(-(x * np.log(x) + (1 - x) * np.log(1 - x)))

    def in_bits(x):
        return ex.bce_floor(x) / math.log(2)

    def one_outcome(x):
        with np.errstate(all="ignore"):
            return _per_image(-np.where(x > 0, x * np.log(x), 0.0))

    _assert_incorrect(ex.q3, naive, "NaN", "exactly 0 or 1")
    _assert_incorrect(ex.q3, in_bits, "bits")
    _assert_incorrect(ex.q3, lambda x: ex.bce_floor(x) / 784, "784 times too small")
    _assert_incorrect(ex.q3, lambda x: -ex.bce_floor(x), "never negative")
    _assert_incorrect(ex.q3, one_outcome, "both outcomes")

    def clipped_too_wide(images):
        x = np.asarray(images)
        p = np.clip(x, 1e-3, 1 - 1e-3)
        return _per_image(-(x * np.log(p) + (1 - x) * np.log(1 - p)))

    _assert_incorrect(ex.q3, clipped_too_wide, "pure black", "clip is too wide")


# --- prediction 5.1 ------------------------------------------------------------------------

def test_p1_classes_and_reveal():
    assert [ex.climb_class(v) for v in (0.2, 1.0, 10.0, 10.5, 67.0)] == [
        "under 1", "1 to 10", "1 to 10", "over 10", "over 10"]
    assert ex.p1.record("over 10").status == "recorded"
    assert ex.p1.reveal("Over 10", ex.climb_class(37.0)).status == "held"
    missed = ex.p1.reveal("under 1", ex.climb_class(37.0))
    assert missed.status == "missed" and "narrower" in missed.message
    assert "close enough" in ex.p1.reveal("under 1", "under 1").message


# --- 5.4 the best sigma ------------------------------------------------------------------

def test_q4_reference_minimises_the_summed_gaussian_nll():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(4, 28, 28, 1))
    x_hat = x + rng.normal(0.03, 0.08, size=x.shape)
    sigmas = np.linspace(0.02, 0.3, 2801)
    squared = np.sum((x - x_hat) ** 2)
    nll = squared / (2 * sigmas**2) + x.size * np.log(sigmas)
    assert ex.best_sigma(x, x_hat) == pytest.approx(sigmas[np.argmin(nll)], abs=1e-4)


def test_q4_calls_out_the_typical_mistakes():
    def per_image(x, r):
        return np.sqrt(((x - r) ** 2).reshape(len(x), -1).mean(axis=1))

    _assert_incorrect(ex.q4, lambda x, r: float(np.mean((x - r) ** 2)), "variance")
    _assert_incorrect(ex.q4, lambda x, r: float(np.std(x - r)), "subtracted the average")
    _assert_incorrect(ex.q4, lambda x, r: float(np.mean(np.abs(x - r))), "absolute")
    _assert_incorrect(ex.q4, per_image, "single sigma")
    _assert_incorrect(ex.q4, lambda x, r: float(np.sqrt(
        ((x - r) ** 2).reshape(len(x), -1).sum(axis=1).mean())), "sqrt(784) times")
