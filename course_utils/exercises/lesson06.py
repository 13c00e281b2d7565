"""Exercises for lesson 06 (seeing the latent space)."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from course_utils.exercises import core
from course_utils.exercises.core import CheckFailed, Exercise, Prediction, expect
from course_utils.latent import decoding as latent_space
from course_utils.latent import sampling as latent

__all__ = ["q1", "q2", "q3", "p1"]


# --- prediction 6.1: the length of a prior code in 8-D -------------------------------------

def _length_explanation(measured: float) -> str:
    return (f"The squared length of z ~ N(0, I_8) is a sum of 8 squared standard Normals, "
            f"so it averages 8 and the root-mean-square length is sqrt(8) = 2.83; the mean "
            f"length, {measured:.2f}, is a little less. Their spread, about 0.7, hardly "
            f"depends on d: in 8-D lengths from about 1.6 to 3.9 are all common.")


p1 = Prediction("Prediction 6.1: how long is a code drawn from the prior in 8-D?", tolerance=0.15,
                explanation=_length_explanation)


# --- 6.1 prior mass of a box ------------------------------------------------------------

def box_prior_mass(half_width: float, latent_dim: int) -> float:
    """Probability that z ~ N(0, I) in latent_dim dimensions lies in [-h, h]^latent_dim."""
    normal = NormalDist()
    one_axis = normal.cdf(half_width) - normal.cdf(-half_width)
    return one_axis ** latent_dim


def _check_box_prior_mass(answer: Any) -> None:
    core.expect_callable(answer, "my_box_mass", 1)
    for half_width, latent_dim in ((1.0, 2), (2.0, 2), (1.645, 2), (1.0, 8), (3.0, 1),
                                   (1.0, 50)):
        got = core.as_number(answer(half_width, latent_dim), "one number, a probability")
        want = box_prior_mass(half_width, latent_dim)
        one_axis = box_prior_mass(half_width, 1)
        expect(0.0 <= got <= 1.0, f"For h={half_width}, d={latent_dim} you returned {got:.4g}, "
                                  "which is not a probability.")
        if latent_dim > 1:
            expect(not core.close(got, one_axis, rtol=1e-5),
                   f"For h={half_width}, d={latent_dim} you return the mass of ONE coordinate "
                   "interval. The box needs every coordinate inside at once.")
        expect(not core.close(got, NormalDist().cdf(half_width) ** latent_dim, rtol=1e-5),
               f"For h={half_width}, d={latent_dim}: you counted everything below h; the "
               "interval also has a lower end, -h.")
        expect(got > 0.0,
               f"For h={half_width}, d={latent_dim} you returned 0, but the box holds a small "
               f"positive mass (about {want:.1g}). Sampling cannot resolve a mass this "
               "small: compute it exactly, from one coordinate's interval.")
        expect(core.close(got, want, rtol=1e-6, atol=0.0),
               f"For h={half_width}, d={latent_dim} the mass is not right (got {got:.4g}, "
               f"expected {want:.4g}). Find the mass of one coordinate's interval first, then "
               "use that the coordinates are independent under the prior.")


q1 = Exercise(
    "Exercise 6.1: how much prior mass does a box hold?",
    _check_box_prior_mass,
    box_prior_mass,
    hints=(
        "For one coordinate, P(-h <= z <= h) = Phi(h) - Phi(-h), with Phi = NormalDist().cdf.",
        "Under N(0, I) the coordinates are independent, so the probability that all of "
        "them lie in their intervals is a product.",
    ),
    forbidden=(),  # course_utils has no box probability of its own
)


# --- 6.2 prior samples in holes ----------------------------------------------------------

def _distances(points: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Euclidean distances, (n, m), from each point to each code."""
    return np.sqrt(((points[:, None, :] - codes[None, :, :]) ** 2).sum(axis=-1))


