from statistics import NormalDist

import keras
import numpy as np
import pytest

from course_utils.latent.decoding import (
    decode_codes,
    decode_grid,
    decode_point,
    interpolate,
    normal_quantile_grid,
    normal_quantiles,
    pca_2d,
    tile_images,
)
from course_utils.latent.sampling import sample_aggregate_posterior, sample_prior
from course_utils.models.networks import build_dense_decoder


class CountingModel:
    """A stand-in VAE whose image encodes its code, counting decoder calls."""

    def __init__(self, latent_dim=2):
        self.latent_dim = latent_dim
        self.calls = 0
        self.batch_sizes = []

    def decode(self, z):
        z = np.asarray(z, dtype=np.float32)
        self.calls += 1
        self.batch_sizes.append(len(z))
        images = np.zeros((len(z), 28, 28, 1), dtype=np.float32)
        for k in range(self.latent_dim):  # pixel (0, k) holds a squashed z_k
            images[:, 0, k, 0] = 1 / (1 + np.exp(-z[:, k]))
        return images


# --------------------------------------------------------------------------- grid

def test_normal_quantiles_span_the_stated_probabilities():
    values = normal_quantiles(7, (0.05, 0.95))
    normal = NormalDist()
    assert values.shape == (7,)
    assert values[0] == pytest.approx(-1.6448536, abs=1e-6)
    assert values[-1] == pytest.approx(1.6448536, abs=1e-6)
    probabilities = [normal.cdf(v) for v in values]
    np.testing.assert_allclose(probabilities, np.linspace(0.05, 0.95, 7), atol=1e-9)
    assert np.all(np.diff(values) > 0)


def test_quantile_grid_is_symmetric_and_laid_out_like_a_picture():
    n = 5
    grid = normal_quantile_grid(n, (0.1, 0.9))
    values = normal_quantiles(n, (0.1, 0.9))
    assert grid.shape == (n * n, 2)
    # symmetric about the origin: the set of points equals its negation
    flipped = -grid[::-1]
    np.testing.assert_allclose(flipped, grid, atol=1e-12)
    picture = grid.reshape(n, n, 2)
    np.testing.assert_allclose(picture[0, :, 0], values)          # z1 grows to the right
    np.testing.assert_allclose(picture[:, 0, 1], values[::-1])    # z2 grows upwards
    assert len({tuple(point) for point in grid}) == n * n          # every combination once


