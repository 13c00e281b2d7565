"""Tests of course_utils.models.vae (the VAE model and its builders) and the conv builders."""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from synthetic import blob_images

from course_utils.elbo.losses import bernoulli_nll_from_logits, kl_divergence_standard_normal
from course_utils.models.networks import (
    IMAGE_SHAPE,
    build_conv_decoder,
    build_conv_encoder,
    build_dense_decoder,
    build_dense_encoder,
)
from course_utils.models.vae import VAE, build_conv_vae, build_dense_vae, free_bits_kl

LOSS_NAMES = {"loss", "reconstruction_loss", "kl_loss"}
# Keras 3.15 / TF 2.21 emit this NumPy 2 DeprecationWarning inside model.save().
KERAS_SAVE_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword"


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return blob_images(64)


def _compiled(vae: VAE, learning_rate: float = 1e-3) -> VAE:
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return vae


def _assert_parts_add_up(logs: dict, prefix: str = "") -> None:
    np.testing.assert_allclose(
        np.asarray(logs[f"{prefix}loss"]),
        np.asarray(logs[f"{prefix}reconstruction_loss"]) + np.asarray(logs[f"{prefix}kl_loss"]),
        rtol=1e-5)


# ----------------------------------------------------------------------- builders

def test_parameter_counts_match_the_reference_models():
    keras.utils.set_random_seed(0)
    assert build_dense_vae(latent_dim=2).count_params() == 1_068_820
    assert build_conv_vae(latent_dim=2).count_params() == 134_165
    # The classic Keras example (sigmoid output) has the same count.
    classic = build_conv_encoder(2).count_params() + build_conv_decoder(
        2, output="sigmoid").count_params()
    assert classic == 134_165


def test_conv_builders_have_the_classic_architecture():
    encoder = build_conv_encoder(3)
    assert [tuple(t.shape) for t in encoder.outputs] == [(None, 3), (None, 3)]
    shapes = {layer.name: tuple(layer.output.shape) for layer in encoder.layers}
    assert shapes["conv_1"] == (None, 14, 14, 32)
    assert shapes["conv_2"] == (None, 7, 7, 64)
    assert shapes["dense"] == (None, 16)

    decoder = build_conv_decoder(3)
    assert tuple(decoder.output.shape) == (None, *IMAGE_SHAPE)
    assert decoder.layers[-1].activation is keras.activations.linear  # logits
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32) * 20
    assert np.any(decoder.predict(z, verbose=0) < 0)  # logits are not probabilities
    sigmoid = build_conv_decoder(3, output="sigmoid").predict(z, verbose=0)
    assert sigmoid.min() >= 0 and sigmoid.max() <= 1

    with pytest.raises(ValueError, match="latent_dim"):
        build_conv_encoder(0)
    with pytest.raises(TypeError, match="latent_dim"):
        build_conv_decoder(2.0)
    with pytest.raises(ValueError, match="output"):
        build_conv_decoder(2, output="relu")


def test_builders_validate_arguments():
    with pytest.raises(ValueError, match="latent_dim"):
        build_dense_vae(latent_dim=0)
    with pytest.raises(TypeError, match="latent_dim"):
        build_conv_vae(latent_dim=True)
    with pytest.raises(TypeError, match="hidden"):
        build_dense_vae(hidden=512)
    with pytest.raises(ValueError, match="seed"):
        build_dense_vae(seed=-3)


