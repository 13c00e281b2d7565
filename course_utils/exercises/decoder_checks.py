"""Checks shared by the exercises in which the learner builds a VAE decoder.

A VAE decoder of this course outputs pixel LOGITS: any real number, negative for a
pixel that is probably black; the loss applies the sigmoid itself. The lessons' decoder
exercises (lesson 03's dense decoder, lesson 04's convolutional one) use the same checks,
so that what one rejects the other rejects too:

* :func:`check_decoder_shapes`: one input of shape ``(None, latent_dim)``, one output of
  the image shape;
* :func:`check_logits_activation`: the last activation is not a sigmoid, a ReLU or any
  other bounded function (see :func:`last_activation`);
* :func:`check_output_range` on :func:`amplified_outputs`: with the weights of its last
  weighted layer made 1000 times larger, the decoder's outputs are not confined to
  [0, 1], [0, inf) or [-1, 1], which catches squashing done by an op or a ``Lambda``
  layer after a linear last layer;
* :func:`check_not_affine`: the decoder is not an affine function of the code (hidden
  layers without a non-linear activation);
* :func:`check_vae_accepts`: the course's :class:`~course_utils.models.vae.VAE` accepts it.

:func:`check_logits_decoder` runs them all, in that order. Each raises
:class:`~course_utils.exercises.core.CheckFailed` with advice that names the part of
the decoder that is wrong and never quotes a solution. Architecture checks (the
parameter count of a lesson's decoder) stay with each lesson.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from course_utils.exercises.core import CheckFailed, expect
from course_utils.models.networks import last_activation

__all__ = [
    "LINEAR_ACTIVATIONS",
    "last_activation",
    "check_decoder_shapes",
    "check_logits_activation",
    "amplified_outputs",
    "check_output_range",
    "check_not_affine",
    "check_vae_accepts",
    "check_logits_decoder",
]

#: Activation names that leave a logit free to take any real value.
LINEAR_ACTIVATIONS = ("linear",)

#: The range check multiplies the weights of the decoder's last weighted layer by this
#: much: a linear output grows with them, a bounded function after it saturates. (Codes
#: far from 0 are not enough: the course's conv decoder, freshly initialised, outputs
#: values within [-1.2, 1.1] even for codes 30 times a standard normal draw.)
AMPLIFICATION = 1000.0

_DOUBLE_SIGMOID_ADVICE = (
    "Your decoder still ends in a sigmoid, so it outputs probabilities in (0, 1). The "
    "loss treats its outputs as logits and applies a sigmoid of its own, so every pixel "
    "probability is squeezed into (0.5, 0.73): no pixel can ever be confidently black.")
_RELU_ADVICE = (
    "Your decoder ends in a ReLU, so its outputs are never negative. A negative logit is "
    "how a decoder says 'this pixel is probably black' (probability below one half), and "
    "most MNIST pixels are black.")
_AFFINE_ADVICE = (
    "Your decoder is a linear (affine) function of the code: its hidden layers need a "
    "non-linear activation, or the whole network is one matrix multiplication.")


def check_decoder_shapes(model: object, latent_dim: int,
                         image_shape: tuple[int, ...] = (28, 28, 1)) -> None:
    """Refuse anything but a keras.Model from ``(None, latent_dim)`` to ``(None, *image_shape)``.

    Parameters
    ----------
    model : object
        What the learner's builder returned.
    latent_dim : int
        The code size the builder was called with.
    image_shape : tuple of int
        Shape of one image, without the batch axis.

    Raises
    ------
    CheckFailed
        Naming what was returned, or the wrong input or output shape.
    """
    if not isinstance(model, keras.Model):
        raise CheckFailed(f"Your function returned {type(model).__name__}; return the "
                          "keras.Model that you built.")
    try:
        input_shapes = [tuple(t.shape) for t in model.inputs]
    except (AttributeError, ValueError):
        raise CheckFailed("Your model has no defined input yet. Start it with "
                          "keras.Input(shape=...), so that its shapes are known.") from None
    expect(input_shapes == [(None, latent_dim)],
           f"For latent_dim={latent_dim} your decoder's input has shape {input_shapes}; it "
           f"should take one code of {latent_dim} numbers per image, shape "
           f"(None, {latent_dim}). Build its input from the latent_dim argument.")
    output_shapes = [tuple(t.shape) for t in model.outputs]
    want = (None, *image_shape)
    expect(output_shapes == [want],
           f"Your decoder's output has shape {output_shapes}; it should output images of "
           f"shape {want}, like the VAE's input.")


def check_logits_activation(model: keras.Model) -> None:
    """Refuse a decoder whose last activation bounds its outputs.

    Parameters
    ----------
    model : keras.Model
        The decoder.

    Raises
    ------
    CheckFailed
        If :func:`last_activation` is a sigmoid (applied twice with the loss), a ReLU
        (no negative logits) or anything but linear; None passes.
    """
    activation = last_activation(model)
    expect(activation != "sigmoid", _DOUBLE_SIGMOID_ADVICE)
    expect(activation != "relu", _RELU_ADVICE)
    expect(activation is None or activation in LINEAR_ACTIVATIONS,
           f"Your output layer uses the activation {activation!r}. Logits must be able to "
           "take any real value, large or small, positive or negative.")


def check_output_range(outputs: np.ndarray) -> None:
    """Refuse outputs that look bounded like an activation's.

    Call it with :func:`amplified_outputs`, where a bounded function after the last
    weighted layer saturates and a linear output does not.

    Parameters
    ----------
    outputs : array_like
        Decoder outputs, any shape.

    Raises
    ------
    CheckFailed
        If they are not all finite, or all lie in [0, 1] (probabilities), in [0, inf)
        (a ReLU or an absolute value) or in [-1, 1] (a tanh).
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.size == 0:
        raise ValueError(f"outputs must hold at least one value; got an empty array of shape "
                         f"{outputs.shape}. Pass the decoder's outputs for a batch of codes.")
    expect(bool(np.all(np.isfinite(outputs))),
           "Your decoder outputs NaN or inf. Logits must be finite "
           "numbers: does a layer divide, exponentiate or take a log?")
    if outputs.min() >= 0.0 and outputs.max() <= 1.0:
        raise CheckFailed("Your decoder's outputs all lie in [0, 1], even when its last layer "
                          "computes values 1000 times larger: they look like probabilities, "
                          "not logits. "
                          + _DOUBLE_SIGMOID_ADVICE.split(". ", 1)[1])
    if outputs.min() >= 0.0:
        raise CheckFailed("Your decoder's outputs are never negative, even when its last "
                          "layer computes values 1000 times larger: something at its end "
                          "(an activation, an absolute value, a clip) removes the sign. "
                          "A negative logit is how a decoder says 'this pixel is probably "
                          "black' (probability below one half), and most MNIST pixels are "
                          "black.")
    if outputs.min() >= -1.0 and outputs.max() <= 1.0:
        raise CheckFailed("Your decoder's outputs stay within [-1, 1], even when its last "
                          "layer computes values 1000 times larger, so no pixel probability "
                          "can leave (0.27, 0.73). Something at its end "
                          "squashes them (a tanh, a clip); logits must be able to take any "
                          "real value.")


