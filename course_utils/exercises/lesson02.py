"""Exercises for lesson 02 (the ELBO, the Gaussian KL and the reparameterization trick).

* ``p1``: predict the share of score-function gradient estimates with the wrong sign.
* ``q1``: write the closed-form KL between a diagonal Gaussian and N(0, I).
* ``q2``: find the bug in a sampling function that scales the noise by the variance.
* ``q3``: find the two bugs in a KL loss copied from a popular book (a mean over the
  latent axis and a wrong constant factor).
* ``q4``: work out the KL weight that the book's whole loss (its KL with a per-pixel mean
  cross-entropy) puts on the KL, relative to the ELBO.
* ``q5``: compute the ELBO's gap as a KL divergence to the exact posterior.

Each checker runs the answer on its own fixed inputs, compares with the reference, and
recognises the typical mistakes, saying what is wrong without giving the code away.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from course_utils.elbo import estimators, likelihoods, losses
from course_utils.elbo.toy_models import LinearGaussianModel, diagonal_covariance, gaussian_kl
from course_utils.exercises import core
from course_utils.exercises.core import CheckFailed, Exercise, Prediction, expect
from course_utils.latent import sampling
from course_utils.latent import usage as latent_usage
from course_utils.models.layers import Sampling

__all__ = [
    "p1",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "kl_to_standard_normal",
    "sample_z",
    "kl_loss",
    "implied_beta",
    "elbo_gap",
    "buggy_sample_z",
    "buggy_kl_loss",
]


# ------------------------------------------------------------------- shared helpers

# Loose enough for an answer computed in float32 (or with TensorFlow), far tighter than
# any of the mistakes the checkers look for.
_RTOL = 1e-5

_NOT_FINITE_ADVICE = ("Your function returns NaN or inf for some inputs. log_var can be any "
                      "real number, negative ones too: does your formula take the log or "
                      "square root of something that can be negative?")


def _common_factor(got: np.ndarray, want: np.ndarray) -> float | None:
    """The number ``c`` with ``got == c * want`` (to rounding), or None if there is none."""
    scale = float(np.sum(want * want))
    if scale == 0.0:
        return None
    factor = float(np.sum(got * want) / scale)
    if core.close(got, factor * want, rtol=_RTOL):
        return factor
    return None


def _factor_advice(factor: float, *, after_reduction_fix: bool = False) -> str:
    """What a constant factor ``c`` between the learner's KL and the true KL suggests."""
    lead = ("Once that is fixed, your values would be" if after_reduction_fix
            else "Your values are")
    if core.close(factor, -2.0):
        return (f"{lead} -2 times the KL: negative, where a KL never is. Look again at "
                "the constant that multiplies the sum in the derivation.")
    if core.close(factor, -1.0):
        return (f"{lead} minus the KL: the right size but the wrong sign. A KL divergence "
                "is never negative: check the sign of the factor in front of the sum.")
    if core.close(factor, 2.0):
        return (f"{lead} twice the KL: check the size of the constant factor in front of "
                "the sum.")
    if core.close(factor, 1e-3):
        return (f"{lead} 1000 times too small: a constant like 5e-4 is a loss weight "
                "someone tuned, not part of the KL. Use the factor from the derivation.")
    return f"{lead} {factor:.4g} times the KL: check the constant factor in front of the sum."


