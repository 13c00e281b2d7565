"""Exercises for lesson 06 (seeing the latent space)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from course_utils import latent_space
from course_utils.exercises.core import Exercise, expect

__all__ = ["q1", "q2", "q3", "q4"]


def _points(array: object, name: str) -> np.ndarray:
    values = np.asarray(array, dtype=np.float64)
    expect(values.ndim == 2, f"Expected a 2-D array of {name}, one per row; got shape "
                             f"{values.shape}.")
    return values


# --- 6.1 a grid at Normal quantiles ------------------------------------------------------

def quantile_grid(n, low=0.05, high=0.95):
    """All n * n pairs of standard-Normal quantiles at probabilities linspace(low, high, n)."""
    normal = NormalDist()
    values = np.array([normal.inv_cdf(p) for p in np.linspace(low, high, n)])
    z1, z2 = np.meshgrid(values, values)
    return np.stack([z1.ravel(), z2.ravel()], axis=1)


def _sorted_rows(points: np.ndarray) -> np.ndarray:
    return points[np.lexsort(points.T[::-1])]


def _check_quantile_grid(answer) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q1.check(my_quantile_grid).")
    for n, low, high in ((5, 0.05, 0.95), (4, 0.1, 0.8), (7, 0.02, 0.98)):
        got = _points(answer(n, low, high), "points")
        want = quantile_grid(n, low, high)
        expect(got.shape == want.shape,
               f"For n={n} expected {n * n} points of 2 coordinates, shape {want.shape}; got "
               f"shape {got.shape}. Every value of z1 pairs with every value of z2.")
        expect(not (got.min() > 0 and got.max() < 1),
               "All your coordinates lie between 0 and 1: those are probabilities. Turn "
               "each probability into the z value that has that much prior mass below it.")
        expect(not np.allclose(np.unique(got[:, 0]), np.linspace(-1, 1, n)),
               "Your points are evenly spaced on [-1, 1]. The task asks for points evenly "
               "spaced in probability under the prior N(0, 1).")
        expect(np.allclose(np.unique(got[:, 0]), np.unique(want[:, 0]), atol=1e-6),
               f"For n={n}, low={low}, high={high} the coordinate values are not the Normal "
               "quantiles of evenly spaced probabilities from low to high (both included).")
        expect(np.allclose(_sorted_rows(got), _sorted_rows(want), atol=1e-6),
               "The values are right, but not every (z1, z2) combination appears exactly once.")


q1 = Exercise(
    "Exercise 6.1: a grid at Normal quantiles",
    _check_quantile_grid,
    quantile_grid,
    hints=(
        "`statistics.NormalDist().inv_cdf(p)` is the z below which a standard Normal has "
        "probability p. Apply it to n evenly spaced probabilities from low to high.",
        "With the n values in an array `v`, `np.meshgrid(v, v)` gives two (n, n) arrays; "
        "flatten both and stack them as columns.",
    ),
    forbidden=(latent_space.normal_quantile_grid, latent_space.normal_quantiles),
)


# --- 6.2 linear interpolation ------------------------------------------------------------

def lerp(z_a, z_b, steps):
    """``steps`` codes evenly spaced on the segment from z_a to z_b, both ends included."""
    z_a = np.asarray(z_a, dtype=np.float64)
    z_b = np.asarray(z_b, dtype=np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1.0 - t) * z_a + t * z_b


def _check_lerp(answer) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q2.check(my_lerp).")
    z_a = np.array([0.5, -1.0, 2.0])
    z_b = np.array([-1.5, 1.0, 0.0])
    got = _points(answer(z_a, z_b, 6), "codes")
    want = lerp(z_a, z_b, 6)
    expect(got.shape != want.shape[::-1],
           f"Your result has shape {got.shape}: one row per dimension. Return one code per "
           f"row, shape {want.shape}.")
    expect(got.shape == want.shape,
           f"Expected one code per step, shape {want.shape}; got shape {got.shape}.")
    expect(np.allclose(got[0], z_a), "The first code should be z_a itself.")
    expect(np.allclose(got[-1], z_b),
           "The last code should be z_b itself: include both ends of the path.")
    expect(np.allclose(got, want),
           "Both ends are right, but the codes in between are not evenly spaced on the "
           "straight line from z_a to z_b.")
    expect(np.allclose(np.asarray(answer(z_a, z_b, 2), dtype=float), [z_a, z_b]),
           "With steps=2 the path should be just [z_a, z_b].")


q2 = Exercise(
    "Exercise 6.2: a straight path through latent space",
    _check_lerp,
    lerp,
    hints=(
        "A point on the segment is (1 - t) * z_a + t * z_b for some t between 0 and 1.",
        "Make the t values with np.linspace(0, 1, steps) and give them a trailing axis, "
        "t[:, None], so they broadcast against the codes.",
    ),
    forbidden=(latent_space.interpolate,),
)


# --- 6.3 explained variance ratio ------------------------------------------------------

def explained_variance_ratio(codes):
    """Share of the total variance along each principal direction, largest first: (d,)."""
    codes = np.asarray(codes, dtype=np.float64)
    centred = codes - codes.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    variances = singular ** 2
    return variances / variances.sum()


def _check_explained_variance_ratio(answer) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q3.check(my_ratio).")
    rng = np.random.default_rng(6)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    codes = (rng.normal(size=(400, 4)) * [3.0, 1.5, 1.0, 0.2]) @ rotation.T + 4.0
    got = np.asarray(answer(codes), dtype=np.float64).ravel()
    want = explained_variance_ratio(codes)
    expect(got.shape == want.shape,
           f"Expected one share per latent dimension, shape {want.shape}; got shape "
           f"{got.shape}.")
    expect(np.isclose(got.sum(), 1.0),
           f"Your shares add up to {got.sum():.3f}; as fractions of the total variance they "
           "should add up to 1.")
    # atol 1e-4: a covariance from float32 TF32 matrix products (a GPU default) is off by
    # ~1e-5 in these shares; every mistake looked for is off by more than 0.01.
    singular = np.linalg.svd(codes - codes.mean(axis=0), compute_uv=False)
    expect(not np.allclose(np.sort(got)[::-1], singular / singular.sum(), atol=1e-4),
           "These are shares of the singular values. The variance along a direction is "
           "proportional to the square of its singular value.")
    uncentred = np.linalg.svd(codes, compute_uv=False) ** 2
    expect(not np.allclose(np.sort(got)[::-1], uncentred / uncentred.sum(), atol=1e-4),
           "The first share is too large: the codes' mean has leaked in. Subtract the mean "
           "code before the decomposition.")
    expect(np.allclose(got, want, atol=1e-4),
           "The values are not right yet (or not sorted from largest to smallest). "
           "Compare them with the eigenvalues of the codes' covariance matrix.")


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


# --- 6.4 prior mass of a box ------------------------------------------------------------

def box_prior_mass(half_width, latent_dim):
    """Probability that z ~ N(0, I) in latent_dim dimensions lies in [-h, h]^latent_dim."""
    normal = NormalDist()
    one_axis = normal.cdf(half_width) - normal.cdf(-half_width)
    return one_axis ** latent_dim


def _check_box_prior_mass(answer) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q4.check(my_box_mass).")
    for half_width, latent_dim in ((1.0, 2), (2.0, 2), (1.645, 2), (1.0, 8), (3.0, 1)):
        got = float(answer(half_width, latent_dim))
        want = box_prior_mass(half_width, latent_dim)
        one_axis = box_prior_mass(half_width, 1)
        expect(0.0 <= got <= 1.0, f"For h={half_width}, d={latent_dim} you returned {got:.4g}, "
                                  "which is not a probability.")
        if latent_dim > 1:
            expect(not np.isclose(got, one_axis),
                   f"For h={half_width}, d={latent_dim} you return the mass of ONE coordinate "
                   "interval. The box needs every coordinate inside at once.")
        expect(not np.isclose(got, NormalDist().cdf(half_width) ** latent_dim),
               f"For h={half_width}, d={latent_dim}: you counted everything below h; the "
               "interval also has a lower end, -h.")
        expect(np.isclose(got, want, rtol=1e-6),
               f"For h={half_width}, d={latent_dim} the mass is not right (got {got:.4f}). "
               "Find the mass of one coordinate's interval first, then use that the "
               "coordinates are independent under the prior.")


q4 = Exercise(
    "Exercise 6.4: how much prior mass does a box hold?",
    _check_box_prior_mass,
    box_prior_mass,
    hints=(
        "For one coordinate, P(-h <= z <= h) = Phi(h) - Phi(-h), with Phi = NormalDist().cdf.",
        "Under N(0, I) the coordinates are independent, so the probability that all of "
        "them lie in their intervals is a product.",
    ),
    forbidden=(),  # course_utils has no box probability of its own
)
