"""Exercises for lesson 07 (the KL knob: beta, warm-up, free bits, active units).

* ``q1``: write the linear KL warm-up schedule, the weight of each epoch.
* ``q2``: write the free-bits KL term of a batch.
* ``q3``: count the active units of an encoder from its posterior means.
* ``p1``: predict how many units stay active at a large beta (not graded).

Each checker runs the answer on its own fixed inputs, compares with the reference, and
recognises the typical mistakes, saying what is wrong without giving the code away.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from course_utils.exercises import core
from course_utils.exercises.core import CheckFailed, Exercise, Prediction, expect
from course_utils.exercises.shared import kl_per_dimension
from course_utils.latent import usage as latent_usage
from course_utils.models import kl_schedules, vae

__all__ = ["q1", "q2", "q3", "p1", "warmup_weight", "free_bits_kl", "count_active_units"]

_RTOL = 1e-6


def _number(value: object, what: str) -> float:
    """The learner's one finite number, or advice."""
    number = core.as_number(value, what, "Your function returned an array of shape {shape}, not "
                                    f"one number: return {what}.")
    core.expect_finite(number, f"Your function returned {number}: return {what}, a finite number.")
    return number



# --- 7.1 the warm-up schedule -------------------------------------------------------------

def warmup_weight(epoch: int, warmup_epochs: int) -> float:
    """KL weight of epoch ``epoch`` (0 first): 0 at the start, 1 from ``warmup_epochs`` on."""
    return min(1.0, epoch / warmup_epochs)


def _check_warmup(answer: Any) -> None:
    core.expect_callable(answer, "my_warmup_weight", 1)
    for warmup_epochs in (4, 10, 3):
        epochs = range(0, 2 * warmup_epochs + 3)
        want = [warmup_weight(epoch, warmup_epochs) for epoch in epochs]
        got = [_number(answer(epoch, warmup_epochs), "the KL weight of that epoch")
               for epoch in epochs]
        if np.allclose(got, want, rtol=_RTOL, atol=1e-12):
            continue
        n = warmup_epochs
        expect(got[0] == 0.0,
               f"With warmup_epochs={n} your first epoch (epoch 0) has weight {got[0]:.3g}: "
               "the first epoch should train with weight 0, a plain autoencoder, so count "
               "the epochs from 0 as Keras does.")
        expect(all(g <= 1.0 + 1e-12 for g in got),
               f"With warmup_epochs={n} your weight reaches {max(got):.3g}: after the "
               "warm-up it must stay at 1 (the ELBO), not keep growing.")
        expect(not (got[n] < 1.0 and math.isclose(got[n + 1], 1.0)),
               f"With warmup_epochs={n} your weight reaches 1 one epoch late (epoch "
               f"{n + 1}): at epoch warmup_epochs it should already be 1.")
        middle = [got[e] for e in range(1, n)]
        expect(not all(v == 0.0 for v in middle),
               f"With warmup_epochs={n} your weight stays at 0 until it jumps to 1: did a "
               "division of two whole numbers round down? Use true division.")
        steps = np.diff(got[: n + 1])
        expect(bool(np.allclose(steps, steps[0], rtol=1e-6)),
               f"With warmup_epochs={n} your weight does not rise in equal steps "
               f"(steps {np.round(steps, 3).tolist()}): a linear warm-up adds the same "
               "amount every epoch.")
        raise CheckFailed(f"With warmup_epochs={n} your weights are "
                          f"{np.round(got[: n + 2], 3).tolist()}; expected "
                          f"{np.round(want[: n + 2], 3).tolist()}.")


q1 = Exercise(
    "Exercise 7.1: the linear warm-up schedule",
    _check_warmup,
    warmup_weight,
    hints=(
        "Epoch 0 has weight 0; each epoch adds 1 / warmup_epochs; once the weight is 1 it "
        "stays there.",
        "Divide the epoch number by warmup_epochs, then cap the result at 1 with min.",
    ),
    forbidden=(kl_schedules.linear_warmup,),
)


# --- 7.2 the free-bits KL -------------------------------------------------------------------

def free_bits_kl(z_mean: ArrayLike, z_log_var: ArrayLike, free_bits: float) -> float:
    """sum over dimensions of max(free_bits, batch-average KL of that dimension)."""
    mean = np.asarray(z_mean, dtype=np.float64)
    log_var = np.asarray(z_log_var, dtype=np.float64)
    per_dimension = np.mean(0.5 * (mean**2 + np.exp(log_var) - 1.0 - log_var), axis=0)
    return float(np.sum(np.maximum(per_dimension, free_bits)))


