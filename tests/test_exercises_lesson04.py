"""The lesson 04 checkers: right answers pass, typical mistakes get specific advice."""

import keras
import numpy as np
import pytest
from exercise_contract import (
    assert_incorrect,
    contract_tests,
)
from keras import layers

from course_utils.elbo.losses import bernoulli_nll_from_logits, negative_elbo
from course_utils.exercises import lesson04 as ex
from course_utils.exercises.shared import kl_per_dimension

QUESTIONS = (ex.q1, ex.q2, ex.q3)


test_exercise_contract, test_graded_copies_refuse_every_shortcut = contract_tests(QUESTIONS)


_failed = assert_incorrect


# --- 4.1 the per-image negative ELBO -----------------------------------------------------

def _keras_nelbo(x, z_mean, z_log_var, eps, decode):
    z = z_mean + keras.ops.exp(0.5 * z_log_var) * eps
    bce = keras.ops.binary_crossentropy(x, decode(z), from_logits=True)
    kl = -0.5 * keras.ops.sum(1 + z_log_var - z_mean**2 - keras.ops.exp(z_log_var), axis=1)
    return keras.ops.sum(bce, axis=(1, 2, 3)) + kl


def _nelbo_with(*, std=lambda lv: np.exp(0.5 * lv), code=None, rec_reduce="sum",
                kl_reduce="sum", bce="stable", kl_factor=-0.5):
    """The per-image estimate with one part swapped for a typical mistake."""
    def answer(x, z_mean, z_log_var, eps, decode):
        x, z_mean, z_log_var, eps = (np.asarray(a, dtype=np.float64)
                                     for a in (x, z_mean, z_log_var, eps))
        z = code(z_mean, z_log_var, eps) if code else z_mean + std(z_log_var) * eps
        logits = np.asarray(decode(z), dtype=np.float64)
        if bce == "stable":
            per_value = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
        else:  # log of the sigmoid, in float32 like a model's output
            p = 1.0 / (1.0 + np.exp(-logits.astype(np.float32)))
            if bce == "clipped":
                p = np.clip(p, 1e-7, 1 - 1e-7)
            per_value = -(x * np.log(p) + (1 - x) * np.log(1 - p))
        per_image = per_value.reshape(len(x), -1)
        rec = per_image.sum(axis=1) if rec_reduce == "sum" else per_image.mean(axis=1)
        per_dim = kl_factor * (1 + z_log_var - z_mean**2 - np.exp(z_log_var))
        kl = per_dim.sum(axis=1) if kl_reduce == "sum" else per_dim.mean(axis=1)
        return rec + kl
    return answer


def test_q1_reference_agrees_with_the_course_loss_and_a_vae():
    x, z_mean, z_log_var, eps, decode = ex._nelbo_inputs(1, 6, 3, scale=3.0)
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    course = negative_elbo(x, decode(z), z_mean, z_log_var)["loss"]
    got = ex.per_image_nelbo(x, z_mean, z_log_var, eps, decode)
    assert got.shape == (6,)
    assert got.mean() == pytest.approx(float(course), rel=1e-5)
    # At large logits the reference is finite and equals the course's stable loss.
    big = ex._nelbo_inputs(63, 4, 2, scale=60.0)
    assert np.abs(big[4](big[1])).max() > 80
    z = big[1] + np.exp(0.5 * big[2]) * big[3]
    course = negative_elbo(big[0], big[4](z), big[1], big[2])["loss"]
    assert ex.per_image_nelbo(*big).mean() == pytest.approx(float(course), rel=1e-5)


def test_q1_accepts_reference_numpy_and_keras_versions():
    assert ex.q1.check(ex.per_image_nelbo).passed
    assert ex.q1.check(_nelbo_with()).passed
    assert ex.q1.check(_keras_nelbo).passed


def test_q1_names_the_wrong_sampling():
    _failed(ex.q1, _nelbo_with(std=np.exp), "variance", "standard deviation")
    _failed(ex.q1, _nelbo_with(std=lambda lv: lv), "log-variance")
    _failed(ex.q1, _nelbo_with(code=lambda m, lv, e: m), "ignores eps")
    _failed(ex.q1, _nelbo_with(code=lambda m, lv, e: m + np.exp(0.5 * lv) * e[:1]),
            "share one noise draw")