def hole_share(samples: ArrayLike, codes: ArrayLike) -> float:
    """Fraction of ``samples`` (n, d) in holes of ``codes`` (m, d): farther from every
    code than 99 % of the codes are from their nearest other code."""
    samples = np.asarray(samples, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.float64)
    between = _distances(codes, codes)
    np.fill_diagonal(between, np.inf)  # a code is not its own neighbour
    radius = np.quantile(between.min(axis=1), 0.99)
    nearest = _distances(samples, codes).min(axis=1)
    return float(np.mean(nearest > radius))


def _hole_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """Codes in two off-centre clusters (2-D) and one cluster (3-D), and prior samples."""
    rng = np.random.default_rng(6)
    codes_2d = np.concatenate([rng.normal(size=(120, 2)) * 0.3 + [1.2, 0.3],
                               rng.normal(size=(120, 2)) * 0.4 + [-0.8, -0.9]])
    samples_2d = rng.normal(size=(500, 2))
    codes_3d = rng.normal(size=(200, 3)) * 0.5 + [0.8, 0.0, -0.3]
    samples_3d = rng.normal(size=(400, 3))
    return [(samples_2d, codes_2d), (samples_3d, codes_3d)]


def _share_with(samples: np.ndarray, codes: np.ndarray, *, quantile: float = 0.99,
                self_included: bool = False, to_centre: bool = False) -> float:
    """What a typical mistake returns, to recognise it."""
    between = _distances(codes, codes)
    if not self_included:
        np.fill_diagonal(between, np.inf)
    radius = np.quantile(between.min(axis=1), quantile)
    targets = codes.mean(axis=0, keepdims=True) if to_centre else codes
    return float(np.mean(_distances(samples, targets).min(axis=1) > radius))


def _check_hole_share(answer: Any) -> None:
    core.expect_callable(answer, "my_hole_fraction", 2)
    for samples, codes in _hole_cases():
        n, d = samples.shape
        got = core.as_number(answer(samples.copy(), codes.copy()), "one number",
                        "Return one number, the fraction of samples in holes; got an array "
                        "of shape {shape}.")
        want = hole_share(samples, codes)
        slack = 0.02  # a percentile computed another way moves a sample or two
        core.expect_finite(got, f"For {n} samples in {d}-D you returned {got}.")
        expect(got <= 1.0,
               f"You returned {got:.4g} for {n} samples in {d}-D: that looks like a count. "
               "Return the fraction of samples in holes, between 0 and 1.")
        expect(got >= 0.0, f"You returned {got:.4g}, which is not a fraction.")
        if abs(got - want) <= slack:
            continue
        # Tolerances differ by mistake, so each is matched on its own, in this order.
        core.reject_mistakes(got, [(1.0 - want,
                               f"You returned {got:.3f}, one minus the right share: that is "
                               "the fraction of samples NEAR the codes. A sample is in a hole "
                               "when it is farther than the radius from every code.")],
                        rtol=1e-5, atol=slack)
        core.reject_mistakes(got, [(_share_with(samples, codes, self_included=True),
                               f"You return {got:.3f}: every sample counts as a hole because "
                               "the radius came out as 0. Each code's nearest code at distance "
                               "0 is itself; leave it out when you measure how far the codes "
                               "are from each other.")], rtol=1e-5, atol=1e-9)
        core.reject_mistakes(got, [(_share_with(samples, codes, to_centre=True),
                               "You measure each sample's distance to the codes' centre (their "
                               "mean). A hole is far from EVERY code: use the distance to the "
                               "nearest code.")], rtol=1e-5, atol=slack)
        core.reject_mistakes(got, [(_share_with(samples, codes, quantile=quantile),
                               f"Your radius is the {100 * quantile:.0f} % point of the codes' "
                               "nearest-neighbour distances; the task asks for the 99 % point.")
                              for quantile in (0.5, 0.9, 0.95, 1.0)],
                        rtol=1e-5, atol=slack / 4)
        raise CheckFailed(
            f"For {n} samples in {d}-D you return {got:.3f}; the share in holes is "
            f"{want:.3f}. Check the radius (the 99th percentile of each code's distance "
            "to its nearest other code) and that distances are Euclidean (square root "
            "of the sum of squares) for the codes and the samples alike.")


