"""The lesson 04 checkers: right answers pass, typical mistakes get specific advice."""

import math

import keras
import numpy as np
import pytest
from exercise_contract import assert_exercise_contract, assert_graded_contract, assert_incorrect
from keras import layers

from course_utils.exercises import lesson04 as ex
from course_utils.losses import bernoulli_nll_from_logits

QUESTIONS = (ex.q1, ex.q2, ex.q3, ex.q4, ex.q5)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.title[:13])
def test_exercise_contract(question):
    assert_exercise_contract(question)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.title[:13])
def test_graded_copies_refuse_every_shortcut(question):
    assert_graded_contract(question)


_failed = assert_incorrect


# --- 4.1 output size ---------------------------------------------------------------------

def test_q1_reference_agrees_with_keras():
    for size, kernel, stride in [(28, 3, 2), (7, 3, 2), (10, 4, 1), (10, 4, 3), (13, 5, 3)]:
        for padding in ("same", "valid"):
            layer = layers.Conv2D(1, kernel, strides=stride, padding=padding)
            height = layer.compute_output_shape((None, size, size, 1))[1]
            assert ex.conv_output_size(size, kernel, stride, padding) == height


def test_q1_accepts_reference_and_other_correct_forms():
    assert ex.q1.check(ex.conv_output_size).passed

    def with_math(size, kernel_size, stride, padding):
        if padding == "same":
            return math.ceil(size / stride)
        return math.floor((size - kernel_size) / stride) + 1

    def counting(size, kernel_size, stride, padding):
        if padding == "same":
            return len(range(0, size, stride))
        return len(range(0, size - kernel_size + 1, stride))

    def float_but_whole(size, kernel_size, stride, padding):
        return float(np.ceil(size / stride)) if padding == "same" else \
            float((size - kernel_size) // stride + 1)

    for answer in (with_math, counting, float_but_whole):
        assert ex.q1.check(answer).passed, answer.__name__


def _valid_right(size, kernel_size, stride):
    return (size - kernel_size) // stride + 1


def test_q1_detects_rounding_down_for_same_padding():
    def floor_same(size, kernel_size, stride, padding):
        return size // stride if padding == "same" else _valid_right(size, kernel_size, stride)

    _failed(ex.q1, floor_same, "one too small", "padding='same'")


def test_q1_detects_kernel_dependent_same_and_missing_plus_one():
    def half_kernel_padding(size, kernel_size, stride, padding):
        pad = kernel_size // 2 if padding == "same" else 0
        return (size + 2 * pad - kernel_size) // stride + 1

    def no_plus_one(size, kernel_size, stride, padding):
        return -(-size // stride) if padding == "same" else (size - kernel_size) // stride

    def true_division(size, kernel_size, stride, padding):
        return -(-size // stride) if padding == "same" else (size - kernel_size) / stride + 1

    def same_for_both(size, kernel_size, stride, padding):
        return -(-size // stride)

    _failed(ex.q1, half_kernel_padding, "even", "does not depend on the kernel size")
    _failed(ex.q1, no_plus_one, "padding='valid'", "one too small")
    _failed(ex.q1, true_division, "not a whole number")
    _failed(ex.q1, same_for_both, "'same' size", "fit entirely inside")


# --- 4.2 parameter count -----------------------------------------------------------------

def test_q2_reference_agrees_with_keras_for_both_kinds_of_layer():
    for kernel, c_in, filters in [(3, 1, 32), (3, 64, 32), (5, 3, 8), (1, 16, 4)]:
        want = ex.conv_parameter_count(kernel, c_in, filters)
        for kind in (layers.Conv2D, layers.Conv2DTranspose):
            layer = kind(filters, kernel)
            layer.build((None, 12, 12, c_in))
            assert layer.count_params() == want


def test_q2_accepts_reference_and_a_layer_by_layer_version():
    assert ex.q2.check(ex.conv_parameter_count).passed

    def per_filter(kernel_size, in_channels, filters):
        one_filter = kernel_size ** 2 * in_channels + 1
        return one_filter * filters

    assert ex.q2.check(per_filter).passed


def test_q2_detects_typical_miscounts():
    _failed(ex.q2, lambda k, c_in, c_out: k * k * c_in * c_out, "only the kernel weights")
    _failed(ex.q2, lambda k, c_in, c_out: k * k * c_out + c_out, "input channels")
    _failed(ex.q2, lambda k, c_in, c_out: k * c_in * c_out + c_out, "area")
    _failed(ex.q2, lambda k, c_in, c_out: k * k * c_in * c_out + c_in, "per output channel")
    message = _failed(ex.q2, lambda k, c_in, c_out: k * k * c_in * c_out + 2 * c_out,
                      "is not right")
    assert "kernel_size=3, in_channels=1, filters=32" in message


# --- 4.3 the ReLU decoder ----------------------------------------------------------------

def _decoder(latent_dim, last_activation=None, extra=None):
    inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    if extra is not None:
        x = extra(x)
    x = layers.Conv2DTranspose(1, 3, padding="same", activation=last_activation)(x)
    return keras.Model(inputs, x)


def test_q3_reference_is_the_buggy_decoder_without_the_relu():
    fixed, buggy = ex.fixed_conv_decoder(3), ex.buggy_conv_decoder(3)
    # Dense (3 + 1) * 3136, then 3 x 3 kernels 64->64, 64->32, 32->1, each with biases.
    by_hand = 4 * 3136 + (9 * 64 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 + 1)
    assert fixed.count_params() == buggy.count_params() == by_hand
    assert fixed.layers[-1].activation.__name__ == "linear"
    assert buggy.layers[-1].activation.__name__ == "relu"


def test_q3_accepts_reference_and_an_explicit_linear_output():
    assert ex.q3.check(ex.fixed_conv_decoder).passed
    assert ex.q3.check(lambda d: _decoder(d, last_activation="linear")).passed


def test_q3_detects_relu_sigmoid_and_other_squashing_outputs():
    relu = _failed(ex.q3, ex.buggy_conv_decoder, "still ends in a ReLU", "at least 1/2")
    sigmoid = _failed(ex.q3, lambda d: _decoder(d, "sigmoid"), "applied twice")
    tanh = _failed(ex.q3, lambda d: _decoder(d, "tanh"), "'tanh'", "logits")
    for message in (relu, sigmoid, tanh):
        assert "activation=None" not in message and "Conv2DTranspose(1" not in message


def test_q3_detects_a_hidden_clip_a_changed_architecture_and_a_wrong_shape():
    def clipped(latent_dim):
        model = _decoder(latent_dim)
        return keras.Model(model.inputs[0], layers.Lambda(keras.ops.abs)(model.outputs[0]))

    _failed(ex.q3, clipped, "never change sign")
    _failed(ex.q3, lambda d: _decoder(d, extra=layers.Conv2D(32, 3, padding="same")),
            "parameters", "keep every layer")

    def flat(latent_dim):
        inputs = keras.Input(shape=(latent_dim,))
        return keras.Model(inputs, layers.Dense(784)(inputs))

    _failed(ex.q3, flat, "(28, 28, 1)")
    _failed(ex.q3, lambda d: "decoder", "keras.Model")


# --- 4.4 the channel-averaged reconstruction loss ----------------------------------------

def _images_and_logits(shape=(3, 28, 28, 1)):
    rng = np.random.default_rng(0)
    return rng.uniform(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)


def test_q4_reference_agrees_with_the_course_loss_and_the_buggy_one_only_for_one_channel():
    for channels in (1, 3):
        x, logits = _images_and_logits((3, 28, 28, channels))
        course = float(np.mean(keras.ops.convert_to_numpy(bernoulli_nll_from_logits(x, logits))))
        assert ex.reconstruction_loss(x, logits) == pytest.approx(course, rel=1e-5)
        assert ex.buggy_reconstruction_loss(x, logits) == pytest.approx(course / channels,
                                                                        rel=1e-4)


def test_q4_accepts_reference_and_a_keras_version():
    assert ex.q4.check(ex.reconstruction_loss).passed

    def keras_version(x, logits):
        per_value = keras.ops.binary_crossentropy(x, logits, from_logits=True)  # no mean
        return keras.ops.mean(keras.ops.sum(per_value, axis=(1, 2, 3)))

    assert ex.q4.check(keras_version).passed


def test_q4_detects_channel_pixel_and_batch_reductions():
    _failed(ex.q4, ex.buggy_reconstruction_loss, "Right for one channel", "3 times too small",
            "channel axis")

    def pixel_mean(x, logits):
        return keras.ops.mean(keras.ops.binary_crossentropy(x, logits, from_logits=True))

    _failed(ex.q4, pixel_mean, "784 times too small", "KL")

    def batch_sum(x, logits):
        return ex.reconstruction_loss(x, logits) * len(x)

    _failed(ex.q4, batch_sum, "times too large", "batch size")


def test_q4_detects_wrong_shapes_probabilities_and_nan():
    def per_image(x, logits):
        bce = keras.ops.binary_crossentropy(x, logits, from_logits=True)
        return keras.ops.sum(bce, axis=(1, 2, 3))

    def channel_only(x, logits):
        return keras.losses.binary_crossentropy(x, logits, from_logits=True)

    def as_probabilities(x, logits):
        bce = keras.ops.binary_crossentropy(x, logits)  # from_logits forgotten
        return keras.ops.mean(keras.ops.sum(bce, axis=(1, 2, 3)))

    def as_probabilities_numpy(x, logits):
        p = np.clip(logits.astype(np.float64), 1e-7, 1 - 1e-7)
        per_value = -(x * np.log(p) + (1 - x) * np.log(1 - p))
        return per_value.reshape(len(x), -1).sum(axis=1).mean()

    def naive_log(x, logits):
        per_value = -(x * np.log(logits) + (1 - x) * np.log(1 - logits))
        return per_value.reshape(len(x), -1).sum(axis=1).mean()

    _failed(ex.q4, per_image, "one value per image")
    _failed(ex.q4, channel_only, "only the channel axis")
    _failed(ex.q4, as_probabilities, "as probabilities")
    _failed(ex.q4, as_probabilities_numpy, "as probabilities")
    with np.errstate(all="ignore"):
        _failed(ex.q4, naive_log, "NaN")


# --- 4.5 receptive field -----------------------------------------------------------------

def test_q5_reference_matches_fields_worked_out_by_hand():
    # One 3 x 3 layer sees 3 pixels; two stride-1 layers 5; the encoder's two stride-2
    # layers 7 (3, then 2 more positions 2 pixels apart); three stride-2 layers 15.
    assert ex.receptive_field([3], [1]) == 3
    assert ex.receptive_field([3, 3], [1, 1]) == 5
    assert ex.receptive_field([3, 3], [2, 2]) == 7
    assert ex.receptive_field([3, 3, 3], [2, 2, 2]) == 15
    assert ex.receptive_field([5, 3], [1, 2]) == 7   # the last stride never matters
    assert ex.receptive_field([3, 5], [2, 1]) == 11


def test_q5_reference_agrees_with_a_brute_force_dependence_count():
    # Follow the input pixels one output depends on, layer by layer (1-D, valid padding).
    def brute_force(kernels, strides):
        positions = {0}
        for kernel, stride in reversed(list(zip(kernels, strides))):
            positions = {p * stride + offset for p in positions for offset in range(kernel)}
        return max(positions) - min(positions) + 1

    for kernels, strides in ex._FIELD_CASES:
        assert ex.receptive_field(kernels, strides) == brute_force(kernels, strides)


def test_q5_accepts_reference_and_a_top_down_version():
    assert ex.q5.check(ex.receptive_field).passed

    def top_down(kernel_sizes, strides):
        field = 1
        for kernel, stride in zip(reversed(kernel_sizes), reversed(strides)):
            field = (field - 1) * stride + kernel
        return field

    assert ex.q5.check(top_down).passed


def test_q5_detects_typical_mistakes():
    _failed(ex.q5, lambda k, s: 1 + sum(x - 1 for x in k), "ignore the strides")
    _failed(ex.q5, lambda k, s: sum(k), "overlap")
    _failed(ex.q5, lambda k, s: int(np.prod(k)), "Multiplying")

    def own_stride(kernels, strides):
        field, spacing = 1, 1
        for kernel, stride in zip(kernels, strides):
            spacing *= stride
            field += (kernel - 1) * spacing
        return field

    _failed(ex.q5, own_stride, "its own stride")
    _failed(ex.q5, lambda k, s: ex.receptive_field(k[::-1], s[::-1]), "next to the image")
    message = _failed(ex.q5, lambda k, s: ex.receptive_field(k, s) + 1, "is not right")
    assert "kernel_sizes=[3, 3], strides=[2, 2]" in message
