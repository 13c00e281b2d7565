"""Input checks shared by the public helpers.

The one home of input checks: every module of ``course_utils`` validates with these.
Each raises ``TypeError`` or ``ValueError`` with a message in the one style of the
package: ``"<what> must <expected>; got <received>. <How to fix it.>"``. Helpers call
these checks BEFORE they change any model state (building, compiling, tracing), so a
refused call leaves the learner's objects as they were.

The two array checks:

* :func:`check_array`: any numeric array, with optional checks of its number of
  dimensions, number of rows, finiteness and value range;
* :func:`check_images`: a greyscale image batch ``(n, h, w)`` or ``(n, h, w, 1)``;
  with ``pixels=True`` also finite pixel values in [0, 1] (:data:`PIXEL_RANGE`).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from numpy.typing import DTypeLike

#: The range of pixel values every model of the course expects.
PIXEL_RANGE = (0.0, 1.0)
#: How far (relative to the range's width) a value may stray outside a range and still
#: count as inside it: float32 round-off of a computed 0 or 1, such as ``1 - x``.
RANGE_TOLERANCE = 1e-6

#: Advice for non-finite codes or model outputs, for ``check_array(..., fix=...)``.
DIVERGED_FIX = ("NaN or infinite codes or model outputs usually mean training diverged: "
                "retrain with a lower learning_rate, on images in [0, 1], and check the "
                "computation that made them")

_NAN_FIX = ("Replace them, e.g. np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0), or "
            "drop the images that hold them")


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not a whole number >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number; got {type(value).__name__} "
                        f"{value!r}. Pass an int such as {max(minimum, 1) * 10}.")
    if value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {value}. Pass "
                         f"{minimum} or a larger int.")
    return int(value)


def check_positive_number(value: object, name: str, *, example: str = "1e-3") -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number; got {type(value).__name__} "
                        f"{value!r}. Pass a float such as {example}.")
    number = float(value)
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value!r}. Pass a "
                         f"float such as {example}.")
    return number


def check_non_negative_number(value: object, name: str, *, example: str = "0.0") -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0.

    ``example`` completes the advice "Pass a float: <example>.", e.g. "1.0 for the ELBO".
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number >= 0; got {type(value).__name__} "
                        f"{value!r}. Pass a float: {example}.")
    if not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}. Pass a "
                         f"float: {example}.")
    return float(value)


def check_int_sequence(values: object, name: str) -> tuple[int, ...]:
    """Return a tuple of positive ints (layer widths, say)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of whole numbers; got {values!r}. Pass "
                        "a tuple such as (512, 256).")
    return tuple(check_positive_int(v, f"each entry of {name}") for v in values)


# ------------------------------------------------------------------ numeric arrays

def _count(number: int, noun: str, *, word_for_one: bool = True) -> str:
    """``"one image"`` (or ``"1 image"``), ``"3 images"``."""
    if number == 1:
        return f"{'one' if word_for_one else 1} {noun}"
    return f"{number} {noun}s"


def _number(value: float) -> str:
    """A float for a message: ``255.0``, ``-1.0``, ``1.0000001``, ``3.4e+38``."""
    text = f"{value:.8g}" if abs(value) < 1e6 else f"{value:.3g}"
    return text if any(c in text for c in ".enai") else text + ".0"


def _as_numeric(value: object, name: str, dtype: DTypeLike) -> np.ndarray:
    """``value`` (array, list, tensor) as an array of ``dtype``; refuse non-numbers."""
    raw = value.numpy() if hasattr(value, "numpy") and not isinstance(value, np.ndarray) \
        else value
    try:
        array = np.asarray(raw)
    except (TypeError, ValueError) as error:  # ragged nested lists
        raise TypeError(f"{name} must be a numeric array with rows of the same length; got "
                        f"{type(value).__name__} that NumPy cannot make one array of. Pass a "
                        "NumPy array, e.g. np.stack(rows).") from error
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must hold real numbers; got complex numbers (dtype "
                        f"{array.dtype}). Keep the real part with np.real(x) if that is "
                        "what you mean.")
    if array.dtype.kind == "O":
        try:
            return array.astype(dtype)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be a numeric array; got {type(value).__name__} "
                            "holding non-numbers. Pass a NumPy array of floats.") from error
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array; got {type(value).__name__} of "
                        f"dtype {array.dtype}. Pass a NumPy array of floats, e.g. "
                        "np.asarray(x, dtype='float32').")
    return array.astype(dtype, copy=False)


def _check_rows(array: np.ndarray, name: str, min_len: int, noun: str) -> None:
    if array.ndim == 0:
        raise ValueError(f"{name} must hold at least {_count(min_len, noun)}; got a single "
                         f"number ({array.item()!r}). Pass an array with one {noun} per row.")
    if len(array) < min_len:
        raise ValueError(f"{name} must hold at least {_count(min_len, noun)}; got "
                         f"{len(array)} (shape {array.shape}). Check the slice or the data "
                         f"you passed: it is empty or too short.")


