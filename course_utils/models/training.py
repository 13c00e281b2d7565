"""Seeding and training loops (Keras ``fit``, graph mode, progress shown)."""

from __future__ import annotations

import math
import time

import keras
import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import check_images, check_positive_int, check_positive_number

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


def _model_image_shape(model: keras.Model) -> tuple[int, ...] | None:
    """The shape of one input image, e.g. ``(28, 28, 1)``, if the model states it."""
    shape = getattr(model, "image_shape", None)
    if shape is None:
        inputs = getattr(model, "inputs", None) or []
        shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else None
    if not shape or len(shape) not in (2, 3) or not all(isinstance(d, int) for d in shape):
        return None
    return tuple(shape)


def _training_images(model: keras.Model, images: object, name: str) -> np.ndarray:
    """Finite greyscale images in [0, 1] of the model's input size, ``(n, h, w, 1)``.

    The array has the model's own input shape when it states one (``(n, h, w)`` for a
    model built from ``keras.Input((h, w))``).
    """
    shape = _model_image_shape(model)
    checked = check_images(images, name, pixels=True, image_shape=shape)
    if shape is not None and math.prod(shape) == math.prod(checked.shape[1:]):
        return checked.reshape((len(checked),) + shape)
    return checked[..., np.newaxis]


def _check_validation_split(validation_split: object, n: int, *, used: bool = True) -> float:
    """``validation_split`` as a float in [0, 1); if ``used``, it must leave images on
    both sides of the split of ``n`` images."""
    if isinstance(validation_split, bool) or not isinstance(
            validation_split, (int, float, np.integer, np.floating)):
        raise TypeError(f"validation_split must be a number in [0, 1); got "
                        f"{type(validation_split).__name__} {validation_split!r}. Pass e.g. "
                        "0.1.")
    split = float(validation_split)
    if not 0.0 <= split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), the fraction of images held "
                         f"out; got {validation_split}. Use e.g. 0.1, or 0 for none.")
    n_train = math.floor(n * (1.0 - split))  # as Keras splits
    if used and split > 0 and not 0 < n_train < n:
        raise ValueError(f"validation_split must leave at least one image on each side; got "
                         f"validation_split={validation_split} of {n} image"
                         f"{'' if n == 1 else 's'}, which leaves {n_train} for training and "
                         f"{n - n_train} for validation. Pass more images, or "
                         "validation_split=0.")
    return split


def _check_fit_arguments(model: object, x_train: object, epochs: object, batch_size: object,
                         validation_split: object, learning_rate: object, *,
                         split_used: bool = True) -> np.ndarray:
    """Check every argument before anything touches the model; return the images."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got {type(model).__name__}. Pass a "
                        "built Keras model.")
    images = _training_images(model, x_train, "x_train")
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    _check_validation_split(validation_split, len(images), used=split_used)
    check_positive_number(learning_rate, "learning_rate")
    return images


def _check_callbacks(callbacks: object) -> list:
    """``callbacks`` as a list of Keras callbacks (None: none)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.Callback) or not isinstance(
            callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of keras callbacks; got "
                        f"{type(callbacks).__name__}. Pass e.g. [KLWarmUp(10)].")
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.Callback):
            raise TypeError(f"callbacks must hold keras.callbacks.Callback objects; got a "
                            f"{type(callback).__name__}. Pass e.g. [KLWarmUp(10)].")
    return list(callbacks)


def _fit(model, x, y, *, epochs, batch_size, validation_split, validation_data, verbose,
         callbacks=()):
    """``model.fit`` with an :class:`EpochTimer`; the History gets ``epoch_seconds``."""
    timer = EpochTimer()
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size,
                        validation_split=validation_split if validation_data is None else 0.0,
                        validation_data=validation_data, shuffle=True, verbose=verbose,
                        callbacks=[timer, *callbacks])
    history.epoch_seconds = timer.seconds
    return history


