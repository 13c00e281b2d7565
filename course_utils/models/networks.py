"""Encoders and decoders built with the Keras 3 functional API.

The same dense building blocks serve the plain autoencoder of lesson 01 and the
VAEs of later lessons: a VAE encoder is a dense (or convolutional) trunk with two
heads, a plain encoder has one.
"""

from __future__ import annotations

import keras
from keras import layers

from course_utils._validation import check_int_sequence, check_positive_int

__all__ = [
    "last_activation",
    "IMAGE_SHAPE",
    "build_autoencoder",
    "build_conv_decoder",
    "build_conv_encoder",
    "build_dense_decoder",
    "build_dense_encoder",
]

IMAGE_SHAPE = (28, 28, 1)
_DECODER_OUTPUTS = ("sigmoid", "logits")


def _dense_trunk(inputs, hidden: tuple[int, ...]):
    x = layers.Flatten(name="flatten")(inputs)
    for i, width in enumerate(hidden):
        x = layers.Dense(width, activation="relu", name=f"dense_{i + 1}")(x)
    return x


def build_dense_encoder(latent_dim: int = 2, hidden=(512, 256), *,
                        gaussian: bool = False) -> keras.Model:
    """Dense encoder: image (28, 28, 1) -> flatten -> ReLU layers -> code.

    Parameters
    ----------
    latent_dim : int
        Size of the code.
    hidden : sequence of int
        Widths of the hidden layers, input side first (the classic 512, 256).
    gaussian : bool
        False: one output, the code, shape ``(batch, latent_dim)`` (an autoencoder).
        True: two outputs ``[z_mean, z_log_var]``, each ``(batch, latent_dim)``
        (the approximate posterior of a VAE).

    Returns
    -------
    keras.Model
        Named ``"encoder"``; input shape ``(batch, 28, 28, 1)``.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    hidden = check_int_sequence(hidden, "hidden")
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = _dense_trunk(inputs, hidden)
    if not gaussian:
        code = layers.Dense(latent_dim, name="code")(x)
        return keras.Model(inputs, code, name="encoder")
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


def build_dense_decoder(latent_dim: int = 2, hidden=(256, 512), *,
                        output: str = "logits") -> keras.Model:
    """Dense decoder: code -> ReLU layers -> 784 -> image (28, 28, 1).

    Parameters
    ----------
    latent_dim : int
        Size of the code it decodes.
    hidden : sequence of int
        Widths of the hidden layers, code side first (the classic 256, 512).
    output : {"logits", "sigmoid"}
        ``"logits"``: unbounded pixel logits, for losses computed from logits (VAEs);
        ``"sigmoid"``: pixel intensities in (0, 1), for a plain autoencoder.

    Returns
    -------
    keras.Model
        Named ``"decoder"``; input ``(batch, latent_dim)``, output ``(batch, 28, 28, 1)``.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    hidden = check_int_sequence(hidden, "hidden")
    if output not in _DECODER_OUTPUTS:
        raise ValueError(f"output must be one of {_DECODER_OUTPUTS}; got {output!r}. Use "
                         "'logits' for a VAE.")
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    for i, width in enumerate(hidden):
        x = layers.Dense(width, activation="relu", name=f"dense_{i + 1}")(x)
    activation = "sigmoid" if output == "sigmoid" else None
    x = layers.Dense(28 * 28, activation=activation, name="pixels")(x)
    outputs = layers.Reshape(IMAGE_SHAPE, name="image")(x)
    return keras.Model(inputs, outputs, name="decoder")


