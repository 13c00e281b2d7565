"""Exercises for lesson 04 (the convolutional VAE, and Fashion-MNIST).

* ``q1``: the per-image negative ELBO estimate that ranks two models image by image:
  one sampled code per image, the reconstruction from logits (finite at any logit),
  the KL in closed form.
* ``q2``: find the bug: a convolutional decoder that ends in ReLU, trained with BCE.
* ``q3``: find the bug: the reconstruction loss of the classic Keras example, right for
  greyscale images, averages over the channels of colour images.
* ``p1`` (a prediction, not graded): which model takes longer per epoch.

Each checker runs the answer on its own fixed inputs, compares it with the reference,
and recognises the typical mistakes, saying what is wrong without giving the code away.
The decoder checker shares its structural checks with lesson 03's
(:mod:`course_utils.exercises.decoder_checks`).
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
from keras import layers
from numpy.typing import ArrayLike

from course_utils.elbo import losses
from course_utils.exercises import core, decoder_checks
from course_utils.exercises.core import CheckFailed, Exercise, Prediction, expect
from course_utils.exercises.shared import bce_from_logits, kl_per_dimension
from course_utils.latent import usage as latent_usage
from course_utils.models import networks as models
from course_utils.models import vae

__all__ = [
    "q1",
    "q2",
    "q3",
    "p1",
    "per_image_nelbo",
    "buggy_conv_decoder",
    "fixed_conv_decoder",
    "buggy_reconstruction_loss",
    "reconstruction_loss",
]

#: Values in one 28 x 28 x 1 image.
PIXELS = 28 * 28

_RTOL = 1e-4
_ATOL = 1e-6


def _per_image(values: np.ndarray) -> np.ndarray:
    return values.reshape(len(values), -1).sum(axis=1)


# --- 4.1 the per-image negative ELBO -------------------------------------------------------

def per_image_nelbo(x: ArrayLike, z_mean: ArrayLike, z_log_var: ArrayLike, eps: ArrayLike,
                    decode: Callable) -> np.ndarray:
    """One-sample estimate of the negative ELBO of each image, in nats.

    The code of image ``i`` is ``z_i = z_mean_i + exp(z_log_var_i / 2) * eps_i``; its
    estimate is the binary cross-entropy of the image given ``decode(z)_i`` (logits),
    summed over the pixels, plus the closed-form KL of ``N(z_mean_i,
    diag(exp(z_log_var_i)))`` from ``N(0, I)``, summed over the latent dimensions.

    Parameters
    ----------
    x : array_like, shape (n, 28, 28, 1)
        Images with values in [0, 1].
    z_mean, z_log_var : array_like, shape (n, latent_dim)
        Encoder outputs.
    eps : array_like, shape (n, latent_dim)
        Standard normal noise, one row per image.
    decode : callable
        Maps codes ``(n, latent_dim)`` to logits ``(n, 28, 28, 1)``.

    Returns
    -------
    numpy.ndarray, shape (n,)
        The estimate for each image (not averaged over the images).
    """
    x = np.asarray(x, dtype=np.float64)
    z_mean = np.asarray(z_mean, dtype=np.float64)
    z_log_var = np.asarray(z_log_var, dtype=np.float64)
    z = z_mean + np.exp(0.5 * z_log_var) * np.asarray(eps, dtype=np.float64)
    logits = np.asarray(decode(z.astype(np.float32)), dtype=np.float64)
    per_value = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    reconstruction = per_value.reshape(len(x), -1).sum(axis=1)
    kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)
    return reconstruction + kl


class _Decoder:
    """A fixed non-linear decoder for the checker: logits = scale * tanh(z A + c) B."""

    def __init__(self, latent_dim: int, seed: int, scale: float) -> None:
        rng = np.random.default_rng(seed)
        self.a = rng.normal(size=(latent_dim, 16))
        self.c = rng.normal(scale=0.5, size=16)
        self.b = rng.normal(size=(16, PIXELS)) / 4.0
        self.scale = scale

    def __call__(self, z: object) -> np.ndarray:
        if hasattr(z, "numpy") and not isinstance(z, np.ndarray):
            z = keras.ops.convert_to_numpy(z)
        z = np.asarray(z, dtype=np.float64)
        logits = self.scale * np.tanh(z @ self.a + self.c) @ self.b
        return logits.reshape(len(z), 28, 28, 1).astype(np.float32)


def _nelbo_inputs(seed: int, n: int, latent_dim: int, scale: float) -> tuple:
    """MNIST-like images (many pixels exactly 0 or 1, some grey), codes, noise, decoder."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(0.2, 0.6, size=(n, 28, 28, 1)), 0.0, 1.0).astype(np.float32)
    z_mean = rng.normal(scale=1.2, size=(n, latent_dim)).astype(np.float32)
    z_log_var = rng.normal(-0.5, 0.8, size=(n, latent_dim)).astype(np.float32)
    eps = rng.normal(size=(n, latent_dim)).astype(np.float32)
    return x, z_mean, z_log_var, eps, _Decoder(latent_dim, seed, scale)


