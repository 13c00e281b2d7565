"""Exercises for lesson 04 (the convolutional VAE, and Fashion-MNIST).

* ``q1``: the output size of a Conv2D layer, for ``"same"`` and ``"valid"`` padding.
* ``q2``: the parameter count of a Conv2D (or Conv2DTranspose) layer.
* ``q3``: find the bug: a convolutional decoder that ends in ReLU, trained with BCE.
* ``q4``: find the bug: the reconstruction loss of the classic Keras example, right for
  greyscale images, averages over the channels of colour images.
* ``q5``: the receptive field of a stack of strided convolutions.

Each checker runs the answer on its own fixed inputs, compares it with the reference,
and recognises the typical mistakes, saying what is wrong without giving the code away.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import numpy as np
from keras import layers
from numpy.typing import ArrayLike

from course_utils import losses, models, vae
from course_utils.exercises.core import CheckFailed, Exercise, expect

__all__ = [
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "conv_output_size",
    "conv_parameter_count",
    "buggy_conv_decoder",
    "fixed_conv_decoder",
    "buggy_reconstruction_loss",
    "reconstruction_loss",
    "receptive_field",
]


def _whole_numbers(answer: Callable, cases: list[tuple], what: str) -> np.ndarray:
    """The learner's answers for ``cases`` as integers, or advice if they are not."""
    results = []
    for case in cases:
        value = answer(*case)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise CheckFailed(f"For {case} your function returned {value!r}, not a number: "
                              f"return {what} as a whole number.") from None
        expect(number == round(number),
               f"For {case} your function returned {number:g}, which is not a whole "
               f"number: {what} is a count. Check how you divide and round.")
        results.append(int(round(number)))
    return np.array(results)


def _float_result(value: object, what: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"Your function returned {type(value).__name__}, not numbers: "
                          f"return {what}.") from None


# --- 4.1 output size of a strided convolution ----------------------------------------------