def test_constructor_rejects_parts_that_do_not_fit():
    good_encoder = build_dense_encoder(2, (8,), gaussian=True)
    good_decoder = build_dense_decoder(2, (8,), output="logits")
    VAE(good_encoder, good_decoder)  # accepted

    with pytest.raises(TypeError, match="encoder must be a keras.Model"):
        VAE(lambda x: x, good_decoder)
    with pytest.raises(ValueError, match=r"two tensors \[z_mean, z_log_var\]"):
        VAE(build_dense_encoder(2, (8,), gaussian=False), good_decoder)

    inputs = keras.Input(shape=IMAGE_SHAPE)
    flat = keras.layers.Flatten()(inputs)
    uneven = keras.Model(inputs, [keras.layers.Dense(2)(flat), keras.layers.Dense(3)(flat)])
    with pytest.raises(ValueError, match="same shape"):
        VAE(uneven, good_decoder)

    with pytest.raises(ValueError, match="latent_dim=2"):
        VAE(good_encoder, build_dense_decoder(3, (8,)))
    z = keras.Input(shape=(2,))
    flat_decoder = keras.Model(z, keras.layers.Dense(784)(z))
    with pytest.raises(ValueError, match=r"image shape \(28, 28, 1\)"):
        VAE(good_encoder, flat_decoder)
    with pytest.raises(ValueError, match="LOGITS"):
        VAE(good_encoder, build_dense_decoder(2, (8,), output="sigmoid"))
    with pytest.raises(ValueError, match="LOGITS"):
        VAE(build_conv_encoder(2), build_conv_decoder(2, output="sigmoid"))
    relu_pixels = keras.layers.Dense(784, activation="relu")(z)
    relu_decoder = keras.Model(z, keras.layers.Reshape(IMAGE_SHAPE)(relu_pixels))
    with pytest.raises(ValueError, match="final relu"):
        VAE(good_encoder, relu_decoder)


# ----------------------------------------------------------------------- training

def test_training_reduces_the_loss_on_a_fixed_batch(images):
    keras.utils.set_random_seed(1)
    vae = _compiled(build_dense_vae(latent_dim=2, seed=1), learning_rate=3e-3)
    before = vae.evaluate(images, batch_size=64, verbose=0, return_dict=True)["loss"]
    history = vae.fit(images, epochs=25, batch_size=64, shuffle=False, verbose=0)
    after = vae.evaluate(images, batch_size=64, verbose=0, return_dict=True)["loss"]
    losses = history.history["loss"]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.8 * losses[0]
    assert after < 0.8 * before


def test_history_has_parts_that_add_up_and_validation_keys(images):
    keras.utils.set_random_seed(2)
    vae = _compiled(build_conv_vae(latent_dim=2, seed=2))
    history = vae.fit(images, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    logs = history.history
    assert set(logs) == LOSS_NAMES | {f"val_{name}" for name in LOSS_NAMES}
    assert all(len(values) == 2 for values in logs.values())
    _assert_parts_add_up(logs)
    _assert_parts_add_up(logs, "val_")
    assert all(v > 0 for v in logs["kl_loss"] + logs["val_kl_loss"])

    # validation_data works as well, and evaluate reports the same three numbers.
    history = vae.fit(images[:48], epochs=1, batch_size=16, verbose=0,
                      validation_data=(images[48:],))
    assert {f"val_{name}" for name in LOSS_NAMES} <= set(history.history)
    results = vae.evaluate(images, batch_size=16, verbose=0, return_dict=True)
    assert set(results) == LOSS_NAMES
    _assert_parts_add_up(results)


def _near_deterministic(vae: VAE) -> None:
    """Make q(z|x) almost a point mass: z_log_var = -40, so z = z_mean + 2e-9 * eps."""
    head = vae.encoder.get_layer("z_log_var")
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.full_like(bias, -40.0)])


