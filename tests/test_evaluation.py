import numpy as np
import pytest

from course_utils.evaluation.reconstruction import reconstruction_mse


def test_reconstruction_mse_is_per_image_mean_over_pixels():
    images = np.zeros((3, 28, 28, 1), np.float32)
    reconstructions = images.copy()
    reconstructions[1, :14] = 0.5          # half the pixels off by 0.5 -> 0.125
    reconstructions[2] = 1.0               # every pixel off by 1 -> 1.0
    np.testing.assert_allclose(reconstruction_mse(images, reconstructions),
                               [0.0, 0.125, 1.0], rtol=1e-6)


def test_reconstruction_mse_accepts_images_without_channel_axis():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=(2, 5, 28, 28))
    expected = [np.mean((a[i] - b[i]) ** 2) for i in range(5)]
    np.testing.assert_allclose(reconstruction_mse(a, b[..., None]), expected, rtol=1e-5)


def test_reconstruction_mse_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_mse(np.zeros((2, 28, 28)), np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="dimensions"):
        reconstruction_mse(np.zeros(10), np.zeros(10))


def test_reconstruction_mse_refuses_nan_0_to_255_and_empty_images():
    ones = np.ones((2, 28, 28), np.float32)
    with pytest.raises(ValueError, match=r"images must hold finite numbers; got 2 NaN pixels"):
        reconstruction_mse(np.where(np.arange(784).reshape(28, 28) == 0, np.nan, ones), ones)
    with pytest.raises(ValueError, match=r"images must hold pixel values in \[0, 1\].*"
                                         r"max 255(\.0)?.*divide by 255"):
        reconstruction_mse(ones * 255, ones)
    with pytest.raises(ValueError, match=r"reconstructions must hold finite numbers.*"
                                         r"training diverged"):
        reconstruction_mse(ones, ones * np.inf)
    with pytest.raises(ValueError, match=r"images must hold at least one image; got 0"):
        reconstruction_mse(ones[:0], ones[:0])
