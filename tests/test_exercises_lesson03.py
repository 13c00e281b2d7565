"""Tests for the lesson 03 exercises: references pass, typical mistakes get specific advice.

Expected values are computed here independently of the references: with the tested
functions of ``course_utils.elbo.losses``, with Keras' and TensorFlow's own cross-entropies,
and by hand-derived numbers.
"""

from __future__ import annotations

from functools import partial

import keras
import numpy as np
import pytest
import tensorflow as tf
from exercise_contract import (
    assert_incorrect,
    contract_tests,
)
from keras import ops

from course_utils.elbo.losses import negative_elbo
from course_utils.exercises import lesson03 as ex

QUESTIONS = (ex.q1, ex.q2, ex.q3, ex.q4)

SOLUTION_SNIPPETS = ("ops.exp(0.5 * z_log_var)", "keras.random.normal(ops.shape(z_mean))",
                     "ops.log1p(ops.exp(-ops.abs(logits)))", "tape.gradient(terms",
                     "optimizer.apply(gradients", "n_pixels / reconstruction_weight")

_assert_incorrect = partial(assert_incorrect, forbidden=SOLUTION_SNIPPETS)


# --------------------------------------------------------------------- every question

test_exercise_contract, test_graded_copies_refuse_every_shortcut = contract_tests(QUESTIONS)


# --------------------------------------------------------------------- 3.1 sampling

def _noise(z_mean):
    return keras.random.normal(ops.shape(z_mean))


def test_q1_reference_samples_the_wanted_normal():
    n = 50_000
    z_mean = np.tile([1.0, -2.0], (n, 1)).astype("float32")
    z_log_var = np.tile(np.log([0.25, 4.0]), (n, 1)).astype("float32")
    z = ops.convert_to_numpy(ex.sample(z_mean, z_log_var))
    assert z.shape == (n, 2)
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [0.5, 2.0], rtol=0.03)


def test_q1_accepts_other_correct_forms():
    def with_tf(z_mean, z_log_var):
        return z_mean + tf.sqrt(tf.exp(z_log_var)) * tf.random.normal(tf.shape(z_mean))

    seeds = keras.random.SeedGenerator(3)

    def with_seed_generator(z_mean, z_log_var):
        return z_mean + ops.exp(z_log_var / 2) * keras.random.normal(ops.shape(z_mean),
                                                                      seed=seeds)

    for answer in (with_tf, with_seed_generator):
        assert ex.q1.check(answer).passed, answer.__name__


def test_q1_detects_one_noise_draw_for_the_whole_batch():
    def shared(z_mean, z_log_var):
        return z_mean + ops.exp(0.5 * z_log_var) * keras.random.normal((1, ops.shape(z_mean)[1]))

    def shared_by_dimensions(z_mean, z_log_var):
        return z_mean + ops.exp(0.5 * z_log_var) * keras.random.normal((ops.shape(z_mean)[0], 1))

    _assert_incorrect(ex.q1, shared, "shared by the whole batch")
    _assert_incorrect(ex.q1, shared_by_dimensions, "shared by the dimensions")


def test_q1_detects_the_wrong_scale():
    def variance(z_mean, z_log_var):
        return z_mean + ops.exp(z_log_var) * _noise(z_mean)

    def log_var_as_std(z_mean, z_log_var):
        return z_mean + z_log_var * _noise(z_mean)

    def unscaled(z_mean, z_log_var):
        return z_mean + _noise(z_mean)

    _assert_incorrect(ex.q1, variance, "by the variance", "standard deviation")
    _assert_incorrect(ex.q1, log_var_as_std, "z_log_var itself", "log of the variance")
    _assert_incorrect(ex.q1, unscaled, "not scaled")


def test_q1_detects_missing_parts():
    _assert_incorrect(ex.q1, lambda z_mean, z_log_var: z_mean, "z_mean itself", "no noise")
    _assert_incorrect(ex.q1, lambda m, v: ops.exp(0.5 * v) * _noise(m), "centred on 0")
    _assert_incorrect(ex.q1, lambda m, v: m + ops.exp(0.5 * v) * keras.random.uniform(
        ops.shape(m)), "standard normal")
    _assert_incorrect(ex.q1, lambda m, v: ops.mean(m, axis=1), "shape")