def _nelbo_values(answer: Callable, inputs: tuple) -> np.ndarray:
    """Run the learner's function; refuse anything but one finite number per image."""
    x, z_mean, z_log_var, eps, decode = inputs
    n = len(x)
    got = core.as_numbers(answer(x.copy(), z_mean.copy(), z_log_var.copy(), eps.copy(), decode),
                        f"an array of shape ({n},)")
    expect(got.size != 1,
           f"Your function returns one number; it should return one estimate per image, "
           f"shape ({n},), so that two models can be compared image by image. Do not "
           "average over the images.")
    expect(got.shape == (n,),
           f"Expected one estimate per image, shape ({n},); got shape {got.shape}. Reduce "
           "the pixels of each image, and the latent dimensions of each code, to one "
           "number each.")
    return got


def _nelbo_mistakes(inputs: tuple) -> list[tuple[np.ndarray, str]]:
    """Typical wrong estimates on ``inputs``, each with advice naming the wrong part."""
    x, z_mean, z_log_var, eps, decode = (a if callable(a) else a.astype(np.float64)
                                         for a in inputs)
    latent_dim = z_mean.shape[1]

    def reconstruction(z: np.ndarray) -> np.ndarray:
        return _per_image(bce_from_logits(x, np.asarray(decode(z), dtype=np.float64)))

    std = np.exp(0.5 * z_log_var)
    rec = reconstruction(z_mean + std * eps)
    kl = kl_per_dimension(z_mean, z_log_var).sum(axis=1)
    logits = np.asarray(decode(z_mean + std * eps), dtype=np.float64)
    sigmoid = 1.0 / (1.0 + np.exp(-logits))
    return [
        (reconstruction(z_mean + np.exp(z_log_var) * eps) + kl,
         "Your sampled codes are off: the noise is scaled by the variance exp(z_log_var). "
         "It must be scaled by the standard deviation, the square root of the variance. "
         "The reconstruction and KL formulas may well be right."),
        (reconstruction(z_mean + z_log_var * eps) + kl,
         "Your sampled codes are off: z_log_var is a log-variance, not a standard "
         "deviation; turn it into one before scaling the noise."),
        (reconstruction(z_mean) + kl,
         "Your estimate decodes z_mean and ignores eps. The ELBO's reconstruction term is "
         "an expectation over q(z|x); this estimate uses one code SAMPLED from q for each "
         "image, mean plus standard deviation times that image's noise."),
        (reconstruction(z_mean + std * eps[:1]) + kl,
         "Every image of your batch uses the first row of eps: the images share one noise "
         "draw. Each image needs its own row of noise."),
        (rec / PIXELS + kl,
         "Your reconstruction term is 784 times too small: it averages the pixels' "
         "cross-entropies instead of adding them. The sampling and the KL are right."),
        (rec + kl / latent_dim,
         f"The reconstruction is right, but your KL term is divided by the number of latent "
         f"dimensions ({latent_dim} here): add the dimensions' KLs instead of averaging."),
        (rec, "Your estimate has no KL term (or it comes out as zero)."),
        (kl, "Your estimate has no reconstruction term."),
        (rec - kl, "The KL term has the wrong sign: it is a penalty, it adds to the loss."),
        (-(rec + kl), "That is the ELBO itself; return its negative (a loss, lower is "
                      "better)."),
        (_per_image(bce_from_logits(x, sigmoid)) + kl,
         "Your reconstruction term applies the sigmoid twice: decode returns logits, which "
         "you turn into probabilities and then treat as logits again."),
    ]


