"""Numbers that summarise how well a model does on held-out images."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import DIVERGED_FIX, check_images, check_same_shape

__all__ = ["reconstruction_mse"]


def reconstruction_mse(images: ArrayLike, reconstructions: ArrayLike) -> np.ndarray:
    """Mean squared error per image, averaged over its pixels.

    Parameters
    ----------
    images : numpy.ndarray of shape (n, 28, 28, 1) or (n, 28, 28)
        At least one image, with finite pixel values in [0, 1].
    reconstructions : numpy.ndarray of the same shape
        Finite model outputs.

    Returns
    -------
    numpy.ndarray of shape (n,)
        One error per image; take ``.mean()`` for the test-set error.

    Raises
    ------
    TypeError, ValueError
        For non-numeric or empty inputs, NaN or infinite values, images outside
        [0, 1] (e.g. left in 0..255), or different shapes.
    """
    images = check_images(images, "images", pixels=True)
    reconstructions = check_images(reconstructions, "reconstructions", finite=True,
                                   fix=DIVERGED_FIX)
    check_same_shape(images, "images", reconstructions, "reconstructions",
                     fix="Reconstruct the same batch.")
    return ((images - reconstructions) ** 2).reshape(len(images), -1).mean(axis=1)