def test_q1_detects_gradients_that_never_reach_the_encoder():
    def numpy_round_trip(z_mean, z_log_var):
        mean, log_var = np.asarray(z_mean), np.asarray(z_log_var)
        return mean + np.exp(0.5 * log_var) * np.random.default_rng().normal(size=mean.shape)

    def stopped(z_mean, z_log_var):
        return tf.stop_gradient(z_mean + ops.exp(0.5 * z_log_var) * _noise(z_mean))

    def stopped_std(z_mean, z_log_var):
        return z_mean + tf.stop_gradient(ops.exp(0.5 * z_log_var)) * _noise(z_mean)

    _assert_incorrect(ex.q1, numpy_round_trip, "No gradient flows", "NumPy round trip")
    _assert_incorrect(ex.q1, stopped, "No gradient flows", "stop_gradient")
    _assert_incorrect(ex.q1, stopped_std, "No gradient reaches z_log_var")


def test_q1_detects_noise_frozen_once():
    frozen = np.random.default_rng(0).normal(size=(20_000, 2)).astype("float32")

    def drawn_once(z_mean, z_log_var):
        return z_mean + ops.exp(0.5 * z_log_var) * frozen[: len(z_mean)]

    def numpy_noise(z_mean, z_log_var):
        eps = np.random.default_rng().normal(size=tuple(z_mean.shape)).astype("float32")
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    _assert_incorrect(ex.q1, drawn_once, "same samples", "fresh noise")
    _assert_incorrect(ex.q1, numpy_noise, "Compiled with tf.function", "constant of the graph")


# --------------------------------------------------------------------- 3.2 the loss

def _batch(seed=0, batch=8, latent_dim=4):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(batch, 28, 28, 1)).astype("float32")
    logits = rng.normal(scale=3.0, size=x.shape).astype("float32")
    z_mean, z_log_var = rng.normal(size=(2, batch, latent_dim)).astype("float32")
    return x, logits, z_mean, z_log_var


def _parts(reconstruction, kl):
    return {"loss": reconstruction + kl, "reconstruction_loss": reconstruction, "kl_loss": kl}


def _flat(values, x):
    return ops.reshape(values, (ops.shape(x)[0], -1))


def _stable_bce(x, logits):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)


def _kl(z_mean, z_log_var):  # lesson 02's form, written independently of the reference
    return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def test_q2_reference_is_the_negative_elbo_of_course_utils_losses():
    inputs = _batch()
    want = negative_elbo(*inputs)
    got = ex.vae_loss(*(tf.constant(a) for a in inputs))
    for name in ex.LOSS_NAMES:
        assert float(got[name]) == pytest.approx(float(want[name]), rel=1e-5)


def test_q2_reference_is_finite_and_right_at_large_logits():
    # x = 0 with logit +100 and x = 1 with logit -100 cost 100 nats each; x = 1/2, 50.
    x = np.array([[0.0, 1.0, 0.5, 0.0]], "float32")
    logits = np.array([[100.0, -100.0, 100.0, -100.0]], "float32")
    zeros = np.zeros((1, 2), "float32")
    got = ex.vae_loss(x, logits, zeros, zeros)
    assert float(got["reconstruction_loss"]) == pytest.approx(250.0, rel=1e-6)
    assert float(got["kl_loss"]) == 0.0


def test_q2_accepts_other_correct_forms():
    def keras_from_logits(x, logits, z_mean, z_log_var):
        n = ops.shape(x)[0]
        per_pixel = keras.losses.binary_crossentropy(
            ops.reshape(x, (n, -1, 1)), ops.reshape(logits, (n, -1, 1)), from_logits=True)
        return _parts(ops.mean(ops.sum(per_pixel, axis=1)), ops.mean(_kl(z_mean, z_log_var)))

    def log_sigmoid(x, logits, z_mean, z_log_var):
        per_pixel = -(x * ops.log_sigmoid(logits) + (1 - x) * ops.log_sigmoid(-logits))
        return _parts(ops.mean(ops.sum(_flat(per_pixel, x), axis=1)),
                      ops.mean(_kl(z_mean, z_log_var)))

    def tensorflow(x, logits, z_mean, z_log_var):
        reconstruction = tf.reduce_mean(tf.reduce_sum(_stable_bce(x, logits), axis=[1, 2, 3]))
        return _parts(reconstruction, tf.reduce_mean(_kl(z_mean, z_log_var)))

    for answer in (keras_from_logits, log_sigmoid, tensorflow):
        assert ex.q2.check(answer).passed, answer.__name__


