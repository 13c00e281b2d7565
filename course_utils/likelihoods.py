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
  Bernoulli "likelihood" of a grey level into a density on [0, 1];
* :func:`importance_weighted_bound`: the importance-weighted (IWAE) lower bound on
  ``log p(x)`` of a trained :class:`~course_utils.vae.VAE`, under its own likelihood
  or under a Gaussian with a ``sigma`` of your choice, so that models trained with
  different losses can be scored on the same data with the same density;
* :func:`log_importance_weights` and :func:`bounds_by_k`: the weights behind that
  bound, and ``L_k`` for every ``k`` dividing their number, with standard errors, to
  see whether the bound has converged in ``k``.

Pure functions compute in float64 NumPy; all logarithms are natural (nats).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops
from numpy.typing import ArrayLike

from course_utils._validation import DIVERGED_FIX, PIXEL_RANGE, check_array, check_positive_int
from course_utils.losses import gaussian_nll

__all__ = [
    "implied_sigma_squared",
    "implied_kl_weight",
    "max_likelihood_sigma",
    "bernoulli_entropy_floor",
    "continuous_bernoulli_log_norm",
    "importance_weighted_bound",
    "log_importance_weights",
    "bounds_by_k",
    "scoring_nll",
    "log_mean_exp",
]

_REDUCTIONS = ("sum", "mean")
_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- checks

def _positive(value: object, name: str) -> float:
    if isinstance(value, bool):
        raise TypeError(f"expected {name} to be a number, got bool, fix: pass a float.")
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"expected {name} to be a number, got {type(value).__name__}, "
                        f"fix: pass a positive float.") from error
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"expected {name} to be a positive finite number, got {value!r}, "
                         f"fix: pass e.g. 1.0.")
    return number


