"""The shared decoder checks: a logits decoder passes, each typical wrong decoder is refused
with advice that names the wrong part."""

import keras
import numpy as np
import pytest
from keras import layers, ops

from course_utils.exercises import decoder_checks as dc
from course_utils.exercises.core import CheckFailed
from course_utils.models.networks import (
    build_conv_decoder,
    build_conv_encoder,
    build_dense_decoder,
)


def _dense(latent_dim, *, last=None, hidden_activation="relu", after=None):
    z = keras.Input(shape=(latent_dim,))
    h = layers.Dense(64, activation=hidden_activation)(z)
    h = layers.Dense(784, activation=last)(h)
    if after is not None:
        h = after(h)
    return keras.Model(z, layers.Reshape((28, 28, 1))(h))


def _conv(latent_dim, *, last=None, hidden_activation="relu", after=None):
    z = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 8, activation=hidden_activation)(z)
    x = layers.Reshape((7, 7, 8))(x)
    x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation=hidden_activation)(x)
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation=hidden_activation)(x)
    x = layers.Conv2DTranspose(1, 3, padding="same", activation=last)(x)
    if after is not None:
        x = after(x)
    return keras.Model(z, x)


def _refused(model, latent_dim, *phrases, **kwargs):
    with pytest.raises(CheckFailed) as info:
        dc.check_logits_decoder(model, latent_dim, **kwargs)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, message
    return message


# --- last_activation ------------------------------------------------------------------

def test_last_activation_names_the_last_layer_that_has_one():
    assert dc.last_activation(build_dense_decoder(2)) == "linear"  # Dense, then Reshape
    assert dc.last_activation(build_dense_decoder(2, output="sigmoid")) == "sigmoid"
    assert dc.last_activation(_conv(2, last="relu")) == "relu"
    z = keras.Input(shape=(2,))
    separate = keras.Model(z, layers.Activation("tanh")(layers.Dense(3)(z)))
    assert dc.last_activation(separate) == "tanh"
    # A Lambda after a linear layer has no activation attribute: the Dense one is reported.
    wrapped = keras.Model(z, layers.Lambda(ops.tanh)(layers.Dense(3)(z)))
    assert dc.last_activation(wrapped) == "linear"


def test_last_activation_is_none_when_no_layer_has_one():
    z = keras.Input(shape=(4,))
    assert dc.last_activation(keras.Model(z, layers.Reshape((2, 2))(z))) is None
    with pytest.raises(TypeError, match="keras.Model"):
        dc.last_activation("decoder")


# --- right decoders pass ------------------------------------------------------------------

@pytest.mark.parametrize("latent_dim", [2, 5])
def test_logits_decoders_pass(latent_dim):
    dc.check_logits_decoder(build_dense_decoder(latent_dim), latent_dim)
    dc.check_logits_decoder(build_conv_decoder(latent_dim), latent_dim)
    dc.check_logits_decoder(_conv(latent_dim, hidden_activation="elu"), latent_dim)
    dc.check_logits_decoder(build_conv_decoder(latent_dim), latent_dim,
                            encoder=build_conv_encoder(latent_dim))


# --- wrong decoders are refused -----------------------------------------------------------

@pytest.mark.parametrize("build", [_dense, _conv])
def test_bounded_last_activations_are_refused(build):
    _refused(build(2, last="sigmoid"), 2, "ends in a sigmoid", "applies a sigmoid of its own")
    _refused(build(2, last="relu"), 2, "ends in a ReLU", "never negative")
    _refused(build(2, last="tanh"), 2, "'tanh'", "any real value")
    _refused(build(2, last="softplus"), 2, "'softplus'")


@pytest.mark.parametrize("build", [_dense, _conv])
def test_squashing_after_a_linear_last_layer_is_refused(build):
    _refused(build(2, after=layers.Lambda(ops.tanh)), 2, "within [-1, 1]", "tanh")
    _refused(build(2, after=layers.Lambda(ops.sigmoid)), 2, "lie in [0, 1]", "not logits")
    _refused(build(2, after=layers.Lambda(ops.abs)), 2, "never negative", "absolute value")
    _refused(build(2, after=layers.Lambda(lambda t: ops.clip(t, -1.0, 1.0))), 2,
             "within [-1, 1]")


@pytest.mark.parametrize("build", [_dense, _conv])
def test_an_affine_decoder_is_refused(build):
    message = _refused(build(2, hidden_activation=None), 2, "linear (affine)",
                       "non-linear activation")
    assert "output" not in message.split(":")[0]  # it blames the hidden layers