def _explain_wrong_nelbo(answer: Callable, inputs: tuple, got: np.ndarray) -> None:
    """Raise the advice for the first typical mistake ``got`` matches, or a split one."""
    core.reject_mistakes(got, _nelbo_mistakes(inputs), rtol=_RTOL, atol=_ATOL)
    x, z_mean, z_log_var, eps, decode = inputs
    zeros = np.zeros_like(z_mean)
    # With q = N(0, I) the KL is exactly 0 and the code is eps itself.
    standard = (x, zeros, zeros.copy(), eps, decode)
    if core.close(_nelbo_values(answer, standard), per_image_nelbo(*standard),
                   rtol=_RTOL, atol=_ATOL):
        raise CheckFailed("When q(z|x) is N(0, I) your estimate is right, so your "
                          "reconstruction term is. With other means and variances it is "
                          "not: check the KL term, and how the noise is shifted and scaled "
                          "into a code.")
    raise CheckFailed("Your estimate is wrong even when q(z|x) is N(0, I), where the KL is 0 "
                      "and the code is eps itself: check the reconstruction term, the binary "
                      "cross-entropy of each image given decode(z), summed over its pixels.")


def _check_per_image_nelbo(answer: Callable) -> None:
    core.expect_callable(answer, "my_per_image_nelbo", 1)
    for seed, n, latent_dim in ((61, 5, 3), (62, 7, 2)):
        inputs = _nelbo_inputs(seed, n, latent_dim, scale=3.0)
        got = _nelbo_values(answer, inputs)
        core.expect_finite(got, "Your estimate is NaN or infinite for ordinary logits: do you take "
                           "the log of something that can be 0 or negative?")
        if not core.close(got, per_image_nelbo(*inputs), rtol=_RTOL, atol=_ATOL):
            _explain_wrong_nelbo(answer, inputs, got)
    # Confident decoders: logits up to about +-100, where sigmoid(logit) rounds to 0 or 1.
    inputs = _nelbo_inputs(63, 4, 2, scale=60.0)
    got = _nelbo_values(answer, inputs)
    core.expect_finite(got,
           "Right for ordinary logits, but NaN or infinite for a confident decoder (logits "
           "near +-100): the reconstruction term takes the log of a sigmoid that rounded to "
           "0 or 1. Compute the cross-entropy from the logits without forming log(sigmoid).")
    expect(core.close(got, per_image_nelbo(*inputs), rtol=_RTOL, atol=_ATOL),
           "Right for ordinary logits, wrong for a confident decoder (logits near +-100): "
           "your reconstruction term is capped somewhere, typically by clipping the "
           "probabilities to [1e-7, 1 - 1e-7] (Keras does so for probabilities), which "
           "charges a confidently wrong pixel about 16 nats instead of about 100. Compute "
           "the cross-entropy from the logits.")


