import keras
import numpy as np
import pytest

from course_utils.models.networks import (
    build_autoencoder,
    build_dense_decoder,
    build_dense_encoder,
)


def dense_params(sizes):
    """Independent count: weights plus biases of consecutive Dense layers."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def test_build_dense_encoder_code_shape_and_params():
    encoder = build_dense_encoder(3, hidden=(64, 32))
    codes = encoder(np.zeros((5, 28, 28, 1), np.float32))
    assert tuple(codes.shape) == (5, 3)
    assert encoder.count_params() == dense_params([784, 64, 32, 3])


def test_build_dense_encoder_gaussian_has_mean_and_log_var_heads():
    encoder = build_dense_encoder(4, hidden=(16,), gaussian=True)
    z_mean, z_log_var = encoder(np.zeros((2, 28, 28, 1), np.float32))
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (2, 4)
    assert encoder.count_params() == dense_params([784, 16]) + 2 * (16 * 4 + 4)


def test_build_dense_decoder_sigmoid_output_is_in_unit_interval():
    decoder = build_dense_decoder(2, hidden=(8,), output="sigmoid")
    images = keras.ops.convert_to_numpy(decoder(np.full((3, 2), 50.0, np.float32)))
    assert images.shape == (3, 28, 28, 1)
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_build_dense_decoder_logits_are_unbounded():
    keras.utils.set_random_seed(0)
    decoder = build_dense_decoder(2, hidden=(8,), output="logits")
    logits = keras.ops.convert_to_numpy(decoder(np.full((3, 2), 100.0, np.float32)))
    assert logits.min() < 0.0 or logits.max() > 1.0


def test_build_autoencoder_classic_sizes_and_shared_weights():
    autoencoder, encoder, decoder = build_autoencoder(2, hidden=(512, 256))
    assert encoder.count_params() == dense_params([784, 512, 256, 2])
    assert decoder.count_params() == dense_params([2, 256, 512, 784])
    assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()
    x = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    through = decoder(encoder(x))
    np.testing.assert_allclose(autoencoder(x), through, rtol=1e-6)


def test_build_autoencoder_outputs_logits_on_request():
    keras.utils.set_random_seed(0)
    autoencoder, encoder, decoder = build_autoencoder(2, hidden=(8,), output="logits")
    # A code far out makes a decoder without a final sigmoid leave (0, 1).
    logits = keras.ops.convert_to_numpy(decoder(np.full((3, 2), 100.0, np.float32)))
    assert logits.min() < 0.0 or logits.max() > 1.0
    _, _, sigmoid_decoder = build_autoencoder(2, hidden=(8,))
    pixels = keras.ops.convert_to_numpy(sigmoid_decoder(np.full((3, 2), 100.0, np.float32)))
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    with pytest.raises(ValueError, match="output must be one of"):
        build_autoencoder(2, output="linear")


def test_logits_autoencoder_trains_with_the_bernoulli_loss_as_lesson_01_does():
    # Lesson 01 compiles with bernoulli_nll_from_logits and says Keras averages the
    # per-image sums over the batch: the loss Keras reports must be that batch mean.
    from synthetic import blob_images

    from course_utils.elbo.losses import bernoulli_nll_from_logits

    keras.utils.set_random_seed(0)
    images = blob_images(64, seed=1)
    autoencoder, _, _ = build_autoencoder(2, hidden=(16,), output="logits")
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss=bernoulli_nll_from_logits)
    history = autoencoder.fit(images, images, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    reported = autoencoder.evaluate(images, images, batch_size=64, verbose=0)
    by_hand = np.mean(keras.ops.convert_to_numpy(
        bernoulli_nll_from_logits(images, autoencoder(images))))
    assert reported == pytest.approx(float(by_hand), rel=1e-4)
    assert by_hand > 100  # a sum over 784 pixels, not a per-pixel mean


@pytest.mark.parametrize("latent_dim, error", [(0, ValueError), (-2, ValueError),
                                               (2.5, TypeError), ("2", TypeError)])
def test_builders_reject_bad_latent_dim(latent_dim, error):
    with pytest.raises(error, match="latent_dim"):
        build_dense_encoder(latent_dim)
    with pytest.raises(error, match="latent_dim"):
        build_dense_decoder(latent_dim)


def test_builders_reject_bad_hidden_and_output():
    with pytest.raises(TypeError, match="sequence of whole numbers"):
        build_dense_encoder(2, hidden=512)
    with pytest.raises(ValueError, match=">= 1"):
        build_dense_decoder(2, hidden=(0,))
    with pytest.raises(ValueError, match="output must be one of"):
        build_dense_decoder(2, output="relu")
