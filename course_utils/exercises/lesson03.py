"""Exercises for lesson 03 (the dense VAE in Keras 3).

* ``q1``: find the bug in a VAE loss that averages the reconstruction over the pixels.
* ``q2``: find the bug in a decoder that ends in a sigmoid, used with a loss that
  expects logits (the sigmoid is applied twice).
* ``q3``: the KL weight that averaging the reconstruction over the pixels implies.

Each checker runs the answer on its own fixed inputs, compares it with the reference,
and recognises the typical mistakes, saying what is wrong without giving the code away.
"""

from __future__ import annotations

import math
from typing import Callable

import keras
import numpy as np
from keras import layers, ops
from numpy.typing import ArrayLike

from course_utils import likelihoods, losses, models, vae
from course_utils.exercises.core import CheckFailed, Exercise, expect

__all__ = [
    "q1",
    "q2",
    "q3",
    "vae_loss",
    "logits_decoder",
    "implied_kl_weight",
    "buggy_vae_loss",
    "buggy_decoder",
]

#: Pixels of one MNIST image.
PIXELS = 28 * 28

# Loose enough for an answer computed in float32 with Keras, far tighter than any of
# the mistakes the checkers look for.
_RTOL, _ATOL = 1e-4, 1e-6


def _close(a: object, b: object) -> bool:
    return bool(np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                            rtol=_RTOL, atol=_ATOL))


def _as_float_array(value: object, what: str) -> np.ndarray:
    """The learner's result as a float64 array, or advice if it is not numeric."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = ops.convert_to_numpy(value)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"Your function returned {type(value).__name__}, not numbers: "
                          f"return {what}.") from None


# ------------------------------------------------------------------ reference formulas

def _bce_from_logits(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Per-pixel binary cross-entropy from logits, overflow-free; same shape as ``x``."""
    return np.maximum(logits, 0.0) - logits * x + np.log1p(np.exp(-np.abs(logits)))


