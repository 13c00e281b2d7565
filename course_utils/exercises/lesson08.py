"""Exercises for lesson 08 (how good is my VAE?).

* ``q1``: the importance-weighted bound from log weights, a numerically stable
  log-mean-exp.
* ``q2``: the amortisation gap of one data point of the linear-Gaussian model.
* ``q3``: bits per dimension of a density on dequantised pixels.
* ``p1``: predict which data set the Fashion-MNIST VAE scores higher (not graded).

Each checker runs the answer on its own fixed inputs, compares with the reference, and
recognises the typical mistakes, saying what is wrong without giving the code away.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from course_utils.elbo.toy_models import LinearGaussianModel
from course_utils.evaluation import importance_weighting, inference_gaps
from course_utils.exercises import core
from course_utils.exercises.core import CheckFailed, Exercise, Prediction, expect
from course_utils.exercises.shared import log_mean_exp_mistakes

__all__ = ["q1", "q2", "q3", "p1", "log_mean_exp", "amortisation_gap", "bits_per_dim"]

_RTOL = 1e-6
_ATOL = 1e-9



# --- 8.1 the bound from log weights --------------------------------------------------------

def log_mean_exp(log_w: ArrayLike) -> np.ndarray:
    """L_k of each row: log of the mean of exp(log_w) over the last axis, shape (n,)."""
    log_w = np.asarray(log_w, dtype=np.float64)
    top = log_w.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.mean(np.exp(log_w - top), axis=1))


def _check_log_mean_exp(answer: Any) -> None:
    core.expect_callable(answer, "my_log_mean_exp", 1)
    rng = np.random.default_rng(81)
    moderate = rng.normal(-3.0, 1.5, size=(4, 16))
    want = log_mean_exp(moderate)
    got = core.as_numbers(answer(moderate.copy()), "one number per row")
    core.expect_shape(got, want.shape, "one bound per row (image)",
                 "Average over the k weights of each row, axis 1, not over the images.")
    core.expect_finite(got, "Your function returns NaN or inf for log weights around -3, where "
                       "nothing should overflow.")
    core.compare(got, want, "Right shape, wrong values on ordinary log weights: the bound is the "
                       "log of the mean of exp(log weight) within each row.",
            mistakes=log_mean_exp_mistakes(moderate, want), rtol=_RTOL, atol=_ATOL)
    # Real VAE log weights: a digit's log p(x, z) - log q(z|x) is around -100 to -1000.
    for centre in (-120.0, -800.0, 750.0):
        extreme = rng.normal(centre, 2.0, size=(3, 32))
        want = log_mean_exp(extreme)
        with np.errstate(all="ignore"):
            got = core.as_numbers(answer(extreme.copy()), "one number per row")
        core.expect_shape(got, want.shape, "one bound per row")
        if not bool(np.all(np.isfinite(got))):
            direction = "underflows to 0" if centre < 0 else "overflows to inf"
            raise CheckFailed(f"Right on log weights near -3, but log weights near "
                              f"{centre:g} give NaN or inf: exp of them {direction} in "
                              f"float64. Shift every weight of a row by a constant before "
                              f"exponentiating, and add it back after the log.")
        expect(core.close(got, want, rtol=1e-9, atol=_ATOL),
               f"Log weights near {centre:g} give wrong "
               "values: after shifting by a constant, add the same constant back.")
    one = rng.normal(-50.0, 3.0, size=(2, 1))
    expect(core.close(core.as_numbers(answer(one), "one number per row"), one[:, 0], rtol=_RTOL,
                 atol=_ATOL),
           "With k = 1 the bound is the single log weight itself.")


q1 = Exercise(
    "Exercise 8.1: the importance-weighted bound from log weights",
    _check_log_mean_exp,
    log_mean_exp,
    hints=(
        "L_k = log((1/k) * sum_i exp(log_w_i)) for each row. Try exp(-800.0) in NumPy "
        "first: what does it give, and what is the log of that?",
        "log(mean(exp(a))) = m + log(mean(exp(a - m))) for any constant m. Pick m as the "
        "largest value of the row (keepdims=True keeps it broadcastable), so every "
        "exponent is at most 0 and the largest is exactly exp(0) = 1.",
    ),
    forbidden=(importance_weighting.log_mean_exp, importance_weighting.bounds_by_k,
               importance_weighting.importance_weighted_bound),
)


# --- 8.2 the amortisation gap of one point -------------------------------------------------

def amortisation_gap(model: LinearGaussianModel, x: ArrayLike) -> float:
    """ELBO(best diagonal q) - ELBO(encoder's q) of one data point x, shape (data_dim,)."""
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    best_mean, best_log_var = model.best_diagonal_q(x)
    enc_mean, enc_log_var = model.columnwise_encoder(x)
    return float(model.elbo(x, best_mean, best_log_var)[0]
                 - model.elbo(x, enc_mean, enc_log_var)[0])


def _check_amortisation_gap(answer: Any) -> None:
    core.expect_callable(answer, "my_amortisation_gap", 2)
    for seed in (3, 8):
        model = LinearGaussianModel.random(6, 3, orthogonal=False, seed=seed)
        points, _ = model.sample(3, seed=seed + 1)
        for x in points:
            want = amortisation_gap(model, x)
            got = core.as_number(answer(model, x.copy()), "one number, in nats",
                            "Return one number for one data point; got shape {shape}.")
            x2 = x.reshape(1, -1)
            evidence = float(model.log_evidence(x2)[0])
            enc = model.columnwise_encoder(x2)
            best = model.best_diagonal_q(x2)
            elbo_enc = float(model.elbo(x2, *enc)[0])
            elbo_best = float(model.elbo(x2, *best)[0])
            post_mean, post_cov = model.posterior(x2)
            marginal = np.log(np.diag(post_cov))[None, :]
            elbo_marginal = float(model.elbo(x2, post_mean, marginal)[0])
            core.compare(got, want,
                    f"Your gap ({got:.4g} nats) is not right. It is the ELBO of the best "
                    "diagonal q minus the ELBO of the encoder's q, for this one point.",
                    mistakes=[
                        (-want, "Your gap has the wrong sign: the per-point optimum has the "
                                "higher ELBO, so the gap is positive."),
                        (evidence - elbo_enc,
                         "You computed log p(x) - ELBO(encoder): the whole gap. Part of it "
                         "is the approximation gap, which even the best diagonal q keeps; "
                         "the amortisation gap starts from the best q, not from log p(x)."),
                        (evidence - elbo_best,
                         "You computed the approximation gap (log p(x) - ELBO of the best "
                         "q). The question asks how much the encoder loses against the "
                         "best q."),
                        (elbo_marginal - elbo_enc,
                         "Your 'best q' uses the exact posterior's marginal variances. With "
                         "correlated latents the best diagonal q is narrower than that: use "
                         "the q with the highest ELBO, which best_diagonal_q returns."),
                    ], rtol=_RTOL, atol=_ATOL)


q2 = Exercise(
    "Exercise 8.2: the amortisation gap of one data point",
    _check_amortisation_gap,
    amortisation_gap,
    hints=(
        "Two ELBOs of the same point: one with the encoder's q (columnwise_encoder), one "
        "with the best diagonal q (best_diagonal_q). The model's methods take arrays of "
        "shape (n, data_dim): make x one row.",
        "model.elbo(x_row, mean, log_var) gives an array of one ELBO; the gap is the "
        "best q's ELBO minus the encoder's, a positive float.",
    ),
)


# --- 8.3 bits per dimension ----------------------------------------------------------------

def bits_per_dim(nll_nats: ArrayLike, dims: int, levels: int) -> np.ndarray:
    """Bits per dimension of a density on [0, 1]^dims fitted to `levels` grey values."""
    return (np.asarray(nll_nats, dtype=np.float64) + dims * math.log(levels)) \
        / (dims * math.log(2))


def _check_bits_per_dim(answer: Any) -> None:
    core.expect_callable(answer, "my_bits_per_dim", 3)
    cases = ((0.0, 784, 256), (-2500.0, 784, 256), (-900.0, 3072, 256), (100.0, 10, 16))
    for nll, dims, levels in cases:
        want = float(bits_per_dim(nll, dims, levels))
        got = core.as_number(answer(nll, dims, levels), "one number",
                        "Return one number for one value of nll_nats; got shape {shape}.")
        case = f"For nll_nats={nll:g}, dims={dims}, levels={levels}"
        bits = dims * math.log(2)
        core.compare(got, want, f"{case} your value ({got:.6g}) is not right.", mistakes=[
            (nll / bits,
             f"{case} you only converted units: the density is on [0, 1] but the grey "
             "values are `levels` bins of width 1/levels; each pixel's density times its "
             "bin width is a probability."),
            ((nll - dims * math.log(levels)) / bits,
             f"{case} the dequantisation term has the wrong sign: a density that knows "
             "nothing (uniform, nll = 0) must cost log2(levels) bits per pixel, not less."),
            (want * math.log(2),
             f"{case} your answer is in nats per dimension: divide by log 2 for bits."),
            (want * dims, f"{case} your answer is per image: divide by the number of "
                          "dimensions."),
        ], rtol=1e-9, atol=1e-12)


q3 = Exercise(
    "Exercise 8.3: bits per dimension",
    _check_bits_per_dim,
    bits_per_dim,
    hints=(
        "A density p on [0, 1] of a pixel that takes `levels` grey values assigns each "
        "value (a bin of width 1/levels) the probability p / levels, roughly: so -log P "
        "= -log p + log(levels) per pixel.",
        "Add dims * log(levels) to the nats per image, then divide by dims and by log 2.",
    ),
    forbidden=(inference_gaps.bits_per_dim,),
)


# --- prediction ----------------------------------------------------------------------------

p1 = Prediction(
    "Prediction 8.1: which images does the Fashion-MNIST VAE score higher?",
    choices=("mnist", "fashion"),
    explanation={
        "mnist": "The model trained on clothes gives the digits higher likelihood: MNIST "
                 "images are mostly black background, which any decoder of this kind "
                 "predicts cheaply, so their likelihood is high whatever the shapes. A "
                 "likelihood measures how easy an image is to encode, not whether it "
                 "belongs.",
        "fashion": "Here the clothes score higher on average under their own model, as one "
                   "would hope; but look at how much the two histograms overlap, and at how "
                   "much of the difference the entropy floors account for below. The "
                   "literature reports the reverse ranking for some models, so it is worth "
                   "checking every time.",
    },
)
