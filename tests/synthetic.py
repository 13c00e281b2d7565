"""Small synthetic images for tests that need image-like data without a dataset."""

from __future__ import annotations

import numpy as np


def blob_images(n: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` grey-level images (n, 28, 28, 1) in [0, 1]: one Gaussian blob each."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:28, 0:28]
    centres = rng.uniform(7, 21, size=(n, 2))
    widths = rng.uniform(2.0, 4.0, size=n)
    squared = (rows - centres[:, 0, None, None]) ** 2 + (cols - centres[:, 1, None, None]) ** 2
    return np.exp(-squared / (2 * widths[:, None, None] ** 2))[..., None].astype(np.float32)