def _sentence(text: str) -> str:
    """``text`` as a sentence: a capital first letter and a final full stop."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _check_finite(array: np.ndarray, name: str, value_noun: str, fix: str | None) -> None:
    if np.isfinite(array).all():
        return
    nan = int(np.isnan(array).sum())
    infinite = int(np.isinf(array).sum())
    found = " and ".join(text for count, text in (
        (nan, _count(nan, f"NaN {value_noun}", word_for_one=False)),
        (infinite, _count(infinite, f"infinite {value_noun}", word_for_one=False))) if count)
    raise ValueError(f"{name} must hold finite numbers; got {found} (of {array.size}). "
                     f"{_sentence(fix or _NAN_FIX)}")


def _range_fix(low: float, high: float, smallest: float, largest: float) -> str:
    if (low, high) == PIXEL_RANGE:
        if smallest >= 0 and largest <= 255:
            return "These look like 8-bit images (0..255): divide by 255 (x / 255.0)."
        if smallest >= -1 and largest <= 1:
            return ("These look like images scaled to [-1, 1]: map them to [0, 1] with "
                    "(x + 1) / 2.")
    return (f"Rescale the values into [{low:g}, {high:g}], e.g. (x - x.min()) / "
            "(x.max() - x.min()).")


def _check_range(array: np.ndarray, name: str, value_range: tuple[float, float],
                 value_noun: str) -> np.ndarray:
    """Refuse values outside ``value_range``; clip the ones within round-off of it."""
    low, high = (float(v) for v in value_range)
    if array.size == 0:
        return array
    smallest, largest = float(np.nanmin(array)), float(np.nanmax(array))
    if low <= smallest and largest <= high:
        return array
    slack = RANGE_TOLERANCE * (high - low)
    if low - slack <= smallest and largest <= high + slack:
        return np.clip(array, low, high)  # a new array: the caller's stays as it was
    values = "values" if value_noun == "value" else f"{value_noun} values"
    fix = _range_fix(low, high, smallest, largest)
    raise ValueError(f"{name} must hold {values} in [{low:g}, {high:g}]; got min "
                     f"{_number(smallest)}, max {_number(largest)}. {fix}")


def check_array(value: object, name: str, *, ndim: int | Sequence[int] | None = None,
                min_len: int = 0, dtype: DTypeLike = np.float32, finite: bool = False,
                value_range: tuple[float, float] | None = None, noun: str = "item",
                value_noun: str = "value", layout: str | None = None,
                fix: str | None = None) -> np.ndarray:
    """Return ``value`` as a numeric array of ``dtype``, after the checks asked for.

    Parameters
    ----------
    value : array-like or tensor
        Booleans, integers and floats are accepted; text, objects and complex numbers
        raise ``TypeError``.
    name : str
        How the message calls the argument, e.g. ``"x_train"``.
    ndim : int or sequence of int, optional
        Allowed numbers of dimensions.
    min_len : int
        Fewest rows (entries along the first axis); a scalar has none.
    dtype : numpy dtype
        Of the returned array (float32 by default; float64 for float64 maths).
    finite : bool
        Refuse NaN and infinite values, counting them in the message.
    value_range : (float, float), optional
        Refuse values outside ``[low, high]``. Values within ``RANGE_TOLERANCE`` of the
        range are clipped into it (the caller's array is not modified).
    noun, value_noun : str
        What one row and one value are, for the messages (``"image"``, ``"pixel"``).
    layout : str, optional
        The expected shape in words, e.g. ``"(n, latent_dim)"``, for the messages.
    fix : str, optional
        Advice for non-finite values, replacing the generic ``np.nan_to_num`` hint
        (e.g. ``"training diverged: lower the learning rate"``).

    Returns
    -------
    numpy.ndarray
        Of the input's shape. It may share memory with ``value``: do not modify it.

    Raises
    ------
    TypeError
        If ``value`` is not numeric.
    ValueError
        If a shape, length, finiteness or range check fails.
    """
    array = _as_numeric(value, name, dtype)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            expected = " or ".join(map(str, allowed))
            where = f", shape {layout}" if layout else ""
            raise ValueError(f"{name} must have {expected} dimensions{where}; got shape "
                             f"{array.shape}. Check which array you passed, or reshape it "
                             "(np.reshape).")
    if min_len:
        _check_rows(array, name, min_len, noun)
    if finite:
        _check_finite(array, name, value_noun, fix)
    if value_range is not None:
        array = _check_range(array, name, value_range, value_noun)
    return array


def check_images(value: object, name: str = "images", *, pixels: bool = False,
                 finite: bool = False, fix: str | None = None,
                 image_shape: Sequence[int] | None = None, min_len: int = 1) -> np.ndarray:
    """Return a float32 greyscale image batch of shape (n, height, width).

    Parameters
    ----------
    value : array-like of shape (n, height, width) or (n, height, width, 1)
    name : str
        How the message calls the argument.
    pixels : bool
        Also require finite pixel values in [0, 1] (exact 0 and 1 and float32
        round-off are fine); the messages say how to rescale. Use it for images a
        model reads.
    finite : bool
        Only require finite values (for model outputs such as reconstructions).
    fix : str, optional
        Advice for non-finite values (see :func:`check_array`).
    image_shape : sequence of int, optional
        The shape one image must have, ``(height, width)`` or ``(height, width, 1)``,
        e.g. a model's input shape.
    min_len : int
        Fewest images.

    Returns
    -------
    numpy.ndarray of shape (n, height, width), float32
    """
    images = check_array(value, name, ndim=(3, 4), min_len=min_len, noun="image",
                         layout="(n, height, width) or (n, height, width, 1)")
    if images.ndim == 4 and images.shape[-1] != 1:
        raise ValueError(f"{name} must be greyscale, shape (n, h, w) or (n, h, w, 1); "
                         f"got shape {images.shape}. Keep one channel (x[..., :1]) or "
                         "convert colour images to grey first.")
    if image_shape is not None:
        _check_image_size(images.shape, name, tuple(image_shape))
    images = images.reshape(images.shape[:3])
    if pixels or finite:
        images = check_array(images, name, finite=True, fix=fix, value_noun="pixel",
                             value_range=PIXEL_RANGE if pixels else None)
    return images


def _check_image_size(shape: tuple[int, ...], name: str, image_shape: tuple[int, ...]) -> None:
    """``shape`` (n, h, w[, 1]) must hold images of ``image_shape`` (h, w[, 1])."""
    height, width = image_shape[:2]
    if shape[1:3] == (height, width):
        return
    raise ValueError(f"{name} must hold images of shape {image_shape} for this model, i.e. "
                     f"shape (n, {height}, {width}, 1) or (n, {height}, {width}); got shape "
                     f"{shape}. Resize or crop the images to {height} x {width}, or build a "
                     f"model for {shape[1]} x {shape[2]} images.")


def check_vector(value: object, name: str, *, min_len: int = 1) -> np.ndarray:
    """Return ``value`` as a finite 1-D float64 array of shape (m,) with m >= ``min_len``."""
    return check_float_array(value, name, ndim=1, min_len=min_len)


def check_curves(curves: object, name: str) -> dict[str, np.ndarray]:
    """Return a non-empty ``{label: values}`` mapping as ``{str: finite 1-D float64 array}``."""
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"{name} must be a non-empty dict of label -> values; got "
                         f"{curves!r}. Pass e.g. {{'BCE': values}}.")
    return {str(label): check_vector(values, f"{name}[{label!r}]")
            for label, values in curves.items()}


# ----------------------------------------------------- float64 maths (lessons 02, 08)

def check_float_array(value: object, name: str, *, ndim: int, min_len: int = 0) -> np.ndarray:
    """Return ``value`` as a finite float64 array with ``ndim`` dimensions.

    With ``min_len``, it must also hold at least that many rows (values, for a vector).
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array; got {type(value).__name__}. Pass a "
                        "NumPy array of floats.") from error
    if array.ndim != ndim:
        fix = ("Pass one value per point, e.g. np.ravel(x)." if ndim == 1 else
               "Reshape it (e.g. x[None, :] adds a batch axis).")
        raise ValueError(f"{name} must have {_count(ndim, 'dimension', word_for_one=False)}; "
                         f"got shape {array.shape}. {fix}")
    if min_len:
        _check_rows(array, name, min_len, "value" if ndim == 1 else "row")
    _check_finite(array, name, "value", "Check how the values were computed")
    return array


def check_real_number(value: object, name: str) -> float:
    """Return ``value`` as a finite Python float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__} "
                        f"{value!r}. Pass a float such as 0.0.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}. Pass a finite float "
                         "such as 0.0.")
    return float(value)


def rng_from_seed(seed: object) -> np.random.Generator:
    """A fresh generator from ``seed`` (an int >= 0, or None for fresh entropy)."""
    return np.random.default_rng(None if seed is None
                                 else check_positive_int(seed, "seed", minimum=0))


def check_same_shape(a: np.ndarray, name_a: str, b: np.ndarray, name_b: str, *,
                     fix: str = "Pass one row per example for both.") -> None:
    """Raise ``ValueError`` unless arrays ``a`` and ``b`` have the same shape.

    ``fix`` is the advice sentence of the message, e.g. "Reconstruct the same batch."
    """
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape; got {a.shape} "
                         f"and {b.shape}. {fix}")