def _with(reconstruction=None, kl=None, total=None):
    """A loss that is right except for the parts given as functions."""
    def loss(x, logits, z_mean, z_log_var):
        rec = (reconstruction(x, logits) if reconstruction else
               ops.mean(ops.sum(_flat(_stable_bce(x, logits), x), axis=1)))
        k = kl(z_mean, z_log_var) if kl else ops.mean(_kl(z_mean, z_log_var))
        terms = _parts(rec, k)
        if total:
            terms["loss"] = total(rec, k)
        return terms

    return loss


def test_q2_detects_reductions_over_the_wrong_axis():
    pixel_mean = _with(reconstruction=lambda x, lg: ops.mean(_stable_bce(x, lg)))
    _assert_incorrect(ex.q2, pixel_mean, "784 times too small", "SUM over its pixels")
    kl_dimension_mean = _with(kl=lambda m, v: ops.mean(_kl(m, v)) / ops.cast(
        ops.shape(m)[1], "float32"))
    message = _assert_incorrect(ex.q2, kl_dimension_mean, "averaged over the 3 latent")
    assert "reconstruction term is fine" in message
    batch_sum = _with(reconstruction=lambda x, lg: ops.sum(_stable_bce(x, lg)))
    _assert_incorrect(ex.q2, batch_sum, "6 times too large", "Average them")
    _assert_incorrect(ex.q2, _with(kl=lambda m, v: ops.sum(_kl(m, v))), "KL term is 6 times")


def test_q2_detects_parts_that_do_not_add_up():
    _assert_incorrect(ex.q2, _with(total=lambda rec, kl: rec), "do not add up")
    _assert_incorrect(ex.q2, _with(total=lambda rec, kl: rec + 0.5 * kl), "do not add up")


def test_q2_detects_wrong_signs_and_missing_terms():
    _assert_incorrect(ex.q2, _with(kl=lambda m, v: -ops.mean(_kl(m, v))), "KL", "wrong sign")
    _assert_incorrect(ex.q2, _with(kl=lambda m, v: 0.0 * ops.mean(m)), "KL term is zero")
    _assert_incorrect(ex.q2, _with(reconstruction=lambda x, lg: 0.0 * ops.mean(lg)),
                      "reconstruction term is zero")


def test_q2_detects_sigmoid_mistakes():
    double = _with(reconstruction=lambda x, lg: ops.mean(ops.sum(
        _flat(_stable_bce(x, ops.sigmoid(lg)), x), axis=1)))
    _assert_incorrect(ex.q2, double, "sigmoid twice")


def test_q2_detects_a_loss_that_overflows_at_large_logits():
    def naive(x, logits):
        p = ops.sigmoid(logits)
        return ops.mean(ops.sum(_flat(-(x * ops.log(p) + (1 - x) * ops.log(1 - p)), x), 1))

    def clipped(x, logits):
        n = ops.shape(x)[0]
        per_pixel = keras.losses.binary_crossentropy(ops.reshape(x, (n, -1, 1)),
                                                     ops.reshape(ops.sigmoid(logits), (n, -1, 1)))
        return ops.mean(ops.sum(per_pixel, axis=1))

    _assert_incorrect(ex.q2, _with(reconstruction=naive), "|logit| = 100", "NaN or infinite")
    _assert_incorrect(ex.q2, _with(reconstruction=clipped), "|logit| = 100", "finite, but wrong")


def test_q2_detects_a_loss_without_gradients_or_that_does_not_compile():
    def numpy_loss(x, logits, z_mean, z_log_var):
        x, logits = np.asarray(x, np.float64), np.asarray(logits, np.float64)
        bce = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
        reconstruction = bce.reshape(len(x), -1).sum(axis=1).mean()
        return _parts(reconstruction, float(ops.mean(_kl(z_mean, z_log_var))))

    _assert_incorrect(ex.q2, numpy_loss, "No gradient flows", "NumPy round trip")


def test_q2_detects_other_return_values():
    _assert_incorrect(ex.q2, lambda *inputs: negative_elbo(*inputs)["loss"], "dictionary")
    _assert_incorrect(ex.q2, lambda *a: {"loss": 1.0}, "lacks", "reconstruction_loss")

    def per_image(x, logits, z_mean, z_log_var):
        reconstruction = ops.sum(_flat(_stable_bce(x, logits), x), axis=1)
        return _parts(reconstruction, _kl(z_mean, z_log_var))

    _assert_incorrect(ex.q2, per_image, "one number per image")


def test_q2_catches_a_hard_coded_batch_size():
    def assumes_six(x, logits, z_mean, z_log_var):
        return ex.vae_loss(x[:6], logits[:6], z_mean[:6], z_log_var[:6])

    _assert_incorrect(ex.q2, assumes_six, "wrong for another")