def _run(model: keras.Model, z: np.ndarray) -> np.ndarray:
    return ops.convert_to_numpy(model(z, training=False)).astype(np.float64)


def _last_weighted_layer(model: keras.Model) -> keras.layers.Layer | None:
    """The last layer with a kernel (Dense, Conv2D, Conv2DTranspose...), searching inside
    nested models; None if there is none."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.Model):
            inner = _last_weighted_layer(layer)
            if inner is not None:
                return inner
        elif getattr(layer, "kernel", None) is not None:
            return layer
    return None


def amplified_outputs(model: keras.Model, latent_dim: int, seed: int = 43,
                      factor: float = AMPLIFICATION) -> np.ndarray:
    """The decoder's outputs with the weights of its last weighted layer scaled up.

    The last layer with a kernel has all its weights (kernel and bias) multiplied by
    ``factor`` while the decoder runs on 64 standard normal codes; they are restored
    afterwards, also on error. Whatever comes after that layer (an activation, a
    ``Lambda``, an op) then sees values ``factor`` times larger than before: a linear
    output grows with them, a sigmoid, tanh, clip or absolute value does not, or keeps
    its sign.

    Parameters
    ----------
    model : keras.Model
        The decoder, input ``(None, latent_dim)``.
    latent_dim : int
        Its code size.
    seed : int
        Seed of the codes.
    factor : float
        How much larger the last weighted layer's weights are made.

    Returns
    -------
    numpy.ndarray, shape (64, *output_shape)
        The outputs, float64. If the model has no weighted layer, its plain outputs on
        codes 30 times a standard normal draw.
    """
    codes = np.random.default_rng(seed).normal(size=(64, latent_dim)).astype(np.float32)
    layer = _last_weighted_layer(model)
    if layer is None:
        return _run(model, 30.0 * codes)
    weights = layer.get_weights()
    try:
        layer.set_weights([w * factor for w in weights])
        return _run(model, codes)
    finally:
        layer.set_weights(weights)


def check_not_affine(model: keras.Model, latent_dim: int, seed: int = 43) -> None:
    """Refuse a decoder that is an affine function of the code.

    For an affine ``f``, ``f(a) + f(b) - f(0) - f(a + b) = 0``; the check compares that
    gap with the size of the outputs. For an affine decoder it is rounding, about 1e-7
    of the outputs (5e-4 with TF32 matrix products on a GPU); with ReLU, tanh or ELU
    hidden layers it is 0.07 to 0.5 of them. The threshold is 0.01.

    Parameters
    ----------
    model : keras.Model
        The decoder, taking codes of shape ``(None, latent_dim)``.
    latent_dim : int
        The length of one code.
    seed : int
        Seed of the two batches of 64 standard normal codes.

    Raises
    ------
    CheckFailed
        If the gap is below 1 % of the outputs.
    """
    rng = np.random.default_rng(seed)
    z_a, z_b = rng.normal(size=(2, 64, latent_dim)).astype(np.float32)
    outputs_a, outputs_b = _run(model, z_a), _run(model, z_b)
    gap = outputs_a + outputs_b - _run(model, np.zeros_like(z_a)) - _run(model, z_a + z_b)
    scale = np.max(np.abs(outputs_a)) + np.max(np.abs(outputs_b))
    expect(np.max(np.abs(gap)) > 0.01 * scale, _AFFINE_ADVICE)


def check_vae_accepts(model: keras.Model, encoder: keras.Model | None = None) -> None:
    """Refuse a decoder that the course's VAE class does not accept.

    Parameters
    ----------
    model : keras.Model
        The decoder.
    encoder : keras.Model, optional
        An encoder with outputs ``[z_mean, z_log_var]`` to pair it with; by default the
        course's dense encoder for 28 x 28 x 1 images with the decoder's latent size.

    Raises
    ------
    CheckFailed
        Quoting the VAE's own error.
    """
    from course_utils.models.networks import build_dense_encoder
    from course_utils.models.vae import VAE

    if encoder is None:
        encoder = build_dense_encoder(int(model.inputs[0].shape[1]), gaussian=True)
    try:
        VAE(encoder, model)
    except (ValueError, TypeError) as error:
        raise CheckFailed(f"The course's VAE class does not accept your decoder: {error}") \
            from None


def check_logits_decoder(model: object, latent_dim: int,
                         image_shape: tuple[int, ...] = (28, 28, 1), *,
                         encoder: keras.Model | None = None, seed: int = 43) -> None:
    """Run every shared decoder check: shapes, activation, range, non-linearity, VAE.

    Parameters
    ----------
    model : object
        What the learner's builder returned for ``latent_dim``.
    latent_dim : int
        The code size the builder was called with.
    image_shape : tuple of int
        Shape of one image, without the batch axis.
    encoder : keras.Model, optional
        Encoder for the VAE check (see :func:`check_vae_accepts`); needed when
        ``image_shape`` is not (28, 28, 1).
    seed : int
        Seed of the codes the decoder is run on.

    Raises
    ------
    CheckFailed
        From the first check that fails, with advice naming the wrong part.
    """
    check_decoder_shapes(model, latent_dim, image_shape)
    check_logits_activation(model)
    check_output_range(amplified_outputs(model, latent_dim, seed))
    check_not_affine(model, latent_dim, seed=seed)
    check_vae_accepts(model, encoder)
