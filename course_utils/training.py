"""Seeding and training loops (Keras ``fit``, graph mode, progress shown)."""

from __future__ import annotations

import keras
import numpy as np

from course_utils._validation import check_images, check_positive_int

__all__ = ["set_seed", "train_autoencoder"]


def set_seed(seed: int = 0, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the backend so a run can be repeated.

    Parameters
    ----------
    seed : int
        Any non-negative whole number.
    deterministic : bool
        Also ask TensorFlow for deterministic kernels, so that the same seed on the
        same machine and versions gives the same numbers. It costs little on CPU.
    """
    seed = check_positive_int(seed, "seed", minimum=0)
    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


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
        ``history.history`` holds ``"loss"`` and ``"val_loss"`` per epoch.
    """
    if not isinstance(autoencoder, keras.Model):
        raise TypeError(f"autoencoder must be a keras.Model; got {type(autoencoder).__name__}.")
    images = check_images(x_train, "x_train")[..., np.newaxis]
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1); got {validation_split}.")
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return autoencoder.fit(
        images, images, epochs=epochs, batch_size=batch_size,
        validation_split=validation_split, shuffle=True, verbose=verbose,
    )