def test_q1_names_the_wrong_reductions_and_terms():
    message = _failed(ex.q1, _nelbo_with(rec_reduce="mean"), "784 times too small")
    assert "sampling and the KL are right" in message
    _failed(ex.q1, _nelbo_with(kl_reduce="mean"), "reconstruction is right", "KL term")
    _failed(ex.q1, _nelbo_with(kl_factor=0.0), "no KL term")
    _failed(ex.q1, _nelbo_with(kl_factor=0.5), "wrong sign")

    def batch_mean(*args):
        return ex.per_image_nelbo(*args).mean()

    _failed(ex.q1, batch_mean, "one number", "Do not average")

    def half_kl(x, z_mean, z_log_var, eps, decode):  # the KL without its factor 1/2
        return (ex.per_image_nelbo(x, z_mean, z_log_var, eps, decode)
                + kl_per_dimension(np.asarray(z_mean, np.float64),
                                   np.asarray(z_log_var, np.float64)).sum(axis=1))

    message = _failed(ex.q1, half_kl, "N(0, I) your estimate is right", "KL term")
    assert "reconstruction term is." in message

    def double_sigmoid(x, z_mean, z_log_var, eps, decode):
        return _nelbo_with()(x, z_mean, z_log_var, eps,
                             lambda z: keras.ops.sigmoid(decode(z)))

    _failed(ex.q1, double_sigmoid, "sigmoid twice")


def test_q1_must_stay_finite_and_right_at_large_logits():
    with np.errstate(all="ignore"):
        message = _failed(ex.q1, _nelbo_with(bce="naive"), "Right for ordinary logits",
                          "NaN or infinite")
    assert "sampl" not in message  # it names the reconstruction term, not the sampling
    with np.errstate(all="ignore"):
        _failed(ex.q1, _nelbo_with(bce="clipped"), "Right for ordinary logits", "clipping")


# --- 4.2 the ReLU decoder ----------------------------------------------------------------

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


def test_q2_reference_is_the_buggy_decoder_without_the_relu():
    fixed, buggy = ex.fixed_conv_decoder(3), ex.buggy_conv_decoder(3)
    # Dense (3 + 1) * 3136, then 3 x 3 kernels 64->64, 64->32, 32->1, each with biases.
    by_hand = 4 * 3136 + (9 * 64 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 + 1)
    assert fixed.count_params() == buggy.count_params() == by_hand
    assert fixed.layers[-1].activation.__name__ == "linear"
    assert buggy.layers[-1].activation.__name__ == "relu"


def test_q2_accepts_reference_and_an_explicit_linear_output():
    assert ex.q2.check(ex.fixed_conv_decoder).passed
    assert ex.q2.check(lambda d: _decoder(d, last_activation="linear")).passed


def test_q2_detects_relu_sigmoid_and_other_squashing_outputs():
    relu = _failed(ex.q2, ex.buggy_conv_decoder, "still ends in a ReLU", "at least 1/2")
    sigmoid = _failed(ex.q2, lambda d: _decoder(d, "sigmoid"), "applied twice")
    tanh = _failed(ex.q2, lambda d: _decoder(d, "tanh"), "'tanh'", "any real value")
    for message in (relu, sigmoid, tanh):
        assert "activation=None" not in message and "Conv2DTranspose(1" not in message


def test_q2_detects_a_hidden_clip_a_changed_architecture_and_a_wrong_shape():
    def clipped(latent_dim):
        model = _decoder(latent_dim)
        return keras.Model(model.inputs[0], layers.Lambda(keras.ops.abs)(model.outputs[0]))

    _failed(ex.q2, clipped, "never negative", "absolute value")
    _failed(ex.q2, lambda d: _decoder(d, extra=layers.Conv2D(32, 3, padding="same")),
            "parameters", "keep every layer")

    def flat(latent_dim):
        inputs = keras.Input(shape=(latent_dim,))
        return keras.Model(inputs, layers.Dense(784)(inputs))

    _failed(ex.q2, flat, "(None, 28, 28, 1)")
    _failed(ex.q2, lambda d: "decoder", "keras.Model")


def test_q2_rejects_what_lesson_03s_decoder_checker_rejects():
    # Issue 9: an affine decoder, squashing after a linear last layer, a wrong input shape.
    def affine(latent_dim):
        inputs = keras.Input(shape=(latent_dim,))
        x = layers.Dense(7 * 7 * 64)(inputs)
        x = layers.Reshape((7, 7, 64))(x)
        x = layers.Conv2DTranspose(64, 3, strides=2, padding="same")(x)
        x = layers.Conv2DTranspose(32, 3, strides=2, padding="same")(x)
        return keras.Model(inputs, layers.Conv2DTranspose(1, 3, padding="same")(x))

    message = _failed(ex.q2, affine, "linear (affine)", "hidden layers")
    assert "ReLU" not in message
    for squash, phrase in ((keras.ops.tanh, "within [-1, 1]"),
                           (lambda t: keras.ops.clip(t, -1.0, 1.0), "within [-1, 1]"),
                           (keras.ops.sigmoid, "lie in [0, 1]")):
        def squashed(latent_dim, squash=squash):
            model = _decoder(latent_dim)
            return keras.Model(model.inputs[0], layers.Lambda(squash)(model.outputs[0]))

        _failed(ex.q2, squashed, phrase)
    _failed(ex.q2, lambda d: ex.fixed_conv_decoder(3), "latent_dim=5", "(None, 5)")
    _failed(ex.q2, lambda d: _decoder(d, "softplus"), "'softplus'")
    # A separate Activation layer is an activation too.
    _failed(ex.q2, lambda d: _with_activation_layer(d, "relu"), "still ends in a ReLU")
    _failed(ex.q2, lambda d: _with_activation_layer(d, "sigmoid"), "applied twice")


