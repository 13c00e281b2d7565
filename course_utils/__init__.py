"""Helpers for the variational-autoencoder course, one folder per job:

* ``data``: the datasets (``load_dataset``) and the embedded subsets;
* ``models``: networks, the ``VAE`` class, training, KL schedules, the shipped models;
* ``elbo``: the ELBO's maths (losses, estimators, the linear-Gaussian toy model,
  likelihoods) and its plots;
* ``evaluation``: reconstruction error, the importance-weighted bound, inference gaps,
  rate and distortion;
* ``latent``: sampling, decoding, latent usage and every plot of the latent space;
* ``explorer``: the latent explorer widget and its in-page decoder;
* ``exercises``: the exercise core and one module of questions per lesson;
* at the top: ``mode`` (fast or full), ``plotting``, ``display``, ``report`` and
  ``_validation`` (the input checks every module uses).

Importing the package has no side effects: it sets no seeds, styles or backends.
Import what you need from its folders, e.g. ``from course_utils.data import load_dataset``.
"""

import importlib.util as _importlib_util
import sys as _sys

__version__ = "0.3.0"

if _importlib_util.find_spec("tensorflow") is None:
    raise ImportError(
        "course_utils needs TensorFlow 2.20 or newer, and this Python "
        f"({_sys.executable}) has none. Install it with one of\n"
        "    pip install tensorflow-cpu     # CPU only, smaller (Linux x86-64)\n"
        "    pip install tensorflow         # any platform; uses a GPU where there is one\n"
        "or install the course with its CPU extra: pip install 'vae-course[cpu]'. "
        "On Colab and Kaggle TensorFlow is already installed: do not install another."
    )
