"""Seeding and training loops (Keras ``fit``, graph mode, progress shown)."""

from __future__ import annotations

import time

import keras
import numpy as np

from course_utils._validation import check_images, check_positive_int

__all__ = ["EpochTimer", "set_seed", "train_autoencoder", "train_vae"]


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock seconds of each training epoch in ``seconds``."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def set_seed(seed: int = 0, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the backend so a run can be repeated.

    With TensorFlow it also turns off TensorFloat-32 (TF32) matrix products, which
    Ampere and newer GPUs (Colab's A100 and L4) use by default for float32: they round
    the inputs to 10 mantissa bits, a relative error of about 1e-3 where the course's
    numbers assume float32's 1e-7. On a CPU this changes nothing.

    Parameters
    ----------
    seed : int
        Any non-negative whole number.
    deterministic : bool
        Also ask TensorFlow for deterministic kernels
        (``tf.config.experimental.enable_op_determinism``), so that the same seed on the
        same machine and versions gives the same numbers; it costs little on CPU. This
        is done only when no GPU is visible: some ops have no deterministic GPU kernel,
        and with determinism on they raise when they run (not here), which would stop a
        lesson halfway. On a GPU, runs with the same seed agree only approximately.
        Once on, determinism stays on for the rest of the process.
    """
    seed = check_positive_int(seed, "seed", minimum=0)
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)
    if deterministic and not tf.config.get_visible_devices("GPU"):
        tf.config.experimental.enable_op_determinism()


def _check_fit_arguments(model, x_train, epochs, batch_size, validation_split):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got {type(model).__name__}.")
    images = check_images(x_train, "x_train")[..., np.newaxis]
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1); got {validation_split}.")
    return images


def _fit(model, x, y, *, epochs, batch_size, validation_split, validation_data, verbose):
    """``model.fit`` with an :class:`EpochTimer`; the History gets ``epoch_seconds``."""
    timer = EpochTimer()
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size,
                        validation_split=validation_split if validation_data is None else 0.0,
                        validation_data=validation_data, shuffle=True, verbose=verbose,
                        callbacks=[timer])
    history.epoch_seconds = timer.seconds
    return history


def train_autoencoder(
    autoencoder: keras.Model,
    x_train: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 128,
    validation_split: float = 0.1,
    learning_rate: float = 1e-3,
    verbose: int | str = 2,
) -> keras.callbacks.History:
    """Compile ``autoencoder`` with Adam and per-pixel MSE, then fit it to reproduce its input.

    Parameters
    ----------
    autoencoder : keras.Model
        Maps images ``(batch, 28, 28, 1)`` to reconstructions of the same shape.
    x_train : numpy.ndarray of shape (n, 28, 28, 1)
        Training images in [0, 1]; the last ``validation_split`` of them are held out.
    epochs, batch_size : int
    validation_split : float in [0, 1)
    learning_rate : float
    verbose : int or "auto"
        Passed to ``fit``: 2 prints one line per epoch, which reads well in a notebook.

    Returns
    -------
    keras.callbacks.History
        ``history.history`` holds ``"loss"`` and ``"val_loss"`` per epoch;
        ``history.epoch_seconds`` the time of each epoch.
    """
    images = _check_fit_arguments(autoencoder, x_train, epochs, batch_size, validation_split)
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return _fit(autoencoder, images, images, epochs=epochs, batch_size=batch_size,
                validation_split=validation_split, validation_data=None, verbose=verbose)


def train_vae(
    vae: keras.Model,
    x_train: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 128,
    validation_split: float = 0.1,
    validation_data: np.ndarray | None = None,
    learning_rate: float = 1e-3,
    verbose: int | str = 2,
) -> keras.callbacks.History:
    """Fit a :class:`~course_utils.vae.VAE` on images (no targets: it reconstructs them).

    The VAE is compiled with Adam at ``learning_rate`` unless it already has an
    optimizer (a reloaded model keeps its optimizer state and goes on training).

    Parameters
    ----------
    vae : course_utils.vae.VAE
    x_train : numpy.ndarray of shape (n, 28, 28, 1)
        Training images in [0, 1].
    epochs, batch_size : int
    validation_split : float in [0, 1)
        Fraction of ``x_train`` held out, used when ``validation_data`` is None.
    validation_data : numpy.ndarray of shape (m, 28, 28, 1), optional
    learning_rate : float
    verbose : int or "auto"

    Returns
    -------
    keras.callbacks.History
        ``loss``, ``reconstruction_loss`` and ``kl_loss`` per epoch (negative ELBO and its
        two parts, nats per image; ``val_`` versions too), and ``epoch_seconds``.
    """
    images = _check_fit_arguments(vae, x_train, epochs, batch_size, validation_split)
    if validation_data is not None:
        validation_data = check_images(validation_data, "validation_data")[..., np.newaxis]
    if getattr(vae, "optimizer", None) is None:
        vae.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return _fit(vae, images, None, epochs=epochs, batch_size=batch_size,
                validation_split=validation_split, validation_data=validation_data,
                verbose=verbose)