def _with_activation_layer(latent_dim, activation):
    model = _decoder(latent_dim)
    return keras.Model(model.inputs[0], layers.Activation(activation)(model.outputs[0]))


def test_q2_accepts_a_freshly_initialised_fix_whatever_the_seed():
    # Unamplified, this decoder's outputs at initialisation stay within about [-1, 1].
    for seed in range(3):
        keras.utils.set_random_seed(seed)
        assert ex.q2.check(ex.fixed_conv_decoder).passed


# --- 4.3 the channel-averaged reconstruction loss ----------------------------------------

def _images_and_logits(shape=(3, 28, 28, 1)):
    rng = np.random.default_rng(0)
    return rng.uniform(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)


def test_q3_reference_agrees_with_the_course_loss_and_the_buggy_one_only_for_one_channel():
    for channels in (1, 3):
        x, logits = _images_and_logits((3, 28, 28, channels))
        course = float(np.mean(keras.ops.convert_to_numpy(bernoulli_nll_from_logits(x, logits))))
        assert ex.reconstruction_loss(x, logits) == pytest.approx(course, rel=1e-5)
        assert ex.buggy_reconstruction_loss(x, logits) == pytest.approx(course / channels,
                                                                        rel=1e-4)


def test_q3_accepts_reference_and_a_keras_version():
    assert ex.q3.check(ex.reconstruction_loss).passed

    def keras_version(x, logits):
        per_value = keras.ops.binary_crossentropy(x, logits, from_logits=True)  # no mean
        return keras.ops.mean(keras.ops.sum(per_value, axis=(1, 2, 3)))

    assert ex.q3.check(keras_version).passed


def test_q3_detects_channel_pixel_and_batch_reductions():
    _failed(ex.q3, ex.buggy_reconstruction_loss, "Right for one channel", "3 times too small",
            "channel axis")

    def pixel_mean(x, logits):
        return keras.ops.mean(keras.ops.binary_crossentropy(x, logits, from_logits=True))

    _failed(ex.q3, pixel_mean, "784 times too small", "KL")

    def batch_sum(x, logits):
        return ex.reconstruction_loss(x, logits) * len(x)

    _failed(ex.q3, batch_sum, "times too large", "batch size")


def test_q3_detects_wrong_shapes_probabilities_and_nan():
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

    _failed(ex.q3, per_image, "one value per image")
    _failed(ex.q3, channel_only, "only the channel axis")
    _failed(ex.q3, as_probabilities, "as probabilities")
    _failed(ex.q3, as_probabilities_numpy, "as probabilities")
    with np.errstate(all="ignore"):
        _failed(ex.q3, naive_log, "NaN")


def test_q3_stays_finite_and_right_at_large_logits():
    def naive_sigmoid(x, logits):
        p = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float32)))
        per_value = -(x * np.log(p) + (1 - x) * np.log(1 - p))
        return per_value.reshape(len(x), -1).sum(axis=1).mean()

    def clipped_probabilities(x, logits):  # (Keras on TF recovers logits from a sigmoid op)
        p = np.clip(1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64))), 1e-7, 1 - 1e-7)
        per_value = -(x * np.log(p) + (1 - x) * np.log(1 - p))
        return per_value.reshape(len(x), -1).sum(axis=1).mean()

    with np.errstate(all="ignore"):
        message = _failed(ex.q3, naive_sigmoid, "Right for ordinary logits", "NaN or infinite")
    assert "channel" not in message
    _failed(ex.q3, clipped_probabilities, "Right for ordinary logits", "clipping",
            "channel reduction is right")




# --- prediction 4.1 ------------------------------------------------------------------------

def test_p1_records_without_judging_and_reveals_the_measurement():
    assert ex.p1.record("conv").status == "recorded"
    assert ex.p1.record("gpu").status == "incorrect"
    held = ex.p1.reveal("Dense", "dense")
    assert held.status == "held" and "dense VAE took longer" in held.message
    missed = ex.p1.reveal("dense", "conv")
    assert missed.status == "missed" and "conv VAE took longer" in missed.message
    assert "multiply-adds" in missed.message
