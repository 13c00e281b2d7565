"""Tests of course_utils.elbo.likelihoods: each identity checked with independent NumPy."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from course_utils.elbo.likelihoods import (
    bernoulli_entropy_floor,
    continuous_bernoulli_log_norm,
    implied_kl_weight,
    implied_sigma_squared,
    max_likelihood_sigma,
)
from course_utils.elbo.toy_models import LinearGaussianModel
from course_utils.evaluation.importance_weighting import (
    bounds_by_k,
    importance_weighted_bound,
    log_importance_weights,
)
from course_utils.models.vae import build_dense_vae


def _gaussian_nll(x, mean, sigma) -> np.ndarray:
    """-sum over pixels of log N(x; mean, sigma^2), from the density written out."""
    density = np.exp(-((x - mean) ** 2) / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
    return -np.log(density).reshape(len(x), -1).sum(axis=1)


def _bce(x, p) -> np.ndarray:
    return -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).sum(axis=1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(505)


# ------------------------------------------------------------ implied sigma and beta

def test_per_pixel_mean_mse_is_a_gaussian_with_variance_d_over_2(rng):
    """mean((x - x_hat)^2) = NLL(sigma^2 = D/2) - (D/2) log(pi D): scale 1, a constant."""
    d = 784
    assert implied_sigma_squared(d) == 392.0
    sigma = math.sqrt(implied_sigma_squared(d))
    x = rng.uniform(size=(5, 28, 28, 1))
    offsets = []
    for _ in range(4):
        x_hat = rng.uniform(size=x.shape)
        mse = ((x - x_hat) ** 2).reshape(5, -1).mean(axis=1)
        offsets.append(_gaussian_nll(x, x_hat, sigma) - mse)
    np.testing.assert_allclose(np.concatenate(offsets), d / 2 * math.log(math.pi * d),
                               rtol=1e-12)


@pytest.mark.parametrize("reduction, divisor", [("mean", 784), ("sum", 1)])
@pytest.mark.parametrize("reconstruction_weight, kl_weight", [(1.0, 1.0), (3.0, 0.5),
                                                               (1e-3, 2.0)])
def test_a_weighted_squared_error_loss_is_kl_weight_times_a_gaussian_elbo(
        rng, reduction, divisor, reconstruction_weight, kl_weight):
    """loss = kl_weight * (Gaussian NLL with the implied sigma + KL) + a constant."""
    sigma2 = implied_sigma_squared(784, reduction=reduction,
                                   reconstruction_weight=reconstruction_weight,
                                   kl_weight=kl_weight)
    x = rng.uniform(size=(4, 784))
    gaps = []
    for _ in range(5):
        x_hat = rng.uniform(size=x.shape)
        kl = rng.uniform(0, 30, size=4)
        squared_error = ((x - x_hat) ** 2).sum(axis=1) / divisor
        loss = reconstruction_weight * squared_error + kl_weight * kl
        gaps.append(loss - kl_weight * (_gaussian_nll(x, x_hat, math.sqrt(sigma2)) + kl))
    gaps = np.concatenate(gaps)
    np.testing.assert_allclose(gaps, gaps[0], rtol=1e-9, atol=1e-9)


def test_implied_kl_weight_of_published_losses():
    # Per-pixel mean BCE over 64x64x... a 1024-value image times 500, plus the KL: beta ~ 2.
    assert implied_kl_weight(1024, reconstruction_weight=500) == pytest.approx(2.048)
    # Per-pixel mean BCE plus 5e-4 times the KL on MNIST: beta ~ 0.39.
    assert implied_kl_weight(784, kl_weight=5e-4) == pytest.approx(0.392)
    assert implied_kl_weight(784) == 784 and implied_kl_weight(784, reduction="sum") == 1


def test_implied_kl_weight_rescales_the_elbo(rng):
    """loss / (reconstruction factor per summed NLL) = NLL_sum + beta * KL, exactly."""
    nll_sum = rng.uniform(50, 200, size=10)
    kl = rng.uniform(0, 30, size=10)
    for reduction, divisor in (("mean", 784), ("sum", 1)):
        beta = implied_kl_weight(784, reduction=reduction, reconstruction_weight=7.0,
                                 kl_weight=0.2)
        loss = 7.0 * nll_sum / divisor + 0.2 * kl
        np.testing.assert_allclose(loss / (7.0 / divisor), nll_sum + beta * kl, rtol=1e-12)


def test_implied_functions_reject_bad_input():
    with pytest.raises(ValueError, match="'sum'"):
        implied_sigma_squared(784, reduction="avg")
    with pytest.raises(ValueError, match="pixel_count"):
        implied_kl_weight(0)
    with pytest.raises(ValueError, match="positive"):
        implied_sigma_squared(784, reconstruction_weight=-1.0)
    with pytest.raises(TypeError, match="kl_weight"):
        implied_kl_weight(784, kl_weight="big")


# --------------------------------------------------------------- max-likelihood sigma

def test_max_likelihood_sigma_minimises_the_gaussian_nll(rng):
    x = rng.uniform(size=(20, 28, 28, 1))
    x_hat = np.clip(x + rng.normal(0.02, 0.1, size=x.shape), 0, 1)
    sigma = max_likelihood_sigma(x, x_hat)
    assert sigma == pytest.approx(np.sqrt(np.mean((x - x_hat) ** 2)), rel=1e-12)
    best = _gaussian_nll(x, x_hat, sigma).sum()
    for factor in (0.9, 0.99, 1.01, 1.1):
        assert _gaussian_nll(x, x_hat, sigma * factor).sum() > best
    with pytest.raises(ValueError, match="same shape"):
        max_likelihood_sigma(x, x_hat[:3])


# ----------------------------------------------------------------- the Bernoulli floor

def test_entropy_floor_equals_the_bce_of_the_targets_themselves(rng):
    x = rng.uniform(size=(6, 28, 28, 1))
    x[0, :5] = 0.0
    x[1, :5] = 1.0
    floor = bernoulli_entropy_floor(x)
    assert floor.shape == (6,)
    # BCE at p = logit^-1(logit(x)) = x; pure 0/1 pixels contribute 0 (0 log 0 = 0).
    p = np.clip(x, 1e-300, 1 - 1e-16)
    np.testing.assert_allclose(floor, _bce(x, p), rtol=1e-9)
    for _ in range(3):  # and no prediction does better
        assert np.all(_bce(x, rng.uniform(0.01, 0.99, size=x.shape)) > floor)
    assert floor.min() > 0


def test_entropy_floor_is_zero_for_binary_images_and_log2_at_one_half(rng):
    binary = (rng.uniform(size=(3, 28, 28)) > 0.5).astype(np.float64)
    np.testing.assert_array_equal(bernoulli_entropy_floor(binary), 0.0)
    np.testing.assert_allclose(bernoulli_entropy_floor(np.full((2, 10), 0.5)),
                               10 * math.log(2), rtol=1e-12)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bernoulli_entropy_floor(np.full((2, 4), 255.0))


def test_continuous_bernoulli_constant_normalises_the_density():
    """1 / C(lambda) = integral over [0, 1] of lambda^x (1 - lambda)^(1 - x) dx."""
    grid = np.linspace(0.0, 1.0, 200_001)
    logits = np.array([-30.0, -5.0, -0.5, -1e-4, 0.0, 1e-5, 2e-3, 0.5, 5.0, 30.0])
    got = continuous_bernoulli_log_norm(logits)
    assert got.shape == logits.shape
    for logit, log_c in zip(logits, got):
        log_lam, log_one_minus = -np.logaddexp(0, -logit), -np.logaddexp(0, logit)
        integral = np.trapezoid(np.exp(grid * log_lam + (1 - grid) * log_one_minus), grid)
        assert log_c == pytest.approx(-math.log(integral), abs=1e-8)
    assert got[4] == pytest.approx(math.log(2.0))
    np.testing.assert_allclose(continuous_bernoulli_log_norm(-logits), got)  # symmetric


# ------------------------------------------------------------------------ IWAE bound

def _prior_posterior_constant_decoder(seed: int = 0):
    """A VAE whose q(z|x) is exactly N(0, I) and whose decoder ignores z."""
    keras.utils.set_random_seed(seed)
    vae = build_dense_vae(2, hidden=(8,), seed=seed)
    for name in ("z_mean", "z_log_var"):
        layer = vae.encoder.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    pixels = vae.decoder.get_layer("pixels")
    kernel, _ = pixels.get_weights()
    bias = np.random.default_rng(seed).normal(size=784).astype(np.float32)
    pixels.set_weights([np.zeros_like(kernel), bias])
    return vae, bias.reshape(28, 28, 1).astype(np.float64)


def test_iwae_bound_is_exact_when_q_is_the_prior_and_the_decoder_ignores_z(rng):
    vae, logits = _prior_posterior_constant_decoder()
    x = rng.uniform(size=(7, 28, 28, 1)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits))
    want_bernoulli = -_bce(x.astype(np.float64), np.broadcast_to(p, x.shape))
    want_gaussian = -_gaussian_nll(x.astype(np.float64), np.broadcast_to(p, x.shape), 0.2)
    for k in (1, 5, 50):
        np.testing.assert_allclose(importance_weighted_bound(vae, x, k), want_bernoulli,
                                   rtol=1e-5)
        np.testing.assert_allclose(importance_weighted_bound(vae, x, k, sigma=0.2),
                                   want_gaussian, rtol=1e-5)


@pytest.fixture(scope="module")
def one_dimensional():
    """A 1-D latent VAE, binary images, and log p(x) by quadrature over z."""
    keras.utils.set_random_seed(0)
    vae = build_dense_vae(1, hidden=(16,), seed=0)
    x = (np.random.default_rng(0).uniform(size=(3, 28, 28, 1)) > 0.7).astype(np.float32)
    grid = np.linspace(-10, 10, 8001)
    logits = np.asarray(keras.ops.convert_to_numpy(
        vae.decoder(grid[:, None].astype(np.float32))), np.float64).reshape(len(grid), -1)
    exact = []
    for image in x.reshape(3, -1).astype(np.float64):
        log_lik = -(np.maximum(logits, 0) - logits * image
                    + np.log1p(np.exp(-np.abs(logits)))).sum(axis=1)
        log_joint = log_lik - 0.5 * grid**2 - 0.5 * math.log(2 * math.pi)
        top = log_joint.max()
        exact.append(top + math.log(np.trapezoid(np.exp(log_joint - top), grid)))
    return vae, x, np.array(exact)


def test_iwae_bound_rises_with_k_towards_the_exact_log_evidence(one_dimensional):
    vae, x, exact = one_dimensional
    repeats = 1000
    means = {}
    for k in (1, 10, 100):
        bounds = importance_weighted_bound(vae, np.repeat(x, repeats, axis=0), k, seed=k)
        assert bounds.shape == (3 * repeats,)
        means[k] = bounds.reshape(3, repeats).mean(axis=1)
    assert np.all(means[1] < means[10]) and np.all(means[10] < means[100])
    assert np.all(means[100] <= exact + 0.01)  # a lower bound, up to float32 round-off
    np.testing.assert_allclose(means[100], exact, atol=0.02)
    assert np.mean(exact - means[1]) > 0.1  # the ELBO (k = 1) leaves a visible gap


def test_iwae_bound_is_reproducible_and_checks_its_input(one_dimensional):
    vae, x, _ = one_dimensional
    first = importance_weighted_bound(vae, x, 20, seed=3)
    np.testing.assert_array_equal(importance_weighted_bound(vae, x, 20, seed=3), first)
    # One image per decoder call instead of all three: the same noise, float32 round-off.
    np.testing.assert_allclose(importance_weighted_bound(vae, x, 20, seed=3, chunk_rows=7),
                               first, rtol=1e-8)
    assert not np.array_equal(importance_weighted_bound(vae, x, 20, seed=4), first)
    with pytest.raises(ValueError, match="k"):
        importance_weighted_bound(vae, x, 0)
    with pytest.raises(ValueError, match="sigma"):
        importance_weighted_bound(vae, x, 5, sigma=-0.1)
    with pytest.raises(TypeError, match="VAE"):
        importance_weighted_bound(vae.encoder, x, 5)


def test_log_weights_give_the_bound_and_do_not_depend_on_chunking(one_dimensional):
    vae, x, _ = one_dimensional
    log_w = log_importance_weights(vae, x, 40, seed=5)
    assert log_w.shape == (3, 40)
    top = log_w.max(axis=1)
    by_hand = top + np.log(np.exp(log_w - top[:, None]).sum(axis=1) / 40)
    np.testing.assert_allclose(importance_weighted_bound(vae, x, 40, seed=5), by_hand,
                               rtol=1e-12)
    # Fewer decoder rows per call than k: the k samples are split, the noise is the same.
    np.testing.assert_allclose(log_importance_weights(vae, x, 40, seed=5, chunk_rows=7),
                               log_w, rtol=1e-6)
    # The mean log weight is a Monte Carlo ELBO: close to the VAE's own negative loss.
    many = log_importance_weights(vae, np.repeat(x, 200, axis=0), 10, seed=1)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))  # evaluate_nelbo needs it
    elbo = -vae.evaluate_nelbo(np.repeat(x, 2000, axis=0))["loss"]
    assert many.mean() == pytest.approx(elbo, abs=0.3)


def _toy_log_weights(k_total: int, n: int = 40, seed: int = 0):
    """Log weights of a linear-Gaussian model under a shifted diagonal q; exact evidence."""
    model = LinearGaussianModel.random(data_dim=6, latent_dim=3, noise_std=0.4,
                                       orthogonal=False, seed=seed)
    x, _ = model.sample(n, seed=seed + 1)
    mean, covariance = model.posterior(x)
    q_mean = mean + 0.4  # a proposal that misses the posterior: L_1 < log p(x)
    q_log_var = np.broadcast_to(np.log(np.diag(covariance)), mean.shape)
    eps = np.random.default_rng(seed + 2).standard_normal((k_total, n, 3))
    z = q_mean + np.exp(0.5 * q_log_var) * eps
    log_q = -0.5 * np.sum(eps**2 + q_log_var + math.log(2 * math.pi), axis=-1)
    log_w = (model.log_joint(x, z) - log_q).T  # (n, k_total)
    return log_w, model.elbo(x, q_mean, q_log_var), model.log_evidence(x)


def test_bounds_by_k_rise_from_the_elbo_to_the_exact_log_evidence():
    ks = (1, 4, 16, 64, 256, 1024, 4096)
    log_w, elbo, exact = _toy_log_weights(4096)
    bounds, errors = bounds_by_k(log_w, ks)
    assert bounds.shape == (len(ks), 40) and errors.shape == (len(ks),)
    # L_1 averaged over 4096 blocks of one weight is the Monte Carlo ELBO.
    np.testing.assert_allclose(bounds[0], log_w.mean(axis=1), rtol=1e-12)
    monte_carlo_error = log_w.std(axis=1, ddof=1) / math.sqrt(4096)
    assert np.all(np.abs(bounds[0] - elbo) < 4.5 * monte_carlo_error)
    assert np.mean(exact - elbo) > 0.5  # the proposal leaves a real gap
    # Nested blocks: never decreasing in k, image by image (Jensen on each pair of halves).
    assert np.all(np.diff(bounds, axis=0) >= -1e-12)
    # Each L_k (k < 4096) averages 4096 / k independent draws: below log p(x) on average.
    assert np.all(bounds[:-1].mean(axis=1) <= exact.mean() + 0.01)
    # Converged: from a gap of about 14 nats at k = 1 to under 0.1 on average.
    assert abs(np.mean(exact - bounds[-1])) < 0.1 < 10 < np.mean(exact - bounds[0])
    np.testing.assert_allclose(errors, bounds.std(axis=1, ddof=1) / math.sqrt(40))


def test_bounds_by_k_checks_its_input():
    log_w = np.zeros((3, 12))
    with pytest.raises(ValueError, match="divide"):
        bounds_by_k(log_w, (5,))
    with pytest.raises(ValueError, match="at least one k"):
        bounds_by_k(log_w, ())
    with pytest.raises(TypeError, match="sequence"):
        bounds_by_k(log_w, 4)
    with pytest.raises(ValueError, match="k"):
        bounds_by_k(log_w, (0,))
    bad = log_w.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        bounds_by_k(bad, (1,))
    bounds, errors = bounds_by_k(np.log([[1.0, 3.0]]), (1, 2))
    np.testing.assert_allclose(bounds[:, 0], [0.5 * math.log(3), math.log(2)])
    assert np.all(np.isnan(errors))  # one image: no standard error


# -------------------------------------------------------------------- bad input

def test_likelihood_helpers_refuse_nan_0_to_255_and_empty_images(rng):
    x = rng.uniform(size=(4, 28, 28, 1))
    nan = x.copy()
    nan[0, 0, :2, 0] = np.nan
    with pytest.raises(ValueError, match=r"images must hold finite numbers; got 2 NaN pixels"):
        bernoulli_entropy_floor(nan)
    with pytest.raises(ValueError, match=r"images must hold pixel values in \[0, 1\].*"
                                         r"max 255(\.0)?.*divide by 255"):
        bernoulli_entropy_floor(np.full((2, 4), 255.0))
    with pytest.raises(ValueError, match=r"images must hold at least one image; got 0"):
        bernoulli_entropy_floor(x[:0])
    with pytest.raises(ValueError, match=r"images must hold finite numbers"):
        max_likelihood_sigma(nan, x)
    with pytest.raises(ValueError, match=r"images must hold pixel values in \[0, 1\]"):
        max_likelihood_sigma(x * 255, x)
    with pytest.raises(ValueError, match=r"reconstructions must hold finite numbers"):
        max_likelihood_sigma(x, nan)
    with pytest.raises(ValueError, match=r"images must hold at least one image; got 0"):
        max_likelihood_sigma(x[:0], x[:0])


def test_iwae_bound_refuses_nan_and_0_to_255_images(one_dimensional):
    vae, x, _ = one_dimensional
    nan = x.copy()
    nan[1, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"images must hold finite numbers; got 1 NaN pixel"):
        importance_weighted_bound(vae, nan, 5)
    with pytest.raises(ValueError, match=r"images must hold pixel values in \[0, 1\].*"
                                         r"divide by 255"):
        importance_weighted_bound(vae, x * 255, 5)
    with pytest.raises(ValueError, match=r"images must hold at least one image; got 0"):
        importance_weighted_bound(vae, x[:0], 5)
    assert np.all(np.isfinite(importance_weighted_bound(vae, x, 5)))
