"""Figures for the lessons. Every function takes ``ax=None`` (or draws its own grid)
and returns the :class:`matplotlib.figure.Figure`; none calls ``plt.show()``.

Figures are built with :class:`matplotlib.figure.Figure` rather than ``pyplot``, so
they are not kept alive by a global figure manager; a notebook displays the returned
figure as the cell's value.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from course_utils._validation import check_images, check_positive_int, check_same_shape

__all__ = [
    "figure_and_axes",
    "plot_history",
    "plot_image_grid",
    "plot_reconstructions",
]


def figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """Return ``(figure, ax)``: ``ax``'s own figure, or a new figure with one Axes.

    Every plot helper of the course starts with this, so that each takes ``ax=None``
    and returns the figure it drew on.

    Raises
    ------
    TypeError
        If ``ax`` is neither None nor a matplotlib Axes.
    """
    if ax is None:
        figure = Figure(figsize=figsize, layout="constrained")
        return figure, figure.subplots()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}. "
                        "Pass figure.subplots(), or leave ax out.")
    root = ax.get_figure(root=True)  # the whole figure, also for an Axes in a subfigure
    if root is None:
        raise ValueError("ax must belong to a figure; got an Axes without one. Make it with "
                         "figure.subplots().")
    return root, ax


def _history_dict(history: object) -> Mapping[str, Sequence[float]]:
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping) or not values:
        raise TypeError("history must be a keras History or a non-empty dict of "
                        f"metric name -> list of values; got {type(history).__name__}. "
                        "Pass what model.fit returned.")
    return values


def plot_history(history: object, keys: Sequence[str] | None = None, *,
                 ax: Axes | None = None, title: str = "Learning curves") -> Figure:
    """Plot training and validation curves per epoch.

    Parameters
    ----------
    history : keras.callbacks.History or dict of str to list of float
    keys : sequence of str, optional
        Metrics to draw (their ``val_`` twins are drawn dashed). Default: every
        metric that is not itself a ``val_`` entry.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = _history_dict(history)
    if keys is None:
        keys = [key for key in values if not key.startswith("val_")]
    missing = [key for key in keys if key not in values]
    if missing:
        raise ValueError(f"keys must name metrics of the history, {sorted(values)}; got "
                         f"{missing}, which it lacks. Pick keys from that list.")
    figure, ax = figure_and_axes(ax, (6, 3.5))
    for key in keys:
        epochs = np.arange(1, len(values[key]) + 1)
        line, = ax.plot(epochs, values[key], label=f"train {key}")
        if f"val_{key}" in values:
            ax.plot(epochs, values[f"val_{key}"], "--", color=line.get_color(),
                    label=f"validation {key}")
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.legend()
    return figure


def plot_image_grid(images: ArrayLike, *, ncols: int = 10, titles: Sequence[str] | None = None,
                    row_labels: Sequence[str] | None = None, scale: float = 1.0,
                    suptitle: str | None = None) -> Figure:
    """Show greyscale images in a grid, row by row.

    Parameters
    ----------
    images : numpy.ndarray of shape (n, h, w) or (n, h, w, 1)
    ncols : int
    titles : sequence of str, optional
        One short title per image.
    row_labels : sequence of str, optional
        One label per row, written to the left of it.
    scale : float
        Inches per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = check_images(images)
    ncols = min(check_positive_int(ncols, "ncols"), len(images))
    nrows = -(-len(images) // ncols)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have one entry per image ({len(images)}); "
                         f"got {len(titles)}. Pass one title per image.")
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"row_labels must have one entry per row ({nrows}); "
                         f"got {len(row_labels)}. Pass one label per row.")
    figure = Figure(figsize=(scale * ncols, scale * nrows + (0.4 if suptitle else 0)),
                    layout="constrained")
    axes = np.atleast_2d(figure.subplots(nrows, ncols, squeeze=False))
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= len(images):
            ax.set_axis_off()
            continue
        ax.imshow(images[index], cmap="gray_r", vmin=0.0, vmax=1.0)
        if titles is not None:
            ax.set_title(titles[index], fontsize=8)
    if row_labels is not None:
        for row, label in enumerate(row_labels):
            axes[row, 0].set_ylabel(label, fontsize=9)
    if suptitle:
        figure.suptitle(suptitle)
    return figure


def plot_reconstructions(originals: ArrayLike, reconstructions: ArrayLike, *,
                         n: int = 10, scale: float = 1.0) -> Figure:
    """Originals on the top row, their reconstructions underneath.

    Parameters
    ----------
    originals, reconstructions : numpy.ndarray of shape (m, 28, 28, 1) or (m, 28, 28)
    n : int
        How many pairs to show (the first ``n``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    originals = check_images(originals, "originals")
    reconstructions = check_images(reconstructions, "reconstructions")
    check_same_shape(originals, "originals", reconstructions, "reconstructions",
                     fix="Pass the reconstructions of exactly these originals.")
    n = min(check_positive_int(n, "n"), len(originals))
    stacked = np.concatenate([originals[:n], reconstructions[:n]])
    return plot_image_grid(stacked, ncols=n, row_labels=["original", "reconstruction"],
                           scale=scale)


