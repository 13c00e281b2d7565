"""Looking at a VAE's latent space: grids, paths, projections and samples.

Pure functions behind lesson 06 and the latent explorer. Each takes codes as NumPy
arrays (one code per row) and returns NumPy arrays; the ones that decode take a
model and decode all their codes in ONE batched call, never one call per point.

A "model" here is either

* a :class:`course_utils.models.vae.VAE`, or anything else with an integer ``latent_dim``
  and a ``decode(z)`` method mapping codes ``(n, latent_dim)`` to pixel
  probabilities ``(n, 28, 28, 1)`` or ``(n, 28, 28)``; or
* a bare Keras decoder (input ``(batch, latent_dim)``). Its outputs are read as
  pixel logits and passed through a sigmoid, unless its last activation already is
  a sigmoid (the plain autoencoder of lesson 01).

Typical use::

    grid = decode_grid(vae, 30)                    # (30, 30, 28, 28), one decoder call
    picture = tile_images(grid)                    # (840, 840)
    path = interpolate(z_a, z_b, 10)               # (10, latent_dim)
    projection = pca_2d(z_mean)                    # codes of an 8-D model in 2-D
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Callable, Iterable, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from course_utils._validation import DIVERGED_FIX, check_array, check_positive_int

__all__ = [
    "PCAProjection",
    "decode_codes",
    "decode_grid",
    "decode_point",
    "interpolate",
    "normal_quantile_grid",
    "normal_quantiles",
    "pca_2d",
    "tile_images",
]

_METHODS = ("linear", "spherical")


# --------------------------------------------------------------------------- checks

def _check_quantile_range(quantile_range: Iterable[float]) -> tuple[float, float]:
    try:
        low, high = (float(q) for q in quantile_range)
    except (TypeError, ValueError) as error:
        raise TypeError("quantile_range must be two probabilities (low, high); got "
                        f"{quantile_range!r}. Pass e.g. (0.05, 0.95).") from error
    if not 0.0 < low < high < 1.0:
        raise ValueError("quantile_range must satisfy 0 < low < high < 1, because the "
                         "Normal quantiles of 0 and 1 are infinite; got "
                         f"{quantile_range!r}. The usual choice is (0.05, 0.95).")
    return low, high


def _check_codes(codes: object, name: str, *, min_len: int = 1) -> np.ndarray:
    """Finite codes ``(n, latent_dim)``, at least ``min_len`` of them."""
    return check_array(codes, name, ndim=2, min_len=min_len, noun="code", finite=True,
                       layout="(n, latent_dim)", fix=DIVERGED_FIX)


def _check_code(z: object, name: str, latent_dim: int | None = None) -> np.ndarray:
    code = check_array(z, name, ndim=(1, 2), finite=True, fix=DIVERGED_FIX)
    if code.ndim == 2:
        if code.shape[0] != 1:
            raise ValueError(f"{name} must be ONE code, shape (latent_dim,) or "
                             f"(1, latent_dim); got shape {code.shape}. Pass one row, "
                             "e.g. z_mean[0].")
        code = code[0]
    if code.size == 0:
        raise ValueError(f"{name} must hold at least one number; got an empty array. Pass one "
                         "code, e.g. z_mean[0].")
    if latent_dim is not None and code.shape[0] != latent_dim:
        raise ValueError(f"{name} must have length {latent_dim} (the model's latent_dim); "
                         f"got length {code.shape[0]}. Pass a code of this model.")
    return code


# ------------------------------------------------------------------ the decoder

def _model_decoder(model: object) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Return ``(decode, latent_dim)`` where ``decode(codes)`` makes ONE model call."""
    decode = getattr(model, "decode", None)
    latent_dim = getattr(model, "latent_dim", None)
    if callable(decode) and isinstance(latent_dim, (int, np.integer)) \
            and not isinstance(latent_dim, bool):
        return decode, int(latent_dim)

    import keras  # only a Keras decoder needs Keras here

    if isinstance(model, keras.Model):
        inputs = getattr(model, "inputs", None) or []
        shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else ()
        if len(shape) != 1 or shape[0] is None:
            raise ValueError("a Keras decoder must take one input of shape (batch, "
                             f"latent_dim); got input shapes {[tuple(t.shape) for t in inputs]}"
                             ". Pass the VAE's decoder.")
        from course_utils.models.networks import last_activation

        outputs_probabilities = last_activation(model) == "sigmoid"

        def decode_keras(codes: np.ndarray) -> np.ndarray:
            outputs = model(codes, training=False)
            if not outputs_probabilities:
                outputs = keras.ops.sigmoid(outputs)
            return keras.ops.convert_to_numpy(outputs)

        return decode_keras, int(shape[0])
    raise TypeError("model must be a VAE (anything with decode(z) and an integer "
                    "latent_dim) or a Keras decoder model; got "
                    f"{type(model).__name__}. Pass vae or vae.decoder.")


