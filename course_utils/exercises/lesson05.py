"""Exercises for lesson 05 (BCE or MSE: the reconstruction term as a likelihood).

* ``q1``: write the Gaussian negative log-likelihood of an image, summed over pixels.
* ``q2``: compute the importance-weighted bound ``L_k`` from log weights, without overflow.
* ``q3``: compute the floor of the binary cross-entropy on grey-level images.
* ``q4``: find the maximum-likelihood sigma of a Gaussian decoder from its residuals.

Each checker runs the answer on its own fixed inputs, compares with the reference, and
recognises the typical mistakes, saying what is wrong without giving the code away. ``p1`` is a
predict-then-check question (not graded) about how far the bound climbs with ``k``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from course_utils.elbo import likelihoods, losses
from course_utils.evaluation import importance_weighting
from course_utils.exercises import core
from course_utils.exercises.core import CheckFailed, Exercise, Prediction, expect
from course_utils.exercises.shared import log_mean_exp_mistakes
from course_utils.models import vae

__all__ = ["p1", "q1", "q2", "q3", "q4", "gaussian_nll", "iw_bound", "climb_class", "bce_floor",
           "best_sigma"]

# Loose enough for float32 answers, far tighter than any mistake the checkers look for.
_TOL = {"rtol": 1e-5, "atol": 1e-9}
_RTOL = _TOL["rtol"]



# --- 5.1 the Gaussian negative log-likelihood --------------------------------------------

def gaussian_nll(x: ArrayLike, mean: ArrayLike, sigma: float) -> np.ndarray:
    """-log N(x; mean, sigma^2 I) of each image, summed over its pixels: shape (n,)."""
    x = np.asarray(x, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    per_pixel = (x - mean) ** 2 / (2 * sigma**2) + 0.5 * np.log(2 * np.pi * sigma**2)
    return per_pixel.reshape(len(x), -1).sum(axis=1)


def _check_gaussian_nll(answer: Any) -> None:
    core.expect_callable(answer, "my_gaussian_nll", 1)
    rng = np.random.default_rng(51)
    x = rng.uniform(size=(5, 28, 28, 1))
    mean = rng.uniform(size=x.shape)
    pixels = 784
    for sigma in (0.3, 2.0, 0.01):
        want = gaussian_nll(x, mean, sigma)
        with np.errstate(all="ignore"):
            got = core.as_numbers(answer(x, mean, sigma), "one number per image")
        core.expect_shape(got, want.shape, "one number per image",
                     "Reduce over every axis except the first (the batch).")
        core.expect_finite(got,
               f"With sigma = {sigma} your function returns inf or NaN, although the true "
               "values are finite. A density far from its mean (or a product of 784 "
               "densities) is 0 or inf in floating point, and its log is then infinite: "
               "write the log-density of a pixel directly and add those up.")
        core.reject_mistakes(got, [
            (-want, "Your values have the wrong sign: this is the log-likelihood, and the "
                    "loss is its negative."),
            (want / pixels, f"Your values are {pixels} times too small: the negative "
                            "log-likelihood of an image adds up its pixels; do not average "
                            "over them."),
        ], **_TOL)
        # Split the answer into the part that depends on the mean and the rest.
        with np.errstate(all="ignore"):
            at_target = core.as_numbers(answer(x, x, sigma), "one number per image")
        quadratic = got - at_target
        squared_error = ((x - mean) ** 2).reshape(len(x), -1).sum(axis=1)
        ratio = float(np.median(quadratic / squared_error))
        # The difference of two sums loses the precision of the larger one (float32).
        slack = _RTOL * float(np.max(np.abs(got)) + np.max(np.abs(at_target)))
        if not core.close(quadratic, squared_error / (2 * sigma**2), rtol=_RTOL, atol=slack):
            if math.isclose(ratio, 1 / (2 * sigma), rel_tol=1e-4):
                raise CheckFailed(f"With sigma = {sigma} the squared-error term is scaled "
                                  "as if the variance were sigma, not sigma squared.")
            if math.isclose(ratio, 1 / sigma**2, rel_tol=1e-4):
                raise CheckFailed("The squared-error term is twice too large: look again "
                                  "at the factor in the exponent of the Gaussian density.")
            if math.isclose(ratio, 0.5, rel_tol=1e-4) or math.isclose(ratio, 1.0,
                                                                      rel_tol=1e-4):
                raise CheckFailed(f"With sigma = {sigma} your squared-error term does not "
                                  "change with sigma: the errors must be measured in units "
                                  "of the variance.")
            raise CheckFailed("The part that depends on the mean is not right: it should "
                              "grow with the squared error between x and the mean, scaled "
                              "by the variance.")
        constant = float(np.median(at_target))
        want_constant = pixels * 0.5 * math.log(2 * math.pi * sigma**2)
        if not math.isclose(constant, want_constant, rel_tol=_RTOL, abs_tol=1e-6):
            expect(abs(constant) > 1e-9,
                   "The squared-error part is right, but the normalising constant is "
                   "missing: a density has a factor in front of the exponential, and its "
                   "log adds to every pixel. It is what makes sigma matter when sigma is "
                   "learned.")
            raise CheckFailed(f"The squared-error part is right, but the normalising term "
                              f"is off (with sigma = {sigma} your answer gives "
                              f"{constant:.4g} for a perfect reconstruction of an image). "
                              f"Take the log of the Gaussian's normalising factor carefully.")
        expect(core.close(got, want, **_TOL), "Close, but the values are not right yet.")
    small_x = rng.uniform(size=(3, 5))
    small_mean = rng.uniform(size=(3, 5))
    expect(core.close(core.as_numbers(answer(small_x, small_mean, 0.5), "one number per row"),
                 gaussian_nll(small_x, small_mean, 0.5), **_TOL),
           "Right for 28 x 28 images but not for inputs of shape (3, 5): did you write the "
           "number of pixels as a constant instead of reading it from the input?")


q1 = Exercise(
    "Exercise 5.1: the Gaussian negative log-likelihood",
    _check_gaussian_nll,
    gaussian_nll,
    hints=(
        "Write -log of the density of one pixel, N(x; mean, sigma^2), then add it up over "
        "the pixels of each image: the result has shape (n,).",
        "Per pixel: (x - mean)^2 / (2 sigma^2) + (1/2) log(2 pi sigma^2), written as a "
        "log from the start (never exp, then log). Flatten each image with "
        ".reshape(len(x), -1) and sum along axis 1.",
    ),
    forbidden=(losses.gaussian_nll, vae.VAE.reconstruction_nll),
)


# --- 5.2 the importance-weighted bound from log weights -------------------------------

def iw_bound(log_weights: ArrayLike) -> np.ndarray:
    """L_k of each row: the log of the mean of exp(log_weights) along axis 1, shape (n,)."""
    log_w = np.asarray(log_weights, dtype=np.float64)
    top = log_w.max(axis=1, keepdims=True)
    return (top + np.log(np.mean(np.exp(log_w - top), axis=1, keepdims=True)))[:, 0]


def _check_iw_bound(answer: Any) -> None:
    core.expect_callable(answer, "my_iw_bound", 2)
    rng = np.random.default_rng(52)
    k = 50
    # Gaussian log-densities of MNIST images are hundreds of nats above 0, Bernoulli
    # ones below it: exp() of either overflows or underflows.
    for centre, spread in ((-2.0, 1.5), (800.0, 6.0), (-900.0, 6.0)):
        log_w = centre + spread * rng.standard_normal((6, k))
        want = iw_bound(log_w)
        with np.errstate(all="ignore"):
            got = core.as_numbers(answer(log_w.copy()), "one number per image")
        expect(got.shape == want.shape,
               f"Expected one number per image (row), shape {want.shape}, from log weights "
               f"of shape {log_w.shape}; got shape {got.shape}. Reduce along axis 1, the "
               "k samples of an image.")
        if not np.all(np.isfinite(got)):
            raise CheckFailed(
                f"For log weights around {centre:g} nats your result holds inf or NaN. "
                "exp() overflows above about 709 and underflows to 0 below about -745, "
                "and log weights of images are hundreds of nats from 0. Shift each row "
                "by its largest log weight before exponentiating, and add it back after "
                "the log.")
        core.compare(got, want, "Not right yet: for each image, the log of the mean of "
                           "exp(log weight) over its k samples.",
                mistakes=log_mean_exp_mistakes(log_w, want), **_TOL)
    single = rng.normal(size=(4, 1))
    single_bound = core.as_numbers(answer(single), "one number per image")
    expect(core.close(single_bound, single[:, 0], **_TOL),
           "With one weight per image (k = 1) the bound is that log weight itself; yours "
           "is not.")


q2 = Exercise(
    "Exercise 5.2: the importance-weighted bound",
    _check_iw_bound,
    iw_bound,
    hints=(
        "L_k = log((1/k) * sum_i exp(log w_i)), one value per row. Computed as written, "
        "exp() of a log weight of +800 is inf and of -900 is 0.",
        "With m the largest log weight of a row: log mean exp(a_i) = m + log mean "
        "exp(a_i - m); every exponent is then at most 0 and the largest term is 1.",
    ),
    forbidden=(importance_weighting.bounds_by_k, importance_weighting.log_mean_exp,
               importance_weighting.importance_weighted_bound),
)


# --- 5.3 the floor of the binary cross-entropy -------------------------------------------

def bce_floor(images: ArrayLike) -> np.ndarray:
    """Sum over pixels of the binary entropy of each target: shape (n,), nats."""
    x = np.asarray(images, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.where(x > 0, x * np.log(x), 0.0)
                    + np.where(x < 1, (1 - x) * np.log(1 - x), 0.0))
    return entropy.reshape(len(x), -1).sum(axis=1)


def _check_bce_floor(answer: Any) -> None:
    core.expect_callable(answer, "my_bce_floor", 3)
    rng = np.random.default_rng(53)
    x = rng.uniform(size=(4, 28, 28, 1))
    x[:, :10] = 0.0  # MNIST has many pure black and pure white pixels
    x[:, 10:14] = 1.0
    want = bce_floor(x)
    got = core.as_numbers(answer(x.copy()), "one number per image")
    core.expect_shape(got, want.shape, "one number per image")
    core.expect_finite(got,
           "Your result has NaN (or inf) values. They come from pixels that are exactly 0 or "
           "1, where a log of 0 appears; the limit of p log p as p -> 0 is 0, so such a "
           "term contributes nothing.")
    with np.errstate(all="ignore"):
        pure = core.as_numbers(answer(np.stack([np.zeros((28, 28, 1)), np.ones((28, 28, 1))])),
                        "one number per image")
    expect(pure.shape != (2,) or bool(np.all(np.abs(pure) < 1e-6)),
           f"A pure black and a pure white image must have a floor of 0 (such pixels "
           f"contribute nothing); yours give {np.round(pure, 4).tolist()} nats. If you clip "
           f"before the log, the clip is too wide: use a tiny epsilon such as 1e-12.")
    core.compare(got, want,
            "Right shape, wrong values. The floor is the cross-entropy of a target with "
            "itself: both outcomes of a binary pixel (x and 1 - x) contribute.",
            mistakes=[
                (-want, "Your values are negative: an entropy is never negative."),
                (want / math.log(2),
                 "Your values are in bits: the course measures in nats (natural logarithms)."),
                (want / 784, "Your values are 784 times too small: add up the pixels of an "
                             "image."),
            ], **_TOL)


q3 = Exercise(
    "Exercise 5.3: the floor of the binary cross-entropy",
    _check_bce_floor,
    bce_floor,
    hints=(
        "BCE(x, p) is smallest at p = x; its value there is the binary entropy "
        "-x log x - (1 - x) log(1 - x), summed over the pixels of an image.",
        "Compute x * log(x) only where x > 0 and (1 - x) * log(1 - x) only where x < 1 "
        "(np.where, or np.log(np.clip(...)) with a tiny epsilon), then sum per image.",
    ),
    forbidden=(likelihoods.bernoulli_entropy_floor, losses.bernoulli_nll_from_logits),
)


# --- 5.4 the maximum-likelihood sigma ----------------------------------------------------

def best_sigma(images: ArrayLike, reconstructions: ArrayLike) -> float:
    """The single sigma that maximises the Gaussian likelihood of all the residuals."""
    residuals = np.asarray(images, dtype=np.float64) - np.asarray(reconstructions,
                                                                   dtype=np.float64)
    return float(np.sqrt(np.mean(residuals**2)))


def _check_best_sigma(answer: Any) -> None:
    core.expect_callable(answer, "my_best_sigma", 4)
    rng = np.random.default_rng(54)
    x = rng.uniform(size=(6, 28, 28, 1))
    reconstructions = x - 0.1 + 0.05 * rng.standard_normal(x.shape)  # biased residuals
    want = best_sigma(x, reconstructions)
    got = core.as_number(answer(x, reconstructions), "one number, sigma",
                    "Return a single sigma for the whole set (one number); got shape "
                    "{shape}. The decoder shares one sigma between all pixels of all images.")
    residuals = x - reconstructions
    core.compare(got, want,
            f"Not right yet (got {got:.4g}). Differentiate the summed Gaussian NLL with "
            "respect to sigma and set the derivative to zero.",
            mistakes=[
                (want**2, "That is the variance sigma^2; return the standard deviation "
                          "sigma."),
                (residuals.std(), "You subtracted the average residual (a standard "
                                  "deviation). The Gaussian is centred on the decoder's "
                                  "output, so measure the residuals from zero."),
                (np.abs(residuals).mean(), "That is the mean absolute residual. Which power "
                                           "of the residuals appears in the Gaussian "
                                           "log-density?"),
                (want * math.sqrt(784), "Your sigma is sqrt(784) times too large: average "
                                        "over pixels as well as images."),
            ], rtol=_RTOL, atol=0.0)


q4 = Exercise(
    "Exercise 5.4: the best sigma for a decoder",
    _check_best_sigma,
    best_sigma,
    hints=(
        "The summed NLL of N values is SSE / (2 sigma^2) + N log(sigma) + constant, "
        "where SSE is the sum of the squared residuals and N counts every pixel of every "
        "image.",
        "Setting the derivative to zero gives sigma^2 = SSE / N: the root of the mean "
        "squared residual.",
    ),
    forbidden=(likelihoods.max_likelihood_sigma,),
)


# --- prediction 5.1: how far does the bound climb? ----------------------------------------

_LARGE_CLIMB = ("The climb is the part of the gap between the ELBO and log p(x) that more "
                "samples recover. Even this model's encoder, trained with a Gaussian "
                "decoder, is a diagonal Gaussian fitted by an ELBO, which prefers a q "
                "narrower than the posterior; a few rare samples with large weights then "
                "carry the average, and it takes many samples to find them.")

p1 = Prediction("Prediction 5.1: how far does the learned-sigma model's bound climb?",
                choices=("under 1", "1 to 10", "over 10"),
                explanation={"under 1": "This encoder's q is close enough to the true "
                                        "posterior that a few samples already find the "
                                        "weights that matter.",
                             "1 to 10": _LARGE_CLIMB, "over 10": _LARGE_CLIMB})


def climb_class(nats: float) -> str:
    """The choice of :data:`p1` that a climb of ``nats`` falls into."""
    return "under 1" if nats < 1 else ("1 to 10" if nats <= 10 else "over 10")
