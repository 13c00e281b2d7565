"""Schedules for the weight of the KL term, applied by a Keras callback (lesson 07).

A VAE built with a KL weight (``build_dense_vae(..., kl_weight=0.0)``) keeps that
weight in a non-trainable variable; :class:`KLSchedule` sets it at the start of each
epoch from a function of the epoch number, so the training step is not retraced.
KL warm-up (Bowman et al., 2016; Sonderby et al., 2016) starts at 0, a plain
autoencoder, and raises the weight linearly to 1, the ELBO::

    vae = build_dense_vae(32, kl_weight=0.0)
    warm_up = KLWarmUp(warmup_epochs=10)
    train_vae(vae, x_train, epochs=20, callbacks=[warm_up])
    warm_up.values          # the weight used in each epoch: 0.0, 0.1, ..., 1.0, 1.0, ...
"""

from __future__ import annotations

from typing import Callable

import keras

from course_utils._validation import check_non_negative_number, check_positive_int
from course_utils.models.vae import VAE

__all__ = ["KLSchedule", "KLWarmUp", "linear_warmup"]


def _weight(value: object, name: str) -> float:
    return check_non_negative_number(value, name,
                                     example="e.g. 0.0 for an autoencoder, 1.0 for the ELBO")


def linear_warmup(epoch: int, warmup_epochs: int, start: float = 0.0,
                  end: float = 1.0) -> float:
    """The KL weight of epoch ``epoch`` (counted from 0) under a linear warm-up.

    ``start + (end - start) * min(1, epoch / warmup_epochs)``: ``start`` in the first
    epoch, ``end`` from epoch ``warmup_epochs`` on, in equal steps in between.

    Parameters
    ----------
    epoch : int
        The epoch, 0 for the first.
    warmup_epochs : int
        Epochs until the weight reaches ``end`` (at least 1).
    start, end : float
        The first and the final weight, both >= 0.

    Returns
    -------
    float
    """
    epoch = check_positive_int(epoch, "epoch", minimum=0)
    warmup_epochs = check_positive_int(warmup_epochs, "warmup_epochs")
    start = _weight(start, "start")
    end = _weight(end, "end")
    return start + (end - start) * min(1.0, epoch / warmup_epochs)


class KLSchedule(keras.callbacks.Callback):
    """Set a VAE's ``kl_weight`` to ``schedule(epoch)`` at the start of every epoch.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch) -> float``, the weight (>= 0) for epoch ``epoch`` (0 first).

    Attributes
    ----------
    values : list of float
        The weight used in each epoch trained so far.

    Raises
    ------
    TypeError
        If ``schedule`` is not callable, or (when training starts) the model is not a
        :class:`~course_utils.models.vae.VAE`, or the schedule returns something that is not
        a number.
    ValueError
        When training starts on a VAE built as a plain ELBO (build it with
        ``kl_weight=``), or the schedule returns a negative or non-finite weight.
    """

    def __init__(self, schedule: Callable[[int], float]) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be a function of the epoch returning the KL "
                            f"weight; got {type(schedule).__name__}. Pass e.g. "
                            "lambda epoch: min(1.0, epoch / 10).")
        self.schedule = schedule
        self.values: list[float] = []

    def on_train_begin(self, logs=None) -> None:
        if not isinstance(self.model, VAE):
            raise TypeError(f"the model a KLSchedule trains must be a "
                            f"course_utils.models.vae.VAE; got a {type(self.model).__name__}. "
                            "Use it with train_vae(vae, ..., callbacks=[schedule]).")
        if not self.model.tracks_rate:
            raise ValueError("the VAE a KLSchedule trains must be built with a KL weight, so "
                             "that it logs the rate besides the weighted KL; got one built as "
                             "a plain ELBO. Build it with e.g. build_dense_vae(..., "
                             "kl_weight=0.0).")

    def on_epoch_begin(self, epoch, logs=None) -> None:
        value = _weight(self.schedule(epoch), f"schedule({epoch})")
        self.model.kl_weight = value
        self.values.append(value)


class KLWarmUp(KLSchedule):
    """Linear KL warm-up: :func:`linear_warmup` as a :class:`KLSchedule`.

    Parameters
    ----------
    warmup_epochs : int
        Epochs until the weight reaches ``end``.
    start, end : float
        The first and the final weight (defaults 0 and 1: autoencoder to ELBO).
    """

    def __init__(self, warmup_epochs: int, start: float = 0.0, end: float = 1.0) -> None:
        self.warmup_epochs = check_positive_int(warmup_epochs, "warmup_epochs")
        self.start = _weight(start, "start")
        self.end = _weight(end, "end")
        super().__init__(self._linear)

    def _linear(self, epoch: int) -> float:
        return linear_warmup(epoch, self.warmup_epochs, self.start, self.end)