def test_wrong_shapes_and_non_models_are_refused():
    _refused(build_dense_decoder(2), 5, "latent_dim=5", "(None, 5)")
    z = keras.Input(shape=(2,))
    _refused(keras.Model(z, layers.Dense(784)(layers.Dense(32, activation="relu")(z))), 2,
             "(None, 28, 28, 1)")
    _refused("a decoder", 2, "return the keras.Model")
    w = keras.Input(shape=(2,))
    two_inputs = keras.Model([z, w], build_dense_decoder(2)(layers.Add()([z, w])))
    _refused(two_inputs, 2, "input has shape")


def test_non_finite_outputs_are_refused():
    _refused(_dense(2, after=layers.Lambda(lambda t: t / 0.0)), 2, "NaN or inf")


def test_the_vae_check_quotes_the_vae_class():
    # A decoder for another image shape: the VAE's dense encoder expects 28 x 28 x 1.
    z = keras.Input(shape=(2,))
    small = keras.Model(z, layers.Reshape((4, 4, 1))(layers.Dense(16)(
        layers.Dense(8, activation="relu")(z))))
    dc.check_decoder_shapes(small, 2, (4, 4, 1))
    with pytest.raises(CheckFailed, match="VAE class does not accept"):
        dc.check_vae_accepts(small)


def test_the_range_check_alone():
    dc.check_output_range(np.array([-40.0, 3.0, 25.0]))
    for values, phrase in (([0.1, 0.9], "[0, 1]"), ([0.0, 7.0], "never negative"),
                           ([-1.0, 0.99], "[-1, 1]"), ([np.nan, 1.0], "NaN")):
        with pytest.raises(CheckFailed, match=phrase.replace("[", r"\[").replace("]", r"\]")):
            dc.check_output_range(np.array(values))
    with pytest.raises(ValueError, match="empty"):
        dc.check_output_range(np.array([]))


def test_the_affine_check_has_a_wide_margin():
    # The affine gap relative to the outputs: rounding for a linear decoder, far above the
    # 1 % threshold for a ReLU one.
    def relative_gap(model):
        rng = np.random.default_rng(43)
        z_a, z_b = rng.normal(size=(2, 64, 2)).astype(np.float32)
        run = lambda z: ops.convert_to_numpy(model(z)).astype(np.float64)  # noqa: E731
        gap = run(z_a) + run(z_b) - run(np.zeros_like(z_a)) - run(z_a + z_b)
        return np.abs(gap).max() / (np.abs(run(z_a)).max() + np.abs(run(z_b)).max())

    keras.utils.set_random_seed(0)
    assert relative_gap(_conv(2, hidden_activation=None)) < 1e-4
    assert relative_gap(_conv(2)) > 0.05
    assert relative_gap(build_conv_decoder(2)) > 0.05


@pytest.mark.parametrize("seed", range(4))
def test_freshly_initialised_course_decoders_pass_whatever_the_seed(seed):
    # Unamplified, the conv decoder's outputs can stay within [-1, 1] at initialisation.
    keras.utils.set_random_seed(seed)
    dc.check_logits_decoder(build_conv_decoder(2), 2)
    dc.check_logits_decoder(build_dense_decoder(3), 3)


def test_amplified_outputs_restores_the_weights_and_scales_a_linear_output():
    model = _conv(2)
    before = [w.copy() for w in model.get_weights()]
    codes = np.random.default_rng(43).normal(size=(64, 2)).astype(np.float32)
    plain = ops.convert_to_numpy(model(codes))
    amplified = dc.amplified_outputs(model, 2, seed=43, factor=10.0)
    np.testing.assert_allclose(amplified, 10.0 * plain, rtol=1e-4, atol=1e-5)
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


class _FailsWhenArmed(layers.Layer):
    armed = False

    def call(self, inputs):
        if self.armed:
            raise RuntimeError("boom")
        return inputs


def test_amplified_outputs_restores_the_weights_when_the_model_fails():
    failing = _FailsWhenArmed()
    model = _dense(2, after=failing)
    before = [w.copy() for w in model.get_weights()]
    failing.armed = True
    with pytest.raises(RuntimeError, match="boom"):
        dc.amplified_outputs(model, 2)
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_amplified_outputs_finds_the_last_layer_inside_a_nested_model():
    inner = _dense(2)
    z = keras.Input(shape=(2,))
    outer = keras.Model(z, layers.Lambda(ops.tanh)(inner(z)))
    _refused(outer, 2, "within [-1, 1]")
    dc.check_logits_decoder(keras.Model(z, inner(z)), 2)
