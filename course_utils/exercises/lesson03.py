"""Exercises for lesson 03 (build the dense VAE yourself).

* ``q1``: the sampling step (the reparameterization trick), one fresh noise draw per
  image and latent dimension, scaled by the standard deviation.
* ``q2``: the negative ELBO of a batch from the decoder's logits, numerically stable,
  returned with its two parts.
* ``q3``: one training step with ``tf.GradientTape``, compiled with ``tf.function``.
* ``q4``: the KL weight that averaging the reconstruction over the pixels implies.
* ``p1``: a prediction: what the KL term does while the VAE trains.

Each checker runs the answer on its own inputs (in eager mode and compiled with
``tf.function`` where training will compile it), compares it with the reference, and
recognises the typical mistakes, naming the part that is wrong without giving the code
away.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from course_utils.elbo import likelihoods, losses
from course_utils.exercises import core
from course_utils.exercises.core import CheckFailed, Exercise, Prediction, expect
from course_utils.exercises.shared import bce_from_logits, kl_per_dimension
from course_utils.models import layers as course_layers
from course_utils.models import vae

__all__ = ["q1", "q2", "q3", "q4", "p1", "sample", "vae_loss", "train_step", "implied_kl_weight",
           "LOSS_NAMES"]

#: Pixels of one MNIST image.
PIXELS = 28 * 28
#: The keys of the dictionary that the loss and the training step return.
LOSS_NAMES = ("loss", "reconstruction_loss", "kl_loss")


# ======================================================================= references

def sample(z_mean: tf.Tensor, z_log_var: tf.Tensor) -> tf.Tensor:
    """Draw ``z ~ N(z_mean, diag(exp(z_log_var)))`` by the reparameterization trick.

    Parameters
    ----------
    z_mean, z_log_var : tensor of shape (batch, latent_dim)
        The encoder's outputs: means and log-variances of q(z|x).

    Returns
    -------
    tensor of shape (batch, latent_dim)
        One sample per image, a differentiable function of both inputs.
    """
    eps = keras.random.normal(ops.shape(z_mean))  # fresh noise for every image and dimension
    return z_mean + ops.exp(0.5 * z_log_var) * eps  # standard deviation times the noise


def vae_loss(x: tf.Tensor, logits: tf.Tensor, z_mean: tf.Tensor,
             z_log_var: tf.Tensor) -> dict[str, tf.Tensor]:
    """The negative ELBO of a batch and its two parts, in nats per image.

    Parameters
    ----------
    x : tensor of shape (batch, 28, 28, 1)
        Images with values in [0, 1].
    logits : tensor of shape (batch, 28, 28, 1)
        Decoder logits for one sampled code per image.
    z_mean, z_log_var : tensor of shape (batch, latent_dim)
        Encoder outputs.

    Returns
    -------
    dict
        ``"reconstruction_loss"``: the binary cross-entropy summed over the pixels,
        averaged over the images; ``"kl_loss"``: the KL to N(0, I) summed over the
        latent dimensions, averaged over the images; ``"loss"``: their sum.
    """
    per_pixel = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    per_image = ops.sum(ops.reshape(per_pixel, (ops.shape(x)[0], -1)), axis=1)
    kl = 0.5 * ops.sum(ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=1)
    reconstruction_loss = ops.mean(per_image)
    kl_loss = ops.mean(kl)
    return {"loss": reconstruction_loss + kl_loss,
            "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}


def train_step(encoder: keras.Model, decoder: keras.Model,
               optimizer: keras.optimizers.Optimizer, x: tf.Tensor,
               sample: Callable[..., tf.Tensor],
               loss: Callable[..., dict[str, tf.Tensor]]) -> dict[str, tf.Tensor]:
    """One gradient step on the negative ELBO of the batch ``x``.

    Parameters
    ----------
    encoder, decoder : keras.Model
        Image -> ``[z_mean, z_log_var]``; code -> logits.
    optimizer : keras.optimizers.Optimizer
    x : tensor of shape (batch, 28, 28, 1)
    sample, loss : callable
        ``sample(z_mean, z_log_var)`` and ``loss(x, logits, z_mean, z_log_var)`` (a dict
        with ``"loss"`` and its parts), as in exercises 3.1 and 3.2.

    Returns
    -------
    dict
        What ``loss`` returned for the batch, before the step.
    """
    with tf.GradientTape() as tape:
        z_mean, z_log_var = encoder(x, training=True)
        z = sample(z_mean, z_log_var)
        logits = decoder(z, training=True)
        terms = loss(x, logits, z_mean, z_log_var)
    weights = encoder.trainable_variables + decoder.trainable_variables
    gradients = tape.gradient(terms["loss"], weights)
    optimizer.apply(gradients, weights)
    return terms


# ========================================================================== helpers


#: The absolute tolerance of the comparisons: answers run in float32.
_ATOL = 1e-5


def _error_text(error: BaseException) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first[:300]}"


def _compiled(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` compiled as a graph, as a training loop would run it."""
    return tf.function(function, reduce_retracing=True)


