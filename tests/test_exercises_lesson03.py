"""Tests for the lesson 03 exercises: references pass, typical mistakes get specific advice.

Expected values are computed here independently of the references: with the tested
functions of ``course_utils.losses``, with Keras' own loss, by hand-derived numbers,
and against the course's dense decoder.
"""

from __future__ import annotations

from functools import partial

import keras
import numpy as np
import pytest
from exercise_contract import assert_exercise_contract, assert_graded_contract, assert_incorrect
from keras import layers, ops

from course_utils.exercises import lesson03 as ex
from course_utils.losses import negative_elbo
from course_utils.models import build_dense_decoder

QUESTIONS = (ex.q1, ex.q2, ex.q3)


SOLUTION_SNIPPETS = ("axis=1", "axis=-1", ".sum(", "ops.sum(", "np.sum(", "* 784", "784 *",
                     "from_logits=True", "activation=None", "Dense(28 * 28)",
                     "n_pixels / reconstruction_weight")


_assert_incorrect = partial(assert_incorrect, forbidden=SOLUTION_SNIPPETS)


# --------------------------------------------------------------------- every question

@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.title.split(":")[0])
def test_exercise_contract(question):
    assert_exercise_contract(question)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.title.split(":")[0])
def test_graded_copies_refuse_every_shortcut(question):
    assert_graded_contract(question)


# --------------------------------------------------------------------- 3.1 the loss

def _batch(seed=0, batch=8, latent_dim=4):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(batch, 28, 28, 1)).astype("float32")
    logits = rng.normal(scale=3.0, size=x.shape).astype("float32")
    z_mean, z_log_var = rng.normal(size=(2, batch, latent_dim)).astype("float32")
    return x, logits, z_mean, z_log_var


def test_q1_reference_is_the_negative_elbo_of_course_utils_losses():
    inputs = _batch()
    want = float(negative_elbo(*inputs)["loss"])
    assert ex.vae_loss(*inputs) == pytest.approx(want, rel=1e-5)


def test_q1_buggy_loss_is_the_pixel_mean_and_differs_from_the_elbo():
    x, logits, z_mean, z_log_var = _batch(1)
    parts = negative_elbo(x, logits, z_mean, z_log_var)
    want = float(parts["reconstruction_loss"]) / 784 + float(parts["kl_loss"])
    assert ex.buggy_vae_loss(x, logits, z_mean, z_log_var) == pytest.approx(want, rel=1e-5)


def test_q1_accepts_keras_and_numpy_fixes():
    def keras_sum(x, logits, z_mean, z_log_var):
        n = ops.shape(x)[0]
        per_pixel = keras.losses.binary_crossentropy(
            ops.reshape(x, (n, -1, 1)), ops.reshape(logits, (n, -1, 1)), from_logits=True)
        kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
        return ops.mean(ops.sum(per_pixel, axis=1) + kl)

    def keras_times_pixels(x, logits, z_mean, z_log_var):
        n = len(x)
        reconstruction = 784 * keras.losses.binary_crossentropy(
            ops.reshape(x, (n, -1)), ops.reshape(logits, (n, -1)), from_logits=True)
        kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
        return ops.mean(reconstruction + kl)

    def through_probabilities(x, logits, z_mean, z_log_var):
        p = 1 / (1 + np.exp(-logits.astype(np.float64)))
        bce = -(x * np.log(p) + (1 - x) * np.log(1 - p))
        kl = 0.5 * (z_mean**2 + np.exp(z_log_var) - 1 - z_log_var).sum(1)
        return (bce.reshape(len(x), -1).sum(1) + kl).mean()

    def course_functions(x, logits, z_mean, z_log_var):
        return negative_elbo(x, logits, z_mean, z_log_var)["loss"]

    for answer in (keras_sum, keras_times_pixels, through_probabilities, course_functions):
        assert ex.q1.check(answer).passed, answer.__name__


def test_q1_detects_the_pixel_mean_bug_and_says_so():
    message = _assert_incorrect(ex.q1, ex.buggy_vae_loss, "784 times too small",
                                "SUM of the pixels")
    assert "KL term 784 times heavier" in message

    def numpy_pixel_mean(x, logits, z_mean, z_log_var):
        bce = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
        kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)
        return np.mean(bce.reshape(len(x), -1).mean(axis=1) + kl)

    _assert_incorrect(ex.q1, numpy_pixel_mean, "784 times too small")