def build_conv_encoder(latent_dim: int = 2) -> keras.Model:
    """Convolutional VAE encoder of the classic Keras example.

    Conv2D(32, 3, stride 2) -> Conv2D(64, 3, stride 2) -> Flatten -> Dense(16) -> two
    heads. All hidden layers use ReLU and ``"same"`` padding, so the feature maps are
    14 x 14 x 32 and then 7 x 7 x 64.

    Parameters
    ----------
    latent_dim : int
        Size of the code.

    Returns
    -------
    keras.Model
        Named ``"encoder"``; input ``(batch, 28, 28, 1)``, outputs ``[z_mean, z_log_var]``,
        each ``(batch, latent_dim)``.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv_1")(inputs)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="conv_2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(16, activation="relu", name="dense")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


def build_conv_decoder(latent_dim: int = 2, *, output: str = "logits") -> keras.Model:
    """Convolutional VAE decoder of the classic Keras example, mirroring the encoder.

    Dense(7 * 7 * 64) -> Reshape(7, 7, 64) -> Conv2DTranspose(64, 3, stride 2) ->
    Conv2DTranspose(32, 3, stride 2) -> Conv2DTranspose(1, 3). Hidden layers use ReLU
    and ``"same"`` padding (7 -> 14 -> 28 pixels).

    Parameters
    ----------
    latent_dim : int
        Size of the code it decodes.
    output : {"logits", "sigmoid"}
        ``"logits"``: unbounded pixel logits, for losses computed from logits (VAEs);
        ``"sigmoid"``: pixel intensities in (0, 1), as in the original Keras example.
        The parameter count is the same either way.

    Returns
    -------
    keras.Model
        Named ``"decoder"``; input ``(batch, latent_dim)``, output ``(batch, 28, 28, 1)``.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    if output not in _DECODER_OUTPUTS:
        raise ValueError(f"output must be one of {_DECODER_OUTPUTS}; got {output!r}. Use "
                         "'logits' for a VAE.")
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(7 * 7 * 64, activation="relu", name="dense")(inputs)
    x = layers.Reshape((7, 7, 64), name="reshape")(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu",
                               name="deconv_1")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu",
                               name="deconv_2")(x)
    activation = "sigmoid" if output == "sigmoid" else None
    outputs = layers.Conv2DTranspose(1, 3, padding="same", activation=activation,
                                     name="image")(x)
    return keras.Model(inputs, outputs, name="decoder")


def build_autoencoder(latent_dim: int = 2, hidden=(512, 256), *,
                      output: str = "sigmoid") -> tuple[keras.Model, ...]:
    """A dense autoencoder 784 -> hidden -> latent_dim -> reversed(hidden) -> 784.

    Parameters
    ----------
    latent_dim : int
        Size of the code.
    hidden : sequence of int
        Widths of the encoder's hidden layers, image side first; the decoder mirrors them.
    output : {"sigmoid", "logits"}
        ``"sigmoid"``: reconstructions are pixel intensities in (0, 1) (for a loss such
        as the MSE); ``"logits"``: the decoder returns pixel logits, for a Bernoulli
        loss computed from logits (``losses.bernoulli_nll_from_logits``, as the VAEs
        use); apply a sigmoid to get intensities.

    Returns
    -------
    autoencoder, encoder, decoder : keras.Model
        ``autoencoder`` maps ``(batch, 28, 28, 1)`` to ``(batch, 28, 28, 1)`` and shares
        its weights with ``encoder`` (output ``(batch, latent_dim)``) and ``decoder``.
        It is not compiled.

    Raises
    ------
    TypeError, ValueError
        For a latent size or widths that are not positive integers, or an unknown
        ``output``.
    """
    encoder = build_dense_encoder(latent_dim, hidden)
    decoder = build_dense_decoder(latent_dim, tuple(reversed(tuple(hidden))), output=output)
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    return autoencoder, encoder, decoder


def last_activation(model: keras.Model) -> str | None:
    """Name of the activation of the last layer that has one.

    Layers are searched from the output backwards; layers without an ``activation``
    attribute (``Reshape``, ``Flatten``, ``Lambda``, plain ops) are skipped, so a
    ``Dense`` layer followed by a ``Reshape`` reports the ``Dense`` layer's activation,
    and ``layers.Activation("sigmoid")`` reports ``"sigmoid"``. A layer built with
    ``activation=None`` reports ``"linear"`` (Keras' name for no activation).

    Parameters
    ----------
    model : keras.Model
        A built model.

    Returns
    -------
    str or None
        The activation's name, e.g. ``"linear"``, ``"relu"``, ``"sigmoid"``; None when
        no layer of the model has an activation (there is nothing to judge: the other
        checks look at the outputs instead).

    Raises
    ------
    TypeError
        If ``model`` is not a keras.Model.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got {type(model).__name__}. Pass the "
                        "decoder you built.")
    for layer in reversed(model.layers):
        activation = getattr(layer, "activation", None)
        if activation is not None:
            return getattr(activation, "__name__", type(activation).__name__)
    return None
