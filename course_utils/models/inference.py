"""Running a trained model on many inputs at once, without ``predict``'s overheads.

``Model.predict`` builds a new traced function for every model it meets and prints a
progress bar; for the many small inference calls of a lesson (decode 30 codes,
encode the test set) calling the model directly on large batches is simpler and
avoids TensorFlow's retracing warnings.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import PIXEL_RANGE, check_array, check_positive_int

__all__ = ["apply_model", "batched_call"]


def apply_model(model: keras.Model, inputs: ArrayLike, *,
                batch_size: int = 1024) -> np.ndarray | list[np.ndarray]:
    """Run ``model`` in inference mode on ``inputs``, ``batch_size`` rows at a time.

    Parameters
    ----------
    model : keras.Model
        Any model with one input; it may have one output or several.
    inputs : numpy.ndarray of shape (n, ...)
        At least one row of finite numbers, matching the model's input shape (images
        may leave out a final channel axis of 1). Inputs of shape ``(n, h, w)`` or
        ``(n, h, w, c)`` are images and must lie in [0, 1]; codes ``(n, d)`` may hold
        any finite values.
    batch_size : int
        Rows per call; a whole 30 x 30 latent grid fits in one call.

    Returns
    -------
    numpy.ndarray of shape (n, ...), or a list of them for a model with several outputs.

    Raises
    ------
    TypeError, ValueError
        For a non-model, non-numeric, empty or non-finite inputs, images outside
        [0, 1], or rows of another shape than the model's input.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got {type(model).__name__}. Pass a "
                        "built Keras model.")
    batch_size = check_positive_int(batch_size, "batch_size")
    inputs = _check_inputs(model, inputs)
    return batched_call(lambda rows: model(rows, training=False), inputs,
                        batch_size=batch_size)


def batched_call(function: Callable[..., Any], *arrays: np.ndarray,
                 batch_size: int) -> np.ndarray | list[np.ndarray]:
    """Call ``function`` on ``batch_size`` rows of every array at a time; join the results.

    The one loop over row blocks of the course: a model, a decoder followed by a loss,
    anything that maps rows to rows.

    Parameters
    ----------
    function : callable
        Takes one block of rows of each array, shapes (b, ...), and returns a tensor or
        array of shape (b, ...), or a list or tuple of them.
    *arrays : numpy.ndarray of shape (n, ...)
        At least one, all with the same number of rows ``n >= 1``.
    batch_size : int
        Rows per call.

    Returns
    -------
    numpy.ndarray of shape (n, ...), or a list of them if ``function`` returns several.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    rows = {len(array) for array in arrays}
    if len(rows) != 1 or 0 in rows:
        raise ValueError(f"the arrays must have the same number of rows (at least 1); got "
                         f"{sorted(rows)}. Pass one row per example in every array.")
    chunks = [function(*(array[start:start + batch_size] for array in arrays))
              for start in range(0, len(arrays[0]), batch_size)]
    first = chunks[0]
    if isinstance(first, (list, tuple)):
        return [np.concatenate([keras.ops.convert_to_numpy(chunk[i]) for chunk in chunks])
                for i in range(len(first))]
    return np.concatenate([keras.ops.convert_to_numpy(chunk) for chunk in chunks])


def _check_inputs(model: keras.Model, inputs: object) -> np.ndarray:
    """``inputs`` as float32 rows of the model's input shape; images must be in [0, 1]."""
    array = check_array(inputs, "inputs", min_len=1, noun="row", finite=True)
    model_inputs = getattr(model, "inputs", None) or []
    row_shape = tuple(model_inputs[0].shape[1:]) if len(model_inputs) == 1 else None
    if row_shape is not None:
        if array.shape[1:] + (1,) == row_shape:
            array = array.reshape(array.shape + (1,))
        fits = len(array.shape[1:]) == len(row_shape) and all(
            want is None or want == got for want, got in zip(row_shape, array.shape[1:]))
        if not fits:
            shown = tuple("any" if d is None else d for d in row_shape)
            raise ValueError(f"inputs must hold rows of shape {shown} for this model; got "
                             f"shape {array.shape}. Pass one input per row, e.g. images "
                             "of the size the model was built for.")
    if array.ndim >= 3:
        array = check_array(array, "inputs", value_range=PIXEL_RANGE, value_noun="pixel")
    return array