def _as_images(decoded: object, n: int) -> np.ndarray:
    images = check_array(decoded, "decoded images", finite=True, value_noun="pixel",
                         fix=DIVERGED_FIX)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[0] != n:
        raise ValueError(f"the model's decoder must return {n} greyscale images, shape "
                         f"({n}, height, width) or ({n}, height, width, 1); got shape "
                         f"{images.shape}. Pass a decoder that outputs one image per "
                         "code.")
    return images


def decode_codes(model: object, codes: ArrayLike) -> np.ndarray:
    """Decode many codes in one batched decoder call.

    Parameters
    ----------
    model : VAE or keras.Model
        See the module docstring.
    codes : array-like of shape (n, latent_dim)

    Returns
    -------
    numpy.ndarray of shape (n, 28, 28), float32
        Pixel probabilities in [0, 1] (height and width follow the model).
    """
    decode, latent_dim = _model_decoder(model)
    codes = _check_codes(codes, "codes")
    if codes.shape[1] != latent_dim:
        raise ValueError(f"codes must have shape (n, {latent_dim}) for this model; got "
                         f"shape {codes.shape}. Pass codes of this model's latent_dim.")
    return _as_images(decode(codes), len(codes))


def decode_point(model: object, z: ArrayLike) -> np.ndarray:
    """Decode a single code: what the latent explorer shows for one slider setting.

    Parameters
    ----------
    model : VAE or keras.Model
    z : array-like of shape (latent_dim,) or (1, latent_dim)

    Returns
    -------
    numpy.ndarray of shape (28, 28), float32
        Pixel probabilities in [0, 1].
    """
    _, latent_dim = _model_decoder(model)
    code = _check_code(z, "z", latent_dim)
    return decode_codes(model, code[None, :])[0]


# -------------------------------------------------------------------- the grid

def normal_quantiles(n: int, quantile_range: tuple[float, float] = (0.05, 0.95)) -> np.ndarray:
    """``n`` values of a standard Normal at evenly spaced probabilities.

    Parameters
    ----------
    n : int
        Number of values, at least 2.
    quantile_range : (float, float)
        Lowest and highest probability, ``0 < low < high < 1``.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        ``Phi^{-1}(p)`` for ``p = linspace(low, high, n)``, increasing. With the
        default range they run from -1.645 to 1.645, and each of the ``n - 1`` gaps
        between neighbours holds the same prior probability.
    """
    n = check_positive_int(n, "n", minimum=2)
    low, high = _check_quantile_range(quantile_range)
    normal = NormalDist()
    return np.array([normal.inv_cdf(p) for p in np.linspace(low, high, n)])


