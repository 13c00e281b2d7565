"""Tests for the lesson 05 exercises: references pass, typical mistakes get specific advice.

Expected values of the references are computed here independently (the density written
out, hand-derived numbers, a grid search, the tested :mod:`course_utils.likelihoods`),
never by the reference itself.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
from exercise_contract import assert_exercise_contract, assert_graded_contract, assert_incorrect

from course_utils.exercises import lesson05 as ex
from course_utils.likelihoods import bernoulli_entropy_floor, implied_sigma_squared

QUESTIONS = (ex.q1, ex.q2, ex.q3, ex.q4)


SOLUTION_SNIPPETS = ("np.sqrt(", "np.log(", "np.mean(", "pixel_count / (2", "/ (2 * sigma")
_assert_incorrect = partial(assert_incorrect, forbidden=SOLUTION_SNIPPETS)


# --------------------------------------------------------------------- every question

@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.title.split(":")[0])
def test_exercise_contract(question):
    assert_exercise_contract(question)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.title.split(":")[0])
def test_graded_copies_refuse_every_shortcut(question):
    assert_graded_contract(question)


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


# --- 5.2 the implied sigma ---------------------------------------------------------------

def test_q2_reference_matches_hand_values_and_the_library():
    assert ex.implied_sigma(784) == pytest.approx(math.sqrt(392))  # 19.80
    assert ex.implied_sigma(784, 392.0) == pytest.approx(1.0)
    for pixel_count, weight in ((784, 1.0), (3072, 7.0)):
        assert ex.implied_sigma(pixel_count, weight) ** 2 == pytest.approx(
            implied_sigma_squared(pixel_count, reconstruction_weight=weight))


def test_q2_calls_out_the_typical_mistakes():
    _assert_incorrect(ex.q2, lambda d, w=1.0: d / (2 * w), "variance")
    _assert_incorrect(ex.q2, lambda d, w=1.0: math.sqrt(d / w), "sqrt(2) times too large")
    _assert_incorrect(ex.q2, lambda d, w=1.0: math.sqrt(2 * w / d), "upside down")
    _assert_incorrect(ex.q2, lambda d, w=1.0: math.sqrt(d / 2), "ignored the weight")
    _assert_incorrect(ex.q2, lambda d, w=1.0: math.sqrt(d * w / 2), "not right")
    _assert_incorrect(ex.q2, lambda d, w=1.0: np.full(3, 19.8), "one number")


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
