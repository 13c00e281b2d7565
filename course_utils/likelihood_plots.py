"""Figures for lesson 05: per-pixel losses and the KL of each latent dimension.

Like :mod:`course_utils.plotting`, every function takes ``ax=None`` and returns the
:class:`matplotlib.figure.Figure` it drew on; none calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from course_utils.plotting import figure_and_axes

__all__ = ["plot_pixel_losses", "plot_kl_per_dimension"]


def _vector(value: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"expected {name} to be a 1-D array of numbers, got "
                        f"{type(value).__name__}, fix: pass a NumPy array.") from error
    if array.ndim != 1 or len(array) == 0:
        raise ValueError(f"expected {name} to be 1-D and non-empty, got shape {array.shape}, "
                         f"fix: pass one value per point.")
    return array


def _curves(curves: object, name: str) -> dict[str, np.ndarray]:
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"expected {name} to be a non-empty dict of label -> values, got "
                         f"{curves!r}, fix: pass e.g. {{'BCE': values}}.")
    return {str(label): _vector(values, f"{name}[{label!r}]") for label, values in curves.items()}


def plot_pixel_losses(predictions: ArrayLike, losses: Mapping[str, ArrayLike], *,
                      target: float | None = None, ax: Axes | None = None,
                      title: str = "Loss of one pixel") -> Figure:
    """Draw per-pixel losses as functions of the predicted value.

    Parameters
    ----------
    predictions : array_like of shape (m,)
        The predicted pixel values (x axis).
    losses : dict of str to array_like of shape (m,)
        One curve per loss, keyed by its legend label.
    target : float, optional
        The target pixel value, drawn as a dotted vertical line.
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    predictions = _vector(predictions, "predictions")
    curves = _curves(losses, "losses")
    for label, values in curves.items():
        if values.shape != predictions.shape:
            raise ValueError(f"expected losses[{label!r}] to have one value per prediction "
                             f"({len(predictions)}), got {len(values)}, fix: evaluate the "
                             f"loss at every prediction.")
    figure, ax = figure_and_axes(ax, (6, 3.5))
    for label, values in curves.items():
        ax.plot(predictions, values, label=label)
    if target is not None:
        ax.axvline(float(target), color="grey", linestyle=":", label=f"target {target:g}")
    ax.set(xlabel="predicted pixel value", ylabel="loss (nats)", title=title)
    ax.legend(fontsize=8)
    return figure


def plot_kl_per_dimension(kl_by_model: Mapping[str, ArrayLike], *, sort: bool = True,
                          ax: Axes | None = None,
                          title: str = "KL per latent dimension") -> Figure:
    """Grouped bars: the average KL of each latent dimension, one colour per model.

    Parameters
    ----------
    kl_by_model : dict of str to array_like of shape (latent_dim,)
        E.g. from :func:`course_utils.latent_usage.kl_per_dimension`; every model must
        have the same ``latent_dim``.
    sort : bool
        Sort each model's dimensions from largest to smallest KL (dimensions have no
        natural order, and sorting makes unused ones line up on the right).
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        One bar container per model, in the order given.
    """
    curves = _curves(kl_by_model, "kl_by_model")
    sizes = {len(values) for values in curves.values()}
    if len(sizes) != 1:
        raise ValueError(f"expected every model to have the same latent_dim, got sizes "
                         f"{sorted(sizes)}, fix: compare models of one latent_dim.")
    latent_dim = sizes.pop()
    figure, ax = figure_and_axes(ax, (7, 3.5))
    width = 0.8 / len(curves)
    positions = np.arange(latent_dim)
    for i, (label, values) in enumerate(curves.items()):
        shown = np.sort(values)[::-1] if sort else values
        ax.bar(positions + (i - (len(curves) - 1) / 2) * width, shown, width, label=label)
    ax.set_xticks(positions)
    ax.set_xticklabels([str(i + 1) for i in positions])
    ax.set(xlabel="latent dimension" + (" (sorted by KL)" if sort else ""),
           ylabel="KL (nats per image)", title=title)
    ax.legend(fontsize=8)
    return figure