def test_evaluate_equals_an_independent_computation(images):
    keras.utils.set_random_seed(3)
    vae = _compiled(build_dense_vae(latent_dim=2, seed=3))
    vae.fit(images, epochs=1, batch_size=16, verbose=0)  # evaluate must reset the trackers

    # The KL term is deterministic given the encoder: check it with any encoder.
    # 64 images in batches of 24, 24, 16: the epoch value must be the per-image mean.
    z_mean, z_log_var = (keras.ops.convert_to_numpy(t) for t in vae.encoder(images))
    kl = keras.ops.convert_to_numpy(kl_divergence_standard_normal(z_mean, z_log_var))
    closed_form = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)
    np.testing.assert_allclose(kl, closed_form, rtol=1e-4)
    results = vae.evaluate(images, batch_size=24, verbose=0, return_dict=True)
    np.testing.assert_allclose(results["kl_loss"], kl.mean(), rtol=1e-5)
    _assert_parts_add_up(results)

    # With a (near) point-mass posterior the reconstruction term is deterministic too.
    _near_deterministic(vae)
    z_mean, z_log_var = (keras.ops.convert_to_numpy(t) for t in vae.encoder(images))
    logits = vae.decoder(z_mean)
    reconstruction = keras.ops.convert_to_numpy(bernoulli_nll_from_logits(images, logits))
    kl = keras.ops.convert_to_numpy(kl_divergence_standard_normal(z_mean, z_log_var))
    results = vae.evaluate(images, batch_size=24, verbose=0, return_dict=True)
    np.testing.assert_allclose(results["reconstruction_loss"], reconstruction.mean(), rtol=1e-5)
    np.testing.assert_allclose(results["kl_loss"], kl.mean(), rtol=1e-5)
    np.testing.assert_allclose(results["loss"], reconstruction.mean() + kl.mean(), rtol=1e-5)

    nelbo = vae.evaluate_nelbo(images[..., 0], batch_size=10)  # (n, 28, 28) accepted
    assert set(nelbo) == LOSS_NAMES and all(isinstance(v, float) for v in nelbo.values())
    np.testing.assert_allclose(nelbo["loss"], results["loss"], rtol=1e-5)


def test_the_seed_makes_the_sampling_noise_reproducible(images):
    keras.utils.set_random_seed(4)
    first = _compiled(build_dense_vae(latent_dim=2, hidden=(32,), seed=11))
    same = _compiled(build_dense_vae(latent_dim=2, hidden=(32,), seed=11))
    other = _compiled(build_dense_vae(latent_dim=2, hidden=(32,), seed=12))
    for vae in (same, other):
        vae.set_weights(first.get_weights())
    results = [vae.evaluate(images, batch_size=64, verbose=0, return_dict=True)
               for vae in (first, same, other)]
    assert results[0] == results[1]
    assert results[0]["reconstruction_loss"] != results[2]["reconstruction_loss"]
    assert results[0]["kl_loss"] == pytest.approx(results[2]["kl_loss"], rel=1e-6)


# -------------------------------------------------------------------- save / load

@pytest.mark.filterwarnings(KERAS_SAVE_WARNING)
@pytest.mark.parametrize("builder", [build_dense_vae, build_conv_vae])
def test_save_load_round_trip_keeps_outputs_and_can_keep_training(builder, images, tmp_path):
    keras.utils.set_random_seed(5)
    vae = _compiled(builder(latent_dim=2, seed=5))
    vae.fit(images, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "vae.keras"
    vae.save(path)
    loaded = keras.models.load_model(path)

    assert isinstance(loaded, VAE) and loaded is not vae
    assert loaded.seed == 5 and loaded.latent_dim == 2 and loaded.image_shape == IMAGE_SHAPE
    for original, restored in zip(vae.encode(images), loaded.encode(images), strict=True):
        np.testing.assert_allclose(restored, original, rtol=1e-6, atol=1e-6)
    z = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    np.testing.assert_allclose(loaded.decode(z), vae.decode(z), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), vae.predict(images, verbose=0),
                               rtol=1e-5, atol=1e-5)
    assert int(loaded.optimizer.iterations.numpy()) == int(vae.optimizer.iterations.numpy()) == 2

    history = loaded.fit(images, epochs=1, batch_size=32, verbose=0)
    assert set(history.history) == LOSS_NAMES
    assert all(math.isfinite(v[0]) for v in history.history.values())
    _assert_parts_add_up(history.history)
    assert int(loaded.optimizer.iterations.numpy()) == 4  # optimizer state was restored


# ------------------------------------------------------------------ NumPy helpers