def _bce_from_probabilities(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-pixel binary cross-entropy of probabilities, clipped like Keras does."""
    p = np.clip(p, 1e-7, 1.0 - 1e-7)
    return -(x * np.log(p) + (1.0 - x) * np.log(1.0 - p))


def _per_image(values: np.ndarray) -> np.ndarray:
    return values.reshape(len(values), -1).sum(axis=1)


def _kl_per_image(z_mean: np.ndarray, z_log_var: np.ndarray) -> np.ndarray:
    return -0.5 * np.sum(1.0 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)


# --- 3.1 find the bug: the reconstruction averaged over pixels ---------------------------

def buggy_vae_loss(x: ArrayLike, logits: ArrayLike, z_mean: ArrayLike,
                   z_log_var: ArrayLike) -> float:
    """A VAE loss with the classic bug: the reconstruction is a mean over the pixels.

    Parameters
    ----------
    x : array_like, shape (batch, 28, 28, 1)
        Images with values in [0, 1].
    logits : array_like, shape (batch, 28, 28, 1)
        Decoder logits for one sampled code per image.
    z_mean, z_log_var : array_like, shape (batch, latent_dim)
        Encoder outputs.

    Returns
    -------
    float
        What this loss reports for the batch (not a negative ELBO).
    """
    batch = len(x)
    reconstruction = keras.losses.binary_crossentropy(
        ops.reshape(x, (batch, -1)), ops.reshape(logits, (batch, -1)), from_logits=True)
    kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
    return float(ops.convert_to_numpy(ops.mean(reconstruction + kl)))


def vae_loss(x: ArrayLike, logits: ArrayLike, z_mean: ArrayLike, z_log_var: ArrayLike) -> float:
    """The negative ELBO of a batch, in nats per image.

    Per image: the binary cross-entropy of the pixels given the logits, summed over the
    pixels, plus the KL divergence of N(z_mean, diag(exp(z_log_var))) from N(0, I),
    summed over the latent dimensions. The batch's loss is the mean over its images.

    Parameters
    ----------
    x : array_like, shape (batch, 28, 28, 1)
        Images with values in [0, 1].
    logits : array_like, shape (batch, 28, 28, 1)
        Decoder logits for one sampled code per image.
    z_mean, z_log_var : array_like, shape (batch, latent_dim)
        Encoder outputs.

    Returns
    -------
    float
        The batch mean of the per-image negative ELBO.
    """
    x = np.asarray(x, dtype=np.float64)
    logits = np.asarray(logits, dtype=np.float64)
    z_mean = np.asarray(z_mean, dtype=np.float64)
    z_log_var = np.asarray(z_log_var, dtype=np.float64)
    per_pixel = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    reconstruction = per_pixel.reshape(len(x), -1).sum(axis=1)
    kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)
    return float(np.mean(reconstruction + kl))


def _loss_inputs(seed: int, batch: int, latent_dim: int) -> tuple[np.ndarray, ...]:
    """MNIST-like images (many pixels exactly 0 or 1, some grey), logits and codes."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(0.2, 0.6, size=(batch, 28, 28, 1)), 0.0, 1.0)
    logits = rng.normal(scale=2.0, size=x.shape)
    z_mean = rng.normal(scale=1.2, size=(batch, latent_dim))
    z_log_var = rng.normal(scale=0.8, size=(batch, latent_dim))
    return tuple(a.astype(np.float32) for a in (x, logits, z_mean, z_log_var))


def _loss_value(answer: Callable, inputs: tuple[np.ndarray, ...]) -> float:
    """Run the learner's loss; refuse anything that is not one finite number."""
    batch = len(inputs[0])
    got = _as_float_array(answer(*(a.copy() for a in inputs)), "one number")
    expect(got.shape != (batch,),
           f"Your function returns one number per image, shape ({batch},). A training loss "
           "is one number for the whole batch: reduce over the images too.")
    expect(got.size == 1,
           f"Expected one number for the batch; got an array of shape {got.shape}. Reduce "
           "each image to one number, then the batch to one number.")
    value = float(got.reshape(()))
    expect(math.isfinite(value),
           "Your loss is NaN or infinite on these inputs. Logits can be any real number, "
           "large negative ones too: do you take the log of something that can be 0 or "
           "negative?")
    return value


_PIXEL_MEAN_ADVICE = (
    "Your reconstruction term is 784 times too small: it is the average of the pixels' "
    "cross-entropies instead of their total. Given z, the decoder treats the 784 pixels "
    "as independent, so the log-likelihood of an image is the SUM of the pixels' "
    "log-likelihoods. Averaging over pixels quietly makes the KL term 784 times heavier.")


_AS_PROBABILITIES_ADVICE = (
    "Your reconstruction term treats the logits as if they were probabilities. Logits are "
    "any real numbers; the pixel probabilities are their sigmoid.")
_AS_PROBABILITIES_MEAN_ADVICE = (
    "Two problems in the reconstruction term: it treats the logits as probabilities (they "
    "are any real numbers; the probabilities are their sigmoid), and it averages over the "
    "pixels instead of summing.")


def _keras_bce_per_pixel(x: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Keras' binary cross-entropy of each pixel, ``outputs`` taken as probabilities.

    Keras clips the probabilities and adds a small epsilon inside the logarithms, so
    this reproduces a learner's Keras call exactly; shape (batch, pixels).
    """
    batch = len(x)
    values = keras.losses.binary_crossentropy(np.reshape(x, (batch, -1, 1)),
                                              np.reshape(outputs, (batch, -1, 1)))
    return ops.convert_to_numpy(values).astype(np.float64)


def _loss_mistakes(inputs: tuple[np.ndarray, ...]) -> list[tuple[float, str]]:
    """Values of typical wrong losses on ``inputs``, each with advice."""
    x, logits, z_mean, z_log_var = (a.astype(np.float64) for a in inputs)
    latent_dim = z_mean.shape[1]
    rec = _per_image(_bce_from_logits(x, logits))
    kl = _kl_per_image(z_mean, z_log_var)
    keras_as_probabilities = _keras_bce_per_pixel(*inputs[:2]).sum(axis=1)
    as_probabilities = _per_image(_bce_from_probabilities(x, logits))
    sigmoid = 1.0 / (1.0 + np.exp(-logits))
    double_sigmoid = _per_image(_bce_from_logits(x, sigmoid))
    return [
        (np.mean(rec / PIXELS + kl), _PIXEL_MEAN_ADVICE),
        (np.mean(rec / PIXELS + kl / latent_dim),
         "Both terms are averaged instead of summed: the reconstruction over the 784 "
         f"pixels and the KL over the {latent_dim} latent dimensions. Each term of the "
         "per-image negative ELBO is a total over its own axis; only the batch is averaged."),
        (np.mean(rec + kl / latent_dim),
         f"The reconstruction is right, but your KL term is divided by the number of latent "
         f"dimensions ({latent_dim} here): it is averaged over them instead of summed. The "
         "KL of independent dimensions is the total of their KLs."),
        (np.mean(rec + PIXELS * kl),
         "You scaled the whole loss, KL term included, so it is still the buggy loss, just "
         "784 times larger: the KL still weighs 784 times more than in the negative ELBO. "
         "Only the reconstruction term is too small."),
        (np.sum(rec + kl),
         f"Your loss is {len(x)} times too large: it adds up the images of the batch. Use "
         "the per-image average, so that the loss does not depend on the batch size."),
        (np.mean(rec), "Your loss has no KL term (or it comes out as zero)."),
        (np.mean(kl), "Your loss has no reconstruction term."),
        (-np.mean(rec + kl),
         "That is the ELBO itself, which training maximises. The loss to minimise is the "
         "negative ELBO: check the overall sign."),
        (np.mean(rec - kl),
         "The KL term has the wrong sign: it is a penalty, so it must add to the loss."),
        (np.mean(double_sigmoid + kl),
         "Your reconstruction term applies the sigmoid twice: the logits are turned into "
         "probabilities and then treated as logits again. Apply the sigmoid once, or use a "
         "formula that starts from the logits."),
        (np.mean(double_sigmoid / PIXELS + kl),
         "Two problems in the reconstruction term: the sigmoid is applied twice (the logits "
         "become probabilities and are then treated as logits again), and the pixels are "
         "averaged instead of summed."),
        (np.mean(keras_as_probabilities + kl), _AS_PROBABILITIES_ADVICE),
        (np.mean(keras_as_probabilities / PIXELS + kl), _AS_PROBABILITIES_MEAN_ADVICE),
        (np.mean(as_probabilities + kl),
         _AS_PROBABILITIES_ADVICE),
        (np.mean(as_probabilities / PIXELS + kl), _AS_PROBABILITIES_MEAN_ADVICE),
    ]


def _check_vae_loss(answer: Callable) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q1.check(my_vae_loss).")
    inputs = _loss_inputs(41, batch=6, latent_dim=3)
    got = _loss_value(answer, inputs)
    if _close(got, vae_loss(*inputs)):
        other = _loss_inputs(42, batch=10, latent_dim=5)
        other_got = _loss_value(answer, other)
        expect(_close(other_got, vae_loss(*other)),
               "Right for one batch, wrong for another of 10 images with 5 latent "
               "dimensions: does your function assume a batch size or a latent size?")
        return
    for wrong, advice in _loss_mistakes(inputs):
        if _close(got, wrong):
            raise CheckFailed(advice)
    # Mixed mistakes: with z_mean = z_log_var = 0 the KL is exactly 0, which separates
    # the learner's reconstruction term from their KL term.
    x, logits, z_mean, z_log_var = inputs
    zeros = np.zeros_like(z_mean)
    reconstruction = _loss_value(answer, (x, logits, zeros, zeros.copy()))
    kl = got - reconstruction
    rec_want = vae_loss(x, logits, zeros, zeros)
    kl_want = float(np.mean(_kl_per_image(z_mean.astype(np.float64),
                                          z_log_var.astype(np.float64))))
    if _close(reconstruction, rec_want / PIXELS):
        raise CheckFailed(_PIXEL_MEAN_ADVICE + " (Your KL term needs a second look too.)"
                          if not _close(kl, kl_want) else _PIXEL_MEAN_ADVICE)
    if _close(reconstruction, rec_want):
        raise CheckFailed("Your reconstruction term is right, but the KL term is not. "
                          "Compare it with the closed form from lesson 02, summed over the "
                          "latent dimensions and averaged over the batch.")
    if np.isclose(kl, kl_want, rtol=1e-3):
        raise CheckFailed("Your KL term is right, but the reconstruction term is not. Per "
                          "pixel it is the binary cross-entropy of the image given the "
                          "logits; per image, the total over the pixels.")
    raise CheckFailed("Neither term matches. Compute, for each image, the reconstruction "
                      "term (binary cross-entropy from the logits, over all pixels) and the "
                      "KL term (over all latent dimensions), add them, and average over "
                      "the batch.")


q1 = Exercise(
    "Exercise 3.1: find the bug in a VAE loss",
    _check_vae_loss,
    vae_loss,
    hints=(
        "keras.losses.binary_crossentropy reduces its last axis with a MEAN. After "
        "flattening the images, that axis holds the 784 pixels. What should happen to the "
        "pixels of one image in a negative log-likelihood?",
        "Either multiply the per-image mean by the number of pixels, or compute the "
        "per-pixel cross-entropies (shape (batch, 784)) and sum them over axis 1. The KL "
        "line and the batch mean are already right.",
    ),
    forbidden=(losses.negative_elbo, losses.bernoulli_nll_from_logits,
               vae.VAE.reconstruction_nll),
)


# --- 3.2 find the bug: a decoder that ends in a sigmoid ---------------------------------

def buggy_decoder(latent_dim: int) -> keras.Model:
    """A dense decoder that ends in a sigmoid: wrong for a loss that expects logits.

    Parameters
    ----------
    latent_dim : int
        Size of the code.

    Returns
    -------
    keras.Model
        Input ``(batch, latent_dim)``, output ``(batch, 28, 28, 1)`` in (0, 1).
    """
    z = keras.Input(shape=(latent_dim,))
    h = layers.Dense(256, activation="relu")(z)
    h = layers.Dense(512, activation="relu")(h)
    pixels = layers.Dense(28 * 28, activation="sigmoid")(h)
    return keras.Model(z, layers.Reshape((28, 28, 1))(pixels))


def logits_decoder(latent_dim: int) -> keras.Model:
    """The dense decoder of the lesson: code -> 256 -> 512 -> 784 pixel logits.

    Parameters
    ----------
    latent_dim : int
        Size of the code.

    Returns
    -------
    keras.Model
        Input ``(batch, latent_dim)``; output ``(batch, 28, 28, 1)``: logits, any real
        numbers, for a loss that applies the sigmoid itself.
    """
    z = keras.Input(shape=(latent_dim,))
    h = layers.Dense(256, activation="relu")(z)
    h = layers.Dense(512, activation="relu")(h)
    logits = layers.Dense(28 * 28)(h)
    return keras.Model(z, layers.Reshape((28, 28, 1))(logits))


def _last_activation(model: keras.Model) -> str | None:
    """Name of the activation of the last layer that has one (None if none has)."""
    for layer in reversed(model.layers):
        activation = getattr(layer, "activation", None)
        if activation is not None:
            return getattr(activation, "__name__", type(activation).__name__)
    return None


_DOUBLE_SIGMOID_ADVICE = (
    "Your decoder still ends in a sigmoid, so it outputs probabilities in (0, 1). The "
    "loss treats its outputs as logits and applies a sigmoid of its own, so every pixel "
    "probability is squeezed into (0.5, 0.73): no pixel can ever be confidently black.")
_RELU_ADVICE = (
    "Your decoder ends in a ReLU, so its outputs are never negative. A negative logit is "
    "how a decoder says 'this pixel is probably black' (probability below one half), and "
    "most MNIST pixels are black.")


def _check_output_range(outputs: np.ndarray) -> None:
    """Advice when a decoder's outputs on large codes look bounded like an activation's."""
    if outputs.min() >= 0.0 and outputs.max() <= 1.0:
        raise CheckFailed("Your decoder's outputs all lie in [0, 1], even for codes far from "
                          "0: they look like probabilities, not logits. "
                          + _DOUBLE_SIGMOID_ADVICE.split(". ", 1)[1])
    if outputs.min() >= 0.0:
        raise CheckFailed(_RELU_ADVICE)
    if outputs.min() >= -1.0 and outputs.max() <= 1.0:
        raise CheckFailed("Your decoder's outputs stay within [-1, 1], even for codes far "
                          "from 0, so no pixel probability can leave (0.27, 0.73). Logits "
                          "must be able to take any real value.")


def _check_logits_decoder(answer: Callable) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q2.check(my_decoder).")
    from course_utils.models import build_dense_encoder
    from course_utils.vae import VAE

    for latent_dim in (2, 5):
        model = answer(latent_dim)
        expect(isinstance(model, keras.Model),
               f"Your function returned {type(model).__name__}; return the keras.Model "
               "that you built.")
        try:
            input_shapes = [tuple(t.shape) for t in model.inputs]
        except (AttributeError, ValueError):
            raise CheckFailed("Your model has no defined input yet. Start it with "
                              "keras.Input(shape=...), so that its shapes are known.") from None
        expect(input_shapes == [(None, latent_dim)],
               f"For latent_dim={latent_dim} your decoder's input has shape "
               f"{input_shapes}; it should take one code of {latent_dim} numbers per "
               f"image, shape (None, {latent_dim}).")
        output_shapes = [tuple(t.shape) for t in model.outputs]
        expect(output_shapes == [(None, 28, 28, 1)],
               f"Your decoder's output has shape {output_shapes}; it should output images "
               "of shape (None, 28, 28, 1), like the VAE's input.")
    expected_count = logits_decoder(2).count_params()
    count = answer(2).count_params()
    expect(count == expected_count,
           f"Your decoder has {count:,} parameters; the lesson's has {expected_count:,}: "
           "two hidden layers of 256 and 512 units, then one value per pixel.")
    model = answer(2)
    activation = _last_activation(model)
    expect(activation != "sigmoid", _DOUBLE_SIGMOID_ADVICE)
    expect(activation != "relu", _RELU_ADVICE)
    expect(activation in (None, "linear"),
           f"Your output layer uses the activation {activation!r}. Logits must be able to "
           "take any real value, large or small, positive or negative.")
    rng = np.random.default_rng(43)
    z_a, z_b = rng.normal(size=(2, 64, 2)).astype(np.float32)
    outputs = ops.convert_to_numpy(model(30.0 * z_a, training=False))
    _check_output_range(outputs)

    def run(z: np.ndarray) -> np.ndarray:
        return ops.convert_to_numpy(model(z, training=False)).astype(np.float64)

    origin = np.zeros_like(z_a)
    outputs_a, outputs_b = run(z_a), run(z_b)
    affine_gap = outputs_a + outputs_b - run(origin) - run(z_a + z_b)
    # Relative to the outputs: for an affine decoder the gap is rounding, about 1e-7 of the
    # outputs (5e-4 with TF32 matrix products on a GPU); with ReLU, tanh or ELU layers it
    # is 0.07 to 0.5 of them.
    scale = np.max(np.abs(outputs_a)) + np.max(np.abs(outputs_b))
    expect(np.max(np.abs(affine_gap)) > 0.01 * scale,
           "Your decoder is a linear (affine) function of the code: its hidden layers need "
           "a non-linear activation, or the whole network is one matrix multiplication.")
    try:
        VAE(build_dense_encoder(2, gaussian=True), model)
    except ValueError as error:
        raise CheckFailed(f"The course's VAE class does not accept your decoder: {error}") \
            from None


q2 = Exercise(
    "Exercise 3.2: find the bug in a decoder",
    _check_logits_decoder,
    logits_decoder,
    hints=(
        "Which function turns the decoder's output into pixel probabilities, and where is "
        "it applied: in the decoder, in the loss, or (in the buggy version) in both?",
        "Keep the two hidden ReLU layers; the last Dense layer should have no activation "
        "at all, so that it outputs logits.",
    ),
    forbidden=(models.build_dense_decoder, vae.build_dense_vae),
)


# --- 3.3 the KL weight that a pixel mean implies ----------------------------------------

def implied_kl_weight(n_pixels: int, reconstruction_weight: float = 1.0) -> float:
    """The weight beta on the KL implied by a loss with a pixel-averaged reconstruction.

    The loss ``reconstruction_weight * mean_over_pixels(BCE) + KL`` is, up to a
    positive factor (which only rescales the learning rate), the loss
    ``sum_over_pixels(BCE) + beta * KL``.

    Parameters
    ----------
    n_pixels : int
        Number of values the reconstruction is averaged over (784 for MNIST).
    reconstruction_weight : float
        Factor in front of the averaged reconstruction term (1 if there is none).

    Returns
    -------
    float
        beta; 1 would be the negative ELBO.
    """
    return n_pixels / reconstruction_weight


_WEIGHT_CASES = ((784, 1.0), (1024, 500.0), (3072, 2000.0), (100, 4.0))


def _weight_mistakes() -> list[tuple[Callable[[int, float], float], str]]:
    return [
        (lambda n, w: w / n,
         "Your answer is upside down. Averaging makes the reconstruction term smaller, so "
         "relative to it the KL term weighs MORE than in the negative ELBO: for a plain "
         "pixel mean (weight 1) beta must be larger than 1."),
        (lambda n, w: n * w,
         "A weight in front of the averaged reconstruction makes the reconstruction count "
         "more, and so the KL relatively less: it should make beta smaller, not larger."),
        (lambda n, w: n,
         "Right when the reconstruction weight is 1, but your beta ignores the weight. "
         "Divide the whole loss by the weight and read off what multiplies the KL."),
        (lambda n, w: 1.0 / w,
         "Your beta ignores the number of pixels: averaging divides the summed "
         "reconstruction by it."),
        (lambda n, w: 1.0,
         "Averaging over pixels does change the balance between the two terms: beta = 1 "
         "only for the summed reconstruction."),
        (lambda n, w: math.sqrt(n) / w,
         "A mean over an image averages over all of its pixels (28 x 28 = 784 for MNIST), "
         "not over one side of it."),
    ]


def _check_implied_kl_weight(answer: Callable) -> None:
    expect(callable(answer),
           "Pass your function itself, e.g. ex.q3.check(my_implied_kl_weight).")
    results = []
    for n_pixels, weight in _WEIGHT_CASES:
        got = _as_float_array(answer(n_pixels, weight), "one number")
        expect(got.size == 1, f"Return one number; got an array of shape {got.shape}.")
        results.append(float(got.reshape(())))
    if all(_close(got, implied_kl_weight(*case)) for got, case in zip(results, _WEIGHT_CASES)):
        return
    for mistake, advice in _weight_mistakes():
        if all(_close(got, mistake(*case)) for got, case in zip(results, _WEIGHT_CASES)):
            raise CheckFailed(advice)
    for got, (n_pixels, weight) in zip(results, _WEIGHT_CASES):
        if not _close(got, implied_kl_weight(n_pixels, weight)):
            raise CheckFailed(
                f"For n_pixels={n_pixels} and reconstruction_weight={weight:g} your beta is "
                f"{got:.4g}, which is not right. Write the loss as weight x (sum / "
                "n_pixels) + KL and rescale it so that the summed reconstruction has "
                "factor 1.")


q3 = Exercise(
    "Exercise 3.3: the KL weight hidden in a pixel mean",
    _check_implied_kl_weight,
    implied_kl_weight,
    hints=(
        "Write the mean over pixels as (sum over pixels) / n_pixels. Multiplying a loss by "
        "a positive constant does not change where its minimum is.",
        "Multiply the whole loss by n_pixels / reconstruction_weight: the reconstruction "
        "becomes the plain sum. What now multiplies the KL?",
    ),
    forbidden=(likelihoods.implied_kl_weight,),
)
