"""Running a trained model on many inputs at once, without ``predict``'s overheads.

``Model.predict`` builds a new traced function for every model it meets and prints a
progress bar; for the many small inference calls of a lesson (decode 30 codes,
encode the test set) calling the model directly on large batches is simpler and
avoids TensorFlow's retracing warnings.
"""

from __future__ import annotations

import keras
import numpy as np

from course_utils._validation import check_positive_int

__all__ = ["apply_model"]


def apply_model(model: keras.Model, inputs: np.ndarray, *, batch_size: int = 1024):
    """Run ``model`` in inference mode on ``inputs``, ``batch_size`` rows at a time.

    Parameters
    ----------
    model : keras.Model
        Any model with one input; it may have one output or several.
    inputs : numpy.ndarray of shape (n, ...)
        Matching the model's input shape.
    batch_size : int
        Rows per call; a whole 30 x 30 latent grid fits in one call.

    Returns
    -------
    numpy.ndarray of shape (n, ...), or a list of them for a model with several outputs.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model; got {type(model).__name__}.")
    batch_size = check_positive_int(batch_size, "batch_size")
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim == 0 or len(inputs) == 0:
        raise ValueError(f"inputs must hold at least one row; got shape {inputs.shape}.")
    chunks = [model(inputs[start:start + batch_size], training=False)
              for start in range(0, len(inputs), batch_size)]
    if isinstance(chunks[0], (list, tuple)):
        return [np.concatenate([keras.ops.convert_to_numpy(chunk[i]) for chunk in chunks])
                for i in range(len(chunks[0]))]
    return np.concatenate([keras.ops.convert_to_numpy(chunk) for chunk in chunks])