q1 = Exercise(
    "Exercise 4.1: a per-image negative ELBO",
    _check_per_image_nelbo,
    per_image_nelbo,
    hints=(
        "Three steps per image: a code z = mean + standard deviation * noise (z_log_var "
        "is the log of the variance); the binary cross-entropy of the image given "
        "decode(z), added over the pixels; the closed-form KL, added over the latent "
        "dimensions. Average over nothing: return shape (n,).",
        "keras.ops.binary_crossentropy(x, logits, from_logits=True) gives the per-pixel "
        "cross-entropy without a mean and stays finite for any logit; sum it over axes "
        "1, 2 and 3. The KL of one dimension is -0.5 * (1 + log_var - mean**2 - "
        "exp(log_var)).",
    ),
    forbidden=(losses.negative_elbo, losses.bernoulli_nll_from_logits,
               losses.kl_divergence_standard_normal, latent_usage.kl_per_dimension,
               vae.VAE.reconstruction_nll),
)


# --- 4.2 find the bug: a decoder that ends in ReLU -----------------------------------------

def buggy_conv_decoder(latent_dim: int) -> keras.Model:
    """A convolutional decoder with the output activation of a popular blog post.

    Parameters
    ----------
    latent_dim : int

    Returns
    -------
    keras.Model
        Input ``(batch, latent_dim)``, output ``(batch, 28, 28, 1)`` through a ReLU.
    """
    inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2DTranspose(1, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, outputs, name="decoder")


def fixed_conv_decoder(latent_dim: int) -> keras.Model:
    """The same decoder with a linear output layer: it returns pixel logits.

    Parameters
    ----------
    latent_dim : int

    Returns
    -------
    keras.Model
        Input ``(batch, latent_dim)``, output logits ``(batch, 28, 28, 1)``, for the VAE
        class, whose loss applies the sigmoid itself.
    """
    inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2DTranspose(1, 3, padding="same")(x)
    return keras.Model(inputs, outputs, name="decoder")


def _conv_parameters(kernel_size: int, in_channels: int, filters: int) -> int:
    return kernel_size * kernel_size * in_channels * filters + filters


def _decoder_parameters(latent_dim: int) -> int:
    """Parameters of the decoder above, counted layer by layer."""
    return ((latent_dim + 1) * 7 * 7 * 64          # Dense
            + _conv_parameters(3, 64, 64)          # Conv2DTranspose 7 -> 14
            + _conv_parameters(3, 64, 32)          # Conv2DTranspose 14 -> 28
            + _conv_parameters(3, 32, 1))          # output layer


_RELU_ADVICE = (
    "Your decoder still ends in a ReLU. The VAE's loss reads the output as logits: a ReLU "
    "makes every logit >= 0, so every pixel gets a probability of at least 1/2, even the "
    "black background. Which output activation lets logits take any value?")
_SIGMOID_ADVICE = (
    "A sigmoid is the right final step for pixel PROBABILITIES, as in the original Keras "
    "example. But the course's VAE loss works on logits and applies the sigmoid itself, "
    "so here it would be applied twice, squeezing every pixel probability into "
    "(0.5, 0.73). What should the last layer output instead?")


def _check_decoder(answer: Callable) -> None:
    expect(callable(answer), "Pass your builder function itself, e.g. "
                             "ex.q2.check(my_conv_decoder).")
    for latent_dim in (3, 5):
        decoder_checks.check_decoder_shapes(answer(latent_dim), latent_dim)
    latent_dim = 3
    model = answer(latent_dim)
    activation = decoder_checks.last_activation(model)
    expect(activation != "relu", _RELU_ADVICE)
    expect(activation != "sigmoid", _SIGMOID_ADVICE)
    # The checks lesson 03's decoder exercise makes too: a bounded last activation,
    # squashing after the last layer (tanh, sigmoid, abs, clip), an affine decoder.
    decoder_checks.check_logits_decoder(model, latent_dim)
    expected = _decoder_parameters(latent_dim)
    expect(model.count_params() == expected,
           f"Your decoder has {model.count_params():,} parameters, the buggy one "
           f"{expected:,} (for latent_dim={latent_dim}). The fix needs only the output "
           "layer's activation: keep every layer and its size.")


