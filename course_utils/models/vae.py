"""A variational autoencoder as a Keras 3 model with its own training step.

:class:`VAE` joins an encoder (image -> ``[z_mean, z_log_var]``) and a decoder
(``z`` -> pixel logits). Training minimizes the negative ELBO of
:func:`course_utils.elbo.losses.negative_elbo`: a Bernoulli reconstruction term summed
over pixels plus the KL divergence to the prior N(0, I), both averaged over images,
in nats. Typical use::

    vae = build_dense_vae(latent_dim=2, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = vae.fit(x_train, epochs=10, batch_size=128, validation_split=0.1)
    vae.evaluate_nelbo(x_test)   # {"loss": ..., "reconstruction_loss": ..., "kl_loss": ...}
    z_mean, z_log_var = vae.encode(x_test)
    images = vae.decode(z_grid)  # probabilities in [0, 1]

``fit`` takes the images only (no targets): the VAE reconstructs its input.
The training step uses ``tf.GradientTape``, so the Keras backend must be TensorFlow.

The reconstruction likelihood is a choice (lesson 05)::

    VAE(encoder, decoder)                                    # Bernoulli (the default)
    VAE(encoder, decoder, likelihood="gaussian", sigma=0.1)  # Gaussian, fixed sigma
    VAE(encoder, decoder, likelihood="gaussian", sigma="learned")  # one learned sigma
    VAE(encoder, decoder, reduction="mean")  # the classic mistake: mean over pixels

The decoder always outputs logits; the Gaussian mean is ``sigmoid(logits)``, so
``decode`` returns the mean image under either likelihood.

The KL term can be weighted and floored (lesson 07)::

    VAE(encoder, decoder, kl_weight=4.0)     # a beta-VAE: reconstruction + 4 KL
    VAE(encoder, decoder, free_bits=0.25)    # each dimension's KL counted as >= 0.25
    vae.kl_weight = 0.5                      # changed between epochs, no retracing

Such a VAE also logs ``rate``, the plain average KL, which is not a part of ``loss``.
"""

from __future__ import annotations

import contextlib
import logging
import math
from numbers import Real
from typing import Any, Callable, Iterator, TypeGuard, cast

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from numpy.typing import ArrayLike

from course_utils._validation import (
    DIVERGED_FIX,
    PIXEL_RANGE,
    check_array,
    check_int_sequence,
    check_non_negative_number,
    check_positive_int,
)
from course_utils.elbo.losses import (
    TensorLike,
    bernoulli_nll_from_logits,
    gaussian_nll,
    kl_divergence_standard_normal,
    negative_elbo,
)
from course_utils.latent.sampling import sample_prior
from course_utils.models.inference import batched_call
from course_utils.models.layers import Sampling
from course_utils.models.networks import (
    build_conv_decoder,
    build_conv_encoder,
    build_dense_decoder,
    build_dense_encoder,
    last_activation,
)

__all__ = ["LIKELIHOODS", "REDUCTIONS", "VAE", "as_model_images", "build_conv_vae",
           "build_dense_vae", "free_bits_kl"]

LOSS_NAMES = ("loss", "reconstruction_loss", "kl_loss")
#: What a VAE with a KL weight or free bits logs besides: the plain average KL.
RATE_NAME = "rate"
#: Valid values of the ``likelihood`` option of :class:`VAE`.
LIKELIHOODS = ("bernoulli", "gaussian")
#: Valid values of the ``reduction`` option of :class:`VAE`.
REDUCTIONS = ("sum", "mean")
LEARNED = "learned"
#: Training steps per call of the traced training function, unless ``compile`` says
#: otherwise: fewer round trips from Python per epoch (see :meth:`VAE.compile`).
STEPS_PER_EXECUTION = 8
#: Training steps from which ``jit_compile="auto"`` turns XLA on for a VAE without
#: convolutions on a CPU. Compiling costs about 6 s there and saves about 7 ms per step
#: of the dense VAE at batch 128 (measured on 2 cores): it pays from about 900 steps.
XLA_MIN_STEPS = 1000
#: Layers for which :meth:`VAE.compile` does not choose XLA on a CPU (slower there).
_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                 keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                 keras.layers.Conv3DTranspose, keras.layers.SeparableConv1D,
                 keras.layers.SeparableConv2D, keras.layers.DepthwiseConv1D,
                 keras.layers.DepthwiseConv2D)