def _kl_inputs(seed: int, batch: int, latent_dim: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mean = rng.normal(scale=1.2, size=(batch, latent_dim))
    log_var = rng.normal(scale=1.0, size=(batch, latent_dim))
    return mean, log_var


# Two latent sizes: a mistake whose effect depends on latent_dim shows up as a factor
# that changes between them. The batch size differs from both latent sizes, so a
# reduction over the wrong axis gives a recognisably wrong shape.
_BATCH = 6
_LATENT_DIMS = (3, 8)


def _kl_alternatives(mean: np.ndarray, log_var: np.ndarray) -> dict[str, np.ndarray]:
    """Per-example values of typical wrong KL formulas, with advice for each."""
    latent_dim = mean.shape[-1]
    one = np.ones_like(mean)
    return {
        "Each row is off from the KL by the same constant, latent_dim / 2. Compare "
        "your terms one by one with the formula: is one of them missing?":
            -0.5 * np.sum(log_var - mean**2 - np.exp(log_var), axis=-1),
        "It looks as if you used the standard deviation where the formula has the "
        "variance. log_var is the log of the variance: what gives you the variance?":
            -0.5 * np.sum(one + log_var - mean**2 - np.exp(0.5 * log_var), axis=-1),
        "The mean enters the KL squared; in your values it does not.":
            -0.5 * np.sum(one + log_var - mean - np.exp(log_var), axis=-1),
        "The term with the mean has the wrong sign: moving q's mean away from 0 must "
        "increase the KL.":
            -0.5 * np.sum(one + log_var + mean**2 - np.exp(log_var), axis=-1),
        f"Each row is off from the KL by the same constant ({latent_dim} / 2 for "
        f"latent_dim = {latent_dim}) and the sign is wrong: check the constant term and "
        "the factor in front of the sum.":
            0.5 * np.sum(log_var - mean**2 - np.exp(log_var), axis=-1),
    }


def _diagnose_kl(answer: Callable, *, scalar: bool) -> None:
    """Check a KL function; ``scalar=False``: one value per row; True: the batch mean.

    Raises :class:`CheckFailed` with advice for the first problem found.
    """
    factors: list[float | None] = []
    alternatives_hit = []
    for seed, latent_dim in zip((21, 22), _LATENT_DIMS):
        mean, log_var = _kl_inputs(seed, _BATCH, latent_dim)
        per_example = kl_to_standard_normal(mean, log_var)
        want = np.mean(per_example) if scalar else per_example
        got = core.as_numbers(answer(mean.copy(), log_var.copy()),
                            "a number" if scalar else "an array of shape (batch,)")
        _check_kl_shape(got, mean.shape, scalar=scalar)
        core.expect_finite(got, _NOT_FINITE_ADVICE)
        if scalar:
            got = got.reshape(())
            expect(not core.close(float(got), float(np.sum(per_example))),
                   "Your loss equals the SUM of the per-example KLs over the batch, so it "
                   "would grow with the batch size. Which reduction keeps it independent "
                   "of the batch size?")
        if core.close(got, want, rtol=_RTOL):
            factors.append(1.0)
            continue
        factors.append(_common_factor(np.atleast_1d(got), np.atleast_1d(want)))
        for advice, values in _kl_alternatives(mean, log_var).items():
            wrong = np.mean(values) if scalar else values
            if core.close(got, wrong, rtol=_RTOL):
                alternatives_hit.append(advice)
    if all(f == 1.0 for f in factors):
        return
    if alternatives_hit:
        raise CheckFailed(alternatives_hit[0])
    known = [f for f in factors if f is not None]
    if len(known) == len(factors):
        small, large = _LATENT_DIMS
        per_dim = [f * k for f, k in zip(known, _LATENT_DIMS)]
        if not core.close(known[0], known[1]) and core.close(per_dim[0], per_dim[1]):
            advice = (f"Your values scale with 1/latent_dim: {known[0]:.4g} times the KL "
                      f"for latent_dim = {small} but {known[1]:.4g} times for "
                      f"latent_dim = {large}. What reduction did you use over the latent "
                      "axis? Recall how the KL of independent dimensions combines.")
            if not core.close(per_dim[0], 1.0):
                advice += " " + _factor_advice(per_dim[0], after_reduction_fix=True)
            raise CheckFailed(advice)
        if core.close(known[0], known[1]):
            raise CheckFailed(_factor_advice(known[0]))
    raise CheckFailed("Right shape, wrong values. Compare each term with the closed form "
                      "derived in the lesson, and check the reduction over the latent axis.")


def _check_kl_shape(got: np.ndarray, input_shape: tuple[int, int], *, scalar: bool) -> None:
    batch, latent_dim = input_shape
    if scalar:
        expect(got.shape in ((), (1,)),
               f"Your loss has shape {got.shape}. A training loss is one number for the "
               f"whole batch: after the per-example KL of shape ({batch},), reduce over the "
               "batch too.")
        return
    expect(got.shape != (),
           f"Your function returns one number for the whole batch. It should return one KL "
           f"per example (per row): shape ({batch},). Reduce over the latent axis only.")
    expect(got.shape != (latent_dim,),
           f"Your result has shape ({latent_dim},): one value per latent dimension. You "
           f"reduced over the batch axis (axis 0); reduce over the latent axis instead.")
    expect(got.shape != input_shape,
           f"Your result has the input's shape {input_shape}: one value per latent "
           f"dimension of each example. Combine the dimensions of each row into one KL.")
    expect(got.shape == (batch,),
           f"Expected one KL per example, shape ({batch},); got shape {got.shape}.")


# --- prediction 2.1: how many score-function estimates have the wrong sign? ----------------

def _explain_wrong_sign(measured: float) -> str:
    return (f"{measured:.1f} % of the one-sample score-function estimates were positive. "
            "Here each estimate is f(z) * eps with f(z) = (z - 3)^2 >= 0 and z = eps, so "
            "its sign is the sign of eps: a coin flip, about half wrong whatever the "
            "sample size. The mean still comes out right because the negative estimates "
            "are much larger than the positive ones.")


p1 = Prediction("Prediction 2.1: what percentage of score-function estimates have the wrong sign?",
                tolerance=0.2, explanation=_explain_wrong_sign)


# --- 2.1 the closed-form KL --------------------------------------------------------------

def kl_to_standard_normal(mean: ArrayLike, log_var: ArrayLike) -> np.ndarray:
    """KL( N(mean, diag(exp(log_var))) || N(0, I) ) of each row, summed over the latents.

    Parameters
    ----------
    mean, log_var : array_like, shape (batch, latent_dim)
        Means and log-variances of the diagonal Gaussians q.

    Returns
    -------
    ndarray, shape (batch,)
        One KL per example, in nats.
    """
    mean = np.asarray(mean, dtype=np.float64)
    log_var = np.asarray(log_var, dtype=np.float64)
    return -0.5 * np.sum(1.0 + log_var - mean**2 - np.exp(log_var), axis=-1)


def _check_kl_to_standard_normal(answer: Callable) -> None:
    core.expect_callable(answer, "my_kl", 1)
    _diagnose_kl(answer, scalar=False)
    zero = np.zeros((2, 4))
    got = core.as_numbers(answer(zero, zero.copy()), "an array of shape (batch,)")
    expect(core.close(got, 0.0, atol=1e-12),
           "When q is exactly N(0, I) (mean 0, log_var 0) the KL must be 0; yours is not.")


# course_utils' own KL to N(0, I) (and the general Gaussian KL, which gives it with
# p = N(0, I)): refused as answers to 2.1 and 2.3 in graded copies.
_COURSE_KL = (losses.kl_divergence_standard_normal, losses.negative_elbo,
              latent_usage.kl_per_dimension, estimators.kl_monte_carlo, gaussian_kl)


q1 = Exercise(
    "Exercise 2.1: the closed-form KL to N(0, I)",
    _check_kl_to_standard_normal,
    kl_to_standard_normal,
    hints=(
        "Write the one-dimensional result of the derivation for each entry of the "
        "(batch, latent_dim) arrays at once, then combine the latent dimensions of each "
        "row. The result has shape (batch,).",
        "log_var is log(sigma^2), so sigma^2 is np.exp(log_var). The KL of a diagonal "
        "Gaussian is a sum over dimensions, so reduce with np.sum(..., axis=-1).",
    ),
    forbidden=_COURSE_KL,
)


# --- 2.2 find the bug: sampling z ---------------------------------------------------------

def buggy_sample_z(mean: ArrayLike, log_var: ArrayLike, eps: ArrayLike) -> np.ndarray:
    """A sampling function with a bug (it appeared in tutorials and a Keras example).

    Parameters
    ----------
    mean, log_var, eps : array_like, shape (batch, latent_dim)

    Returns
    -------
    ndarray, shape (batch, latent_dim)
    """
    return np.asarray(mean) + np.exp(np.asarray(log_var)) * np.asarray(eps)


def sample_z(mean: ArrayLike, log_var: ArrayLike, eps: ArrayLike) -> np.ndarray:
    """Reparameterized sample ``z`` of ``N(mean, diag(exp(log_var)))`` from noise ``eps``.

    Parameters
    ----------
    mean, log_var : array_like, shape (batch, latent_dim)
        Parameters of q.
    eps : array_like, shape (batch, latent_dim)
        Standard normal noise.

    Returns
    -------
    ndarray, shape (batch, latent_dim)
        ``z``, a differentiable function of ``mean`` and ``log_var``.
    """
    mean = np.asarray(mean, dtype=np.float64)
    log_var = np.asarray(log_var, dtype=np.float64)
    return mean + np.exp(0.5 * log_var) * np.asarray(eps, dtype=np.float64)


def _check_sample_z(answer: Callable) -> None:
    core.expect_callable(answer, "my_sample_z", 2)
    rng = np.random.default_rng(31)
    mean = rng.normal(size=(5, 3))
    log_var = rng.normal(scale=1.0, size=(5, 3))
    eps = rng.standard_normal((5, 3))
    got = core.as_numbers(answer(mean.copy(), log_var.copy(), eps.copy()),
                        "an array of shape (batch, latent_dim)")
    expect(got.shape == mean.shape,
           f"Expected one z per input entry, shape {mean.shape}; got shape {got.shape}.")
    again = core.as_numbers(answer(mean.copy(), log_var.copy(), eps.copy()), "an array")
    expect(np.array_equal(got, again, equal_nan=True),
           "Called twice with the same eps, your function gives different z. Use the eps "
           "that is passed in instead of drawing new noise: that is what makes z a "
           "deterministic, differentiable function of mean and log_var.")
    core.expect_finite(got, _NOT_FINITE_ADVICE)
    if core.close(got, sample_z(mean, log_var, eps), rtol=_RTOL):
        return
    # The spread of z for one variance shows which scale the learner multiplied eps by.
    variance = 9.0
    ones = np.ones((1, 1))
    spread = float(np.asarray(answer(0 * ones, np.log(variance) * ones, ones),
                              dtype=np.float64).ravel()[0])
    if core.close(got, buggy_sample_z(mean, log_var, eps), rtol=_RTOL):
        raise CheckFailed(
            f"This still has the bug. For a q with variance {variance:g} (log_var = "
            f"log {variance:g}) and eps = 1, your z is {spread:.4g} away from the mean: the "
            "noise is scaled by the variance. How far from the mean should eps = 1 put z?")
    if core.close(got, mean + log_var * eps, rtol=_RTOL):
        raise CheckFailed(
            "Your noise is multiplied by log_var itself. log_var is negative when the "
            "variance is below 1, which would flip the noise; turn it into a standard "
            "deviation first.")
    if core.close(got, mean + np.exp(-0.5 * log_var) * eps, rtol=_RTOL):
        raise CheckFailed(
            f"Your spread shrinks as the variance grows: for variance {variance:g} and "
            f"eps = 1 your z is {spread:.4g} from the mean. Check the sign in the exponent.")
    if core.close(got, sample_z(mean, log_var, eps[:1]), rtol=_RTOL):
        raise CheckFailed("Every row of your z uses the noise of the first row: the whole "
                          "batch shares one draw. Each entry of z needs its own entry of "
                          "eps.")
    if core.close(got, sample_z(np.zeros_like(mean), log_var, eps), rtol=_RTOL):
        raise CheckFailed("Your samples are centred on 0, not on the mean of q: they "
                          "ignore `mean`.")
    if core.close(spread, float(np.sqrt(variance))):
        raise CheckFailed("Right shape, wrong values. For one q with mean 0 your z is "
                          "right, but not for the test inputs: check how mean, log_var and "
                          "eps combine entry by entry.")
    raise CheckFailed(
        f"Right shape, wrong values. For a q with mean 0 and variance {variance:g}, eps = 1 "
        f"should put z one standard deviation from the mean; yours is at {spread:.4g}.")


q2 = Exercise(
    "Exercise 2.2: find the bug in the sampling function",
    _check_sample_z,
    sample_z,
    hints=(
        "A sample of N(mu, sigma^2) is mu + sigma * eps with eps ~ N(0, 1). Which of "
        "sigma and sigma^2 does buggy_sample_z multiply eps by?",
        "sigma = sqrt(sigma^2) = exp(log(sigma^2) / 2): the square root becomes a factor "
        "1/2 inside the exponential.",
    ),
    forbidden=(Sampling, sampling.sample_aggregate_posterior),
)


# --- 2.3 find the bugs: a KL loss from a book ---------------------------------------------

def buggy_kl_loss(mean: ArrayLike, log_var: ArrayLike) -> float:
    """A KL loss with two bugs, as printed in a popular book's first edition.

    Parameters
    ----------
    mean, log_var : array_like, shape (batch, latent_dim)

    Returns
    -------
    float
    """
    mean, log_var = np.asarray(mean), np.asarray(log_var)
    per_example = -5e-4 * np.mean(1 + log_var - np.square(mean) - np.exp(log_var), axis=-1)
    return float(np.mean(per_example))


def kl_loss(mean: ArrayLike, log_var: ArrayLike) -> float:
    """The KL term of the VAE loss for a batch: per-example KL, averaged over the batch.

    Parameters
    ----------
    mean, log_var : array_like, shape (batch, latent_dim)
        Encoder outputs for the batch.

    Returns
    -------
    float
        The batch mean of KL( N(mean, diag(exp(log_var))) || N(0, I) ), in nats.
    """
    mean, log_var = np.asarray(mean), np.asarray(log_var)
    per_example = -0.5 * np.sum(1 + log_var - np.square(mean) - np.exp(log_var), axis=-1)
    return float(np.mean(per_example))


def _check_kl_loss(answer: Callable) -> None:
    core.expect_callable(answer, "my_kl_loss", 3)
    _diagnose_kl(answer, scalar=True)


q3 = Exercise(
    "Exercise 2.3: find the two bugs in a KL loss",
    _check_kl_loss,
    kl_loss,
    hints=(
        "Compare buggy_kl_loss line by line with the closed form derived in the lesson: "
        "the constant in front, and how the latent dimensions of one example are combined.",
        "The KL of independent dimensions is the sum of their KLs, and the derivation puts "
        "-1/2 in front of that sum. Only the batch is averaged.",
    ),
    forbidden=_COURSE_KL,
)


# --- 2.4 the KL weight the book's loss implies ----------------------------------------------

# The book's whole loss per image: Keras' binary_crossentropy (the cross-entropy averaged
# over the D pixels) plus buggy_kl_loss, whose KL term is -5e-4 * mean_j(...) =
# (1e-3 / K) * KL. Multiplied by D it is  NLL_sum + (D * 1e-3 / K) * KL.
_BOOK_FACTOR = 5e-4


def implied_beta(latent_dim: int, pixel_count: int) -> float:
    """The KL weight beta of the book's loss, relative to the negative ELBO.

    Parameters
    ----------
    latent_dim : int
        Number of latent dimensions K.
    pixel_count : int
        Number of pixels D of one image.

    Returns
    -------
    float
        ``beta`` such that the book's loss is proportional to ``NLL + beta * KL``, where
        NLL is the reconstruction term summed over the pixels and KL is summed over the
        latent dimensions (``beta = 1``: the negative ELBO).
    """
    return pixel_count * 2 * _BOOK_FACTOR / latent_dim


def _check_implied_beta(answer: Callable) -> None:
    core.expect_callable(answer, "my_implied_beta", 4)
    cases = ((2, 784), (20, 784), (8, 3072))
    got = np.array([core.as_number(answer(latent_dim, pixel_count), "one number",
                              "Return one number (the weight beta); got an array of shape "
                              "{shape}.")
                    for latent_dim, pixel_count in cases])
    want = np.array([implied_beta(k, d) for k, d in cases])
    latent = np.array([float(k) for k, _ in cases])
    pixels = np.array([float(d) for _, d in cases])
    core.expect_finite(got, _NOT_FINITE_ADVICE)
    core.compare(got, want,
            "Wrong values. Write the book's loss per image as the summed NLL "
            "divided by D plus its KL term, turn its KL term into c * KL, then "
            "multiply everything by D: beta is what multiplies the KL.",
            mistakes=[
                (784 * 2 * _BOOK_FACTOR / latent,
                 "Right for MNIST's 784 pixels only: use pixel_count, the D of the images the "
                 "loss is applied to."),
                (-want,
                 "Your weight is negative. The book's constant -5e-4 multiplies a bracket whose "
                 "sum is -2 times the KL: what sign does the KL term end up with?"),
                (want / pixels,
                 "This is the weight relative to the book's own reconstruction term, the "
                 "cross-entropy averaged over pixels. The ELBO sums it over the D pixels: "
                 "rescale the whole loss so that the reconstruction term is that sum."),
                (want / pixels**2,
                 "The pixel count enters the other way round: the per-pixel mean makes the "
                 "reconstruction term D times smaller than the ELBO's, so relative to it the KL "
                 "weighs D times more, not less."),
                (want * latent,
                 "Right for one latent dimension only: the book averages the KL terms over the "
                 "K latent dimensions where the KL sums them. How does that change the weight?"),
                (want / latent,
                 "You divide by the latent dimension K once too often: the book's mean over K "
                 "terms gives one factor 1/K, and nothing else in the loss depends on K."),
                (want / 2,
                 "Half the right value: the bracket in the KL formula comes with -1/2, so the "
                 "book's -5e-4 is 1e-3 times that factor, not 5e-4 times."),
                (want * 2,
                 "Twice the right value: compare the book's constant with the -1/2 of the KL "
                 "formula once more."),
                (np.full_like(want, _BOOK_FACTOR),
                 "5e-4 is the book's constant, not yet the weight: it multiplies a mean over "
                 "latent dimensions of a bracket, beside a reconstruction term averaged over "
                 "pixels. Express the loss as (sum-over-pixels NLL) + beta * KL."),
            ], rtol=1e-6)


q4 = Exercise(
    "Exercise 2.4: the KL weight the book's loss implies",
    _check_implied_beta,
    implied_beta,
    hints=(
        "Two steps: the book's KL term, -5e-4 * (mean over K of the bracket), is some "
        "multiple c of the KL (the KL is -1/2 times the SUM of the bracket). Then the "
        "per-pixel mean cross-entropy is the summed NLL divided by D.",
        "Book loss = NLL / D + c * KL with c = 1e-3 / K. Multiply by D to get "
        "NLL + beta * KL.",
    ),
    forbidden=(likelihoods.implied_kl_weight,),
)


# --- 2.5 the ELBO's gap is a KL ---------------------------------------------------------

def elbo_gap(model: LinearGaussianModel, x: ArrayLike, q_mean: ArrayLike,
             q_log_var: ArrayLike) -> np.ndarray:
    """``log p(x) - ELBO(q)``, computed as KL( q(z|x) || p(z|x) ).

    Parameters
    ----------
    model : LinearGaussianModel
        The toy model; ``model.posterior(x)`` gives the exact posterior.
    x : array_like, shape (n, data_dim)
        Data points.
    q_mean, q_log_var : array_like, shape (n, latent_dim)
        The diagonal Gaussian q(z|x) of each data point.

    Returns
    -------
    ndarray, shape (n,)
        The gap of each data point, in nats.
    """
    posterior_mean, posterior_cov = model.posterior(x)
    return gaussian_kl(q_mean, diagonal_covariance(q_log_var), posterior_mean, posterior_cov)


class _NoShortcutModel(LinearGaussianModel):
    """The checker's model: using the evidence or the ELBO would skip the exercise."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise CheckFailed("Compute the gap as a KL divergence between two Gaussians, "
                          "without log_evidence, elbo or elbo_monte_carlo: the point is to "
                          "see that the two agree.")

    log_evidence = _refuse
    elbo = _refuse
    elbo_monte_carlo = _refuse


# The gap involves matrix products: computed in float32 with TF32 products (TensorFlow's
# default on recent GPUs) a right answer is off by up to 5e-4 (relative); the closest
# mistake, standard deviations for variances, by 0.03 or more.
_GAP_RTOL = 2e-3


def _check_elbo_gap(answer: Callable) -> None:
    core.expect_callable(answer, "my_elbo_gap", 5)
    model = LinearGaussianModel.random(data_dim=4, latent_dim=3, noise_std=0.7,
                                       orthogonal=False, seed=41)
    guarded = _NoShortcutModel(model.weights, model.bias, model.noise_std)
    x, _ = model.sample(5, seed=42)
    rng = np.random.default_rng(43)
    q_mean = rng.normal(size=(5, 3))
    q_log_var = rng.normal(scale=0.8, size=(5, 3))
    got = core.as_numbers(answer(guarded, x.copy(), q_mean.copy(), q_log_var.copy()),
                        "an array of shape (n,)")
    core.expect_shape(got, (5,), "one gap per data point")
    core.expect_finite(got, _NOT_FINITE_ADVICE)
    want = model.log_evidence(x) - model.elbo(x, q_mean, q_log_var)
    posterior_mean, posterior_cov = model.posterior(x)
    q_cov = diagonal_covariance(q_log_var)
    std_cov = diagonal_covariance(0.5 * q_log_var)
    core.compare(got, want,
            "Right shape, wrong values. The gap is a KL between q(z|x) and the exact "
            "posterior p(z|x); check both Gaussians' means and covariances.",
            mistakes=[
                (-want,
                 "Your values have the right size but are negative. The ELBO is a lower "
                 "bound: which of log p(x) and the ELBO is larger?"),
                (gaussian_kl(posterior_mean, posterior_cov, q_mean, q_cov),
                 "This is the KL in the other direction. KL is not symmetric: the identity "
                 "log p(x) = ELBO + KL has q in the first slot."),
                (kl_to_standard_normal(q_mean, q_log_var),
                 "This is the KL from q to the prior N(0, I), the term inside the ELBO. The "
                 "gap compares q with a different distribution."),
                (gaussian_kl(q_mean, std_cov, posterior_mean, posterior_cov),
                 "q's covariance should hold variances on its diagonal; yours holds "
                 "standard deviations. What does diagonal_covariance expect?"),
            ], rtol=_GAP_RTOL)


q5 = Exercise(
    "Exercise 2.5: the ELBO's gap is a KL divergence",
    _check_elbo_gap,
    elbo_gap,
    hints=(
        "log p(x) = ELBO + KL( q(z|x) || p(z|x) ). model.posterior(x) returns the mean "
        "and covariance of p(z|x); diagonal_covariance(log_var) turns q's log-variances "
        "into covariance matrices.",
        "gaussian_kl(mean_q, cov_q, mean_p, cov_p) computes KL( q || p ); q comes first.",
    ),
    forbidden=(LinearGaussianModel.log_evidence, LinearGaussianModel.elbo,
               LinearGaussianModel.elbo_monte_carlo),
)