q2 = Exercise(
    "Exercise 4.2: find the bug in a convolutional decoder",
    _check_decoder,
    fixed_conv_decoder,
    hints=(
        "What range of values can a ReLU produce, and what range must a logit cover? "
        "Remember that the VAE's loss applies the sigmoid to the decoder's output.",
        "The last Conv2DTranspose should have no activation at all (Keras' default, "
        "'linear'); the loss turns its logits into probabilities.",
    ),
    forbidden=(models.build_conv_decoder, vae.build_conv_vae),
)


# --- 4.3 find the bug: a reconstruction loss that averages over channels ------------------

def buggy_reconstruction_loss(x: ArrayLike, logits: ArrayLike) -> float:
    """The reconstruction term as the classic Keras example computes it.

    Right for one channel; for colour images it averages over the channels.

    Parameters
    ----------
    x, logits : array_like, shape (batch, height, width, channels)

    Returns
    -------
    float
    """
    bce = keras.losses.binary_crossentropy(x, logits, from_logits=True)  # mean over channels
    return float(keras.ops.mean(keras.ops.sum(bce, axis=(1, 2))))


def reconstruction_loss(x: ArrayLike, logits: ArrayLike) -> float:
    """Bernoulli negative log-likelihood summed over pixels and channels, batch-averaged.

    Parameters
    ----------
    x : array_like, shape (batch, height, width, channels)
        Target images with values in [0, 1].
    logits : array_like, same shape
        Decoder outputs before the sigmoid.

    Returns
    -------
    float
        The reconstruction term of the negative ELBO, in nats per image.
    """
    x = np.asarray(x, dtype=np.float64)
    logits = np.asarray(logits, dtype=np.float64)
    per_value = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    return float(per_value.reshape(len(x), -1).sum(axis=1).mean())


def _loss_inputs(seed: int, shape: tuple[int, ...],
                 scale: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=shape)
    x[rng.uniform(size=shape) < 0.4] = 0.0  # a black background, as in MNIST
    logits = rng.normal(scale=scale, size=shape)
    return x.astype(np.float32), logits.astype(np.float32)


def _probability_readings(x: np.ndarray, logits: np.ndarray) -> list[float]:
    """The loss if the logits were taken as probabilities, clipped to [1e-7, 1 - 1e-7]
    as Keras does, in float32 (Keras on float32 tensors) and in float64 (NumPy)."""
    readings = []
    for dtype in (np.float32, np.float64):
        low, high = dtype(1e-7), dtype(1) - dtype(1e-7)
        p = np.clip(logits.astype(dtype), low, high).astype(np.float64)
        per_value = -(x * np.log(p) + (1 - x) * np.log(1 - p))
        readings.append(float(per_value.reshape(len(x), -1).sum(axis=1).mean()))
    return readings


# One greyscale shape (where the Keras example is right) and two colour shapes.
_LOSS_CASES = ((51, (5, 28, 28, 1)), (52, (4, 8, 8, 3)), (53, (3, 6, 6, 2)))