def test_q1_detects_the_pixel_mean_even_with_a_second_mistake():
    def pixel_mean_and_half_kl(x, logits, z_mean, z_log_var):
        return ex.buggy_vae_loss(x, logits, z_mean, z_log_var) * 0.0 + float(
            negative_elbo(x, logits, 0 * z_mean, 0 * z_log_var)["reconstruction_loss"]
        ) / 784 + 0.5 * float(negative_elbo(x, logits, z_mean, z_log_var)["kl_loss"])

    _assert_incorrect(ex.q1, pixel_mean_and_half_kl, "784 times too small", "second look")


def test_q1_detects_scaling_the_whole_loss_instead_of_the_reconstruction():
    def whole_loss_scaled(x, logits, z_mean, z_log_var):
        return 784 * ex.buggy_vae_loss(x, logits, z_mean, z_log_var)

    _assert_incorrect(ex.q1, whole_loss_scaled, "KL term included", "still the buggy loss")


def test_q1_detects_other_reduction_mistakes():
    def parts(x, logits, z_mean, z_log_var):
        terms = negative_elbo(x, logits, z_mean, z_log_var)
        return float(terms["reconstruction_loss"]), float(terms["kl_loss"])

    def kl_latent_mean(*inputs):
        reconstruction, kl = parts(*inputs)
        return reconstruction + kl / inputs[2].shape[1]

    def per_image(x, logits, z_mean, z_log_var):
        from course_utils.losses import bernoulli_nll_from_logits, kl_divergence_standard_normal
        return (bernoulli_nll_from_logits(x, logits)
                + kl_divergence_standard_normal(z_mean, z_log_var))

    def batch_sum(*inputs):
        return len(inputs[0]) * sum(parts(*inputs))

    _assert_incorrect(ex.q1, kl_latent_mean, "averaged over them instead of summed")
    _assert_incorrect(ex.q1, per_image, "one number per image")
    _assert_incorrect(ex.q1, batch_sum, "6 times too large", "batch size")
    _assert_incorrect(ex.q1, lambda *inputs: parts(*inputs)[0], "no KL term")
    _assert_incorrect(ex.q1, lambda *inputs: -sum(parts(*inputs)), "ELBO itself")
    _assert_incorrect(ex.q1, lambda *inputs: parts(*inputs)[0] - parts(*inputs)[1],
                      "wrong sign")


def test_q1_detects_sigmoid_mistakes_in_the_reconstruction():
    def double_sigmoid(x, logits, z_mean, z_log_var):
        return negative_elbo(x, ops.sigmoid(logits), z_mean, z_log_var)["loss"]

    def logits_as_probabilities(x, logits, z_mean, z_log_var):
        n = len(x)
        reconstruction = 784 * keras.losses.binary_crossentropy(
            ops.reshape(x, (n, -1)), ops.reshape(logits, (n, -1)))
        kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
        return ops.mean(reconstruction + kl)

    def naive_nan(x, logits, z_mean, z_log_var):
        bce = -(x * np.log(logits) + (1 - x) * np.log(1 - logits))
        return np.mean(bce.reshape(len(x), -1).sum(1))

    _assert_incorrect(ex.q1, double_sigmoid, "sigmoid twice")
    _assert_incorrect(ex.q1, logits_as_probabilities, "logits as if they were probabilities")
    with np.errstate(invalid="ignore", divide="ignore"):
        _assert_incorrect(ex.q1, naive_nan, "NaN or infinite")


def test_q1_catches_a_hard_coded_batch_size():
    def assumes_six(x, logits, z_mean, z_log_var):
        return ex.vae_loss(x[:6], logits[:6], z_mean[:6], z_log_var[:6])

    _assert_incorrect(ex.q1, assumes_six, "wrong for another")


# --------------------------------------------------------------------- 3.2 the decoder

def _decoder(latent_dim, *, last="linear", hidden=(256, 512), hidden_activation="relu"):
    z = keras.Input(shape=(latent_dim,))
    h = z
    for width in hidden:
        h = layers.Dense(width, activation=hidden_activation)(h)
    h = layers.Dense(784, activation=last)(h)
    return keras.Model(z, layers.Reshape((28, 28, 1))(h))


def test_q2_reference_matches_the_course_decoder():
    assert ex.logits_decoder(2).count_params() == build_dense_decoder(2).count_params()
    assert ex.logits_decoder(2).count_params() == 534_544
    assert ex.q2.check(lambda k: build_dense_decoder(k, output="logits")).passed
    assert ex.q2.check(lambda k: _decoder(k)).passed


def test_q2_accepts_a_sequential_decoder():
    def sequential(latent_dim):
        return keras.Sequential([keras.Input(shape=(latent_dim,)),
                                 layers.Dense(256, activation="relu"),
                                 layers.Dense(512, activation="relu"),
                                 layers.Dense(784), layers.Reshape((28, 28, 1))])

    assert ex.q2.check(sequential).passed


