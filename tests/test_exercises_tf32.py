"""Exercise checks accept right answers computed with TF32 matrix products.

On Ampere and newer GPUs (Colab's A100 and L4) TensorFlow multiplies float32 matrices
in TF32 by default: each input is rounded to 10 mantissa bits (relative error up to
2**-11), the products are summed in float32. ``set_seed`` turns that off, but a learner
may skip it, so the checks must not depend on it.

TF32 reaches a check only through a float32 matrix product in the learner's code: a
Keras layer (float32 weights), or an answer that casts the checker's float64 inputs to
float32 (TensorFlow and Keras keep float64 inputs in float64). Every other check compares
element-wise arithmetic and sums, which TF32 does not touch. The checks with a plausible
float32 matrix product are tested here, with TF32 emulated on the CPU by rounding the
inputs of each product exactly as the tensor cores do; each test also makes sure that
typical wrong answers, computed the same way, still fail.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers, ops

from course_utils.exercises import CheckFailed, lesson01, lesson02, lesson06
from course_utils.exercises.decoder_checks import check_logits_decoder


def tf32(values: object) -> np.ndarray:
    """Round float32 values to TF32 (10 mantissa bits, nearest), as float32."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32)


def tf32_matmul(a: object, b: object) -> np.ndarray:
    """``a @ b`` as a GPU computes it in TF32: rounded inputs, float32 result."""
    return (tf32(a).astype(np.float64) @ tf32(b).astype(np.float64)).astype(np.float32)


def test_the_emulation_rounds_like_tf32():
    values = np.random.default_rng(0).normal(size=10_000).astype(np.float32)
    relative = np.abs(tf32(values) - values) / np.abs(values)
    assert relative.max() <= 2.0**-11 and relative.mean() > 2.0**-14   # it does round
    assert tf32(np.float32(1.0 + 2.0**-10)) == np.float32(1.0 + 2.0**-10)  # 10 bits kept
    assert tf32(np.float32(1.0 + 2.0**-12)) == np.float32(1.0)


# --- lesson 01, q3: distances by the matrix-product formula ------------------------------

def _distances_by_product(points, codes, matmul, *, squared=False, reduce=np.min):
    p, c = np.float32(points), np.float32(codes)
    d2 = (p * p).sum(axis=1)[:, None] + (c * c).sum(axis=1)[None, :] - 2 * matmul(p, c.T)
    d2 = np.maximum(d2, 0.0)
    return reduce(d2 if squared else np.sqrt(d2), axis=1)


@pytest.mark.parametrize("matmul", [np.matmul, tf32_matmul], ids=["float32", "tf32"])
def test_lesson01_q3_accepts_distances_from_a_float32_or_tf32_product(matmul):
    result = lesson01.q3.check(lambda p, c: _distances_by_product(p, c, matmul))
    assert result.passed, result


def test_lesson01_q3_still_rejects_wrong_answers_computed_in_tf32():
    def second_nearest(p, c):
        d = _distances_by_product(p, c, tf32_matmul, reduce=lambda a, axis: a)
        return np.sort(d, axis=1)[:, 1]

    assert "squared" in lesson01.q3.check(
        lambda p, c: _distances_by_product(p, c, tf32_matmul, squared=True)).message
    assert not lesson01.q3.check(
        lambda p, c: _distances_by_product(p, c, tf32_matmul, reduce=np.max)).passed
    assert not lesson01.q3.check(second_nearest).passed
    assert not lesson01.q3.check(
        lambda p, c: _distances_by_product(p, c, tf32_matmul) * 1.1).passed


# --- lesson 02, q5: the ELBO's gap as a KL between full Gaussians -----------------------

def _kl_by_products(mean_q, cov_q, mean_p, cov_p):
    """KL( N(mean_q, cov_q) || N(mean_p, cov_p) ) per row, in float32 with TF32 products."""
    values = []
    for m_q, c_q, m_p, c_p in zip(*(np.float32(a) for a in (mean_q, cov_q, mean_p, cov_p))):
        inverse = np.linalg.inv(c_p).astype(np.float32)
        d = (m_p - m_q)[:, None]
        trace = np.trace(tf32_matmul(inverse, c_q))
        mahalanobis = tf32_matmul(tf32_matmul(d.T, inverse), d)[0, 0]
        log_dets = np.linalg.slogdet(c_p)[1] - np.linalg.slogdet(c_q)[1]
        values.append(0.5 * (trace + mahalanobis - len(d) + log_dets))
    return np.array(values)