def _check_reconstruction_loss(answer: Callable) -> None:
    core.expect_callable(answer, "my_loss", 3)
    for seed, shape in _LOSS_CASES:
        batch, height, width, channels = shape
        x, logits = _loss_inputs(seed, shape)
        got = core.as_numbers(answer(x.copy(), logits.copy()), "one number (a float)")
        want = reconstruction_loss(x, logits)
        if got.shape == (batch,):
            raise CheckFailed(f"Your function returns one value per image, shape {got.shape}. "
                              "The training loss is a single number: how should the "
                              "per-image values be combined so that the loss does not grow "
                              "with the batch size?")
        if got.shape == (batch, height, width):
            raise CheckFailed(f"Your result has shape {got.shape}: only the channel axis was "
                              "reduced. Combine all the values of each image into one "
                              "number, then the images of the batch.")
        expect(got.size == 1, f"Your function returns an array of shape {got.shape}; it "
                              "should return one number for the batch.")
        value = float(got.reshape(()))
        core.expect_finite(value,
                      "Your loss is NaN or inf. Logits can be any real number, negative ones "
                      "too: do you take the log of something that can be 0 or negative?")
        values = height * width * channels
        mistakes = [(want / channels,
                     f"Right for one channel, but for images with {channels} channels your "
                     f"loss is {channels} times too small: something averages over the "
                     "channel axis. Which axis does Keras' binary_crossentropy reduce, and "
                     "how? Every channel of every pixel is a value the decoder must explain, "
                     "so they all add up.")] if channels > 1 else []
        mistakes += [
            (want / values,
             f"Your loss is {values} times too small (the number of values in one image of "
             f"shape {shape[1:]}): it averages over the pixels. The log-likelihood of "
             "independent pixels is a sum, and a mean quietly makes the KL term weigh that "
             "many times more."),
            (want * batch,
             f"Your loss is {batch} times too large (the batch size): it sums over the "
             "images of the batch. Average over the batch instead, so the loss does not "
             "depend on the batch size."),
        ]
        mistakes += [(reading, "Your loss reads the logits as probabilities. The decoder "
                               "outputs logits: tell the loss so, or turn them into "
                               "probabilities first.")
                     for reading in _probability_readings(x, logits)]
        core.compare(value, want,
                f"Right shape, wrong value for images of shape {shape[1:]}. Per value the "
                "loss is the binary cross-entropy between the target and sigmoid(logit); "
                "check that formula, then the reductions: sum within an image, average over "
                "the batch.", mistakes=mistakes, mistake_rtol=1e-3)
    # A confident decoder: logits up to about +-120, where sigmoid(logit) rounds to 0 or 1
    # and Keras clips probabilities to [1e-7, 1 - 1e-7].
    x, logits = _loss_inputs(54, (3, 6, 6, 2), scale=40.0)
    got = core.as_numbers(answer(x.copy(), logits.copy()), "one number (a float)")
    value = float(got.reshape(-1)[0]) if got.size == 1 else float("nan")
    core.expect_finite(value,
                  "Right for ordinary logits, but NaN or infinite for a confident decoder "
                  "(logits near +-100): your loss takes the log of a sigmoid that rounded to "
                  "0 or 1. Compute the cross-entropy from the logits without forming "
                  "log(sigmoid).")
    expect(core.close(value, reconstruction_loss(x, logits)),
           "Right for ordinary logits, wrong for a confident decoder (logits near +-100): "
           "your loss is capped somewhere, typically by turning the logits into "
           "probabilities and clipping them (Keras clips to [1e-7, 1 - 1e-7]), which "
           "charges a confidently wrong value about 16 nats instead of about 100. The "
           "channel reduction is right; compute the cross-entropy from the logits.")


q3 = Exercise(
    "Exercise 4.3: find the bug that only colour images reveal",
    _check_reconstruction_loss,
    reconstruction_loss,
    hints=(
        "Keras' binary_crossentropy takes the MEAN over the last axis. For images of shape "
        "(batch, height, width, channels) that is the channel axis. When does that mean "
        "change nothing, and when does it?",
        "Sum the per-value cross-entropy over every axis except the batch axis (axes 1, 2 "
        "and 3 for images), then take the mean over the batch.",
    ),
    forbidden=(losses.bernoulli_nll_from_logits, losses.negative_elbo,
               vae.VAE.reconstruction_nll),
)




# --- prediction 4.1: which model is slower per epoch ---------------------------------------

def _explain_slower(measured: str) -> str:
    return (f"On this machine the {measured} VAE took longer per epoch. The parameter count "
            "does not set the time: every weight of a dense layer is used once per image, "
            "every weight of a convolution once per position of its feature map, so the "
            "multiply-adds per image are the better guide, and the cell above says whether "
            "they predicted this run. Hardware matters too: a GPU runs convolutions far "
            "faster than a CPU, and for models this small, overheads per batch can dominate.")


p1 = Prediction("Prediction 4.1: which VAE takes longer per epoch?", choices=("dense", "conv"),
                explanation=_explain_slower)
