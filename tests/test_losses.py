"""Tests for course_utils.elbo.losses: each term against an independent float64 NumPy formula."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course_utils.elbo.losses import (
    bernoulli_nll_from_logits,
    gaussian_nll,
    kl_divergence_standard_normal,
    negative_elbo,
)


def _np(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def _kl_reference(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """The textbook closed form, summed over latent dims."""
    return -0.5 * np.sum(1.0 + log_var - mean**2 - np.exp(log_var), axis=-1)


def _bce_reference(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """-(x log p + (1 - x) log(1 - p)) with p = sigmoid(l), summed over non-batch axes."""
    p = 1.0 / (1.0 + np.exp(-logits))
    per_pixel = -(x * np.log(p) + (1.0 - x) * np.log(1.0 - p))
    return per_pixel.reshape(len(x), -1).sum(axis=1)


def _gaussian_log_density_sum(x: np.ndarray, mean: np.ndarray, sigma) -> np.ndarray:
    """Sum over pixels of log N(x_i; mean_i, sigma_i^2), from the density itself."""
    sigma = np.broadcast_to(sigma, x.shape)
    density = np.exp(-((x - mean) ** 2) / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
    return np.log(density).reshape(len(x), -1).sum(axis=1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240521)


# ------------------------------------------------------------------------------ KL


def test_kl_matches_textbook_formula(rng):
    mean = rng.normal(size=(16, 3))
    log_var = rng.normal(scale=1.5, size=(16, 3))
    result = kl_divergence_standard_normal(mean, log_var)
    assert tuple(result.shape) == (16,)
    np.testing.assert_allclose(_np(result), _kl_reference(mean, log_var), rtol=1e-12)


def test_kl_is_exactly_zero_at_the_prior():
    result = _np(kl_divergence_standard_normal(np.zeros((4, 2), np.float32),
                                               np.zeros((4, 2), np.float32)))
    assert np.array_equal(result, np.zeros(4))


def test_kl_is_summed_over_latent_dims_not_averaged(rng):
    mean = rng.normal(size=(5, 1)).astype(np.float32)
    log_var = rng.normal(size=(5, 1)).astype(np.float32)
    one = _np(kl_divergence_standard_normal(mean, log_var))
    two = _np(kl_divergence_standard_normal(np.repeat(mean, 2, axis=1),
                                            np.repeat(log_var, 2, axis=1)))
    np.testing.assert_allclose(two, 2.0 * one, rtol=1e-6)
    assert np.all(one > 0)


_TINY = float(np.float32(1e-6))
_latents = arrays(np.float32, (3, 4), elements=st.floats(-30, 30, width=32))


@settings(max_examples=60, deadline=None)
@given(mean=_latents, log_var=_latents)
def test_kl_is_non_negative_and_finite_in_float32(mean, log_var):
    result = _np(kl_divergence_standard_normal(mean, log_var))
    assert np.all(np.isfinite(result))
    assert np.all(result >= 0.0)


@settings(max_examples=40, deadline=None)
@given(log_var=arrays(np.float32, (2, 3), elements=st.floats(-_TINY, _TINY, width=32)))
def test_kl_is_non_negative_for_tiny_log_variances(log_var):
    # 1 + lv - exp(lv) cancels almost completely here; round-off must not make it < 0.
    result = _np(kl_divergence_standard_normal(np.zeros_like(log_var), log_var))
    assert np.all(result >= 0.0)


def test_kl_keeps_float64_and_casts_integers():
    assert kl_divergence_standard_normal(np.ones((2, 2)), np.ones((2, 2))).dtype == tf.float64
    result = kl_divergence_standard_normal(np.ones((2, 2), dtype=int), np.zeros((2, 2), int))
    assert keras.backend.standardize_dtype(result.dtype) == keras.config.floatx()
    np.testing.assert_allclose(_np(result), [1.0, 1.0])


def test_kl_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"z_mean and z_log_var must have the same "
                                         r"shape; got \(2, 3\) and \(2, 4\)\. Make"):
        kl_divergence_standard_normal(np.zeros((2, 3)), np.zeros((2, 4)))


def test_kl_rejects_a_missing_batch_axis():
    with pytest.raises(ValueError, match=r"z_mean must have shape \(batch, latent_dim\); "
                                         r"got shape \(3,\)\. Pass"):
        kl_divergence_standard_normal(np.zeros(3), np.zeros(3))


def test_kl_rejects_non_numeric_input():
    with pytest.raises(TypeError, match=r"z_mean must hold real numbers; got dtype "
                                        r"string\. Convert"):
        kl_divergence_standard_normal(np.array([["a", "b"]]), np.zeros((1, 2)))
    with pytest.raises(TypeError, match=r"z_log_var must be a numeric array or "
                                        r"tensor; got dict\. Pass"):
        kl_divergence_standard_normal(np.zeros((1, 2)), {"a": 1})


# --------------------------------------------------------------------- Bernoulli


def test_bce_matches_independent_formula_for_grey_levels(rng):
    x = rng.uniform(0.0, 1.0, size=(4, 7, 5, 1))
    logits = rng.uniform(-10.0, 10.0, size=x.shape)
    result = bernoulli_nll_from_logits(x, logits)
    assert tuple(result.shape) == (4,)
    np.testing.assert_allclose(_np(result), _bce_reference(x, logits), rtol=1e-10)


def test_bce_is_finite_and_correct_for_extreme_logits():
    x = np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)
    logits = np.array([[100.0, -100.0, 100.0, -100.0]], np.float32)
    result = _np(bernoulli_nll_from_logits(x, logits))
    assert np.all(np.isfinite(result))
    # -log(1 - sigmoid(100)) = log(1 + e^100) = 100 + log1p(e^-100); same for x=1, l=-100.
    np.testing.assert_allclose(result, [200.0], rtol=1e-6)


def test_bce_is_summed_over_pixels():
    x_value, logit = 0.3, 0.7
    p = 1.0 / (1.0 + math.exp(-logit))
    per_pixel = -(x_value * math.log(p) + (1 - x_value) * math.log(1 - p))
    x = np.full((1, 28, 28, 1), x_value, np.float32)
    logits = np.full((1, 28, 28, 1), logit, np.float32)
    result = _np(bernoulli_nll_from_logits(x, logits))
    np.testing.assert_allclose(result, [784 * per_pixel], rtol=1e-5)


def test_bce_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"x and logits must have the same shape; "
                                         r"got \(2, 28, 28, 1\) and \(2, 784\)\. Make"):
        bernoulli_nll_from_logits(np.zeros((2, 28, 28, 1)), np.zeros((2, 784)))


def test_bce_rejects_x_without_a_batch_axis():
    with pytest.raises(ValueError, match=r"x must have shape \(batch, \.\.\.\) .*; got "
                                         r"shape \(784,\)\. Add"):
        bernoulli_nll_from_logits(np.zeros(784), np.zeros(784))


# ----------------------------------------------------------------------- Gaussian


def test_gaussian_nll_matches_direct_log_density(rng):
    x = rng.normal(size=(3, 6, 4, 1))
    mean = x + rng.normal(scale=0.5, size=x.shape)
    result = gaussian_nll(x, mean, math.log(0.8))
    assert tuple(result.shape) == (3,)
    np.testing.assert_allclose(_np(result), -_gaussian_log_density_sum(x, mean, 0.8),
                               rtol=1e-10)


def test_gaussian_nll_closed_form_with_scalar_sigma(rng):
    x = rng.normal(size=(2, 10))
    mean = rng.normal(size=(2, 10))
    sigma = 1.7
    expected = (np.sum((x - mean) ** 2, axis=1) / (2 * sigma**2)
                + 10 / 2 * math.log(2 * math.pi * sigma**2))
    np.testing.assert_allclose(_np(gaussian_nll(x, mean, math.log(sigma))), expected,
                               rtol=1e-12)


def test_gaussian_nll_with_per_pixel_sigma(rng):
    x = rng.normal(size=(3, 5, 4))
    mean = rng.normal(size=(3, 5, 4))
    sigma = rng.uniform(0.3, 2.0, size=(1, 5, 4))
    result = gaussian_nll(x, mean, np.log(sigma))
    np.testing.assert_allclose(_np(result), -_gaussian_log_density_sum(x, mean, sigma),
                               rtol=1e-10)


def test_mean_mse_is_a_gaussian_with_variance_half_the_pixel_count(rng):
    x = rng.uniform(size=(4, 28, 28, 1))
    mean = rng.uniform(size=(4, 28, 28, 1))
    pixels = 28 * 28
    sigma_squared = pixels / 2
    constant = pixels / 2 * math.log(2 * math.pi * sigma_squared)
    nll = _np(gaussian_nll(x, mean, 0.5 * math.log(sigma_squared)))
    per_pixel_mse = np.mean((x - mean) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(nll - constant, per_pixel_mse, rtol=1e-8)


def test_gaussian_nll_gradient_for_a_learned_sigma(rng):
    x = rng.normal(size=(2, 8)).astype(np.float32)
    mean = np.zeros_like(x)
    log_sigma = keras.Variable(0.3, dtype="float32")
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(gaussian_nll(x, mean, log_sigma))
    gradient = float(tape.gradient(total, log_sigma))
    # d/dlog_sigma of sum(sq) exp(-2 ls)/2 + D ls, summed over the batch.
    expected = -np.sum(x.astype(np.float64) ** 2) * math.exp(-0.6) + x.size
    assert gradient == pytest.approx(expected, rel=1e-5)


def test_gaussian_nll_rejects_mismatched_mean():
    with pytest.raises(ValueError, match=r"x and mean must have the same shape; got "
                                         r"\(2, 4\) and \(2, 5\)\. Make"):
        gaussian_nll(np.zeros((2, 4)), np.zeros((2, 5)), 0.0)


def test_gaussian_nll_rejects_log_sigma_that_does_not_broadcast():
    with pytest.raises(ValueError, match=r"log_sigma must be a scalar or broadcast "
                                         r"to x shape \(2, 4\); got shape \(3,\)\. Use"):
        gaussian_nll(np.zeros((2, 4)), np.zeros((2, 4)), np.zeros(3))
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 4\)\. Use"):
        gaussian_nll(np.zeros((2, 4)), np.zeros((2, 4)), np.zeros((1, 2, 4)))


# ------------------------------------------------------------------- negative ELBO


def test_negative_elbo_parts_add_up_and_are_batch_means(rng):
    x = rng.uniform(size=(5, 28, 28, 1)).astype(np.float32)
    logits = rng.normal(scale=3.0, size=x.shape).astype(np.float32)
    z_mean = rng.normal(size=(5, 2)).astype(np.float32)
    z_log_var = rng.normal(size=(5, 2)).astype(np.float32)
    losses = negative_elbo(x, logits, z_mean, z_log_var)
    assert set(losses) == {"loss", "reconstruction_loss", "kl_loss"}
    assert all(tuple(value.shape) == () for value in losses.values())
    values = {name: np.float32(value) for name, value in losses.items()}
    assert values["loss"] == values["reconstruction_loss"] + values["kl_loss"]  # float32 sum
    x64, l64 = x.astype(np.float64), logits.astype(np.float64)
    expected_reconstruction = np.mean(_bce_reference(x64, l64))
    expected_kl = np.mean(_kl_reference(z_mean.astype(np.float64),
                                        z_log_var.astype(np.float64)))
    assert values["reconstruction_loss"] == pytest.approx(expected_reconstruction, rel=1e-5)
    assert values["kl_loss"] == pytest.approx(expected_kl, rel=1e-5)


def test_negative_elbo_does_not_grow_with_batch_size(rng):
    x = rng.uniform(size=(1, 6, 6, 1))
    logits = rng.normal(size=x.shape)
    z_mean, z_log_var = rng.normal(size=(1, 3)), rng.normal(size=(1, 3))
    one = negative_elbo(x, logits, z_mean, z_log_var)
    four = negative_elbo(*(np.repeat(a, 4, axis=0) for a in (x, logits, z_mean, z_log_var)))
    for name in one:
        assert float(four[name]) == pytest.approx(float(one[name]), rel=1e-12)


def test_negative_elbo_rejects_different_batch_sizes():
    with pytest.raises(ValueError, match=r"x and z_mean must have the same batch "
                                         r"size; got 3 and 2\. Encode"):
        negative_elbo(np.zeros((3, 4, 4, 1)), np.zeros((3, 4, 4, 1)),
                      np.zeros((2, 2)), np.zeros((2, 2)))


def test_negative_elbo_in_a_graph_with_unknown_batch_size_and_gradients(rng):
    spec_image = tf.TensorSpec([None, 28, 28, 1], tf.float32)
    spec_code = tf.TensorSpec([None, 2], tf.float32)
    bias = tf.Variable(0.5)

    @tf.function(input_signature=[spec_image, spec_image, spec_code, spec_code])
    def loss_and_gradient(x, logits, z_mean, z_log_var):
        with tf.GradientTape() as tape:
            losses = negative_elbo(x, logits + bias, z_mean * bias, z_log_var)
        return losses, tape.gradient(losses["loss"], bias)

    x = rng.uniform(size=(3, 28, 28, 1)).astype(np.float32)
    logits = rng.normal(size=x.shape).astype(np.float32)
    z_mean = rng.normal(size=(3, 2)).astype(np.float32)
    z_log_var = rng.normal(size=(3, 2)).astype(np.float32)
    losses, gradient = loss_and_gradient(x, logits, z_mean, z_log_var)
    eager = negative_elbo(x, logits + 0.5, z_mean * 0.5, z_log_var)
    for name in eager:
        assert float(losses[name]) == pytest.approx(float(eager[name]), rel=1e-5)
    # d/db: mean over batch of sum(sigmoid(l + b) - x) + mean of sum(z_mean**2 * b).
    p = 1.0 / (1.0 + np.exp(-(logits.astype(np.float64) + 0.5)))
    expected = (np.mean(np.sum(p - x, axis=(1, 2, 3)))
                + np.mean(np.sum(z_mean.astype(np.float64) ** 2 * 0.5, axis=1)))
    assert float(gradient) == pytest.approx(expected, rel=1e-4)


def test_graph_mode_still_catches_static_shape_errors():
    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1]),
                                  tf.TensorSpec([None, 784])])
    def reconstruction(x, logits):
        return bernoulli_nll_from_logits(x, logits)

    with pytest.raises(ValueError, match=r"got \(None, 28, 28, 1\) and \(None, 784\)"):
        reconstruction.get_concrete_function()


def test_unknown_rank_is_rejected_with_a_fix():
    @tf.function(input_signature=[tf.TensorSpec(None), tf.TensorSpec(None)])
    def kl(z_mean, z_log_var):
        return kl_divergence_standard_normal(z_mean, z_log_var)

    with pytest.raises(ValueError, match=r"z_mean must have a known number of "
                                         r"dimensions; got unknown rank\. Give"):
        kl.get_concrete_function()


# -------------------------------------------------------- bad targets, given as data


@pytest.mark.parametrize("loss", ["bernoulli", "negative_elbo"])
def test_bernoulli_targets_given_as_arrays_must_be_finite_pixels_in_0_1(rng, loss):
    x = rng.uniform(size=(2, 4, 4, 1))
    logits = rng.normal(size=x.shape)
    codes = np.zeros((2, 2))

    def run(targets):
        if loss == "bernoulli":
            return bernoulli_nll_from_logits(targets, logits)
        return negative_elbo(targets, logits, codes, codes)

    with pytest.raises(ValueError, match=r"x must hold pixel values in \[0, 1\]; got min .*"
                                         r"divide by 255"):
        run(x * 255)
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"x must hold finite numbers; got 1 NaN pixel"):
        run(nan)
    ends = (x > 0.5).astype(np.float64)  # exact 0 and 1 are fine
    assert np.all(np.isfinite(_np(run(ends) if loss == "bernoulli" else run(ends)["loss"])))


def test_gaussian_targets_given_as_arrays_must_be_finite(rng):
    x = rng.normal(size=(2, 3))  # a Gaussian's targets may be any real numbers
    assert np.all(np.isfinite(_np(gaussian_nll(x * 100, np.zeros_like(x), 0.0))))
    x[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"x must hold finite numbers; got 1 infinite value"):
        gaussian_nll(x, np.zeros_like(x), 0.0)
