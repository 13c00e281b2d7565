"""Input checks shared by the public helpers.

Each raises ``TypeError`` or ``ValueError`` saying what was expected, what was
received and how to fix it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not a whole number >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number; got {type(value).__name__} {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def check_int_sequence(values: object, name: str) -> tuple[int, ...]:
    """Return a tuple of positive ints (layer widths, say)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of whole numbers such as (512, 256); "
                        f"got {values!r}.")
    return tuple(check_positive_int(v, f"each entry of {name}") for v in values)


def check_array(value: object, name: str, *, ndim: int | Sequence[int] | None = None,
                min_len: int = 0) -> np.ndarray:
    """Return ``value`` as a float array with the given number of dimensions."""
    try:
        array = np.asarray(value, dtype=np.float32) if not hasattr(value, "numpy") \
            else np.asarray(value.numpy(), dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array; got {type(value).__name__}.") from error
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions; "
                             f"got shape {array.shape}.")
    if len(array) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} items; got {len(array)}.")
    return array


def check_images(value: object, name: str = "images") -> np.ndarray:
    """Return a float32 image batch of shape (n, height, width) or (n, height, width, 1)."""
    images = check_array(value, name, ndim=(3, 4), min_len=1)
    if images.ndim == 4 and images.shape[-1] != 1:
        raise ValueError(f"{name} must be greyscale, shape (n, h, w) or (n, h, w, 1); "
                         f"got shape {images.shape}.")
    return images.reshape(images.shape[:3])
