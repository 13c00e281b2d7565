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

from course_utils.models import (
    comparison,
    inference,
    kl_schedules,
    layers,
    networks,
    pretrained,
    training,
    vae,
)
from course_utils.models.comparison import *
from course_utils.models.inference import *
from course_utils.models.kl_schedules import *
from course_utils.models.layers import *
from course_utils.models.networks import *
from course_utils.models.pretrained import *
from course_utils.models.training import *
from course_utils.models.vae import *

# Every public name of the modules above; each module's __all__ is the one list.
__all__ = sorted({
    *comparison.__all__,
    *inference.__all__,
    *kl_schedules.__all__,
    *layers.__all__,
    *networks.__all__,
    *pretrained.__all__,
    *training.__all__,
    *vae.__all__,
})