def conv_output_size(size: int, kernel_size: int, stride: int, padding: str) -> int:
    """Output height (or width) of a Keras Conv2D layer.

    Parameters
    ----------
    size : int
        Input height (or width) in pixels.
    kernel_size, stride : int
        Kernel size and stride along that axis.
    padding : {"same", "valid"}
        Keras' padding mode.

    Returns
    -------
    int
        ``ceil(size / stride)`` for ``"same"``; ``floor((size - kernel_size) / stride) + 1``
        for ``"valid"``.
    """
    if padding == "same":
        return -(-size // stride)
    if padding == "valid":
        return (size - kernel_size) // stride + 1
    raise ValueError(f"padding must be 'same' or 'valid'; got {padding!r}.")


# (size, kernel_size, stride): odd and even sizes, strides 1 to 3, kernels 1 to 5.
_SIZE_CASES = [(28, 3, 2), (14, 3, 2), (7, 3, 2), (28, 5, 1), (10, 4, 3), (13, 3, 2),
               (10, 4, 1), (9, 1, 2), (28, 2, 2)]


def _same_group_advice(got: np.ndarray, cases: list[tuple]) -> str:
    sizes = np.array([c[0] for c in cases])
    kernels = np.array([c[1] for c in cases])
    strides = np.array([c[2] for c in cases])
    if np.array_equal(got, sizes // strides):
        return ("For padding='same' your size is one too small when the stride does not "
                "divide the input (e.g. size 7, stride 2). 'same' padding adds zeros so that "
                "the last, partial window still counts: which way should you round?")
    if np.array_equal(got, (sizes - kernels) // strides + 1):
        return ("For padding='same' you give the 'valid' size. 'same' pads the input with "
                "zeros so that no window position is lost at the border.")
    if np.array_equal(got, sizes):
        return ("For padding='same' your size ignores the stride: a stride of 2 visits every "
                "other position.")
    if np.array_equal(got, (sizes + 2 * (kernels // 2) - kernels) // strides + 1):
        return ("For padding='same' you pad kernel_size // 2 zeros on each side. That works for "
                "odd kernels but not for even ones (try kernel 4, stride 1): with 'same' the "
                "output size does not depend on the kernel size at all.")
    return ("For padding='same' some of your sizes are wrong. Keras' 'same' padding "
            "depends only on the input size and the stride.")


def _valid_group_advice(got: np.ndarray, cases: list[tuple]) -> str:
    sizes = np.array([c[0] for c in cases])
    kernels = np.array([c[1] for c in cases])
    strides = np.array([c[2] for c in cases])
    if np.array_equal(got, (sizes - kernels) // strides):
        return ("For padding='valid' your size is one too small: count the window positions "
                "including the first one, at offset 0.")
    if np.array_equal(got, -(-sizes // strides)):
        return ("For padding='valid' you give the 'same' size. 'valid' adds no zeros, so a "
                "window must fit entirely inside the input.")
    if np.array_equal(got, sizes - kernels + 1):
        return "For padding='valid' your size ignores the stride."
    if np.array_equal(got, (sizes - kernels + 1) // strides):
        return ("For padding='valid' your size is sometimes one too small: after the first "
                "window, how many more steps of `stride` fit?")
    return ("For padding='valid' some of your sizes are wrong. Count how many positions of "
            "a kernel_size-wide window fit inside the input, stepping by the stride.")


def _check_conv_output_size(answer: Callable) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q1.check(my_output_size).")
    for padding, advise in (("same", _same_group_advice), ("valid", _valid_group_advice)):
        cases = [(size, kernel, stride, padding) for size, kernel, stride in _SIZE_CASES]
        got = _whole_numbers(answer, cases, "the output size")
        want = np.array([conv_output_size(*case) for case in cases])
        if not np.array_equal(got, want):
            raise CheckFailed(advise(got, cases))


q1 = Exercise(
    "Exercise 4.1: the output size of a strided convolution",
    _check_conv_output_size,
    conv_output_size,
    hints=(
        "Draw a row of `size` pixels and slide a window of `kernel_size` pixels along it, "
        "`stride` pixels at a time. With 'valid' the window must stay inside; with 'same' "
        "Keras pads zeros so that every stride-th position gets an output.",
        "'valid': the first window starts at 0 and the last may start at size - kernel_size; "
        "count the starts. 'same': the answer is size / stride, rounded up.",
    ),
    forbidden=(),  # course_utils has no output-size formula of its own
)


# --- 4.2 parameters of a convolution --------------------------------------------------------

def conv_parameter_count(kernel_size: int, in_channels: int, filters: int) -> int:
    """Parameters of a Conv2D or Conv2DTranspose layer with a square kernel and biases.

    Parameters
    ----------
    kernel_size : int
        The kernel is ``kernel_size x kernel_size``.
    in_channels, filters : int
        Channels of the layer's input and of its output.

    Returns
    -------
    int
        ``kernel_size**2 * in_channels * filters + filters``.
    """
    return kernel_size * kernel_size * in_channels * filters + filters


_PARAMETER_CASES = [(3, 1, 32), (3, 32, 64), (3, 64, 64), (3, 64, 32), (3, 32, 1),
                    (5, 3, 8), (1, 16, 4), (4, 2, 3)]


def _check_conv_parameter_count(answer: Callable) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q2.check(my_count).")
    got = _whole_numbers(answer, _PARAMETER_CASES, "the parameter count")
    k, c_in, c_out = (np.array(column) for column in zip(*_PARAMETER_CASES))
    want = np.array([conv_parameter_count(*case) for case in _PARAMETER_CASES])
    if np.array_equal(got, want):
        return
    mistakes = [
        (k * k * c_in * c_out,
         "You count only the kernel weights. Each filter also has one more parameter."),
        (k * k * c_out + c_out,
         "Your count does not grow with the number of input channels. A filter looks at "
         "every input channel at once: how many weights does one filter then hold?"),
        (k * c_in * c_out + c_out,
         "Your count grows with kernel_size, not with the kernel's area. A 2-D kernel of "
         "size 3 covers a 3 x 3 patch."),
        (k * k * c_in * c_out + c_in,
         "The biases are right in spirit but counted per input channel. There is one bias "
         "per output channel (per filter)."),
        ((k * k + 1) * c_in * c_out,
         "You give every (input channel, filter) pair its own bias. A filter adds one bias "
         "after summing over all its input channels."),
    ]
    for values, advice in mistakes:
        if np.array_equal(got, values):
            raise CheckFailed(advice)
    first = next(i for i in range(len(want)) if got[i] != want[i])
    raise CheckFailed(f"For kernel_size={k[first]}, in_channels={c_in[first]}, "
                      f"filters={c_out[first]} your count ({got[first]}) is not right. Count "
                      "the weights of one filter, multiply by the number of filters, then "
                      "add the biases.")


q2 = Exercise(
    "Exercise 4.2: count the parameters of a convolution",
    _check_conv_parameter_count,
    conv_parameter_count,
    hints=(
        "One filter is a kernel_size x kernel_size window over ALL input channels, plus a "
        "bias. The layer has `filters` of them.",
        "Weights: kernel_size * kernel_size * in_channels per filter. Biases: one per filter.",
    ),
    forbidden=(),  # course_utils has no parameter count of its own
)


# --- 4.3 find the bug: a decoder that ends in ReLU -----------------------------------------

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


def _decoder_parameters(latent_dim: int) -> int:
    """Parameters of the decoder above, counted layer by layer."""
    return ((latent_dim + 1) * 7 * 7 * 64              # Dense
            + conv_parameter_count(3, 64, 64)          # Conv2DTranspose 7 -> 14
            + conv_parameter_count(3, 64, 32)          # Conv2DTranspose 14 -> 28
            + conv_parameter_count(3, 32, 1))          # output layer


def _last_activation(model: keras.Model) -> str:
    for layer in reversed(model.layers):
        activation = getattr(layer, "activation", None)
        if activation is not None:
            return getattr(activation, "__name__", str(activation))
    return "linear"


def _check_decoder(answer: Callable) -> None:
    expect(callable(answer), "Pass your builder function itself, e.g. "
                             "ex.q3.check(my_conv_decoder).")
    latent_dim = 3
    model = answer(latent_dim)
    expect(isinstance(model, keras.Model),
           f"Your function returned {type(model).__name__}; it should return the decoder, "
           "a keras.Model.")
    shape = tuple(model.outputs[0].shape[1:]) if len(model.outputs) == 1 else None
    expect(shape == (28, 28, 1),
           f"Your decoder's output has shape {shape}; it must output one image of shape "
           "(28, 28, 1) per code.")
    activation = _last_activation(model)
    expect(activation != "relu",
           "Your decoder still ends in a ReLU. The VAE's loss reads the output as logits: "
           "a ReLU makes every logit >= 0, so every pixel gets a probability of at least "
           "1/2, even the black background. Which output activation lets logits take any "
           "value?")
    expect(activation != "sigmoid",
           "A sigmoid is the right final step for pixel PROBABILITIES, as in the original "
           "Keras example. But the course's VAE loss works on logits and applies the "
           "sigmoid itself, so here it would be applied twice, squeezing every pixel "
           "probability into (0.5, 0.73). What should the last layer output instead?")
    expect(activation == "linear",
           f"Your output layer uses the '{activation}' activation, which restricts the "
           "values it can produce. The decoder must output logits: any real number, "
           "negative for pixels that are likely dark.")
    codes = np.random.default_rng(7).normal(size=(16, latent_dim)).astype(np.float32)
    outputs = keras.ops.convert_to_numpy(model(codes, training=False))
    expect(bool(np.all(np.isfinite(outputs))), "Your decoder outputs NaN or inf.")
    expect(float(outputs.min()) < 0.0 < float(outputs.max()),
           "Your decoder's outputs never change sign: something still clips them. Logits "
           "must be free to be negative (dark pixel) or positive (ink).")
    expected = _decoder_parameters(latent_dim)
    expect(model.count_params() == expected,
           f"Your decoder has {model.count_params():,} parameters, the buggy one "
           f"{expected:,} (for latent_dim={latent_dim}). The fix needs only the output "
           "layer's activation: keep every layer and its size.")


q3 = Exercise(
    "Exercise 4.3: find the bug in a convolutional decoder",
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


# --- 4.4 find the bug: a reconstruction loss that averages over channels ------------------

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


def _loss_inputs(seed: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=shape)
    x[rng.uniform(size=shape) < 0.4] = 0.0  # a black background, as in MNIST
    logits = rng.normal(scale=2.0, size=shape)
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
    expect(callable(answer), "Pass your function itself, e.g. ex.q4.check(my_loss).")
    for seed, shape in _LOSS_CASES:
        batch, height, width, channels = shape
        x, logits = _loss_inputs(seed, shape)
        got = _float_result(answer(x.copy(), logits.copy()), "one number (a float)")
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
        expect(np.isfinite(value),
               "Your loss is NaN or inf. Logits can be any real number, negative ones too: "
               "do you take the log of something that can be 0 or negative?")
        if np.isclose(value, want, rtol=1e-4):
            continue
        values = height * width * channels
        if channels > 1 and np.isclose(value, want / channels, rtol=1e-4):
            raise CheckFailed(
                f"Right for one channel, but for images with {channels} channels your loss is "
                f"{channels} times too small: something averages over the channel axis. "
                "Which axis does Keras' binary_crossentropy reduce, and how? Every channel "
                "of every pixel is a value the decoder must explain, so they all add up.")
        if np.isclose(value, want / values, rtol=1e-4):
            raise CheckFailed(
                f"Your loss is {values} times too small (the number of values in one image "
                f"of shape {shape[1:]}): it averages over the pixels. The log-likelihood of "
                "independent pixels is a sum, and a mean quietly makes the KL term weigh "
                "that many times more.")
        if np.isclose(value, want * batch, rtol=1e-4):
            raise CheckFailed(
                f"Your loss is {batch} times too large (the batch size): it sums over the "
                "images of the batch. Average over the batch instead, so the loss does not "
                "depend on the batch size.")
        if any(np.isclose(value, reading, rtol=1e-3)
               for reading in _probability_readings(x, logits)):
            raise CheckFailed(
                "Your loss reads the logits as probabilities. The decoder outputs logits: "
                "tell the loss so, or turn them into probabilities first.")
        raise CheckFailed(
            f"Right shape, wrong value for images of shape {shape[1:]}. Per value the loss "
            "is the binary cross-entropy between the target and sigmoid(logit); check that "
            "formula, then the reductions: sum within an image, average over the batch.")


q4 = Exercise(
    "Exercise 4.4: find the bug that only colour images reveal",
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


# --- 4.5 the receptive field of a stack of convolutions -----------------------------------

def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int]) -> int:
    """Width in input pixels of the region that one output of a conv stack depends on.

    Parameters
    ----------
    kernel_sizes, strides : sequence of int, length n_layers
        Kernel size and stride of each layer, the layer next to the image first.

    Returns
    -------
    int
        ``1 + sum_i (k_i - 1) * prod_{j < i} s_j``.
    """
    field, spacing = 1, 1  # spacing: input pixels between neighbouring outputs so far
    for kernel_size, stride in zip(kernel_sizes, strides):
        field += (kernel_size - 1) * spacing
        spacing *= stride
    return field


_FIELD_CASES = [([3, 3], [2, 2]), ([3], [1]), ([3, 3, 3], [1, 1, 1]), ([5, 3], [1, 2]),
                ([3, 5], [2, 1]), ([3, 3, 3], [2, 2, 2]), ([7, 3, 3], [2, 1, 2]),
                ([4, 2], [2, 2]), ([1, 1], [2, 2])]


def _field_mistakes(kernels: list[int], strides: list[int]) -> dict[str, int]:
    """Values of typical wrong formulas for one stack, keyed by the advice for each."""
    scaled_by_own_stride, spacing = 1, 1
    for kernel_size, stride in zip(kernels, strides):
        spacing *= stride
        scaled_by_own_stride += (kernel_size - 1) * spacing
    return {
        "Your fields ignore the strides. After a stride-2 layer, neighbouring outputs are "
        "2 input pixels apart, so each step of the next kernel covers more of the image.":
            1 + sum(k - 1 for k in kernels),
        "Adding the kernel sizes counts the pixels where neighbouring windows overlap more "
        "than once, and ignores the strides. Follow the window of one output back to the "
        "image, one layer at a time.":
            sum(kernels),
        "Multiplying the kernel sizes overcounts: neighbouring windows overlap. Follow "
        "the window of one output back to the image, one layer at a time.":
            int(np.prod(kernels)),
        "You scale each layer's kernel by its own stride as well. A layer's stride spreads "
        "out the positions of the layers AFTER it, not its own window.":
            scaled_by_own_stride,
        "Your answer would be right if the lists started with the layer farthest from the "
        "image. The first kernel size and stride are those of the layer next to the image.":
            receptive_field(kernels[::-1], strides[::-1]),
    }


def _check_receptive_field(answer: Callable) -> None:
    expect(callable(answer), "Pass your function itself, e.g. ex.q5.check(my_field).")
    cases = [(list(k), list(s)) for k, s in _FIELD_CASES]
    got = _whole_numbers(answer, [(list(k), list(s)) for k, s in cases], "the receptive field")
    want = np.array([receptive_field(k, s) for k, s in cases])
    if np.array_equal(got, want):
        return
    mistakes: dict[str, list[int]] = {}
    for kernels, strides in cases:
        for advice, value in _field_mistakes(kernels, strides).items():
            mistakes.setdefault(advice, []).append(value)
    for advice, values in mistakes.items():
        if np.array_equal(got, values):
            raise CheckFailed(advice)
    first = next(i for i in range(len(want)) if got[i] != want[i])
    kernels, strides = cases[first]
    raise CheckFailed(f"For kernel_sizes={kernels}, strides={strides} your field "
                      f"({got[first]}) is not right. Start from one output of the last layer "
                      "and widen the region layer by layer towards the image.")


q5 = Exercise(
    "Exercise 4.5: how much of the image does one output see?",
    _check_receptive_field,
    receptive_field,
    hints=(
        "A single layer with kernel k sees k pixels. Each further layer adds (k - 1) "
        "neighbouring positions of the layer below it; how many input pixels apart are "
        "those positions?",
        "Keep two numbers while walking from the image upwards: the field so far, and the "
        "spacing in input pixels between neighbouring outputs (the product of the strides "
        "so far). Each layer adds (k - 1) * spacing to the field, then multiplies the "
        "spacing by its stride.",
    ),
    forbidden=(),  # course_utils has no receptive-field formula of its own
)
