"""Tests of the likelihood options of course_utils.models.vae.VAE (Gaussian, learned sigma)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from synthetic import blob_images

from course_utils.models.networks import build_dense_decoder, build_dense_encoder
from course_utils.models.vae import VAE, build_conv_vae, build_dense_vae

LOSS_NAMES = {"loss", "reconstruction_loss", "kl_loss"}
KERAS_SAVE_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword"
D = 784


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return blob_images(48)


def _small_vae(**options) -> VAE:
    encoder = build_dense_encoder(3, (32,), gaussian=True)
    decoder = build_dense_decoder(3, (32,), output="logits")
    return VAE(encoder, decoder, seed=7, **options)


def _near_deterministic(vae: VAE) -> None:
    """z_log_var = -40 for every image: z = z_mean up to 2e-9, so the loss is deterministic."""
    head = vae.encoder.get_layer("z_log_var")
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.full_like(bias, -40.0)])


def _numpy_parts(vae: VAE, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior means (float64), and the decoder's logits at them (float64)."""
    z_mean, z_log_var = (np.asarray(keras.ops.convert_to_numpy(t), np.float64)
                         for t in vae.encoder(images))
    logits = np.asarray(keras.ops.convert_to_numpy(vae.decoder(z_mean.astype(np.float32))),
                        np.float64)
    return z_mean, z_log_var, logits


def _gaussian_log_density(x, mean, sigma) -> np.ndarray:
    """Sum over pixels of log N(x; mean, sigma^2), from the density written out."""
    density = np.exp(-((x - mean) ** 2) / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
    return np.log(density).reshape(len(x), -1).sum(axis=1)


def _bce(x, logits) -> np.ndarray:
    p = 1 / (1 + np.exp(-logits))
    return -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).sum(axis=1)


def _kl(z_mean, z_log_var) -> np.ndarray:
    return -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)


def _evaluate(vae: VAE, images: np.ndarray, batch_size: int = 20) -> dict:
    if not vae.compiled:
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    return vae.evaluate(images, batch_size=batch_size, verbose=0, return_dict=True)


# ------------------------------------------------------------------------ defaults

def test_default_options_are_the_bernoulli_sum_of_before():
    vae = _small_vae()
    assert (vae.likelihood, vae.reduction, vae.sigma, vae.log_sigma) == \
        ("bernoulli", "sum", None, None)
    config = vae.get_config()
    assert config["likelihood"] == "bernoulli" and config["reduction"] == "sum"
    assert config["sigma"] is None and config["initial_sigma"] is None
    # A config saved before the options existed still loads, as a Bernoulli VAE.
    for key in ("likelihood", "sigma", "reduction", "initial_sigma"):
        del config[key]
    assert VAE.from_config(config).likelihood == "bernoulli"
    assert _small_vae(likelihood="gaussian").sigma == 1.0
    assert build_dense_vae(2, hidden=(8,)).count_params() + 1 == \
        build_dense_vae(2, hidden=(8,), likelihood="gaussian", sigma="learned").count_params()


# ----------------------------------------------------------- the loss, independently