def test_call_and_predict_decode_the_posterior_mean(images):
    vae = build_dense_vae(latent_dim=2, hidden=(32,))
    z_mean, _ = vae.encoder(images)
    expected = keras.ops.convert_to_numpy(vae.decoder(z_mean))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(vae(images)), expected, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(vae.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_encode_returns_numpy_posterior_parameters(images):
    vae = build_conv_vae(latent_dim=3)
    z_mean, z_log_var = vae.encode(images, batch_size=20)
    assert isinstance(z_mean, np.ndarray) and isinstance(z_log_var, np.ndarray)
    assert z_mean.shape == z_log_var.shape == (64, 3)
    expected = [keras.ops.convert_to_numpy(t) for t in vae.encoder(images)]
    np.testing.assert_allclose(z_mean, expected[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z_log_var, expected[1], rtol=1e-5, atol=1e-5)
    # Another batch size (256, not 20): oneDNN may sum the convolutions in another order.
    np.testing.assert_allclose(vae.encode(images[..., 0])[0], z_mean, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(28, 28, 1\)"):
        vae.encode(np.zeros((5, 32, 32, 1)))
    with pytest.raises(ValueError, match="dimensions"):
        vae.encode(np.zeros(784))


def test_decode_is_one_batched_call_returning_probabilities():
    vae = build_dense_vae(latent_dim=2, hidden=(32,))
    traced_batch_sizes = []
    original_call = vae.decoder.call

    def counting_call(*args, **kwargs):
        traced_batch_sizes.append(args[0].shape[0])
        return original_call(*args, **kwargs)

    vae.decoder.call = counting_call
    traced = vae._traced_decode()
    runs = []

    def counting_run(codes):
        runs.append(codes.shape[0])
        return traced(codes)

    vae._decode_function = counting_run
    z = np.random.default_rng(0).normal(scale=5.0, size=(300, 2)).astype(np.float32)
    probabilities = vae.decode(z)
    vae.decode(z[:7])
    assert runs == [300, 7]  # one call per decode, whatever the number of codes
    assert traced_batch_sizes == [None]  # traced once, for any batch size
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (300, 28, 28, 1)
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    vae.decoder.call = original_call
    logits = keras.ops.convert_to_numpy(vae.decoder(z))
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6)

    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        vae.decode(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="dimensions"):
        vae.decode(np.zeros(2))


def test_sample_draws_reproducible_prior_samples():
    vae = build_conv_vae(latent_dim=2)
    first = vae.sample(8, seed=0)
    assert first.shape == (8, 28, 28, 1) and first.min() >= 0 and first.max() <= 1
    np.testing.assert_array_equal(vae.sample(8, seed=0), first)
    assert not np.allclose(vae.sample(8, seed=1), first)
    codes = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
    np.testing.assert_allclose(first, vae.decode(codes), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\bn\b.*>= 1"):
        vae.sample(0)


def test_evaluate_nelbo_needs_a_compiled_model(images):
    with pytest.raises(RuntimeError, match="compile"):
        build_dense_vae(hidden=(32,)).evaluate_nelbo(images)


# ------------------------------------------------ bad input leaves the model usable

def _tiny() -> VAE:
    return build_dense_vae(latent_dim=2, hidden=(16,), seed=0)


def _with_nan(images: np.ndarray, count: int = 3) -> np.ndarray:
    bad = images.copy()
    bad.reshape(-1)[:count] = np.nan
    return bad


def test_fit_with_wrong_size_images_is_refused_and_the_model_still_fits(images):
    vae = _compiled(_tiny())
    weights = [w.copy() for w in vae.get_weights()]
    with pytest.raises(ValueError, match=r"x must hold images of shape \(28, 28, 1\).*"
                                         r"got shape \(64, 32, 32, 1\)"):
        vae.fit(np.zeros((64, 32, 32, 1), np.float32), epochs=1, verbose=0)
    for old, new in zip(weights, vae.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    history = vae.fit(images, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(("make_bad", "words"), [
    (lambda x: _with_nan(x), r"must hold finite numbers; got 3 NaN pixels.*np\.nan_to_num"),
    (lambda x: x * 255.0, r"must hold pixel values in \[0, 1\]; got min .*, "
                          r"max 25\d.*divide by 255"),
], ids=["nan", "0-255"])
def test_fit_and_validation_data_refuse_nan_and_0_to_255(images, make_bad, words):
    vae = _compiled(_tiny())
    with pytest.raises(ValueError, match=r"x " + words):
        vae.fit(make_bad(images), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"validation_data " + words):
        vae.fit(images, epochs=1, verbose=0, validation_data=make_bad(images[:8]))
    with pytest.raises(ValueError, match=r"validation_data " + words):
        vae.fit(images, epochs=1, verbose=0, validation_data=(make_bad(images[:8]), None))
    history = vae.fit(images, epochs=1, batch_size=16, verbose=0,
                      validation_data=images[:8])
    assert np.isfinite(history.history["val_loss"][0])


@pytest.mark.parametrize("method", ["encode", "evaluate_nelbo"])
def test_encode_and_evaluate_refuse_nan_0_to_255_and_empty_images(images, method):
    vae = _compiled(_tiny())
    run = getattr(vae, method)
    with pytest.raises(ValueError, match=r"x must hold finite numbers; got 3 NaN pixels"):
        run(_with_nan(images))
    with pytest.raises(ValueError, match=r"max 25\d.*divide by 255"):
        run(images * 255.0)
    with pytest.raises(ValueError, match=r"x must hold at least one image; got 0"):
        run(images[:0])
    assert run(images) is not None  # still works


def test_decode_refuses_non_finite_and_empty_codes():
    vae = _tiny()
    with pytest.raises(ValueError, match=r"z must hold finite numbers; got 1 NaN value"):
        vae.decode(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"z must hold at least one code; got 0"):
        vae.decode(np.zeros((0, 2)))
    assert vae.decode(np.zeros((1, 2))).shape == (1, 28, 28, 1)


# ------------------------------------------------------------ KL weight and free bits

def _small_vae(latent_dim: int = 3, **options) -> VAE:
    keras.utils.set_random_seed(0)
    return build_dense_vae(latent_dim, hidden=(16,), seed=0, **options)


def test_default_vae_keeps_its_logs_weights_and_parameter_count(images):
    vae = _small_vae()
    assert not vae.tracks_rate and vae.kl_weight == 1.0 and vae.free_bits == 0.0
    n_weights = len(vae.weights)
    history = _compiled(vae).fit(images, epochs=1, batch_size=32, verbose=0)
    assert set(history.history) == LOSS_NAMES
    assert len(vae.weights) == n_weights  # the KL weight is not a model weight
    assert build_dense_vae(latent_dim=2, kl_weight=4.0).count_params() == 1_068_820


@pytest.mark.parametrize("options", [{"kl_weight": 3.0}, {"free_bits": 0.2},
                                     {"kl_weight": 0.5, "free_bits": 0.5}])
def test_weighted_kl_parts_add_up_and_the_rate_is_logged_apart(images, options):
    vae = _compiled(_small_vae(**options))
    history = vae.fit(images, epochs=2, batch_size=32, validation_split=0.25, verbose=0)
    logs = history.history
    assert set(logs) == (LOSS_NAMES | {"rate"}) | {f"val_{n}" for n in LOSS_NAMES | {"rate"}}
    _assert_parts_add_up(logs)
    _assert_parts_add_up(logs, "val_")
    # The rate is not a part: with a weight != 1 or a floor, kl_loss != rate.
    assert np.all(np.abs(np.asarray(logs["kl_loss"]) - np.asarray(logs["rate"])) > 1e-2)


def test_weighted_loss_of_a_batch_matches_the_formula(images):
    beta, floor = 2.5, 0.3
    vae = _compiled(_small_vae(kl_weight=beta, free_bits=floor))
    x = images[:32]
    results = vae.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    z_mean, z_log_var = (np.asarray(t, np.float64) for t in vae.encoder(x))
    per_dim = (0.5 * (z_mean**2 + np.exp(z_log_var) - 1 - z_log_var)).mean(axis=0)
    np.testing.assert_allclose(results["rate"], per_dim.sum(), rtol=1e-5)
    np.testing.assert_allclose(results["kl_loss"], beta * np.maximum(per_dim, floor).sum(),
                               rtol=1e-5)
    np.testing.assert_allclose(results["loss"],
                               results["reconstruction_loss"] + results["kl_loss"], rtol=1e-6)
    nelbo = vae.evaluate_nelbo(x, batch_size=32)
    assert set(nelbo) == LOSS_NAMES | {"rate"}


def test_free_bits_floor_each_dimension_and_stop_its_gradient():
    z_mean = tf.Variable([[3.0, 0.1, 0.0], [-3.0, 0.2, 0.0]])
    z_log_var = tf.Variable([[0.0, 0.0, -0.01], [0.0, 0.0, 0.01]])
    floor = 0.5
    with tf.GradientTape() as tape:
        kl_term, rate = free_bits_kl(z_mean, z_log_var, floor)
    per_dim = (0.5 * (z_mean.numpy() ** 2 + np.exp(z_log_var.numpy()) - 1
                      - z_log_var.numpy())).mean(axis=0)
    assert per_dim[0] > floor > per_dim[1] > per_dim[2] > 0
    np.testing.assert_allclose(float(rate), per_dim.sum(), rtol=1e-6)
    np.testing.assert_allclose(float(kl_term), per_dim[0] + 2 * floor, rtol=1e-6)
    grad_mean, grad_log_var = tape.gradient(kl_term, [z_mean, z_log_var])
    # Dimensions under the floor get no gradient; the one above gets the KL's own.
    np.testing.assert_array_equal(grad_mean.numpy()[:, 1:], 0.0)
    np.testing.assert_array_equal(grad_log_var.numpy()[:, 1:], 0.0)
    np.testing.assert_allclose(grad_mean.numpy()[:, 0], z_mean.numpy()[:, 0] / 2, rtol=1e-6)
    kl_zero_floor, _ = free_bits_kl(z_mean, z_log_var, 0.0)
    np.testing.assert_allclose(float(kl_zero_floor), per_dim.sum(), rtol=1e-6)


def test_free_bits_clamp_the_batch_average_not_each_image():
    # Dimension 0: KL 2 for one image, 0 for the other; the batch average 1 is above a
    # floor of 0.8, so the term is 1 (a clamp per image would give (2 + 0.8) / 2 = 1.4).
    z_mean = np.array([[2.0], [0.0]], np.float32)
    z_log_var = np.zeros_like(z_mean)
    kl_term, rate = free_bits_kl(z_mean, z_log_var, 0.8)
    np.testing.assert_allclose([float(kl_term), float(rate)], [1.0, 1.0], rtol=1e-6)


def test_kl_weight_changes_between_epochs_without_retracing(images):
    vae = _compiled(_small_vae(kl_weight=0.0))
    vae.fit(images, epochs=1, batch_size=32, verbose=0)
    train_function = vae.train_function
    vae.kl_weight = 2.0
    logs = vae.fit(images, epochs=1, batch_size=32, verbose=0).history
    assert vae.train_function is train_function
    # kl_loss is twice the rate when no floor applies: the new weight was used.
    np.testing.assert_allclose(logs["kl_loss"][0], 2.0 * logs["rate"][0], rtol=1e-5)
    vae.kl_weight = 0.0
    logs = vae.fit(images, epochs=1, batch_size=32, verbose=0).history
    assert logs["kl_loss"][0] == 0.0 and logs["rate"][0] > 0


def test_kl_options_round_trip_through_get_config():
    vae = _small_vae(kl_weight=0.25, free_bits=0.1)
    vae.kl_weight = 0.75
    config = vae.get_config()
    assert config["kl_weight"] == 0.75 and config["free_bits"] == pytest.approx(0.1)
    clone = VAE.from_config(config)
    assert clone.kl_weight == 0.75 and clone.free_bits == pytest.approx(0.1)
    assert clone.tracks_rate
    plain = VAE.from_config(_small_vae().get_config())
    assert plain.kl_weight == 1.0 and plain.free_bits == 0.0 and not plain.tracks_rate


@pytest.mark.parametrize("options, error, words", [
    ({"kl_weight": -1.0}, ValueError, "kl_weight must be a finite number >= 0"),
    ({"kl_weight": float("nan")}, ValueError, "kl_weight"),
    ({"kl_weight": "4"}, TypeError, "kl_weight must be a number"),
    ({"kl_weight": True}, TypeError, "kl_weight"),
    ({"free_bits": -0.1}, ValueError, "free_bits must be a finite number >= 0"),
    ({"free_bits": None}, TypeError, "free_bits"),
])
def test_bad_kl_options_are_refused(options, error, words):
    with pytest.raises(error, match=words):
        _small_vae(**options)


def test_kl_weight_setter_validates_and_refuses_a_plain_elbo_vae():
    vae = _small_vae(kl_weight=0.0)
    with pytest.raises(ValueError, match=">= 0"):
        vae.kl_weight = -0.5
    assert vae.kl_weight == 0.0
    plain = _small_vae()
    plain.kl_weight = 1.0  # no change: allowed
    with pytest.raises(ValueError, match="kl_weight=0.5"):
        plain.kl_weight = 0.5
    assert plain.kl_weight == 1.0


# ------------------------------------------------------------------------- speed

def _seeded_history(compile_options: dict, images: np.ndarray, *, epochs: int = 2,
                    builder=None, **fit_options) -> tuple[VAE, dict, list]:
    """Train a fresh seeded VAE; return it, its History and its weights."""
    from course_utils.models.training import set_seed

    set_seed(3)
    vae = (builder or _small_vae)()
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_options)
    history = vae.fit(images, epochs=epochs, batch_size=8, verbose=0, **fit_options)
    return vae, history.history, vae.get_weights()


def test_several_steps_per_call_give_the_numbers_of_one_step_per_call(images):
    from course_utils.models.vae import STEPS_PER_EXECUTION

    vae, default, weights = _seeded_history({}, images, validation_split=0.25)
    assert vae.steps_per_execution == STEPS_PER_EXECUTION > 1
    _, single, single_weights = _seeded_history({"steps_per_execution": 1}, images,
                                                validation_split=0.25)
    assert default == single  # same keys, same numbers, every epoch (and val_*)
    for ours, theirs in zip(weights, single_weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # 48 training images in batches of 8 are 6 steps per epoch, however they are called.
    assert int(vae.optimizer.iterations.numpy()) == 2 * 6


def test_xla_is_honoured_under_op_determinism_and_repeatable(images):
    """jit_compile=True is kept (Keras would report False under op determinism) on a CPU,
    gives the same numbers for the same seed, and the parts still add up."""
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("the CPU rule; on a GPU Keras' own rule applies")
    first, history, weights = _seeded_history({"jit_compile": True}, images)
    assert first.jit_compile is True
    _, again, again_weights = _seeded_history({"jit_compile": True}, images)
    assert history == again
    for ours, theirs in zip(weights, again_weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    _assert_parts_add_up(history)
    _, plain, _ = _seeded_history({"jit_compile": False}, images)
    assert set(plain) == set(history)


def test_auto_xla_waits_for_a_long_fit_and_skips_convolutions(images, monkeypatch):
    import course_utils.models.vae as vae_module

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("the CPU rule; on a GPU Keras' own rule applies")
    short, _, _ = _seeded_history({}, images, epochs=1)
    assert short.jit_compile is False  # 8 steps: compiling would not pay
    monkeypatch.setattr(vae_module, "XLA_MIN_STEPS", 16)
    long, history, _ = _seeded_history({}, images, epochs=2)
    assert long.jit_compile is True  # 2 x 8 steps reach the (lowered) threshold
    _assert_parts_add_up(history)
    conv, _, _ = _seeded_history({}, images, epochs=2,
                                 builder=lambda: build_conv_vae(latent_dim=2, seed=1))
    assert conv.jit_compile is False  # XLA is slower for convolutions on a CPU
    # The test step never uses XLA: evaluating compiles nothing more.
    long.evaluate(images, batch_size=8, verbose=0)
    assert long.jit_compile is True


def test_a_sweep_of_short_fits_prints_no_retracing_warning(images):
    """Each new VAE traces its steps once; with several steps per call a sweep of short
    fits would make TensorFlow warn about frequent retracing (it counts all models)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        for weight in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
            vae = _compiled(_small_vae(kl_weight=weight))
            vae.fit(images, epochs=1, batch_size=16, verbose=0, validation_split=0.25)
            vae.evaluate(images, batch_size=16, verbose=0)
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]