def test_quantile_grid_is_not_the_evenly_spaced_box():
    grid = normal_quantile_grid(30)
    assert np.abs(grid).max() > 1.6                                  # beyond [-1, 1]
    gaps = np.diff(np.unique(grid[:, 0]))
    assert gaps[0] > 1.5 * gaps[len(gaps) // 2]                     # wider in the tails


@pytest.mark.parametrize("bad, error", [((0.0, 0.9), ValueError), ((0.5, 0.5), ValueError),
                                        ((0.9, 0.1), ValueError), ((0.1, 1.0), ValueError),
                                        ("ab", TypeError), (0.5, TypeError)])
def test_quantile_range_is_checked(bad, error):
    with pytest.raises(error):
        normal_quantile_grid(4, bad)


@pytest.mark.parametrize("n, error", [(1, ValueError), (2.5, TypeError), (True, TypeError)])
def test_grid_size_is_checked(n, error):
    with pytest.raises(error):
        normal_quantile_grid(n)


def test_decode_grid_makes_one_decoder_call_and_places_codes():
    model = CountingModel()
    images = decode_grid(model, 30)
    assert model.calls == 1 and model.batch_sizes == [900]
    assert images.shape == (30, 30, 28, 28)
    grid = normal_quantile_grid(30).reshape(30, 30, 2)
    squashed = 1 / (1 + np.exp(-grid))
    np.testing.assert_allclose(images[:, :, 0, 0], squashed[..., 0], atol=1e-6)
    np.testing.assert_allclose(images[:, :, 0, 1], squashed[..., 1], atol=1e-6)


def test_decode_grid_in_chosen_dims_of_a_larger_space_and_tiled():
    model = CountingModel(latent_dim=4)
    base = np.array([0.5, -1.0, 2.0, 0.25])
    tiled = decode_grid(model, 3, dims=(2, 0), base=base, tile=True)
    assert model.calls == 1 and tiled.shape == (84, 84)
    grid = normal_quantile_grid(3).reshape(3, 3, 2)
    cell = tiled[28:56, 56:84]                           # row 1, column 2
    expected = 1 / (1 + np.exp(-np.array([grid[1, 2, 1], -1.0, grid[1, 2, 0], 0.25])))
    np.testing.assert_allclose(cell[0, :4], expected, atol=1e-6)


def test_decode_grid_with_a_real_vae_is_one_batched_call(monkeypatch):
    from course_utils.models.vae import build_dense_vae

    vae = build_dense_vae(2, hidden=(16,), seed=0)
    calls = []
    original = vae.decode

    def counting(z):
        calls.append(np.asarray(z).shape)
        return original(z)

    monkeypatch.setattr(vae, "decode", counting)
    images = decode_grid(vae, 12)
    assert calls == [(144, 2)]
    assert images.shape == (12, 12, 28, 28)
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_allclose(images[3, 7], original(normal_quantile_grid(12)[3 * 12 + 7][None])
                               [0, ..., 0], atol=1e-6)


def test_decode_grid_checks_dims_and_base():
    model = CountingModel(latent_dim=3)
    for dims in [(0, 0), (0, 3), (-1, 1)]:
        with pytest.raises(ValueError):
            decode_grid(model, 3, dims=dims)
    with pytest.raises(ValueError):
        decode_grid(model, 3, base=[0.0, 1.0])
    assert model.calls == 0


def test_keras_decoders_are_read_as_logits_or_probabilities():
    logits_decoder = build_dense_decoder(2, (8,), output="logits")
    sigmoid_decoder = build_dense_decoder(2, (8,), output="sigmoid")
    sigmoid_decoder.set_weights(logits_decoder.get_weights())
    z = np.array([[0.3, -0.7]], dtype=np.float32)
    from_logits = decode_point(logits_decoder, z[0])
    from_probabilities = decode_point(sigmoid_decoder, z[0])
    raw = keras.ops.convert_to_numpy(logits_decoder(z))[0, ..., 0]
    np.testing.assert_allclose(from_logits, 1 / (1 + np.exp(-raw)), atol=1e-6)
    np.testing.assert_allclose(from_probabilities, from_logits, atol=1e-6)


def test_decode_point_and_codes_check_their_inputs():
    model = CountingModel()
    assert decode_point(model, [0.0, 1.0]).shape == (28, 28)
    assert decode_point(model, [[0.0, 1.0]]).shape == (28, 28)
    for bad in ([0.0, 1.0, 2.0], [[0.0, 1.0], [1.0, 2.0]], [np.nan, 0.0], []):
        with pytest.raises(ValueError):
            decode_point(model, bad)
    with pytest.raises(ValueError):
        decode_codes(model, np.zeros((3, 5)))
    with pytest.raises(TypeError):
        decode_point(object(), [0.0, 1.0])
    with pytest.raises(TypeError):
        decode_codes(model, "codes")


def test_tile_images_puts_each_image_in_its_cell():
    images = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    tiled = tile_images(images)
    assert tiled.shape == (8, 15)
    np.testing.assert_array_equal(tiled[4:8, 10:15], images[1, 2])
    with pytest.raises(ValueError):
        tile_images(np.zeros((2, 2, 4, 4, 3)))


# ------------------------------------------------------------------ interpolation

def test_linear_interpolation_has_exact_endpoints_and_midpoint():
    a = np.array([0.1, -2.0, 3.3], dtype=np.float32)
    b = np.array([1.7, 0.4, -1.1], dtype=np.float32)
    path = interpolate(a, b, 5)
    assert path.shape == (5, 3)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    np.testing.assert_allclose(path[2], (a.astype(float) + b) / 2, atol=1e-12)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((b - a.astype(float)) / 4, (4, 1)),
                               atol=1e-12)


