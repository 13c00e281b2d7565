"""Helpers for the variational-autoencoder course: data, models, losses, training,
plots, the latent explorer and exercise checks.

Importing the package has no side effects: it sets no seeds, styles or backends.
Import what you need from its modules, e.g. ``from course_utils.data import load_dataset``.
"""

__version__ = "0.1.0"