def _run_compiled(function: Callable[..., Any], *args: Any, what: str) -> Any:
    """Call ``function`` under ``tf.function``; advice if it cannot be compiled."""
    try:
        return _compiled(function)(*args)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:
        function(*args)  # an error that eager mode raises too is reported as it is
        numpy_hint = ("NumPy cannot see inside a compiled graph: use keras.ops (or tf) "
                      "instead of np, and no .numpy() or float() on tensors. "
                      if "numpy" in str(error).lower() or "symbolic" in str(error).lower()
                      else "")
        raise CheckFailed(f"Your {what} works eagerly but fails when compiled with "
                          f"tf.function, as the training loop runs it. {numpy_hint}"
                          f"The error was {_error_text(error)}") from None


# ============================================================ 3.1 the sampling step

_N_DRAWS, _MEANS, _STDS = 20_000, np.array([1.5, -2.0]), np.array([2.0, 0.5])
_NUMPY_GRADIENT = ("a NumPy round trip (np.asarray, .numpy(), NumPy random numbers "
                   "combined with tensors) or stop_gradient cuts the path")


def _sample_inputs(n: int, means: np.ndarray, stds: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
    z_mean = np.tile(means, (n, 1)).astype(np.float32)
    z_log_var = np.tile(np.log(stds**2), (n, 1)).astype(np.float32)
    return tf.constant(z_mean), tf.constant(z_log_var)


def _samples(answer: Callable, z_mean: tf.Tensor, z_log_var: tf.Tensor) -> np.ndarray:
    got = core.as_numbers(answer(z_mean, z_log_var), "a tensor z of shape (batch, latent_dim)")
    expect(got.shape == tuple(z_mean.shape),
           f"Your function returns shape {got.shape}; z has one row per image and one "
           f"column per latent dimension, shape {tuple(z_mean.shape)}, like z_mean.")
    expect(bool(np.all(np.isfinite(got))),
           "Your samples contain NaN or infinite values for moderate log-variances.")
    return got


def _check_sample_statistics(got: np.ndarray) -> None:
    z_mean = np.tile(_MEANS, (len(got), 1))
    spread = got.std(axis=0)
    if np.allclose(got, z_mean, atol=1e-6):
        raise CheckFailed("Your function returns z_mean itself: no noise is added, so the "
                          "code is not a sample from q(z|x) and the KL term has nothing to "
                          "hold together.")
    if np.all(spread < 1e-6):
        raise CheckFailed("Every image in the batch got the same sample: one noise draw is "
                          "shared by the whole batch. Draw a separate noise value for every "
                          "image and every latent dimension (the noise has the shape of "
                          "z_mean).")
    standardized = (got - got.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    expect(not np.allclose(standardized[:, 0], standardized[:, 1], atol=1e-4),
           "Within each image, all latent dimensions got the same noise value: the draw "
           "is shared by the dimensions. The noise needs one value per image AND per "
           "latent dimension, the shape of z_mean.")
    tolerance = 0.1 * _STDS + 0.02
    if not np.all(np.abs(got.mean(axis=0) - _MEANS) < tolerance):
        if np.all(np.abs(got.mean(axis=0)) < tolerance):
            raise CheckFailed("Your samples are centred on 0, not on z_mean: the mean is "
                              "missing from z.")
        raise CheckFailed(f"Your samples should be centred on z_mean = {_MEANS.tolist()}; "
                          f"their averages are {got.mean(axis=0).round(2).tolist()}. Is "
                          "your noise drawn from a standard normal distribution (mean 0)?")
    log_var = np.log(_STDS**2)
    advice = (f"With log-variances {log_var.round(3).tolist()} your samples should have "
              f"standard deviations {_STDS.tolist()}; they have {spread.round(3).tolist()}. "
              "Is your noise standard normal, and multiplied by the standard deviation?")
    core.compare(spread, _STDS, advice, rtol=0.05, atol=0.0, mistakes=[
        (_STDS**2, "Your samples spread by the variance, exp(z_log_var), instead of the "
                   "standard deviation: the noise must be multiplied by the square root of "
                   "the variance."),
        (np.abs(log_var), "Your samples spread by z_log_var itself, as if it were the "
                          "standard deviation. It is the log of the variance: undo the log, "
                          "then take the square root."),
        (np.ones(2), "Your noise is not scaled: every dimension has standard deviation 1, "
                     "whatever z_log_var says."),
        (_STDS**2 / 2, "Your samples spread by half the variance; the standard deviation "
                       "is the square root of the variance, a different thing."),
    ])


def _check_sample_gradients(answer: Callable) -> None:
    rng = np.random.default_rng(31)
    mean = tf.Variable(rng.normal(size=(64, 3)).astype(np.float32))
    log_var = tf.Variable(rng.normal(scale=0.5, size=(64, 3)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(64, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        z = answer(mean, log_var)
        if not isinstance(z, (tf.Tensor, tf.Variable)):
            z = None
        target = None if z is None else tf.reduce_sum(tf.cast(z, tf.float32) * weights)
    grad_mean, grad_log_var = ((None, None) if target is None
                               else tape.gradient(target, [mean, log_var]))
    if grad_mean is None and grad_log_var is None:
        raise CheckFailed("No gradient flows from your z back to z_mean and z_log_var, so "
                          "training could never update the encoder: "
                          f"{_NUMPY_GRADIENT}. Compute z with keras.ops (or tf) from the "
                          "two tensors.")
    expect(grad_mean is not None and core.close(grad_mean, weights, atol=_ATOL),
           "The gradient of z with respect to z_mean is wrong (or missing): z should "
           "move one for one with z_mean. Is z_mean added as it is, without "
           "stop_gradient or a NumPy round trip?")
    expect(grad_log_var is not None and bool(np.any(np.abs(grad_log_var.numpy()) > 1e-6)),
           "No gradient reaches z_log_var: the encoder could never learn its variances. "
           f"Perhaps {_NUMPY_GRADIENT} through the standard deviation.")
    z_values = core.as_numbers(z, "z")
    want = weights.numpy() * 0.5 * (z_values - mean.numpy())
    expect(grad_log_var is not None and core.close(grad_log_var, want, rtol=1e-3, atol=1e-4),
           "The gradient of z with respect to z_log_var is not what the standard deviation "
           "exp(z_log_var / 2) times the noise gives: is the noise computed from z_log_var, "
           "or stopped in part?")


def _check_sample(answer: Callable) -> None:
    core.expect_callable(answer, "my_sample", 1)
    z_mean, z_log_var = _sample_inputs(_N_DRAWS, _MEANS, _STDS)
    first = _samples(answer, z_mean, z_log_var)
    _check_sample_statistics(first)
    second = _samples(answer, z_mean, z_log_var)
    expect(not np.allclose(first, second),
           "Two calls of your function gave the same samples: the noise is drawn once and "
           "reused. Every training step needs fresh noise: draw it inside the function.")
    _check_sample_gradients(answer)
    small_mean, small_log_var = _sample_inputs(64, _MEANS, _STDS)
    compiled = _compiled(answer)
    try:
        once, again = (core.as_numbers(compiled(small_mean, small_log_var), "z") for _ in range(2))
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:
        raise CheckFailed("Your function fails when compiled with tf.function, as the "
                          "training step will be. Draw the noise with keras.random (or "
                          f"tf.random), not NumPy. The error was {_error_text(error)}") \
            from None
    expect(not np.allclose(once, again),
           "Compiled with tf.function, your function returns the same z at every call: "
           "its noise became a constant of the graph. NumPy's random numbers are drawn "
           "once, while tracing; keras.random.normal draws anew at every call.")
    other = _samples(answer, *_sample_inputs(10, np.array([0.0, 1.0, -1.0, 2.0, 0.5]),
                                             np.ones(5)))
    expect(other.shape == (10, 5),
           "Right for one batch shape, wrong for 10 images with 5 latent dimensions.")


q1 = Exercise(
    "Exercise 3.1: the sampling step",
    _check_sample,
    sample,
    hints=(
        "z = mean + standard deviation x noise, with standard normal noise that has the "
        "shape of z_mean (one value per image and latent dimension). z_log_var is the log "
        "of the variance: which function of it is the standard deviation?",
        "keras.random.normal(ops.shape(z_mean)) draws the noise inside the compiled graph; "
        "the standard deviation is ops.exp(0.5 * z_log_var).",
    ),
    forbidden=(course_layers.Sampling,),
)


# ============================================================== 3.2 the stable loss

def _loss_inputs(seed: int, batch: int, latent_dim: int) -> tuple[np.ndarray, ...]:
    """MNIST-like images (many pixels exactly 0 or 1, some grey), logits and codes."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(0.2, 0.6, size=(batch, 28, 28, 1)), 0.0, 1.0)
    logits = rng.normal(scale=2.0, size=x.shape)
    z_mean = rng.normal(scale=1.2, size=(batch, latent_dim))
    z_log_var = rng.normal(scale=0.8, size=(batch, latent_dim))
    return tuple(a.astype(np.float32) for a in (x, logits, z_mean, z_log_var))


def _large_logit_inputs() -> tuple[np.ndarray, ...]:
    """Pixels 0, 1 and 0.5 against logits -100 and +100, codes at the prior (KL 0)."""
    x = np.resize(np.array([0.0, 1.0, 0.5, 0.0, 1.0, 0.5], np.float32), 2 * PIXELS)
    logits = np.resize(np.array([100.0, -100.0, 100.0, -100.0, 100.0, -100.0], np.float32),
                       2 * PIXELS)
    zeros = np.zeros((2, 3), np.float32)
    return (x.reshape(2, 28, 28, 1), logits.reshape(2, 28, 28, 1), zeros, zeros.copy())


def _reference_parts(inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-image reconstruction (summed BCE) and KL (summed), float64."""
    x, logits, z_mean, z_log_var = (a.astype(np.float64) for a in inputs)
    rec = bce_from_logits(x, logits).reshape(len(x), -1).sum(axis=1)
    return rec, kl_per_dimension(z_mean, z_log_var).sum(axis=1)


def _loss_terms(answer: Callable, inputs: tuple[np.ndarray, ...]) -> dict[str, float]:
    """Run the learner's loss on tensors; refuse anything but three finite numbers."""
    batch = len(inputs[0])
    got = answer(*(tf.constant(a) for a in inputs))
    if not isinstance(got, Mapping):
        raise CheckFailed(f"Your function returned {type(got).__name__}. Return a "
                          "dictionary with the total and its parts, {'loss': ..., "
                          "'reconstruction_loss': ..., 'kl_loss': ...}, so that training "
                          "can log all three.")
    missing = [name for name in LOSS_NAMES if name not in got]
    expect(not missing, f"Your dictionary lacks {missing}; it needs the keys "
                        f"{list(LOSS_NAMES)}.")
    terms = {}
    for name in LOSS_NAMES:
        value = core.as_numbers(got[name], "one number")
        expect(value.shape != (batch,),
               f"Your {name!r} has one number per image, shape ({batch},). Each logged "
               "term is one number for the batch: average the images.")
        expect(value.size == 1,
               f"Your {name!r} has shape {value.shape}; it should be one number for the "
               "batch.")
        terms[name] = float(value.reshape(()))
    return terms


_PIXEL_MEAN_ADVICE = (
    "Your reconstruction term is 784 times too small: it averages the pixels' "
    "cross-entropies instead of adding them. Given z, the decoder treats the pixels as "
    "independent, so an image's log-likelihood is the SUM over its pixels; the mean "
    "quietly makes the KL term 784 times heavier.")


def _check_reconstruction(got: float, rec: np.ndarray, inputs: tuple[np.ndarray, ...]) -> None:
    x, logits = (a.astype(np.float64) for a in inputs[:2])
    probabilities = np.clip(logits, 1e-7, 1 - 1e-7)
    as_probabilities = -(x * np.log(probabilities) + (1 - x) * np.log(1 - probabilities))
    sigmoid = 1.0 / (1.0 + np.exp(-logits))
    double = bce_from_logits(x, sigmoid)

    def per_image(values: np.ndarray) -> np.ndarray:
        return values.reshape(len(values), -1).sum(axis=1)

    advice = (f"Your reconstruction term is {got:.4g}; it should be {rec.mean():.4g} here. "
              "Per pixel it is the binary cross-entropy of the pixel given its logit; per "
              "image, the total over the pixels; for the batch, the mean over the images.")
    core.compare(got, rec.mean(), advice, atol=_ATOL, mistake_rtol=1e-3, mistakes=[
        (rec.mean() / PIXELS, _PIXEL_MEAN_ADVICE),
        (rec.sum(), f"Your reconstruction term is {len(rec)} times too large: it adds up "
                    "the images of the batch. Average them, so that the loss does not "
                    "depend on the batch size."),
        (-rec.mean(), "Your reconstruction term has the wrong sign: it is a negative "
                      "log-likelihood, a cost, so it is positive."),
        (0.0, "Your reconstruction term is zero (or missing)."),
        (per_image(double).mean(), "Your reconstruction term applies the sigmoid twice: the "
                                   "logits are turned into probabilities and then treated "
                                   "as logits again."),
        (per_image(double).mean() / PIXELS, "Two problems in your reconstruction term: the "
                                            "sigmoid is applied twice, and the pixels are "
                                            "averaged instead of summed."),
        (per_image(as_probabilities).mean(), "Your reconstruction term treats the logits as "
                                             "if they were probabilities. Logits are any "
                                             "real numbers; the probabilities are their "
                                             "sigmoid."),
    ])


def _check_kl(got: float, kl: np.ndarray, latent_dim: int) -> None:
    advice = (f"Your KL term is {got:.4g}; it should be {kl.mean():.4g} here. Compare it with "
              "the closed form of lesson 02: per image summed over the latent dimensions, "
              "then averaged over the images. (The reconstruction term is fine.)")
    core.compare(got, kl.mean(), advice, atol=_ATOL, mistake_rtol=1e-3, mistakes=[
        (kl.mean() / latent_dim,
         f"Your KL term is averaged over the {latent_dim} latent dimensions instead of "
         "summed: the KL of independent dimensions is the total of their KLs. (The "
         "reconstruction term is fine.)"),
        (kl.sum(), f"Your KL term is {len(kl)} times too large: it adds up the images of "
                   "the batch instead of averaging them."),
        (-kl.mean(), "Your KL term has the wrong sign: a KL divergence is never negative, "
                     "and it adds to the loss."),
        (0.0, "Your KL term is zero (or missing)."),
        (2 * kl.mean(), "Your KL term is twice too large: the closed form has a factor "
                        "one half."),
    ])


def _check_loss_at_large_logits(answer: Callable) -> None:
    inputs = _large_logit_inputs()
    got = _loss_terms(answer, inputs)
    rec, _ = _reference_parts(inputs)
    expect(math.isfinite(got["reconstruction_loss"]) and math.isfinite(got["loss"]),
           "Your loss is right for moderate logits but NaN or infinite at |logit| = 100, "
           "which a confident decoder reaches: a sigmoid of a large logit rounds to exactly "
           "0 or 1 in float32, and its log is infinite. Compute the cross-entropy from the "
           "logit itself, in a form whose exponentials never overflow (the lesson derives "
           "it).")
    expect(core.close(got["reconstruction_loss"], rec.mean(), rtol=1e-4, atol=_ATOL),
           f"At |logit| = 100 your reconstruction term is {got['reconstruction_loss']:.4g} "
           f"instead of {rec.mean():.4g}: finite, but wrong. Clipping the probabilities, or "
           "adding a small epsilon inside the log, caps each pixel's cost (at about 16 "
           "nats) and kills its gradient. Compute it from the logits instead.")


def _check_loss_gradients(answer: Callable) -> None:
    """The loss must compile and pass finite gradients to logits and both codes."""
    inputs = _loss_inputs(44, batch=4, latent_dim=3)
    x = tf.constant(inputs[0])
    variables = [tf.Variable(a) for a in inputs[1:]]

    def total(x, logits, z_mean, z_log_var):
        return answer(x, logits, z_mean, z_log_var)["loss"]

    with tf.GradientTape() as tape:
        value = total(x, *variables)
    gradients = tape.gradient(value, variables) if isinstance(value, tf.Tensor) else [None] * 3
    names = ("logits", "z_mean", "z_log_var")
    dead = [name for name, g in zip(names, gradients) if g is None]
    expect(not dead,
           f"No gradient flows from your 'loss' back to {', '.join(dead)}, so training "
           "could not learn from it: a NumPy round trip (np.asarray, np.log, .numpy(), "
           "float()) or stop_gradient cuts the path. Use keras.ops (or tf) throughout.")
    _run_compiled(total, x, *variables, what="loss")
    large = [tf.Variable(a) for a in _large_logit_inputs()[1:]]
    with tf.GradientTape() as tape:
        value = total(tf.constant(_large_logit_inputs()[0]), *large)
    gradient = tape.gradient(value, large[0])
    expect(gradient is not None and bool(np.all(np.isfinite(gradient.numpy()))),
           "Your loss is finite at |logit| = 100, but its gradient is not: a form like "
           "log(sigmoid(...)) still divides by a probability that rounds to 0. Use the "
           "stable form from the lesson.")


def _check_vae_loss(answer: Callable) -> None:
    core.expect_callable(answer, "my_vae_loss", 2)
    inputs = _loss_inputs(41, batch=6, latent_dim=3)
    got = _loss_terms(answer, inputs)
    expect(all(math.isfinite(v) for v in got.values()),
           "Your loss is NaN or infinite on moderate inputs. Logits can be any real number, "
           "negative ones too: do you take the log of something that can be 0 or negative?")
    parts = got["reconstruction_loss"] + got["kl_loss"]
    expect(core.close(got["loss"], parts, rtol=1e-5, atol=_ATOL),
           f"Your logged parts do not add up to your total: reconstruction_loss "
           f"{got['reconstruction_loss']:.4f} + kl_loss {got['kl_loss']:.4f} = "
           f"{got['reconstruction_loss'] + got['kl_loss']:.4f}, but loss is "
           f"{got['loss']:.4f}. Compute the total as the sum of the two parts you return.")
    rec, kl = _reference_parts(inputs)
    _check_reconstruction(got["reconstruction_loss"], rec, inputs)
    _check_kl(got["kl_loss"], kl, latent_dim=inputs[2].shape[1])
    other = _loss_inputs(42, batch=10, latent_dim=5)
    other_got = _loss_terms(answer, other)
    other_rec, other_kl = _reference_parts(other)
    expect(core.close(other_got["loss"], other_rec.mean() + other_kl.mean(), atol=_ATOL),
           "Right for one batch, wrong for another of 10 images with 5 latent dimensions: "
           "does your function assume a batch size or a latent size?")
    _check_loss_at_large_logits(answer)
    _check_loss_gradients(answer)


q2 = Exercise(
    "Exercise 3.2: a stable loss from logits",
    _check_vae_loss,
    vae_loss,
    hints=(
        "Three reductions: the cross-entropy is summed over the pixels of each image, the "
        "KL over the latent dimensions of each image, and both are averaged over the "
        "images. The total is the sum of the two averages. Never take the sigmoid of the "
        "logits yourself: use the form max(l, 0) - x l + log(1 + exp(-|l|)).",
        "ops.relu, ops.abs, ops.log1p and ops.exp give the stable cross-entropy; reshape "
        "it to (batch, -1) and sum over axis 1. The KL of one image is 0.5 * sum of "
        "(mean^2 + exp(log_var) - 1 - log_var) over axis 1. Return a dict of the three "
        "numbers.",
    ),
    forbidden=(losses.negative_elbo, losses.bernoulli_nll_from_logits,
               losses.kl_divergence_standard_normal, vae.VAE.reconstruction_nll),
)


# ============================================================ 3.3 the training step

_IMAGE = (6, 6, 1)
_LATENT = 3


def _small_networks(seed: int) -> tuple[keras.Model, keras.Model]:
    """A tiny dense encoder and decoder with seeded initial weights."""
    def init(offset: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=seed + offset)

    image = keras.Input(shape=_IMAGE)
    h = layers.Dense(12, activation="relu", kernel_initializer=init(0))(layers.Flatten()(image))
    z_mean = layers.Dense(_LATENT, kernel_initializer=init(1))(h)
    z_log_var = layers.Dense(_LATENT, kernel_initializer=init(2))(h)
    encoder = keras.Model(image, [z_mean, z_log_var])
    code = keras.Input(shape=(_LATENT,))
    h = layers.Dense(12, activation="relu", kernel_initializer=init(3))(code)
    logits = layers.Dense(math.prod(_IMAGE), kernel_initializer=init(4))(h)
    decoder = keras.Model(code, layers.Reshape(_IMAGE)(logits))
    return encoder, decoder


def _step_material(seed: int) -> dict[str, Any]:
    """Networks, a plain SGD optimizer, a batch, and a sampler with fixed noise."""
    rng = np.random.default_rng(seed)
    encoder, decoder = _small_networks(seed)
    x = tf.constant(rng.uniform(size=(8, *_IMAGE)).astype(np.float32))
    eps = tf.constant(rng.normal(size=(8, _LATENT)).astype(np.float32))
    calls = []

    def fixed_noise_sample(z_mean, z_log_var):
        calls.append(1)
        return z_mean + tf.exp(0.5 * z_log_var) * eps

    def stable_loss(x, logits, z_mean, z_log_var):
        per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
        rec = tf.reduce_mean(tf.reduce_sum(tf.reshape(per_pixel, (tf.shape(x)[0], -1)), 1))
        kl = tf.reduce_mean(0.5 * tf.reduce_sum(
            tf.square(z_mean) + tf.exp(z_log_var) - 1.0 - z_log_var, 1))
        return {"loss": rec + kl, "reconstruction_loss": rec, "kl_loss": kl}

    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    optimizer.build(encoder.trainable_variables + decoder.trainable_variables)
    return {"encoder": encoder, "decoder": decoder, "x": x, "sample": fixed_noise_sample,
            "loss": stable_loss, "optimizer": optimizer, "calls": calls}


def _expected_gradients(material: dict[str, Any]) -> tuple[dict[str, list], dict[str, float]]:
    """Gradients of the total and of each part, for every weight, before any step."""
    encoder, decoder = material["encoder"], material["decoder"]
    weights = encoder.trainable_variables + decoder.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        z_mean, z_log_var = encoder(material["x"], training=True)
        terms = _forward(material, z_mean, z_log_var)
    gradients = {name: [g.numpy() if g is not None else np.zeros(w.shape)
                        for g, w in zip(tape.gradient(terms[name], weights), weights)]
                 for name in LOSS_NAMES}
    del tape
    return gradients, {name: float(terms[name]) for name in LOSS_NAMES}


def _forward(material: dict[str, Any], z_mean, z_log_var) -> dict:
    calls = material["calls"]
    before = len(calls)
    z = material["sample"](z_mean, z_log_var)
    del calls[before:]  # the checker's own call does not count as the learner's
    logits = material["decoder"](z, training=True)
    return material["loss"](material["x"], logits, z_mean, z_log_var)


def _weights(material: dict[str, Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return ([w.numpy().copy() for w in material["encoder"].trainable_variables],
            [w.numpy().copy() for w in material["decoder"].trainable_variables])


def _check_step_updates(material: dict[str, Any], before: tuple, gradients: dict) -> None:
    learning_rate = 0.1
    after = _weights(material)
    n_encoder = len(before[0])
    moves = [(b - a) / learning_rate for b, a in zip(before[0] + before[1], after[0] + after[1])]
    encoder_moved = any(np.any(m != 0) for m in moves[:n_encoder])
    decoder_moved = any(np.any(m != 0) for m in moves[n_encoder:])
    expect(encoder_moved or decoder_moved,
           "Your step changed no weight at all. After computing the gradients, pass them "
           "to the optimizer together with the weights they belong to.")
    expect(encoder_moved,
           "Your step updates the decoder but not the encoder: no gradient reached the "
           "encoder's weights. Everything from the encoder call to the loss must happen "
           "inside the tape (z too), without stop_gradient or NumPy round trips, and the "
           "optimizer must receive the encoder's weights as well as the decoder's.")

    def matches(name: str, scale: float = 1.0, part: slice = slice(None)) -> bool:
        return all(core.close(m, scale * g, rtol=2e-3, atol=2e-6)
                   for m, g in zip(moves[part], gradients[name][part]))

    if matches("kl_loss"):
        raise CheckFailed("Your step follows the gradient of the KL part only: "
                          "differentiate the total.")
    expect(decoder_moved,
           "Your step updates the encoder but not the decoder: give the optimizer the "
           "decoder's weights and their gradients too.")

    if matches("loss"):
        return
    if matches("reconstruction_loss"):
        raise CheckFailed("Your step follows the gradient of the reconstruction part only: "
                          "differentiate the total, so that the KL term shapes the encoder "
                          "too.")
    if matches("loss", -1.0):
        raise CheckFailed("Your step goes uphill: the weights moved along the gradient of "
                          "the loss instead of against it. Let the optimizer apply the "
                          "gradients as they are; it subtracts them itself.")
    if matches("loss", 2.0):
        raise CheckFailed("Your step applies the gradients twice per batch: call the "
                          "optimizer once.")
    if matches("loss", part=slice(n_encoder, None)):
        raise CheckFailed("Your decoder's update is right, but the encoder's is not: does "
                          "the gradient reach the encoder through the sampled z (noise "
                          "drawn inside the tape, no stop_gradient)?")
    raise CheckFailed("Your step moves the weights, but not by one optimizer step along the "
                      "gradient of the batch's negative ELBO. Compute the loss inside the "
                      "tape, take the gradient of its total with respect to the encoder's "
                      "and the decoder's weights, and apply it once.")


def _check_train_step(answer: Callable) -> None:
    core.expect_callable(answer, "my_train_step", 3)
    material = _step_material(7)
    gradients, terms_before = _expected_gradients(material)
    before = _weights(material)
    encoder, decoder, optimizer = material["encoder"], material["decoder"], material["optimizer"]
    sample_function, loss_function = material["sample"], material["loss"]

    def step(x):
        return answer(encoder, decoder, optimizer, x, sample_function, loss_function)

    result = _run_compiled(step, material["x"], what="training step")
    expect(len(material["calls"]) > 0,
           "Your step never calls sample: the decoder must decode a sampled z, not the "
           "mean, or the ELBO's expectation over q(z|x) is not estimated.")
    _check_step_updates(material, before, gradients)
    expect(isinstance(result, Mapping) and all(name in result for name in LOSS_NAMES),
           "Your step updates the weights correctly; now return what the loss function "
           f"returned (the dictionary with {list(LOSS_NAMES)}), so the loop can log it.")
    returned = {name: float(core.as_numbers(result[name], "one number").reshape(()))
                for name in LOSS_NAMES}
    expect(all(core.close(returned[n], terms_before[n], rtol=1e-4, atol=_ATOL) for n in LOSS_NAMES),
           "Your step returns loss values that differ from the batch's loss before the "
           "update: return the terms computed inside the tape, not recomputed afterwards.")
    # A second compiled call with new images: the step must work again (no variables
    # created inside it, no Python state that breaks on the next batch).
    again = _step_material(8)
    again_before = _weights(again)
    again_gradients, _ = _expected_gradients(again)
    try:
        compiled = _compiled(lambda x: answer(again["encoder"], again["decoder"],
                                              again["optimizer"], x, again["sample"],
                                              again["loss"]))
        compiled(again["x"])
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:
        raise CheckFailed("Your step works once but fails on other networks: does it use "
                          "global models or an optimizer of its own instead of its "
                          f"arguments? The error was {_error_text(error)}") from None
    _check_step_updates(again, again_before, again_gradients)


q3 = Exercise(
    "Exercise 3.3: the training step",
    _check_train_step,
    train_step,
    hints=(
        "Inside `with tf.GradientTape() as tape:` run the whole forward pass: encoder, "
        "sample, decoder, loss. After the block, ask the tape for the gradient of the "
        "total with respect to the encoder's and decoder's trainable weights, and hand "
        "both lists to the optimizer.",
        "weights = encoder.trainable_variables + decoder.trainable_variables; "
        "gradients = tape.gradient(terms['loss'], weights); optimizer.apply(gradients, "
        "weights); return terms.",
    ),
    forbidden=(vae.VAE,),
)


# ================================================ 3.4 the KL weight hidden in a pixel mean

def implied_kl_weight(n_pixels: int, reconstruction_weight: float = 1.0) -> float:
    """The weight beta on the KL implied by a loss with a pixel-averaged reconstruction.

    The loss ``reconstruction_weight * mean_over_pixels(BCE) + KL`` is, up to a
    positive factor (which does not move the minimum), the loss
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
    core.expect_callable(answer, "my_implied_kl_weight", 4)
    results = [core.as_number(answer(n_pixels, weight), "one number")
               for n_pixels, weight in _WEIGHT_CASES]
    def agrees(function: Callable[[int, float], float]) -> bool:
        return all(core.close(got, function(*case), rtol=1e-4, atol=1e-6)
                   for got, case in zip(results, _WEIGHT_CASES))

    if agrees(implied_kl_weight):
        return
    for mistake, advice in _weight_mistakes():
        if agrees(mistake):
            raise CheckFailed(advice)
    for got, (n_pixels, weight) in zip(results, _WEIGHT_CASES):
        if not core.close(got, implied_kl_weight(n_pixels, weight), rtol=1e-4, atol=1e-6):
            raise CheckFailed(
                f"For n_pixels={n_pixels} and reconstruction_weight={weight:g} your beta is "
                f"{got:.4g}, which is not right. Write the loss as weight x (sum / "
                "n_pixels) + KL and rescale it so that the summed reconstruction has "
                "factor 1.")


q4 = Exercise(
    "Exercise 3.4: the KL weight hidden in a pixel mean",
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


# ======================================================================= prediction

#: What the KL's course during training says, for each way it can go.
_KL_EXPLANATIONS = {
    "rises": "At the start the encoder's outputs are near 0, so every q(z|x) is close to "
             "the prior and the KL is near 0. As the encoder learns to put what tells "
             "digits apart into its codes, the KL grows from that start. Averaged over the "
             "data, the KL is the rate: an upper bound on the information (the mutual "
             "information) that z carries about x.",
    "falls": "Here the KL ended below where it started: the encoder kept its codes close to "
             "the prior. Averaged over the data, the KL is the rate, an upper bound on the "
             "information (the mutual information) that z carries about x, so this model's "
             "codes carry little.",
}

p1 = Prediction("Prediction 3.1: what does the KL term do during training?",
                choices=("rises", "falls"), explanation=_KL_EXPLANATIONS)