def test_spherical_interpolation_follows_the_arc():
    a = np.array([2.0, 0.0])
    b = np.array([0.0, 2.0])
    path = interpolate(a, b, 3, method="spherical")
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    np.testing.assert_allclose(path[1], [np.sqrt(2), np.sqrt(2)], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(interpolate(a, b, 9, "spherical"), axis=1), 2.0)
    assert np.linalg.norm(interpolate(a, b, 3)[1]) < 1.5          # linear cuts the corner


def test_spherical_interpolation_falls_back_to_linear_when_the_arc_is_undefined():
    a = np.array([1.0, 1.0])
    for b in (np.array([-2.0, -2.0]), np.array([3.0, 3.0]), np.zeros(2)):
        np.testing.assert_allclose(interpolate(a, b, 4, "spherical"), interpolate(a, b, 4))


def test_spherical_interpolation_keeps_equal_lengths_and_nears_linear_for_small_angles():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2, 8))
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    lengths = np.linalg.norm(interpolate(a, b, 50, "spherical"), axis=1)
    np.testing.assert_allclose(lengths, lengths[0], rtol=1e-6)  # the great circle (float32 codes)
    for angle_scale in (1e-3, 1e-5, 1e-7, 1e-9):  # nearly parallel: finite, close to linear
        close = a + angle_scale * rng.standard_normal(8)
        path = interpolate(a, close, 11, "spherical")
        assert np.all(np.isfinite(path))
        np.testing.assert_allclose(path, interpolate(a, close, 11), atol=1e-6)


@pytest.mark.parametrize("args, error", [
    (([0.0, 1.0], [1.0], 3), ValueError),
    (([0.0, 1.0], [1.0, 2.0], 1), ValueError),
    (([0.0, 1.0], [1.0, 2.0], 3.0), TypeError),
    (([0.0, np.inf], [1.0, 2.0], 3), ValueError),
    (("ab", [1.0, 2.0], 3), TypeError),
])
def test_interpolate_checks_inputs(args, error):
    with pytest.raises(error):
        interpolate(*args)
    with pytest.raises(ValueError, match="method"):
        interpolate([0.0], [1.0], 3, method="cubic")


# --------------------------------------------------------------------------- PCA

def test_pca_recovers_a_rotated_anisotropic_gaussian():
    rng = np.random.default_rng(0)
    stds = np.array([3.0, 1.0, 0.5])
    # an independent construction: a random rotation from a QR decomposition
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    codes = (rng.normal(size=(20000, 3)) * stds) @ rotation.T + np.array([5.0, -2.0, 1.0])
    projected, components, ratio = pca_2d(codes)
    assert projected.shape == (20000, 2) and components.shape == (2, 3)
    # the first principal axis is the rotated first coordinate axis (up to sign)
    assert abs(components[0] @ rotation[:, 0]) > 0.999
    assert abs(components[1] @ rotation[:, 1]) > 0.99
    np.testing.assert_allclose(components @ components.T, np.eye(2), atol=1e-10)
    true_ratio = stds ** 2 / (stds ** 2).sum()
    np.testing.assert_allclose(ratio, true_ratio[:2], atol=0.01)
    np.testing.assert_allclose(projected.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(projected.var(axis=0), stds[:2] ** 2, rtol=0.05)
    # signs are fixed: the largest entry of each component is positive
    assert np.all(components[np.arange(2), np.abs(components).argmax(axis=1)] > 0)


def test_pca_projection_agrees_with_the_covariance_eigenvectors():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    projected, components, ratio = pca_2d(codes)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(codes, rowvar=False))
    order = np.argsort(eigenvalues)[::-1]
    np.testing.assert_allclose(ratio, eigenvalues[order][:2] / eigenvalues.sum(), rtol=1e-8)
    for k in range(2):
        assert abs(components[k] @ eigenvectors[:, order[k]]) == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(projected, (codes - codes.mean(0)) @ components.T, atol=1e-9)


