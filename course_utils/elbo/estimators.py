"""Monte Carlo estimators that lesson 02 uses to check its derivations numerically.

* :func:`kl_monte_carlo` estimates KL( N(mean, diag(exp(log_var))) || N(0, I) ) by
  sampling, to compare with the closed form in :mod:`course_utils.elbo.losses`.
* :func:`score_function_gradient` (REINFORCE) and :func:`pathwise_gradient`
  (reparameterization) estimate the gradient of ``E_{z ~ N(mean, exp(log_var))}[f(z)]``
  for ``f(z) = (z - target)**2``, whose value and gradient are known exactly
  (:func:`expected_squared_distance`, :func:`analytic_gradient`). Both estimators are
  unbiased; the score-function one has a much larger variance. At ``mean = 0``,
  ``log_var = 0``, ``target = 3`` the one-sample variances of the ``mean`` component
  are 222 (score function) and 4 (pathwise), a factor of about 55.

All sampling uses ``numpy.random.default_rng(seed)``: the same seed gives the same
numbers, and no global random state is touched. Computations are in float64.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import (
    check_float_array,
    check_positive_int,
    check_real_number,
    check_same_shape,
    rng_from_seed,
)

__all__ = [
    "Gradient",
    "kl_monte_carlo",
    "expected_squared_distance",
    "analytic_gradient",
    "score_function_gradient",
    "pathwise_gradient",
]


class Gradient(NamedTuple):
    """A gradient with respect to the two parameters of ``N(mean, exp(log_var))``.

    Attributes
    ----------
    mean : float or ndarray of shape (n_estimates,)
        Derivative with respect to ``mean``.
    log_var : float or ndarray of shape (n_estimates,)
        Derivative with respect to ``log_var``.
    """

    mean: float | np.ndarray
    log_var: float | np.ndarray


# --------------------------------------------------------------------------- checks
# (also used by course_utils.elbo.toy_models)


# ----------------------------------------------------------------------------- KL


def kl_monte_carlo(z_mean: ArrayLike, z_log_var: ArrayLike, n_samples: int = 10_000,
                   seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo estimate of KL( N(z_mean, diag(exp(z_log_var))) || N(0, I) ).

    Draws ``z = z_mean + exp(0.5 * z_log_var) * eps`` with ``eps ~ N(0, I)`` and averages
    ``log q(z) - log p(z)`` over the samples, separately for each example.

    Parameters
    ----------
    z_mean : array_like, shape (batch, latent_dim)
        Means of q.
    z_log_var : array_like, shape (batch, latent_dim)
        Log-variances of q.
    n_samples : int
        Samples per example, at least 2 (the standard error needs two).
    seed : int or None
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    estimate : ndarray, shape (batch,)
        The estimated KL of each example, summed over latent dimensions.
    standard_error : ndarray, shape (batch,)
        Sample standard deviation of the per-sample terms over ``sqrt(n_samples)``.

    Raises
    ------
    TypeError, ValueError
        If an input has the wrong type (TypeError), shape or count (ValueError).
    """
    z_mean = check_float_array(z_mean, "z_mean", ndim=2)
    z_log_var = check_float_array(z_log_var, "z_log_var", ndim=2)
    check_same_shape(z_mean, "z_mean", z_log_var, "z_log_var")
    n_samples = check_positive_int(n_samples, "n_samples", minimum=2)
    eps = rng_from_seed(seed).standard_normal((n_samples, *z_mean.shape))
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    # log q(z) - log p(z); the 0.5*log(2 pi) terms cancel.
    log_ratio = np.sum(-0.5 * z_log_var - 0.5 * eps**2 + 0.5 * z**2, axis=-1)
    estimate = log_ratio.mean(axis=0)
    standard_error = log_ratio.std(axis=0, ddof=1) / math.sqrt(n_samples)
    return estimate, standard_error


# ------------------------------------------------------------ gradient estimators


def expected_squared_distance(mean: float, log_var: float, target: float = 3.0) -> float:
    """Exact ``E[(z - target)**2]`` for ``z ~ N(mean, exp(log_var))``, 1-D.

    Parameters
    ----------
    mean, log_var : float
        Parameters of the 1-D Gaussian.
    target : float
        The point ``c`` in ``f(z) = (z - c)**2``.

    Returns
    -------
    float
        ``(mean - target)**2 + exp(log_var)``.
    """
    mean, log_var, target = _gaussian_parameters(mean, log_var, target)
    return (mean - target) ** 2 + math.exp(log_var)