# --------------------------------------------------------------------- 3.3 the step

def _step(*, tape_from="encoder", target="loss", variables="both", sign=1.0, returns="terms",
          stop=False):
    """A training step that is right except for the mistake named by the arguments."""
    def step(encoder, decoder, optimizer, x, sample, loss):
        if tape_from == "outside":
            z_mean, z_log_var = encoder(x, training=True)
            z = sample(z_mean, z_log_var)
        with tf.GradientTape() as tape:
            if tape_from != "outside":
                z_mean, z_log_var = encoder(x, training=True)
                z = z_mean if tape_from == "mean" else sample(z_mean, z_log_var)
            if stop:
                z = tf.stop_gradient(z)
            logits = decoder(z_mean if tape_from == "mean" else z, training=True)
            terms = loss(x, logits, z_mean, z_log_var)
        weights = {"both": encoder.trainable_variables + decoder.trainable_variables,
                   "decoder": decoder.trainable_variables}[variables]
        gradients = tape.gradient(terms[target], weights)
        optimizer.apply([None if g is None else sign * g for g in gradients], weights)
        if returns == "after":
            z_mean, z_log_var = encoder(x)
            return loss(x, decoder(z_mean), z_mean, z_log_var)
        return terms if returns == "terms" else terms["loss"]

    return step


def test_q3_reference_takes_one_sgd_step_on_the_negative_elbo():
    # With plain SGD a step moves every weight by -learning_rate * gradient: recompute
    # the gradient here with negative_elbo and a fixed noise draw.
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(2 * 2)])
    split = keras.layers.Lambda(lambda h: [h[:, :2], h[:, 2:]])
    enc = keras.Model(encoder.inputs, split(encoder.outputs[0]))
    dec = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16),
                            keras.layers.Reshape((4, 4, 1))])
    x = tf.constant(np.random.default_rng(1).uniform(size=(5, 4, 4, 1)).astype("float32"))
    eps = tf.constant(np.random.default_rng(2).normal(size=(5, 2)).astype("float32"))

    def fixed(z_mean, z_log_var):
        return z_mean + tf.exp(0.5 * z_log_var) * eps

    weights = enc.trainable_variables + dec.trainable_variables
    with tf.GradientTape() as tape:
        z_mean, z_log_var = enc(x)
        want_terms = negative_elbo(x, dec(fixed(z_mean, z_log_var)), z_mean, z_log_var)
    want = [g.numpy() for g in tape.gradient(want_terms["loss"], weights)]
    before = [w.numpy().copy() for w in weights]
    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    terms = ex.train_step(enc, dec, optimizer, x, fixed, ex.vae_loss)
    for b, w, g in zip(before, weights, want):
        np.testing.assert_allclose((b - w.numpy()) / 0.5, g, rtol=1e-4, atol=1e-6)
    assert float(terms["loss"]) == pytest.approx(float(want_terms["loss"]), rel=1e-6)


def test_q3_accepts_other_correct_forms():
    def apply_gradients(encoder, decoder, optimizer, x, sample, loss):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = encoder(x, training=True)
            terms = loss(x, decoder(sample(z_mean, z_log_var), training=True), z_mean,
                         z_log_var)
        weights = [*encoder.trainable_weights, *decoder.trainable_weights]
        optimizer.apply_gradients(zip(tape.gradient(terms["loss"], weights), weights))
        return terms

    assert ex.q3.check(apply_gradients).passed
    assert ex.q3.check(_step()).passed


def test_q3_detects_gradients_that_never_reach_the_encoder():
    _assert_incorrect(ex.q3, _step(tape_from="outside"), "not the encoder", "inside the tape")
    _assert_incorrect(ex.q3, _step(variables="decoder"), "not the encoder")
    _assert_incorrect(ex.q3, _step(stop=True), "encoder's is not", "through the sampled z")


def test_q3_detects_the_wrong_target_or_direction():
    _assert_incorrect(ex.q3, _step(target="reconstruction_loss"), "reconstruction part only")
    _assert_incorrect(ex.q3, _step(target="kl_loss"), "KL part only")
    _assert_incorrect(ex.q3, _step(sign=-1.0), "uphill")


def test_q3_detects_decoding_the_mean_and_wrong_return_values():
    _assert_incorrect(ex.q3, _step(tape_from="mean"), "never calls sample", "decode a sampled z")
    _assert_incorrect(ex.q3, _step(returns="loss"), "return what the loss function returned")
    _assert_incorrect(ex.q3, _step(returns="after"), "before the update")


