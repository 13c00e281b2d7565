"""The terms of the (negative) ELBO as tensor functions, written with ``keras.ops``.

Every function works eagerly on NumPy arrays and on TensorFlow tensors, and inside a
``tf.function`` (a Keras ``train_step``) on symbolic tensors. Input checks use static
shapes only: a dimension that is unknown when the graph is traced (``None``, usually
the batch size) is not checked. Targets ``x`` given as NumPy arrays are also checked
for NaN and infinite values (and, for the Bernoulli terms, values outside [0, 1]).

Conventions used throughout the course:

* the reconstruction term is SUMMED over the pixels of an image,
* the KL term is SUMMED over the latent dimensions,
* both are then AVERAGED over the batch (:func:`negative_elbo`).

The per-example functions return shape ``(batch,)``. Floating inputs keep their dtype
(float64 stays float64); integer inputs are cast to ``keras.config.floatx()``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from course_utils._validation import PIXEL_RANGE, check_array

__all__ = [
    "kl_divergence_standard_normal",
    "bernoulli_nll_from_logits",
    "gaussian_nll",
    "negative_elbo",
    "LOG_2PI",
]

#: ``log(2 pi)``, the constant of every Gaussian log-density in the course.
LOG_2PI = math.log(2.0 * math.pi)

#: A NumPy array, a backend tensor (eager or symbolic) or a Python number.
TensorLike = Any


# --------------------------------------------------------------------------- checks


def _to_tensor(value: TensorLike, name: str) -> TensorLike:
    """Convert ``value`` to a tensor, refusing strings, objects and complex numbers."""
    try:
        tensor = ops.convert_to_tensor(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array or tensor; got "
                        f"{type(value).__name__}. Pass a NumPy array or a tensor of "
                        "floats.") from error
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if not (dtype.startswith(("float", "int", "uint", "bfloat")) or dtype == "bool"):
        raise TypeError(f"{name} must hold real numbers; got dtype {dtype}. Convert it "
                        "with np.asarray(..., dtype='float32').")
    return tensor


def _check_data_targets(value: TensorLike, *, pixels: bool) -> None:
    """Refuse NaN or infinite targets ``x`` (and, for ``pixels``, values outside [0, 1]).

    Only targets given as data (NumPy arrays, lists, numbers) are checked: a tensor's
    values are unknown inside a traced training step, and :class:`~course_utils.models.vae.VAE`
    checks its images before it trains or evaluates.
    """
    if ops.is_tensor(value) or isinstance(value, keras.KerasTensor):
        return
    check_array(value, "x", dtype=np.float64, finite=True,
                value_range=PIXEL_RANGE if pixels else None,
                value_noun="pixel" if pixels else "value")


def _common_float(*tensors: TensorLike) -> tuple[TensorLike, ...]:
    """Cast tensors to one floating dtype: their common float dtype, else floatx."""
    dtypes = [keras.backend.standardize_dtype(t.dtype) for t in tensors]
    floats = [d for d in dtypes if keras.backend.is_float_dtype(d)]
    dtype = keras.backend.result_type(*floats) if floats else keras.config.floatx()
    return tuple(ops.cast(t, dtype) for t in tensors)


def _static_shape(tensor: TensorLike, name: str) -> tuple:
    """Static shape as a tuple of ints and ``None``; the rank itself must be known."""
    shape = tensor.shape
    try:
        return tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must have a known number of dimensions; got unknown "
                         "rank. Give the input a static rank (e.g. "
                         "keras.Input(shape=...)).") from error


def _same_shape(shape_a: tuple, shape_b: tuple) -> bool:
    """True when two static shapes agree wherever both dimensions are known."""
    return len(shape_a) == len(shape_b) and all(
        a is None or b is None or a == b for a, b in zip(shape_a, shape_b, strict=False))


def _check_batch(shape: tuple, name: str, *, ndim: int | None = None) -> None:
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name} must have shape (batch, latent_dim); got shape {shape}. "
                         "Pass one row per example, e.g. x[None, :] for one example.")
    if len(shape) < 2:
        raise ValueError(f"{name} must have shape (batch, ...) with at least one axis after "
                         f"the batch axis; got shape {shape}. Add a batch axis, e.g. "
                         "x[None, ...].")


def _check_same_shape(shape_a: tuple, name_a: str, shape_b: tuple, name_b: str) -> None:
    if not _same_shape(shape_a, shape_b):
        raise ValueError(f"{name_a} and {name_b} must have the same shape; got {shape_a} "
                         f"and {shape_b}. Make the decoder/encoder output match (reshape "
                         "one of them).")


def _check_broadcastable(shape: tuple, name: str, target: tuple, target_name: str) -> None:
    """``shape`` must broadcast to ``target`` without enlarging it."""
    fits = len(shape) <= len(target) and all(
        s is None or s == 1 or t is None or s == t
        for s, t in zip(reversed(shape), reversed(target), strict=False))
    if not fits:
        raise ValueError(f"{name} must be a scalar or broadcast to {target_name} shape "
                         f"{target}; got shape {shape}. Use a scalar, a shape (1, ...) or "
                         f"the shape of {target_name}.")


def _sum_over_non_batch_axes(values: TensorLike, ndim: int) -> TensorLike:
    return ops.sum(values, axis=tuple(range(1, ndim)))


# ------------------------------------------------------------------------ the terms


def kl_divergence_standard_normal(z_mean: TensorLike, z_log_var: TensorLike) -> TensorLike:
    """KL( N(z_mean, diag(exp(z_log_var))) || N(0, I) ) per example, summed over latents.

    Closed form: ``-0.5 * sum(1 + log_var - mean**2 - exp(log_var))``. It is evaluated
    as the equal expression ``0.5 * sum(mean**2 + (expm1(log_var) - log_var))``: both
    terms are >= 0 (``expm1(v) >= v``), so round-off cannot make the result negative,
    and it is exactly 0 at ``mean = 0, log_var = 0``.

    Parameters
    ----------
    z_mean : array or tensor, shape (batch, latent_dim)
        Means of the approximate posterior.
    z_log_var : array or tensor, shape (batch, latent_dim)
        Log-variances of the approximate posterior (natural log).

    Returns
    -------
    tensor, shape (batch,)
        The KL divergence of each example, in nats.

    Raises
    ------
    TypeError
        If an input is not numeric.
    ValueError
        If an input is not 2-D or the two shapes differ.
    """
    z_mean = _to_tensor(z_mean, "z_mean")
    z_log_var = _to_tensor(z_log_var, "z_log_var")
    mean_shape = _static_shape(z_mean, "z_mean")
    log_var_shape = _static_shape(z_log_var, "z_log_var")
    _check_batch(mean_shape, "z_mean", ndim=2)
    _check_batch(log_var_shape, "z_log_var", ndim=2)
    _check_same_shape(mean_shape, "z_mean", log_var_shape, "z_log_var")
    z_mean, z_log_var = _common_float(z_mean, z_log_var)
    per_dim = ops.square(z_mean) + (ops.expm1(z_log_var) - z_log_var)
    return 0.5 * ops.sum(per_dim, axis=-1)


def bernoulli_nll_from_logits(x: TensorLike, logits: TensorLike) -> TensorLike:
    """Negative log-likelihood of a Bernoulli decoder, from logits, summed over pixels.

    Per pixel this is the binary cross-entropy ``-(x log p + (1 - x) log(1 - p))`` with
    ``p = sigmoid(logits)``, evaluated in the overflow-free form
    ``max(l, 0) - l * x + log(1 + exp(-|l|))``. ``x`` may be grey levels in [0, 1].

    Parameters
    ----------
    x : array or tensor, shape (batch, ...)
        Targets, e.g. images of shape (batch, 28, 28, 1) with values in [0, 1].
    logits : array or tensor, same shape as ``x``
        Decoder outputs before the sigmoid.

    Returns
    -------
    tensor, shape (batch,)
        The negative log-likelihood of each example, summed over all non-batch axes.

    Raises
    ------
    TypeError
        If an input is not numeric.
    ValueError
        If ``x`` has no batch axis or the shapes of ``x`` and ``logits`` differ, or if
        ``x`` given as a NumPy array holds NaN, infinite or out-of-[0, 1] values.
    """
    targets, x = x, _to_tensor(x, "x")
    _check_data_targets(targets, pixels=True)
    logits = _to_tensor(logits, "logits")
    x_shape = _static_shape(x, "x")
    _check_batch(x_shape, "x")
    _check_same_shape(x_shape, "x", _static_shape(logits, "logits"), "logits")
    x, logits = _common_float(x, logits)
    per_pixel = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    return _sum_over_non_batch_axes(per_pixel, len(x_shape))


def gaussian_nll(x: TensorLike, mean: TensorLike, log_sigma: TensorLike) -> TensorLike:
    """``-log N(x; mean, sigma**2 I)`` per example, summed over all non-batch axes.

    With one ``sigma`` for all ``D`` pixels this is
    ``sum((x - mean)**2) / (2 sigma**2) + (D / 2) * log(2 pi sigma**2)``. With
    ``sigma**2 = D / 2`` the first term is the per-pixel mean squared error, which is
    why a mean-MSE loss is a Gaussian decoder with that (fixed) variance.

    Parameters
    ----------
    x : array or tensor, shape (batch, ...)
        Targets, e.g. images of shape (batch, 28, 28, 1).
    mean : array or tensor, same shape as ``x``
        Decoder means.
    log_sigma : float, array or tensor, broadcastable to the shape of ``x``
        Natural log of the standard deviation: a scalar (one sigma, possibly a learned
        weight), shape ``(1, ...)`` (one per pixel) or the shape of ``x``.

    Returns
    -------
    tensor, shape (batch,)
        The negative log-likelihood of each example, in nats.

    Raises
    ------
    TypeError
        If an input is not numeric.
    ValueError
        If ``x`` has no batch axis, ``mean`` differs in shape from ``x``,
        ``log_sigma`` does not broadcast to the shape of ``x``, or ``x`` given as a
        NumPy array holds NaN or infinite values.
    """
    targets, x = x, _to_tensor(x, "x")
    _check_data_targets(targets, pixels=False)
    mean = _to_tensor(mean, "mean")
    number = log_sigma if isinstance(log_sigma, (int, float)) else None
    log_sigma = _to_tensor(log_sigma, "log_sigma")
    x_shape = _static_shape(x, "x")
    _check_batch(x_shape, "x")
    _check_same_shape(x_shape, "x", _static_shape(mean, "mean"), "mean")
    _check_broadcastable(_static_shape(log_sigma, "log_sigma"), "log_sigma", x_shape, "x")
    if number is not None:  # a Python number takes the dtype of the data, not float32
        x, mean = _common_float(x, mean)
        log_sigma = ops.convert_to_tensor(float(number), dtype=x.dtype)
    else:
        x, mean, log_sigma = _common_float(x, mean, log_sigma)
    squared_error = ops.square(x - mean)
    per_pixel = 0.5 * squared_error * ops.exp(-2.0 * log_sigma) + log_sigma + 0.5 * LOG_2PI
    return _sum_over_non_batch_axes(per_pixel, len(x_shape))


def negative_elbo(x: TensorLike, logits: TensorLike, z_mean: TensorLike,
                  z_log_var: TensorLike) -> dict[str, TensorLike]:
    """Negative ELBO of a VAE with a Bernoulli decoder, averaged over the batch.

    Parameters
    ----------
    x : array or tensor, shape (batch, ...)
        Images with values in [0, 1], e.g. (batch, 28, 28, 1).
    logits : array or tensor, same shape as ``x``
        Decoder logits for one sample ``z`` per image.
    z_mean, z_log_var : array or tensor, shape (batch, latent_dim)
        Encoder outputs: the Gaussian approximate posterior.

    Returns
    -------
    dict of str to scalar tensor
        ``"reconstruction_loss"``: batch mean of :func:`bernoulli_nll_from_logits`;
        ``"kl_loss"``: batch mean of :func:`kl_divergence_standard_normal`;
        ``"loss"``: their sum (so the three always add up exactly).

    Raises
    ------
    TypeError
        If an input is not numeric.
    ValueError
        If a shape is wrong, the batch sizes of ``x`` and ``z_mean`` differ, or ``x``
        given as a NumPy array is not finite pixels in [0, 1].
    """
    reconstruction = bernoulli_nll_from_logits(x, logits)
    kl = kl_divergence_standard_normal(z_mean, z_log_var)
    batch_x, batch_z = reconstruction.shape[0], kl.shape[0]
    if batch_x is not None and batch_z is not None and batch_x != batch_z:
        raise ValueError(f"x and z_mean must have the same batch size; got {batch_x} and "
                         f"{batch_z}. Encode and decode the same batch.")
    reconstruction_loss = ops.mean(reconstruction)
    kl_loss = ops.mean(kl)
    reconstruction_loss, kl_loss = _common_float(reconstruction_loss, kl_loss)
    return {
        "loss": reconstruction_loss + kl_loss,
        "reconstruction_loss": reconstruction_loss,
        "kl_loss": kl_loss,
    }