def _free_bits_cases() -> list[tuple[np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(72)
    n, dims = 6, 5
    # Dimensions from unused (posterior = prior) to well used, and one used by only
    # one image, so that a floor per image and a floor of the average differ.
    scale = np.array([0.0, 0.3, 0.8, 2.0, 0.0])
    mean = rng.standard_normal((n, dims)) * scale
    mean[0, 4] = 2.5
    log_var = np.where(scale > 0, -0.5 * scale, 0.0) + 0.01 * rng.standard_normal((n, dims))
    log_var[1:, 4] = 0.0
    # First codes close to the prior, whose whole KL is below one floor.
    return [(0.02 * mean, 0.02 * log_var, 0.25), (mean, log_var, 0.25),
            (mean, log_var, 0.6), (mean, log_var, 0.0), (mean[:, :3], log_var[:, :3], 0.1)]


def _free_bits_mistakes() -> list[tuple[Callable[..., Any], str]]:
    """Typical wrong answers as functions of (kl matrix, mean, log_var, floor), with advice."""
    def as_variance(kl: np.ndarray, mean: np.ndarray, log_var: np.ndarray,
                    floor: float) -> float:
        wrong = 0.5 * (mean**2 + log_var - 1.0 - np.log(np.abs(log_var) + 1e-300))
        return float(np.maximum(wrong.mean(axis=0), floor).sum())

    return [
        (lambda kl, m, lv, f: kl.mean(axis=0).sum(),
         "Your value is the plain KL term: the floor is missing. Each dimension should "
         "count at least free_bits."),
        (lambda kl, m, lv, f: np.minimum(kl.mean(axis=0), f).sum(),
         "Your floor works the wrong way round: it caps each dimension's KL at free_bits "
         "instead of raising the small ones up to it."),
        (lambda kl, m, lv, f: np.maximum(kl, f).sum(axis=1).mean(),
         "You apply the floor to each image's KL and then average: Kingma et al. floor the "
         "batch AVERAGE of each dimension's KL, so average over the images first."),
        (lambda kl, m, lv, f: max(kl.mean(axis=0).sum(), f),
         "You put the floor under the total KL: it goes under EACH dimension's KL, so that "
         "a dimension cannot fall silent while others carry the total."),
        (lambda kl, m, lv, f: np.maximum(kl.mean(axis=0), f).mean(),
         "Your value is too small by the number of dimensions: add the floored KL of the "
         "dimensions, do not average them."),
        (lambda kl, m, lv, f: np.maximum(kl.sum(axis=0), f).sum(),
         "Your value grows with the batch size: average each dimension's KL over the "
         "images (axis 0) rather than summing."),
        (as_variance, "z_log_var is the LOG of the variance: the variance is its exponential."),
        (lambda kl, m, lv, f: np.maximum(2 * kl.mean(axis=0), f).sum(),
         "Your per-dimension KL is twice too large: check the factor in front of the "
         "Gaussian KL."),
    ]


def _check_free_bits(answer: Any) -> None:
    core.expect_callable(answer, "my_free_bits_kl", 2)
    cases = _free_bits_cases()
    want = np.array([free_bits_kl(mean, log_var, floor) for mean, log_var, floor in cases])
    got = np.array([_number(answer(mean.copy(), log_var.copy(), floor),
                            "one number, the KL term") for mean, log_var, floor in cases])
    with_kl = [(kl_per_dimension(mean, log_var), mean, log_var, floor)
               for mean, log_var, floor in cases]
    mistakes = [(np.array([float(mistake(*case)) for case in with_kl]), advice)
                for mistake, advice in _free_bits_mistakes()]
    wrong = int(np.argmax(~np.isclose(got, want, rtol=1e-6, atol=1e-9)))
    core.compare(got, want,
            f"With free_bits={cases[wrong][2]} on the check's codes your value is "
            f"{got[wrong]:.6g}; expected {want[wrong]:.6g}. Check the KL of one dimension, "
            "1/2 (mean^2 + variance - 1 - log variance), first.",
            mistakes=mistakes, rtol=1e-6, atol=1e-9)
    # Numerical range: a confident posterior (log-variance -30) must stay finite.
    mean = np.zeros((2, 2))
    log_var = np.array([[-30.0, 0.0], [-30.0, 0.0]])
    confident = _number(answer(mean, log_var, 0.5), "one number, the KL term")
    expect(core.close(confident, free_bits_kl(mean, log_var, 0.5), rtol=1e-6),
           "Right on ordinary codes, but wrong for a posterior with log-variance -30: "
           "compute the variance as the exponential of z_log_var directly.")


q2 = Exercise(
    "Exercise 7.2: the free-bits KL term",
    _check_free_bits,
    free_bits_kl,
    hints=(
        "First the KL of each image and each dimension (shape (n, latent_dim)), then its "
        "mean over the images (shape (latent_dim,)), then the floor, then the sum.",
        "np.maximum(per_dimension, free_bits) puts the floor under every entry at once.",
    ),
    forbidden=(vae.free_bits_kl, latent_usage.kl_per_dimension),
)


# --- 7.3 active units -----------------------------------------------------------------------

def count_active_units(z_mean: ArrayLike, threshold: float = 0.01) -> int:
    """Number of dimensions whose posterior mean varies across images by more than threshold."""
    activity = np.var(np.asarray(z_mean, dtype=np.float64), axis=0)
    return int(np.sum(activity > threshold))


def _active_cases() -> list[tuple[np.ndarray, float]]:
    rng = np.random.default_rng(73)
    # Column standard deviations chosen around the threshold's square root (0.1).
    spread = np.array([1.0, 0.5, 0.12, 0.09, 0.05, 0.0, 0.3, 0.02])
    codes = rng.standard_normal((40, 8))
    codes = (codes - codes.mean(axis=0)) / codes.std(axis=0) * spread + 0.7
    return [(codes, 0.01), (codes, 0.1), (codes[:, :3], 0.01)]


def _check_active_units(answer: Any) -> None:
    core.expect_callable(answer, "my_active_units", 3)
    for codes, threshold in _active_cases():
        want = count_active_units(codes, threshold)
        raw = answer(codes.copy(), threshold)
        got = _number(raw, "a whole number of units")
        variance = codes.var(axis=0)
        mistakes = [(np.sum(variance > 0.01),
                     f"With threshold={threshold} you count as if it were 0.01: use the "
                     "threshold argument.")] if threshold != 0.01 else []
        mistakes += [
            (np.sum(codes.std(axis=0) > threshold),
             "You compare the standard deviation of each mean with the threshold: Burda et "
             "al.'s activity is the VARIANCE across images."),
            (np.sum(codes.var(axis=1) > threshold),
             "You measure the spread along the wrong axis: each UNIT is a column; its "
             "activity is the variance of that column over the images (rows)."),
            (np.sum(np.mean(codes**2, axis=0) > threshold),
             "You use the mean square of each column, not its variance: a unit whose mean is "
             "the same non-zero value for every image carries nothing."),
            (np.sum(variance < threshold),
             "You count the inactive units: count those whose variance EXCEEDS the "
             "threshold."),
            (np.sum(variance[variance > threshold]),
             "You add up the variances of the active units; return how many there are."),
        ]
        core.compare(got, want, f"With threshold={threshold} on the check's codes you count "
                           f"{got:g} active units; expected {want}.",
                mistakes=mistakes, rtol=0.0, atol=0.0)


q3 = Exercise(
    "Exercise 7.3: counting active units",
    _check_active_units,
    count_active_units,
    hints=(
        "A unit is a column of z_mean. It is active when its posterior mean changes from "
        "image to image: measure that with the variance of the column over the images.",
        "np.var(z_mean, axis=0) gives one variance per unit; count those above threshold.",
    ),
    forbidden=(latent_usage.active_units, latent_usage.latent_activity),
)


# --- predict, then check ------------------------------------------------------------------

def _active_explanation(measured: float) -> str:
    return ("At a large beta every nat of rate costs beta nats of loss, so a unit stays "
            "active only where it saves at least that much reconstruction; the rest are "
            f"switched off. Here {measured:g} unit{'' if measured == 1 else 's'} passed "
            "the 0.01 threshold.")


p1 = Prediction("Prediction 7.1: how many units stay active at a large beta?", tolerance=0.25,
                explanation=_active_explanation)
