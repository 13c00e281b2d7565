"""Points in a latent (code) space: sampling them and measuring where data lives."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import (
    DIVERGED_FIX,
    check_array,
    check_positive_int,
    check_same_shape,
    rng_from_seed,
)

__all__ = [
    "sample_prior",
    "sample_aggregate_posterior",
    "sample_box",
    "sample_fitted_gaussian",
    "nearest_code_distance",
    "hole_fraction",
]


def _codes(codes: ArrayLike, name: str = "codes", *, min_len: int = 2) -> np.ndarray:
    """Finite codes ``(n, d)``, at least ``min_len`` of them."""
    return check_array(codes, name, ndim=2, min_len=min_len, noun="code", finite=True,
                       layout="(n, d)", fix=DIVERGED_FIX)


def _draw_setup(codes: ArrayLike, n: int, seed: int | None
                ) -> tuple[np.ndarray, int, np.random.Generator]:
    """Checked ``codes`` (m >= 2 rows), ``n`` and a generator: what the samplers share."""
    return _codes(codes), check_positive_int(n, "n"), rng_from_seed(seed)


def sample_box(codes: ArrayLike, n: int, *, seed: int = 0) -> np.ndarray:
    """Draw ``n`` points uniformly from the bounding box of ``codes``.

    Parameters
    ----------
    codes : array_like of shape (m, d)
        At least two finite codes.
    n : int
        Points to draw.
    seed : int
        Seed of the NumPy generator.

    Returns
    -------
    numpy.ndarray of shape (n, d), float32
    """
    codes, n, rng = _draw_setup(codes, n, seed)
    low, high = codes.min(axis=0), codes.max(axis=0)
    return rng.uniform(low, high, size=(n, codes.shape[1])).astype(np.float32)


def sample_fitted_gaussian(codes: ArrayLike, n: int, *, seed: int = 0) -> np.ndarray:
    """Draw ``n`` points from a Gaussian with the mean and covariance of ``codes``.

    The parameters and the result are as in :func:`sample_box`.
    """
    codes, n, rng = _draw_setup(codes, n, seed)
    mean = codes.mean(axis=0)
    cov = np.atleast_2d(np.cov(codes, rowvar=False))
    return rng.multivariate_normal(mean, cov, size=n).astype(np.float32)


def nearest_code_distance(points: ArrayLike, codes: ArrayLike,
                          *, chunk: int = 1024) -> np.ndarray:
    """Euclidean distance from each point to its nearest code.

    Parameters
    ----------
    points : array_like of shape (n, d)
    codes : array_like of shape (m, d)
    chunk : int
        Points handled at once, to bound memory at ``chunk * m`` distances.

    Returns
    -------
    numpy.ndarray of shape (n,)
    """
    points = _codes(points, "points", min_len=1)
    codes = _codes(codes, min_len=1)
    if points.shape[1] != codes.shape[1]:
        raise ValueError(f"points and codes must have the same dimension; got "
                         f"{points.shape[1]} and {codes.shape[1]}. Pass points of the "
                         "codes' space.")
    out = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), chunk):
        block = points[start:start + chunk]
        squared = ((block[:, None, :] - codes[None, :, :]) ** 2).sum(axis=-1)
        out[start:start + chunk] = np.sqrt(squared.min(axis=1))
    return out


def hole_fraction(points: ArrayLike, codes: ArrayLike, *, quantile: float = 0.99) -> float:
    """Fraction of ``points`` that fall in a hole of the code space.

    A point is in a hole when its nearest code is farther away than ``quantile`` of
    the codes' own nearest-neighbour distances: farther from the data than almost any
    real code is from its neighbour. Half of ``codes`` serve as the reference set and
    the other half measure its spacing, so no code counts as its own neighbour.

    Returns
    -------
    float in [0, 1]
    """
    codes = _codes(codes)
    points = _codes(points, "points", min_len=1)
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1); got {quantile}. Pass e.g. 0.99.")
    half = len(codes) // 2
    reference = codes[half:]  # held apart so that no code is its own neighbour
    spacing = nearest_code_distance(codes[:half], reference)
    radius = float(np.quantile(spacing, quantile))
    return float((nearest_code_distance(points, reference) > radius).mean())


def sample_prior(n: int, latent_dim: int, *, seed: int | None = 0) -> np.ndarray:
    """Draw ``n`` codes from the prior N(0, I).

    Returns
    -------
    numpy.ndarray of shape (n, latent_dim), float32
    """
    n = check_positive_int(n, "n")
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    rng = rng_from_seed(seed)
    return rng.standard_normal((n, latent_dim)).astype(np.float32)


def sample_aggregate_posterior(z_mean: ArrayLike, z_log_var: ArrayLike, n: int, *,
                               seed: int | None = 0) -> np.ndarray:
    """Draw ``n`` codes from the aggregate posterior ``q(z) = mean_i q(z | x_i)``.

    Each draw picks an image ``i`` uniformly (with replacement) and then samples
    ``z = z_mean[i] + exp(z_log_var[i] / 2) * eps`` with ``eps ~ N(0, I)``: where
    the encoder actually puts the data, to compare with where the prior puts mass.

    Parameters
    ----------
    z_mean, z_log_var : array-like of shape (m, latent_dim)
        The encoder's outputs for ``m`` images (``vae.encode(x)``).
    n : int
        Number of codes to draw.
    seed : int or None

    Returns
    -------
    numpy.ndarray of shape (n, latent_dim), float32
    """
    mean = _codes(z_mean, "z_mean", min_len=1)
    log_var = _codes(z_log_var, "z_log_var", min_len=1)
    check_same_shape(mean, "z_mean", log_var, "z_log_var",
                     fix="Pass both outputs of one vae.encode(x).")
    n = check_positive_int(n, "n")
    rng = rng_from_seed(seed)
    chosen = rng.integers(0, len(mean), size=n)
    noise = rng.standard_normal((n, mean.shape[1]))
    return (mean[chosen] + np.exp(0.5 * log_var[chosen]) * noise).astype(np.float32)