def analytic_gradient(mean: float, log_var: float, target: float = 3.0) -> Gradient:
    """Exact gradient of :func:`expected_squared_distance` (same parameters).

    Returns
    -------
    Gradient
        ``mean = 2 * (mean - target)``, ``log_var = exp(log_var)``; each a float.
    """
    mean, log_var, target = _gaussian_parameters(mean, log_var, target)
    return Gradient(mean=2.0 * (mean - target), log_var=math.exp(log_var))


def score_function_gradient(mean: float, log_var: float, target: float = 3.0, *,
                            n_estimates: int = 10_000, n_samples: int = 1,
                            baseline: float = 0.0, seed: int | None = 0) -> Gradient:
    """Score-function (REINFORCE) estimates of the gradient of ``E[(z - target)**2]``.

    Each estimate averages ``(f(z) - baseline) * d/dtheta log N(z; mean, exp(log_var))``
    over ``n_samples`` draws of ``z``; only values of ``f`` are used, never its
    derivative. The scores are ``(z - mean) / var`` for ``mean`` and
    ``0.5 * ((z - mean)**2 / var - 1)`` for ``log_var``. Any constant ``baseline``
    keeps the estimator unbiased (the score has mean 0); a good one lowers its variance.

    Parameters
    ----------
    mean, log_var : float
        Parameters of the 1-D Gaussian ``N(mean, exp(log_var))``.
    target : float
        The point ``c`` in ``f(z) = (z - c)**2``.
    n_estimates : int
        Number of independent estimates returned.
    n_samples : int
        Samples of ``z`` averaged in each estimate.
    baseline : float
        Constant subtracted from ``f(z)`` (a control variate).
    seed : int or None
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    Gradient
        ``mean`` and ``log_var``: ndarrays of shape (n_estimates,), one estimate each.
    """
    mean, log_var, target = _gaussian_parameters(mean, log_var, target)
    baseline = check_real_number(baseline, "baseline")
    eps = _standard_normal(n_estimates, n_samples, seed)
    z = mean + math.exp(0.5 * log_var) * eps
    weight = (z - target) ** 2 - baseline
    score_mean = eps / math.exp(0.5 * log_var)  # (z - mean) / var
    score_log_var = 0.5 * (eps**2 - 1.0)
    return Gradient(mean=np.mean(weight * score_mean, axis=1),
                    log_var=np.mean(weight * score_log_var, axis=1))


def pathwise_gradient(mean: float, log_var: float, target: float = 3.0, *,
                      n_estimates: int = 10_000, n_samples: int = 1,
                      seed: int | None = 0) -> Gradient:
    """Pathwise (reparameterization) estimates of the gradient of ``E[(z - target)**2]``.

    With ``z = mean + exp(0.5 * log_var) * eps``, ``eps ~ N(0, 1)``, each estimate
    averages ``f'(z) * dz/dtheta`` over ``n_samples`` draws: ``f'(z) = 2 (z - target)``,
    ``dz/dmean = 1`` and ``dz/dlog_var = 0.5 * exp(0.5 * log_var) * eps``.

    Parameters
    ----------
    mean, log_var, target, n_estimates, n_samples, seed
        As in :func:`score_function_gradient`.

    Returns
    -------
    Gradient
        As in :func:`score_function_gradient`.
    """
    mean, log_var, target = _gaussian_parameters(mean, log_var, target)
    eps = _standard_normal(n_estimates, n_samples, seed)
    sigma = math.exp(0.5 * log_var)
    slope = 2.0 * (mean + sigma * eps - target)
    return Gradient(mean=np.mean(slope, axis=1),
                    log_var=np.mean(slope * 0.5 * sigma * eps, axis=1))


def _gaussian_parameters(mean: object, log_var: object,
                         target: object) -> tuple[float, float, float]:
    return (check_real_number(mean, "mean"), check_real_number(log_var, "log_var"),
            check_real_number(target, "target"))


def _standard_normal(n_estimates: object, n_samples: object, seed: object) -> np.ndarray:
    """Noise of shape (n_estimates, n_samples)."""
    shape = (check_positive_int(n_estimates, "n_estimates"),
             check_positive_int(n_samples, "n_samples"))
    return rng_from_seed(seed).standard_normal(shape)