@keras.saving.register_keras_serializable(package="course_utils")
class VAE(keras.Model):
    """Variational autoencoder: encoder -> sampling -> decoder, trained on the negative ELBO.

    Parameters
    ----------
    encoder : keras.Model
        Built from ``keras.Input(shape=image_shape)``; outputs ``[z_mean, z_log_var]``,
        each of shape ``(batch, latent_dim)``.
    decoder : keras.Model
        Input ``(batch, latent_dim)``; output pixel LOGITS of shape
        ``(batch, *image_shape)`` (no final sigmoid: the loss applies it).
    likelihood : {"bernoulli", "gaussian"}
        The decoder's distribution p(x|z), whose negative log is the reconstruction
        term. ``"bernoulli"``: binary cross-entropy from the logits
        (:func:`~course_utils.elbo.losses.bernoulli_nll_from_logits`). ``"gaussian"``:
        ``-log N(x; sigmoid(logits), sigma**2 I)``
        (:func:`~course_utils.elbo.losses.gaussian_nll`); the mean goes through a sigmoid
        so that it lies in (0, 1) like the pixels.
    sigma : float, "learned" or None
        Only for ``likelihood="gaussian"`` (must be None for Bernoulli). A positive
        number fixes the standard deviation, shared by all pixels; None means 1.0.
        ``"learned"`` makes ``log(sigma)`` one trainable scalar weight of the VAE,
        shared by all pixels (as in the sigma-VAE of Rybkin et al., 2021).
    reduction : {"sum", "mean"}
        How the reconstruction term is reduced over the pixels of an image. ``"sum"``
        gives the negative ELBO. ``"mean"`` divides it by the number of pixels ``D``,
        the classic mistake that weighs the KL term ``D`` times more (kept so that a
        lesson can train it honestly). The KL term is always summed over latents.
    initial_sigma : float or None
        Starting value of a learned sigma (default 1.0); only with ``sigma="learned"``.
    kl_weight : float
        The weight beta >= 0 of the KL term in the training loss (1.0: the negative
        ELBO). It lives in a non-trainable variable, so setting ``vae.kl_weight``
        between epochs (e.g. by :class:`course_utils.models.kl_schedules.KLSchedule`) takes
        effect without retracing the training step.
    free_bits : float
        A floor lambda >= 0 in nats under each latent dimension's KL, averaged over the
        batch (Kingma et al., 2016): the KL term becomes
        ``sum_u max(lambda, mean_batch KL_u)`` (:func:`free_bits_kl`), so a dimension
        below the floor gets no gradient from it. 0.0 (the default) means no floor.
    seed : int or None
        Seed of the :class:`~course_utils.models.layers.Sampling` layer, so the noise drawn
        during training and evaluation is reproducible. It does not seed the
        initial weights (use ``keras.utils.set_random_seed`` for that).
    **kwargs
        Passed to :class:`keras.Model` (e.g. ``name``).

    Attributes
    ----------
    image_shape : tuple of int
        Shape of one image, e.g. ``(28, 28, 1)``.
    latent_dim : int
        Size of the code.
    likelihood, reduction : str
        The options above.
    sigma : float or None
        The Gaussian standard deviation (its current value when learned); None for a
        Bernoulli decoder.
    log_sigma : keras.Variable or None
        The trainable scalar ``log(sigma)`` when ``sigma="learned"``, else None.

    Raises
    ------
    ValueError
        For an unknown ``likelihood`` or ``reduction``, a ``sigma`` that is neither a
        positive number nor ``"learned"`` (or any ``sigma`` with a Bernoulli decoder),
        or an ``initial_sigma`` without ``sigma="learned"``. The message lists the
        valid values.

    Notes
    -----
    * ``vae(x)`` and ``vae.predict(x)`` return the reconstruction LOGITS of the
      posterior means, shape ``(batch, *image_shape)``: deterministic, no sampling.
      Apply a sigmoid for pixel probabilities.
    * ``fit`` and ``evaluate`` log ``loss``, ``reconstruction_loss`` and ``kl_loss``
      (plus ``val_*``), each a per-image average in nats over the epoch, with
      ``loss = reconstruction_loss + kl_loss``. They use one sample ``z ~ q(z|x)`` per
      image, so the reconstruction term is a Monte Carlo estimate; the KL term is exact.
      With ``sigma="learned"``, ``fit`` also logs ``sigma`` (its value at the end of
      each epoch; not for validation).
    * With ``reduction="mean"`` the logged ``reconstruction_loss`` is the per-pixel
      mean and ``loss`` is not a negative ELBO; the parts still add up.
    * A VAE built with ``kl_weight != 1`` or ``free_bits > 0`` (``tracks_rate`` is
      True) logs ``kl_loss`` as the KL term that enters the loss,
      ``kl_weight * sum_u max(free_bits, KL_u)``, so that
      ``loss = reconstruction_loss + kl_loss`` still holds, and logs ``rate``, the
      plain average KL (the rate of lesson 07), which is NOT a part of ``loss``:
      ``reconstruction_loss + rate`` is the negative ELBO.
    * Compile with an optimizer only: ``vae.compile(optimizer=keras.optimizers.Adam())``.
      Extra losses added with ``add_loss`` and compiled losses/metrics are not used.
    * ``fit``, ``evaluate``, ``encode``, ``evaluate_nelbo`` and ``decode`` check their
      array inputs first (image shape, finite pixels in [0, 1], at least one image or
      code), so a refused call changes nothing and the model stays usable.
    """

    #: Set by keras.Model; declared for the type checker (None until resolved).
    _jit_compile: bool | None

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *,
                 likelihood: str = "bernoulli", sigma: float | str | None = None,
                 reduction: str = "sum", initial_sigma: float | None = None,
                 kl_weight: float = 1.0, free_bits: float = 0.0,
                 seed: int | None = None, **kwargs) -> None:
        image_shape, latent_dim = _check_encoder_decoder(encoder, decoder)
        likelihood, sigma, reduction, initial_sigma = _check_likelihood_options(
            likelihood, sigma, reduction, initial_sigma)
        kl_weight = check_non_negative_number(
            kl_weight, "kl_weight", example="1.0 for the ELBO, e.g. 4.0 for a beta-VAE")
        free_bits = check_non_negative_number(
            free_bits, "free_bits", example="0.0 for none, e.g. 0.25")
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.seed = encoder, decoder, seed
        self.image_shape, self.latent_dim = image_shape, latent_dim
        self.pixel_count = math.prod(image_shape)
        self.likelihood, self.reduction = likelihood, reduction
        self._sigma_option, self._initial_sigma = sigma, initial_sigma
        self.sampling = Sampling(seed=seed, name="sampling")
        self._decode_function = None  # built by _traced_decode on first use
        self.log_sigma = None
        if sigma == LEARNED:
            self.log_sigma = self.add_weight(
                shape=(), name="log_sigma", trainable=True,
                initializer=keras.initializers.Constant(math.log(initial_sigma)))
        self.free_bits = free_bits
        self.tracks_rate = kl_weight != 1.0 or free_bits > 0.0
        # A plain tf.Variable set with object.__setattr__: Keras does not track it, so
        # it is not one of the model's weights (parameter counts and saved weights stay
        # as they were); the traced training step reads its current value.
        object.__setattr__(self, "_kl_weight_variable",
                           tf.Variable(kl_weight, trainable=False, dtype=tf.float32,
                                       name="kl_weight"))
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.rate_tracker = keras.metrics.Mean(name=RATE_NAME) if self.tracks_rate else None
        # The encoder and decoder arrive built; the VAE's only own weight, if any, is
        # the learned log_sigma created above.
        self.built = True

    @property
    def sigma(self) -> float | None:
        """The Gaussian standard deviation (current value if learned); None for Bernoulli."""
        if self.likelihood == "bernoulli":
            return None
        if self.log_sigma is not None:
            return float(np.exp(self.log_sigma.numpy()))
        return float(self._sigma_option)

    @property
    def kl_weight(self) -> float:
        """The current weight beta of the KL term (settable between epochs)."""
        return float(self._kl_weight_variable.numpy())

    @kl_weight.setter
    def kl_weight(self, value: float) -> None:
        value = check_non_negative_number(value, "kl_weight", example="1.0 for the ELBO")
        if not self.tracks_rate and value != 1.0:
            raise ValueError(f"kl_weight must be set only on a VAE built with a KL weight or "
                             f"free bits (which logs the rate besides the weighted KL); got "
                             f"kl_weight={value} for a VAE built as a plain ELBO. Build it "
                             f"with VAE(..., kl_weight={value}) or "
                             f"build_dense_vae(..., kl_weight={value}).")
        self._kl_weight_variable.assign(value)

    # ---------------------------------------------------------------- compiling

    def compile(self, optimizer="rmsprop", *, steps_per_execution: int | None = None,
                jit_compile: bool | str = "auto", **kwargs) -> None:
        """Keras ``compile`` with defaults that train at the speed of the machine.

        Parameters
        ----------
        optimizer : keras.optimizers.Optimizer or str
            The only thing the VAE needs (its loss is its own).
        steps_per_execution : int or None
            Training steps per call of the traced training function. None means
            :data:`STEPS_PER_EXECUTION`: fewer calls from Python per epoch, with the
            same numbers as one step per call (callbacks still see every epoch, and
            batch-level hooks every ``steps_per_execution`` steps).
        jit_compile : bool or "auto"
            Compile the training step with XLA. ``"auto"`` follows Keras' rule, except
            on a CPU: there a VAE without convolutions (XLA is slower for the conv VAE
            on a CPU) switches XLA on at the first ``fit`` that runs at least
            :data:`XLA_MIN_STEPS` training steps, long enough to pay for compiling, and
            keeps it. On a CPU, XLA is allowed even with op determinism on
            (:func:`course_utils.models.training.set_seed`), which Keras refuses: it gives the
            same numbers for the same seed there (tested), though not the same numbers
            as without XLA. ``evaluate`` and the validation never use XLA (compiling it
            costs more than it saves).
        **kwargs
            Passed to :meth:`keras.Model.compile`.
        """
        if steps_per_execution is None:
            steps_per_execution = STEPS_PER_EXECUTION
        self._jit_request = jit_compile
        super().compile(optimizer=optimizer, steps_per_execution=steps_per_execution,
                        jit_compile=jit_compile, **kwargs)

    def get_compile_config(self) -> dict | None:
        config = super().get_compile_config()
        if config is not None and getattr(self, "_jit_request", None) == "auto":
            config["jit_compile"] = "auto"  # decided again by the reloaded model's fit
        return config

    def compile_from_config(self, config: dict) -> None:
        # Keras skips a custom compile when loading a model; this one only sets defaults.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def jit_compile(self) -> bool:
        """Whether the training step is compiled with XLA (see :meth:`compile`)."""
        if self._jit_compile is None:
            self._jit_compile = self._resolve_auto_jit_compile()
        return self._jit_compile

    @jit_compile.setter
    def jit_compile(self, value: bool) -> None:
        if value and self._xla_on_cpu_allowed():
            self._jit_compile = True  # Keras would refuse it under op determinism
        else:
            keras.Model.jit_compile.fset(self, value)  # Keras' own rule

    def _xla_on_cpu_allowed(self) -> bool:
        """True on a CPU-only machine (TensorFlow) when every layer supports XLA."""
        return keras.backend.backend() == "tensorflow" and _cpu_only() and \
            all(layer.supports_jit for layer in self._flatten_layers())

    def _resolve_auto_jit_compile(self) -> bool:
        if keras.backend.backend() != "tensorflow" or not _cpu_only():
            return super()._resolve_auto_jit_compile()
        return False  # until fit knows how many steps it runs (_choose_xla)

    def _choose_xla(self, x, kwargs: dict) -> None:
        """Under ``jit_compile="auto"`` on a CPU, turn XLA on for a long enough ``fit``."""
        if getattr(self, "_jit_request", None) != "auto" or self._jit_compile or \
                not self._xla_on_cpu_allowed() or tf.distribute.has_strategy() or \
                any(isinstance(layer, _CONVOLUTIONS) for layer in self._flatten_layers()):
            return
        steps = kwargs.get("steps_per_epoch")
        if steps is None and isinstance(x, np.ndarray):
            split = kwargs.get("validation_split") or 0.0
            if kwargs.get("validation_data") is not None:
                split = 0.0
            batch_size = kwargs.get("batch_size") or 32
            steps = math.ceil(math.floor(len(x) * (1.0 - split)) / batch_size)
        if steps is None:
            return
        if steps * (kwargs.get("epochs", 1) - kwargs.get("initial_epoch", 0)) >= XLA_MIN_STEPS:
            self._jit_compile = True
            self.train_function = None  # traced again, with XLA

    def make_test_function(self, force: bool = False) -> Callable[..., Any]:
        # Evaluation is a forward pass: XLA saves little there and would compile the
        # step once more per batch shape (validation batches and the last one).
        jit_compile, self._jit_compile = self._jit_compile, False
        try:
            return super().make_test_function(force=force)
        finally:
            self._jit_compile = jit_compile

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        # Listing the trackers here lets Keras reset them at the start of each epoch.
        trackers = [self.total_loss_tracker, self.reconstruction_loss_tracker,
                    self.kl_loss_tracker]
        return trackers + ([self.rate_tracker] if self.rate_tracker is not None else [])

    def call(self, inputs: TensorLike, training: bool | None = None) -> TensorLike:
        z_mean, _ = self.encoder(inputs, training=training)
        return self.decoder(z_mean, training=training)

    # ------------------------------------------------------------------ training

    def reconstruction_nll(self, x: TensorLike, logits: TensorLike) -> TensorLike:
        """``-log p(x|z)`` of each image under this VAE's likelihood, summed over pixels.

        The ``reduction`` option is not applied: this is the model's log-likelihood,
        which :func:`course_utils.evaluation.importance_weighting.importance_weighted_bound` uses.

        Parameters
        ----------
        x : array or tensor of shape (batch, *image_shape)
            Images with values in [0, 1].
        logits : array or tensor of shape (batch, *image_shape)
            Decoder outputs for one code per image.

        Returns
        -------
        tensor of shape (batch,)
            In nats.
        """
        if self.likelihood == "bernoulli":
            return bernoulli_nll_from_logits(x, logits)
        log_sigma = self.log_sigma if self.log_sigma is not None else \
            math.log(float(self._sigma_option))
        return gaussian_nll(x, ops.sigmoid(logits), log_sigma)

    def _negative_elbo(self, x, training: bool) -> dict:
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        if self.tracks_rate:
            return self._weighted_loss(x, logits, z_mean, z_log_var)
        if self.likelihood == "bernoulli" and self.reduction == "sum":
            return negative_elbo(x, logits, z_mean, z_log_var)  # the lesson 02/03 path
        reconstruction = self.reconstruction_nll(x, logits)
        if self.reduction == "mean":
            reconstruction = reconstruction / self.pixel_count
        reconstruction_loss = ops.mean(reconstruction)
        kl_loss = ops.cast(ops.mean(kl_divergence_standard_normal(z_mean, z_log_var)),
                           reconstruction_loss.dtype)
        return {"loss": reconstruction_loss + kl_loss,
                "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}

    def _reconstruction_loss(self, x, logits):
        reconstruction = self.reconstruction_nll(x, logits)
        if self.reduction == "mean":
            reconstruction = reconstruction / self.pixel_count
        return ops.mean(reconstruction)

    def _weighted_loss(self, x, logits, z_mean, z_log_var) -> dict:
        """Reconstruction + kl_weight * (free-bits) KL, and the plain rate."""
        reconstruction_loss = self._reconstruction_loss(x, logits)
        kl_term, rate = free_bits_kl(z_mean, z_log_var, self.free_bits)
        weight = ops.cast(self._kl_weight_variable, reconstruction_loss.dtype)
        kl_loss = weight * ops.cast(kl_term, reconstruction_loss.dtype)
        return {"loss": reconstruction_loss + kl_loss,
                "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss,
                RATE_NAME: ops.cast(rate, reconstruction_loss.dtype)}

    def _update_trackers(self, losses: dict, x) -> dict:
        # Weighting each batch mean by the batch size makes the epoch value an exact
        # per-image average, even when the last batch is smaller.
        batch_size = ops.shape(x)[0]
        for tracker in self.metrics:
            tracker.update_state(losses[tracker.name], sample_weight=batch_size)
        return {tracker.name: tracker.result() for tracker in self.metrics}

    def train_step(self, data: TensorLike) -> dict[str, TensorLike]:
        """One gradient step on the negative ELBO of a batch of images ``data``."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            losses = self._negative_elbo(x, training=True)
        grads = tape.gradient(losses["loss"], self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        logs = self._update_trackers(losses, x)
        if self.log_sigma is not None:
            logs["sigma"] = ops.exp(self.log_sigma)
        return logs

    def test_step(self, data: TensorLike) -> dict[str, TensorLike]:
        """The negative ELBO of a batch, without a gradient step (``evaluate``, ``val_*``)."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        losses = self._negative_elbo(x, training=False)
        return self._update_trackers(losses, x)

    # --------------------------------------------------------- checked entry points

    def fit(self, x: Any = None, y: Any = None, *args: Any,
            **kwargs: Any) -> keras.callbacks.History:
        """Keras ``fit`` on images, checked first so that a refused call changes nothing.

        Array inputs ``x`` and ``validation_data`` (an array, or a tuple whose first entry
        is one) must be images of ``image_shape`` (or without its channel axis) with
        finite pixel values in [0, 1]; other inputs such as a ``tf.data.Dataset`` go
        to Keras unchecked. The optimizer's variables are created before the training
        step is traced, and if ``fit`` fails anyway its traced steps are discarded, so
        the next call starts afresh instead of failing with a tf.function error.
        All arguments are those of :meth:`keras.Model.fit`.

        Returns
        -------
        keras.callbacks.History
        """
        if _is_array(x):
            x = as_model_images(self, x, "x")
        if "validation_data" in kwargs:
            kwargs["validation_data"] = self._checked_validation_data(kwargs["validation_data"])
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.trainable_variables)
        if not args:
            self._choose_xla(x, kwargs)
        with self._keras_entry_point():
            return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x: Any = None, y: Any = None, *args: Any,
                 **kwargs: Any) -> float | list[float] | dict[str, float]:
        """Keras ``evaluate``, with array images checked as in :meth:`fit` first."""
        if _is_array(x):
            x = as_model_images(self, x, "x")
        with self._keras_entry_point():
            return super().evaluate(x, y, *args, **kwargs)

    def _checked_validation_data(self, data: object) -> object:
        if _is_array(data):
            return as_model_images(self, data, "validation_data")
        if isinstance(data, (tuple, list)) and 1 <= len(data) <= 3 and _is_array(data[0]):
            return (as_model_images(self, data[0], "validation_data"), *data[1:])
        return data

    @contextlib.contextmanager
    def _keras_entry_point(self) -> Iterator[None]:
        """Around Keras' ``fit``/``evaluate``: no retracing warning; a failure forgets
        the traced steps, so the next call traces them afresh."""
        try:
            with _quiet_retracing_warning():
                yield
        except Exception:
            self._forget_traced_steps()
            raise

    def _forget_traced_steps(self) -> None:
        """Drop traced train/test steps, so a step whose tracing failed is traced anew."""
        self.train_function = None
        self.test_function = None

    # ------------------------------------------------------------- serialization

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
            likelihood=self.likelihood,
            sigma=self._sigma_option,
            reduction=self.reduction,
            initial_sigma=self._initial_sigma,
            kl_weight=self.kl_weight,
            free_bits=self.free_bits,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> VAE:
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"),
                                                        custom_objects=custom_objects)
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"),
                                                        custom_objects=custom_objects)
        return cls(encoder, decoder, **config)

    # ---------------------------------------------------------- NumPy helpers

    def encode(self, x: ArrayLike, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Posterior parameters of images.

        Parameters
        ----------
        x : array of shape (n, 28, 28, 1) or (n, 28, 28)
            Images with values in [0, 1] (the shape follows ``image_shape``).
        batch_size : int
            Images per forward pass.

        Returns
        -------
        z_mean, z_log_var : numpy.ndarray of shape (n, latent_dim)
        """
        images = as_model_images(self, x)
        batch_size = check_positive_int(batch_size, "batch_size")
        # Direct calls rather than ``predict``: no traced function per model, so encoding
        # with several models in a row does not trigger TensorFlow's retracing warnings.
        z_mean, z_log_var = batched_call(lambda rows: self.encoder(rows, training=False),
                                         images, batch_size=batch_size)
        return z_mean, z_log_var

    def decode(self, z: ArrayLike) -> np.ndarray:
        """Mean images ``sigmoid(decoder(z))`` of codes, in one batched call.

        For a Bernoulli decoder these are pixel probabilities; for a Gaussian one,
        the means (both are the sigmoid of the decoder's logits).

        Parameters
        ----------
        z : array of shape (n, latent_dim)
            Codes, one per row (use ``z[None, :]`` for a single code).

        Returns
        -------
        numpy.ndarray of shape (n, 28, 28, 1)
            Float32 probabilities in [0, 1] (the shape follows ``image_shape``).
        """
        codes = check_array(z, "z", ndim=2, min_len=1, noun="code", finite=True,
                            layout="(n, latent_dim)", fix=DIVERGED_FIX)
        if codes.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}) for this VAE; got "
                             f"shape {codes.shape}. Pass one code of length "
                             f"{self.latent_dim} per row.")
        return self._traced_decode()(codes).numpy()

    def _traced_decode(self):
        """``sigmoid(decoder(z))`` as one traced function, built on first use.

        One trace serves every batch size. A traced call decodes a single code in about
        a millisecond, several times faster than an eager call: that keeps the latent
        explorer's sliders responsive.
        """
        if self._decode_function is None:
            spec = tf.TensorSpec((None, self.latent_dim), tf.float32)
            self._decode_function = tf.function(_DecodeProbabilities(self.decoder),
                                                input_signature=[spec])
        return self._decode_function

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Decode ``n`` codes drawn from the prior N(0, I).

        Parameters
        ----------
        n : int
            Number of images.
        seed : int or None
            Seed of the NumPy generator drawing the codes (same seed, same codes).

        Returns
        -------
        numpy.ndarray of shape (n, 28, 28, 1)
            Pixel probabilities in [0, 1] (the shape follows ``image_shape``).
        """
        return self.decode(sample_prior(n, self.latent_dim, seed=seed))

    def evaluate_nelbo(self, x: ArrayLike, batch_size: int = 256) -> dict[str, float]:
        """Negative ELBO of images in nats per image: ``vae.evaluate`` as plain floats.

        Uses one sample ``z ~ q(z|x)`` per image (a Monte Carlo estimate of the
        reconstruction term; the KL term is exact). Requires a compiled model.

        Parameters
        ----------
        x : array of shape (n, 28, 28, 1) or (n, 28, 28)
            Images with values in [0, 1].
        batch_size : int
            Images per batch; the result does not depend on it beyond sampling noise.

        Returns
        -------
        dict of str to float
            ``"loss"`` (the negative ELBO; with ``reduction="mean"``, a KL weight or
            free bits the training objective instead), ``"reconstruction_loss"`` and
            ``"kl_loss"``, averages over the images, with
            ``loss = reconstruction_loss + kl_loss``; when ``tracks_rate``, also
            ``"rate"``, the plain average KL (``reconstruction_loss + rate`` is the
            negative ELBO).
        """
        images = as_model_images(self, x)
        batch_size = check_positive_int(batch_size, "batch_size")
        if not self.compiled:
            raise RuntimeError("evaluate_nelbo needs a compiled VAE; call "
                               "vae.compile(optimizer=keras.optimizers.Adam(1e-3)) first.")
        results = cast(dict[str, float], self.evaluate(images, batch_size=batch_size,
                                                        verbose=0, return_dict=True))
        names = LOSS_NAMES + ((RATE_NAME,) if self.tracks_rate else ())
        return {name: float(results[name]) for name in names}


class _DecodeProbabilities:
    """``sigmoid(decoder(z))``: what :meth:`VAE.decode` traces, one object per VAE.

    TensorFlow counts the traces of a ``tf.function`` by the Python function's code, so
    a lambda written here would count every VAE's single trace as a retrace of one
    function and, by the fifth VAE that decodes, print a six-line "retracing" warning.
    A callable object of its own per VAE is counted on its own.
    """

    def __init__(self, decoder: keras.Model) -> None:
        self.decoder = decoder

    def __call__(self, z):
        return tf.sigmoid(self.decoder(z, training=False))


def free_bits_kl(z_mean, z_log_var, free_bits: float = 0.0) -> tuple:
    """The free-bits KL term of a batch and its plain average KL (the rate).

    Each dimension's KL to N(0, 1) is averaged over the batch, then clamped below at
    ``free_bits`` (Kingma et al., 2016):
    ``sum_u max(free_bits, mean_batch KL(q(z_u|x) || N(0, 1)))``. A dimension whose
    average KL is below the floor adds the constant ``free_bits``, so it gets no
    gradient from the KL term.

    Parameters
    ----------
    z_mean, z_log_var : tensor of shape (batch, latent_dim)
        Encoder outputs.
    free_bits : float
        The floor lambda >= 0, in nats per dimension (0: the plain KL term).

    Returns
    -------
    kl_term, rate : scalar tensors
        The floored KL term that enters the loss (before the KL weight) and the plain
        average KL ``sum_u mean_batch KL_u``, in nats.
    """
    z_mean = ops.convert_to_tensor(z_mean)
    z_log_var = ops.cast(ops.convert_to_tensor(z_log_var), z_mean.dtype)
    per_dimension = ops.mean(
        0.5 * (ops.square(z_mean) + ops.expm1(z_log_var) - z_log_var), axis=0)
    floor = ops.cast(free_bits, per_dimension.dtype)
    return ops.sum(ops.maximum(per_dimension, floor)), ops.sum(per_dimension)


# --------------------------------------------------------------------------- checks

class _RetracingFilter(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _quiet_retracing_warning() -> Iterator[None]:
    """Silence the retracing warning while a VAE fits or evaluates.

    Each VAE traces its own training and evaluation steps once (and once more for a
    last, smaller batch), but TensorFlow counts the traces of every model's steps
    together, because Keras builds them all from the same code. With several training
    steps per call (:data:`STEPS_PER_EXECUTION`), a few short fits of new models in a
    row (a sweep) make those traces look frequent and print a long warning that points
    at no real problem.
    """
    logger = logging.getLogger("tensorflow")
    quiet = _RetracingFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _cpu_only() -> bool:
    """True when TensorFlow sees no accelerator (a GPU or TPU)."""
    return all(device.device_type == "CPU" for device in tf.config.list_physical_devices())


def _is_array(value: object) -> TypeGuard[ArrayLike]:
    """True for inputs :meth:`VAE.fit` can check: arrays, nested lists, eager tensors."""
    return isinstance(value, (np.ndarray, list)) or (tf.is_tensor(value)
                                                     and hasattr(value, "numpy"))


def _check_likelihood_options(likelihood: object, sigma: object, reduction: object,
                              initial_sigma: object) -> tuple:
    """Validate the likelihood options; return ``(likelihood, sigma, reduction, initial)``.

    ``sigma`` comes back as None (Bernoulli), a positive float, or ``"learned"``;
    ``initial`` as a positive float for a learned sigma, else None.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}; got {likelihood!r}. "
                         "Use 'bernoulli' (binary cross-entropy) or 'gaussian'.")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}. "
                         "'sum' gives the negative ELBO; 'mean' divides the "
                         "reconstruction term by the number of pixels.")
    valid_sigma = f"a positive number, {LEARNED!r} or None (meaning 1.0)"
    if likelihood == "bernoulli":
        if sigma is not None:
            raise ValueError(f"sigma must be None unless likelihood='gaussian'; got sigma="
                             f"{sigma!r} with likelihood='bernoulli'. Leave sigma=None, or "
                             f"choose likelihood='gaussian' with sigma = {valid_sigma}.")
    elif sigma is None:
        sigma = 1.0
    elif sigma != LEARNED:
        if isinstance(sigma, bool) or not isinstance(sigma, Real) or \
                not math.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"sigma must be {valid_sigma}; got {sigma!r}. Pass e.g. 0.1.")
        sigma = float(sigma)
    if sigma != LEARNED:
        if initial_sigma is not None:
            raise ValueError(f"initial_sigma must be None unless sigma={LEARNED!r}; got "
                             f"initial_sigma={initial_sigma!r} with sigma={sigma!r}. "
                             "Leave initial_sigma=None.")
        return likelihood, sigma, reduction, None
    if initial_sigma is None:
        initial_sigma = 1.0
    if isinstance(initial_sigma, bool) or not isinstance(initial_sigma, Real) or \
            not math.isfinite(initial_sigma) or initial_sigma <= 0:
        raise ValueError(f"initial_sigma must be a positive number (or None, meaning "
                         f"1.0); got {initial_sigma!r}. Pass e.g. 0.1.")
    return likelihood, sigma, reduction, float(initial_sigma)


def _check_encoder_decoder(encoder: keras.Model,
                           decoder: keras.Model) -> tuple[tuple[int, ...], int]:
    """Return ``(image_shape, latent_dim)`` or raise if the two parts do not fit a VAE."""
    for name, part in (("encoder", encoder), ("decoder", decoder)):
        if not isinstance(part, keras.Model):
            raise TypeError(f"{name} must be a keras.Model; got {type(part).__name__}. "
                            f"Build one with course_utils.models.build_dense_{name} or "
                            f"build_conv_{name}.")
        inputs = getattr(part, "inputs", None)
        if not inputs or len(inputs) != 1:
            raise ValueError(f"{name} must be a functional keras.Model with one input made "
                             f"by keras.Input(shape=...); got inputs {inputs!r}. Build it "
                             f"with the functional API.")
    image_shape = tuple(encoder.inputs[0].shape[1:])
    if not image_shape or any(d is None for d in image_shape):
        raise ValueError(f"encoder input must have a fully known image shape such as "
                         f"(28, 28, 1); got {image_shape}. Use keras.Input(shape=(28, 28, 1)).")

    outputs = encoder.outputs
    shapes = [tuple(t.shape) for t in outputs]
    if len(outputs) != 2 or shapes[0] != shapes[1] or len(shapes[0]) != 2:
        raise ValueError("encoder must output two tensors [z_mean, z_log_var] of the same "
                         f"shape (batch, latent_dim); got output shapes {shapes}. Give it two "
                         "Dense(latent_dim) heads, e.g. build_dense_encoder(..., "
                         "gaussian=True).")
    latent_dim = shapes[0][1]

    decoder_in = tuple(decoder.inputs[0].shape[1:])
    if decoder_in != (latent_dim,):
        raise ValueError(f"decoder input must have shape (batch, {latent_dim}) to match the "
                         f"encoder's latent_dim={latent_dim}; got (batch, "
                         f"{', '.join(map(str, decoder_in))}). Build both with the same "
                         "latent_dim.")
    decoder_out = [tuple(t.shape[1:]) for t in decoder.outputs]
    if decoder_out != [image_shape]:
        raise ValueError(f"decoder must output one tensor of the image shape {image_shape} "
                         f"(the encoder's input shape); got output shapes {decoder_out}. End "
                         "the decoder with a Reshape or a Conv2DTranspose to that shape.")
    activation = last_activation(decoder)  # Reshape and the like are skipped
    if activation is not None:
        if activation == "sigmoid":
            raise ValueError("decoder must output pixel LOGITS, but its last activation is a "
                             "sigmoid; got a sigmoid output. Build it with output='logits' "
                             "(the loss applies the sigmoid itself).")
        if activation in ("relu", "softplus"):
            raise ValueError(f"decoder must output pixel LOGITS, which can be negative; got a "
                             f"final {activation}, so every pixel probability would be at least "
                             "1/2. Build it with output='logits' (no final activation).")
    return image_shape, int(latent_dim)


def as_model_images(vae: VAE, x: ArrayLike, name: str = "x") -> np.ndarray:
    """``x`` as the float32 images a VAE reads, after checking them.

    The one check of images that go into a :class:`VAE` (its ``fit``, ``evaluate``,
    ``encode`` and the evaluation modules use it): the shape must be
    ``(n, *vae.image_shape)``, or that without the channel axis of size 1, with at
    least one image and finite pixel values in [0, 1].

    Parameters
    ----------
    vae : VAE
        The model whose ``image_shape`` the images must have.
    x : array_like of shape (n, 28, 28, 1) or (n, 28, 28)
        The images (the shape follows ``vae.image_shape``).
    name : str
        How error messages call ``x``.

    Returns
    -------
    numpy.ndarray of shape (n, *vae.image_shape), float32

    Raises
    ------
    TypeError
        If ``vae`` is not a :class:`VAE` or ``x`` is not numeric.
    ValueError
        If its shape, finiteness or pixel range is wrong, or it holds no image.
    """
    if not isinstance(vae, VAE):
        raise TypeError(f"vae must be a course_utils.models.vae.VAE; got "
                        f"{type(vae).__name__}. Build one with build_dense_vae or load one "
                        "with load_pretrained.")
    shape = tuple(vae.image_shape)
    layout = f"(n, {', '.join(map(str, shape))})"
    images = check_array(x, name, ndim=(len(shape), len(shape) + 1), min_len=1,
                         noun="image", layout=layout)
    if images.shape[1:] + (1,) == shape:
        images = images.reshape((len(images),) + shape)
    elif images.shape[1:] != shape:
        raise ValueError(f"{name} must hold images of shape {shape}, i.e. have shape "
                         f"{layout}; got shape {images.shape}. Pass a batch of images of "
                         "that size, e.g. x[:100], or resize them.")
    return check_array(images, name, finite=True, value_range=PIXEL_RANGE,
                       value_noun="pixel")


# -------------------------------------------------------------------------- builders

def build_dense_vae(latent_dim: int = 2, hidden=(512, 256), seed: int | None = None,
                    **likelihood_options) -> VAE:
    """Dense VAE: 784 -> hidden -> ``[z_mean, z_log_var]``; z -> reversed(hidden) -> 784 logits.

    Parameters
    ----------
    latent_dim : int
        Size of the code.
    hidden : sequence of int
        Encoder hidden widths, input side first; the decoder uses them reversed.
    seed : int or None
        Seed of the sampling noise (see :class:`VAE`).
    **likelihood_options
        ``likelihood``, ``sigma``, ``reduction``, ``initial_sigma``, ``kl_weight``,
        ``free_bits``: see :class:`VAE`.

    Returns
    -------
    VAE
        Not compiled; input ``(batch, 28, 28, 1)``. With the defaults and
        ``latent_dim=2`` it has 1,068,820 parameters (one more with a learned sigma).
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    hidden = check_int_sequence(hidden, "hidden")
    encoder = build_dense_encoder(latent_dim, hidden, gaussian=True)
    decoder = build_dense_decoder(latent_dim, tuple(reversed(hidden)), output="logits")
    return VAE(encoder, decoder, seed=seed, name="dense_vae", **likelihood_options)


def build_conv_vae(latent_dim: int = 2, seed: int | None = None,
                   **likelihood_options) -> VAE:
    """Convolutional VAE of the classic Keras example, with a logits decoder.

    Encoder and decoder come from :func:`course_utils.models.build_conv_encoder` and
    :func:`course_utils.models.build_conv_decoder`.

    Parameters
    ----------
    latent_dim, seed, **likelihood_options
        As in :func:`build_dense_vae`.

    Returns
    -------
    VAE
        Not compiled; input ``(batch, 28, 28, 1)``. With ``latent_dim=2`` it has
        134,165 parameters.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    encoder = build_conv_encoder(latent_dim)
    decoder = build_conv_decoder(latent_dim, output="logits")
    return VAE(encoder, decoder, seed=seed, name="conv_vae", **likelihood_options)