@pytest.mark.parametrize("codes, error", [
    (np.zeros((1, 3)), ValueError), (np.zeros((5, 1)), ValueError),
    (np.ones((5, 3)), ValueError), (np.zeros(5), ValueError),
    (np.array([[0.0, np.nan], [1.0, 2.0]]), ValueError), ("codes", TypeError)])
def test_pca_rejects_bad_codes(codes, error):
    with pytest.raises(error):
        pca_2d(codes)


# ---------------------------------------------------------------------- sampling

def test_prior_samples_are_standard_normal_and_seeded():
    samples = sample_prior(20000, 3, seed=4)
    assert samples.shape == (20000, 3) and samples.dtype == np.float32
    np.testing.assert_allclose(samples.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(samples.std(axis=0), 1.0, atol=0.03)
    np.testing.assert_array_equal(samples, sample_prior(20000, 3, seed=4))


def test_aggregate_posterior_is_a_mixture_of_the_posteriors():
    z_mean = np.array([[-5.0, 0.0], [5.0, 0.0]])
    z_log_var = np.log(np.array([[0.01, 0.01], [0.04, 0.04]]))
    samples = sample_aggregate_posterior(z_mean, z_log_var, 20000, seed=0)
    left, right = samples[samples[:, 0] < 0], samples[samples[:, 0] > 0]
    assert len(left) + len(right) == 20000
    assert abs(len(left) / 20000 - 0.5) < 0.02
    np.testing.assert_allclose(left.mean(axis=0), [-5.0, 0.0], atol=0.01)
    np.testing.assert_allclose(left.std(axis=0), [0.1, 0.1], rtol=0.05)
    np.testing.assert_allclose(right.std(axis=0), [0.2, 0.2], rtol=0.05)


def test_sampling_checks_inputs():
    with pytest.raises(ValueError):
        sample_aggregate_posterior(np.zeros((3, 2)), np.zeros((3, 3)), 5)
    with pytest.raises(ValueError):
        sample_prior(0, 2)
    with pytest.raises(TypeError):
        sample_prior(5, 2.0)


# ------------------------------------------------------------------- bad input

def test_decoding_and_sampling_refuse_non_finite_and_empty_codes():
    model = CountingModel()
    with pytest.raises(ValueError, match=r"codes must hold finite numbers; got 1 NaN value"):
        decode_codes(model, np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"codes must hold at least one code; got 0"):
        decode_codes(model, np.zeros((0, 2)))
    assert model.calls == 0  # refused before the model was called
    with pytest.raises(ValueError, match=r"z_log_var must hold finite numbers; got 1 "
                                         r"infinite value"):
        sample_aggregate_posterior(np.zeros((3, 2)), np.array([[0, 0], [0, np.inf], [0, 0]]),
                                   5)
    with pytest.raises(ValueError, match=r"z_mean must hold at least one code; got 0"):
        sample_aggregate_posterior(np.zeros((0, 2)), np.zeros((0, 2)), 5)


def test_decoders_that_return_non_finite_images_are_reported():
    class Diverged(CountingModel):
        def decode(self, z):
            return super().decode(z) * np.nan

    with pytest.raises(ValueError, match=r"decoded images must hold finite numbers.*"
                                         r"training diverged"):
        decode_codes(Diverged(), np.zeros((2, 2)))


def test_tile_images_refuses_an_empty_grid():
    with pytest.raises(ValueError, match=r"images must hold at least one row"):
        tile_images(np.zeros((0, 3, 28, 28)))
