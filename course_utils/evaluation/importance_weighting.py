"""The importance-weighted (IWAE) lower bound on ``log p(x)`` of a trained VAE.

* :func:`importance_weighted_bound`: ``L_k`` of a trained
  :class:`~course_utils.models.vae.VAE`, under its own likelihood or under a Gaussian
  with a ``sigma`` of your choice, so that models trained with different losses can be
  scored on the same data with the same density;
* :func:`log_importance_weights` and :func:`bounds_by_k`: the weights behind that
  bound, and ``L_k`` for every ``k`` dividing their number, with standard errors, to
  see whether the bound has converged in ``k``;
* :func:`log_mean_exp`: the numerically stable ``log(mean(exp(values)))`` they use;
* :func:`scoring_nll`: the one place where decoder logits become ``-log p(x|z)``.

Pure functions compute in float64 NumPy; all logarithms are natural (nats).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
from keras import ops
from numpy.typing import ArrayLike

from course_utils._validation import (
    DIVERGED_FIX,
    check_array,
    check_positive_int,
    check_positive_number,
)
from course_utils.elbo.losses import LOG_2PI, TensorLike, gaussian_nll
from course_utils.models.vae import VAE, as_model_images

__all__ = [
    "importance_weighted_bound",
    "log_importance_weights",
    "bounds_by_k",
    "log_mean_exp",
    "scoring_nll",
    "scoring_log_sigma",
]


def scoring_log_sigma(sigma: float | None) -> float | None:
    """``log(sigma)`` of the scoring Gaussian, or None for the VAE's own likelihood.

    Raises ``TypeError``/``ValueError`` unless ``sigma`` is None or a positive finite
    number.
    """
    if sigma is None:
        return None
    return math.log(check_positive_number(sigma, "sigma", example="0.1"))


def scoring_nll(vae: VAE, images: TensorLike, logits: TensorLike, *,
                log_sigma: float | None = None) -> TensorLike:
    """``-log p(x|z)`` per image, under the VAE's own likelihood or one common Gaussian.

    The one place where the importance-weighted bounds of this module and of
    :mod:`course_utils.evaluation.inference_gaps` turn decoder logits into a log-likelihood.
    Backend ops only, so it also runs inside ``tf.function``.

    Parameters
    ----------
    vae : course_utils.models.vae.VAE
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


def log_importance_weights(vae: VAE, images: ArrayLike, k: int = 100, *,
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
    vae : course_utils.models.vae.VAE
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
    k = check_positive_int(k, "k")
    seed = check_positive_int(seed, "seed", minimum=0)
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    log_sigma = scoring_log_sigma(sigma)
    x_all = as_model_images(vae, images, "images")
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
        log_prior = -0.5 * np.sum(z**2 + LOG_2PI, axis=-1)             # (k, n)
        log_q = -0.5 * np.sum(eps**2 + z_log_var + LOG_2PI, axis=-1)   # (k, n)
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
        raise ValueError(f"values must hold at least one value along axis {axis}; got shape "
                         f"{array.shape}. Pass e.g. log weights of shape (n, k).")
    top = np.max(array, axis=axis, keepdims=True)
    result = top + np.log(np.mean(np.exp(array - top), axis=axis, keepdims=True))
    return np.squeeze(result, axis=axis)


def bounds_by_k(log_weights: ArrayLike, ks: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
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
        raise TypeError(f"ks must be a sequence of ints; got {type(ks).__name__}. Pass e.g. "
                        "(1, 10, 100).")
    ks = [check_positive_int(k, "k") for k in ks]
    if not ks:
        raise ValueError("ks must hold at least one k; got an empty sequence. Pass e.g. (1,).")
    rows = []
    for k in ks:
        if total % k:
            raise ValueError(f"every k must divide the number of weights per image "
                             f"({total}); got k={k}. Draw a multiple of {k} weights.")
        blocks = log_w.reshape(len(log_w), total // k, k)
        rows.append(log_mean_exp(blocks).mean(axis=1))
    bounds = np.stack(rows)
    n = bounds.shape[1]
    errors = (bounds.std(axis=1, ddof=1) / math.sqrt(n) if n > 1
              else np.full(len(ks), np.nan))
    return bounds, errors


def importance_weighted_bound(vae: VAE, images: ArrayLike, k: int = 100, *,
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
    vae, images, k, sigma, seed, chunk_rows
        As in :func:`log_importance_weights`; the same seed gives the same bound.

    Returns
    -------
    numpy.ndarray of shape (n,)
        ``L_k`` of each image, in nats (float64). Under a Gaussian, ``log p(x)`` is a
        log-density and may be positive.
    """
    log_w = log_importance_weights(vae, images, k, sigma=sigma, seed=seed,
                                   chunk_rows=chunk_rows)
    return log_mean_exp(log_w)
