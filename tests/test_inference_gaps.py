"""Tests for course_utils.evaluation.inference_gaps (lesson 08): bounds under any q, per-image
optimum, convergence rule, bits per dimension, the table and the anomaly helpers."""

from __future__ import annotations

import math

import keras
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from course_utils.evaluation.importance_weighting import log_importance_weights
from course_utils.evaluation.inference_gaps import (
    bits_per_dim,
    converged_k,
    likelihood_row,
    likelihood_table,
    log_mean_exp,
    log_weights_for_q,
    optimise_q,
    plot_score_histograms,
    score_above_probability,
)
from course_utils.models.vae import build_dense_vae


@pytest.fixture(scope="module")
def small_vae():
    # build_dense_vae's seed does not seed the initial weights: without this, the model
    # (and so the statistical tests below) would depend on the tests run before.
    keras.utils.set_random_seed(0)
    return build_dense_vae(2, hidden=(16,), seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)


def test_log_mean_exp_is_stable_and_exact():
    values = np.array([[-1000.0, -1000.0], [0.0, math.log(3.0)], [800.0, 800.0]])
    np.testing.assert_allclose(log_mean_exp(values), [-1000.0, math.log(2.0), 800.0])
    np.testing.assert_allclose(log_mean_exp(values.T, axis=0), log_mean_exp(values))
    with pytest.raises(ValueError, match="finite"):
        log_mean_exp([[np.nan, 1.0]])


def test_log_weights_for_the_encoders_q_match_the_course_helper_in_distribution(small_vae,
                                                                                 images):
    mean, log_var = small_vae.encode(images)
    mine = log_weights_for_q(small_vae, images, mean, log_var, 4000, seed=1)
    theirs = log_importance_weights(small_vae, images, 4000, seed=2)
    assert mine.shape == theirs.shape == (3, 4000)
    error = np.hypot(mine.std(axis=1), theirs.std(axis=1)) / math.sqrt(4000)
    assert np.all(np.abs(mine.mean(axis=1) - theirs.mean(axis=1)) < 4 * error)
    # chunking does not change the result
    np.testing.assert_allclose(
        log_weights_for_q(small_vae, images, mean, log_var, 50, seed=3, chunk_rows=7),
        log_weights_for_q(small_vae, images, mean, log_var, 50, seed=3), rtol=1e-6)


def test_log_weights_for_q_validates(small_vae, images):
    mean, log_var = small_vae.encode(images)
    with pytest.raises(ValueError, match="q_mean"):
        log_weights_for_q(small_vae, images, mean[:2], log_var, 5)
    with pytest.raises(TypeError, match="VAE"):
        log_weights_for_q(object(), images, mean, log_var, 5)


def test_optimise_q_raises_the_elbo_of_every_image(small_vae, images):
    start = log_weights_for_q(small_vae, images, *small_vae.encode(images), 4000, seed=4)
    mean, log_var = optimise_q(small_vae, images, steps=150, samples=8, seed=0)
    assert mean.shape == log_var.shape == (3, 2)
    better = log_weights_for_q(small_vae, images, mean, log_var, 4000, seed=4)
    assert np.all(better.mean(axis=1) > start.mean(axis=1))


def test_log_weights_for_q_under_a_common_gaussian_match_the_course_helper(small_vae,
                                                                            images):
    mean, log_var = small_vae.encode(images)
    mine = log_weights_for_q(small_vae, images, mean, log_var, 4000, seed=1, sigma=0.3)
    theirs = log_importance_weights(small_vae, images, 4000, seed=2, sigma=0.3)
    error = np.hypot(mine.std(axis=1), theirs.std(axis=1)) / math.sqrt(4000)
    assert np.all(np.abs(mine.mean(axis=1) - theirs.mean(axis=1)) < 4 * error)
    # a different density: the Gaussian score is not the model's Bernoulli one
    own = log_weights_for_q(small_vae, images, mean, log_var, 4000, seed=1)
    assert np.all(np.abs(own.mean(axis=1) - mine.mean(axis=1)) > 10)