def test_q2_detects_the_double_sigmoid():
    _assert_incorrect(ex.q2, ex.buggy_decoder, "ends in a sigmoid", "applies a sigmoid of its own")
    _assert_incorrect(ex.q2, lambda k: build_dense_decoder(k, output="sigmoid"),
                      "ends in a sigmoid")

    def separate_activation_layer(latent_dim):
        z = keras.Input(shape=(latent_dim,))
        h = layers.Dense(512, activation="relu")(layers.Dense(256, activation="relu")(z))
        h = layers.Activation("sigmoid")(layers.Dense(784)(h))
        return keras.Model(z, layers.Reshape((28, 28, 1))(h))

    _assert_incorrect(ex.q2, separate_activation_layer, "ends in a sigmoid")

    def sigmoid_hidden_in_an_op(latent_dim):
        z = keras.Input(shape=(latent_dim,))
        h = layers.Dense(512, activation="relu")(layers.Dense(256, activation="relu")(z))
        h = ops.sigmoid(layers.Dense(784)(h))
        return keras.Model(z, layers.Reshape((28, 28, 1))(h))

    _assert_incorrect(ex.q2, sigmoid_hidden_in_an_op, "lie in [0, 1]", "not logits")


def test_q2_detects_relu_and_other_bounded_outputs():
    _assert_incorrect(ex.q2, lambda k: _decoder(k, last="relu"), "ends in a ReLU",
                      "never negative")
    _assert_incorrect(ex.q2, lambda k: _decoder(k, last="tanh"), "'tanh'", "any real value")


def test_q2_detects_a_linear_network_wrong_sizes_and_wrong_shapes():
    _assert_incorrect(ex.q2, lambda k: _decoder(k, hidden_activation=None), "linear")
    _assert_incorrect(ex.q2, lambda k: _decoder(k, hidden=(512, 256, 128)), "parameters",
                      "256 and 512")
    _assert_incorrect(ex.q2, lambda k: _decoder(2), "latent_dim=5")

    def flat_output(latent_dim):
        z = keras.Input(shape=(latent_dim,))
        h = layers.Dense(512, activation="relu")(layers.Dense(256, activation="relu")(z))
        return keras.Model(z, layers.Dense(784)(h))

    _assert_incorrect(ex.q2, flat_output, "(None, 28, 28, 1)")
    _assert_incorrect(ex.q2, lambda k: "a decoder", "return the keras.Model")


# --------------------------------------------------------------------- 3.3 the KL weight

def test_q3_reference_values_by_hand():
    # mean over D pixels, weight w: w * S / D + KL = (w / D) * (S + (D / w) * KL)
    assert ex.implied_kl_weight(784) == pytest.approx(784.0)
    assert ex.implied_kl_weight(1024, 500) == pytest.approx(2.048)
    assert ex.implied_kl_weight(3072, 2000) == pytest.approx(1.536)


def test_q3_reference_agrees_with_the_losses_numerically():
    # The buggy loss, times D, equals the summed reconstruction plus D times the KL.
    x, logits, z_mean, z_log_var = _batch(2)
    terms = negative_elbo(x, logits, z_mean, z_log_var)
    rescaled = 784 * ex.buggy_vae_loss(x, logits, z_mean, z_log_var)
    beta = ex.implied_kl_weight(784)
    want = float(terms["reconstruction_loss"]) + beta * float(terms["kl_loss"])
    assert rescaled == pytest.approx(want, rel=1e-5)


def test_q3_accepts_other_correct_forms():
    assert ex.q3.check(lambda n, w: n * (1 / w)).passed
    assert ex.q3.check(lambda n, w: np.float32(n) / np.float32(w)).passed
    assert ex.q3.check(lambda n, w: np.array([n / w])).passed


def test_q3_detects_the_typical_wrong_answers():
    _assert_incorrect(ex.q3, lambda n, w: w / n, "upside down")
    _assert_incorrect(ex.q3, lambda n, w: n * w, "smaller, not larger")
    _assert_incorrect(ex.q3, lambda n, w: n, "ignores the weight")
    _assert_incorrect(ex.q3, lambda n, w: 1 / w, "ignores the number of pixels")
    _assert_incorrect(ex.q3, lambda n, w: 1.0, "does change the balance")
    _assert_incorrect(ex.q3, lambda n, w: n**0.5 / w, "not over one side")
    _assert_incorrect(ex.q3, lambda n, w: n / w + 1, "n_pixels=784", "not right")
    _assert_incorrect(ex.q3, lambda n, w: [n / w, 1.0], "one number")
