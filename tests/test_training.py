import random

import keras
import numpy as np
import pytest

from course_utils.models.networks import build_autoencoder
from course_utils.models.training import set_seed, train_autoencoder, train_vae


def blobs(n=64, seed=0):
    """Images that are easy to reconstruct: a bright square at one of four places."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28, 1), np.float32)
    for i, corner in enumerate(rng.integers(0, 4, size=n)):
        row, col = divmod(int(corner), 2)
        images[i, 14 * row:14 * row + 10, 14 * col:14 * col + 10] = 1.0
    return images


def test_train_autoencoder_returns_history_and_learns():
    set_seed(0)
    autoencoder, _, _ = build_autoencoder(2, hidden=(32,))
    history = train_autoencoder(autoencoder, blobs(), epochs=15, batch_size=16,
                                validation_split=0.25, learning_rate=3e-3, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 15 and len(history.history["val_loss"]) == 15
    assert losses[-1] < 0.5 * losses[0]


def test_set_seed_makes_training_repeatable():
    results = []
    for _ in range(2):
        set_seed(123)
        autoencoder, _, _ = build_autoencoder(2, hidden=(16,))
        history = train_autoencoder(autoencoder, blobs(), epochs=2, batch_size=16,
                                    validation_split=0.0, verbose=0)
        results.append((history.history["loss"], autoencoder.get_weights()[0]))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_set_seed_rejects_negative_and_non_integers():
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)
    with pytest.raises(TypeError, match="seed"):
        set_seed(1.5)


def test_train_autoencoder_validates_inputs():
    autoencoder, _, _ = build_autoencoder(2, hidden=(8,))
    with pytest.raises(TypeError, match="keras.Model"):
        train_autoencoder("model", blobs(), epochs=1)
    with pytest.raises(ValueError, match="validation_split"):
        train_autoencoder(autoencoder, blobs(), epochs=1, validation_split=1.0)
    with pytest.raises(ValueError, match="epochs"):
        train_autoencoder(autoencoder, blobs(), epochs=0)
    with pytest.raises(ValueError, match="greyscale"):
        train_autoencoder(autoencoder, np.zeros((4, 28, 28, 3)), epochs=1)


def test_train_vae_logs_parts_that_add_up_and_times_epochs():
    from course_utils.models.vae import build_dense_vae

    set_seed(0)
    vae = build_dense_vae(latent_dim=2, hidden=(32,), seed=0)
    history = train_vae(vae, blobs(), epochs=3, batch_size=16, validation_split=0.25,
                        verbose=0)
    logs = history.history
    for prefix in ("", "val_"):
        total = np.array(logs[f"{prefix}loss"])
        parts = np.array(logs[f"{prefix}reconstruction_loss"]) + np.array(logs[f"{prefix}kl_loss"])
        np.testing.assert_allclose(total, parts, rtol=1e-5)
    assert logs["loss"][-1] < logs["loss"][0]
    assert len(history.epoch_seconds) == 3 and min(history.epoch_seconds) > 0


def test_train_vae_keeps_an_existing_optimizer_and_accepts_validation_data():
    from course_utils.models.vae import build_dense_vae

    vae = build_dense_vae(latent_dim=2, hidden=(16,), seed=1)
    vae.compile(optimizer=keras.optimizers.SGD(1e-3))
    history = train_vae(vae, blobs(32), epochs=1, batch_size=16,
                        validation_data=blobs(8, seed=1), verbose=0)
    assert isinstance(vae.optimizer, keras.optimizers.SGD)
    assert "val_loss" in history.history


# ------------------------------------------------ bad input leaves the model usable

def _tiny_vae():
    from course_utils.models.vae import build_dense_vae

    return build_dense_vae(latent_dim=2, hidden=(16,), seed=0)


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def _assert_unchanged(model, before):
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def _assert_trains(history):
    assert np.all(np.isfinite(history.history["loss"]))


def test_train_vae_after_wrong_size_images_still_trains_the_same_model():
    vae = _tiny_vae()
    before = _weights(vae)
    with pytest.raises(ValueError, match=r"x_train must hold images of shape \(28, 28, 1\).*"
                                         r"got shape \(64, 32, 32, 1\)"):
        train_vae(vae, np.zeros((64, 32, 32, 1), np.float32), epochs=1, verbose=0)
    assert getattr(vae, "optimizer", None) is None  # not compiled by the rejected call
    _assert_unchanged(vae, before)
    _assert_trains(train_vae(vae, blobs(), epochs=1, batch_size=16, verbose=0))


def test_a_failed_trace_inside_fit_does_not_poison_the_model():
    # A tf.data pipeline cannot be checked without consuming it, so a wrong image size
    # fails inside Keras, while tracing the training step. The next call must still train.
    import tensorflow as tf

    vae = _tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    wrong = tf.data.Dataset.from_tensor_slices(np.zeros((16, 32, 32, 1), np.float32)).batch(8)
    with pytest.raises(ValueError, match="incompatible"):
        vae.fit(wrong, epochs=1, verbose=0, shuffle=False)
    _assert_trains(train_vae(vae, blobs(), epochs=1, batch_size=16, verbose=0))


@pytest.mark.parametrize("trainer", ["vae", "autoencoder"])
def test_training_refuses_nan_pixels_before_touching_the_model(trainer):
    x = blobs()
    x[0, 0, 0, 0] = np.nan
    x[3, 1, 1, 0] = np.nan
    x[5, 2, 2, 0] = np.nan
    model = _tiny_vae() if trainer == "vae" else build_autoencoder(2, hidden=(8,))[0]
    train = train_vae if trainer == "vae" else train_autoencoder
    before = _weights(model)
    with pytest.raises(ValueError, match=r"x_train must hold finite numbers; got 3 NaN "
                                         r"pixels.*np\.nan_to_num"):
        train(model, x, epochs=1, verbose=0)
    _assert_unchanged(model, before)
    _assert_trains(train(model, np.nan_to_num(x), epochs=1, batch_size=16, verbose=0))


@pytest.mark.parametrize("trainer", ["vae", "autoencoder"])
def test_training_refuses_images_left_in_0_to_255(trainer):
    model = _tiny_vae() if trainer == "vae" else build_autoencoder(2, hidden=(8,))[0]
    train = train_vae if trainer == "vae" else train_autoencoder
    with pytest.raises(ValueError, match=r"x_train must hold pixel values in \[0, 1\]; got "
                                         r"min 0(\.0)?, max 255(\.0)?.*divide by 255"):
        train(model, blobs() * 255, epochs=1, verbose=0)
    _assert_trains(train(model, blobs(), epochs=1, batch_size=16, verbose=0))


def test_train_autoencoder_after_wrong_size_images_still_trains():
    autoencoder, _, _ = build_autoencoder(2, hidden=(8,))
    with pytest.raises(ValueError, match=r"x_train must hold images of shape \(28, 28, 1\)"):
        train_autoencoder(autoencoder, np.zeros((8, 14, 14)), epochs=1, verbose=0)
    _assert_trains(train_autoencoder(autoencoder, blobs(), epochs=1, batch_size=16,
                                     verbose=0))


def test_train_vae_refuses_bad_validation_data_before_compiling():
    vae = _tiny_vae()
    bad = blobs(8)
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"validation_data must hold finite numbers; got 1 "
                                         r"infinite pixel"):
        train_vae(vae, blobs(), epochs=1, validation_data=bad, verbose=0)
    assert getattr(vae, "optimizer", None) is None
    with pytest.raises(ValueError, match=r"validation_data must hold images of shape"):
        train_vae(vae, blobs(), epochs=1, validation_data=np.zeros((8, 20, 20)), verbose=0)
    _assert_trains(train_vae(vae, blobs(), epochs=1, batch_size=16,
                             validation_data=blobs(8, seed=1), verbose=0))


@pytest.mark.parametrize("trainer", ["vae", "autoencoder"])
def test_training_refuses_empty_images_and_splits_that_leave_nothing(trainer):
    model = _tiny_vae() if trainer == "vae" else build_autoencoder(2, hidden=(8,))[0]
    train = train_vae if trainer == "vae" else train_autoencoder
    with pytest.raises(ValueError, match=r"x_train must hold at least one image; got 0"):
        train(model, np.zeros((0, 28, 28, 1), np.float32), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split=0\.5 of 1 image, which leaves.*"
                                         r"validation_split=0"):
        train(model, blobs(1), epochs=1, validation_split=0.5, verbose=0)
    _assert_trains(train(model, blobs(), epochs=1, batch_size=16, verbose=0))


def test_train_vae_refuses_a_model_that_is_not_a_vae():
    autoencoder, _, _ = build_autoencoder(2, hidden=(8,))
    with pytest.raises(TypeError, match=r"course_utils\.models\.vae\.VAE.*train_autoencoder"):
        train_vae(autoencoder, blobs(), epochs=1, verbose=0)
    assert getattr(autoencoder, "optimizer", None) is None


@pytest.mark.parametrize("learning_rate", [0.0, -1e-3, float("nan"), "fast"])
def test_training_refuses_a_bad_learning_rate_before_compiling(learning_rate):
    vae = _tiny_vae()
    with pytest.raises((TypeError, ValueError), match="learning_rate"):
        train_vae(vae, blobs(), epochs=1, learning_rate=learning_rate, verbose=0)
    assert getattr(vae, "optimizer", None) is None


# ------------------------------------------------------------------- GPU runtimes

@pytest.fixture
def tf_config(monkeypatch):
    """TensorFlow's config with op determinism recorded, not switched on; TF32 restored."""
    import tensorflow as tf

    calls = []
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism",
                        lambda: calls.append("enable_op_determinism"))
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    yield tf, calls
    tf.config.experimental.enable_tensor_float_32_execution(tf32)