def _log_mean_and_error(log_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log of the mean weight per row, and its delta-method standard error."""
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    return (np.log(w.mean(axis=1)) + log_w.max(axis=1),
            w.std(axis=1) / (w.mean(axis=1) * math.sqrt(log_w.shape[1])))


def test_a_defensive_mixture_proposal_estimates_the_same_evidence(small_vae, images):
    # Every proposal gives unbiased weights for the same p(x): the mean weight under
    # the mixture of widths 1 and 2 agrees with the one under q itself. A wrong mixture
    # density (say, without the width's normalising factor) is off by nats.
    mean, log_var = small_vae.encode(images)
    plain = log_weights_for_q(small_vae, images, mean, log_var, 20000, seed=5, sigma=1.0)
    mixed = log_weights_for_q(small_vae, images, mean, log_var, 20000, seed=6, sigma=1.0,
                              widths=(1.0, 2.0))
    (a, a_error), (b, b_error) = _log_mean_and_error(plain), _log_mean_and_error(mixed)
    assert np.all(np.abs(a - b) < 4 * np.hypot(a_error, b_error) + 1e-3)
    # the widths change the draws, the default keeps lesson 08's noise as it was
    same = log_weights_for_q(small_vae, images, mean, log_var, 50, seed=3, widths=(1.0,))
    np.testing.assert_array_equal(
        same, log_weights_for_q(small_vae, images, mean, log_var, 50, seed=3))


def test_log_weights_for_q_rejects_bad_widths_and_sigma(small_vae, images):
    mean, log_var = small_vae.encode(images)
    with pytest.raises(ValueError, match="width"):
        log_weights_for_q(small_vae, images, mean, log_var, 5, widths=())
    with pytest.raises(ValueError, match="width"):
        log_weights_for_q(small_vae, images, mean, log_var, 5, widths=(1.0, 0.0))
    with pytest.raises(TypeError, match="widths"):
        log_weights_for_q(small_vae, images, mean, log_var, 5, widths=2.0)
    with pytest.raises(ValueError, match="sigma"):
        log_weights_for_q(small_vae, images, mean, log_var, 5, sigma=-0.1)
    with pytest.raises(ValueError, match="sigma"):
        optimise_q(small_vae, images, steps=1, sigma=0.0)


def test_optimise_q_under_a_common_gaussian_raises_that_elbo(small_vae, images):
    encoder_q = small_vae.encode(images)
    start = log_weights_for_q(small_vae, images, *encoder_q, 4000, seed=4, sigma=0.3)
    mean, log_var = optimise_q(small_vae, images, steps=150, samples=8, seed=0, sigma=0.3)
    better = log_weights_for_q(small_vae, images, mean, log_var, 4000, seed=4, sigma=0.3)
    assert np.all(better.mean(axis=1) > start.mean(axis=1))


def test_converged_k_rule():
    ks = (1, 2, 4, 8, 16)
    assert converged_k(ks, [-10.0, -9.0, -8.95, -8.9, -8.88], tolerance=0.1) == 4
    assert converged_k(ks, [-10.0, -9.0, -8.5, -8.0, -7.5], tolerance=0.1) is None
    # a later jump resets the verdict
    assert converged_k(ks, [-10.0, -9.99, -9.98, -9.0, -8.99], tolerance=0.1) == 8
    with pytest.raises(ValueError, match="increasing"):
        converged_k((4, 2), [0.0, 1.0])
    with pytest.raises(ValueError, match="tolerance"):
        converged_k((1, 2), [0.0, 1.0], tolerance=0)


def test_converged_k_with_one_bound_per_image_adds_twice_the_standard_error():
    ks = (1, 2, 4)
    flat = np.array([[-10.0, -10.0], [-9.0, -9.0], [-8.97, -8.95]])      # (len(ks), 2)
    assert converged_k(ks, flat, tolerance=0.1) == 2
    # the same mean climbs (0.04 from k=2 on), but noisy from image to image
    noisy = np.array([[-10.0, -10.0], [-9.0, -9.0], [-8.84, -9.08]])
    assert converged_k(ks, noisy, tolerance=0.1) is None
    assert converged_k(ks, noisy.mean(axis=1), tolerance=0.1) == 2
    with pytest.raises(ValueError, match="two images"):
        converged_k(ks, flat[:, :1])
    with pytest.raises(ValueError, match="one bound per k"):
        converged_k(ks, flat[:2])


def test_bits_per_dim():
    assert float(bits_per_dim(0.0, 784, levels=256)) == pytest.approx(8.0)
    assert float(bits_per_dim(784 * math.log(2), 784)) == pytest.approx(1.0)
    np.testing.assert_allclose(bits_per_dim([100.0, 200.0], 784),
                               np.array([100.0, 200.0]) / (784 * math.log(2)))
    with pytest.raises(ValueError, match="levels"):
        bits_per_dim(1.0, 784, levels=1)


def test_likelihood_row_and_table(small_vae, images):
    row = likelihood_row("tiny", small_vae, images, data="uniform noise", k=8, seed=0)
    log_w = log_importance_weights(small_vae, images, 8, seed=0)
    assert row["elbo"] == pytest.approx(log_w.mean())
    assert row["bound"] >= row["elbo"]
    assert row["bpd"] == pytest.approx(-row["bound"] / (784 * math.log(2)))
    table = likelihood_table([row, {**row, "model": "copy"}])
    assert table.count("\n") == 3 and "| tiny | uniform noise | 3 | 8 |" in table
    with pytest.raises(ValueError, match="without"):
        likelihood_table([{"model": "x"}])
    with pytest.raises(TypeError, match="data"):
        likelihood_row("tiny", small_vae, images, data="", k=2)


def test_score_above_probability():
    assert score_above_probability([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert score_above_probability([1.0, 2.0], [3.0, 4.0]) == 0.0
    assert score_above_probability([1.0], [1.0]) == 0.5
    assert score_above_probability([1.0, 3.0], [2.0]) == 0.5


def test_plot_score_histograms_returns_its_figure():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    out = plot_score_histograms({"a": [1.0, 2.0], "b": [3.0]}, ax=ax, title="t")
    assert out is fig and len(ax.patches) > 0 and ax.get_title() == "t"
    assert plot_score_histograms({"a": [1.0]}) is not None
    with pytest.raises(ValueError, match="dict"):
        plot_score_histograms({})
    plt.close("all")