def _reduction_divisor(pixel_count: object, reduction: object) -> int:
    """The number the reconstruction term is divided by: ``pixel_count`` or 1."""
    pixel_count = check_positive_int(pixel_count, "pixel_count")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"expected reduction to be one of {_REDUCTIONS}, got {reduction!r}, "
                         "fix: 'mean' if the loss averages over pixels, 'sum' if it adds.")
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
    return (_positive(kl_weight, "kl_weight") * divisor
            / (2.0 * _positive(reconstruction_weight, "reconstruction_weight")))


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
    pixel_count : int
        Number of pixels ``D`` of one image.
    reduction : {"mean", "sum"}
        How the reconstruction term is reduced over the pixels of an image.
    reconstruction_weight, kl_weight : float
        Positive factors in front of the two terms.

    Returns
    -------
    float
        The effective ``beta``.
    """
    divisor = _reduction_divisor(pixel_count, reduction)
    return (_positive(kl_weight, "kl_weight") * divisor
            / _positive(reconstruction_weight, "reconstruction_weight"))


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
    if images.shape != reconstructions.shape:
        raise ValueError(f"expected images and reconstructions of the same shape, got "
                         f"{images.shape} and {reconstructions.shape}, fix: reconstruct "
                         f"the same batch.")
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
        raise TypeError(f"expected logits to be a numeric array, got "
                        f"{type(logits).__name__}, fix: pass a NumPy array.") from error
    small = l_abs < 1e-3
    safe = np.where(small, 1.0, l_abs)
    # l / tanh(l/2) = 2 + l**2/6 - ..., so log C = log 2 + l**2/12 + O(l**4) near 0.
    return np.where(small, math.log(2.0) + l_abs**2 / 12.0,
                    np.log(safe) - np.log(np.tanh(safe / 2.0)))


# --------------------------------------------------------------- the IWAE lower bound

def scoring_nll(vae: keras.Model, images: object, logits: object, *,
                log_sigma: float | None = None) -> object:
    """``-log p(x|z)`` per image, under the VAE's own likelihood or one common Gaussian.

    The one place where the importance-weighted bounds of this module and of
    :mod:`course_utils.inference_gaps` turn decoder logits into a log-likelihood.
    Backend ops only, so it also runs inside ``tf.function``.

    Parameters
    ----------
    vae : course_utils.vae.VAE
    images : array or tensor, shape (n, 28, 28, 1)
        Pixels in [0, 1] (already checked by the caller).
    logits : array or tensor, shape (n, 28, 28, 1)
        The decoder's output for one code per image.
    log_sigma : float or None
        None: the VAE's own likelihood (``vae.reconstruction_nll``, full density summed
        over pixels). A number: ``N(x; sigmoid(logits), exp(log_sigma)**2 I)``.

    Returns
    -------
    tensor, shape (n,)
        In nats.
    """
    if log_sigma is None:
        return vae.reconstruction_nll(images, logits)
    return gaussian_nll(images, ops.sigmoid(logits), log_sigma)


def log_importance_weights(vae: keras.Model, images: ArrayLike, k: int = 100, *,
                           sigma: float | None = None, seed: int = 0,
                           chunk_rows: int = 8192) -> np.ndarray:
    """The ``k`` log importance weights of each image, the ingredients of ``L_k``.

    With ``z_1..z_k`` drawn from the encoder's ``q(z|x)`` (``z = mean + exp(0.5 *
    log_var) * eps``), weight ``i`` of an image is
    ``log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x)``. Their mean estimates the
    ELBO; the log of the mean of ``exp(log w_i)`` is the importance-weighted bound
    (:func:`importance_weighted_bound`, :func:`bounds_by_k`).

    Parameters
    ----------
    vae : course_utils.vae.VAE
        A VAE (any likelihood).
    images : array_like of shape (n, 28, 28, 1)
        At least one image, finite pixel values in [0, 1] (the shape follows
        ``vae.image_shape``); checked before anything runs.
    k : int
        Importance samples per image; k decoder passes per image.
    sigma : float or None
        None: the VAE's own likelihood (Bernoulli, or Gaussian with its sigma).
        A positive number: score every model with the same kind of density, a
        Gaussian ``N(x; sigmoid(logits), sigma**2 I)``, whatever it was trained with.
        The VAE's ``reduction`` option is ignored: ``log p(x|z)`` is the full
        density, summed over pixels.
    seed : int
        Seed of the NumPy generator that draws the noise (same seed, same weights).
    chunk_rows : int
        At most this many decoder rows (images times ``k``) per call; the result does
        not depend on it.

    Returns
    -------
    numpy.ndarray of shape (n, k)
        ``log w`` in nats (float64).
    """
    if not hasattr(vae, "encoder") or not hasattr(vae, "reconstruction_nll"):
        raise TypeError(f"expected a course_utils.vae.VAE, got {type(vae).__name__}, fix: "
                        f"build one with build_dense_vae or VAE(encoder, decoder).")
    k = check_positive_int(k, "k")
    seed = check_positive_int(seed, "seed", minimum=0)
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    log_sigma = None if sigma is None else math.log(_positive(sigma, "sigma"))
    x_all = vae._as_images(images, "images")
    rng = np.random.default_rng(seed)
    per_chunk = max(1, chunk_rows // k)
    weights = []
    for start in range(0, len(x_all), per_chunk):
        x = x_all[start:start + per_chunk]
        n = len(x)
        z_mean, z_log_var = (np.asarray(ops.convert_to_numpy(t), dtype=np.float64)
                             for t in vae.encoder(x, training=False))
        # Drawn image by image, so the noise of an image does not depend on chunk_rows.
        eps = rng.standard_normal((n, k, vae.latent_dim)).transpose(1, 0, 2)
        z = z_mean + np.exp(0.5 * z_log_var) * eps                      # (k, n, K)
        log_w = np.empty((k, n))
        # At most chunk_rows decoder rows at a time, also when k alone exceeds it.
        step = max(1, chunk_rows // n)
        for first in range(0, k, step):
            rows = slice(first, first + step)
            m = len(range(k)[rows])
            logits = vae.decoder(z[rows].reshape(m * n, -1).astype(np.float32),
                                 training=False)
            x_rep = np.broadcast_to(x, (m,) + x.shape).reshape((m * n,) + x.shape[1:])
            nll = scoring_nll(vae, x_rep, logits, log_sigma=log_sigma)
            log_w[rows] = -np.asarray(ops.convert_to_numpy(nll),
                                      dtype=np.float64).reshape(m, n)
        log_prior = -0.5 * np.sum(z**2 + _LOG_2PI, axis=-1)             # (k, n)
        log_q = -0.5 * np.sum(eps**2 + z_log_var + _LOG_2PI, axis=-1)   # (k, n)
        weights.append((log_w + log_prior - log_q).T)
    return np.concatenate(weights)


def log_mean_exp(values: ArrayLike, axis: int = -1) -> np.ndarray:
    """``log(mean(exp(values)))`` along ``axis``, without overflow or underflow.

    Subtracting the largest value first keeps every ``exp`` in (0, 1], so log weights
    of -1000 (whose ``exp`` is 0.0 in float64) give the right answer.

    Parameters
    ----------
    values : array_like, shape (..., k, ...)
        Finite numbers, e.g. log importance weights of shape (n, k).
    axis : int
        The axis to average over.

    Returns
    -------
    numpy.ndarray
        ``values`` with ``axis`` removed, float64.
    """
    array = check_array(values, "values", dtype=np.float64, finite=True)
    if array.ndim == 0 or array.shape[axis] == 0:
        raise ValueError(f"expected at least one value along axis {axis}, got shape "
                         f"{array.shape}, fix: pass e.g. log weights of shape (n, k).")
    top = np.max(array, axis=axis, keepdims=True)
    result = top + np.log(np.mean(np.exp(array - top), axis=axis, keepdims=True))
    return np.squeeze(result, axis=axis)


def bounds_by_k(log_weights: ArrayLike, ks: object) -> tuple[np.ndarray, np.ndarray]:
    """``L_k`` for several ``k`` from one set of log weights, with standard errors.

    The ``K`` weights of an image are split into ``K // k`` disjoint blocks of ``k``;
    ``L_k`` of each block is ``log (1/k) sum exp(log w)`` over the block, and the
    estimate of ``E[L_k]`` is the mean over the blocks. One decoder pass per weight
    thus gives every ``k`` that divides ``K``. (Within one image the bound of a block
    is never below the mean bound of its two halves, by Jensen's inequality.)

    Parameters
    ----------
    log_weights : array_like of shape (n, K)
        Log importance weights of ``n`` images, e.g. from
        :func:`log_importance_weights`; finite.
    ks : sequence of int
        Values of ``k``, each dividing ``K``.

    Returns
    -------
    bounds : numpy.ndarray of shape (len(ks), n)
        The block-averaged ``L_k`` of each image.
    standard_errors : numpy.ndarray of shape (len(ks),)
        Standard error of the mean of ``bounds[j]`` over the images (sample standard
        deviation over images / sqrt(n)); NaN for a single image.
    """
    log_w = check_array(log_weights, "log_weights", ndim=(2,), min_len=1, dtype=np.float64,
                        finite=True, noun="image", value_noun="value",
                        layout="(n, K): n images, K weights each", fix=DIVERGED_FIX)
    total = log_w.shape[1]
    if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
        raise TypeError(f"expected ks to be a sequence of ints, got {type(ks).__name__}, "
                        f"fix: pass e.g. (1, 10, 100).")
    ks = [check_positive_int(k, "k") for k in ks]
    if not ks:
        raise ValueError("expected at least one k, got an empty sequence, fix: pass e.g. (1,).")
    bounds = []
    for k in ks:
        if total % k:
            raise ValueError(f"expected every k to divide the number of weights per image "
                             f"({total}), got k={k}, fix: draw a multiple of {k} weights.")
        blocks = log_w.reshape(len(log_w), total // k, k)
        bounds.append(log_mean_exp(blocks).mean(axis=1))
    bounds = np.stack(bounds)
    n = bounds.shape[1]
    errors = (bounds.std(axis=1, ddof=1) / math.sqrt(n) if n > 1
              else np.full(len(ks), np.nan))
    return bounds, errors


def importance_weighted_bound(vae: keras.Model, images: ArrayLike, k: int = 100, *,
                              sigma: float | None = None, seed: int = 0,
                              chunk_rows: int = 8192) -> np.ndarray:
    """Importance-weighted lower bound on ``log p(x)`` of each image (Burda et al., 2015).

    With ``z_1..z_k`` drawn from the encoder's ``q(z|x)``,

    ``L_k(x) = log (1/k) sum_i exp[log p(x|z_i) + log p(z_i) - log q(z_i|x)]``.

    ``L_1`` is a one-sample estimate of the ELBO; the expected value of ``L_k``
    never decreases with ``k`` and tends to ``log p(x)``. The VAE's ``reduction``
    option is ignored: ``log p(x|z)`` is the full density, summed over pixels.
    The weights come from :func:`log_importance_weights` (same arguments).

    Parameters
    ----------
    vae : course_utils.vae.VAE
        A VAE (any likelihood).
    images : array_like of shape (n, 28, 28, 1)
        At least one image, finite pixel values in [0, 1] (the shape follows
        ``vae.image_shape``); checked before anything runs.
    k : int
        Importance samples per image; k decoder passes per image.
    sigma : float or None
        None: the VAE's own likelihood (Bernoulli, or Gaussian with its sigma).
        A positive number: score every model with the same kind of density, a
        Gaussian ``N(x; sigmoid(logits), sigma**2 I)``, whatever it was trained with.
    seed : int
        Seed of the NumPy generator that draws the noise (same seed, same bound).
    chunk_rows : int
        At most this many decoder rows (images times ``k``) per call; the result does
        not depend on it.

    Returns
    -------
    numpy.ndarray of shape (n,)
        ``L_k`` of each image, in nats (float64). Under a Gaussian, ``log p(x)`` is a
        log-density and may be positive.
    """
    log_w = log_importance_weights(vae, images, k, sigma=sigma, seed=seed,
                                   chunk_rows=chunk_rows)
    return log_mean_exp(log_w)
