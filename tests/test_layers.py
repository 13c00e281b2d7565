"""Tests of course_utils.models.layers.Sampling (the reparameterization trick)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils.models.layers import Sampling

N_SAMPLES = 20_000
# log_var = 1.0: the right std is exp(0.5) = 1.65, the classic bug exp(1.0) = 2.72;
# log_var = -1.0: right 0.61, wrong 0.37. The two are far apart in both dimensions.
MEAN = np.array([1.5, -2.0], dtype=np.float32)
LOG_VAR = np.array([1.0, -1.0], dtype=np.float32)


def _inputs(n: int = N_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    return np.tile(MEAN, (n, 1)), np.tile(LOG_VAR, (n, 1))


def test_samples_have_mean_z_mean_and_std_exp_half_log_var():
    z = keras.ops.convert_to_numpy(Sampling(seed=0)(list(_inputs())))
    assert z.shape == (N_SAMPLES, 2)
    expected_std = np.exp(0.5 * LOG_VAR)
    # Standard error of the mean is std / sqrt(n) <= 0.012; allow ~4 of them.
    np.testing.assert_allclose(z.mean(axis=0), MEAN, atol=0.05)
    # Standard error of the sample std is about std / sqrt(2 n) = 0.5 %; allow 3 %.
    np.testing.assert_allclose(z.std(axis=0), expected_std, rtol=0.03)
    assert np.all(np.abs(z.std(axis=0) - np.exp(LOG_VAR)) > 0.2)  # not exp(log_var)
    # Every row gets its own noise, and the two dimensions are independent.
    assert abs(np.corrcoef(z.T)[0, 1]) < 0.05


def test_same_seed_same_noise_and_successive_calls_differ():
    z_mean, z_log_var = _inputs(100)
    first = Sampling(seed=7)([z_mean, z_log_var])
    again = Sampling(seed=7)([z_mean, z_log_var])
    other = Sampling(seed=8)([z_mean, z_log_var])
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    layer = Sampling(seed=7)
    assert not np.allclose(layer([z_mean, z_log_var]), layer([z_mean, z_log_var]))


def test_gradients_reach_mean_and_log_var():
    z_mean = tf.Variable(np.tile(MEAN, (5, 1)))
    z_log_var = tf.Variable(np.tile(LOG_VAR, (5, 1)))
    with tf.GradientTape() as tape:
        z = Sampling(seed=1)([z_mean, z_log_var])
        total = tf.reduce_sum(z)
    grad_mean, grad_log_var = tape.gradient(total, [z_mean, z_log_var])
    # z = mean + exp(0.5 log_var) eps: dz/dmean = 1, dz/dlog_var = 0.5 (z - mean).
    np.testing.assert_allclose(grad_mean.numpy(), np.ones((5, 2)))
    np.testing.assert_allclose(grad_log_var.numpy(), 0.5 * (z.numpy() - z_mean.numpy()),
                               rtol=1e-5, atol=1e-6)
    assert np.all(grad_log_var.numpy() != 0)


def test_works_in_a_functional_model_and_config_round_trips():
    z_mean = keras.Input(shape=(3,))
    z_log_var = keras.Input(shape=(3,))
    z = Sampling(seed=4, name="sampling")([z_mean, z_log_var])
    assert tuple(z.shape) == (None, 3)
    model = keras.Model([z_mean, z_log_var], z)
    out = model.predict([np.zeros((4, 3)), np.full((4, 3), -50.0)], verbose=0)
    np.testing.assert_allclose(out, 0.0, atol=1e-9)  # std exp(-25): z is the mean

    layer = Sampling(seed=4, name="sampling")
    config = layer.get_config()
    assert config["seed"] == 4
    clone = Sampling.from_config(config)
    inputs = list(_inputs(10))
    np.testing.assert_array_equal(clone(inputs), Sampling(seed=4)(inputs))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, Sampling) and restored.seed == 4


def test_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"\[z_mean, z_log_var\]"):
        Sampling()(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="same shape"):
        Sampling()([keras.Input(shape=(2,)), keras.Input(shape=(3,))])
    with pytest.raises(ValueError, match="seed"):
        Sampling(seed=-1)
    with pytest.raises(TypeError, match="seed"):
        Sampling(seed="1")
