"""The reconstruction term as a likelihood: hidden weights, floors and a common footing.

Lesson 05 reads "BCE or MSE?" as a choice of decoder distribution ``p(x|z)``. The
functions here turn that view into numbers:

* :func:`implied_sigma_squared` and :func:`implied_kl_weight`: which Gaussian
  variance, and which weight on the KL term, a given way of writing the loss
  (sum or mean over pixels, extra factors) amounts to;
* :func:`max_likelihood_sigma`: the single ``sigma`` that makes a Gaussian decoder
  fit given residuals best (the root-mean-square residual);
* :func:`bernoulli_entropy_floor`: the smallest value the binary cross-entropy can
  take on grey-level targets, which is not zero;
* :func:`continuous_bernoulli_log_norm`: the log normalising constant that turns the
  Bernoulli "likelihood" of a grey level into a density on [0, 1].

The importance-weighted bound that scores models trained with different losses on one
density lives in :mod:`course_utils.evaluation.importance_weighting`.

Pure functions compute in float64 NumPy; all logarithms are natural (nats).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import (
    DIVERGED_FIX,
    PIXEL_RANGE,
    check_array,
    check_positive_int,
    check_positive_number,
    check_same_shape,
)

__all__ = [
    "implied_sigma_squared",
    "implied_kl_weight",
    "max_likelihood_sigma",
    "bernoulli_entropy_floor",
    "continuous_bernoulli_log_norm",
]

_REDUCTIONS = ("sum", "mean")


# --------------------------------------------------------------------------- checks

def _weights(kl_weight: object, reconstruction_weight: object) -> tuple[float, float]:
    """The two loss weights as positive floats (``kl_weight``, ``reconstruction_weight``)."""
    return (check_positive_number(kl_weight, "kl_weight", example="1.0"),
            check_positive_number(reconstruction_weight, "reconstruction_weight",
                                  example="1.0"))


def _reduction_divisor(pixel_count: object, reduction: object) -> int:
    """The number the reconstruction term is divided by: ``pixel_count`` or 1."""
    pixel_count = check_positive_int(pixel_count, "pixel_count")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}. Pass "
                         "'mean' if the loss averages over pixels, 'sum' if it adds.")
    return pixel_count if reduction == "mean" else 1


def _images(value: object, name: str, *, pixels: bool = True) -> np.ndarray:
    """``value`` as a float64 batch ``(n, ...)``, n >= 1, with at least one non-batch axis.

    Finite values always; with ``pixels`` also in [0, 1] (images, not model outputs).
    """
    return check_array(value, name, ndim=(2, 3, 4), min_len=1, dtype=np.float64,
                       finite=True, value_range=PIXEL_RANGE if pixels else None,
                       noun="image", value_noun="pixel" if pixels else "value",
                       layout="(n, ...), e.g. (n, 28, 28, 1)",
                       fix=None if pixels else DIVERGED_FIX)


# ------------------------------------------------------------ hidden weights and sigma

def implied_sigma_squared(pixel_count: int, *, reduction: str = "mean",
                          reconstruction_weight: float = 1.0,
                          kl_weight: float = 1.0) -> float:
    """The Gaussian variance implied by a squared-error loss.

    A loss ``reconstruction_weight * SE + kl_weight * KL``, where ``SE`` is the
    squared error ``(x - x_hat)**2`` summed (``reduction="sum"``) or averaged
    (``"mean"``) over the ``D = pixel_count`` pixels of an image, has the same
    minimiser and, up to a positive factor, the same gradients as the negative ELBO
    of a Gaussian decoder ``N(x; x_hat, sigma**2 I)`` with

    ``sigma**2 = kl_weight * m / (2 * reconstruction_weight)``,  ``m = D`` or ``1``.

    So the Keras-style per-pixel mean MSE plus a summed KL is a Gaussian with
    ``sigma**2 = D / 2`` (392 for MNIST).

    Parameters
    ----------
    pixel_count : int
        Number of pixels ``D`` of one image (784 for MNIST, 3072 for 32x32 RGB).
    reduction : {"mean", "sum"}
        How the squared error is reduced over the pixels of an image.
    reconstruction_weight, kl_weight : float
        Positive factors in front of the two terms.

    Returns
    -------
    float
        The implied variance ``sigma**2``.
    """
    divisor = _reduction_divisor(pixel_count, reduction)
    kl, reconstruction = _weights(kl_weight, reconstruction_weight)
    return kl * divisor / (2.0 * reconstruction)


def implied_kl_weight(pixel_count: int, *, reduction: str = "mean",
                      reconstruction_weight: float = 1.0, kl_weight: float = 1.0) -> float:
    """The weight ``beta`` a loss really puts on the KL term, relative to the ELBO.

    For a loss ``reconstruction_weight * R + kl_weight * KL``, where ``R`` is the
    decoder's negative log-likelihood summed (``reduction="sum"``) or averaged
    (``"mean"``) over the ``D`` pixels, dividing by the factor in front of the summed
    likelihood gives ``NLL_sum + beta * KL`` with

    ``beta = kl_weight * m / reconstruction_weight``,  ``m = D`` or ``1``.

    ``beta = 1`` is the negative ELBO. A per-pixel mean BCE plus a summed KL has
    ``beta = D``. (For squared error relative to a Gaussian with standard deviation
    ``s``, beta is ``implied_sigma_squared(...) / s**2``.)

    Parameters
    ----------
    pixel_count, reduction, reconstruction_weight, kl_weight
        As in :func:`implied_sigma_squared` (``reduction`` of the reconstruction term).

    Returns
    -------
    float
        The effective ``beta``.
    """
    divisor = _reduction_divisor(pixel_count, reduction)
    kl, reconstruction = _weights(kl_weight, reconstruction_weight)
    return kl * divisor / reconstruction


def max_likelihood_sigma(images: ArrayLike, reconstructions: ArrayLike) -> float:
    """The one ``sigma`` that maximises ``sum log N(x; x_hat, sigma**2 I)`` over a set.

    Setting the derivative of ``SSE / (2 sigma**2) + N D log(sigma)`` to zero gives
    ``sigma**2 = SSE / (N D)``: the root-mean-square residual over all pixels of all
    images (no mean is subtracted from the residuals).

    Parameters
    ----------
    images : array_like of shape (n, ...)
        Targets: at least one image, finite pixel values in [0, 1].
    reconstructions : array_like of the same shape
        Decoder means (finite).

    Returns
    -------
    float
        ``sqrt(mean((images - reconstructions)**2))``.
    """
    images = _images(images, "images")
    reconstructions = _images(reconstructions, "reconstructions", pixels=False)
    check_same_shape(images, "images", reconstructions, "reconstructions",
                     fix="Reconstruct the same batch.")
    return float(np.sqrt(np.mean((images - reconstructions) ** 2)))


# ------------------------------------------------------------------ the Bernoulli floor

def bernoulli_entropy_floor(images: ArrayLike) -> np.ndarray:
    """The lowest binary cross-entropy any decoder can reach on each image, in nats.

    For a target ``x`` in [0, 1], ``BCE(x, p) = -x log p - (1 - x) log(1 - p)`` is
    smallest at ``p = x``, where it equals the binary entropy
    ``H(x) = -x log x - (1 - x) log(1 - x)`` (with ``0 log 0 = 0``). ``H`` is zero only
    for pure black or white pixels, so on grey-level images the BCE has a floor above
    zero: the sum of ``H`` over the pixels.

    Parameters
    ----------
    images : array_like of shape (n, ...)
        At least one target, finite values in [0, 1].

    Returns
    -------
    numpy.ndarray of shape (n,)
        The floor of each image, summed over its pixels.
    """
    x = _images(images, "images")
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.where(x > 0, x * np.log(x), 0.0)
                    + np.where(x < 1, (1 - x) * np.log1p(-x), 0.0))
    return entropy.reshape(len(x), -1).sum(axis=1)


def continuous_bernoulli_log_norm(logits: ArrayLike) -> np.ndarray:
    """``log C(lambda)`` of the continuous Bernoulli, from logits, element by element.

    The continuous Bernoulli (Loaiza-Ganem & Cunningham, 2019) is the density
    ``C(lambda) lambda**x (1 - lambda)**(1 - x)`` on ``x`` in [0, 1], with
    ``C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda)`` (and ``C(1/2) = 2``).
    With ``lambda = sigmoid(l)`` this is ``C = l / tanh(l / 2)``. Adding ``log C`` to
    the Bernoulli log-likelihood of a grey level gives a proper log-density, so the
    corrected reconstruction term is ``BCE - sum log C``.

    Parameters
    ----------
    logits : array_like of any shape
        ``l = logit(lambda)``.

    Returns
    -------
    numpy.ndarray of the same shape
        ``log C``; it is ``log 2`` at ``l = 0`` and grows like ``log |l|``.
    """
    try:
        l_abs = np.abs(np.asarray(logits, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise TypeError(f"logits must be a numeric array; got {type(logits).__name__}. "
                        "Pass a NumPy array.") from error
    small = l_abs < 1e-3
    safe = np.where(small, 1.0, l_abs)
    # l / tanh(l/2) = 2 + l**2/6 - ..., so log C = log 2 + l**2/12 + O(l**4) near 0.
    return np.where(small, math.log(2.0) + l_abs**2 / 12.0,
                    np.log(safe) - np.log(np.tanh(safe / 2.0)))