def normal_quantile_grid(n: int,
                         quantile_range: tuple[float, float] = (0.05, 0.95)) -> np.ndarray:
    """An ``n x n`` grid of 2-D codes at Normal quantiles, laid out like a picture.

    Parameters
    ----------
    n : int
        Points per axis, at least 2.
    quantile_range : (float, float)
        Lowest and highest probability per axis, ``0 < low < high < 1``.

    Returns
    -------
    numpy.ndarray of shape (n * n, 2), float64
        Row ``i * n + j`` is the code shown in row ``i``, column ``j`` of a tiled
        picture: ``z1`` grows from left to right (with ``j``), ``z2`` grows from
        bottom to top (it falls with ``i``), as on a scatter plot. Both coordinates
        take the values of :func:`normal_quantiles`.
    """
    values = normal_quantiles(n, quantile_range)
    z1, z2 = np.meshgrid(values, values[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1)


def decode_grid(model: object, n: int, quantile_range: tuple[float, float] = (0.05, 0.95),
                *, dims: tuple[int, int] = (0, 1), base: object = None,
                tile: bool = False) -> np.ndarray:
    """Decode a Normal-quantile grid of codes in ONE decoder call.

    Parameters
    ----------
    model : VAE or keras.Model
        See the module docstring.
    n : int
        Grid points per axis (``n * n`` codes in all), at least 2.
    quantile_range : (float, float)
        See :func:`normal_quantile_grid`.
    dims : (int, int)
        The two latent dimensions the grid spans (horizontal, vertical).
    base : array-like of shape (latent_dim,), optional
        Values of the other dimensions (default: 0, the prior's mean).
        Ignored for a 2-D latent space spanned by ``dims``.
    tile : bool
        False: return the images as ``(n, n, 28, 28)``. True: return one picture.

    Returns
    -------
    numpy.ndarray, float32
        ``(n, n, 28, 28)`` with ``[i, j]`` the image of row ``i``, column ``j``
        (layout of :func:`normal_quantile_grid`), or, with ``tile=True``, one
        ``(n * 28, n * 28)`` picture (see :func:`tile_images`).
    """
    _, latent_dim = _model_decoder(model)
    n = check_positive_int(n, "n", minimum=2)
    try:
        first, second = (check_positive_int(d, "dims entries", minimum=0) for d in dims)
    except (TypeError, ValueError) as error:
        raise type(error)(f"dims must be two latent dimension indices such as (0, 1); "
                          f"got {dims!r}.") from error
    if first == second or max(first, second) >= latent_dim:
        raise ValueError(f"dims must be two different indices in 0..{latent_dim - 1}; "
                         f"got {dims!r}. Pass e.g. (0, 1).")
    codes = np.zeros((n * n, latent_dim), dtype=np.float32)
    if base is not None:
        codes[:] = _check_code(base, "base", latent_dim)
    grid = normal_quantile_grid(n, quantile_range)
    codes[:, first], codes[:, second] = grid[:, 0], grid[:, 1]
    images = decode_codes(model, codes)
    images = images.reshape((n, n) + images.shape[1:])
    return tile_images(images) if tile else images


def tile_images(images: ArrayLike) -> np.ndarray:
    """Join a grid of images ``(rows, cols, h, w)`` into one picture ``(rows*h, cols*w)``.

    Parameters
    ----------
    images : array-like of shape (rows, cols, h, w) or (rows, cols, h, w, 1)

    Returns
    -------
    numpy.ndarray of shape (rows * h, cols * w)
    """
    grid = check_array(images, "images", ndim=(4, 5), min_len=1, noun="row",
                       layout="(rows, cols, h, w) or (rows, cols, h, w, 1)")
    if grid.shape[1] == 0:
        raise ValueError(f"images must hold at least one column of images; got shape "
                         f"{grid.shape}. Pass a grid of shape (rows, columns, h, w).")
    if grid.ndim == 5:
        if grid.shape[-1] != 1:
            raise ValueError(f"images must be greyscale; got shape {grid.shape}. Pass one "
                         "channel.")
        grid = grid[..., 0]
    rows, cols, height, width = grid.shape
    return grid.transpose(0, 2, 1, 3).reshape(rows * height, cols * width)


# -------------------------------------------------------------- interpolation

def interpolate(z_a: ArrayLike, z_b: ArrayLike, steps: int, method: str = "linear") -> np.ndarray:
    """Codes on a path from ``z_a`` to ``z_b``, both ends included.

    Parameters
    ----------
    z_a, z_b : array-like of shape (latent_dim,)
        Start and end codes.
    steps : int
        Number of codes on the path, at least 2.
    method : {"linear", "spherical"}
        ``"linear"``: ``(1 - t) z_a + t z_b`` for ``t = 0, 1/(steps-1), ..., 1``.
        ``"spherical"`` (slerp): along the arc between the two directions,
        ``sin((1-t)w)/sin(w) z_a + sin(t w)/sin(w) z_b`` with ``w`` the angle between
        them. Under a Gaussian prior in many dimensions, linear midpoints have a
        smaller norm than typical codes; slerp avoids that. When the two codes are
        (nearly) parallel or opposite, or one is zero, the arc is not defined and
        the linear path is returned.

    Returns
    -------
    numpy.ndarray of shape (steps, latent_dim), float64
        The first row equals ``z_a`` and the last equals ``z_b`` exactly.
    """
    a = _check_code(z_a, "z_a").astype(np.float64)
    b = _check_code(z_b, "z_b").astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"z_a and z_b must have the same length; got {a.shape[0]} and "
                         f"{b.shape[0]}. Pass two codes of one model.")
    steps = check_positive_int(steps, "steps", minimum=2)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}. Pick one of "
                         "them.")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    path = (1.0 - t) * a + t * b
    if method == "spherical":
        norms = np.linalg.norm(a) * np.linalg.norm(b)
        if norms > 0:
            cosine = np.clip(a @ b / norms, -1.0, 1.0)
            omega = np.arccos(cosine)
            if 1e-6 < np.sin(omega):
                path = (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    path[0], path[-1] = a, b
    return path


# ----------------------------------------------------------------------- PCA

class PCAProjection(NamedTuple):
    """Result of :func:`pca_2d`; unpacks as ``projected, components, ratio``.

    Attributes
    ----------
    projected : numpy.ndarray of shape (n, 2)
        The centred codes expressed in the two principal directions.
    components : numpy.ndarray of shape (2, d)
        The principal directions, unit length, as rows; the first explains the most
        variance. Project new points with ``(x - codes.mean(axis=0)) @ components.T``.
    explained_variance_ratio : numpy.ndarray of shape (2,)
        Share of the codes' total variance along each direction.
    """

    projected: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray


def pca_2d(codes: ArrayLike) -> PCAProjection:
    """Project codes onto their two principal directions (PCA via an SVD).

    Parameters
    ----------
    codes : array-like of shape (n, d)
        At least 2 codes of dimension ``d >= 2``.

    Returns
    -------
    PCAProjection
        ``(projected (n, 2), components (2, d), explained_variance_ratio (2,))``,
        float64. Each component's sign is fixed so that its largest entry (in
        absolute value) is positive, so the result does not depend on the SVD
        routine's arbitrary signs.

    Raises
    ------
    ValueError
        If there are fewer than 2 codes, ``d < 2``, or every code is the same.
    """
    data = check_array(codes, "codes", ndim=2, min_len=2, dtype=np.float64, finite=True,
                       noun="code", layout="(n, d)", fix=DIVERGED_FIX)
    if data.shape[1] < 2:
        raise ValueError(f"codes must have at least 2 dimensions to project to 2-D; got "
                         f"shape {data.shape}. Plot 1-D codes directly.")
    centred = data - data.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variances = singular ** 2
    total = variances.sum()
    if total <= 0.0:
        raise ValueError("codes must vary to have principal directions; got codes that are "
                         "all the same. Pass the codes of different images.")
    components = vt[:2]
    signs = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    return PCAProjection(centred @ components.T, components, variances[:2] / total)


# ------------------------------------------------------------------- sampling

