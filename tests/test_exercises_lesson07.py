"""Tests for the lesson 07 exercises: references pass, typical mistakes get specific advice.

Expected values are computed here independently (hand-written numbers, the tested
:mod:`course_utils.models.vae` free-bits term and :mod:`course_utils.latent.usage`), never by
the reference itself.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from exercise_contract import (
    assert_incorrect,
    contract_tests,
)

from course_utils.exercises import ____
from course_utils.exercises import lesson07 as ex
from course_utils.latent.usage import active_units
from course_utils.models.vae import free_bits_kl

QUESTIONS = (ex.q1, ex.q2, ex.q3)
SOLUTION_SNIPPETS = ("min(1.0", "np.maximum(per_dimension", "np.var(", "axis=0)")
_assert_incorrect = partial(assert_incorrect, forbidden=SOLUTION_SNIPPETS)


test_exercise_contract, test_graded_copies_refuse_every_shortcut = contract_tests(QUESTIONS)


# --- 7.1 the warm-up schedule ------------------------------------------------------------

def test_warmup_reference_values():
    assert [ex.warmup_weight(e, 4) for e in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_warmup_accepts_an_equivalent_answer():
    assert ex.q1.check(lambda epoch, n: epoch / n if epoch < n else 1.0).passed
    assert ex.q1.check(lambda epoch, n: float(np.clip(epoch / n, 0, 1))).passed


@pytest.mark.parametrize("answer, phrase", [
    (lambda epoch, n: epoch / n, "not keep growing"),
    (lambda epoch, n: min(1.0, (epoch + 1) / n), "count the epochs from 0"),
    (lambda epoch, n: min(1.0, epoch / (n + 1)), "one epoch late"),
    (lambda epoch, n: min(1, epoch // n), "true division"),
    (lambda epoch, n: min(1.0, (epoch / n) ** 2), "equal steps"),
    (lambda epoch, n: 1.0, "first epoch (epoch 0) has weight 1"),
    (lambda epoch, n: [0.5, 0.5], "not one number"),
])
def test_warmup_mistakes_get_specific_advice(answer, phrase):
    _assert_incorrect(ex.q1, answer, phrase)


def test_warmup_weight_of_one_at_the_first_epoch_is_named():
    message = _assert_incorrect(ex.q1, lambda epoch, n: 1.0)
    assert "weight 0" in message


# --- 7.2 the free-bits KL ----------------------------------------------------------------

def _kl(mean, log_var):
    return 0.5 * (mean**2 + np.exp(log_var) - 1 - log_var)


def test_free_bits_reference_matches_the_course_term():
    rng = np.random.default_rng(0)
    mean, log_var = rng.standard_normal((7, 4)), 0.3 * rng.standard_normal((7, 4))
    for floor in (0.0, 0.2, 0.9):
        want, _ = free_bits_kl(mean, log_var, floor)
        assert ex.free_bits_kl(mean, log_var, floor) == pytest.approx(float(want), rel=1e-6)


def test_free_bits_accepts_tensor_style_answers():
    import tensorflow as tf

    def with_tensorflow(z_mean, z_log_var, free_bits):
        per_dim = tf.reduce_mean(0.5 * (tf.square(z_mean) + tf.exp(z_log_var) - 1.0
                                        - z_log_var), axis=0)
        return tf.reduce_sum(tf.maximum(per_dim, free_bits))

    assert ex.q2.check(with_tensorflow).passed


@pytest.mark.parametrize("answer, phrase", [
    (lambda m, lv, f: float(_kl(m, lv).mean(axis=0).sum()), "the floor is missing"),
    (lambda m, lv, f: float(np.minimum(_kl(m, lv).mean(axis=0), f).sum()), "wrong way round"),
    (lambda m, lv, f: float(np.maximum(_kl(m, lv), f).sum(axis=1).mean()), "batch AVERAGE"),
    (lambda m, lv, f: max(float(_kl(m, lv).mean(axis=0).sum()), f), "EACH dimension"),
    (lambda m, lv, f: float(np.maximum(_kl(m, lv).mean(axis=0), f).mean()), "too small"),
    (lambda m, lv, f: float(np.maximum(_kl(m, lv).sum(axis=0), f).sum()), "batch size"),
    (lambda m, lv, f: float(np.maximum(2 * _kl(m, lv).mean(axis=0), f).sum()), "twice"),
])
def test_free_bits_mistakes_get_specific_advice(answer, phrase):
    _assert_incorrect(ex.q2, answer, phrase)


def test_free_bits_log_variance_read_as_variance_is_named():
    def as_variance(m, lv, f):
        per = 0.5 * (m**2 + lv - 1 - np.log(np.abs(lv) + 1e-300))
        return float(np.maximum(per.mean(axis=0), f).sum())

    _assert_incorrect(ex.q2, as_variance, "LOG of the variance")


def test_free_bits_must_stay_finite_for_a_confident_posterior():
    def via_std(m, lv, f):  # exp(lv / 2) squared underflows to 0 only in float16-like
        variance = np.exp(np.asarray(lv, np.float16).astype(np.float64))
        per = 0.5 * (m**2 + variance - 1 - lv)
        return float(np.maximum(per.mean(axis=0), f).sum())

    # float16 rounds ordinary log-variances: caught by the first comparisons.
    assert ex.q2.check(via_std).status == "incorrect"

    def clipped(m, lv, f):  # clips the log-variance: fine on ordinary codes only
        lv = np.clip(lv, -10, 10)
        return float(np.maximum(_kl(m, lv).mean(axis=0), f).sum())

    _assert_incorrect(ex.q2, clipped, "log-variance -30")


# --- 7.3 active units --------------------------------------------------------------------

def test_active_units_reference_matches_the_course_count():
    rng = np.random.default_rng(1)
    codes = rng.standard_normal((50, 6)) * np.array([1.0, 0.2, 0.05, 0.0, 0.3, 0.08])
    assert ex.count_active_units(codes) == active_units(codes) == 3


@pytest.mark.parametrize("answer, phrase", [
    (lambda z, t=0.01: int(np.sum(np.std(z, axis=0) > t)), "VARIANCE"),
    (lambda z, t=0.01: int(np.sum(np.var(z, axis=1) > t)), "wrong axis"),
    (lambda z, t=0.01: int(np.sum(np.mean(np.asarray(z) ** 2, axis=0) > t)), "mean square"),
    (lambda z, t=0.01: int(np.sum(np.var(z, axis=0) < t)), "inactive"),
    (lambda z, t=0.01: float(np.sum(np.var(z, axis=0)[np.var(z, axis=0) > t])),
     "how many"),
    (lambda z, t=0.01: int(np.sum(np.var(z, axis=0) > 0.01)), "threshold=0.1"),
])
def test_active_units_mistakes_get_specific_advice(answer, phrase):
    _assert_incorrect(ex.q3, answer, phrase)


# --- the prediction ----------------------------------------------------------------------

def test_prediction_records_and_reveals_without_grading():
    assert ex.p1.record(____).status == "not_attempted"
    assert ex.p1.record(3).status == "recorded"
    assert ex.p1.record("three").status == "incorrect"
    assert ex.p1.reveal(3, 3).status == "held"
    assert ex.p1.reveal(8, 3).status == "missed"
    revealed = ex.p1.reveal(____, 2)
    assert revealed.status == "not_attempted" and "2" in revealed.message