@pytest.mark.parametrize("sigma", [1.0, 0.3])
def test_gaussian_loss_equals_an_independent_numpy_log_density(images, sigma):
    keras.utils.set_random_seed(0)
    vae = _small_vae(likelihood="gaussian", sigma=sigma)
    _near_deterministic(vae)
    z_mean, z_log_var, logits = _numpy_parts(vae, images)
    mean = 1 / (1 + np.exp(-logits))  # the documented Gaussian mean: sigmoid(logits)
    nll = -_gaussian_log_density(images.astype(np.float64), mean, sigma)
    results = _evaluate(vae, images)
    np.testing.assert_allclose(results["reconstruction_loss"], nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(results["kl_loss"], _kl(z_mean, z_log_var).mean(), rtol=1e-5)
    np.testing.assert_allclose(results["loss"], nll.mean() + _kl(z_mean, z_log_var).mean(),
                               rtol=1e-5)
    got = keras.ops.convert_to_numpy(vae.reconstruction_nll(images, logits.astype(np.float32)))
    assert got.shape == (len(images),)
    np.testing.assert_allclose(got, nll, rtol=1e-5)


@pytest.mark.parametrize("options", [{}, {"likelihood": "gaussian", "sigma": 0.2},
                                     {"likelihood": "gaussian", "sigma": "learned"}],
                         ids=["bernoulli", "gaussian", "learned"])
def test_mean_reduction_is_the_sum_divided_by_the_pixel_count(images, options):
    keras.utils.set_random_seed(1)
    summed = _small_vae(reduction="sum", **options)
    averaged = _small_vae(reduction="mean", **options)
    averaged.set_weights(summed.get_weights())
    _near_deterministic(summed)
    _near_deterministic(averaged)
    by_sum, by_mean = _evaluate(summed, images), _evaluate(averaged, images)
    np.testing.assert_allclose(by_mean["reconstruction_loss"] * D,
                               by_sum["reconstruction_loss"], rtol=1e-5)
    np.testing.assert_allclose(by_mean["kl_loss"], by_sum["kl_loss"], rtol=1e-6)
    np.testing.assert_allclose(by_mean["loss"],
                               by_mean["reconstruction_loss"] + by_mean["kl_loss"], rtol=1e-6)
    if not options:  # and for Bernoulli the summed term is the plain BCE
        _, _, logits = _numpy_parts(summed, images)
        np.testing.assert_allclose(by_sum["reconstruction_loss"],
                                   _bce(images.astype(np.float64), logits).mean(), rtol=1e-5)


def test_learned_sigma_is_used_by_the_loss(images):
    vae = _small_vae(likelihood="gaussian", sigma="learned", initial_sigma=0.5)
    assert vae.sigma == pytest.approx(0.5)
    vae.log_sigma.assign(math.log(0.2))
    assert vae.sigma == pytest.approx(0.2)
    _, _, logits = _numpy_parts(vae, images)
    got = keras.ops.convert_to_numpy(vae.reconstruction_nll(images, logits.astype(np.float32)))
    want = -_gaussian_log_density(images.astype(np.float64), 1 / (1 + np.exp(-logits)), 0.2)
    np.testing.assert_allclose(got, want, rtol=1e-5)


# ---------------------------------------------------------------------- training

def test_learned_sigma_is_trainable_and_moves_to_the_residual_std():
    """Decoder fixed at mean 0.5 and frozen: the only free weight is log_sigma, and the
    maximum-likelihood sigma is the root-mean-square residual of the data around 0.5."""
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    noise_std = 0.05
    x = (0.5 + noise_std * rng.standard_normal((256, 28, 28, 1))).astype(np.float32)
    vae = _small_vae(likelihood="gaussian", sigma="learned")  # starts at sigma = 1
    assert any(v is vae.log_sigma for v in vae.trainable_variables)
    pixels = vae.decoder.get_layer("pixels")
    pixels.set_weights([np.zeros_like(w) for w in pixels.get_weights()])  # sigmoid(0) = 0.5
    vae.encoder.trainable = False
    vae.decoder.trainable = False
    assert len(vae.trainable_variables) == 1
    vae.compile(optimizer=keras.optimizers.Adam(0.05))
    history = vae.fit(x, epochs=60, batch_size=64, verbose=0)
    residual_rms = float(np.sqrt(np.mean((x.astype(np.float64) - 0.5) ** 2)))
    assert residual_rms == pytest.approx(noise_std, rel=0.01)
    sigmas = history.history["sigma"]
    assert sigmas[0] < 1.0 and sigmas[-1] == pytest.approx(vae.sigma, rel=1e-6)
    assert vae.sigma == pytest.approx(residual_rms, rel=0.05)


def test_history_logs_sigma_only_when_it_is_learned(images):
    keras.utils.set_random_seed(3)
    learned = _small_vae(likelihood="gaussian", sigma="learned", reduction="mean")
    learned.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = learned.fit(images, epochs=2, batch_size=16, validation_split=0.25,
                       verbose=0).history
    assert set(logs) == LOSS_NAMES | {f"val_{n}" for n in LOSS_NAMES} | {"sigma"}
    np.testing.assert_allclose(logs["loss"], np.add(logs["reconstruction_loss"],
                                                    logs["kl_loss"]), rtol=1e-5)
    assert logs["sigma"][-1] != 1.0
    fixed = _small_vae(likelihood="gaussian", sigma=0.1)
    fixed.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert "sigma" not in fixed.fit(images, epochs=1, batch_size=16, verbose=0).history
    assert fixed.sigma == 0.1  # a fixed sigma does not train


def test_conv_builder_accepts_the_options(images):
    vae = build_conv_vae(2, seed=0, likelihood="gaussian", sigma="learned", initial_sigma=0.3)
    assert vae.sigma == pytest.approx(0.3) and vae.count_params() == 134_166
    assert np.isfinite(_evaluate(vae, images[:8], batch_size=8)["loss"])


# -------------------------------------------------------------------- save / load

@pytest.mark.filterwarnings(KERAS_SAVE_WARNING)
def test_save_load_round_trips_options_and_the_learned_sigma(images, tmp_path):
    keras.utils.set_random_seed(4)
    vae = _small_vae(likelihood="gaussian", sigma="learned", reduction="mean",
                     initial_sigma=0.4)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vae.fit(images, epochs=2, batch_size=16, verbose=0)
    assert vae.sigma != pytest.approx(0.4)
    vae.save(tmp_path / "learned.keras")
    loaded = keras.models.load_model(tmp_path / "learned.keras")
    assert isinstance(loaded, VAE)
    assert (loaded.likelihood, loaded.reduction) == ("gaussian", "mean")
    assert loaded.get_config()["sigma"] == "learned"
    assert loaded.get_config()["initial_sigma"] == 0.4
    assert loaded.sigma == pytest.approx(vae.sigma, rel=1e-6)
    assert int(loaded.optimizer.iterations.numpy()) == int(vae.optimizer.iterations.numpy())
    _, _, logits = _numpy_parts(vae, images)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.reconstruction_nll(images, logits)),
        keras.ops.convert_to_numpy(vae.reconstruction_nll(images, logits)), rtol=1e-6)
    history = loaded.fit(images, epochs=1, batch_size=16, verbose=0).history
    assert "sigma" in history and math.isfinite(history["loss"][0])

    fixed = _small_vae(likelihood="gaussian", sigma=0.25)
    fixed.compile(optimizer=keras.optimizers.Adam(1e-3))
    fixed.fit(images, epochs=1, batch_size=16, verbose=0)
    fixed.save(tmp_path / "fixed.keras")
    reloaded = keras.models.load_model(tmp_path / "fixed.keras")
    assert (reloaded.likelihood, reloaded.sigma, reloaded.reduction, reloaded.log_sigma) == \
        ("gaussian", 0.25, "sum", None)


