"""Tests for the lesson 08 exercises: references pass, typical mistakes get specific advice.

Expected values are computed here independently (a log of a sum of exponentials in
high precision, the linear-Gaussian model's closed forms, a uniform density), never by
the reference itself.
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

from course_utils.elbo.toy_models import LinearGaussianModel
from course_utils.exercises import lesson08 as ex

QUESTIONS = (ex.q1, ex.q2, ex.q3)
SOLUTION_SNIPPETS = ("keepdims=True)", "best_diagonal_q(x)", "math.log(levels)")
_assert_incorrect = partial(assert_incorrect, forbidden=SOLUTION_SNIPPETS)


test_exercise_contract, test_graded_copies_refuse_every_shortcut = contract_tests(QUESTIONS)


# --- 8.1 log-mean-exp ---------------------------------------------------------------------

def test_q1_reference_matches_a_high_precision_sum():
    from decimal import Decimal, getcontext

    getcontext().prec = 50
    log_w = np.array([[-800.0, -801.5, -799.25], [-3.0, -1.0, -2.0]])
    for row, got in zip(log_w, ex.log_mean_exp(log_w)):
        total = sum(Decimal(float(v)).exp() for v in row) / len(row)
        assert got == pytest.approx(float(total.ln()), abs=1e-12)


def test_q1_accepts_numpy_logaddexp_reduce_minus_log_k():
    def answer(log_w):
        return np.logaddexp.reduce(np.asarray(log_w), axis=1) - math.log(np.shape(log_w)[1])

    assert ex.q1.check(answer).passed


def test_q1_naive_exp_fails_on_realistic_log_weights_and_says_why():
    def naive(log_w):
        return np.log(np.mean(np.exp(np.asarray(log_w)), axis=1))

    message = _assert_incorrect(ex.q1, naive, "-800", "underflows")
    assert "Shift" in message


def test_q1_overflow_is_caught_too():
    def clipped_low_only(log_w):  # stable for very negative weights, overflows for large
        log_w = np.asarray(log_w)
        shift = np.minimum(log_w.max(axis=1, keepdims=True), 0.0)
        return shift[:, 0] + np.log(np.mean(np.exp(log_w - shift), axis=1))

    _assert_incorrect(ex.q1, clipped_low_only, "overflows")


def test_q1_off_by_log_k_either_way():
    def log_sum_exp(log_w):
        log_w = np.asarray(log_w)
        top = log_w.max(axis=1, keepdims=True)
        return top[:, 0] + np.log(np.sum(np.exp(log_w - top), axis=1))

    def minus_twice(log_w):
        return log_sum_exp(log_w) - 2 * math.log(np.shape(log_w)[1])

    _assert_incorrect(ex.q1, log_sum_exp, "too high", "sum")
    _assert_incorrect(ex.q1, minus_twice, "too low")


def test_q1_other_mistakes():
    _assert_incorrect(ex.q1, lambda w: np.mean(w, axis=1), "ELBO")
    _assert_incorrect(ex.q1, lambda w: np.max(w, axis=1), "largest")
    _assert_incorrect(ex.q1, lambda w: ex.log_mean_exp(np.asarray(w).T), "axis 1")

    def forgot_to_add_back(log_w):
        log_w = np.asarray(log_w)
        top = log_w.max(axis=1, keepdims=True)
        return np.log(np.mean(np.exp(log_w - top), axis=1)) + np.where(top[:, 0] > -50,
                                                                        top[:, 0], 0.0)

    _assert_incorrect(ex.q1, forgot_to_add_back, "add the same constant back")


# --- 8.2 amortisation gap ------------------------------------------------------------------

def test_q2_reference_is_the_elbo_difference_and_closes_the_split():
    model = LinearGaussianModel.random(6, 3, orthogonal=False, seed=3)
    x, _ = model.sample(1, seed=4)
    gap = ex.amortisation_gap(model, x[0])
    enc = model.columnwise_encoder(x)
    total = float(model.log_evidence(x)[0] - model.elbo(x, *enc)[0])
    assert gap > 0
    assert gap + model.approximation_gap() == pytest.approx(total, rel=1e-10)


def test_q2_mistakes_named():
    def wrong_sign(model, x):
        return -ex.amortisation_gap(model, x)

    def total_gap(model, x):
        x = np.reshape(x, (1, -1))
        return float(model.log_evidence(x)[0] - model.elbo(x, *model.columnwise_encoder(x))[0])

    def approximation_gap(model, x):
        x = np.reshape(x, (1, -1))
        return float(model.log_evidence(x)[0] - model.elbo(x, *model.best_diagonal_q(x))[0])

    def marginal_variances(model, x):
        x = np.reshape(x, (1, -1))
        mean, cov = model.posterior(x)
        q = (mean, np.log(np.diag(cov))[None, :])
        return float(model.elbo(x, *q)[0] - model.elbo(x, *model.columnwise_encoder(x))[0])

    _assert_incorrect(ex.q2, wrong_sign, "wrong sign")
    _assert_incorrect(ex.q2, total_gap, "whole gap", "approximation gap")
    _assert_incorrect(ex.q2, approximation_gap, "approximation gap")
    _assert_incorrect(ex.q2, marginal_variances, "marginal variances")
    _assert_incorrect(ex.q2, lambda model, x: np.zeros(3), "one number")


# --- 8.3 bits per dimension ----------------------------------------------------------------

def test_q3_reference_uniform_density_gives_log2_levels_bits():
    assert ex.bits_per_dim(0.0, 784, 256) == pytest.approx(8.0)
    assert ex.bits_per_dim(0.0, 10, 2) == pytest.approx(1.0)


def test_q3_mistakes_named():
    _assert_incorrect(ex.q3, lambda nll, d, lv: nll / (d * math.log(2)), "bin")
    _assert_incorrect(ex.q3, lambda nll, d, lv: (nll - d * math.log(lv)) / (d * math.log(2)),
                      "wrong sign")
    _assert_incorrect(ex.q3, lambda nll, d, lv: (nll + d * math.log(lv)) / d, "nats")
    _assert_incorrect(ex.q3, lambda nll, d, lv: (nll + d * math.log(lv)) / math.log(2),
                      "per image")
    _assert_incorrect(ex.q3, lambda nll, d, lv: (nll + d * math.log2(lv)) / (d * math.log(2)),
                      "not right")


# --- prediction ----------------------------------------------------------------------------

def test_p1_records_without_judging_and_reveals_both_ways():
    assert ex.p1.record("MNIST").status == "recorded"
    assert ex.p1.record("digits").status == "incorrect"
    assert ex.p1.reveal("mnist", "mnist").status == "held"
    missed = ex.p1.reveal("fashion", "mnist")
    assert missed.status == "missed" and "easy" in missed.message
    assert "own model" in ex.p1.reveal("fashion", "fashion").message