def _show_devices(monkeypatch, tf, gpus: int) -> None:
    real = tf.config.get_visible_devices
    fake = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU")
            for i in range(gpus)]
    monkeypatch.setattr(tf.config, "get_visible_devices",
                        lambda kind=None: fake if kind == "GPU" else real(kind))


def test_set_seed_on_a_cpu_asks_for_deterministic_kernels_and_full_float32(tf_config,
                                                                           monkeypatch):
    tf, calls = tf_config
    _show_devices(monkeypatch, tf, gpus=0)
    tf.config.experimental.enable_tensor_float_32_execution(True)
    set_seed(0)
    assert calls == ["enable_op_determinism"]
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    calls.clear()
    set_seed(0, deterministic=False)
    assert calls == []


def test_set_seed_on_a_gpu_leaves_op_determinism_off_and_turns_tf32_off(tf_config,
                                                                        monkeypatch):
    """On a GPU, determinism would make ops without a deterministic kernel raise later."""
    tf, calls = tf_config
    _show_devices(monkeypatch, tf, gpus=1)
    tf.config.experimental.enable_tensor_float_32_execution(True)   # the GPU default
    set_seed(0)
    assert calls == [], "op determinism switched on although a GPU is visible"
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    set_seed(5)
    first = [random.random() for _ in range(3)]
    set_seed(5)
    assert [random.random() for _ in range(3)] == first           # it still seeds
