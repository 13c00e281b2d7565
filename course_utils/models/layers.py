"""Custom Keras layers for the VAE lessons.

:class:`Sampling` is the reparameterization trick as a layer: it draws
``z ~ N(z_mean, exp(z_log_var))`` so that gradients still reach ``z_mean`` and
``z_log_var``.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops

from course_utils._validation import check_positive_int

__all__ = ["Sampling"]


@keras.saving.register_keras_serializable(package="course_utils")
class Sampling(keras.layers.Layer):
    """Draw ``z = z_mean + exp(0.5 * z_log_var) * eps`` with ``eps ~ N(0, I)``.

    The noise ``eps`` does not depend on the layer's inputs, so ``z`` is a
    differentiable function of ``z_mean`` and ``z_log_var`` (the
    reparameterization trick). ``exp(0.5 * z_log_var)`` is the standard deviation,
    because ``z_log_var`` is the log of the *variance*.

    The layer samples in training and in inference alike; to get a deterministic
    code, use ``z_mean`` directly.

    Parameters
    ----------
    seed : int or None
        Seed of the layer's own :class:`keras.random.SeedGenerator`. Two layers
        built with the same integer seed draw the same sequence of noise. ``None``
        picks a random seed.
    **kwargs
        Passed to :class:`keras.layers.Layer` (``name``, ``dtype``...).

    Call arguments
    --------------
    inputs : list of two tensors ``[z_mean, z_log_var]``
        Each of shape ``(batch, latent_dim)``.

    Returns
    -------
    tensor of shape (batch, latent_dim)
        One sample ``z`` per row.
    """

    def __init__(self, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if seed is not None:
            seed = check_positive_int(seed, "seed", minimum=0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Sequence[Any]) -> Any:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise TypeError("Sampling's input must be a list [z_mean, z_log_var]; got "
                            f"{type(inputs).__name__}. Call it as Sampling()([z_mean, z_log_var]).")
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype,
                                  seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape: Sequence[Sequence[int | None]]
                             ) -> tuple[int | None, ...]:
        z_mean_shape, z_log_var_shape = input_shape
        if tuple(z_mean_shape) != tuple(z_log_var_shape):
            raise ValueError("Sampling's z_mean and z_log_var must have the same shape; got "
                             f"{tuple(z_mean_shape)} and {tuple(z_log_var_shape)}. Give the "
                             "encoder two Dense heads of the same width.")
        return tuple(z_mean_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config["seed"] = self.seed
        return config
