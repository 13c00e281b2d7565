"""Models: the networks, the VAE, how to train them and the trained models shipped.

* ``networks``: dense and convolutional encoders, decoders and the plain autoencoder;
* ``layers``: the ``Sampling`` layer (the reparameterisation trick);
* ``vae``: the ``VAE`` model with its loss parts, ``build_dense_vae``, ``build_conv_vae``;
* ``training``: ``set_seed``, ``train_vae``, ``train_autoencoder``;
* ``kl_schedules``: KL warm-up as a callback;
* ``pretrained``: the small VAEs shipped in ``models/shipped/``, checked by SHA-256;
* ``comparison``: comparing training runs and counting multiply-adds;
* ``inference``: one batched call of a model over many images.
"""

from course_utils.models.comparison import ComparisonTable, RunResult, compare_runs, multiply_adds
from course_utils.models.inference import apply_model
from course_utils.models.kl_schedules import KLSchedule, KLWarmUp, linear_warmup
from course_utils.models.layers import Sampling
from course_utils.models.networks import (
    IMAGE_SHAPE,
    build_autoencoder,
    build_conv_decoder,
    build_conv_encoder,
    build_dense_decoder,
    build_dense_encoder,
)
from course_utils.models.pretrained import (
    MODELS_DIR,
    PRETRAINED,
    DataFileError,
    PretrainedModel,
    load_pretrained,
    pretrained_metadata,
    pretrained_path,
)
from course_utils.models.training import EpochTimer, set_seed, train_autoencoder, train_vae
from course_utils.models.vae import (
    LIKELIHOODS,
    REDUCTIONS,
    VAE,
    build_conv_vae,
    build_dense_vae,
    free_bits_kl,
)

__all__ = [
    "ComparisonTable",
    "RunResult",
    "compare_runs",
    "multiply_adds",
    "apply_model",
    "KLSchedule",
    "KLWarmUp",
    "linear_warmup",
    "Sampling",
    "IMAGE_SHAPE",
    "build_autoencoder",
    "build_conv_decoder",
    "build_conv_encoder",
    "build_dense_decoder",
    "build_dense_encoder",
    "MODELS_DIR",
    "PRETRAINED",
    "DataFileError",
    "PretrainedModel",
    "load_pretrained",
    "pretrained_metadata",
    "pretrained_path",
    "EpochTimer",
    "set_seed",
    "train_autoencoder",
    "train_vae",
    "LIKELIHOODS",
    "REDUCTIONS",
    "VAE",
    "build_conv_vae",
    "build_dense_vae",
    "free_bits_kl",
]