def test_q3_detects_a_step_that_cannot_be_compiled():
    def numpy_step(encoder, decoder, optimizer, x, sample, loss):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = encoder(x, training=True)
            terms = loss(x, decoder(sample(z_mean, z_log_var)), z_mean, z_log_var)
        weights = encoder.trainable_variables + decoder.trainable_variables
        optimizer.apply(tape.gradient(terms["loss"], weights), weights)
        return {name: float(value.numpy()) for name, value in terms.items()}

    def own_optimizer(encoder, decoder, optimizer, x, sample, loss):
        return _step()(encoder, decoder, keras.optimizers.Adam(), x, sample, loss)

    _assert_incorrect(ex.q3, numpy_step, "compiled with tf.function", "NumPy")
    _assert_incorrect(ex.q3, own_optimizer, "tf.function")


# --------------------------------------------------------------------- 3.4 the KL weight

def test_q4_reference_values_by_hand():
    # mean over D pixels, weight w: w * S / D + KL = (w / D) * (S + (D / w) * KL)
    assert ex.implied_kl_weight(784) == pytest.approx(784.0)
    assert ex.implied_kl_weight(1024, 500) == pytest.approx(2.048)
    assert ex.implied_kl_weight(3072, 2000) == pytest.approx(1.536)


def test_q4_reference_agrees_with_the_losses_numerically():
    # The pixel-mean loss, times D, equals the summed reconstruction plus D times the KL.
    x, logits, z_mean, z_log_var = _batch(2)
    terms = negative_elbo(x, logits, z_mean, z_log_var)
    pixel_mean_loss = float(terms["reconstruction_loss"]) / 784 + float(terms["kl_loss"])
    beta = ex.implied_kl_weight(784)
    want = float(terms["reconstruction_loss"]) + beta * float(terms["kl_loss"])
    assert 784 * pixel_mean_loss == pytest.approx(want, rel=1e-5)


def test_q4_accepts_other_correct_forms():
    assert ex.q4.check(lambda n, w: n * (1 / w)).passed
    assert ex.q4.check(lambda n, w: np.float32(n) / np.float32(w)).passed
    assert ex.q4.check(lambda n, w: np.array([n / w])).passed


def test_q4_detects_the_typical_wrong_answers():
    _assert_incorrect(ex.q4, lambda n, w: w / n, "upside down")
    _assert_incorrect(ex.q4, lambda n, w: n * w, "smaller, not larger")
    _assert_incorrect(ex.q4, lambda n, w: n, "ignores the weight")
    _assert_incorrect(ex.q4, lambda n, w: 1 / w, "ignores the number of pixels")
    _assert_incorrect(ex.q4, lambda n, w: 1.0, "does change the balance")
    _assert_incorrect(ex.q4, lambda n, w: n**0.5 / w, "not over one side")
    _assert_incorrect(ex.q4, lambda n, w: n / w + 1, "n_pixels=784", "not right")
    _assert_incorrect(ex.q4, lambda n, w: [n / w, 1.0], "one number")


def test_scaling_a_loss_rescales_an_sgd_step_but_hardly_an_adam_step():
    # What exercise 3.4's text says about multiplying the loss by a constant.
    def step(optimizer, scale):
        weight = tf.Variable([0.3, -1.2])
        with tf.GradientTape() as tape:
            value = scale * tf.reduce_sum(tf.square(weight - 1.0))
        optimizer.apply([tape.gradient(value, weight)], [weight])
        return weight.numpy() - np.array([0.3, -1.2])

    sgd = step(keras.optimizers.SGD(0.01), 1.0), step(keras.optimizers.SGD(0.01), 784.0)
    np.testing.assert_allclose(sgd[1], 784 * sgd[0], rtol=1e-4)
    adam = step(keras.optimizers.Adam(0.01), 1.0), step(keras.optimizers.Adam(0.01), 784.0)
    np.testing.assert_allclose(adam[1], adam[0], rtol=1e-4)


# --------------------------------------------------------------------- prediction

def test_p1_explains_both_outcomes_with_the_rate():
    for measured in ("rises", "falls"):
        result = ex.p1.reveal("rises", measured)
        assert "upper bound" in result.message and "mutual information" in result.message
    assert ex.p1.reveal("rises", "rises").status == "held"
    assert ex.p1.reveal("falls", "rises").status == "missed"
    assert ex.p1.record("rises").status == "recorded"