def _gap_by_products(*, reverse=False, log_var_scale=1.0):
    def gap(model, x, q_mean, q_log_var):
        posterior_mean, posterior_cov = model.posterior(x)
        posterior_cov = np.broadcast_to(posterior_cov, (len(x),) + posterior_cov.shape[-2:])
        q_cov = np.stack([np.diag(np.exp(log_var_scale * row)) for row in q_log_var])
        if reverse:
            return _kl_by_products(posterior_mean, posterior_cov, q_mean, q_cov)
        return _kl_by_products(q_mean, q_cov, posterior_mean, posterior_cov)
    return gap


def test_lesson02_q5_accepts_the_gap_computed_with_tf32_products():
    result = lesson02.q5.check(_gap_by_products())
    assert result.passed, result


def test_lesson02_q5_still_rejects_wrong_answers_computed_in_tf32():
    assert "other direction" in lesson02.q5.check(_gap_by_products(reverse=True)).message
    assert "standard" in lesson02.q5.check(_gap_by_products(log_var_scale=0.5)).message


# --- lesson 06, q3: explained variance from a float32 covariance -------------------------

def _ratios_by_covariance(codes, *, centre=True, square=True, descending=True):
    c = np.float32(codes)
    if centre:
        c = c - c.mean(axis=0)
    variances = np.linalg.eigvalsh(tf32_matmul(c.T, c) / np.float32(len(c)))
    variances = np.sort(variances)[::-1] if descending else np.sort(variances)
    shares = variances if square else np.sqrt(np.maximum(variances, 0))
    return shares / shares.sum()


def test_lesson06_q3_accepts_explained_variance_from_a_tf32_covariance():
    result = lesson06.q3.check(_ratios_by_covariance)
    assert result.passed, result


def test_lesson06_q3_still_rejects_wrong_answers_computed_in_tf32():
    assert "Subtract the mean" in lesson06.q3.check(
        lambda c: _ratios_by_covariance(c, centre=False)).message
    assert "square" in lesson06.q3.check(
        lambda c: _ratios_by_covariance(c, square=False)).message
    assert "sorted" in lesson06.q3.check(
        lambda c: _ratios_by_covariance(c, descending=False)).message


# --- the shared decoder checks (lessons 03 and 04): layers that multiply in TF32 -----

def _tf32_tensor(x):
    import tensorflow as tf

    bits = tf.bitcast(tf.convert_to_tensor(x, tf.float32), tf.int32)
    return tf.bitcast(tf.bitwise.bitwise_and(bits + 0x1000, -0x2000), tf.float32)


class TF32Dense(layers.Dense):
    """A Dense layer whose matrix product rounds its inputs to TF32, like a GPU's."""

    def call(self, inputs):
        outputs = ops.matmul(_tf32_tensor(inputs), _tf32_tensor(self.kernel)) + self.bias
        return self.activation(outputs) if self.activation is not None else outputs


def _tf32_decoder(activation):
    def build(latent_dim):
        z = keras.Input(shape=(latent_dim,))
        h = TF32Dense(256, activation=activation)(z)
        h = TF32Dense(512, activation=activation)(h)
        logits = TF32Dense(28 * 28)(h)
        return keras.Model(z, layers.Reshape((28, 28, 1))(logits))
    return build


def test_the_tf32_layer_rounds():
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(ops.convert_to_numpy(_tf32_tensor(x)), tf32(x))


def test_decoder_checks_accept_a_tf32_decoder_and_reject_a_linear_one():
    keras.utils.set_random_seed(0)
    check_logits_decoder(_tf32_decoder("relu")(2), 2)
    # Without activations the decoder is affine; TF32 rounding must not hide that.
    with pytest.raises(CheckFailed, match=r"linear \(affine\)"):
        check_logits_decoder(_tf32_decoder(None)(2), 2)