q2 = Exercise(
    "Exercise 6.2: how many prior samples land in holes?",
    _check_hole_share,
    hole_share,
    hints=(
        "Three steps: (1) for each code, the distance to its nearest OTHER code; (2) the "
        "radius, the 99th percentile of those distances (np.quantile); (3) for each "
        "sample, the distance to its nearest code, compared with the radius.",
        "All distances between the rows of a (n, d) and a (m, d) array at once: "
        "subtract with a[:, None, :] - b[None, :, :], square, sum over the last axis, "
        "take the square root. Put np.inf on the diagonal of the codes' own distance "
        "matrix so that no code is its own neighbour.",
    ),
    forbidden=(latent.hole_fraction, latent.nearest_code_distance),
)


# --- 6.3 explained variance ratio ------------------------------------------------------

def explained_variance_ratio(codes: ArrayLike) -> np.ndarray:
    """Share of the total variance along each principal direction, largest first: (d,)."""
    codes = np.asarray(codes, dtype=np.float64)
    centred = codes - codes.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    variances = singular ** 2
    return variances / variances.sum()


def _check_explained_variance_ratio(answer: Any) -> None:
    core.expect_callable(answer, "my_ratio", 3)
    rng = np.random.default_rng(6)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    codes = (rng.normal(size=(400, 4)) * [3.0, 1.5, 1.0, 0.2]) @ rotation.T + 4.0
    got = core.as_numbers(answer(codes.copy()), "one share per latent dimension").ravel()
    want = explained_variance_ratio(codes)
    core.expect_shape(got, want.shape, "one share per latent dimension")
    core.expect_finite(got, f"Your shares are not all finite: {got}.")
    expect(core.close(got.sum(), 1.0, rtol=1e-5),
           f"Your shares add up to {got.sum():.3f}; as fractions of the total variance they "
           "should add up to 1.")
    # atol 1e-4: a covariance from float32 TF32 matrix products (a GPU default) is off by
    # ~1e-5 in these shares; every mistake looked for is off by more than 0.01.
    singular = np.linalg.svd(codes - codes.mean(axis=0), compute_uv=False)
    uncentred = np.linalg.svd(codes, compute_uv=False) ** 2
    per_axis = np.sort(codes.var(axis=0))[::-1]
    core.compare(np.sort(got)[::-1], want,
            "The values are not right yet. Compare them with the eigenvalues of the codes' "
            "covariance matrix.", rtol=1e-5, atol=1e-4, mistakes=[
                (singular / singular.sum(),
                 "These are shares of the singular values. The variance along a direction "
                 "is proportional to the square of its singular value."),
                (uncentred / uncentred.sum(),
                 "The first share is too large: the codes' mean has leaked in. Subtract the "
                 "mean code before the decomposition."),
                (per_axis / per_axis.sum(),
                 "These are the shares of the variance along each coordinate axis. The "
                 "principal directions are the axes of the codes' covariance, usually "
                 "rotated away from the coordinate axes: decompose the centred codes (or "
                 "their covariance)."),
            ])
    expect(core.close(got, want, rtol=1e-5, atol=1e-4),
           "The shares are right but not sorted from largest to smallest.")


q3 = Exercise(
    "Exercise 6.3: how much variance does each principal direction explain?",
    _check_explained_variance_ratio,
    explained_variance_ratio,
    hints=(
        "Centre the codes first: subtract the mean code from every row.",
        "`np.linalg.svd(centred, compute_uv=False)` returns singular values s, largest "
        "first; the variance along direction k is proportional to s[k] ** 2.",
    ),
    forbidden=(latent_space.pca_2d,),
)