# ---------------------------------------------------------------------- bad options

@pytest.mark.parametrize("options, listed", [
    ({"likelihood": "laplace"}, ["'bernoulli'", "'gaussian'"]),
    ({"likelihood": "Gaussian"}, ["'bernoulli'", "'gaussian'"]),
    ({"reduction": "average"}, ["'sum'", "'mean'"]),
    ({"reduction": None}, ["'sum'", "'mean'"]),
    ({"likelihood": "gaussian", "sigma": -1.0}, ["positive number", "'learned'"]),
    ({"likelihood": "gaussian", "sigma": 0}, ["positive number", "'learned'"]),
    ({"likelihood": "gaussian", "sigma": float("nan")}, ["positive number", "'learned'"]),
    ({"likelihood": "gaussian", "sigma": "learn"}, ["positive number", "'learned'"]),
    ({"likelihood": "gaussian", "sigma": True}, ["positive number", "'learned'"]),
    ({"sigma": 0.5}, ["likelihood='gaussian'"]),
    ({"sigma": "learned"}, ["likelihood='gaussian'"]),
    ({"likelihood": "gaussian", "sigma": 0.5, "initial_sigma": 0.5}, ["sigma='learned'"]),
    ({"likelihood": "gaussian", "sigma": "learned", "initial_sigma": 0.0}, ["positive"]),
])
def test_bad_options_raise_value_errors_that_list_valid_values(options, listed):
    with pytest.raises(ValueError) as raised:
        _small_vae(**options)
    for text in listed:
        assert text in str(raised.value)
    with pytest.raises(ValueError):
        build_dense_vae(2, hidden=(8,), **options)