def train_autoencoder(autoencoder: keras.Model, x_train: ArrayLike, *, epochs: int,
                      batch_size: int = 128, validation_split: float = 0.1,
                      learning_rate: float = 1e-3,
                      verbose: int | str = 2) -> keras.callbacks.History:
    """Compile ``autoencoder`` with Adam and per-pixel MSE, then fit it to reproduce its input.

    Parameters
    ----------
    autoencoder : keras.Model
        Maps images ``(batch, 28, 28, 1)`` to reconstructions of the same shape.
    x_train : numpy.ndarray of shape (n, 28, 28, 1) or (n, 28, 28)
        Training images in [0, 1]; the last ``validation_split`` of them are held out.
        Their size must match the model's input.
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

    Raises
    ------
    TypeError, ValueError
        For a bad argument: images of the wrong size, with NaN or infinite pixels, outside
        [0, 1] (e.g. left in 0..255) or none at all; a split that leaves no image on one
        side. Everything is checked before the model is compiled, so after the error
        the same model can be trained with corrected arguments.
    """
    images = _check_fit_arguments(autoencoder, x_train, epochs, batch_size, validation_split,
                                  learning_rate)
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return _fit(autoencoder, images, images, epochs=epochs, batch_size=batch_size,
                validation_split=validation_split, validation_data=None, verbose=verbose)


def train_vae(vae: keras.Model, x_train: ArrayLike, *, epochs: int, batch_size: int = 128,
              validation_split: float = 0.1, validation_data: ArrayLike | None = None,
              learning_rate: float = 1e-3, verbose: int | str = 2,
              callbacks: list[keras.callbacks.Callback] | None = None
              ) -> keras.callbacks.History:
    """Fit a :class:`~course_utils.models.vae.VAE` on images (no targets: it reconstructs them).

    The VAE is compiled with Adam at ``learning_rate`` unless it already has an
    optimizer (a reloaded model keeps its optimizer state and goes on training).
    :meth:`~course_utils.models.vae.VAE.compile` sets the speed: several training steps per
    call, and XLA for a long fit of a VAE without convolutions on a CPU.

    Parameters
    ----------
    vae : course_utils.models.vae.VAE
    x_train : numpy.ndarray of shape (n, 28, 28, 1) or (n, 28, 28)
        Training images in [0, 1], of the VAE's ``image_shape``.
    epochs, batch_size : int
    validation_split : float in [0, 1)
        Fraction of ``x_train`` held out, used when ``validation_data`` is None.
    validation_data : numpy.ndarray of shape (m, 28, 28, 1), optional
    learning_rate : float
    verbose : int or "auto"
    callbacks : list of keras.callbacks.Callback, optional
        Passed to ``fit``, e.g. ``[KLWarmUp(10)]`` from :mod:`course_utils.models.kl_schedules`.

    Returns
    -------
    keras.callbacks.History
        ``loss``, ``reconstruction_loss`` and ``kl_loss`` per epoch (negative ELBO and its
        two parts, nats per image; ``val_`` versions too), and ``epoch_seconds``. A VAE
        built with a KL weight or free bits also logs ``rate`` (see :class:`VAE`).

    Raises
    ------
    TypeError, ValueError
        As :func:`train_autoencoder`, and for a model that is not a VAE. Nothing about
        the VAE changes before every check has passed.
    """
    from course_utils.models.vae import VAE

    if not isinstance(vae, VAE):
        raise TypeError(f"vae must be a course_utils.models.vae.VAE (e.g. build_dense_vae()); got "
                        f"{type(vae).__name__}. For a plain autoencoder use "
                        "train_autoencoder.")
    images = _check_fit_arguments(vae, x_train, epochs, batch_size, validation_split,
                                  learning_rate, split_used=validation_data is None)
    callbacks = _check_callbacks(callbacks)
    if validation_data is not None:
        validation_data = _training_images(vae, validation_data, "validation_data")
    if getattr(vae, "optimizer", None) is None:
        vae.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return _fit(vae, images, None, epochs=epochs, batch_size=batch_size,
                validation_split=validation_split, validation_data=validation_data,
                verbose=verbose, callbacks=callbacks)
