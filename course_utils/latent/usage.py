"""How much of its latent code a VAE uses: KL per dimension and active units.

A latent dimension that the decoder ignores costs nothing only if its posterior equals
the prior for every image: then its KL is zero and its posterior mean does not change
from image to image. Two measures follow from the encoder's outputs alone:

* :func:`kl_per_dimension`: the KL term split by latent dimension, averaged over
  images (it adds up to the model's KL term);
* :func:`latent_activity` and :func:`active_units`: the variance across images of
  each posterior mean, ``Cov_x(E_q[z_u])``; Burda et al. (2015) call a unit active
  when it exceeds 0.01.

All functions are NumPy, float64.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import DIVERGED_FIX, check_array, check_same_shape

__all__ = ["ACTIVE_THRESHOLD", "kl_per_dimension", "latent_activity", "active_units"]

#: Burda et al.'s threshold on ``Cov_x(E_q[z_u])`` for an active unit.
ACTIVE_THRESHOLD = 0.01


def _codes(value: object, name: str) -> np.ndarray:
    """Finite float64 encoder outputs of shape (n, latent_dim), n >= 1."""
    return check_array(value, name, ndim=2, min_len=1, dtype=np.float64, finite=True,
                       noun="code", layout="(n, latent_dim)", fix=DIVERGED_FIX)


def kl_per_dimension(z_mean: ArrayLike, z_log_var: ArrayLike) -> np.ndarray:
    """Average KL( q(z_u|x) || N(0, 1) ) of each latent dimension ``u`` over images.

    Parameters
    ----------
    z_mean, z_log_var : array_like of shape (n, latent_dim)
        Encoder outputs for ``n`` images.

    Returns
    -------
    numpy.ndarray of shape (latent_dim,)
        In nats; the entries add up to the mean KL term of the images.
    """
    mean = _codes(z_mean, "z_mean")
    log_var = _codes(z_log_var, "z_log_var")
    check_same_shape(mean, "z_mean", log_var, "z_log_var",
                     fix="Pass both encoder outputs for the same images.")
    per_dim = 0.5 * (mean**2 + np.expm1(log_var) - log_var)
    return per_dim.mean(axis=0)


def latent_activity(z_mean: ArrayLike) -> np.ndarray:
    """Variance across images of each posterior mean: ``Cov_x(E_q[z_u])``.

    Parameters
    ----------
    z_mean : array_like of shape (n, latent_dim)
        Posterior means of ``n >= 2`` images.

    Returns
    -------
    numpy.ndarray of shape (latent_dim,)
        The population variance (divided by ``n``) of each column.
    """
    mean = _codes(z_mean, "z_mean")
    if len(mean) < 2:
        raise ValueError(f"z_mean must hold at least 2 images to measure a variance; got "
                         f"{len(mean)}. Encode more images.")
    return mean.var(axis=0)


def active_units(z_mean: ArrayLike, threshold: float = ACTIVE_THRESHOLD) -> int:
    """Number of latent dimensions whose activity exceeds ``threshold``.

    Parameters
    ----------
    z_mean : array_like of shape (n, latent_dim)
        Posterior means of ``n >= 2`` images (e.g. the test set).
    threshold : float
        Burda et al. use 0.01.

    Returns
    -------
    int
        Between 0 and ``latent_dim``.
    """
    threshold = float(threshold)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite number >= 0; got {threshold}. Use "
                         "0.01.")
    return int(np.sum(latent_activity(z_mean) > threshold))
